package netfilter

import (
	"fmt"
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Simulate is Simulate over a compiled firewall.
//
// Matches on rate or history (limit, recent, ct count, meters) take the
// outcome they have for the first packet of a peer that sent nothing before,
// under normal load; the other outcome is explored too, and the assumptions
// whose other outcome changes the verdict become the result's Conditions.
func (prog *Program) Simulate(p Packet) Result {
	if p.CtState == "" {
		p.CtState = "new"
	}
	p.Protocol = snapshot.ProtocolName(p.Protocol)
	queue := [][]bool{nil}
	var first *walker
	normal := map[Verdict]bool{}
	var abnormal []*walker
	var firstDiff string
	paths := 0
	for len(queue) > 0 {
		if paths >= maxPaths {
			return Result{Verdict: Unknown, Trace: first.trace, Final: first.p,
				Reason: fmt.Sprintf("more than %d combinations of undecidable matches (%s)", maxPaths, strings.Join(uniq(first.reasons), "; "))}
		}
		prefix := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		w := newWalker(prog, p, prefix)
		w.run()
		paths++
		for i := len(prefix); i < len(w.choices); i++ {
			alt := append(append([]bool(nil), w.choices[:i]...), w.choices[i] != true)
			queue = append(queue, alt)
		}
		if first == nil {
			first = w
		}
		if w.departs() {
			abnormal = append(abnormal, w)
			continue
		}
		if w.verdict != first.verdict && firstDiff == "" {
			firstDiff = describeChoices(w)
		}
		normal[w.verdict] = true
	}
	res := Result{Verdict: first.verdict, Trace: first.trace, Deciding: first.deciding, Reason: first.reason, Final: first.p}
	if len(normal) > 1 {
		res.Verdict = Unknown
		res.Deciding = nil
		why := uniq(first.undecided())
		res.Reason = fmt.Sprintf("%s if nothing undecidable matches, but the verdict depends on: %s", first.verdict, strings.Join(why, "; "))
		if firstDiff != "" {
			res.Reason += " (" + firstDiff + ")"
		}
		return res
	}
	if res.Verdict == Unknown {
		return res
	}
	var conds []string
	for _, w := range abnormal {
		if w.verdict != first.verdict {
			conds = append(conds, w.departures()...)
		}
	}
	res.Conditions = uniq(conds)
	return res
}

// departs reports whether the walk took an outcome other than the fresh
// peer's for a match on rate or history.
func (w *walker) departs() bool { return len(w.departures()) > 0 }

// departures are the assumptions the walk did not follow.
func (w *walker) departures() []string {
	var out []string
	for i, c := range w.choices {
		if w.assumed[i] && c != w.defaults[i] {
			out = append(out, w.reasons[i])
		}
	}
	return out
}

// undecided are the reasons of the undecidable matches the walk met.
func (w *walker) undecided() []string {
	var out []string
	for i, r := range w.reasons {
		if !w.assumed[i] {
			out = append(out, r)
		}
	}
	return out
}

func describeChoices(w *walker) string {
	var took []string
	for i, c := range w.choices {
		if c && !w.assumed[i] {
			took = append(took, w.reasons[i])
		}
	}
	return fmt.Sprintf("%s when %s matches", w.verdict, strings.Join(uniq(took), " and "))
}

func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// choose decides an undecidable match: not matching, unless the path
// being explored says otherwise.
func (w *walker) choose(reason string) bool { return w.choice(reason, false, false) }

// assume decides a match on rate or history: its outcome for a fresh peer
// (def), unless the path being explored says otherwise.
func (w *walker) assume(cond string, def bool) bool { return w.choice(cond, def, true) }

func (w *walker) choice(reason string, def, assumed bool) bool {
	i := len(w.choices)
	v := def
	if i < len(w.prefix) {
		v = w.prefix[i]
	}
	w.choices = append(w.choices, v)
	w.reasons = append(w.reasons, reason)
	w.defaults = append(w.defaults, def)
	w.assumed = append(w.assumed, assumed)
	return v
}
