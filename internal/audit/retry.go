package audit

import (
	"context"
	"slices"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/rules"
)

// Retry is check's --retry-timeout and --sleep: for an assertion made
// right after a change (a handler restarted a service that is still
// starting), the checks that fail or cannot be evaluated are judged again,
// from a new reading of the collectors they need (and of those whose
// readings hold only with them), until they pass or the time is up, as
// goss's flags of the same names do.
type Retry struct {
	Timeout time.Duration // 0: judge once
	Sleep   time.Duration // between attempts
}

// Run re-judges the failing checks of findings (the run's judgement) until
// none fails or errs, until another attempt would start after
// started+Timeout, or until ctx ends. Each attempt reads again what the
// failing checks need (Reread) and judges them from those readings alone:
// nothing read at an earlier attempt (a firewall a probe would be set
// against) is current any more. Each new reading replaces the run's, so
// the snapshot holds every collector's last reading. Every finding of the
// plan's checks gets its attempts.
func (rt Retry) Run(ctx context.Context, h Host, r *Run, findings []finding.Finding, started time.Time) []finding.Finding {
	if rt.Timeout <= 0 {
		return findings
	}
	judged := len(r.Plan.Checks) // after them: disabled checks, not judged
	for i := range findings[:judged] {
		findings[i].Attempts = 1
	}
	deadline := started.Add(rt.Timeout)
	for {
		failing := map[string]bool{}
		for _, f := range findings[:judged] {
			if f.Status == finding.Fail || f.Status == finding.Error {
				failing[f.Check] = true
			}
		}
		if len(failing) == 0 || time.Now().Add(rt.Sleep).After(deadline) {
			return findings
		}
		select {
		case <-time.After(rt.Sleep):
		case <-ctx.Done():
			return findings
		}
		failed := r.Plan.Keep(func(c *rules.Compiled) bool { return failing[c.ID()] })
		failed.Disabled = nil
		fresh, read := r.Reread(ctx, h, failed.Needs())
		if fresh == nil {
			// Stopped (a signal or --timeout): the collectors did not finish
			// and are no evidence; the last complete judgement stands.
			return findings
		}
		again := failed.Evaluate(fresh, time.Now())
		for i := range again {
			j := slices.IndexFunc(findings, func(f finding.Finding) bool { return f.Check == again[i].Check })
			again[i].Attempts = findings[j].Attempts + 1
		}
		findings = Replace(findings, again)
		r.Merge(fresh, read)
	}
}
