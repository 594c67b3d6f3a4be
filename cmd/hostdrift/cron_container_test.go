package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/dockertest"
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
	rep, _ := runJSON(t, exec.Command(bin, "check", "--policy", policy, "--format", "json"))
	for _, f := range rep.Findings {
		if f.Check != "cron.daemon-running" {
			continue
		}
		if f.Status == finding.Pass && strings.Contains(f.Explanation, "pid "+strconv.Itoa(pid)) {
			t.Errorf("cron.daemon-running passes on the container's cron: %s", f.Explanation)
		}
		return
	}
	t.Errorf("no cron.daemon-running finding in %+v", rep.Findings)
}
