package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/debroot"
	"github.com/hostdrift/hostdrift/internal/testkit/dockertest"
)

// TestCronieUnderRealSystemd boots the corpus's RHEL-shaped host (see
// rhelPrepare: cronie's layout from its rpms, Debian's cron program as
// cronie's crond.service, anacron started by 0anacron) and reads what the
// cron collector made of it: cronie's layout, decided by crond.service;
// the crond that runs; anacron's jobs triggered by 0anacron, itself run
// from 0hourly; the files' packages from rpm's file lists. Whether the
// built-in policy is quiet there, and reports a missing program in
// /var/spool/cron/root, is TestStockHosts' (rhel-shaped,
// rhel-shaped-admin-cron).
func TestCronieUnderRealSystemd(t *testing.T) {
	e := dockertest.Start(t)
	base := "hostdrift-test/cronie-base:latest"
	e.Import(t, debroot.CachedSuite(t, rootRHELShaped.suite, rootRHELShaped.include...), base)
	img := prepareImage(t, e, base, "rhel-shaped-cronie", rhelPrepare, buildRHELRPMs(t))
	host := e.BootSystemd(t, img, hostCaps...)
	for cmd, want := range map[string]string{
		"systemctl is-active crond.service; ps -o comm= -C crond":             "active\ncrond",
		"systemctl cat cron.service anacron.timer 2>&1 | head -1":             "No files found for cron.service",
		"command -v cron || echo no-cron; command -v sendmail || echo no-mta": "no-cron\nno-mta",
	} {
		if got := host.Exec("sh", "-c", cmd); !strings.Contains(got, want) {
			t.Fatalf("fixture: %s says %q, want %q", cmd, got, want)
		}
	}
	e.Docker(t, "cp", binary(t), host.ID+":/usr/local/bin/hostdrift")
	out, err := e.Command("exec", host.ID, "/usr/local/bin/hostdrift", "snapshot", "--collectors", "cron").Output()
	if err != nil {
		t.Fatalf("hostdrift snapshot: %v\n%s", err, out)
	}
	var snap snapshot.Snapshot
	if err := json.Unmarshal(out, &snap); err != nil || snap.Jobs == nil || snap.Jobs.Cron == nil {
		t.Fatalf("snapshot: %v\n%s", err, out)
	}
	cr := snap.Jobs.Cron
	if cr.Flavour != snapshot.CronCronie || cr.FlavourReason != "crond.service is installed (/lib/systemd/system/crond.service); cron.service is not" ||
		cr.Daemon != snapshot.DaemonRunning || cr.DaemonProgram != "/usr/sbin/crond" || cr.SyslogOutput == "" ||
		cr.Anacron != "/etc/cron.hourly/0anacron, a run-parts script that runs anacron (run-parts run by /etc/cron.d/0hourly:5)" {
		t.Errorf("cron section: flavour %q (%s), daemon %s (%s), syslog output %q, anacron %q",
			cr.Flavour, cr.FlavourReason, cr.Daemon, cr.DaemonProgram, cr.SyslogOutput, cr.Anacron)
	}
	if cr.PackageDB != "rpm" || cr.PackageDBError != "" {
		t.Errorf("package database %q (%s), want rpm's", cr.PackageDB, cr.PackageDBError)
	}
	jobs := map[string]snapshot.CronJob{}
	for _, j := range cr.Jobs {
		jobs[j.Where()] = j
		t.Logf("job %s (%s) %q inert %q package %q", j.Where(), j.Kind, j.Command, j.Inert, j.Package)
	}
	if j := jobs["/var/spool/cron/root:2"]; j.Kind != snapshot.CronUser || j.User != "root" || j.Package != "" || len(j.Programs) != 1 || !j.Programs[0].Executable {
		t.Errorf("root's crontab: %+v", j)
	}
	if j := jobs["/etc/cron.d/0hourly:5"]; j.Package != "cronie" {
		t.Errorf("0hourly: package %q, want cronie (rpm's file list): %+v", j.Package, j)
	}
	if j := jobs["/etc/cron.hourly/0anacron"]; j.Trigger != "/etc/cron.d/0hourly:5" || j.Inert != "" || j.Package != "cronie-anacron" {
		t.Errorf("0anacron: %+v", j)
	}
	if j := jobs["/etc/anacrontab:14"]; j.Anacron == nil || j.Anacron.ID != "cron.daily" || j.Anacron.StartHoursRange != "3-22" ||
		j.Trigger != "/etc/cron.hourly/0anacron" || j.Inert != snapshot.InertNothingToRun || j.Package != "cronie-anacron" {
		t.Errorf("cron.daily: %+v", j)
	}
}
