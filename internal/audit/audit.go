// Package audit is how a run of hostdrift goes: the host's facts read
// first, the policy compiled against them, the collectors its checks need
// read, the checks judged; and then, for --retry-timeout and serve, some
// collectors read again (with every reading that holds only with theirs)
// and the checks that read them judged again. check, snapshot, serve, the
// retries and the tests' harness all run through it; cmd/hostdrift keeps
// the flags, the wiring, the rendering and the exit codes.
package audit

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/agent/survey"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

// Host says how the host is read: the collectors' environment (root,
// network namespace) and deadline, and the version stamped on snapshots.
type Host struct {
	Options agent.Options
	Version string
}

// NewSnapshot is an empty snapshot of the host, taken now.
func (h Host) NewSnapshot() *snapshot.Snapshot {
	s := &snapshot.Snapshot{Schema: snapshot.Schema, Version: h.Version, TakenAt: time.Now().UTC()}
	if root := h.Options.Env.Root; root != "" && root != "/" {
		s.Root = root
	}
	return s
}

// Request is what a reading is for.
type Request struct {
	Policy *rules.Policy
	Vars   *rules.Variables
	// Narrow, when set, narrows the compiled plan to the checks the run
	// judges (--only, --skip), or returns nil to read nothing more.
	Narrow func(*rules.Plan) *rules.Plan
	// Compiled, when set, is told the plan before any area is read: serve
	// starts its event sources there, so a change made during the reading
	// is an event and is not lost.
	Compiled func(*rules.Plan)
	// Collectors, when not nil, are read instead of those the plan needs
	// (hostdrift snapshot reads every collector, asked what the policy wants).
	Collectors []string
	// Baseline, when set: the collectors of its areas are read too and its
	// DNS questions asked again, so that a comparison is like for like.
	Baseline *snapshot.Snapshot
}

// Run is one judged reading of the host: the plan and the snapshot its
// checks read.
type Run struct {
	Plan *rules.Plan
	Snap *snapshot.Snapshot
}

// Read reads the host for req: the host's facts first, which the policy is
// compiled against, then the collectors its checks need, asked for what the
// checks want. The plan is nil when the facts could not be read (UnreadFacts
// says why), when the policy does not fit them (the diagnostics say why) or
// when Narrow ended the reading.
func Read(ctx context.Context, h Host, req Request) (*Run, hcl.Diagnostics) {
	r := &Run{Snap: h.NewSnapshot()}
	var diags hcl.Diagnostics
	survey.Run(ctx, r.Snap, h.Options, func(s *snapshot.Snapshot) (survey.Step, bool) {
		if UnreadFacts(s) != nil {
			return survey.Step{}, false // no plan on missing facts
		}
		plan, d := req.Policy.Compile(&s.Host, req.Vars)
		if diags = d; d.HasErrors() {
			return survey.Step{}, false
		}
		if req.Narrow != nil {
			if plan = req.Narrow(plan); plan == nil {
				return survey.Step{}, false
			}
		}
		r.Plan = plan
		if req.Compiled != nil {
			req.Compiled(plan)
		}
		step := survey.Step{Collectors: plan.Needs(), Wants: plan.Wants()}
		if req.Collectors != nil {
			step.Collectors = req.Collectors
		}
		if base := req.Baseline; base != nil {
			areas := snapshot.AreaCollectors()
			for _, a := range BaselineAreas(base) {
				step.Collectors = append(step.Collectors, areas[a])
			}
			if base.DNS != nil {
				for _, q := range base.DNS.Queries {
					step.Wants.DNS = append(step.Wants.DNS, q.DNSQuery)
				}
			}
		}
		return step, true
	})
	return r, diags
}

// Compile judges a saved snapshot instead of the live host: the policy is
// compiled against the snapshot's facts, narrowed as req says.
func Compile(snap *snapshot.Snapshot, req Request) (*Run, hcl.Diagnostics) {
	plan, diags := req.Policy.Compile(&snap.Host, req.Vars)
	if !diags.HasErrors() && req.Narrow != nil {
		plan = req.Narrow(plan)
	}
	if diags.HasErrors() {
		plan = nil
	}
	return &Run{Plan: plan, Snap: snap}, diags
}

