package jobs

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/fixture"
)

var fixtureNow = time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC)

func cronFixture(t *testing.T) string {
	root := t.TempDir()
	fixture.Write(t, root, map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
		"etc/crontab": `SHELL=/bin/sh
PATH=/usr/local/bin:/usr/bin:/bin
17 *	* * *	root	cd / && run-parts --report /etc/cron.hourly
25 6	* * *	root	test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }
`,
		"etc/cron.d/batch": `MAILTO=""
*/10 * * * * root /usr/bin/python3 /opt/app/batch_process.py >> /var/log/batch.log 2>&1
0 * * * * nobody-here /usr/bin/env
`,
		"etc/cron.d/backup.sh":          "0 1 * * * root /usr/local/bin/backup\n",
		"etc/cron.d/wiki":               "5 * * * * root cd /srv/wiki && python3 scripts/wiki_content_publisher.py --count 100\n61 * * * * root bad\n",
		"etc/cron.hourly/rotate@":       "#!/bin/sh\n",
		"etc/cron.hourly/not-exec":      "#!/bin/sh\n",
		"etc/cron.hourly/skip.sh@":      "#!/bin/sh\n",
		"etc/cron.daily/.placeholder":   "",
		"var/spool/cron/crontabs/alice": "@daily $HOME/bin/report\n@reboot /home/alice/bin/warm\n",
		"home/alice/bin/report@":        "#!/bin/sh\n",
		"usr/bin/python3@":              "",
		"usr/bin/env@":                  "",
		"bin/run-parts@":                "",
		"usr/sbin/cron@":                "",
		"usr/bin/test@":                 "",
		"opt/app/batch_process.py":      "print('hi')\n",
		"usr/sbin/sendmail":             "-> /usr/lib/sm.bin/sendmail",
		"usr/lib/sm.bin/sendmail@":      "",
		"etc/anacrontab":                "1 5 cron.daily run-parts --report /etc/cron.daily\n",
		"var/spool/anacron/cron.daily":  "20261120\n",
		"var/log/syslog": `Nov 21 02:50:01 web1 CRON[811]: (root) CMD (/usr/bin/python3 /opt/app/batch_process.py >> /var/log/batch.log 2>&1)
2026-11-21T02:17:01.123456+00:00 web1 CRON[900]: (root) CMD (cd / && run-parts --report /etc/cron.hourly)
Nov 20 00:00:01 web1 CRON[12]: (alice) CMD ($HOME/bin/report)
Nov 20 00:00:02 web1 CRON[13]: (alice) CMDEND ($HOME/bin/report)
`,
	})
	return root
}

