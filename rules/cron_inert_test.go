package rules_test

import (
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// debianJobs are the jobs of a stock Debian 12 host, as the collector
// records them under systemd: each exits at once, or runs a folder of such
// scripts, and each belongs to a package.
func debianJobs(inert bool) []snapshot.CronJob {
	mail := snapshot.JobOutput{ToCron: []string{"stdout", "stderr"}, MailTo: "root"}
	job := func(file string, line int, kind, pkg, why string) snapshot.CronJob {
		j := snapshot.CronJob{File: file, Line: line, Kind: kind, User: "root", Command: file, Package: pkg, Output: mail,
			Programs: []snapshot.Program{ok("/bin/true")}}
		if inert {
			j.Inert = why
		}
		return j
	}
	guard := snapshot.InertUnderSystemd
	return []snapshot.CronJob{
		job("/etc/crontab", 17, snapshot.CronSystem, "cron", snapshot.InertNothingToRun),
		job("/etc/cron.d/e2scrub_all", 2, snapshot.CronSystem, "e2fsprogs", guard),
		job("/etc/cron.daily/apt-compat", 0, snapshot.CronRunParts, "apt", guard),
		job("/etc/cron.daily/dpkg", 0, snapshot.CronRunParts, "dpkg", guard),
		job("/etc/cron.daily/man-db", 0, snapshot.CronRunParts, "man-db", guard),
	}
}

func cronSnapshot(cr *snapshot.Cron) *snapshot.Snapshot {
	cr.LogSources, cr.Ignored, cr.Errors = []string{"journal"}, []snapshot.IgnoredFile{}, []snapshot.FileError{}
	return &snapshot.Snapshot{Schema: snapshot.Schema, TakenAt: jobsNow,
		Collectors: []snapshot.CollectorStatus{{Name: "cron", Status: snapshot.StatusOK}},
		Jobs:       &snapshot.Jobs{Cron: cr}}
}

func TestCronJobsThatDoNothingHere(t *testing.T) {
	admin := snapshot.CronJob{File: "/etc/cron.d/backup", Line: 1, Kind: snapshot.CronSystem, User: "root", Command: "/usr/local/bin/backup",
		Programs: []snapshot.Program{ok("/usr/local/bin/backup")}, Output: snapshot.JobOutput{ToCron: []string{"stdout", "stderr"}, MailTo: "root"}}
	withAdmin := func(jobs []snapshot.CronJob) []snapshot.CronJob { return append(jobs, admin) }
	for _, c := range []struct {
		name    string
		cron    snapshot.Cron
		require string
		status  finding.Status
		want    []string
		not     []string
	}{
		{"stock systemd host without MTA: output", snapshot.Cron{Daemon: snapshot.DaemonRunning, DaemonProgram: "/usr/sbin/cron", PackageDB: "dpkg", Systemd: "/run/systemd/system exists", Jobs: debianJobs(true)},
			"output", finding.Pass, []string{"no cron job here does anything", "as they do nothing here, 1 job(s) because the job only runs run-parts", "4 job(s) because systemd runs", "/etc/cron.daily/dpkg"}, nil},
		{"same host, an admin's job mails", snapshot.Cron{Daemon: snapshot.DaemonRunning, DaemonProgram: "/usr/sbin/cron", PackageDB: "dpkg", Systemd: "/run/systemd/system exists", Jobs: withAdmin(debianJobs(true))},
			"output", finding.Fail, []string{"1 job(s) that send it to mail: /etc/cron.d/backup:1", "left out: as they do nothing here, 1 job(s)"}, []string{"e2scrub_all:2 (stdout"}},
		{"without systemd the packages' jobs run", snapshot.Cron{Daemon: snapshot.DaemonRunning, DaemonProgram: "/usr/sbin/cron", PackageDB: "dpkg", Jobs: debianJobs(false)},
			"output", finding.Fail, []string{"5 job(s) that send it to mail"}, nil},
		{"cron not installed, packages' jobs only", snapshot.Cron{Daemon: snapshot.DaemonStopped, PackageDB: "dpkg", Jobs: debianJobs(false)[1:]},
			"daemon", finding.Skip, []string{"cron is not installed; 4 job(s) in /etc/cron.* were installed by packages (apt, dpkg, e2fsprogs, man-db) and do nothing here"}, nil},
		{"cron not installed, offline", snapshot.Cron{Daemon: snapshot.DaemonUnknown, PackageDB: "dpkg", Jobs: debianJobs(false)[1:]},
			"program", finding.Skip, []string{"cron is not installed"}, nil},
		{"cron not installed, an admin's job", snapshot.Cron{Daemon: snapshot.DaemonStopped, PackageDB: "dpkg", OtherDaemons: []int{4121}, Jobs: withAdmin(debianJobs(false)[1:])},
			"daemon", finding.Fail, []string{"cron is not installed", "cron pid 4121 runs in another PID or mount namespace", "the 1 job(s) someone added never run: /etc/cron.d/backup:1", "left out: as they do nothing without cron, 4 job(s) installed by packages"}, nil},
		{"cron installed but stopped", snapshot.Cron{Daemon: snapshot.DaemonStopped, DaemonProgram: "/usr/sbin/cron", PackageDB: "dpkg", Jobs: debianJobs(false)},
			"daemon", finding.Fail, []string{"no cron daemon runs"}, nil},
		{"ownership unknown (no dpkg)", snapshot.Cron{Daemon: snapshot.DaemonStopped, Jobs: debianJobs(false)},
			"daemon", finding.Fail, []string{"no cron daemon runs"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			cr := c.cron
			f := evaluate(t, `cron "x" {
  require = ["`+c.require+`"]
}`, cronSnapshot(&cr), jobsNow)[0]
			if f.Status != c.status {
				t.Errorf("status %s, want %s: %s", f.Status, c.status, f.Explanation)
			}
			for _, w := range c.want {
				if !strings.Contains(f.Explanation, w) {
					t.Errorf("explanation lacks %q:\n%s", w, f.Explanation)
				}
			}
			for _, w := range c.not {
				if strings.Contains(f.Explanation, w) {
					t.Errorf("explanation has %q:\n%s", w, f.Explanation)
				}
			}
		})
	}
}
