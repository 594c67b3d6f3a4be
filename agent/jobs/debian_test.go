package jobs

import (
	"context"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/debroot"
)

// typicalServer is the package set of a typical Debian server root.
var typicalServer = []string{"cron", "dbus", "logrotate", "man-db", "nftables", "nginx", "openssh-server", "systemd", "systemd-sysv", "unattended-upgrades"}

// On a real Debian root, an offline image that boots systemd, every job
// Debian ships does nothing under cron (a systemd timer does the work), and
// every job file is owned by its package, read from dpkg's lists; its
// cron.service says Debian's cron is the daemon.
func TestDebianJobsAreInertUnderSystemd(t *testing.T) {
	root := debroot.Cached(t, typicalServer...)
	c := &CronCollector{Journal: func(context.Context, rootFS) ([]logRun, error) { return nil, nil }}
	sec, err := c.Collect(context.Background(), &agent.Env{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	cr := sec.(*snapshot.Cron)
	if !strings.Contains(cr.Systemd, "/sbin/init is /usr/lib/systemd/systemd") || cr.PackageDB != "dpkg" || cr.PackageDBError != "" || cr.DaemonProgram != "/usr/sbin/cron" {
		t.Errorf("systemd %q, package db %q (%q), daemon program %q", cr.Systemd, cr.PackageDB, cr.PackageDBError, cr.DaemonProgram)
	}
	if cr.Flavour != snapshot.CronDebian || cr.FlavourReason != "cron.service is installed (/lib/systemd/system/cron.service); crond.service is not" || cr.SyslogOutput != "" {
		t.Errorf("flavour %q (%s), syslog output %q", cr.Flavour, cr.FlavourReason, cr.SyslogOutput)
	}
	owners := map[string]string{
		"/etc/crontab": "cron-daemon-common", "/etc/cron.d/e2scrub_all": "e2fsprogs", "/etc/cron.daily/apt-compat": "apt",
		"/etc/cron.daily/dpkg": "dpkg", "/etc/cron.daily/logrotate": "logrotate", "/etc/cron.daily/man-db": "man-db", "/etc/cron.weekly/man-db": "man-db",
	}
	seen := map[string]bool{}
	for _, j := range cr.Jobs {
		seen[j.File] = true
		if j.Inert == "" {
			t.Errorf("%s (%s) is not inert", j.Where(), j.Command)
		}
		if want, ok := owners[j.File]; !ok || j.Package != want {
			t.Errorf("%s: package %q, want %q", j.Where(), j.Package, want)
		}
	}
	for f := range owners {
		if !seen[f] {
			t.Errorf("no job from %s", f)
		}
	}
}
