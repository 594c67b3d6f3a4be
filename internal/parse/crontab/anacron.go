package crontab

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// AnacronJob is one job line of /etc/anacrontab.
type AnacronJob struct {
	Line int
	// Period is as written: a number of days, or @daily, @weekly, @monthly.
	Period string
	// Days is the period in days (30 for @monthly, which anacron counts
	// by calendar month).
	Days int
	// DelayMinutes is how long anacron waits before running the job.
	DelayMinutes int
	// ID is the job identifier, which names its timestamp file in
	// /var/spool/anacron.
	ID      string
	Command string
	Env     map[string]string
}

// AnacronTable is a parsed anacrontab.
type AnacronTable struct {
	Jobs   []AnacronJob
	Errors []LineError
}

// ParseAnacrontab reads /etc/anacrontab: environment lines and
// "PERIOD DELAY ID COMMAND" job lines.
func ParseAnacrontab(r io.Reader) (*AnacronTable, error) {
	t := &AnacronTable{}
	err := scanTable(r, func(n int, line string, env map[string]string) {
		period, rest := cutField(line)
		delay, rest := cutField(rest)
		id, rest := cutField(rest)
		if strings.TrimSpace(rest) == "" {
			t.Errors = append(t.Errors, LineError{Line: n, Error: "an anacrontab job line needs a period, a delay, an identifier and a command"})
			return
		}
		j := AnacronJob{Line: n, Period: period, ID: id, Command: strings.TrimSpace(rest), Env: env}
		var err error
		switch period {
		case "@daily":
			j.Days = 1
		case "@weekly":
			j.Days = 7
		case "@monthly":
			j.Days = 30
		default:
			if j.Days, err = strconv.Atoi(period); err != nil || j.Days < 1 {
				t.Errors = append(t.Errors, LineError{Line: n, Error: fmt.Sprintf("period %q is neither a number of days nor @daily, @weekly, @monthly", period)})
				return
			}
		}
		if j.DelayMinutes, err = strconv.Atoi(delay); err != nil || j.DelayMinutes < 0 {
			t.Errors = append(t.Errors, LineError{Line: n, Error: fmt.Sprintf("delay %q is not a number of minutes", delay)})
			return
		}
		t.Jobs = append(t.Jobs, j)
	})
	return t, err
}

// RunPartsName reports whether run-parts (and Debian's cron, for the files
// of /etc/cron.d) accepts a file name: only ASCII letters, digits,
// underscores and hyphens. A name with a dot, such as backup.sh or a
// package manager's leftover foo.dpkg-old, is silently skipped.
func RunPartsName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
