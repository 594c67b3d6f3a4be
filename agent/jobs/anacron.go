package jobs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/hostdrift/hostdrift/internal/parse/crontab"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
)

// What starts anacron: cronie-anacron's hourly run-parts script, or the
// timer of Debian's anacron package.
const (
	anacronHourly = "/etc/cron.hourly/0anacron"
	anacronTimer  = "anacron.timer"
)

// anacronPrograms are where anacron is installed.
var anacronPrograms = []string{"/usr/sbin/anacron"}

// anacron reads /etc/anacrontab and each job's timestamp.
func (c *CronCollector) anacron(fsys rootFS, cr *snapshot.Cron, homes map[string]string) []snapshot.CronJob {
	b, err := fsys.readFile(anacrontabPath)
	if err != nil {
		if hostfs.IsNotRegular(err) {
			cr.Ignored = append(cr.Ignored, snapshot.IgnoredFile{Path: anacrontabPath, Reason: err.Error() + "; anacron reads only a regular file"})
		} else if !errors.Is(err, fs.ErrNotExist) {
			cr.Errors = append(cr.Errors, snapshot.FileError{Path: anacrontabPath, Error: err.Error()})
		}
		return nil
	}
	tab, err := crontab.ParseAnacrontab(bytes.NewReader(b))
	if err != nil {
		cr.Errors = append(cr.Errors, snapshot.FileError{Path: anacrontabPath, Error: err.Error()})
	}
	for _, le := range tab.Errors {
		cr.Errors = append(cr.Errors, snapshot.FileError{Path: anacrontabPath, Line: le.Line, Error: le.Error})
	}
	var out []snapshot.CronJob
	for _, a := range tab.Jobs {
		j := c.job(fsys, anacrontabPath, snapshot.CronAnacron, a.Line, "root", a.Command, a.Env, homes)
		j.Schedule = a.Period
		j.PeriodSeconds = int64(a.Days) * 86400
		j.Anacron = &snapshot.AnacronTiming{ID: a.ID, DelayMinutes: a.DelayMinutes,
			RandomDelay: a.Env["RANDOM_DELAY"], StartHoursRange: a.Env["START_HOURS_RANGE"]}
		// anacron writes the day it last ran the job as YYYYMMDD.
		if stamp, err := fsys.readFile(path.Join(anacronSpool, a.ID)); err == nil {
			if day, err := time.ParseInLocation("20060102", strings.TrimSpace(string(stamp)), zone(fsys)); err == nil {
				d := day.UTC()
				j.LastRun, j.LastRunSource = &d, "anacron stamp "+path.Join(anacronSpool, a.ID)
			}
		}
		out = append(out, j)
	}
	return out
}

// anacronTrigger records what starts anacron, and makes it the trigger of
// the anacrontab's jobs: cronie-anacron's /etc/cron.hourly/0anacron (a
// run-parts script that runs anacron -s once a day, run by
// /etc/cron.d/0hourly), else Debian's anacron.timer. Debian's
// /etc/cron.d/anacron line, which starts anacron where systemd does not,
// is a job of its own.
func anacronTrigger(fsys rootFS, cr *snapshot.Cron) {
	trigger := ""
	for _, j := range cr.Jobs {
		if j.Kind == snapshot.CronRunParts && j.File == anacronHourly && runsAnacron(fsys, j.File) {
			trigger = j.File
			cr.Anacron = anacronHourly + ", a run-parts script that runs anacron"
			if j.Trigger != "" {
				cr.Anacron += " (run-parts run by " + j.Trigger + ")"
			}
			break
		}
	}
	if trigger == "" {
		if p, masked := findUnit(fsys, anacronTimer); p != "" && !masked {
			trigger = anacronTimer
			cr.Anacron = anacronTimer + " (" + p + ")"
		}
	}
	if trigger == "" {
		return
	}
	for i := range cr.Jobs {
		if cr.Jobs[i].Kind == snapshot.CronAnacron {
			cr.Jobs[i].Trigger = trigger
		}
	}
}

// runsAnacron reports whether a script's head starts anacron.
func runsAnacron(fsys rootFS, p string) bool {
	f, err := fsys.open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 64<<10))
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, p := range crontab.Analyze(line, "/").Programs {
			if path.Base(p.Word) == "anacron" {
				return true
			}
		}
	}
	return false
}
