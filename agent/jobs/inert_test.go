package jobs

import (
	"context"
	"testing"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/fixture"
)

// Below a root whose /run/systemd/system exists, the jobs that test for it
// are inert; an admin's job is not, and no package owns it.
func TestInertJobsAndOwners(t *testing.T) {
	root := t.TempDir()
	fixture.Write(t, root, map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
		"etc/crontab": "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n" +
			"25 6 * * * root test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }\n",
		"etc/cron.d/e2scrub_all":                    "10 3 * * * root test -e /run/systemd/system || SERVICE_MODE=1 /sbin/e2scrub_all -A -r\n",
		"etc/cron.d/backup":                         "0 1 * * * root test -e /run/systemd/system || /usr/local/bin/backup; /usr/local/bin/notify\n",
		"etc/cron.daily/dpkg@":                      "#!/bin/sh\n# Skip if systemd is running.\nif [ -d /run/systemd/system ]; then\n  exit 0\nfi\n/usr/libexec/dpkg/dpkg-db-backup\n",
		"etc/cron.weekly/report@":                   "#!/bin/sh\n/usr/local/bin/report\n",
		"run/systemd/system/x":                      "",
		"usr/sbin/cron@":                            "",
		"var/lib/dpkg/info/cron-daemon-common.list": "/.\n/etc\n/etc/crontab\n",
		"var/lib/dpkg/info/e2fsprogs.list":          "/etc/cron.d/e2scrub_all\n",
		"var/lib/dpkg/info/dpkg:amd64.list":         "/etc/cron.daily\n/etc/cron.daily/dpkg\n",
	})
	c := &CronCollector{Journal: func(context.Context, rootFS) ([]logRun, error) { return nil, nil }}
	sec, err := c.Collect(context.Background(), &agent.Env{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	cr := sec.(*snapshot.Cron)
	if cr.Systemd != "/run/systemd/system exists" || cr.PackageDB != "dpkg" || cr.DaemonProgram != "/usr/sbin/cron" {
		t.Errorf("systemd %q, package db %q, daemon program %q", cr.Systemd, cr.PackageDB, cr.DaemonProgram)
	}
	want := map[string]struct {
		inert bool
		pkg   string
	}{
		"/etc/crontab:1":            {true, "cron-daemon-common"}, // an empty folder
		"/etc/crontab:2":            {true, "cron-daemon-common"}, // only dpkg's guarded script
		"/etc/cron.d/e2scrub_all:1": {true, "e2fsprogs"},
		"/etc/cron.d/backup:1":      {false, ""}, // notify runs anyway
		"/etc/cron.daily/dpkg":      {true, "dpkg"},
		"/etc/cron.weekly/report":   {false, ""},
	}
	if len(cr.Jobs) != len(want) {
		t.Errorf("%d jobs, want %d", len(cr.Jobs), len(want))
	}
	for _, j := range cr.Jobs {
		w, ok := want[j.Where()]
		if !ok || (j.Inert != "") != w.inert || j.Package != w.pkg {
			t.Errorf("%s: inert %q, package %q; want inert %t, package %q", j.Where(), j.Inert, j.Package, w.inert, w.pkg)
		}
	}
}
