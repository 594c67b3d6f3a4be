package rules_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/policies"
)

var jobsNow = time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC)

func at(s string) *time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return &t
}

func ok(word string) snapshot.Program {
	return snapshot.Program{Word: word, Path: word, Exists: true, Executable: true}
}

// jobsSnapshot: a batch job that stopped eight days ago, a job whose script
// is gone, a job mailing its output, and timers: one fine, one failing, one
// never started, one whose service runs a missing program.
func jobsSnapshot(t *testing.T, mta, daemon string) *snapshot.Snapshot {
	t.Helper()
	s := &snapshot.Snapshot{
		Schema: snapshot.Schema, TakenAt: jobsNow,
		Collectors: []snapshot.CollectorStatus{{Name: "cron", Status: snapshot.StatusOK}, {Name: "timers", Status: snapshot.StatusOK}, {Name: "files", Status: snapshot.StatusOK}},
		Jobs: &snapshot.Jobs{
			Cron: &snapshot.Cron{Daemon: daemon, MTA: mta, LogSources: []string{"journal"}, Ignored: []snapshot.IgnoredFile{}, Errors: []snapshot.FileError{},
				Jobs: []snapshot.CronJob{
					{File: "/etc/cron.d/batch", Line: 3, Kind: snapshot.CronSystem, Schedule: "*/10 * * * *", User: "root",
						Command: "/usr/bin/python3 /opt/app/batch_process.py >> /var/log/batch.log 2>&1", PeriodSeconds: 600,
						Programs: []snapshot.Program{ok("/usr/bin/python3"), {Word: "/opt/app/batch_process.py", Script: true, Exists: true, Executable: true}},
						Output:   snapshot.JobOutput{ToCron: []string{}, Files: []string{"/var/log/batch.log"}, MailTo: "root"},
						LastRun:  at("2026-11-12 03:10"), LastRunSource: "journal"},
					{File: "/etc/cron.d/wiki", Line: 2, Kind: snapshot.CronSystem, Schedule: "0 * * * *", User: "www-data",
						Command: "python3 scripts/wiki_content_publisher.py --count 100 >/dev/null 2>&1", PeriodSeconds: 3600,
						Programs: []snapshot.Program{ok("python3"), {Word: "scripts/wiki_content_publisher.py", Script: true, Problem: "/var/www/scripts/wiki_content_publisher.py does not exist"}},
						Output:   snapshot.JobOutput{ToCron: []string{}, MailTo: "www-data"}},
					{File: "/var/spool/cron/crontabs/alice", Line: 4, Kind: snapshot.CronUser, Schedule: "@daily", User: "alice",
						Command: "/home/alice/bin/report", PeriodSeconds: 86400, Programs: []snapshot.Program{ok("/home/alice/bin/report")},
						Output: snapshot.JobOutput{ToCron: []string{"stdout", "stderr"}, MailTo: "alice"}, LastRun: at("2026-11-20 00:00"), LastRunSource: "syslog"},
					{File: "/etc/cron.d/quiet", Line: 1, Kind: snapshot.CronSystem, Schedule: "@hourly", User: "root", Command: "/usr/bin/true",
						Programs: []snapshot.Program{ok("/usr/bin/true")}, Output: snapshot.JobOutput{ToCron: []string{"stdout", "stderr"}, MailTo: ""}},
				}},
			Timers: &snapshot.Timers{Source: snapshot.TimersDBus, Errors: []snapshot.FileError{}, Timers: []snapshot.Timer{
				{Unit: "backup.timer", File: "/etc/systemd/system/backup.timer", Enabled: "enabled", Active: "active", Calendar: []string{"*-*-* 02:00:00"},
					PeriodSeconds: 86400, LastTrigger: at("2026-11-21 02:00"), LastTriggerKnown: true, Service: "backup.service",
					ServiceFile: "/etc/systemd/system/backup.service", Result: "success", ExitedAt: at("2026-11-21 02:03"), Programs: []snapshot.Program{ok("/usr/local/bin/backup")}},
				{Unit: "report.timer", File: "/etc/systemd/system/report.timer", Enabled: "enabled", Active: "active", Calendar: []string{"*-*-* *:00/10:00"},
					PeriodSeconds: 600, LastTrigger: at("2026-11-21 02:50"), LastTriggerKnown: true, Service: "report.service",
					ServiceFile: "/etc/systemd/system/report.service", Result: "exit-code", ExitStatus: 1, ExitedAt: at("2026-11-21 02:50"), Programs: []snapshot.Program{ok("/usr/local/bin/report")}},
				{Unit: "sync.timer", File: "/etc/systemd/system/sync.timer", Enabled: "enabled", Active: "inactive", Calendar: []string{"hourly"},
					PeriodSeconds: 3600, LastTriggerKnown: true, DueSince: at("2026-11-20 18:01"), Service: "sync.service",
					ServiceFile: "/etc/systemd/system/sync.service", Programs: []snapshot.Program{ok("/usr/local/bin/sync")}},
				{Unit: "gone.timer", File: "/etc/systemd/system/gone.timer", Enabled: "enabled", Active: "active", Monotonic: []string{"OnUnitActiveSec=1h"},
					LastTrigger: at("2026-11-21 02:30"), LastTriggerKnown: true, Service: "gone.service", ServiceFile: "/etc/systemd/system/gone.service",
					Result: "exit-code", ExitStatus: 203, ExitedAt: at("2026-11-21 02:30"),
					Programs: []snapshot.Program{{Word: "/opt/gone/run", Problem: "/opt/gone/run does not exist"}}},
			}},
		},
		Files: &snapshot.Files{Files: []snapshot.FileState{
			{Path: "/var/reports/weekly.csv", Exists: true, ModTime: at("2026-11-10 06:00"), Size: 1234},
		}},
	}
	return saved(t, s)
}

