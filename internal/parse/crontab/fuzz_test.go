package crontab

import (
	"strings"
	"testing"
	"time"
)

// FuzzParse: any crontab text parses or is refused with an error; a table
// that parses has jobs whose schedules can be asked for their next run.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"*/5 * * * * root /usr/bin/backup >/dev/null 2>&1\n",
		"SHELL=/bin/sh\nPATH=/usr/bin\nMAILTO=\"\"\n@daily root run-parts /etc/cron.daily\n",
		"0 3 * * 1-5,sun  root  test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )\n",
		"CRON_TZ=Europe/Paris\n30 2 * jan,feb mon#2 user cmd % input\\%text\n",
		"@reboot sleep 60 && /opt/start\n",
		"61 25 32 13 8 root nope\n",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, text string, system bool) {
		tab, err := Parse(strings.NewReader(text), Options{System: system, Owner: "alice", Location: time.UTC})
		if err != nil || tab == nil {
			return
		}
		from := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
		for _, e := range tab.Entries {
			if e.Reboot {
				continue
			}
			if next, ok := e.Spec.Next(from); ok && next.Before(from) {
				t.Errorf("line %d: next run %s is before %s", e.Line, next, from)
			}
		}
	})
}

// FuzzParseSchedule: any five schedule fields parse or are refused; a
// parsed schedule's next run is never before the time asked.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"* * * * *", "*/15 0-6/2 1,15 * mon-fri", "0 0 29 2 *", "5 4 * * 7", "0 0 31 2 *"} {
		f.Add(s)
	}
	from := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, fields string) {
		spec, err := ParseSchedule(fields, time.UTC)
		if err != nil {
			return
		}
		if next, ok := spec.Next(from); ok && next.Before(from) {
			t.Errorf("%q: next run %s is before %s", fields, next, from)
		}
	})
}
