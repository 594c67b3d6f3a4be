package processes_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	_ "github.com/hostdrift/hostdrift/agent/processes"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/testkit/audit"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// startSleep runs a copy of sleep named name, with argv0 given, until the
// test ends.
func startSleep(t *testing.T, prefix []string, name, argv0 string) *exec.Cmd {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	src, err := os.Open("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	args := append(append([]string{}, prefix...), bin, "600")
	cmd := exec.Command(args[0], args[1:]...)
	if len(prefix) == 0 {
		cmd.Args[0] = argv0
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// waitName waits until a process of that name shows in /proc (a child
// of unshare starts after it).
func waitName(t *testing.T, name string, n int) {
	t.Helper()
	for i := 0; i < 3000; i++ { // up to 30 s on a loaded machine
		count := 0
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
			if err == nil && strings.TrimSpace(string(b)) == name {
				count++
			}
		}
		if count >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never started", name)
}

func TestProcessLive(t *testing.T) {
	nstest.RequireRoot(t)
	name := fmt.Sprintf("hdsl%d", os.Getpid()%1000000) // unique, under 15 bytes
	cmd := startSleep(t, nil, name, "--api-key=s3cret")
	waitName(t, name, 1)
	env := agent.Env{Root: "/"}
	pid := fmt.Sprintf("pid %d %s (root)", cmd.Process.Pid, name)
	for _, c := range []struct {
		name, src string
		status    finding.Status
		want      string
	}{
		{"runs", `process "p" {
  name = "` + name + `"
  user = "root"
}`, finding.Pass, "1 process named " + name + " as root runs on this host: " + pid},
		{"command redacted", `process "p" {
  command = "^--api-key=REDACTED 600$"
}`, finding.Pass, pid},
		{"secret never matches", `process "p" {
  command = "s3c[r]et"
}`, finding.Fail, "no process with a command matching /s3c[r]et/ runs on this host"},
		{"none may", `process "p" {
  name = "` + name + `"
  max  = 0
}`, finding.Fail, "1 process named " + name + " runs on this host, and none may: " + pid},
		{"other user", `process "p" {
  name = "` + name + `"
  user = "65534"
}`, finding.Fail, "no process named " + name + " as 65534 runs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := audit.One(t, c.src, env)
			if f.Status != c.status || !strings.Contains(f.Explanation, c.want) {
				t.Errorf("%s, want %s with %q:\n%s", f.Status, c.status, c.want, f.Explanation)
			}
			if strings.Contains(f.Explanation+f.Observed, "s3cret") {
				t.Errorf("a secret is quoted: %s", f.Explanation)
			}
		})
	}
	_, snap := audit.Run(t, `process "p" {
  name = "`+name+`"
}`, env)
	for _, p := range snap.Processes.Processes {
		if strings.Contains(p.Command, "s3cret") {
			t.Errorf("the snapshot records a secret: %+v", p)
		}
	}
}

// TestProcessOtherNamespace: the same program in a new PID namespace is not
// this host's.
func TestProcessOtherNamespace(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "unshare")
	name := fmt.Sprintf("hdns%d", os.Getpid()%1000000)
	startSleep(t, []string{"unshare", "--pid", "--fork"}, name, "")
	waitName(t, name, 1)
	f := audit.One(t, `process "p" {
  name = "`+name+`"
}`, agent.Env{Root: "/"})
	if f.Status != finding.Fail || !strings.Contains(f.Explanation, "no process named "+name+" runs on this host; 1 more in other PID or mount namespaces (containers), which do not count") {
		t.Errorf("%s: %s", f.Status, f.Explanation)
	}
}
