package jobs

import (
	"context"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/parse/calendar"
	"github.com/hostdrift/hostdrift/internal/parse/crontab"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
)

func init() {
	agent.Register(snapshot.CollectorTimers, func() agent.Collector { return &TimersCollector{} })
}

// TimersCollector reads every systemd timer: from the running systemd over
// D-Bus on the live host, else (another --root, or no systemd) from the
// unit files and the stamps of persistent timers. No systemd is no error:
// it is an empty section.
type TimersCollector struct {
	// Now is the time due times are computed from; time.Now when nil.
	Now func() time.Time
	// Offline forces reading unit files even when systemd answers.
	Offline bool
}

// Reads declares what the collector reads from files: the unit folders.
// The stamps of persistent timers and the journal change as a matter of
// course and are left out; on the live host, systemd's D-Bus signals tell.
func (*TimersCollector) Reads() []agent.Path { return unitPaths() }

// Follows declares that the running systemd's signals tell of a timer's
// change.
func (*TimersCollector) Follows() []agent.Source { return unitSources }

// stampDir holds the last-trigger stamps of Persistent= timers.
const stampDir = "/var/lib/systemd/timers"

// execSearchPath is where systemd looks for an ExecStart= program given
// without a path.
const execSearchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Collect reads the timers over D-Bus when it can, else from files.
func (c *TimersCollector) Collect(ctx context.Context, env *agent.Env) (snapshot.Section, error) {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	fsys := newRootFS(env.FS())
	if !fsys.live() {
		t := c.offline(fsys, now)
		t.Offline = snapshot.TimersOtherRoot
		return t, nil
	}
	var dbusErr error
	if !c.Offline {
		t, err := collectDBus(ctx, fsys, now)
		if err == nil {
			return t, nil
		}
		dbusErr = err
	}
	t := c.offline(fsys, now)
	if !env.SystemdRuns() {
		t.Offline = snapshot.TimersNoSystemd
		return t, nil
	}
	t.Offline = snapshot.TimersNoAnswer
	if dbusErr != nil {
		// systemd runs but does not answer: read the files, and say why.
		return t, agent.Partial("systemd runs but did not answer over D-Bus (%v): timers were read from unit files, without last results", dbusErr)
	}
	return t, nil
}

// offline reads timer units, their services and stamps from files.
func (c *TimersCollector) offline(fsys rootFS, now time.Time) *snapshot.Timers {
	out := &snapshot.Timers{Source: snapshot.TimersFiles, Timers: []snapshot.Timer{}, Errors: []snapshot.FileError{}}
	units := loadUnitSet(fsys)
	loc := zone(fsys)
	for _, name := range units.names(".timer") {
		u, err := units.load(name)
		if err != nil {
			out.Errors = append(out.Errors, snapshot.FileError{Path: units.files[name], Error: err.Error()})
			if hostfs.IsNotRegular(err) {
				continue // systemd cannot load it either: there is no timer to judge
			}
		}
		for _, e := range u.skipped {
			out.Errors = append(out.Errors, snapshot.FileError{Path: u.path, Error: "drop-in skipped: " + e.Error()})
		}
		t := snapshot.Timer{Unit: name, File: u.path, DropIns: u.dropIns, Enabled: units.enabled(name, u), Programs: []snapshot.Program{}}
		t.Calendar = u.get("Timer", "OnCalendar")
		for _, k := range []string{"OnActiveSec", "OnBootSec", "OnStartupSec", "OnUnitActiveSec", "OnUnitInactiveSec"} {
			for _, v := range u.get("Timer", k) {
				t.Monotonic = append(t.Monotonic, k+"="+v)
			}
		}
		t.Persistent = parseBool(u.last("Timer", "Persistent"))
		t.Service = u.last("Timer", "Unit")
		if t.Service == "" {
			t.Service = strings.TrimSuffix(name, ".timer") + ".service"
		}
		var next *time.Time
		var problems []string
		for _, expr := range t.Calendar {
			spec, err := calendar.ParseOnCalendar(expr, loc)
			if err != nil {
				problems = append(problems, "OnCalendar="+err.Error())
				continue
			}
			if n, ok := spec.Next(now); ok && (next == nil || n.Before(*next)) {
				nu := n.UTC()
				next = &nu
			}
			t.PeriodSeconds = max(t.PeriodSeconds, int64(spec.Period(now)/time.Second))
		}
		t.NextElapse = next
		if t.Persistent {
			t.LastTriggerKnown = true
			if fi, err := fsys.stat(path.Join(stampDir, "stamp-"+name)); err == nil {
				m := fi.ModTime().UTC()
				t.LastTrigger = &m
			}
		}
		if len(problems) > 0 {
			t.Error = strings.Join(problems, "; ")
		}
		svc, err := units.load(t.Service)
		if err != nil {
			out.Errors = append(out.Errors, snapshot.FileError{Path: units.files[t.Service], Error: err.Error()})
			if hostfs.IsNotRegular(err) {
				t.ServiceError, svc = err.Error(), nil
			}
		}
		if svc != nil {
			for _, e := range svc.skipped {
				out.Errors = append(out.Errors, snapshot.FileError{Path: svc.path, Error: "drop-in skipped: " + e.Error()})
			}
		}
		if svc != nil && !svc.masked {
			t.ServiceFile = svc.path
			t.Programs = execPrograms(fsys, svc.get("Service", "ExecStart"))
		}
		out.Timers = append(out.Timers, t)
	}
	return out
}

func parseBool(s string) bool {
	switch strings.ToLower(s) {
	case "1", "yes", "true", "on":
		return true
	}
	return false
}

// execPrograms checks the programs of ExecStart= lines: the first word
// after systemd's prefixes (@ - : + !), and the script an interpreter or
// sh -c runs.
func execPrograms(fsys rootFS, lines []string) []snapshot.Program {
	out := []snapshot.Program{}
	for _, line := range lines {
		line = strings.TrimLeft(line, "@-:+!")
		an := crontab.Analyze(line, "")
		progs := an.Programs
		if len(progs) == 0 {
			continue
		}
		out = append(out, resolvePrograms(fsys, progs, execSearchPath, "/")...)
	}
	return out
}

// dueSince is the latest time the timer should have fired by, if it has
// not fired since it was armed at armed: the first elapse of its calendar
// and OnActiveSec=/OnBootSec= triggers, plus the accuracy and random delay
// systemd may add. Nil when nothing was due before now.
func dueSince(armed, boot time.Time, calendars []calendar.Spec, active, fromBoot []time.Duration, slack time.Duration, now time.Time) *time.Time {
	var first *time.Time
	consider := func(t time.Time) {
		if first == nil || t.Before(*first) {
			first = &t
		}
	}
	for _, spec := range calendars {
		if n, ok := spec.Next(armed); ok {
			consider(n)
		}
	}
	for _, d := range active {
		consider(armed.Add(d))
	}
	if !boot.IsZero() {
		for _, d := range fromBoot {
			consider(boot.Add(d))
		}
	}
	if first == nil {
		return nil
	}
	due := first.Add(slack).UTC()
	if due.After(now) {
		return nil
	}
	return &due
}

// sortTimers orders timers by unit name.
func sortTimers(ts []snapshot.Timer) {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Unit < ts[j].Unit })
}
