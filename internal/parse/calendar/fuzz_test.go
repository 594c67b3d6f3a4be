package calendar

import (
	"testing"
	"time"
)

// FuzzParseOnCalendar: any OnCalendar= expression parses or is refused with
// an error; a parsed one's next elapse is never before the time asked.
func FuzzParseOnCalendar(f *testing.F) {
	for _, s := range []string{"daily", "weekly", "Mon..Fri *-*-* 02:30:00", "*-*-01 00:00:00", "Sat,Sun 10:00",
		"*:0/15", "2026-12-24 18:00 Europe/Berlin", "*-02-29 12:00", "hourly", "minutely", "quarterly", "*-*~03"} {
		f.Add(s)
	}
	from := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, expr string) {
		spec, err := ParseOnCalendar(expr, time.UTC)
		if err != nil {
			return
		}
		if next, ok := spec.Next(from); ok && next.Before(from) {
			t.Errorf("%q: next elapse %s is before %s", expr, next, from)
		}
	})
}
