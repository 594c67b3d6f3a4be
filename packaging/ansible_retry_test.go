package packaging

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// retryPlaybook asserts, as a post-change task would, that a listener is
// up, with or without retry_timeout and sleep.
const retryPlaybook = `---
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: the service listens (it is still starting)
      hostdrift.audit.hostdrift_check:
        binary: %q
        policy_text: |
          listener "web" {
            port    = 8080
            address = "loopback"
          }
%s      register: audit
    - name: it passed, after more than one attempt
      ansible.builtin.assert:
        that:
          - audit.rc == 0
          - (audit.findings | first).status == 'pass'
          - (audit.findings | first).attempts >= 2
`

// TestAnsibleRetry: the module's retry_timeout and sleep reach hostdrift. A
// listener that appears 2 s after hostdrift starts (in a network namespace
// of the test's own, which a wrapper runs hostdrift in) fails the task
// without them and passes with them, after more than one attempt.
func TestAnsibleRetry(t *testing.T) {
	nstest.RequireCommand(t, "ansible-playbook")
	bin := binary(t)
	ns := nstest.New(t)
	dir := t.TempDir()
	started := filepath.Join(dir, "started")
	wrapper := filepath.Join(dir, "hostdrift-in-netns")
	script := fmt.Sprintf("#!/bin/sh\ntouch %q\nexec ip netns exec %s %q \"$@\"\n", started, ns.Name, bin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	collections, err := filepath.Abs("ansible")
	if err != nil {
		t.Fatal(err)
	}
	playbook := func(name, params string) *exec.Cmd {
		book := filepath.Join(dir, name)
		if err := os.WriteFile(book, []byte(fmt.Sprintf(retryPlaybook, wrapper, params)), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("ansible-playbook", "-i", "localhost,", book)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(),
			"ANSIBLE_COLLECTIONS_PATH="+collections,
			"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"),
			"ANSIBLE_HOME="+filepath.Join(dir, "home"),
			"ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=0", "ANSIBLE_STDOUT_CALLBACK=default")
		return cmd
	}

	// Without retries: nothing listens yet, the task fails.
	out, err := playbook("once.yml", "").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "hostdrift: 1 of 1 checks failed") {
		t.Fatalf("without retry_timeout, want the task to fail on listener.web: %v\n%s", err, out)
	}
	os.Remove(started)

	// With them: the listener starts 2 s after hostdrift did. The retry time
	// is generous; the task ends as soon as the check passes.
	cmd := playbook("retry.yml", "        retry_timeout: 30s\n        sleep: 100ms\n")
	var buf strings.Builder
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	for {
		if _, err := os.Stat(started); err == nil {
			break
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("ansible-playbook ended before hostdrift started: %v\n%s", err, buf.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	time.Sleep(2 * time.Second)
	ns.Listen(t, "tcp4:127.0.0.1:8080")
	err = <-done
	done <- err
	if err != nil || !strings.Contains(buf.String(), "failed=0") {
		t.Errorf("with retry_timeout: %v\n%s", err, buf.String())
	}
}
