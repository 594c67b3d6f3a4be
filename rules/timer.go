package rules

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "timer",
		Summary: "systemd timers (all, or the unit named, globs allowed) run an existing program, last succeeded, fire when due, and fired within max_age",
		Attributes: []hcl.AttributeSchema{
			{Name: "unit"},
			{Name: "max_age"},
			{Name: "last_result"},
			{Name: "require"},
		},
		AttributeDocs: map[string]string{
			"unit":        "the timer unit, globs allowed (\"backup*.timer\"; default: every timer)",
			"max_age":     "it must have triggered within this (\"26h\"); adds \"ran\" to require",
			"last_result": "the result the service's last run must have had (default \"success\")",
			"require":     "what must hold, from program (the service's programs exist), result (its last run had last_result), triggered (it fired once due) and ran; default [\"program\", \"result\", \"triggered\"]",
		},
		Needs:  []string{snapshot.CollectorTimers},
		Decode: decodeTimer,
	})
}

// What a timer check can require of each timer.
var timerRequirements = []string{"program", "result", "triggered", "ran"}

// timerCheck: for every selected timer, its service's programs exist
// (program), the service's last run ended with lastResult (result), it
// fired once it was due (triggered), and it fired within maxAge (ran).
type timerCheck struct {
	unit       string
	maxAge     time.Duration
	lastResult string
	require    []string
	builtin    bool
}

func decodeTimer(d *Decoder) Check {
	c := &timerCheck{unit: d.String("unit", ""), maxAge: d.Duration("max_age", 0), lastResult: d.String("last_result", "success"), builtin: d.Builtin}
	if c.unit != "" {
		if _, err := path.Match(c.unit, ""); err != nil {
			d.Errorf("unit", "Invalid unit pattern", "%q: %s.", c.unit, err)
		}
		if !strings.HasSuffix(c.unit, ".timer") && !strings.HasSuffix(c.unit, "*") {
			c.unit += ".timer"
		}
	}
	c.require = requirements(d, []string{"program", "result", "triggered"}, timerRequirements...)
	return c
}

func (c *timerCheck) selects(t snapshot.Timer) bool {
	if c.unit == "" {
		return true
	}
	ok, _ := path.Match(c.unit, t.Unit)
	return ok
}

func (c *timerCheck) Evaluate(s *snapshot.Snapshot) Result {
	if s.Jobs == nil || s.Jobs.Timers == nil {
		return Errorf("the snapshot holds no timers section")
	}
	tm := s.Jobs.Timers
	subject := "every systemd timer"
	if c.unit != "" {
		subject = c.unit
	}
	r := Result{Expected: subject + ": " + c.expectation()}
	var timers []snapshot.Timer
	for _, t := range tm.Timers {
		if c.selects(t) {
			timers = append(timers, t)
		}
	}
	if len(timers) == 0 {
		if c.unit != "" && !strings.Contains(c.unit, "*") {
			r.Status, r.Observed = finding.Fail, "no such timer"
			r.Explanation = fmt.Sprintf("no timer unit %s (%d timers read from %s)", c.unit, len(tm.Timers), sourceName(tm.Source))
			r.Remediation = "install and enable the timer (systemctl enable --now " + c.unit + "), or fix the check's unit"
			return r
		}
		r.Status, r.Observed, r.Explanation = finding.Pass, "no timers", "no systemd timers here"
		return r
	}
	r.Observed = fmt.Sprintf("%d timer(s)", len(timers))
	var fails, unknown, fixes []string
	for _, t := range timers {
		where := t.Unit
		if t.File != "" {
			where += " (" + t.File + ")"
		}
		if t.Enabled == "masked" {
			continue
		}
		if slices.Contains(c.require, "program") {
			if t.ServiceError != "" {
				fails = append(fails, fmt.Sprintf("%s triggers %s, whose unit file systemd cannot load: %s", where, t.Service, t.ServiceError))
				fixes = appendOnce(fixes, "replace the service's unit file with a regular file, or point Unit= at the right one")
			} else if t.ServiceFile == "" && t.Service != "" {
				fails = append(fails, fmt.Sprintf("%s triggers %s, which does not exist", where, t.Service))
				fixes = appendOnce(fixes, "install the service the timer triggers, or point Unit= at the right one")
			} else if ps := programProblems(t.Programs); len(ps) > 0 {
				fails = append(fails, fmt.Sprintf("%s runs %s: %s", where, t.Service, strings.Join(ps, "; ")))
				fixes = appendOnce(fixes, "fix ExecStart= in the service or install what it runs: it fails at every trigger")
			}
		}
		if slices.Contains(c.require, "result") && tm.Source == snapshot.TimersDBus {
			switch {
			case t.Result != "" && t.Result != c.lastResult && t.ExitedAt != nil:
				fails = append(fails, fmt.Sprintf("%s: %s last ran %s and ended with %s", where, t.Service, stamp(*t.ExitedAt), describeResult(t)))
				fixes = appendOnce(fixes, "read the service's log (journalctl -u SERVICE) and fix the job; systemd records the failure but nobody is told")
			}
		}
		if slices.Contains(c.require, "triggered") && tm.Source == snapshot.TimersDBus && t.LastTriggerKnown && t.LastTrigger == nil && t.DueSince != nil {
			fails = append(fails, fmt.Sprintf("%s is %s (%s) but never triggered, although it was due by %s (%s)", where, t.Enabled, activeState(t), stamp(*t.DueSince), triggers(t)))
			fixes = appendOnce(fixes, "start the timer (systemctl start UNIT.timer; enable alone waits for the next boot) and check its OnCalendar=/On*Sec= settings")
		}
		if slices.Contains(c.require, "ran") {
			if !t.LastTriggerKnown {
				unknown = append(unknown, where+": when it last fired is not known offline (only Persistent= timers keep a stamp)")
			} else if why := ranWithin(t.LastTrigger, "systemd", t.PeriodSeconds, c.maxAge, s.TakenAt); why != "" {
				if tm.Source == snapshot.TimersFiles {
					why = strings.Replace(why, "per systemd", "per its stamp in /var/lib/systemd/timers", 1)
				}
				fails = append(fails, where+": "+strings.Replace(why, "no run found", "never triggered", 1))
				fixes = appendOnce(fixes, "find out why the timer stopped firing (systemctl list-timers, systemctl status UNIT.timer)")
			}
		}
	}
	if len(fails) == 0 && tm.Source != snapshot.TimersDBus {
		if blind := c.offline(s, tm); blind != nil {
			blind.Expected, blind.Observed = r.Expected, r.Observed
			return *blind
		}
	}
	if judged(&r, fails, unknown, fixes) {
		return r
	}
	r.Status = finding.Pass
	r.Explanation = fmt.Sprintf("%d timer(s) meet %s", len(timers), strings.Join(c.require, ", "))
	if len(timers) == 1 && timers[0].LastTrigger != nil {
		t := timers[0]
		r.Explanation = fmt.Sprintf("%s last triggered %s, %s ago", t.Unit, stamp(*t.LastTrigger), formatAge(s.TakenAt.Sub(*t.LastTrigger)))
		if t.Result != "" {
			r.Explanation += "; " + t.Service + " result " + t.Result
		}
	}
	return r
}

