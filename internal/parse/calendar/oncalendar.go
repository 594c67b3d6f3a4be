package calendar

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// shorthands are systemd.time(7)'s named calendar events.
var shorthands = map[string]string{
	"minutely":     "*-*-* *:*:00",
	"hourly":       "*-*-* *:00:00",
	"daily":        "*-*-* 00:00:00",
	"monthly":      "*-*-01 00:00:00",
	"weekly":       "Mon *-*-* 00:00:00",
	"yearly":       "*-01-01 00:00:00",
	"annually":     "*-01-01 00:00:00",
	"quarterly":    "*-01,04,07,10-01 00:00:00",
	"semiannually": "*-01,07-01 00:00:00",
}

var weekdayNames = map[string]int{
	"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
	"sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6,
}

// ParseOnCalendar reads a systemd calendar event (OnCalendar=): the named
// ones (daily, weekly...) and "[WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]] [UTC]"
// with lists (,), ranges (..) and steps (/). It refuses what it does not
// model rather than guess: "~" (days from the end of the month) and time
// zones other than UTC. loc is the zone when none is written.
func ParseOnCalendar(expr string, loc *time.Location) (Spec, error) {
	s := strings.TrimSpace(expr)
	if sh, ok := shorthands[strings.ToLower(s)]; ok {
		s = sh
	}
	spec := Spec{Weekdays: AllWeekdays, Days: AllDays, Months: AllMonths, Hours: 1, Minutes: 1, Seconds: 1, Location: loc}
	f := strings.Fields(s)
	if len(f) == 0 {
		return Spec{}, fmt.Errorf("empty calendar event")
	}
	if last := f[len(f)-1]; strings.EqualFold(last, "UTC") || strings.EqualFold(last, "Z") {
		spec.Location = time.UTC
		f = f[:len(f)-1]
	}
	if len(f) > 0 && isWeekdays(f[0]) {
		wd, err := parseWeekdays(f[0])
		if err != nil {
			return Spec{}, fmt.Errorf("%q: %w", expr, err)
		}
		spec.Weekdays = wd
		f = f[1:]
	}
	var date, clock string
	switch len(f) {
	case 0:
		date = "*-*-*"
	case 1:
		if strings.Contains(f[0], ":") {
			date, clock = "*-*-*", f[0]
		} else {
			date = f[0]
		}
	case 2:
		date, clock = f[0], f[1]
	default:
		return Spec{}, fmt.Errorf("%q: too many parts for a calendar event (a time zone other than UTC?)", expr)
	}
	if err := spec.parseDate(date); err != nil {
		return Spec{}, fmt.Errorf("%q: %w", expr, err)
	}
	if clock != "" {
		if err := spec.parseClock(clock); err != nil {
			return Spec{}, fmt.Errorf("%q: %w", expr, err)
		}
	}
	return spec, nil
}

// isWeekdays reports whether a part of the expression starts with a
// weekday name ("Mon", "Sat,Sun", "Mon..Fri").
func isWeekdays(s string) bool {
	names := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '.' })
	if len(names) == 0 {
		return false // "," or "..": no name at all
	}
	_, ok := weekdayNames[strings.ToLower(names[0])]
	return ok
}

func parseWeekdays(s string) (uint8, error) {
	var set uint8
	for _, item := range strings.Split(strings.ToLower(s), ",") {
		lo, hi, isRange := strings.Cut(item, "..")
		a, ok := weekdayNames[lo]
		if !ok {
			return 0, fmt.Errorf("%q is not a weekday", lo)
		}
		b := a
		if isRange {
			if b, ok = weekdayNames[hi]; !ok {
				return 0, fmt.Errorf("%q is not a weekday", hi)
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			set |= 1 << d
			if d == b {
				break
			}
		}
	}
	return set, nil
}

func (spec *Spec) parseDate(s string) error {
	if strings.Contains(s, "~") {
		return fmt.Errorf("days counted from the end of the month (~) are not supported")
	}
	parts := strings.Split(s, "-")
	switch len(parts) {
	case 2:
		parts = append([]string{"*"}, parts...)
	case 3:
	default:
		return fmt.Errorf("%q is not a date (YEAR-MONTH-DAY or MONTH-DAY)", s)
	}
	if parts[0] != "*" {
		lo, hi, err := yearRange(parts[0])
		if err != nil {
			return err
		}
		spec.YearMin, spec.YearMax = lo, hi
	}
	months, err := component(parts[1], 1, 12)
	if err != nil {
		return fmt.Errorf("month: %w", err)
	}
	days, err := component(parts[2], 1, 31)
	if err != nil {
		return fmt.Errorf("day: %w", err)
	}
	spec.Months, spec.Days = uint16(months), uint32(days)
	return nil
}

func yearRange(s string) (int, int, error) {
	lo, hi, isRange := strings.Cut(s, "..")
	a, err := strconv.Atoi(lo)
	if err != nil {
		return 0, 0, fmt.Errorf("year %q: only a year or a range of years is supported", s)
	}
	b := a
	if isRange {
		if b, err = strconv.Atoi(hi); err != nil {
			return 0, 0, fmt.Errorf("year %q: only a year or a range of years is supported", s)
		}
	}
	return a, b, nil
}

func (spec *Spec) parseClock(s string) error {
	parts := strings.Split(s, ":")
	if len(parts) == 2 {
		parts = append(parts, "00")
	}
	if len(parts) != 3 {
		return fmt.Errorf("%q is not a time (HOUR:MINUTE[:SECOND])", s)
	}
	sec, _, _ := strings.Cut(parts[2], ".") // fractions of a second are dropped
	h, err := component(parts[0], 0, 23)
	if err != nil {
		return fmt.Errorf("hour: %w", err)
	}
	m, err := component(parts[1], 0, 59)
	if err != nil {
		return fmt.Errorf("minute: %w", err)
	}
	se, err := component(sec, 0, 59)
	if err != nil {
		return fmt.Errorf("second: %w", err)
	}
	spec.Hours, spec.Minutes, spec.Seconds = uint32(h), m, se
	return nil
}

// component reads one field of a calendar event: "*", "5", "1,15", "1..5",
// "*/10" or "0/15", lists of them too.
func component(s string, lo, hi int) (uint64, error) {
	var set uint64
	for _, item := range strings.Split(s, ",") {
		base, stepS, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepS)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("%q: bad step", item)
			}
			step = n
		}
		a, b := lo, hi
		switch {
		case base == "*":
		case strings.Contains(base, ".."):
			x, y, _ := strings.Cut(base, "..")
			var err1, err2 error
			a, err1 = strconv.Atoi(x)
			b, err2 = strconv.Atoi(y)
			if err1 != nil || err2 != nil {
				return 0, fmt.Errorf("%q is not a range", item)
			}
		default:
			n, err := strconv.Atoi(base)
			if err != nil {
				return 0, fmt.Errorf("%q is not a number", item)
			}
			a = n
			if !hasStep {
				b = n
			}
		}
		if a < lo || b > hi || a > b {
			return 0, fmt.Errorf("%q is out of range %d-%d", item, lo, hi)
		}
		set |= Range(a, b, step)
	}
	return set, nil
}
