// Package agent reads the host into a snapshot: a registry of collectors,
// what each declares it reads and follows (reads.go), and the runner that
// gives each its own deadline and records how it fared.
package agent

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
)

// Collector reads one area of the host. It never judges and never writes to
// the host. It returns its section of the snapshot, or an error saying what
// failed; a Skip error means the area does not exist here.
// A collector's name is the one it registers under (a snapshot.Collector*
// constant).
type Collector interface {
	Collect(ctx context.Context, env *Env) (snapshot.Section, error)
}

// Env is what a collector may know about the run.
type Env struct {
	// Root is the file system root for collectors that read files: "/" on the
	// live host, a mounted image or fixture tree otherwise.
	Root string
	// NetNS, when set, is a network namespace file (/run/netns/NAME) that
	// netlink-based collectors read instead of the caller's namespace.
	NetNS string
	// Wants lists what the policy asks about (DNS names, probes...), for
	// collectors that only look at what is asked.
	Wants snapshot.Wants
	// Earlier is what the collectors that finished before this one found
	// (the host's facts; the collectors it registered to run after), so that
	// nothing is read twice. Read it; never change it.
	Earlier *snapshot.Snapshot
	// facts are what several collectors of the run read (Users,
	// SystemdRuns), read once.
	facts *facts
}

// FS is the host's file tree below Root: the one way a collector opens,
// stats, lists, globs and reads links of the host's files, resolved inside
// the root, regular files only where a file is read, never blocking, and
// bounded.
func (e *Env) FS() *hostfs.FS { return hostfs.New(e.Root) }

// SkipError marks a collector that cannot run here for a reason that is not a
// fault: the feature is absent, the daemon is not installed.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return e.Reason }

// Skip returns an error that records the collector as skipped.
func Skip(format string, args ...any) error {
	return &SkipError{Reason: fmt.Sprintf(format, args...)}
}

// PartialError marks a collector that returned data but could not see
// everything; the reason says what is missing and what to do.
type PartialError struct{ Reason string }

func (e *PartialError) Error() string { return e.Reason }

// Partial returns an error that records the collector's data as incomplete.
func Partial(format string, args ...any) error {
	return &PartialError{Reason: fmt.Sprintf(format, args...)}
}

// registration is one collector's factory and the collectors whose sections
// it reads from Env.Earlier.
type registration struct {
	factory func() Collector
	after   []string
}

var (
	registryMu sync.Mutex
	registry   = map[string]registration{}
)

// Register adds a collector factory under its name (a snapshot.Collector*
// constant); collectors call it from init. A collector that uses another's
// section names it in after: when both run, it runs once the other has
// finished, and finds the section in Env.Earlier.
func Register(name string, factory func() Collector, after ...string) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("agent: collector registered twice: " + name)
	}
	registry[name] = registration{factory: factory, after: after}
}

// Dependents returns names and, among the collectors in among, every one
// whose reading depends on one of them, directly or through another: what
// must be read again with names so that the readings judged together are
// of one moment.
func Dependents(names, among []string) []string {
	on := map[string][]string{}
	for _, n := range among {
		on[n] = append(after(n), dependsOn(n)...)
	}
	out := slices.Clone(names)
	for grew := true; grew; {
		grew = false
		for _, n := range among {
			if slices.Contains(out, n) {
				continue
			}
			if slices.ContainsFunc(on[n], func(d string) bool { return slices.Contains(out, d) }) {
				out = append(out, n)
				grew = true
			}
		}
	}
	return out
}

// after lists the collectors the named one waits for.
func after(name string) []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	return registry[name].after
}

// Names lists the registered collectors, sorted.
func Names() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New returns a fresh instance of the named collector.
func New(name string) (Collector, bool) {
	registryMu.Lock()
	defer registryMu.Unlock()
	r, ok := registry[name]
	if !ok {
		return nil, false
	}
	return r.factory(), true
}

// Options configure one run.
type Options struct {
	Env Env
	// Collectors to run; all registered ones when empty.
	Collectors []string
	// Deadline for each collector; 10 s when zero.
	Deadline time.Duration
}

// DefaultDeadline is how long a collector may take unless told otherwise.
const DefaultDeadline = 10 * time.Second

