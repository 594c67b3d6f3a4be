package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/hostdrift/hostdrift/agent/survey"
	"github.com/hostdrift/hostdrift/agent/watch"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/report/reportdir"
	"github.com/hostdrift/hostdrift/internal/serve"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

// agentLoop is hostdrift serve's state between events: the policy, the
// plan compiled against the host's facts, the last reading of every
// collector the plan needs and the findings judged from it. It holds one
// of each, never a history, so its memory does not grow with events.
type agentLoop struct {
	live   liveFlags
	policy policyFlags
	vars   *varOptions
	extra  extraOutputs
	srv    *serve.Server
	log    *eventLog

	pol      *rules.Policy
	vs       *rules.Variables
	plan     *rules.Plan
	snap     *snapshot.Snapshot
	findings []finding.Finding
	// hashes fingerprint each collector's last reading (section and
	// status, not its duration), so an event that changed nothing costs no
	// judgement.
	hashes               map[string][sha256.Size]byte
	lastChange, lastEval map[string]time.Time
	policyErr            string
	// minTTL is the smallest TTL of the last DNS reading, in seconds (0:
	// none); the DNS poll waits that long, within --dns-min and --dns-max.
	minTTL func(uint32)
	// evalStarted and evalTook are the last evaluation's start and length,
	// the report's started_at and duration_ms.
	evalStarted time.Time
	evalTook    time.Duration
	// counted is set when the events were counted as they came, before
	// the coalescer folded their bursts.
	counted bool
	// batches are the coalesced events the loop evaluates.
	batches <-chan []watch.Event
	// resubscribe, when set, starts the event sources again if plan reads
	// other areas or files than the running ones watch, and points batches
	// at their events.
	resubscribe func(plan *rules.Plan)
}

// start loads the policy and judges the whole host once. An error means
// serve cannot start: the policy does not load or does not fit the host.
func (a *agentLoop) start(ctx context.Context, stderr io.Writer) error {
	pol, vs := loadPolicy(a.policy, a.vars, nil, stderr)
	if pol == nil {
		return fmt.Errorf("the policy does not load")
	}
	a.pol, a.vs = pol, vs
	a.hashes = map[string][sha256.Size]byte{}
	a.lastChange, a.lastEval = map[string]time.Time{}, map[string]time.Time{}
	return a.full(ctx, nil, true)
}

