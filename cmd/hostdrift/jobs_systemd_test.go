package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/testkit/debroot"
	"github.com/hostdrift/hostdrift/internal/testkit/dockertest"
	"github.com/hostdrift/hostdrift/internal/testkit/fixture"
)

// systemdImage is the name the booted Debian root is imported as.
const systemdImage = "hostdrift-test/debian-systemd:latest"

// soonTimer fires its service once, two seconds after boot.
const soonTimer = `[Timer]
OnActiveSec=2s
AccuracySec=1s
[Install]
WantedBy=timers.target
`

// jobsTree is what the test installs in the Debian root: timers and cron
// jobs that succeed, fail, never run, and run a program that is missing.
var jobsTree = map[string]string{
	"usr/local/bin/ok-job@":           "#!/bin/sh\ndate > /var/tmp/ok.out\necho ok\n",
	"usr/local/bin/fail-job@":         "#!/bin/sh\necho 'library changed its signature' >&2\nexit 3\n",
	"etc/systemd/system/ok.timer":     soonTimer,
	"etc/systemd/system/ok.service":   "[Service]\nType=oneshot\nExecStart=/usr/local/bin/ok-job\n",
	"etc/systemd/system/fail.timer":   soonTimer,
	"etc/systemd/system/fail.service": "[Service]\nType=oneshot\nExecStart=/usr/local/bin/fail-job\n",
	// Enabled, but its condition keeps it from starting: it never fires.
	"etc/systemd/system/never.timer": `[Unit]
ConditionPathExists=/etc/never-there
[Timer]
OnBootSec=1s
AccuracySec=1s
[Install]
WantedBy=timers.target
`,
	"etc/systemd/system/never.service":                     "[Service]\nType=oneshot\nExecStart=/usr/local/bin/ok-job\n",
	"etc/systemd/system/missing.timer":                     soonTimer,
	"etc/systemd/system/missing.service":                   "[Service]\nType=oneshot\nExecStart=/usr/local/bin/missing-job --now\n",
	"etc/systemd/system/timers.target.wants/ok.timer":      "-> /etc/systemd/system/ok.timer",
	"etc/systemd/system/timers.target.wants/fail.timer":    "-> /etc/systemd/system/fail.timer",
	"etc/systemd/system/timers.target.wants/never.timer":   "-> /etc/systemd/system/never.timer",
	"etc/systemd/system/timers.target.wants/missing.timer": "-> /etc/systemd/system/missing.timer",
	// Services: one active and enabled with a drop-in, one that crashes
	// until systemd gives up, one masked, one installed but disabled.
	"etc/systemd/system/web-ok.service":                         "[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n",
	"etc/systemd/system/web-ok.service.d/limits.conf":           "[Service]\nLimitNOFILE=4096\n",
	"etc/systemd/system/multi-user.target.wants/web-ok.service": "-> /etc/systemd/system/web-ok.service",
	"etc/systemd/system/crash.service":                          "[Service]\nExecStart=/bin/sh -c 'exit 2'\n[Install]\nWantedBy=multi-user.target\n",
	// Fails twice, systemd restarts it, and the third start stays up.
	"etc/systemd/system/flaky.service": `[Service]
ExecStart=/bin/sh -c 'n=$(cat /run/flaky 2>/dev/null || echo 0); echo $((n+1)) > /run/flaky; [ "$n" -ge 2 ] && exec sleep infinity; exit 1'
Restart=on-failure
RestartSec=200ms
[Install]
WantedBy=multi-user.target
`,
	"etc/systemd/system/multi-user.target.wants/flaky.service": "-> /etc/systemd/system/flaky.service",
	"etc/systemd/system/multi-user.target.wants/crash.service": "-> /etc/systemd/system/crash.service",
	"etc/systemd/system/telnetish.service":                     "-> /dev/null",
	"etc/systemd/system/spare.service":                         "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
	"etc/cron.d/hostdrift-test": `PATH=/usr/local/bin:/usr/bin:/bin
* * * * * root ok-job >> /var/log/ok-job.log 2>&1
* * * * * root fail-job
0 0 1 1 * root ok-job --yearly >/dev/null 2>&1
* * * * * root /bin/sh /opt/missing/script.sh >/dev/null 2>&1
`,
}

const jobsPolicy = `
cron "ok-ran" {
  command = "ok-job >>"
  max_age = "5m"
}
cron "yearly-ran" {
  command = "--yearly"
  max_age = "25h"
  require = ["ran"]
}
cron "programs" {
  require = ["program"]
}
cron "output" {
  require = ["output"]
}
cron "daemon" {
  require = ["daemon"]
}
timer "ok" {
  unit        = "ok.timer"
  max_age     = "5m"
  last_result = "success"
}
timer "fail" {
  unit    = "fail.timer"
  require = ["result"]
}
timer "never" {
  unit    = "never.timer"
  require = ["triggered"]
}
timer "missing" {
  unit    = "missing.timer"
  require = ["program"]
}
service "web" {
  unit         = "web-ok"
  active       = true
  enabled      = true
  failed       = false
  max_restarts = 0
}
service "web-drop-ins" {
  unit     = "web-ok.service"
  drop_ins = false
}
service "crash" {
  unit   = "crash"
  failed = false
}
service "flaky" {
  unit         = "flaky"
  active       = true
  max_restarts = 1
}
service "masked" {
  unit    = "telnetish"
  active  = false
  enabled = false
}
service "masked-enabled" {
  unit    = "telnetish"
  enabled = true
}
service "spare" {
  unit    = "spare"
  enabled = true
}
file "ok-output" {
  path    = "/var/tmp/ok.out"
  max_age = "10m"
}
`

