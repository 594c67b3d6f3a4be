// Package calendar is the set of wall-clock times a schedule names (a
// crontab line, a systemd OnCalendar= expression) and the search for the
// next and the previous of them.
package calendar

import (
	"math/bits"
	"time"
)

// Spec is a set of times: every second whose fields are all in the sets.
// A zero set in Spec is not "any": use All* or Range to fill one.
type Spec struct {
	Seconds uint64 // bits 0-59
	Minutes uint64 // bits 0-59
	Hours   uint32 // bits 0-23
	Days    uint32 // bits 1-31, the day of the month
	Months  uint16 // bits 1-12
	// Weekdays holds bits 0-6, Sunday being 0.
	Weekdays uint8
	// DayOr makes a day match when its day of the month or its weekday is in
	// the sets, rather than both: cron's rule when both fields are restricted.
	DayOr bool
	// YearMin and YearMax bound the year; zero is unbounded.
	YearMin, YearMax int
	// Location is the time zone the fields are read in; nil is time.Local.
	Location *time.Location
}

// Sets with every value of a field.
const (
	AllDays     uint32 = (1<<32 - 1) &^ 1
	AllMonths   uint16 = (1<<13 - 1) &^ 1
	AllWeekdays uint8  = 1<<7 - 1
)

// Range returns the set lo..hi stepping by step (step 0 or 1: every value).
func Range(lo, hi, step int) uint64 {
	if step < 1 {
		step = 1
	}
	var s uint64
	for v := lo; v <= hi && v < 64; v += step {
		if v >= 0 {
			s |= 1 << v
		}
	}
	return s
}

// searchLimit bounds a search: a spec that matches nothing (February 30th)
// ends after this many years.
const searchLimit = 8

func (s Spec) loc() *time.Location {
	if s.Location == nil {
		return time.Local
	}
	return s.Location
}

func (s Spec) yearOK(y int) bool {
	return (s.YearMin == 0 || y >= s.YearMin) && (s.YearMax == 0 || y <= s.YearMax)
}

func (s Spec) dayOK(t time.Time) bool {
	dom := s.Days&(1<<t.Day()) != 0
	dow := s.Weekdays&(1<<t.Weekday()) != 0
	if s.DayOr {
		return dom || dow
	}
	return dom && dow
}

// Empty reports whether a field's set is empty, so that nothing can match.
func (s Spec) Empty() bool {
	return s.Seconds == 0 || s.Minutes == 0 || s.Hours == 0 || s.Months == 0 ||
		(s.DayOr && s.Days == 0 && s.Weekdays == 0) || (!s.DayOr && (s.Days == 0 || s.Weekdays == 0))
}

// Next returns the first matching time after t, or false when there is none
// within eight years.
func (s Spec) Next(t time.Time) (time.Time, bool) {
	if s.Empty() {
		return time.Time{}, false
	}
	loc := s.loc()
	t = t.In(loc).Truncate(time.Second).Add(time.Second)
	limit := t.AddDate(searchLimit, 0, 0)
	for t.Before(limit) {
		y, mo, d := t.Date()
		h, mi, sec := t.Clock()
		switch {
		case s.YearMax != 0 && y > s.YearMax:
			return time.Time{}, false
		case !s.yearOK(y):
			t = time.Date(y+1, 1, 1, 0, 0, 0, 0, loc)
		case s.Months&(1<<mo) == 0:
			t = time.Date(y, mo+1, 1, 0, 0, 0, 0, loc)
		case !s.dayOK(t):
			t = time.Date(y, mo, d+1, 0, 0, 0, 0, loc)
		case s.Hours&(1<<h) == 0:
			t = time.Date(y, mo, d, min(nextBit(uint64(s.Hours), h), 24), 0, 0, 0, loc)
		case s.Minutes&(1<<mi) == 0:
			t = time.Date(y, mo, d, h, nextBit(s.Minutes, mi), 0, 0, loc)
		case s.Seconds&(1<<sec) == 0:
			t = t.Add(time.Duration(nextBit(s.Seconds, sec)-sec) * time.Second)
		default:
			return t, true
		}
	}
	return time.Time{}, false
}

// Prev returns the last matching time at or before t, or false when there
// is none within eight years.
func (s Spec) Prev(t time.Time) (time.Time, bool) {
	if s.Empty() {
		return time.Time{}, false
	}
	loc := s.loc()
	t = t.In(loc).Truncate(time.Second)
	limit := t.AddDate(-searchLimit, 0, 0)
	for t.After(limit) {
		y, mo, d := t.Date()
		h, mi, sec := t.Clock()
		switch {
		case s.YearMin != 0 && y < s.YearMin:
			return time.Time{}, false
		case !s.yearOK(y):
			t = time.Date(y, 1, 1, 0, 0, 0, 0, loc).Add(-time.Second)
		case s.Months&(1<<mo) == 0:
			t = time.Date(y, mo, 1, 0, 0, 0, 0, loc).Add(-time.Second)
		case !s.dayOK(t):
			t = time.Date(y, mo, d, 0, 0, 0, 0, loc).Add(-time.Second)
		case s.Hours&(1<<h) == 0:
			t = time.Date(y, mo, d, prevBit(uint64(s.Hours), h)+1, 0, 0, 0, loc).Add(-time.Second)
		case s.Minutes&(1<<mi) == 0:
			t = time.Date(y, mo, d, h, prevBit(s.Minutes, mi)+1, 0, 0, loc).Add(-time.Second)
		case s.Seconds&(1<<sec) == 0:
			t = t.Add(-time.Duration(sec-prevBit(s.Seconds, sec)) * time.Second)
		default:
			return t, true
		}
	}
	return time.Time{}, false
}

// nextBit returns the first set bit above from, or 60 (the next minute).
func nextBit(set uint64, from int) int {
	rest := set >> (from + 1) << (from + 1)
	if rest == 0 {
		return 60
	}
	return min(bits.TrailingZeros64(rest), 60)
}

// prevBit returns the last set bit below from, or -1 (the previous unit).
func prevBit(set uint64, from int) int {
	rest := set & (1<<from - 1)
	if rest == 0 {
		return -1
	}
	return 63 - bits.LeadingZeros64(rest)
}

// Period is the longest gap between two consecutive matches among the next
// few after t: how long a job on this schedule may go without running.
func (s Spec) Period(t time.Time) time.Duration {
	var longest time.Duration
	prev, ok := s.Next(t)
	for i := 0; ok && i < 8; i++ {
		next, more := s.Next(prev)
		if !more {
			break
		}
		longest = max(longest, next.Sub(prev))
		prev = next
	}
	return longest
}
