package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hostdrift/hostdrift/internal/cli"
	"github.com/hostdrift/hostdrift/rules"
)

// selection is check's --only and --skip: which of the policy's checks a
// run judges, without editing the policy. A selector is
//
//   - a check's name, kind.name; for a check with for_each this names every
//     instance, and kind.name["key"] names one;
//   - a kind (listener): every check of that kind;
//   - tag:TAG: every check that carries the tag.
//
// A check runs when --only is not given or one of its selectors matches it,
// and no --skip selector does. Checks left out are not judged and not
// reported, and the collectors only they need do not run. Selection comes
// before waivers and disable blocks: a selected check that is waived is
// still reported waived, and one that is disabled is still reported as
// disabled (a skip).
type selection struct {
	only, skip cli.List
	// err is why the selection could not be made (a selector that matches
	// no check), once apply has failed.
	err error
}

// active reports whether any selector was given.
func (s *selection) active() bool { return len(s.only) > 0 || len(s.skip) > 0 }

// apply returns the plan narrowed to the selected checks, or nil when a
// selector matches no check of the plan (s.err then says which, and the
// nearest names).
func (s *selection) apply(p *rules.Plan) *rules.Plan {
	if !s.active() {
		return p
	}
	all := make([]*rules.Compiled, 0, len(p.Checks)+len(p.Disabled))
	all = append(all, p.Checks...)
	for _, d := range p.Disabled {
		all = append(all, d.Check)
	}
	for _, flagSel := range []struct {
		name string
		sels []string
	}{{"--only", s.only}, {"--skip", s.skip}} {
		for _, sel := range flagSel.sels {
			if !slices.ContainsFunc(all, func(c *rules.Compiled) bool { return selects(sel, c) }) {
				s.err = noMatch(flagSel.name, sel, all)
				return nil
			}
		}
	}
	keep := func(c *rules.Compiled) bool {
		if len(s.only) > 0 && !slices.ContainsFunc(s.only, func(sel string) bool { return selects(sel, c) }) {
			return false
		}
		return !slices.ContainsFunc(s.skip, func(sel string) bool { return selects(sel, c) })
	}
	return p.Keep(keep)
}

// selects reports whether one selector names the check.
func selects(sel string, c *rules.Compiled) bool {
	if tag, ok := strings.CutPrefix(sel, "tag:"); ok {
		return slices.Contains(c.Tags, tag)
	}
	id := c.ID()
	return sel == c.Kind.Name || sel == id || sel == baseID(id)
}

// baseID is a check's name without its for_each key: listener.web for
// listener.web["https"].
func baseID(id string) string {
	if i := strings.Index(id, "["); i > 0 {
		return id[:i]
	}
	return id
}

// noMatch is the usage error for a selector that matches no check, with
// the nearest names the policy has.
func noMatch(flagName, sel string, all []*rules.Compiled) error {
	var names []string
	add := func(n string) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, c := range all {
		if strings.HasPrefix(sel, "tag:") {
			for _, t := range c.Tags {
				add("tag:" + t)
			}
			continue
		}
		add(c.Kind.Name)
		add(baseID(c.ID()))
		add(c.ID())
	}
	what := "no check of the policy is named so or of that kind"
	if strings.HasPrefix(sel, "tag:") {
		what = "no check of the policy has that tag"
	}
	msg := fmt.Sprintf("%s %s: %s (a selector is kind.name, kind or tag:TAG)", flagName, sel, what)
	if near := cli.Nearest(sel, names, 3); len(near) > 0 {
		msg += "; nearest: " + strings.Join(near, ", ")
	} else if len(names) > 0 {
		slices.Sort(names)
		msg += "; for example: " + strings.Join(names[:min(len(names), 5)], ", ")
	}
	return fmt.Errorf("%s", msg)
}
