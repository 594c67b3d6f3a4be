package jobs

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
	"github.com/hostdrift/hostdrift/internal/testkit/fixture"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
	"github.com/hostdrift/hostdrift/internal/testkit/rpmroot"
)

// cronieHost is a host laid out as cronie and cronie-anacron lay it out
// (their contrib/0hourly, 0anacron and anacrontab), with a root crontab
// in cronie's spool, and no sendmail.
var cronieHost = map[string]string{
	"etc/passwd":                           "root:x:0:0:root:/root:/bin/bash\n",
	"usr/lib/systemd/system/crond.service": "[Service]\nEnvironmentFile=-/etc/sysconfig/crond\nExecStart=/usr/sbin/crond -n $CRONDARGS\n",
	"usr/sbin/crond@":                      "",
	"usr/sbin/anacron@":                    "",
	"usr/bin/run-parts@":                   "",
	"usr/bin/nice@":                        "",
	"usr/bin/find@":                        "",
	"etc/sysconfig/crond":                  "# Settings for the CRON daemon.\nCRONDARGS=\n",
	"etc/crontab":                          "SHELL=/bin/bash\nPATH=/sbin:/bin:/usr/sbin:/usr/bin\nMAILTO=root\n\n# For details see man 4 crontabs\n",
	"etc/cron.d/0hourly":                   "# Run the hourly jobs\nSHELL=/bin/bash\nPATH=/sbin:/bin:/usr/sbin:/usr/bin\nMAILTO=root\n01 * * * * root run-parts /etc/cron.hourly\n",
	"etc/cron.hourly/0anacron@": `#!/bin/sh
# Check whether 0anacron was run today already
if test -r /var/spool/anacron/cron.daily; then
    day=` + "`cat /var/spool/anacron/cron.daily`" + `
fi
if [ ` + "`date +%Y%m%d`" + ` = "$day" ]; then
    exit 0
fi
/usr/sbin/anacron -s
`,
	"etc/anacrontab": `SHELL=/bin/sh
PATH=/sbin:/bin:/usr/sbin:/usr/bin
MAILTO=root
# the maximal random delay added to the base delay of the jobs
RANDOM_DELAY=45
# the jobs will be started during the following hours only
START_HOURS_RANGE=3-22

#period in days   delay in minutes   job-identifier   command
1	5	cron.daily		nice run-parts /etc/cron.daily
7	25	cron.weekly		nice run-parts /etc/cron.weekly
@monthly 45	cron.monthly		nice run-parts /etc/cron.monthly
`,
	"var/spool/anacron/cron.daily":  "20261120\n",
	"var/spool/anacron/cron.weekly": "20261116\n",
	"etc/cron.daily/.placeholder":   "",
	"var/spool/cron/root":           "MAILTO=root\n15 4 * * * /usr/bin/find /var/tmp -mtime +30 -delete\n30 2 * * * /usr/local/bin/backup-db --all\n",
	"var/spool/cron/root.rpmsave":   "0 * * * * /usr/bin/old\n",
	"var/spool/cron/#root#":         "0 * * * * /usr/bin/editing\n",
	"etc/cron.d/sysstat.rpmnew":     "*/10 * * * * root /usr/lib64/sa/sa1 1 1\n",
	"etc/cron.d/raid-check.conf":    "0 1 * * Sun root /usr/sbin/raid-check\n",
	"var/spool/cron/crontabs/alice": "0 * * * * /usr/bin/find /tmp\n",
}

