// Package survey reads the host for one run, in the order a run needs: the
// host's facts first, then what a plan made from them asks for, each
// collector at most once. check, snapshot, policy init and explain all read
// the host through it.
package survey

import (
	"context"
	"slices"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Step is what one stage of a survey reads: the collectors to run and what
// they are asked about.
type Step struct {
	Collectors []string
	Wants      snapshot.Wants
}

// Next decides a survey's next step from what it has read so far (the
// host's facts at least). It returns false to end the survey: the caller's
// plan could not be made, and it says why through its own means.
type Next func(s *snapshot.Snapshot) (Step, bool)

// Run fills snap: the host collector first, then each step in turn. A
// collector that already ran in this snapshot is not run again. opts gives
// the environment and deadline; its Collectors are ignored. Run reports
// whether every step was made.
func Run(ctx context.Context, snap *snapshot.Snapshot, opts agent.Options, next ...Next) bool {
	collect(ctx, snap, opts, Step{Collectors: []string{snapshot.CollectorHost}})
	for _, n := range next {
		step, ok := n(snap)
		if !ok {
			return false
		}
		collect(ctx, snap, opts, step)
	}
	return true
}

// Fixed is a step that does not depend on what was read before.
func Fixed(step Step) Next {
	return func(*snapshot.Snapshot) (Step, bool) { return step, true }
}

func collect(ctx context.Context, snap *snapshot.Snapshot, opts agent.Options, step Step) {
	var names []string
	for _, n := range step.Collectors {
		if _, ran := snap.Collector(n); !ran && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return
	}
	opts.Collectors = names
	opts.Env.Wants = step.Wants
	agent.Run(ctx, snap, opts)
}
