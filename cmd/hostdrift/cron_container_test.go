package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/dockertest"
	"github.com/hostdrift/hostdrift/internal/testkit/fixture"
)

// fakeCron is a script named cron: the process running it is called cron
// (its comm), as a real cron daemon in a container is.
const fakeCron = `printf '#!/bin/sh\nwhile :; do sleep 3600; done\n' > /tmp/cron && chmod +x /tmp/cron && exec /tmp/cron`

// A cron daemon in a container runs the container's jobs. On the live host
// it must not count as the host's cron: before, cron.daemon-running passed
// with "a cron daemon runs (pid N)", N being the container's process.
func TestContainersCronIsNotTheHosts(t *testing.T) {
	e := dockertest.Start(t)
	img := e.Busybox(t)
	e.Docker(t, "run", "-d", "--name", "cron", "--label", dockertest.Label, img, "/bin/sh", "-c", fakeCron)
	pid, err := strconv.Atoi(e.Docker(t, "inspect", "-f", "{{.State.Pid}}", "cron"))
	if err != nil || pid == 0 {
		t.Fatalf("the container's pid: %v", err)
	}
	waitFor(t, 20*time.Second, "the container's process to be named cron", func() bool {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		return strings.TrimSpace(string(b)) == "cron"
	})

	bin := binary(t)
	out, stderr, code := runCapture(t, exec.Command(bin, "snapshot", "--collectors", "cron"))
	if code != 0 {
		t.Fatalf("snapshot: exit %d: %s", code, stderr)
	}
	var snap snapshot.Snapshot
	if err := json.Unmarshal(out, &snap); err != nil || snap.Jobs == nil || snap.Jobs.Cron == nil {
		t.Fatalf("snapshot without a cron section: %v\n%s", err, out)
	}
	cr := snap.Jobs.Cron
	if cr.DaemonPID == pid {
		t.Fatalf("the container's cron (pid %d) was taken as the host's: daemon %s", pid, cr.Daemon)
	}
	found := false
	for _, p := range cr.OtherDaemons {
		found = found || p == pid
	}
	if !found {
		t.Errorf("other daemons %v; want the container's cron, pid %d", cr.OtherDaemons, pid)
	}

	policy := policyFile(t, `
cron "daemon-running" {
  require = ["daemon"]
}
`)
	daemonFinding := func(args ...string) finding.Finding {
		t.Helper()
		rep, _ := runJSON(t, exec.Command(bin, append([]string{"check", "--policy", policy, "--format", "json"}, args...)...))
		for _, f := range rep.Findings {
			if f.Check == "cron.daemon-running" {
				return f
			}
		}
		t.Fatalf("no cron.daemon-running finding in %+v", rep.Findings)
		return finding.Finding{}
	}
	if f := daemonFinding(); f.Status == finding.Pass && strings.Contains(f.Explanation, "pid "+strconv.Itoa(pid)) {
		t.Errorf("live: cron.daemon-running passes on the container's cron: %s", f.Explanation)
	}

	// A tree without cron, with a job, and the live /proc mounted in it:
	// the container's cron is no daemon of the tree's either.
	root := t.TempDir()
	fixture.Write(t, root, map[string]string{
		"etc/passwd":        "root:x:0:0:root:/root:/bin/sh\n",
		"etc/cron.d/backup": "0 1 * * * root /bin/true\n",
		"bin/true@":         "",
	})
	proc := filepath.Join(root, "proc")
	if err := os.Mkdir(proc, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("proc", proc, "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		t.Fatalf("mount a procfs at %s: %v", proc, err)
	}
	t.Cleanup(func() { syscall.Unmount(proc, syscall.MNT_DETACH) })
	f := daemonFinding("--root", root)
	if f.Status == finding.Pass {
		t.Errorf("--root with the live /proc: cron.daemon-running passes: %s", f.Explanation)
	}
	t.Logf("--root with the live /proc: %s: %s", f.Status, f.Explanation)
}
