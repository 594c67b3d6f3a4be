package calendar

import (
	"testing"
	"time"
)

var base = time.Date(2026, 11, 12, 3, 10, 30, 0, time.UTC) // a Thursday

func TestOnCalendarNextPrev(t *testing.T) {
	for _, c := range []struct {
		expr       string
		next, prev string
		period     time.Duration
	}{
		{"daily", "2026-11-13 00:00:00", "2026-11-12 00:00:00", 24 * time.Hour},
		{"hourly", "2026-11-12 04:00:00", "2026-11-12 03:00:00", time.Hour},
		{"minutely", "2026-11-12 03:11:00", "2026-11-12 03:10:00", time.Minute},
		{"weekly", "2026-11-16 00:00:00", "2026-11-09 00:00:00", 7 * 24 * time.Hour},
		{"monthly", "2026-12-01 00:00:00", "2026-11-01 00:00:00", 31 * 24 * time.Hour},
		{"Mon..Fri 09:30", "2026-11-12 09:30:00", "2026-11-11 09:30:00", 3 * 24 * time.Hour},
		{"Sat,Sun *-*-* 04:00:00", "2026-11-14 04:00:00", "2026-11-08 04:00:00", 6 * 24 * time.Hour},
		{"*-*-* *:0/10", "2026-11-12 03:20:00", "2026-11-12 03:10:00", 10 * time.Minute},
		{"*:*:0/15", "2026-11-12 03:10:45", "2026-11-12 03:10:30", 15 * time.Second},
		{"*-02-29 12:00", "2028-02-29 12:00:00", "2024-02-29 12:00:00", 0},
		{"2026-11-20 08:00 UTC", "2026-11-20 08:00:00", "", 0},
		{"11-12 03:10:30", "2027-11-12 03:10:30", "2026-11-12 03:10:30", 0},
		{"*-*-1,15 1..3:00", "2026-11-15 01:00:00", "2026-11-01 03:00:00", 0},
	} {
		spec, err := ParseOnCalendar(c.expr, time.UTC)
		if err != nil {
			t.Errorf("%q: %v", c.expr, err)
			continue
		}
		next, ok := spec.Next(base)
		if got := format(next, ok); got != c.next {
			t.Errorf("%q: next %s, want %s", c.expr, got, c.next)
		}
		prev, ok := spec.Prev(base)
		if got := format(prev, ok); got != c.prev {
			t.Errorf("%q: prev %s, want %s", c.expr, got, c.prev)
		}
		if c.period != 0 {
			if got := spec.Period(base); got != c.period {
				t.Errorf("%q: period %s, want %s", c.expr, got, c.period)
			}
		}
	}
}

func format(t time.Time, ok bool) string {
	if !ok {
		return ""
	}
	return t.Format(time.DateTime)
}

func TestOnCalendarRefuses(t *testing.T) {
	for _, expr := range []string{"", "*-*~01", "Mon 12:00 Europe/Berlin", "*-13-01", "25:00", "Fnday", "*-*-* 1/0:00"} {
		if _, err := ParseOnCalendar(expr, time.UTC); err == nil {
			t.Errorf("%q: no error", expr)
		}
	}
}

func TestNothingMatches(t *testing.T) {
	spec, err := ParseOnCalendar("*-02-30", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := spec.Next(base); ok {
		t.Error("February 30th found")
	}
	if _, ok := spec.Prev(base); ok {
		t.Error("February 30th found")
	}
}