// TestJobsUnderRealSystemd boots a debootstrapped Debian with systemd as
// PID 1 in a container, lets its timers and cron jobs run, and runs
// hostdrift check inside: the timers over D-Bus, cron's runs from the
// journal.
func TestJobsUnderRealSystemd(t *testing.T) {
	e := dockertest.Start(t)
	root := debroot.Copy(t, debroot.Cached(t, "systemd", "systemd-sysv", "dbus", "cron"))
	fixture.Write(t, root, jobsTree)
	start := time.Now()
	e.Import(t, root, systemdImage)
	t.Logf("imported the root in %s", time.Since(start).Round(time.Second))

	id := e.Docker(t, "run", "-d", "--label", dockertest.Label, "--network", "none",
		"--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined", "--cgroupns=host",
		"-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/run/lock",
		"-e", "container=docker", systemdImage, "/lib/systemd/systemd")
	inside := func(args ...string) string {
		out, _ := e.Command(append([]string{"exec", id}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	waitFor(t, 90*time.Second, "systemd to finish booting", func() bool {
		s := inside("systemctl", "is-system-running")
		return s == "running" || s == "degraded"
	})
	booted := time.Now()
	waitFor(t, 30*time.Second, "the ok, fail and missing timers to fire", func() bool {
		return inside("systemctl", "show", "-P", "Result", "fail.service") == "exit-code" &&
			inside("systemctl", "show", "-P", "Result", "missing.service") == "exit-code" &&
			inside("systemctl", "show", "-P", "ExecMainExitTimestampMonotonic", "ok.service") != "0"
	})
	waitFor(t, 30*time.Second, "crash.service to fail and flaky.service to come up after two restarts", func() bool {
		return inside("systemctl", "is-failed", "crash.service") == "failed" &&
			inside("systemctl", "show", "-P", "NRestarts", "flaky.service") == "2" && inside("systemctl", "is-active", "flaky.service") == "active"
	})
	// Cron starts jobs on the minute: wait for the first CMD in the journal.
	waitFor(t, 75*time.Second, "cron to run ok-job", func() bool {
		return strings.Contains(inside("journalctl", "--no-pager", "-q", "SYSLOG_IDENTIFIER=CRON"), "CMD (ok-job >>")
	})

	// never.timer counts as missed once OnBootSec=1s, its accuracy and
	// hostdrift's 15 s of grace have passed since boot.
	if d := time.Until(booted.Add(20 * time.Second)); d > 0 {
		time.Sleep(d)
	}
	e.Docker(t, "cp", binary(t), id+":/usr/local/bin/hostdrift")
	policy := filepath.Join(t.TempDir(), "jobs.hcl")
	if err := os.WriteFile(policy, []byte(jobsPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	e.Docker(t, "cp", policy, id+":/tmp/jobs.hcl")
	out, err := e.Command("exec", id, "/usr/local/bin/hostdrift", "check", "--format", "json", "--policy", "/tmp/jobs.hcl").Output()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() != exitDrift {
		t.Fatalf("hostdrift check: exit %d, want %d\n%s\n%s", ee.ExitCode(), exitDrift, out, ee.Stderr)
	} else if err == nil {
		t.Fatalf("hostdrift check found no drift:\n%s", out)
	}
	var rep struct {
		Collectors []struct{ Name, Status, Reason string }
		Findings   []finding.Finding
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, c := range rep.Collectors {
		if c.Status != "ok" {
			t.Errorf("collector %s: %s: %s", c.Name, c.Status, c.Reason)
		}
	}
	want := map[string]struct {
		status finding.Status
		says   []string
	}{
		"cron.ok-ran":            {finding.Pass, []string{"/etc/cron.d/hostdrift-test:2: last run ", " UTC per journal"}},
		"cron.yearly-ran":        {finding.Fail, []string{"/etc/cron.d/hostdrift-test:4 (ok-job --yearly >/dev/null 2>&1): no run in journal", "max_age 25h"}},
		"cron.programs":          {finding.Fail, []string{"/etc/cron.d/hostdrift-test:5", "its script /opt/missing/script.sh: /opt/missing/script.sh does not exist"}},
		"cron.output":            {finding.Fail, []string{"no mail transfer agent is installed", "1 job(s) that send it to mail: /etc/cron.d/hostdrift-test:3 (stdout+stderr to root)", "because systemd runs, and the job tests /run/systemd/system first", "/etc/cron.d/e2scrub_all:1"}},
		"cron.daemon":            {finding.Pass, nil},
		"timer.ok":               {finding.Pass, []string{"ok.timer last triggered ", "ok.service result success"}},
		"timer.fail":             {finding.Fail, []string{"fail.timer (/etc/systemd/system/fail.timer): fail.service last ran ", "ended with exit-code (status 3)"}},
		"timer.never":            {finding.Fail, []string{"never.timer (/etc/systemd/system/never.timer) is enabled (inactive) but never triggered, although it was due by ", "OnBootSec=1s"}},
		"timer.missing":          {finding.Fail, []string{"missing.timer (/etc/systemd/system/missing.timer) runs missing.service: its program /usr/local/bin/missing-job: /usr/local/bin/missing-job does not exist"}},
		"file.ok-output":         {finding.Pass, []string{"/var/tmp/ok.out modified "}},
		"service.web":            {finding.Pass, []string{"web-ok.service: active (running), enabled, /etc/systemd/system/web-ok.service, drop-ins /etc/systemd/system/web-ok.service.d/limits.conf"}},
		"service.web-drop-ins":   {finding.Fail, []string{"drop-ins override its unit file: /etc/systemd/system/web-ok.service.d/limits.conf"}},
		"service.crash":          {finding.Fail, []string{"crash.service (failed (failed), enabled, /etc/systemd/system/crash.service, result exit-code (status 2)): it is failed"}},
		"service.flaky":          {finding.Fail, []string{"flaky.service (active (running), enabled, /etc/systemd/system/flaky.service, restarted 2 time(s)): systemd restarted it 2 time(s), more than 1"}},
		"service.masked":         {finding.Pass, []string{"telnetish.service: inactive (dead), masked"}},
		"service.masked-enabled": {finding.Fail, []string{"telnetish.service", "it is masked"}},
		"service.spare":          {finding.Fail, []string{"spare.service (inactive (dead), disabled, /etc/systemd/system/spare.service): it is not enabled (disabled): it does not start at boot"}},
	}
	seen := 0
	for _, f := range rep.Findings {
		w, ok := want[f.Check]
		if !ok {
			continue
		}
		seen++
		if f.Status != w.status {
			t.Errorf("%s: %s, want %s: %s", f.Check, f.Status, w.status, f.Explanation)
			continue
		}
		for _, s := range w.says {
			if !strings.Contains(f.Explanation, s) {
				t.Errorf("%s: explanation lacks %q:\n%s", f.Check, s, f.Explanation)
			}
		}
		t.Logf("%s %s: %s", f.Status, f.Check, f.Explanation)
	}
	if seen != len(want) {
		t.Errorf("%d of %d expected findings in the report:\n%s", seen, len(want), out)
	}

	// policy init under the real systemd: the timers and cron jobs that
	// hold are written active, the failing ones commented out, and a check
	// right after it passes.
	if out, err := e.Command("exec", id, "/usr/local/bin/hostdrift", "policy", "init", "--area", "cron,timers,services,sysctl", "--output", "/tmp/init.hcl").CombinedOutput(); err != nil {
		t.Fatalf("policy init: %v\n%s", err, out)
	}
	initText, _ := e.Command("exec", id, "cat", "/tmp/init.hcl").Output()
	for _, w := range []string{"timer \"ok\" {", "# timer \"fail\" {", "# timer \"missing\" {", "# timer \"never\" {",
		"service \"web-ok\" {", "service \"flaky\" {", "# service \"crash\" {"} {
		if !strings.Contains(string(initText), w) {
			t.Errorf("policy init lacks %q:\n%s", w, initText)
		}
	}
	if out, err := e.Command("exec", id, "/usr/local/bin/hostdrift", "check", "--policy", "/tmp/init.hcl").CombinedOutput(); err != nil {
		t.Errorf("check right after policy init: %v\n%s", err, out)
	}

	// The built-in host checks: first they see the units this test made
	// fail; once those are reset, this stock Debian passes them: no failed
	// unit, root alone at uid 0, and sysctl.d not judged where /proc/sys is
	// read-only (a container).
	builtin := func() *report.Report {
		out, _ := e.Command("exec", id, "/usr/local/bin/hostdrift", "check", "--format", "json").Output()
		var r report.Report
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return &r
	}
	if f := findingNamed(builtin(), "service.no-failed-units"); f == nil || f.Status != finding.Fail ||
		!strings.Contains(f.Explanation, "crash.service (failed (failed)") || !strings.Contains(f.Explanation, "fail.service (failed (failed)") {
		t.Errorf("built-in service.no-failed-units before the reset: %+v", f)
	}
	inside("systemctl", "reset-failed", "fail.service", "missing.service", "crash.service")
	stock := builtin()
	for check, want := range map[string]finding.Status{
		"service.no-failed-units":          finding.Pass,
		"user.root-alone-at-uid-0":         finding.Pass,
		"kernel_param.boot-config-applied": finding.Skip,
	} {
		f := findingNamed(stock, check)
		if f == nil || f.Status != want {
			t.Errorf("built-in %s: %+v, want %s", check, f, want)
		} else {
			t.Logf("%s %s: %s", f.Status, f.Check, f.Explanation)
		}
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting %s for %s", limit, what)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
