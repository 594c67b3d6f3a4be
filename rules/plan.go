package rules

import "slices"

// Keep returns the plan narrowed to the checks keep accepts, disabled
// checks included: what --only and --skip select, what a retry judges
// again. The plan itself is not changed.
func (p *Plan) Keep(keep func(*Compiled) bool) *Plan {
	out := *p
	out.Checks = nil
	for _, c := range p.Checks {
		if keep(c) {
			out.Checks = append(out.Checks, c)
		}
	}
	out.Disabled = nil
	for _, d := range p.Disabled {
		if keep(d.Check) {
			out.Disabled = append(out.Disabled, d)
		}
	}
	return &out
}

// Reading returns the part of the plan whose checks read any of
// collectors: the checks to judge again once those were read again.
// Disabled checks are left out: nothing about them changes with a reading.
func (p *Plan) Reading(collectors []string) *Plan {
	out := p.Keep(func(c *Compiled) bool {
		return slices.ContainsFunc(c.Needs(), func(n string) bool { return slices.Contains(collectors, n) })
	})
	out.Disabled = nil
	return out
}

// Needs lists the collectors the check reads.
func (c *Compiled) Needs() []string { return c.needs() }

// Text maps each of the policy's files to its text: what diagnostics are
// printed with, to show the lines they are about.
func (p *Policy) Text() map[string][]byte {
	out := make(map[string][]byte, len(p.Files))
	for name, f := range p.Files {
		out[name] = f.Bytes
	}
	return out
}
