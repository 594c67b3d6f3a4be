package serve

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/agent/watch"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

// A burst of events (a ufw reload sends hundreds) is one evaluation: its
// batch comes out once coalesceQuiet has passed without another event, and
// at the latest coalesceMax after its first event.
const (
	coalesceQuiet = 300 * time.Millisecond
	coalesceMax   = 2 * time.Second
)

// Watcher starts the event sources a plan needs, and starts them again
// when a reloaded policy reads other collectors or files.
type Watcher struct {
	// Env is the audited host's environment (root, network namespace).
	Env agent.Env
	// PolicyPaths are the files and folders whose change reloads the policy.
	PolicyPaths []string
	// ListenersEvery and LegacyEvery are the polls' intervals; the DNS
	// poll waits the smallest TTL of the last answers, within DNSMin and
	// DNSMax.
	ListenersEvery, LegacyEvery time.Duration
	DNSMin, DNSMax              time.Duration
	Server                      *Server
	Log                         *Log

	ttl    atomic.Uint32
	opts   watch.Options
	cancel context.CancelFunc
}

// MinTTL records the smallest TTL of the last DNS answers (seconds).
func (w *Watcher) MinTTL(ttl uint32) { w.ttl.Store(ttl) }

// Subscribe returns the batches of the sources plan needs, or nil when the
// sources already running are those. Each event is counted on the server
// as it comes, before its burst is folded.
func (w *Watcher) Subscribe(ctx context.Context, plan *rules.Plan) <-chan []watch.Event {
	opts := watch.Options{
		Env:            w.Env,
		PolicyPaths:    w.PolicyPaths,
		Files:          wantedFiles(plan),
		ListenersEvery: w.ListenersEvery,
		LegacyEvery:    w.LegacyEvery,
		Collectors:     append(plan.Needs(), snapshot.CollectorHost),
	}
	slices.Sort(opts.Files)
	slices.Sort(opts.Collectors)
	if w.cancel != nil && slices.Equal(opts.Files, w.opts.Files) && slices.Equal(opts.Collectors, w.opts.Collectors) {
		return nil
	}
	if slices.Contains(opts.Collectors, snapshot.CollectorDNS) {
		opts.DNSNext = func() time.Duration { return dnsWait(w.ttl.Load(), w.DNSMin, w.DNSMax) }
	}
	if w.cancel != nil {
		w.cancel()
		w.Log.Message("the policy reads other areas or files now: restarting the event sources")
	}
	sctx, cancel := context.WithCancel(ctx)
	w.opts, w.cancel = opts, cancel
	events, errs := watch.Start(sctx, opts)
	for _, e := range errs {
		w.Log.Message("event source: %v", e)
	}
	counted := make(chan watch.Event)
	go func() {
		defer close(counted)
		for ev := range events {
			w.Server.Event(ev.Source)
			counted <- ev
		}
	}()
	return watch.Coalesce(counted, coalesceQuiet, coalesceMax)
}

// wantedFiles are the files the plan's file checks read.
func wantedFiles(plan *rules.Plan) []string {
	w := plan.Wants()
	out := slices.Clone(w.Files)
	for _, f := range w.FileContent {
		out = append(out, f.Path)
	}
	return out
}

// dnsWait is how long the DNS poll waits: the smallest TTL of the last
// answers (seconds), within [lo, hi]; lo when there were none.
func dnsWait(ttl uint32, lo, hi time.Duration) time.Duration {
	return max(lo, min(time.Duration(ttl)*time.Second, hi))
}
