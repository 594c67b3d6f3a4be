package serve

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

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/agent/watch"
	"github.com/hostdrift/hostdrift/internal/audit"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/report/diagtext"
	"github.com/hostdrift/hostdrift/internal/report/reportdir"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

// Loop is hostdrift serve's state between events: the policy, the run
// (the plan compiled against the host's facts and the last reading of
// every collector it needs) and the findings judged from it. It holds one
// of each, never a history (the server keeps the last day's transitions
// for the page, bounded), so its memory does not grow with events. Every
// reading and judgement goes through internal/audit, as check's do.
type Loop struct {
	// Host is how the host is read.
	Host audit.Host
	// Load reads and validates the policy, at the start and whenever its
	// files change; its error says in words why it does not load.
	Load func() (*rules.Policy, *rules.Variables, error)
	// Server shows the state; Log gets the transitions and messages.
	Server *Server
	Log    *Log
	// ReportDir, when set, gets a JSON report on every evaluation with a
	// transition; the newest Keep are kept (0: all).
	ReportDir string
	Keep      int
	// MinTTL, when set, is told the smallest TTL of each DNS reading in
	// seconds (0: none): the DNS poll waits that long.
	MinTTL func(uint32)
	// Batches are the coalesced events the loop evaluates. Counted says
	// they were counted on the server as they came, before the coalescer
	// folded their bursts.
	Batches <-chan []watch.Event
	Counted bool
	// Resubscribe, when set, starts the event sources again if plan reads
	// other areas or files than the running ones watch, and points
	// Batches at their events.
	Resubscribe func(plan *rules.Plan)

	pol      *rules.Policy
	vs       *rules.Variables
	run      *audit.Run
	findings []finding.Finding
	// hashes fingerprint each collector's last reading (section and
	// status, not its timing), so an event that changed nothing costs no
	// judgement.
	hashes               map[string][sha256.Size]byte
	lastChange, lastEval map[string]time.Time
	policyErr            string
	// evalStarted and evalTook are the last evaluation's start and length,
	// the report's started_at and duration_ms.
	evalStarted time.Time
	evalTook    time.Duration
}

// LoadError is a policy that does not load at the start; Diagnostics say
// why, with the policy's lines.
type LoadError struct{ Diagnostics string }

func (e *LoadError) Error() string { return "the policy does not load" }

// Start loads the policy and judges the whole host once. An error means
// serve cannot start: the policy does not load (a *LoadError) or does not
// fit the host.
func (a *Loop) Start(ctx context.Context) error {
	pol, vs, err := a.Load()
	if err != nil {
		return &LoadError{Diagnostics: err.Error()}
	}
	a.pol, a.vs = pol, vs
	a.hashes = map[string][sha256.Size]byte{}
	a.lastChange, a.lastEval = map[string]time.Time{}, map[string]time.Time{}
	return a.full(ctx, nil, true)
}

// full reads every collector the plan needs, after compiling the policy
// against the host's facts read again, and judges every check. On the
// first evaluation (first), only the checks that do not pass are logged.
func (a *Loop) full(ctx context.Context, batch []watch.Event, first bool) error {
	started := time.Now()
	req := audit.Request{Policy: a.pol, Vars: a.vs}
	if first {
		// At startup the sources start once the plan is known and before
		// the areas it reads are: a change made meanwhile is then an
		// event, not lost until the daily full reading (a reload
		// subscribes before calling full).
		req.Compiled = a.Resubscribe
	}
	run, diags := audit.Read(ctx, a.Host, req)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := audit.UnreadFacts(run.Snap); err != nil {
		return fmt.Errorf("nothing was judged: %v", err)
	}
	if diags.HasErrors() {
		return fmt.Errorf("the policy does not fit this host's facts: %s", describe(a.pol, diags))
	}
	a.run = run
	for _, st := range run.Snap.Collectors {
		a.noteReading(st.Name, started)
	}
	a.commit(run.Judge(time.Now()), batch, first, started)
	return nil
}

