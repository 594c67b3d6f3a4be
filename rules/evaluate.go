package rules

import (
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/agext/levenshtein"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Wants gathers what the plan's checks ask the collectors to look at.
func (p *Plan) Wants() snapshot.Wants {
	var w snapshot.Wants
	for _, c := range p.Checks {
		if wc, ok := c.Check.(Wanter); ok {
			wc.Want(&w)
		}
	}
	return w
}

// Needs lists the collectors the plan's checks read, without duplicates.
func (p *Plan) Needs() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range p.Checks {
		for _, n := range c.needs() {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// Evaluate judges a snapshot. It is a pure function of the plan, the
// snapshot and now (which only decides whether waivers have expired).
func (p *Plan) Evaluate(s *snapshot.Snapshot, now time.Time) []finding.Finding {
	out := make([]finding.Finding, 0, len(p.Checks))
	es := &evalState{}
	for _, c := range p.Checks {
		r := evaluateIn(c, s, es)
		f := finding.Finding{
			Check:       c.ID(),
			Kind:        c.Kind.Name,
			Name:        c.Name,
			Description: c.Description,
			Status:      r.Status,
			Severity:    c.Severity,
			Tags:        c.Tags,
			Expected:    r.Expected,
			Observed:    r.Observed,
			Explanation: r.Explanation,
			Remediation: r.Remediation,
			Source:      c.Source,
		}
		if c.Replaces != nil {
			f.Explanation = strings.TrimSpace(f.Explanation + fmt.Sprintf(" (This check replaces the built-in one at %s.)", c.Replaces))
		}
		if w, ok := p.waivers[c.ID()]; ok {
			applyWaiver(&f, w, now)
		} else if w, ok := p.waivers[c.BlockID()]; ok && c.Keyed {
			applyWaiver(&f, w, now) // a waiver for every instance
		}
		out = append(out, f)
	}
	for _, d := range p.Disabled {
		out = append(out, disabledFinding(d))
	}
	return out
}

// applyWaiver records the waiver on the finding and, while it holds, turns
// a fail, error or skip into waived: the operator has accepted it. A pass
// stays a pass; an expired waiver changes nothing but says so.
func applyWaiver(f *finding.Finding, w *waiver, now time.Time) {
	expired := !now.Before(w.expires)
	f.Waiver = &finding.Waiver{Reason: w.reason, Expires: w.date, Expired: expired, Source: w.source}
	if f.Status == finding.Pass || f.Status == finding.Waived {
		return
	}
	if expired {
		f.Explanation += fmt.Sprintf(" The waiver (%s) expired on %s and no longer applies: %s", w.source, w.date, w.reason)
		return
	}
	was := f.Status
	f.Status = finding.Waived
	if was == finding.Fail {
		f.Explanation += fmt.Sprintf(" Waived until %s (%s): %s", w.date, w.source, w.reason)
		return
	}
	f.Explanation += fmt.Sprintf(" Waived (the check's own status: %s) until %s (%s): %s", was, w.date, w.source, w.reason)
}

// evaluateOne refuses to judge a check whose collectors failed, and turns a
// panicking check into an error finding rather than a crash. A check whose
// collector was skipped (the area does not exist on this host) does not
// apply here and is skipped with the collector's reason, unless it names
// something that must exist (an AbsenceJudge), which then decides; a skip
// wins over another collector's error, since nothing there is to judge.
func evaluateOne(c *Compiled, s *snapshot.Snapshot) Result { return evaluateIn(c, s, nil) }

// evaluateIn is evaluateOne sharing es, the evaluation's state, with the
// checks that use it (stateEvaluator); es nil shares nothing.
func evaluateIn(c *Compiled, s *snapshot.Snapshot, es *evalState) (r Result) {
	var blind *Result
	for _, need := range c.needs() {
		st, ok := s.Collector(need)
		switch {
		case ok && st.Status == snapshot.StatusSkipped:
			if aj, ok := c.Check.(AbsenceJudge); ok {
				return aj.Absent(need, st.Reason)
			}
			return Skipf("does not apply to this host: the %s collector was skipped: %s", need, st.Reason)
		case blind != nil:
		case !ok:
			e := Errorf("cannot evaluate: the %s collector did not run in this snapshot", need)
			blind = &e
		case !st.Usable():
			e := Errorf("cannot evaluate: the %s collector %s: %s", need, verb(st.Status), st.Reason)
			blind = &e
		}
	}
	if blind != nil {
		return *blind
	}
	defer func() {
		if p := recover(); p != nil {
			r = Errorf("internal error while evaluating %s: %v (please report this with the snapshot)\n%s", c.ID(), p, debug.Stack())
		}
	}()
	if se, ok := c.Check.(stateEvaluator); ok {
		return se.evaluateWith(s, es)
	}
	return c.Check.Evaluate(s)
}

func verb(s snapshot.Status) string {
	if s == snapshot.StatusSkipped {
		return "was skipped"
	}
	return "failed"
}

// suggest returns the candidate closest to s, if any is close enough to be a
// likely misspelling.
func suggest(s string, candidates []string) string {
	best, bestDist := "", 4
	for _, c := range candidates {
		d := levenshtein.Distance(strings.ToLower(s), strings.ToLower(c), nil)
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}