func TestCronFixture(t *testing.T) {
	root := cronFixture(t)
	c := &CronCollector{Now: func() time.Time { return fixtureNow }, Journal: func(context.Context, rootFS) ([]logRun, error) { return nil, nil }}
	sec, err := c.Collect(context.Background(), &agent.Env{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	cr := sec.(*snapshot.Cron)
	if cr.Daemon != snapshot.DaemonUnknown || cr.MTA != "/usr/sbin/sendmail" {
		t.Errorf("daemon %q, MTA %q", cr.Daemon, cr.MTA)
	}
	if cr.Flavour != snapshot.CronDebian || cr.FlavourReason != "/usr/sbin/cron is installed; neither cron.service nor crond.service is" {
		t.Errorf("flavour %q: %s", cr.Flavour, cr.FlavourReason)
	}
	jobs := map[string]snapshot.CronJob{}
	for _, j := range cr.Jobs {
		jobs[j.Where()] = j
	}
	batch := jobs["/etc/cron.d/batch:2"]
	if batch.Output.MailTo != "" || len(batch.Output.ToCron) != 0 || batch.Output.Files[0] != "/var/log/batch.log" {
		t.Errorf("batch output %+v", batch.Output)
	}
	if len(batch.Programs) != 2 || !batch.Programs[1].Exists || !batch.Programs[1].Executable || !batch.Programs[1].Script {
		t.Errorf("batch programs %+v", batch.Programs)
	}
	if batch.LastRun == nil || batch.LastRun.Format(time.DateTime) != "2026-11-21 02:50:01" || batch.LastRunSource != "syslog" {
		t.Errorf("batch last run %v %s", batch.LastRun, batch.LastRunSource)
	}
	if batch.PrevDue.Format(time.DateTime) != "2026-11-21 03:00:00" || batch.NextDue.Format(time.DateTime) != "2026-11-21 03:10:00" || batch.PeriodSeconds != 600 {
		t.Errorf("batch due %v %v %d", batch.PrevDue, batch.NextDue, batch.PeriodSeconds)
	}
	if j := jobs["/etc/cron.d/batch:3"]; !strings.Contains(j.Error, "nobody-here") {
		t.Errorf("unknown user: %+v", j)
	}
	wiki := jobs["/etc/cron.d/wiki:1"]
	if p := wiki.Programs[1]; p.Exists || p.Problem != "/srv/wiki/scripts/wiki_content_publisher.py does not exist" {
		t.Errorf("wiki script %+v", p)
	}
	if p := wiki.Programs[0]; p.Path != "/usr/bin/python3" {
		t.Errorf("python3 through PATH: %+v", p)
	}
	report := jobs["/var/spool/cron/crontabs/alice:1"]
	if report.User != "alice" || report.Programs[0].Path != "/home/alice/bin/report" || report.LastRun == nil || report.Output.MailTo != "alice" {
		t.Errorf("alice's report %+v", report)
	}
	if !jobs["/var/spool/cron/crontabs/alice:2"].Reboot {
		t.Error("@reboot")
	}
	rotate := jobs["/etc/cron.hourly/rotate"]
	if rotate.Trigger != "/etc/crontab:3" || rotate.LastRun == nil || rotate.Schedule != "17 * * * *" {
		t.Errorf("run-parts script %+v", rotate)
	}
	if p := jobs["/etc/cron.hourly/not-exec"].Programs[0]; p.Executable || !strings.Contains(p.Problem, "not executable (mode 0644)") {
		t.Errorf("not-exec %+v", p)
	}
	anacron := jobs["/etc/anacrontab:1"]
	if anacron.LastRun == nil || anacron.LastRun.Format(time.DateOnly) != "2026-11-20" || anacron.PeriodSeconds != 86400 {
		t.Errorf("anacron %+v", anacron)
	}
	if jobs["/etc/cron.daily/.placeholder"].File != "" {
		t.Error(".placeholder listed")
	}
	var ignored []string
	for _, i := range cr.Ignored {
		ignored = append(ignored, i.Path)
	}
	if strings.Join(ignored, ",") != "/etc/cron.d/backup.sh,/etc/cron.hourly/skip.sh" {
		t.Errorf("ignored %v", ignored)
	}
	if len(cr.Errors) != 1 || cr.Errors[0].Path != "/etc/cron.d/wiki" || cr.Errors[0].Line != 2 {
		t.Errorf("errors %+v", cr.Errors)
	}
	if len(cr.LogSources) != 1 || cr.LogSources[0] != "syslog" {
		t.Errorf("log sources %v", cr.LogSources)
	}
}

func TestCronEmptyRoot(t *testing.T) {
	c := &CronCollector{Journal: func(context.Context, rootFS) ([]logRun, error) { return nil, nil }}
	sec, err := c.Collect(context.Background(), &agent.Env{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if cr := sec.(*snapshot.Cron); len(cr.Jobs) != 0 || len(cr.Errors) != 0 || cr.MTA != "" {
		t.Errorf("%+v", cr)
	}
}

func TestJournalJSON(t *testing.T) {
	runs := parseJournalJSON([]byte(`{"__REALTIME_TIMESTAMP":"1794798600000000","MESSAGE":"(root) CMD (/opt/x (with parens))"}
{"__REALTIME_TIMESTAMP":"1794798600000001","MESSAGE":[40,114,111,111,116,41,32,67,77,68,32,40,47,111,112,116,47,121,41]}
{"__REALTIME_TIMESTAMP":"1794798600000002","MESSAGE":"pam_unix(cron:session): session opened for user root"}
`))
	if len(runs) != 2 || runs[0].command != "/opt/x (with parens)" || runs[1].command != "/opt/y" || runs[0].user != "root" {
		t.Errorf("%+v", runs)
	}
}

func TestTimersOffline(t *testing.T) {
	root := t.TempDir()
	fixture.Write(t, root, map[string]string{
		"lib/systemd/system/backup.timer":                     "[Unit]\nDescription=b\n[Timer]\nOnCalendar=daily\nPersistent=true\n[Install]\nWantedBy=timers.target\n",
		"lib/systemd/system/backup.service":                   "[Service]\nType=oneshot\nExecStart=/usr/local/bin/backup --all\n",
		"etc/systemd/system/backup.timer.d/override.conf":     "[Timer]\nOnCalendar=\nOnCalendar=*-*-* 02:30\n",
		"etc/systemd/system/timers.target.wants/backup.timer": "-> /lib/systemd/system/backup.timer",
		"usr/local/bin/backup@":                               "",
		"etc/systemd/system/report.timer":                     "[Timer]\nOnBootSec=15min\nOnUnitActiveSec=1h\nUnit=reporter.service\n[Install]\nWantedBy=timers.target\n",
		"etc/systemd/system/reporter.service":                 "[Service]\nExecStart=-/bin/sh -c '/opt/report/run \\\n  --fast'\n",
		"bin/sh@":                                             "",
		"lib/systemd/system/static.timer":                     "[Timer]\nOnCalendar=weekly\n",
		"etc/systemd/system/masked.timer":                     "-> /dev/null",
		"var/lib/systemd/timers/stamp-backup.timer":           "",
	})
	stamp := time.Date(2026, 11, 20, 2, 30, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(root, "var/lib/systemd/timers/stamp-backup.timer"), stamp, stamp); err != nil {
		t.Fatal(err)
	}
	c := &TimersCollector{Now: func() time.Time { return fixtureNow }}
	sec, err := c.Collect(context.Background(), &agent.Env{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	tm := sec.(*snapshot.Timers)
	if tm.Source != snapshot.TimersFiles || tm.Offline != snapshot.TimersOtherRoot || len(tm.Timers) != 4 {
		t.Fatalf("%+v", tm)
	}
	byUnit := map[string]snapshot.Timer{}
	for _, x := range tm.Timers {
		byUnit[x.Unit] = x
	}
	b := byUnit["backup.timer"]
	if b.Enabled != "enabled" || len(b.Calendar) != 1 || b.Calendar[0] != "*-*-* 02:30" || !b.Persistent || len(b.DropIns) != 1 {
		t.Errorf("backup %+v", b)
	}
	if b.LastTrigger == nil || !b.LastTrigger.Equal(stamp) || b.NextElapse == nil || b.NextElapse.Format(time.DateTime) != "2026-11-22 02:30:00" {
		t.Errorf("backup times %v %v", b.LastTrigger, b.NextElapse)
	}
	if len(b.Programs) != 1 || !b.Programs[0].Executable {
		t.Errorf("backup programs %+v", b.Programs)
	}
	r := byUnit["report.timer"]
	if r.Service != "reporter.service" || r.LastTriggerKnown || strings.Join(r.Monotonic, ",") != "OnBootSec=15min,OnUnitActiveSec=1h" {
		t.Errorf("report %+v", r)
	}
	if len(r.Programs) != 2 || r.Programs[1].Word != "/opt/report/run" || r.Programs[1].Exists {
		t.Errorf("report programs %+v", r.Programs)
	}
	if byUnit["static.timer"].Enabled != "static" || byUnit["masked.timer"].Enabled != "masked" {
		t.Errorf("static %q masked %q", byUnit["static.timer"].Enabled, byUnit["masked.timer"].Enabled)
	}
}

func TestObjects(t *testing.T) {
	last := fixtureNow
	j := &snapshot.Jobs{
		Cron: &snapshot.Cron{Jobs: []snapshot.CronJob{{File: "/etc/cron.d/batch", Line: 2, Schedule: "*/10 * * * *", User: "root", Command: "/opt/x",
			Programs: []snapshot.Program{{Word: "/opt/x"}}, Output: snapshot.JobOutput{ToCron: []string{"stderr"}, MailTo: "root"}, LastRun: &last, PrevDue: &last}}},
		Timers: &snapshot.Timers{Timers: []snapshot.Timer{{Unit: "backup.timer", File: "/etc/systemd/system/backup.timer", Enabled: "enabled",
			Calendar: []string{"daily"}, Service: "backup.service", LastTrigger: &last, NextElapse: &last, Result: "success"}}},
	}
	objs := j.Objects()
	if len(objs) != 2 {
		t.Fatalf("%+v", objs)
	}
	c := objs[0]
	if c.Area != "cron" || c.Kind != "cron" || c.ID != "/etc/cron.d/batch: /opt/x" || c.Fields["programs"] != "/opt/x (missing)" || c.Fields["output"] != "stderr: mail to root" {
		t.Errorf("cron object %+v", c)
	}
	tm := objs[1]
	if tm.Kind != "timer" || tm.ID != "backup.timer" || tm.Fields["calendar"] != "daily" {
		t.Errorf("timer object %+v", tm)
	}
	// Noise stays out: a later run with new times and a new line number is the same object.
	later := fixtureNow.Add(time.Hour)
	j.Cron.Jobs[0].LastRun, j.Cron.Jobs[0].Line = &later, 5
	j.Timers.Timers[0].LastTrigger, j.Timers.Timers[0].Result = &later, "exit-code"
	again := j.Objects()
	for i := range objs {
		if again[i].ID != objs[i].ID || len(again[i].Fields) != len(objs[i].Fields) {
			t.Errorf("object changed with noise: %+v vs %+v", again[i], objs[i])
		}
		for k, v := range objs[i].Fields {
			if again[i].Fields[k] != v {
				t.Errorf("%s field %s changed with noise: %q vs %q", objs[i].ID, k, v, again[i].Fields[k])
			}
		}
	}
}

// Commands reach snapshots and reports with their secrets redacted.
func TestCronCommandsAreRedacted(t *testing.T) {
	root := t.TempDir()
	fixture.Write(t, root, map[string]string{
		"etc/cron.d/secrets": "0 3 * * * root mysqldump --password=s3cretpw db > /var/backups/db.sql\n" +
			"5 3 * * * root curl -fsS https://admin:hunter2@backup.example.test/upload\n" +
			"10 3 * * * root API_TOKEN=tok_abcdef0123456789 /usr/local/bin/push\n",
	})
	c := &CronCollector{Now: func() time.Time { return fixtureNow }, Journal: func(context.Context, rootFS) ([]logRun, error) { return nil, nil }}
	sec, err := c.Collect(context.Background(), &agent.Env{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(sec)
	for _, secret := range []string{"s3cretpw", "hunter2", "tok_abcdef0123456789"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("the cron section holds the secret %q:\n%s", secret, b)
		}
	}
	if jobs := sec.(*snapshot.Cron).Jobs; len(jobs) != 3 || !strings.Contains(jobs[0].Command, "mysqldump") {
		t.Errorf("jobs = %+v, want the three, commands kept apart from their secrets", jobs)
	}
}

// A 200 MB crontab is refused with a clear error, not read into memory;
// the other tables are still read.
func TestHugeCrontabIsRefused(t *testing.T) {
	root := t.TempDir()
	fixture.Write(t, root, map[string]string{"etc/cron.d/small": "0 3 * * * root /bin/true\n"})
	f, err := os.Create(filepath.Join(root, "etc/cron.d/huge"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(200 << 20); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	f.Close()
	c := &CronCollector{Now: func() time.Time { return fixtureNow }, Journal: func(context.Context, rootFS) ([]logRun, error) { return nil, nil }}
	sec, _ := c.Collect(context.Background(), &agent.Env{Root: root})
	cr := sec.(*snapshot.Cron)
	found := false
	for _, e := range cr.Errors {
		if strings.HasSuffix(e.Path, "huge") && strings.Contains(e.Error, "larger than 16 MB") {
			found = true
		}
	}
	if !found || len(cr.Jobs) != 1 {
		t.Errorf("errors %+v, %d jobs; want the huge file refused and the small one read", cr.Errors, len(cr.Jobs))
	}
}