// describe renders diagnostics with the lines of the policy they are about.
func describe(pol *rules.Policy, diags hcl.Diagnostics) string {
	var b bytes.Buffer
	diagtext.Write(&b, pol.Text(), diags)
	return strings.TrimSpace(b.String())
}

// noteReading records that collector was read at t, and whether its
// reading differs from the one before; it reports whether it did.
func (a *Loop) noteReading(collector string, t time.Time) bool {
	h := readingHash(a.run.Snap, collector)
	a.lastEval[collector] = t
	prev, seen := a.hashes[collector]
	if seen && prev == h {
		return false
	}
	a.hashes[collector] = h
	a.lastChange[collector] = t
	if collector == snapshot.CollectorDNS && a.MinTTL != nil {
		a.MinTTL(smallestTTL(a.run.Snap.DNS))
	}
	return true
}

// readingHash fingerprints one collector's reading: its section and its
// status without when it was read and how long that took.
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

// Handle evaluates one coalesced batch of events.
func (a *Loop) Handle(ctx context.Context, batch []watch.Event) {
	if !a.Counted {
		for _, ev := range batch {
			a.Server.Event(ev.Source)
		}
	}
	if i := slices.IndexFunc(batch, func(e watch.Event) bool { return e.Policy }); i >= 0 {
		a.reload(ctx, batch, batch[i])
		return
	}
	needs := a.run.Plan.Needs()
	var stale []string
	for _, ev := range batch {
		if ev.Err != nil {
			a.Log.Message("event source %s stopped watching: %v", ev.Source, ev.Err)
		}
		for _, c := range ev.Collectors {
			if (c == snapshot.CollectorHost || slices.Contains(needs, c)) && !slices.Contains(stale, c) {
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
func (a *Loop) reload(ctx context.Context, batch []watch.Event, ev watch.Event) {
	pol, vs, err := a.Load()
	if err != nil {
		a.policyFailed(ev, err.Error())
		return
	}
	plan, diags := pol.Compile(&a.run.Snap.Host, vs)
	if diags.HasErrors() {
		a.policyFailed(ev, "the policy does not fit this host's facts: "+describe(pol, diags))
		return
	}
	// The sources for the new plan watch before it is read: a change
	// after this is an event, one before it is in the reading.
	if a.Resubscribe != nil {
		a.Resubscribe(plan)
	}
	prev, prevVars := a.pol, a.vs
	a.pol, a.vs = pol, vs
	if err := a.full(ctx, batch, false); err != nil {
		a.pol, a.vs = prev, prevVars
		a.policyFailed(ev, err.Error())
		return
	}
	if a.policyErr != "" {
		a.Log.Message("policy reloaded (%s); the previous error is resolved", ev.Detail)
	} else {
		a.Log.Message("policy reloaded (%s)", ev.Detail)
	}
	a.policyErr = ""
	a.publish()
}

func (a *Loop) policyFailed(ev watch.Event, why string) {
	a.policyErr = why
	a.Log.Message("policy reload failed (%s), the previous policy is still judged: %s", ev.Detail, why)
	a.publish()
}

// partial reads the stale collectors again, with the host's facts and
// every reading that holds only with theirs, and judges the checks that
// read any whose reading changed. If the facts changed, the policy is
// compiled again and everything is read and judged.
func (a *Loop) partial(ctx context.Context, batch []watch.Event, stale []string) {
	started := time.Now()
	// The facts are read with every evaluation: the plan is compiled
	// against them, so an event about them always counts.
	if !slices.Contains(stale, snapshot.CollectorHost) {
		stale = append(stale, snapshot.CollectorHost)
	}
	fresh, read := a.run.Reread(ctx, a.Host, stale)
	if fresh == nil {
		return // stopped: the readings are no evidence
	}
	if readingHash(fresh, snapshot.CollectorHost) != a.hashes[snapshot.CollectorHost] {
		if err := a.full(ctx, batch, false); err != nil {
			a.Log.Message("the host's facts changed and %v; the previous judgement stands", err)
		}
		return
	}
	a.lastEval[snapshot.CollectorHost] = started
	read = slices.DeleteFunc(read, func(c string) bool { return c == snapshot.CollectorHost })
	a.run.Merge(fresh, read)
	var changed []string
	for _, c := range read {
		if a.noteReading(c, started) {
			changed = append(changed, c)
		}
	}
	if len(changed) == 0 {
		a.Server.Evaluated()
		a.publish() // the evaluation timestamps moved
		return
	}
	a.commit(a.run.Rejudge(a.findings, changed, time.Now()), batch, false, started)
}

// commit makes fs the current findings: it logs the transitions from the
// previous ones, writes a report to ReportDir when there was one, and
// hands the new state to the server.
func (a *Loop) commit(fs []finding.Finding, batch []watch.Event, first bool, started time.Time) {
	a.Server.Evaluated()
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
			a.transition(f.Check, from, string(f.Status), a.cause(f.Check, batch), f.Explanation)
			transitions++
		}
	}
	for _, f := range a.findings {
		if !now[f.Check] {
			a.transition(f.Check, string(f.Status), "removed", a.cause(f.Check, batch), "the check is no longer in the policy")
			transitions++
		}
	}
	a.findings = fs
	a.evalStarted, a.evalTook = started, time.Since(started)
	rep := a.publish()
	if transitions > 0 && a.ReportDir != "" {
		_, err := reportdir.Write(a.ReportDir, started, 0o640, func(w io.Writer) error {
			return report.Render(w, "json", rep, report.Options{})
		})
		if err != nil {
			a.Log.Message("report folder %s: %v", a.ReportDir, err)
		} else if err := reportdir.Prune(a.ReportDir, a.Keep); err != nil {
			a.Log.Message("warning: report folder %s: %v", a.ReportDir, err)
		}
	}
}

// transition logs one transition of a finding and keeps it for the page.
func (a *Loop) transition(check, from, to, cause, explanation string) {
	t := report.Transition{Time: time.Now().UTC(), Check: check, From: from, To: to, Cause: cause, Explanation: explanation}
	a.Log.Transition(t)
	a.Server.Transition(t)
}

// cause names the event of the batch that made check be judged again: the
// first whose collectors it reads, else the first of the batch.
func (a *Loop) cause(check string, batch []watch.Event) string {
	if len(batch) == 0 {
		return "startup"
	}
	var needs []string
	if i := slices.IndexFunc(a.run.Plan.Checks, func(c *rules.Compiled) bool { return c.ID() == check }); i >= 0 {
		needs = a.run.Plan.Checks[i].Needs()
	}
	ev := batch[0]
	for _, e := range batch {
		if e.Policy || slices.ContainsFunc(e.Collectors, func(c string) bool { return slices.Contains(needs, c) }) {
			ev = e
			break
		}
	}
	if ev.Detail == "" {
		return ev.Source
	}
	return ev.Source + ": " + ev.Detail
}

// publish hands the current state to the server and returns the report it
// shows.
func (a *Loop) publish() *report.Report {
	rep := report.New(a.run.Snap, a.findings, a.pol.Sources, a.evalStarted, a.evalTook)
	a.Server.Set(State{
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

// Run evaluates each batch until ctx ends or Batches closes: one
// evaluation at a time, since the loop is the only one to judge.
func (a *Loop) Run(ctx context.Context) {
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
				a.Log.Message("the daily full evaluation failed, the previous judgement stands: %v", err)
			}
		case <-release.C:
			debug.FreeOSMemory()
		case b, ok := <-a.Batches:
			if !ok {
				return
			}
			a.Handle(ctx, b)
			release.Reset(idleRelease)
		}
	}
}
