// Package crontab reads cron's tables (crontabs, /etc/cron.d files,
// anacrontab) and the shell commands in them, without touching a host.
package crontab

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/hostdrift/hostdrift/internal/parse/calendar"
)

// Entry is one job line of a crontab.
type Entry struct {
	Line int
	// Schedule is the time fields or the macro as written: "*/10 * * * *", "@daily".
	Schedule string
	// Reboot is set for @reboot: the job runs when cron starts, never on a clock.
	Reboot bool
	// Spec is when the job is due (unset for @reboot); its Location is
	// CRON_TZ when the table sets one, else the caller's zone.
	Spec calendar.Spec
	// User runs the job: the sixth field of system tables, the table's
	// owner for user crontabs.
	User string
	// Command is the command as cron logs it: everything after the
	// schedule (and user), up to an unescaped %.
	Command string
	// Stdin is what follows the first unescaped % (sent to the command's
	// standard input, % becoming newlines).
	Stdin string
	// Env is the environment the table set above this line: MAILTO, PATH,
	// SHELL, CRON_TZ and any other NAME=value line.
	Env map[string]string
}

// LineError is a line cron would reject, with the reason.
type LineError struct {
	Line  int
	Error string
}

// Table is a parsed crontab.
type Table struct {
	Entries []Entry
	Errors  []LineError
}

// Options say how to read a table.
type Options struct {
	// System tables (/etc/crontab, /etc/cron.d/*) carry a user field.
	System bool
	// Owner is the user of a user crontab.
	Owner string
	// Location is the zone schedules are read in when CRON_TZ is not set.
	Location *time.Location
}

var macros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// Parse reads a crontab the way cron does: comments and blank lines are
// skipped, NAME=value lines set the environment of the lines below them,
// and every other line is a job or an error.
func Parse(r io.Reader, opts Options) (*Table, error) {
	t := &Table{}
	loc := opts.Location
	if loc == nil {
		loc = time.Local
	}
	err := scanTable(r, func(n int, line string, env map[string]string) {
		e, err := parseEntry(line, opts, env, loc)
		if err != nil {
			t.Errors = append(t.Errors, LineError{Line: n, Error: err.Error()})
			return
		}
		e.Line = n
		t.Entries = append(t.Entries, e)
	})
	return t, err
}

// scanTable calls job with every line that is neither blank, a comment
// nor an environment line, and the environment set above it.
func scanTable(r io.Reader, job func(n int, line string, env map[string]string)) error {
	env := map[string]string{}
	sc := bufio.NewScanner(r)
	// A small first buffer: it grows for a long line, and a host has
	// hundreds of these files (64 KiB each was 80 MB on the big host).
	sc.Buffer(make([]byte, 0, 4096), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if name, value, ok := EnvLine(line); ok {
			env = cloneWith(env, name, value)
			continue
		}
		job(n, line, env)
	}
	return sc.Err()
}

func cloneWith(env map[string]string, name, value string) map[string]string {
	out := make(map[string]string, len(env)+1)
	for k, v := range env {
		out[k] = v
	}
	out[name] = value
	return out
}

// EnvLine reads "NAME = value" (value optionally quoted) as cron does.
func EnvLine(line string) (string, string, bool) {
	name, value, ok := strings.Cut(line, "=")
	if !ok {
		return "", "", false
	}
	name = strings.TrimSpace(name)
	if name == "" || strings.ContainsAny(name, " \t*@") {
		return "", "", false
	}
	value = strings.TrimSpace(value)
	if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
		value = value[1 : len(value)-1]
	}
	return name, value, true
}