// full reads every collector the plan needs, after compiling the policy
// against the host's facts read again, and judges every check. On the
// first evaluation (first), only the checks that do not pass are logged.
func (a *agentLoop) full(ctx context.Context, batch []watch.Event, first bool) error {
	started := time.Now()
	a.live.ctx = ctx
	// At startup the sources start once the plan is known and before
	// the areas it reads are: a change made meanwhile is then an event,
	// not lost until the daily full reading (a reload subscribes before
	// calling full).
	watchFirst := func(p *rules.Plan) *rules.Plan {
		if first && a.resubscribe != nil {
			a.resubscribe(p)
		}
		return p
	}
	snap, plan, diags := surveyPolicy(a.live, a.pol, a.vs, nil, nil, watchFirst)
	if diags.HasErrors() {
		var b bytes.Buffer
		printDiagnostics(&b, a.pol, diags)
		return fmt.Errorf("the policy does not fit this host's facts: %s", strings.TrimSpace(b.String()))
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := unreadFacts(snap); err != nil {
		return err
	}
	a.plan = plan
	a.snap = snap
	for _, st := range snap.Collectors {
		a.noteReading(st.Name, started)
	}
	fs := plan.Evaluate(snap, time.Now())
	a.commit(fs, batch, first, started)
	return nil
}

// noteReading records that collector was read at t, and whether its
// reading differs from the one before; it reports whether it did.
func (a *agentLoop) noteReading(collector string, t time.Time) bool {
	h := readingHash(a.snap, collector)
	a.lastEval[collector] = t
	prev, seen := a.hashes[collector]
	if seen && prev == h {
		return false
	}
	a.hashes[collector] = h
	a.lastChange[collector] = t
	if collector == snapshot.CollectorDNS && a.minTTL != nil {
		a.minTTL(smallestTTL(a.snap.DNS))
	}
	return true
}

// readingHash fingerprints one collector's reading: its section and its
// status without the time it took.
func readingHash(s *snapshot.Snapshot, collector string) [sha256.Size]byte {
	one := &snapshot.Snapshot{}
	one.CopyReading(s, collector)
	for i := range one.Collectors {
		one.Collectors[i].DurationMS = 0
		one.Collectors[i].StartedAt = time.Time{}
	}
	// Streamed into the hash: a big host's firewall section is megabytes
	// of JSON, which need not be held at once.
	h := sha256.New()
	if err := json.NewEncoder(h).Encode(one); err != nil {
		return sha256.Sum256([]byte(err.Error()))
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// smallestTTL is the smallest TTL among the DNS answers (0 when none).
func smallestTTL(d *snapshot.DNS) uint32 {
	var min uint32
	see := func(ttl uint32) {
		if ttl > 0 && (min == 0 || ttl < min) {
			min = ttl
		}
	}
	if d == nil {
		return 0
	}
	for _, q := range d.Queries {
		for _, c := range q.CNAMEs {
			see(c.TTL)
		}
		for _, r := range q.Records {
			see(r.TTL)
		}
		for _, r := range q.Data {
			see(r.TTL)
		}
	}
	return min
}

// handle evaluates one coalesced batch of events.
func (a *agentLoop) handle(ctx context.Context, batch []watch.Event) {
	if !a.counted {
		for _, ev := range batch {
			a.srv.Event(ev.Source)
		}
	}
	if i := slices.IndexFunc(batch, func(e watch.Event) bool { return e.Policy }); i >= 0 {
		a.reload(ctx, batch, batch[i])
		return
	}
	// The host's facts are read with every evaluation (the plan is
	// compiled against them), so an event about them always counts.
	needs := append(a.plan.Needs(), snapshot.CollectorHost)
	var stale []string
	for _, ev := range batch {
		if ev.Err != nil {
			a.log.message("event source %s stopped watching: %v", ev.Source, ev.Err)
		}
		for _, c := range ev.Collectors {
			if slices.Contains(needs, c) && !slices.Contains(stale, c) {
				stale = append(stale, c)
			}
		}
	}
	if len(stale) == 0 {
		return // nothing the policy reads
	}
	a.partial(ctx, batch, stale)
}

// reload reads the policy again after a change to its files. A policy that
// does not load, or does not fit the host, is reported and the previous
// one kept.
func (a *agentLoop) reload(ctx context.Context, batch []watch.Event, ev watch.Event) {
	var b bytes.Buffer
	pol, vs := loadPolicy(a.policy, a.vars, nil, &b)
	if pol == nil {
		a.policyFailed(ev, strings.TrimSpace(b.String()))
		return
	}
	plan, diags := pol.Compile(&a.snap.Host, vs)
	if diags.HasErrors() {
		var d bytes.Buffer
		printDiagnostics(&d, pol, diags)
		a.policyFailed(ev, "the policy does not fit this host's facts: "+strings.TrimSpace(d.String()))
		return
	}
	// The sources for the new plan watch before it is read: a change
	// after this is an event, one before it is in the reading.
	if a.resubscribe != nil {
		a.resubscribe(plan)
	}
	prev, prevVars := a.pol, a.vs
	a.pol, a.vs = pol, vs
	if err := a.full(ctx, batch, false); err != nil {
		a.pol, a.vs = prev, prevVars
		a.policyFailed(ev, err.Error())
		return
	}
	if a.policyErr != "" {
		a.log.message("policy reloaded (%s); the previous error is resolved", ev.Detail)
	} else {
		a.log.message("policy reloaded (%s)", ev.Detail)
	}
	a.policyErr = ""
	a.publish()
}

func (a *agentLoop) policyFailed(ev watch.Event, why string) {
	a.policyErr = why
	a.log.message("policy reload failed (%s), the previous policy is still judged: %s", ev.Detail, why)
	a.publish()
}

// partial reads the stale collectors again, with those whose readings hold
// only with them (rereadCollectors), and judges the checks that read any
// whose reading changed. The host's facts are read with them; if they
// changed, the policy is compiled again and everything is read and judged.
func (a *agentLoop) partial(ctx context.Context, batch []watch.Event, stale []string) {
	started := time.Now()
	fresh := newSnapshot(a.live.root)
	stale = slices.DeleteFunc(stale, func(c string) bool { return c == snapshot.CollectorHost }) // read first anyway
	stale = rereadCollectors(a.plan, stale)
	survey.Run(ctx, fresh, a.live.options(), survey.Fixed(survey.Step{Collectors: stale, Wants: a.plan.Wants()}))
	if ctx.Err() != nil {
		return // stopped: the readings are no evidence
	}
	if readingHash(fresh, snapshot.CollectorHost) != a.hashes[snapshot.CollectorHost] {
		if err := a.full(ctx, batch, false); err != nil {
			a.log.message("the host's facts changed and %v; the previous judgement stands", err)
		}
		return
	}
	a.lastEval[snapshot.CollectorHost] = started
	var changed []string
	for _, c := range stale {
		a.snap.CopyReading(fresh, c)
		if a.noteReading(c, started) {
			changed = append(changed, c)
		}
	}
	if len(changed) == 0 {
		a.srv.Evaluated()
		a.publish() // the evaluation timestamps moved
		return
	}
	sub := checksReading(a.plan, changed)
	fs := slices.Clone(a.findings)
	at := map[string]int{}
	for i, f := range fs {
		at[f.Check] = i
	}
	for _, f := range sub.Evaluate(a.snap, time.Now()) {
		if i, ok := at[f.Check]; ok {
			fs[i] = f
		} else {
			fs = append(fs, f)
		}
	}
	a.commit(fs, batch, false, started)
}

// checkNeeds lists the collectors one check reads.
func checkNeeds(c *rules.Compiled) []string {
	return (&rules.Plan{Checks: []*rules.Compiled{c}}).Needs()
}

func intersects(a, b []string) bool {
	return slices.ContainsFunc(a, func(s string) bool { return slices.Contains(b, s) })
}

// commit makes fs the current findings: it logs the transitions from the
// previous ones, writes a report to --report-dir when there was one, and
// hands the new state to the HTTP server.
func (a *agentLoop) commit(fs []finding.Finding, batch []watch.Event, first bool, started time.Time) {
	a.srv.Evaluated()
	prev := map[string]finding.Status{}
	for _, f := range a.findings {
		prev[f.Check] = f.Status
	}
	transitions := 0
	now := make(map[string]bool, len(fs))
	for _, f := range fs {
		now[f.Check] = true
		old, had := prev[f.Check]
		switch {
		case first && f.Status == finding.Pass:
		case had && old == f.Status:
		default:
			from := string(old)
			if !had {
				from = "none"
			}
			a.log.transition(f.Check, from, string(f.Status), a.cause(f.Check, batch), f.Explanation)
			transitions++
		}
	}
	for _, f := range a.findings {
		if !now[f.Check] {
			a.log.transition(f.Check, string(f.Status), "removed", a.cause(f.Check, batch), "the check is no longer in the policy")
			transitions++
		}
	}
	a.findings = fs
	a.evalStarted, a.evalTook = started, time.Since(started)
	rep := a.publish()
	if transitions > 0 && a.extra.reportDir != "" {
		_, err := reportdir.Write(a.extra.reportDir, started, 0o640, func(w io.Writer) error {
			return report.Render(w, "json", rep, report.Options{})
		})
		if err != nil {
			a.log.message("report folder %s: %v", a.extra.reportDir, err)
		} else if err := reportdir.Prune(a.extra.reportDir, a.extra.keep); err != nil {
			a.log.message("warning: report folder %s: %v", a.extra.reportDir, err)
		}
	}
}

// cause names the event of the batch that made check be judged again: the
// first whose collectors it reads, else the first of the batch.
func (a *agentLoop) cause(check string, batch []watch.Event) string {
	if len(batch) == 0 {
		return "startup"
	}
	var needs []string
	if i := slices.IndexFunc(a.plan.Checks, func(c *rules.Compiled) bool { return c.ID() == check }); i >= 0 {
		needs = checkNeeds(a.plan.Checks[i])
	}
	ev := batch[0]
	for _, e := range batch {
		if e.Policy || intersects(e.Collectors, needs) {
			ev = e
			break
		}
	}
	if ev.Detail == "" {
		return ev.Source
	}
	return ev.Source + ": " + ev.Detail
}

// publish hands the current state to the HTTP server and returns the
// report it shows.
func (a *agentLoop) publish() *report.Report {
	rep := report.New(a.snap, a.findings, a.pol.Sources, a.evalStarted, a.evalTook)
	a.srv.Set(serve.State{
		Report:         rep,
		LastChange:     copyTimes(a.lastChange),
		LastEvaluation: copyTimes(a.lastEval),
		PolicyError:    a.policyErr,
	})
	return rep
}

func copyTimes(m map[string]time.Time) map[string]time.Time {
	out := make(map[string]time.Time, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// idleRelease is how long after an evaluation, with no batch since, the
// loop hands the memory the evaluation freed back to the system: a big
// host's readings are tens of megabytes, and the Go runtime would keep the
// peak of the last evaluation resident while nothing happens.
const idleRelease = 2 * time.Second

// fullEvery is how often the whole host is read and judged again whatever
// the events said: waivers expire with time, not with an event, and a
// source that missed a change (a dropped netlink message) is caught up.
const fullEvery = 24 * time.Hour

// run evaluates each batch until ctx ends or batches closes: one
// evaluation at a time, since the loop is the only one to judge.
func (a *agentLoop) run(ctx context.Context) {
	release := time.NewTimer(idleRelease)
	defer release.Stop()
	daily := time.NewTicker(fullEvery)
	defer daily.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-daily.C:
			if err := a.full(ctx, []watch.Event{{Source: "timer", Detail: "the daily full evaluation"}}, false); err != nil {
				a.log.message("the daily full evaluation failed, the previous judgement stands: %v", err)
			}
		case <-release.C:
			debug.FreeOSMemory()
		case b, ok := <-a.batches:
			if !ok {
				return
			}
			a.handle(ctx, b)
			release.Reset(idleRelease)
		}
	}
}