// Run runs the collectors concurrently, each under its own deadline, and
// fills the snapshot with their sections and statuses. A collector that
// registered to run after another among them waits for it and reads its
// section in Env.Earlier. A collector's error, panic or overrun is recorded
// in its status and never stops the others.
func Run(ctx context.Context, snap *snapshot.Snapshot, opts Options) {
	names := opts.Collectors
	if len(names) == 0 {
		names = Names()
	}
	deadline := opts.Deadline
	if deadline <= 0 {
		deadline = DefaultDeadline
	}
	env := opts.Env
	env.facts = &facts{} // read once for the run's collectors
	for _, wave := range waves(names) {
		runWave(ctx, snap, wave, env, deadline)
	}
	sort.Slice(snap.Collectors, func(i, j int) bool { return snap.Collectors[i].Name < snap.Collectors[j].Name })
}

// waves orders the collectors into groups that run one after another: each
// collector in the first group whose collectors it waits for have run.
func waves(names []string) [][]string {
	pending := slices.Clone(names)
	done := map[string]bool{}
	var out [][]string
	for len(pending) > 0 {
		var wave, rest []string
		for _, n := range pending {
			ready := true
			for _, a := range after(n) {
				if slices.Contains(pending, a) && !done[a] {
					ready = false
				}
			}
			if ready {
				wave = append(wave, n)
			} else {
				rest = append(rest, n)
			}
		}
		if len(wave) == 0 { // a cycle: run what is left together
			wave, rest = rest, nil
		}
		for _, n := range wave {
			done[n] = true
		}
		out = append(out, wave)
		pending = rest
	}
	return out
}

// runWave runs one group of collectors concurrently and attaches what they
// found. Each sees a copy of the snapshot as it was before the group, so a
// collector abandoned at its deadline never reads what later ones attach.
func runWave(ctx context.Context, snap *snapshot.Snapshot, names []string, env Env, deadline time.Duration) {
	earlier := *snap
	env.Earlier = &earlier
	type outcome struct {
		status  snapshot.CollectorStatus
		section snapshot.Section
	}
	results := make([]outcome, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, sec := runOne(ctx, name, &env, deadline)
			results[i] = outcome{st, sec}
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r.section != nil {
			r.section.Attach(snap)
		}
		snap.Collectors = append(snap.Collectors, r.status)
	}
}

// runOne runs one collector in its own goroutine and waits for it at most
// until the deadline; a collector that overruns is abandoned and its late
// result dropped.
func runOne(parent context.Context, name string, env *Env, deadline time.Duration) (snapshot.CollectorStatus, snapshot.Section) {
	st := snapshot.CollectorStatus{Name: name}
	c, ok := New(name)
	if !ok {
		st.Status = snapshot.StatusError
		st.Reason = fmt.Sprintf("no collector named %q; known: %v", name, Names())
		return st, nil
	}
	if cause := context.Cause(parent); cause != nil {
		// The run was stopped before this collector began: it reads nothing,
		// whichever of it and the deadline a scheduler would favour.
		st.Status, st.Reason = snapshot.StatusError, fmt.Sprintf("stopped before it finished: %v", cause)
		return st, nil
	}
	ctx, cancel := context.WithTimeout(parent, deadline)
	defer cancel()
	type result struct {
		sec snapshot.Section
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	st.StartedAt = start.UTC()
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("collector panicked: %v\n%s", p, debug.Stack())}
			}
		}()
		sec, err := c.Collect(ctx, env)
		done <- result{sec, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		if cause := context.Cause(parent); cause != nil {
			// The whole run was stopped (--timeout, a signal), not this collector.
			r = result{err: fmt.Errorf("stopped before it finished: %w", cause)}
		} else {
			r = result{err: fmt.Errorf("did not finish within %s (raise it with --collector-timeout): %w", deadline, ctx.Err())}
		}
	}
	st.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	var skip *SkipError
	var partial *PartialError
	switch {
	case r.err == nil:
		st.Status = snapshot.StatusOK
	case errors.As(r.err, &skip):
		st.Status, st.Reason, r.sec = snapshot.StatusSkipped, skip.Reason, nil
	case errors.As(r.err, &partial) && r.sec != nil:
		st.Status, st.Reason = snapshot.StatusPartial, partial.Reason
	default:
		st.Status, st.Reason, r.sec = snapshot.StatusError, r.err.Error(), nil
	}
	return st, r.sec
}