func TestJobChecks(t *testing.T) {
	s := jobsSnapshot(t, "", snapshot.DaemonRunning)
	for _, c := range []struct {
		name, src string
		status    finding.Status
		want      []string
	}{
		{"stopped batch job", `cron "batch" {
  command = "batch_process.py"
  user    = "root"
  max_age = "25h"
}`, finding.Fail, []string{"/etc/cron.d/batch:3", "last run 2026-11-12 03:10 UTC per journal; due every 10m; 8d 23h without a run (max_age 25h)"}},
		{"recent enough", `cron "report" {
  regex   = "bin/report$"
  max_age = "28h"
  require = ["ran"]
}`, finding.Pass, []string{"/var/spool/cron/crontabs/alice:4: last run 2026-11-20 00:00 UTC per syslog, 27h ago"}},
		{"missing script", `cron "wiki" {
  file    = "/etc/cron.d/wiki"
  require = ["program"]
}`, finding.Fail, []string{"/etc/cron.d/wiki:2", "its script scripts/wiki_content_publisher.py: /var/www/scripts/wiki_content_publisher.py does not exist"}},
		{"mail without MTA", `cron "out" {
  require = ["output"]
}`, finding.Fail, []string{"no mail transfer agent", "1 job(s)", "/var/spool/cron/crontabs/alice:4 (stdout+stderr to alice)"}},
		{"no such job", `cron "absent" {
  command = "does-not-exist"
}`, finding.Fail, []string{"no cron job matches (4 jobs"}},
		{"timer ok", `timer "backup" {
  unit        = "backup.timer"
  max_age     = "26h"
  last_result = "success"
}`, finding.Pass, []string{"backup.timer last triggered 2026-11-21 02:00 UTC, 1h ago; backup.service result success"}},
		{"timer failed", `timer "report" {
  unit    = "report"
  require = ["result"]
}`, finding.Fail, []string{"report.timer (/etc/systemd/system/report.timer): report.service last ran 2026-11-21 02:50 UTC and ended with exit-code (status 1)"}},
		{"never triggered", `timer "all" {
  require = ["triggered"]
}`, finding.Fail, []string{"sync.timer (/etc/systemd/system/sync.timer) is enabled (inactive) but never triggered, although it was due by 2026-11-20 18:01 UTC (OnCalendar=hourly)"}},
		{"missing program", `timer "all" {
  require = ["program"]
}`, finding.Fail, []string{"gone.timer (/etc/systemd/system/gone.timer) runs gone.service: its program /opt/gone/run: /opt/gone/run does not exist"}},
		{"stale file", `file "weekly-report" {
  path    = "/var/reports/weekly.csv"
  max_age = "8d"
}`, finding.Fail, []string{"/var/reports/weekly.csv was last modified 2026-11-10 06:00 UTC: 10d 21h ago, more than max_age 8d"}},
		{"file not looked at", `file "other" {
  path = "/var/reports/other.csv"
}`, finding.Error, []string{"was not looked at"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs := evaluate(t, c.src, s, jobsNow)
			if len(fs) != 1 {
				t.Fatalf("%d findings", len(fs))
			}
			f := fs[0]
			if f.Status != c.status {
				t.Errorf("status %s, want %s: %s", f.Status, c.status, f.Explanation)
			}
			for _, w := range c.want {
				if !strings.Contains(f.Explanation, w) {
					t.Errorf("explanation lacks %q:\n%s", w, f.Explanation)
				}
			}
		})
	}
}

