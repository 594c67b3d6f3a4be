package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

const serveJobsPolicy = `
cron "programs" {
  require = ["program"]
}
timer "programs" {
  require = ["program"]
}
`

// TestServeSeesEveryJobFolder runs hostdrift serve over a fixture root and
// writes a crontab into the RHEL spool (/var/spool/cron/USER) and a timer
// into /usr/local/lib/systemd/system, the two folders serve once did not
// watch, and installs Debian's cron.service, which makes the RHEL spool no
// crontab's: each flips its finding on /metrics within the event deadline, to
// the status a `hostdrift check` of the same state gives, and back.
func TestServeSeesEveryJobFolder(t *testing.T) {
	ns := nstest.New(t)
	root := t.TempDir()
	for _, d := range []string{"etc", "usr/local/lib/systemd/system", "usr/lib/systemd/system", "var/spool/cron"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n")
	pol := policyFile(t, serveJobsPolicy)
	s := startServe(t, ns, nil, "--no-builtin", "--policy", pol, "--root", root, "--log-format", "json")

	// agree checks that `hostdrift check` gives want for check on the
	// state as it is, and waits for serve to say the same.
	agree := func(what, check, want string, since time.Time) {
		t.Helper()
		rep, _ := runJSON(t, exec.Command(binary(t), "check", "--no-builtin", "--policy", pol, "--root", root, "--format", "json"))
		got := findingsByCheck(rep)[check]
		if !strings.HasPrefix(got, want+":") {
			t.Fatalf("%s: hostdrift check says %s %q, want %s", what, check, got, want)
		}
		s.waitMetric(t, what, checkStatusRE(check, want), since, eventDeadline)
	}
	agree("cron at start", "cron.programs", "pass", time.Now())
	agree("timer at start", "timer.programs", "pass", time.Now())

	crontab := filepath.Join(root, "var/spool/cron/alice")
	start := time.Now()
	writeFile(t, crontab, "0 1 * * * /usr/local/bin/report-missing\n")
	agree("cron after a crontab in the RHEL spool", "cron.programs", "fail", start)
	// Once Debian's cron.service is installed, the RHEL spool is no
	// crontab's: Debian's cron never reads it.
	debianCron := filepath.Join(root, "usr/lib/systemd/system/cron.service")
	start = time.Now()
	writeFile(t, debianCron, "[Service]\nExecStart=/usr/sbin/cron -f\n")
	agree("cron after Debian's cron.service is installed", "cron.programs", "pass", start)
	start = time.Now()
	if err := os.Remove(debianCron); err != nil {
		t.Fatal(err)
	}
	agree("cron after cron.service is gone", "cron.programs", "fail", start)
	start = time.Now()
	if err := os.Remove(crontab); err != nil {
		t.Fatal(err)
	}
	agree("cron after the crontab is gone", "cron.programs", "pass", start)

	unit := filepath.Join(root, "usr/local/lib/systemd/system/backup")
	writeFile(t, unit+".service", "[Service]\nExecStart=/usr/local/bin/backup-missing\n")
	start = time.Now()
	writeFile(t, unit+".timer", "[Timer]\nOnCalendar=daily\n")
	agree("timer after a unit in /usr/local/lib/systemd/system", "timer.programs", "fail", start)
	start = time.Now()
	if err := os.Remove(unit + ".timer"); err != nil {
		t.Fatal(err)
	}
	agree("timer after the unit is gone", "timer.programs", "pass", start)

	for _, line := range strings.Split(s.stdout.String(), "\n") {
		if strings.Contains(line, `"check":"timer.programs","from":"pass","to":"fail"`) && !strings.Contains(line, "/usr/local/lib/systemd/system/backup") {
			t.Errorf("the transition does not name the unit file's event: %s", line)
		}
	}
}
