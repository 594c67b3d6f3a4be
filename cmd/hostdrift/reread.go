package main

import (
	"slices"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/rules"
)

// rereadCollectors is what reading the stale collectors again takes for
// plan, in serve after an event and in check --retry-timeout between
// attempts: the stale ones, and every collector the plan needs whose
// reading holds only with one of them (the probes go through the
// firewall), so that no check judges a new reading against an old one.
func rereadCollectors(plan *rules.Plan, stale []string) []string {
	return agent.Dependents(stale, plan.Needs())
}

// checksReading is the part of plan whose checks read any of collectors:
// the checks to judge again once those were read again.
func checksReading(plan *rules.Plan, collectors []string) *rules.Plan {
	sub := *plan
	sub.Checks, sub.Disabled = nil, nil
	for _, c := range plan.Checks {
		if slices.ContainsFunc(checkNeeds(c), func(n string) bool { return slices.Contains(collectors, n) }) {
			sub.Checks = append(sub.Checks, c)
		}
	}
	return &sub
}