func TestCronDaemon(t *testing.T) {
	for daemon, want := range map[string]finding.Status{snapshot.DaemonRunning: finding.Pass, snapshot.DaemonStopped: finding.Fail, snapshot.DaemonUnknown: finding.Error} {
		f := evaluate(t, `cron "d" {
  require = ["daemon"]
}`, jobsSnapshot(t, "/usr/sbin/sendmail", daemon), jobsNow)[0]
		if f.Status != want {
			t.Errorf("daemon %s: %s, want %s (%s)", daemon, f.Status, want, f.Explanation)
		}
	}
}

// TestDefaultPolicyOnPlainHost: a host with neither cron nor systemd (empty
// sections, as the collectors record them) passes every job check.
func TestDefaultPolicyOnPlainHost(t *testing.T) {
	files, err := policies.Default()
	if err != nil {
		t.Fatal(err)
	}
	var src string
	for _, f := range files {
		if strings.HasSuffix(f.Name, "/jobs.hcl") {
			src = string(f.Text)
		}
	}
	s := &snapshot.Snapshot{Schema: snapshot.Schema, TakenAt: jobsNow,
		Collectors: []snapshot.CollectorStatus{{Name: "cron", Status: snapshot.StatusOK}, {Name: "timers", Status: snapshot.StatusOK}},
		Jobs: &snapshot.Jobs{
			Cron:   &snapshot.Cron{Daemon: snapshot.DaemonStopped, Jobs: []snapshot.CronJob{}},
			Timers: &snapshot.Timers{Source: snapshot.TimersFiles, Timers: []snapshot.Timer{}},
		}}
	fs := evaluate(t, src, s, jobsNow)
	if len(fs) < 6 {
		t.Fatalf("%d findings from jobs.hcl", len(fs))
	}
	for _, f := range fs {
		if f.Status != finding.Pass {
			t.Errorf("%s: %s: %s", f.Check, f.Status, f.Explanation)
		}
	}
}

// cronie writes the output of the jobs it runs to syslog when it finds no
// sendmail: such output is not lost, and a host without an MTA passes.
func TestCronOutputToSyslogIsNotLost(t *testing.T) {
	s := jobsSnapshot(t, "", snapshot.DaemonRunning)
	const src = `cron "out" {
  require = ["output"]
}`
	cr := s.Jobs.Cron
	cr.Flavour, cr.SyslogOutput = snapshot.CronCronie, "cronie finds no /usr/sbin/sendmail"
	for i := range cr.Jobs {
		cr.Jobs[i].Output.Syslog = true
	}
	if fs := evaluate(t, src, s, jobsNow); len(fs) != 1 || fs[0].Status != finding.Pass {
		t.Fatalf("output to syslog: %+v", fs)
	}
	cr.Jobs[2].Output.Syslog = false // an anacron job, say: anacron mails
	if fs := evaluate(t, src, s, jobsNow); len(fs) != 1 || fs[0].Status != finding.Fail || !strings.Contains(fs[0].Explanation, "/var/spool/cron/crontabs/alice:4 (stdout+stderr to alice)") {
		t.Fatalf("output to mail: %+v", fs)
	}
}