// UnreadFacts says why the host's facts, which the policy is compiled
// against, were not read (the run's deadline expired first, the host
// collector failed); nil when they were. A policy compiled on them would
// judge an empty hostname and FQDN.
func UnreadFacts(s *snapshot.Snapshot) error {
	st, ok := s.Collector(snapshot.CollectorHost)
	if !ok {
		return fmt.Errorf("the host's facts (hostname, FQDN, addresses) were not read")
	}
	if st.Usable() {
		return nil
	}
	return fmt.Errorf("the host's facts (hostname, FQDN, addresses) could not be read: the host collector failed: %s", st.Reason)
}

// BaselineAreas lists the areas whose collector ran when the baseline was
// taken: only those are compared (an area the baseline never looked at is
// not drift).
func BaselineAreas(base *snapshot.Snapshot) []string {
	var out []string
	for area, collector := range snapshot.AreaCollectors() {
		if _, ran := base.Collector(collector); ran {
			out = append(out, area)
		}
	}
	slices.Sort(out)
	return out
}

// Judge judges the run's snapshot with its plan.
func (r *Run) Judge(now time.Time) []finding.Finding { return r.Plan.Evaluate(r.Snap, now) }

// Reread reads again, for the checks of plan (the run's plan or part of
// it), the stale collectors and every collector the run's plan needs whose
// reading holds only with one of them (the probes connect through the
// firewall), so that no check judges a new reading against an old one. The
// readings land in a new snapshot that carries the run's facts, which are
// not read again unless stale names the host collector. It returns that
// snapshot and the collectors read, or nil when ctx ended first: readings
// cut short are no evidence.
func (r *Run) Reread(ctx context.Context, h Host, stale []string) (*snapshot.Snapshot, []string) {
	read := agent.Dependents(stale, r.Plan.Needs())
	fresh := h.NewSnapshot()
	if !slices.Contains(read, snapshot.CollectorHost) {
		fresh.Host = r.Snap.Host
		if st, ok := r.Snap.Collector(snapshot.CollectorHost); ok {
			fresh.Collectors = []snapshot.CollectorStatus{st}
		}
	}
	// The whole plan's wants: a new reading replaces the old one whole,
	// and must still answer every check that reads it.
	survey.Run(ctx, fresh, h.Options, survey.Fixed(survey.Step{Collectors: read, Wants: r.Plan.Wants()}))
	if ctx.Err() != nil {
		return nil, nil
	}
	return fresh, read
}

// Merge makes fresh's readings of collectors the run's.
func (r *Run) Merge(fresh *snapshot.Snapshot, collectors []string) {
	for _, c := range collectors {
		r.Snap.CopyReading(fresh, c)
	}
}

// Rejudge judges again the checks of the run's plan that read any of
// collectors, and returns findings with theirs replaced (a check new to
// findings is added at the end).
func (r *Run) Rejudge(findings []finding.Finding, collectors []string, now time.Time) []finding.Finding {
	return Replace(findings, r.Plan.Reading(collectors).Evaluate(r.Snap, now))
}

// Replace returns findings with each finding of fresh in place of the one
// of the same check, or added at the end.
func Replace(findings, fresh []finding.Finding) []finding.Finding {
	out := slices.Clone(findings)
	at := make(map[string]int, len(out))
	for i, f := range out {
		at[f.Check] = i
	}
	for _, f := range fresh {
		if i, ok := at[f.Check]; ok {
			out[i] = f
		} else {
			out = append(out, f)
		}
	}
	return out
}

// Survey reads the host in the steps given (each decided from what was
// read before it, the host's facts first) without a policy: what explain
// and policy init read.
func Survey(ctx context.Context, h Host, steps ...survey.Next) *snapshot.Snapshot {
	snap := h.NewSnapshot()
	survey.Run(ctx, snap, h.Options, steps...)
	return snap
}