// offline judges a check of timers read from unit files, which hold no
// last result and no trigger: nil when it requires neither, else a skip
// where no timer fires here (another root, or no systemd for a check of
// the built-in policy) and an error where the answer exists but was not
// seen. Never a pass: a missing result is no success.
func (c *timerCheck) offline(s *snapshot.Snapshot, tm *snapshot.Timers) *Result {
	var what []string
	if slices.Contains(c.require, "result") {
		what = append(what, "how its last run ended")
	}
	if slices.Contains(c.require, "triggered") {
		what = append(what, "whether it fired when due")
	}
	if len(what) == 0 {
		return nil
	}
	known := strings.Join(what, " and ") + " is only known from the running systemd"
	var r Result
	switch {
	case tm.Offline == snapshot.TimersOtherRoot || (s.Root != "" && s.Root != "/"):
		r = Skipf("does not apply below --root (%s): its timers were read from unit files and fire only when that system runs; %s", s.Root, known)
	case tm.Offline == snapshot.TimersNoAnswer:
		r = Errorf("%s, and it did not answer over D-Bus: timers were read from unit files", known)
	case c.builtin:
		r = Skipf("systemd is not the init system here (no /run/systemd/system: a container, WSL or a chroot), so no timer fires")
	default:
		r = Errorf("%s, and systemd is not the init system here (no /run/systemd/system: a container, WSL or a chroot): no timer fires, and the check cannot be met", known)
		r.Remediation = "run the check where systemd runs the timers, or drop \"result\" and \"triggered\" from its require"
	}
	return &r
}

func (c *timerCheck) expectation() string {
	var parts []string
	for _, req := range c.require {
		switch req {
		case "program":
			parts = append(parts, "its service's programs exist and are executable")
		case "result":
			parts = append(parts, "its last run ended with "+c.lastResult)
		case "triggered":
			parts = append(parts, "it fires when due")
		case "ran":
			parts = append(parts, "fired within "+formatAge(c.maxAge))
		}
	}
	return strings.Join(parts, "; ")
}

func sourceName(src string) string {
	if src == snapshot.TimersDBus {
		return "systemd over D-Bus"
	}
	return "the unit files"
}

func describeResult(t snapshot.Timer) string {
	switch t.Result {
	case "exit-code":
		return fmt.Sprintf("exit-code (status %d)", t.ExitStatus)
	case "signal", "core-dump":
		return fmt.Sprintf("%s (signal %d)", t.Result, t.ExitStatus)
	}
	return t.Result
}

func activeState(t snapshot.Timer) string {
	if t.Active == "" {
		return "state unknown"
	}
	return t.Active
}

func triggers(t snapshot.Timer) string {
	var parts []string
	for _, c := range t.Calendar {
		parts = append(parts, "OnCalendar="+c)
	}
	parts = append(parts, t.Monotonic...)
	return strings.Join(parts, ", ")
}
