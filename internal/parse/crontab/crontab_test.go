package crontab

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

var at = time.Date(2026, 11, 12, 3, 10, 30, 0, time.UTC) // a Thursday

func TestParseSystemTable(t *testing.T) {
	tab, err := Parse(strings.NewReader(`# /etc/crontab
SHELL=/bin/sh
PATH = "/usr/local/bin:/usr/bin:/bin"
MAILTO=""

*/10 * * * *   root  /opt/app/batch.py > /var/log/batch.log 2>&1
0 3 * * mon-fri backup /usr/local/bin/backup --all
@daily root /usr/bin/true
@reboot root /usr/local/bin/warm-cache
CRON_TZ=Europe/Paris
30 2 1,15 * 5 root /usr/bin/report % line1%line2
5 4 * * sun root echo 100\% done
* * * * root missing-user-field
61 * * * * root bad-minute
@fortnightly root nope
`), Options{System: true, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Entries) != 6 {
		t.Fatalf("%d entries: %+v", len(tab.Entries), tab.Entries)
	}
	e := tab.Entries[0]
	if e.Line != 6 || e.User != "root" || e.Command != "/opt/app/batch.py > /var/log/batch.log 2>&1" || e.Schedule != "*/10 * * * *" {
		t.Errorf("entry 0: %+v", e)
	}
	if e.Env["PATH"] != "/usr/local/bin:/usr/bin:/bin" || e.Env["MAILTO"] != "" || e.Env["SHELL"] != "/bin/sh" {
		t.Errorf("env: %v", e.Env)
	}
	if _, ok := e.Env["MAILTO"]; !ok {
		t.Error("MAILTO=\"\" must be recorded as set and empty")
	}
	next, _ := e.Spec.Next(at)
	if next != time.Date(2026, 11, 12, 3, 20, 0, 0, time.UTC) {
		t.Errorf("next %v", next)
	}
	if p := e.Spec.Period(at); p != 10*time.Minute {
		t.Errorf("period %v", p)
	}
	if prev, _ := tab.Entries[1].Spec.Prev(at); prev != time.Date(2026, 11, 12, 3, 0, 0, 0, time.UTC) {
		t.Errorf("mon-fri prev %v", prev)
	}
	if !tab.Entries[3].Reboot {
		t.Error("@reboot")
	}
	r := tab.Entries[4]
	if r.Command != "/usr/bin/report" || r.Stdin != " line1\nline2" || r.Spec.Location.String() != "Europe/Paris" {
		t.Errorf("report: %+v", r)
	}
	// 1,15 and Friday: either matches (cron's rule when both are restricted).
	if next, _ := r.Spec.Next(at); next.Format(time.DateTime) != "2026-11-13 02:30:00" {
		t.Errorf("report next %v", next)
	}
	if tab.Entries[5].Command != "echo 100% done" {
		t.Errorf("escaped percent: %q", tab.Entries[5].Command)
	}
	if len(tab.Errors) != 3 || tab.Errors[0].Line != 13 || tab.Errors[2].Line != 15 {
		t.Errorf("errors %+v", tab.Errors)
	}
}

func TestParseUserTable(t *testing.T) {
	tab, err := Parse(strings.NewReader("MAILTO=ops@example.com\n0 0 1 jan,jul * /home/alice/bin/half-yearly\n"), Options{Owner: "alice", Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	e := tab.Entries[0]
	if e.User != "alice" || e.Command != "/home/alice/bin/half-yearly" || e.Env["MAILTO"] != "ops@example.com" {
		t.Errorf("%+v", e)
	}
	if next, _ := e.Spec.Next(at); next.Format(time.DateTime) != "2027-01-01 00:00:00" {
		t.Errorf("next %v", next)
	}
}

func TestScheduleFields(t *testing.T) {
	for _, c := range []struct{ fields, next string }{
		{"0 */6 * * *", "2026-11-12 06:00:00"},
		{"15 1-5/2 * * *", "2026-11-12 03:15:00"},
		{"0 0 * * 7", "2026-11-15 00:00:00"},
		{"0 0 * * sat,sun", "2026-11-14 00:00:00"},
		{"0 12 * dec *", "2026-12-01 12:00:00"},
		{"5/20 * * * *", "2026-11-12 03:25:00"},
		{"0 0 31 2 *", ""},
	} {
		spec, err := ParseSchedule(c.fields, time.UTC)
		if err != nil {
			t.Errorf("%q: %v", c.fields, err)
			continue
		}
		next, ok := spec.Next(at)
		got := ""
		if ok {
			got = next.Format(time.DateTime)
		}
		if got != c.next {
			t.Errorf("%q: next %q, want %q", c.fields, got, c.next)
		}
	}
	for _, bad := range []string{"* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "5-1 * * * *", "*/0 * * * *", "* * * foo *"} {
		if _, err := ParseSchedule(bad, time.UTC); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestAnacrontab(t *testing.T) {
	tab, err := ParseAnacrontab(strings.NewReader(`SHELL=/bin/sh
HOME=/root
1	5	cron.daily	run-parts --report /etc/cron.daily
7	10	cron.weekly	run-parts --report /etc/cron.weekly
@monthly	15	cron.monthly	run-parts --report /etc/cron.monthly
x 5 bad cmd
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Jobs) != 3 || tab.Jobs[2].Days != 30 || tab.Jobs[1].ID != "cron.weekly" || tab.Jobs[0].Command != "run-parts --report /etc/cron.daily" || tab.Jobs[0].Env["HOME"] != "/root" {
		t.Errorf("%+v", tab.Jobs)
	}
	if len(tab.Errors) != 1 || tab.Errors[0].Line != 6 {
		t.Errorf("%+v", tab.Errors)
	}
}

func TestRunPartsName(t *testing.T) {
	for name, ok := range map[string]bool{"logrotate": true, "0anacron": true, "man-db": true, "my_job": true,
		"backup.sh": false, "php.dpkg-old": false, ".placeholder": false, "job~": false, "": false} {
		if RunPartsName(name) != ok {
			t.Errorf("%q: %v", name, !ok)
		}
	}
}

func TestAnalyze(t *testing.T) {
	for _, c := range []struct {
		cmd      string
		programs []Program
		toCron   []string
		files    []string
	}{
		{"/opt/app/batch.py > /var/log/batch.log 2>&1", []Program{{Word: "/opt/app/batch.py"}}, nil, []string{"/var/log/batch.log"}},
		{"/opt/app/batch.py", []Program{{Word: "/opt/app/batch.py"}}, []string{"stdout", "stderr"}, nil},
		{"/opt/x >/dev/null", []Program{{Word: "/opt/x"}}, []string{"stderr"}, nil},
		{"/opt/x >/dev/null 2>&1", []Program{{Word: "/opt/x"}}, nil, nil},
		{"/opt/x 2>&1 >/dev/null", []Program{{Word: "/opt/x"}}, []string{"stderr"}, nil},
		{"/opt/x &> /tmp/x.log", []Program{{Word: "/opt/x"}}, nil, []string{"/tmp/x.log"}},
		{"/opt/x 2>&1 | logger -t x", []Program{{Word: "/opt/x"}, {Word: "logger"}}, []string{"stdout", "stderr"}, nil},
		{"/usr/bin/python3 /opt/app/batch_process.py --fast", []Program{{Word: "/usr/bin/python3"}, {Word: "/opt/app/batch_process.py", Script: true}}, []string{"stdout", "stderr"}, nil},
		{"python3 -u ~/jobs/sync.py", []Program{{Word: "python3"}, {Word: "/home/alice/jobs/sync.py", Script: true}}, []string{"stdout", "stderr"}, nil},
		{"python3 -m http.server", []Program{{Word: "python3"}}, []string{"stdout", "stderr"}, nil},
		{"cd / && run-parts --report /etc/cron.hourly", []Program{{Word: "run-parts", Dir: "/"}}, []string{"stdout", "stderr"}, nil},
		{"test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )", []Program{{Word: "run-parts", Dir: "/"}}, []string{"stdout", "stderr"}, nil},
		{"[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi", []Program{{Word: "/usr/lib/php/sessionclean", Guarded: true}}, []string{"stdout", "stderr"}, nil},
		{"command -v debian-sa1 > /dev/null && debian-sa1 1 1", []Program{{Word: "debian-sa1", Guarded: true}}, []string{"stdout", "stderr"}, nil},
		{"SERVICE_MODE=1 /usr/lib/e2scrub_all_cron", []Program{{Word: "/usr/lib/e2scrub_all_cron"}}, []string{"stdout", "stderr"}, nil},
		{"$HOME/bin/x; ${HOME}/bin/y", []Program{{Word: "/home/alice/bin/x"}, {Word: "/home/alice/bin/y"}}, []string{"stdout", "stderr"}, nil},
		{"$APP/bin/x >/dev/null 2>&1", []Program{{Word: "$APP/bin/x", Unresolved: true}}, nil, nil},
		{"cd /srv/app && ./run.sh >> log/run.log 2>&1", []Program{{Word: "./run.sh", Dir: "/srv/app"}}, nil, []string{"log/run.log"}},
		{"sh -c 'cd /srv && ./go.sh' > /dev/null 2>&1", []Program{{Word: "sh"}, {Word: "./go.sh", Dir: "/srv"}}, nil, nil},
		{"{ /opt/a; /opt/b; } >/var/log/ab.log 2>&1", []Program{{Word: "/opt/a"}, {Word: "/opt/b"}}, nil, []string{"/var/log/ab.log"}},
		{"exec nice -n 10 /opt/heavy 2>/dev/null", []Program{{Word: "/opt/heavy"}}, []string{"stdout"}, nil},
		{"/usr/bin/python3  ", []Program{{Word: "/usr/bin/python3"}}, []string{"stdout", "stderr"}, nil},
		{"echo \"it's $(date)\" >> '/var/log/with space.log'", nil, []string{"stderr"}, []string{"/var/log/with space.log"}},
		{". /etc/profile; /opt/x # comment > nothing", []Program{{Word: "/etc/profile", Script: true}, {Word: "/opt/x"}}, []string{"stdout", "stderr"}, nil},
	} {
		got := Analyze(c.cmd, "/home/alice")
		if !reflect.DeepEqual(got.Programs, c.programs) || !reflect.DeepEqual(got.ToCron, c.toCron) || !reflect.DeepEqual(got.Files, c.files) {
			t.Errorf("%s:\n got  %+v %q %q\n want %+v %q %q", c.cmd, got.Programs, got.ToCron, got.Files, c.programs, c.toCron, c.files)
		}
	}
}