func parseEntry(line string, opts Options, env map[string]string, loc *time.Location) (Entry, error) {
	e := Entry{Env: env}
	if tz := env["CRON_TZ"]; tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	rest := line
	var fields string
	if strings.HasPrefix(line, "@") {
		word, after := cutField(line)
		rest = after
		e.Schedule = word
		if word == "@reboot" {
			e.Reboot = true
		} else if f, ok := macros[word]; ok {
			fields = f
		} else {
			return e, fmt.Errorf("unknown schedule %s (known: @reboot, @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)", word)
		}
	} else {
		var parts []string
		for range 5 {
			var w string
			w, rest = cutField(rest)
			if w == "" {
				return e, fmt.Errorf("a job line needs five time fields and a command")
			}
			parts = append(parts, w)
		}
		fields = strings.Join(parts, " ")
		e.Schedule = fields
	}
	if fields != "" {
		spec, err := ParseSchedule(fields, loc)
		if err != nil {
			return e, err
		}
		e.Spec = spec
	}
	if opts.System {
		e.User, rest = cutField(rest)
		if e.User == "" {
			return e, fmt.Errorf("no user field: lines of /etc/crontab and /etc/cron.d name the user before the command")
		}
	} else {
		e.User = opts.Owner
	}
	if strings.TrimSpace(rest) == "" {
		return e, fmt.Errorf("no command")
	}
	e.Command, e.Stdin = splitPercent(rest)
	return e, nil
}

func cutField(s string) (string, string) {
	s = strings.TrimLeft(s, " \t")
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " \t")
}

// splitPercent cuts the command at the first unescaped %: what follows is
// the command's input, with the other unescaped % as newlines.
func splitPercent(s string) (string, string) {
	var cmd strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '%':
			cmd.WriteByte('%')
			i++
		case s[i] == '%':
			return strings.TrimRight(cmd.String(), " \t"), strings.ReplaceAll(s[i+1:], "%", "\n")
		default:
			cmd.WriteByte(s[i])
		}
	}
	return strings.TrimRight(cmd.String(), " \t"), ""
}

var (
	monthNames   = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
	weekdayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
)

// ParseSchedule reads the five time fields: minute, hour, day of month,
// month (1-12 or jan-dec) and day of week (0-7 or sun-sat, 7 being
// Sunday), each a list of "*", values, ranges and steps ("*/10", "1-5/2").
// When both day fields are restricted a day matches either, as in cron.
func ParseSchedule(fields string, loc *time.Location) (calendar.Spec, error) {
	f := strings.Fields(fields)
	if len(f) != 5 {
		return calendar.Spec{}, fmt.Errorf("%q: want five time fields", fields)
	}
	spec := calendar.Spec{Seconds: 1, Location: loc}
	var err error
	if spec.Minutes, err = field(f[0], "minute", 0, 59, nil); err != nil {
		return spec, err
	}
	h, err := field(f[1], "hour", 0, 23, nil)
	if err != nil {
		return spec, err
	}
	d, err := field(f[2], "day of month", 1, 31, nil)
	if err != nil {
		return spec, err
	}
	m, err := field(f[3], "month", 1, 12, monthNames)
	if err != nil {
		return spec, err
	}
	w, err := field(f[4], "day of week", 0, 7, weekdayNames)
	if err != nil {
		return spec, err
	}
	if w&(1<<7) != 0 {
		w = w&^(1<<7) | 1
	}
	spec.Hours, spec.Days, spec.Months, spec.Weekdays = uint32(h), uint32(d), uint16(m), uint8(w)
	spec.DayOr = !strings.HasPrefix(f[2], "*") && !strings.HasPrefix(f[4], "*")
	return spec, nil
}

// field reads one time field into a bit set.
func field(s, what string, lo, hi int, names []string) (uint64, error) {
	value := func(v string) (int, error) {
		for i, n := range names {
			if strings.EqualFold(v, n) {
				return i + lo, nil
			}
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("%s %q: not a value from %d to %d%s", what, v, lo, hi, orName(names))
		}
		return n, nil
	}
	var set uint64
	for _, item := range strings.Split(s, ",") {
		rng, stepS, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepS)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("%s %q: bad step", what, item)
			}
			step = n
		}
		a, b := lo, hi
		if rng != "*" {
			x, y, isRange := strings.Cut(rng, "-")
			var err error
			if a, err = value(x); err != nil {
				return 0, err
			}
			b = a
			if isRange {
				if b, err = value(y); err != nil {
					return 0, err
				}
			} else if hasStep {
				b = hi // "5/10" is "5-59/10"
			}
			if a > b {
				return 0, fmt.Errorf("%s %q: the range runs backwards", what, item)
			}
		}
		set |= calendar.Range(a, b, step)
	}
	return set, nil
}

func orName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return " or a name (" + names[0] + "-" + names[len(names)-1] + ")"
}