func collectCron(t *testing.T, files map[string]string) *snapshot.Cron {
	t.Helper()
	root := t.TempDir()
	fixture.Write(t, root, files)
	c := &CronCollector{Now: func() time.Time { return fixtureNow }, Journal: func(context.Context, rootFS) ([]logRun, error) { return nil, nil }}
	sec, err := c.Collect(context.Background(), &agent.Env{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	return sec.(*snapshot.Cron)
}

func TestCronieLayout(t *testing.T) {
	cr := collectCron(t, cronieHost)
	if cr.Flavour != snapshot.CronCronie || cr.FlavourReason != "crond.service is installed (/usr/lib/systemd/system/crond.service); cron.service is not" {
		t.Errorf("flavour %q: %s", cr.Flavour, cr.FlavourReason)
	}
	if cr.DaemonProgram != "/usr/sbin/crond" || cr.MTA != "" || !strings.Contains(cr.SyslogOutput, "no /usr/sbin/sendmail") {
		t.Errorf("daemon program %q, MTA %q, syslog output %q", cr.DaemonProgram, cr.MTA, cr.SyslogOutput)
	}
	if cr.Anacron != "/etc/cron.hourly/0anacron, a run-parts script that runs anacron (run-parts run by /etc/cron.d/0hourly:5)" {
		t.Errorf("anacron: %q", cr.Anacron)
	}
	jobs := map[string]snapshot.CronJob{}
	for _, j := range cr.Jobs {
		jobs[j.Where()] = j
	}
	want := []string{"/etc/cron.d/0hourly:5", "/etc/cron.d/raid-check.conf:1", "/var/spool/cron/root:2", "/var/spool/cron/root:3",
		"/etc/anacrontab:10", "/etc/anacrontab:11", "/etc/anacrontab:12", "/etc/cron.hourly/0anacron"}
	if len(jobs) != len(want) {
		t.Errorf("jobs %v, want %v", slices.Sorted(maps.Keys(jobs)), want)
	}
	for _, w := range want {
		if _, ok := jobs[w]; !ok {
			t.Errorf("no job %s", w)
		}
	}
	hourly := jobs["/etc/cron.hourly/0anacron"]
	if hourly.Trigger != "/etc/cron.d/0hourly:5" || hourly.Schedule != "01 * * * *" || !hourly.Output.Syslog || hourly.Inert != "" {
		t.Errorf("0anacron: %+v", hourly)
	}
	if j := jobs["/etc/cron.d/0hourly:5"]; !j.Output.Syslog || j.Inert != "" || len(j.Programs) != 1 || j.Programs[0].Path != "/usr/bin/run-parts" {
		t.Errorf("0hourly: %+v", j)
	}
	daily := jobs["/etc/anacrontab:10"]
	if daily.Anacron == nil || *daily.Anacron != (snapshot.AnacronTiming{ID: "cron.daily", DelayMinutes: 5, RandomDelay: "45", StartHoursRange: "3-22"}) {
		t.Errorf("cron.daily timing %+v", daily.Anacron)
	}
	if daily.Trigger != "/etc/cron.hourly/0anacron" || daily.Output.Syslog || daily.Output.MailTo != "root" || daily.PeriodSeconds != 86400 ||
		daily.LastRun == nil || daily.LastRun.Format(time.DateOnly) != "2026-11-20" || daily.Inert != snapshot.InertNothingToRun {
		t.Errorf("cron.daily: %+v", daily)
	}
	if m := jobs["/etc/anacrontab:12"]; m.Schedule != "@monthly" || m.Anacron.DelayMinutes != 45 || m.LastRun != nil {
		t.Errorf("cron.monthly: %+v", m)
	}
	root := jobs["/var/spool/cron/root:3"]
	if root.Kind != snapshot.CronUser || root.User != "root" || !root.Output.Syslog || len(root.Programs) != 1 ||
		root.Programs[0].Problem != "/usr/local/bin/backup-db does not exist" {
		t.Errorf("root's crontab: %+v", root)
	}
	ignored := map[string]string{}
	for _, i := range cr.Ignored {
		ignored[i.Path] = i.Reason
	}
	for p, why := range map[string]string{
		"/etc/cron.d/sysstat.rpmnew":     "cronie skips files of /etc/cron.d named with",
		"/var/spool/cron/root.rpmsave":   "cronie skips spool files named with",
		"/var/spool/cron/#root#":         "cronie skips spool files named with",
		"/var/spool/cron/crontabs/alice": "cronie reads user crontabs from /var/spool/cron only, never from /var/spool/cron/crontabs (Debian's spool): this file is no job here",
	} {
		if !strings.Contains(ignored[p], why) {
			t.Errorf("ignored %s: %q, want %q", p, ignored[p], why)
		}
	}
	if len(ignored) != 4 {
		t.Errorf("ignored %v", ignored)
	}
}

// Debian's cron never reads cronie's spool: a file there is no job, and
// says so.
func TestDebianCronIgnoresCronieSpool(t *testing.T) {
	files := map[string]string{
		"etc/passwd":                       "root:x:0:0:root:/root:/bin/bash\n",
		"lib/systemd/system/cron.service":  "[Service]\nExecStart=/usr/sbin/cron -f $EXTRA_OPTS\n",
		"usr/sbin/cron@":                   "",
		"etc/cron.d/raid-check.conf":       "0 1 * * Sun root /usr/sbin/raid-check\n",
		"var/spool/cron/root":              "30 2 * * * /usr/local/bin/backup-db --all\n",
		"var/spool/cron/crontabs/root":     "15 4 * * * /bin/true\n",
		"lib/systemd/system/anacron.timer": "[Timer]\nOnCalendar=*-*-* 07..23:30\n",
		"etc/anacrontab":                   "1 5 cron.daily run-parts --report /etc/cron.daily\n",
		"etc/systemd/system/crond.service": "-> /dev/null",
	}
	cr := collectCron(t, files)
	if cr.Flavour != snapshot.CronDebian || cr.FlavourReason != "cron.service is installed (/lib/systemd/system/cron.service); crond.service is masked (/etc/systemd/system/crond.service)" {
		t.Errorf("flavour %q: %s", cr.Flavour, cr.FlavourReason)
	}
	if cr.SyslogOutput != "" || cr.Anacron != "anacron.timer (/lib/systemd/system/anacron.timer)" {
		t.Errorf("syslog output %q, anacron %q", cr.SyslogOutput, cr.Anacron)
	}
	var where []string
	for _, j := range cr.Jobs {
		where = append(where, j.Where())
		if j.Kind == snapshot.CronAnacron && j.Trigger != anacronTimer {
			t.Errorf("%s: trigger %q", j.Where(), j.Trigger)
		}
	}
	if strings.Join(where, ",") != "/var/spool/cron/crontabs/root:1,/etc/anacrontab:1" {
		t.Errorf("jobs %v", where)
	}
	ignored := map[string]string{}
	for _, i := range cr.Ignored {
		ignored[i.Path] = i.Reason
	}
	if !strings.Contains(ignored["/var/spool/cron/root"], "Debian's cron reads user crontabs from /var/spool/cron/crontabs only") ||
		!strings.Contains(ignored["/etc/cron.d/raid-check.conf"], "run-parts names") || len(ignored) != 2 {
		t.Errorf("ignored %v", ignored)
	}
}

func TestDetectCron(t *testing.T) {
	for _, c := range []struct {
		name    string
		files   map[string]string
		flavour string
		why     string
		read    int
	}{
		{"programs only", map[string]string{"sbin/crond@": ""}, snapshot.CronCronie,
			"/sbin/crond is installed; neither crond.service nor cron.service is", 1},
		{"unit wins over program", map[string]string{"usr/sbin/cron@": "", "etc/systemd/system/crond.service": "[Service]\nExecStart=/usr/sbin/cron -f\n"},
			snapshot.CronCronie, "crond.service is installed (/etc/systemd/system/crond.service); cron.service is not", 1},
		{"both units", map[string]string{"lib/systemd/system/cron.service": "[Service]\n", "usr/lib/systemd/system/crond.service": "[Service]\n"},
			"", "cron.service is installed (/lib/systemd/system/cron.service); crond.service is installed (/usr/lib/systemd/system/crond.service): both Debian's cron and cronie are installed, and both layouts are read", 2},
		{"none", map[string]string{"etc/systemd/system/cron.service": "", "usr/sbin/crond": ""}, "",
			"no cron daemon is installed (no cron.service or crond.service unit, no /usr/sbin/cron or /usr/sbin/crond); cron.service is masked (/etc/systemd/system/cron.service): both Debian's and cronie's layouts are read", 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			fixture.Write(t, root, c.files)
			name, why, read := detectCron(newRootFS(hostfs.New(root)))
			if name != c.flavour || why != c.why || len(read) != c.read {
				t.Errorf("%q, %q, %d layouts", name, why, len(read))
			}
		})
	}
}

func TestCrondArgs(t *testing.T) {
	for text, want := range map[string]string{
		"CRONDARGS=":               "",
		"CRONDARGS=\"-s -m off\"":  "-m=off -s=",
		"CRONDARGS=-ns":            "-n= -s=",
		"CRONDARGS='-m/bin/true'":  "-m=/bin/true",
		"# CRONDARGS=-s\nOTHER=-s": "",
	} {
		root := t.TempDir()
		fixture.Write(t, root, map[string]string{"etc/sysconfig/crond": text + "\n"})
		args, err := crondArgs(newRootFS(hostfs.New(root)))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, k := range slices.Sorted(maps.Keys(args)) {
			got = append(got, k+"="+args[k])
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%q: %q, want %q", text, strings.Join(got, " "), want)
		}
	}
}

// The crontabs package's run-parts (a shell script) runs names Debian's
// skips, and honours jobs.deny.
func TestCrontabsRunParts(t *testing.T) {
	files := maps.Clone(cronieHost)
	maps.Copy(files, map[string]string{
		"usr/bin/run-parts@":               "#!/usr/bin/bash\n# run-parts - concept taken from Debian\n",
		"etc/cron.daily/man-db.cron@":      "#!/bin/sh\n/usr/bin/mandb -q\n",
		"etc/cron.daily/logrotate.rpmnew@": "#!/bin/sh\n",
		"etc/cron.daily/denied@":           "#!/bin/sh\n",
		"etc/cron.daily/jobs.deny":         "denied\n",
	})
	cr := collectCron(t, files)
	jobs := map[string]snapshot.CronJob{}
	for _, j := range cr.Jobs {
		jobs[j.Where()] = j
	}
	if j, ok := jobs["/etc/cron.daily/man-db.cron"]; !ok || j.Trigger != "/etc/anacrontab:10" || j.Output.Syslog || j.Output.MailTo != "root" {
		t.Errorf("man-db.cron: %+v", j)
	}
	if j := jobs["/etc/anacrontab:10"]; j.Inert != "" {
		t.Errorf("cron.daily runs man-db.cron, yet is inert: %q", j.Inert)
	}
	ignored := map[string]string{}
	for _, i := range cr.Ignored {
		ignored[i.Path] = i.Reason
	}
	for p, why := range map[string]string{
		"/etc/cron.daily/logrotate.rpmnew": "/usr/bin/run-parts (the crontabs package's run-parts) skips names ending in",
		"/etc/cron.daily/jobs.deny":        "reads jobs.deny as its list of the folder's jobs",
		"/etc/cron.daily/denied":           "listed in /etc/cron.daily/jobs.deny: run-parts never runs it",
	} {
		if !strings.Contains(ignored[p], why) {
			t.Errorf("ignored %s: %q, want %q", p, ignored[p], why)
		}
	}
}

// TestJobsOfRPMPackages reads job files' owners from a real rpm database:
// packages built with rpmbuild that install cronie's and logrotate's cron
// files, recorded with rpm --root --justdb. A crontab in the spool is
// nobody's, and a file no package lists stays unowned.
func TestJobsOfRPMPackages(t *testing.T) {
	nstest.RequireCommand(t, "rpm")
	hourly := cronieHost["etc/cron.d/0hourly"]
	anacron := cronieHost["etc/cron.hourly/0anacron@"]
	built := rpmroot.Build(t,
		rpmroot.Package{Name: "cronie", Version: "1.5.7", Release: "11.el9", Files: map[string]rpmroot.File{"/etc/cron.d/0hourly": {Mode: 0o755, Content: hourly}}},
		rpmroot.Package{Name: "cronie-anacron", Version: "1.5.7", Release: "11.el9", Files: map[string]rpmroot.File{"/etc/cron.hourly/0anacron": {Mode: 0o755, Content: anacron}}},
		rpmroot.Package{Name: "logrotate", Version: "3.18.0", Release: "8.el9", Files: map[string]rpmroot.File{"/etc/cron.daily/logrotate": {Mode: 0o755, Content: "#!/bin/sh\n/usr/sbin/logrotate /etc/logrotate.conf\n"}}},
	)
	root := t.TempDir()
	files := maps.Clone(cronieHost)
	files["etc/cron.daily/logrotate@"] = "#!/bin/sh\n/usr/sbin/logrotate /etc/logrotate.conf\n"
	files["usr/sbin/logrotate@"] = ""
	files["etc/cron.d/local"] = "0 3 * * * root /usr/bin/find /srv -delete\n"
	fixture.Write(t, root, files)
	built.Install(t, root, "", "")
	c := &CronCollector{Now: func() time.Time { return fixtureNow }, Journal: func(context.Context, rootFS) ([]logRun, error) { return nil, nil }}
	sec, err := c.Collect(context.Background(), &agent.Env{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	cr := sec.(*snapshot.Cron)
	if cr.PackageDB != "rpm" || cr.PackageDBError != "" {
		t.Fatalf("package database %q (%s), want rpm", cr.PackageDB, cr.PackageDBError)
	}
	want := map[string]string{
		"/etc/cron.d/0hourly":       "cronie",
		"/etc/cron.hourly/0anacron": "cronie-anacron",
		"/etc/cron.daily/logrotate": "logrotate",
		"/etc/cron.d/local":         "",
		"/var/spool/cron/root":      "",
	}
	seen := map[string]bool{}
	for _, j := range cr.Jobs {
		w, ok := want[j.File]
		if !ok {
			continue
		}
		seen[j.File] = true
		if j.Package != w {
			t.Errorf("%s: package %q, want %q", j.Where(), j.Package, w)
		}
	}
	for f := range want {
		if !seen[f] {
			t.Errorf("no job from %s", f)
		}
	}
	if !slices.ContainsFunc(new(CronCollector).Reads(), func(p agent.Path) bool { return p.Name == "/var/lib/rpm/rpmdb.sqlite" }) {
		t.Error("the collector does not declare rpm's database among what it reads: serve would not see a package installed")
	}
}
