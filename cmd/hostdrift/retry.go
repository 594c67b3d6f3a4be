package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/hostdrift/hostdrift/agent/survey"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

// retry is check's --retry-timeout and --sleep: for an assertion made right
// after a change (a handler restarted a service that is still starting),
// the checks that fail or cannot be evaluated are judged again, from a new
// reading of the collectors they need (and of those whose readings hold
// only with them), until they pass or the time is up, as goss's flags of
// the same names do.
type retry struct {
	timeout time.Duration // 0: judge once
	sleep   time.Duration // between attempts
}

// run re-judges the failing checks of findings (judged from snap by plan)
// until none fails or errs, or until another attempt would start after
// started+timeout, or the run is stopped. Each attempt reads again what the
// failing checks need, with what holds only with it (rereadCollectors), and
// judges them from those readings alone; each replaces the one in snap, so
// the snapshot judged holds every collector's last reading. Every finding
// of the plan's checks gets its attempts.
func (r retry) run(ctx context.Context, live liveFlags, plan *rules.Plan, snap *snapshot.Snapshot, findings []finding.Finding, started time.Time) []finding.Finding {
	if r.timeout <= 0 {
		return findings
	}
	at := map[string]int{}
	for i := range findings {
		if i < len(plan.Checks) { // after them: disabled checks, not judged
			findings[i].Attempts = 1
			at[findings[i].Check] = i
		}
	}
	byID := map[string]*rules.Compiled{}
	for _, c := range plan.Checks {
		byID[c.ID()] = c
	}
	deadline := started.Add(r.timeout)
	for {
		var failing []*rules.Compiled
		for _, c := range plan.Checks {
			if s := findings[at[c.ID()]].Status; s == finding.Fail || s == finding.Error {
				failing = append(failing, c)
			}
		}
		if len(failing) == 0 || time.Now().Add(r.sleep).After(deadline) {
			return findings
		}
		select {
		case <-time.After(r.sleep):
		case <-ctx.Done():
			return findings
		}
		failed := *plan
		failed.Checks, failed.Disabled = failing, nil
		fresh := newSnapshot(live.root)
		fresh.Host = snap.Host
		if st, ok := snap.Collector(snapshot.CollectorHost); ok {
			fresh.Collectors = []snapshot.CollectorStatus{st} // the facts are not read again
		}
		// The whole plan's wants: the collectors' new readings replace the
		// old ones whole, and must still answer the checks that passed.
		needs := rereadCollectors(plan, failed.Needs())
		survey.Run(ctx, fresh, live.options(), survey.Fixed(survey.Step{Collectors: needs, Wants: plan.Wants()}))
		if ctx.Err() != nil {
			// Stopped (a signal or --timeout): the collectors did not finish
			// and are no evidence; the last complete judgement stands.
			return findings
		}
		// Judged from this attempt's readings alone: nothing read at an
		// earlier attempt (a firewall a probe would be set against) is
		// current any more.
		for _, f := range failed.Evaluate(fresh, time.Now()) {
			i := at[f.Check]
			f.Attempts = findings[i].Attempts + 1
			findings[i] = f
		}
		for _, name := range needs {
			snap.CopyReading(fresh, name)
		}
	}
}

// checkRetry validates --retry-timeout and --sleep against the other flags
// of fs. Without an explicit --timeout, the run's own deadline is raised by
// the retry time, so the default one does not cut the retries short.
func (c *checkCmd) checkRetry(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case c.retry.timeout > 0 && c.snapPath != "":
		return fmt.Errorf("--retry-timeout re-reads the live host; a saved --snapshot does not change")
	case c.retry.timeout == 0 && set["sleep"]:
		return fmt.Errorf("--sleep is the wait between attempts of --retry-timeout, which is not given")
	case c.retry.timeout > 0 && set["timeout"] && c.live.timeout > 0 && c.live.timeout <= c.retry.timeout:
		return fmt.Errorf("--timeout %s ends the run before --retry-timeout %s is up: make --timeout longer, or leave it out", c.live.timeout, c.retry.timeout)
	}
	if c.retry.timeout > 0 && !set["timeout"] {
		c.live.timeout += c.retry.timeout
	}
	return nil
}
