package packaging

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// ansiblePolicy holds on this host only while the test's own listener is
// open: the listener must be present, and tcp/1 must be closed.
const ansiblePolicy = `
variable "port" {}
listener "test-port" {
  port    = var.port
  address = "loopback"
}
listener "tcpmux" {
  port   = 1
  expect = "absent"
}
`

// closedPolicy fails while the listener is open.
const closedPolicy = `
variable "port" {}
listener "must-be-closed" {
  port     = var.port
  expect   = "absent"
  severity = "critical"
}
`

const playbook = `---
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: hostdrift agrees with the policy
      hostdrift.audit.hostdrift_check:
        binary: %q
        policy: [%q]
        vars:
          port: %d
      register: audit
    - name: the module reports, never changes
      ansible.builtin.assert:
        that:
          - audit is not changed
          - audit.rc == 0
          - audit.summary.fail == 0
          - audit.findings | length == %d
`

// layeredPlaybook layers an inline policy over the built-in one.
const layeredPlaybook = `---
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: the built-in policy with this play's exceptions
      hostdrift.audit.hostdrift_check:
        binary: %q
        snapshot: %q
        builtin: true
        policy_text: |
          disable "cron.output-not-lost" {
            reason = "test: cron mail is not used here"
          }
          waiver "accepting.tcp-listeners" {
            reason  = "test: the snapshot holds host facts only"
            expires = "2099-12-31"
          }
      register: audit
    - name: every built-in check is reported, one disabled and one waived
      ansible.builtin.assert:
        that:
          - audit is not changed
          - audit.findings | length == %d
          - audit.summary.waived == 1
          - (audit.findings | selectattr('check', 'equalto', 'cron.output-not-lost') | first).status == 'skip'
`

func fmtSscanf(s, format string, args ...any) int {
	n, _ := fmt.Sscanf(s, format, args...)
	return n
}

// TestAnsibleModule runs ansible-playbook against localhost with the
// collection from this tree: a policy that holds passes (in check mode too),
// one that does not fails the play with a message naming the failed check.
func TestAnsibleModule(t *testing.T) {
	nstest.RequireCommand(t, "ansible-playbook")
	bin := binary(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	collections, err := filepath.Abs("ansible")
	if err != nil {
		t.Fatal(err)
	}
	play := func(book string, extra ...string) (string, error) {
		args := append([]string{"-i", "localhost,", book}, extra...)
		cmd := exec.Command("ansible-playbook", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(),
			"ANSIBLE_COLLECTIONS_PATH="+collections,
			"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"),
			"ANSIBLE_HOME="+filepath.Join(dir, "home"),
			"ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=0", "ANSIBLE_STDOUT_CALLBACK=default")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	pass := write("pass.yml", fmt.Sprintf(playbook, bin, write("pass.hcl", ansiblePolicy), port, 2))
	for _, mode := range [][]string{nil, {"--check"}} {
		out, err := play(pass, mode...)
		if err != nil {
			t.Fatalf("ansible-playbook %v on a policy that holds: %v\n%s", mode, err, out)
		}
		if !strings.Contains(out, "changed=0") || !strings.Contains(out, "failed=0") {
			t.Errorf("ansible-playbook %v: want changed=0 failed=0:\n%s", mode, out)
		}
	}

	fail := write("fail.yml", fmt.Sprintf(playbook, bin, write("fail.hcl", closedPolicy), port, 1))
	out, err := play(fail)
	if err == nil {
		t.Fatalf("ansible-playbook passed on a policy that fails:\n%s", out)
	}
	for _, want := range []string{"hostdrift: 1 of 1 checks failed", "listener.must-be-closed (fail, critical)", fmt.Sprintf("127.0.0.1:%d", port)} {
		if !strings.Contains(out, want) {
			t.Errorf("the failure message lacks %q:\n%s", want, out)
		}
	}

	// builtin: true layers the task's policy over the built-in one, whose
	// checks it can then disable and waive. It judges a snapshot of host
	// facts only, so nothing connects to this machine's listeners.
	snap := write("facts.json", `{"schema": "hostdrift/snapshot/v1", "version": "test", "taken_at": "2026-11-30T00:00:00Z",
  "host": {"hostname": "web1", "fqdn": "web1.example.com"}, "collectors": [{"name": "host", "status": "ok"}]}`)
	var builtinChecks int
	if out, err := exec.Command(bin, "policy", "validate", "builtin:default").Output(); err != nil || fmtSscanf(string(out), "ok: %d checks", &builtinChecks) != 1 {
		t.Fatalf("policy validate builtin:default: %v %q", err, out)
	}
	layered := write("layered.yml", fmt.Sprintf(layeredPlaybook, bin, snap, builtinChecks))
	if out, err := play(layered); err != nil || !strings.Contains(out, "failed=0") {
		t.Errorf("builtin: true with a waiver and a disable over the built-in policy: %v\n%s", err, out)
	}

	// The documentation parses (ansible-doc is strict about it).
	doc := exec.Command("ansible-doc", "hostdrift.audit.hostdrift_check")
	doc.Env = append(os.Environ(), "ANSIBLE_COLLECTIONS_PATH="+collections, "ANSIBLE_HOME="+filepath.Join(dir, "home"), "ANSIBLE_NOCOLOR=1", "PAGER=cat")
	if out, err := doc.CombinedOutput(); err != nil || strings.Contains(string(out), "WARNING") || !strings.Contains(string(out), "fail_on") {
		t.Errorf("ansible-doc: %v\n%s", err, out)
	}

	// The example playbook is valid and finds the module.
	out, err = play(filepath.Join(collections, "examples", "firewall-post-check.yml"), "--syntax-check")
	if err != nil {
		t.Errorf("the example playbook: %v\n%s", err, out)
	}
}
