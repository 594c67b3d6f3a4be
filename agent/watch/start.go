package watch

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// queueLen is how many events a source may have waiting for the consumer;
// beyond it, the source's further events are dropped and replaced by one
// event that names all its collectors, so nothing is lost.
const queueLen = 64

// source is a Source with what Start needs to know about it.
type source struct {
	Source
	// collectors are all the collectors the source may name: an overflow
	// event names them all.
	collectors []string
	// policy marks a source that may send policy events.
	policy bool
}

// factory makes a source that is ready to watch (its socket or watches
// open), or says why it cannot watch here. It returns a zero source, and no
// error, when the source does not apply (none of its collectors asked for);
// a source and an error when it watches only part of what it should.
type factory func(ctx context.Context, opts *Options) (source, error)

// factories are the sources Start tries, in order.
var factories = []factory{
	newNFTables,
	newRTNetlink,
	newInotify,
	newMounts,
	newSystemd,
	newDocker,
	newListenersPoll,
	newProcessesPoll,
	newLegacyPoll,
	newSysctlPoll,
	newDNSPoll,
}

// Start starts every source that applies here and whose collectors
// opts.Collectors allows, and returns their events on one channel, which is
// closed once ctx ends and every source has stopped. It returns one error
// per source that cannot watch here, or only in part, saying what is not
// watched and why; the caller reports them and goes on.
func Start(ctx context.Context, opts Options) (<-chan Event, []error) {
	return start(ctx, &opts, factories)
}

func start(ctx context.Context, opts *Options, fs []factory) (<-chan Event, []error) {
	var errs []error
	var started []source
	for _, mk := range fs {
		s, err := mk(ctx, opts)
		if err != nil {
			errs = append(errs, err)
		}
		if s.Source == nil {
			continue
		}
		started = append(started, s)
	}
	out := make(chan Event, queueLen)
	var wg sync.WaitGroup
	for _, s := range started {
		in := make(chan Event)
		wg.Add(2)
		go func() {
			defer wg.Done()
			defer close(in)
			if err := s.Run(ctx, in); err != nil && ctx.Err() == nil {
				ev := Event{Source: s.Name(), Collectors: s.collectors, Policy: s.policy, At: time.Now(),
					Detail: "stopped watching: " + err.Error(), Err: err}
				select {
				case in <- ev:
				case <-ctx.Done():
				}
			}
		}()
		go func() {
			defer wg.Done()
			forward(ctx, s, opts.Collectors, in, out)
		}()
	}
	go func() { wg.Wait(); close(out) }()
	return out, errs
}

// forward moves a source's events to out, holding at most queueLen of them
// while the consumer is slow: beyond that it drops them and, once the queue
// has drained, sends one event naming all the source's collectors.
func forward(ctx context.Context, s source, allow []string, in <-chan Event, out chan<- Event) {
	buf := make([]Event, 0, queueLen)
	q := buf
	overflow := false
	for {
		var send chan<- Event
		var head Event
		switch {
		case len(q) > 0:
			send, head = out, q[0]
		case overflow:
			send = out
			head = Event{Source: s.Name(), Collectors: only(allow, s.collectors), Policy: s.policy, At: time.Now(),
				Detail: fmt.Sprintf("more than %d events waited to be read: some were dropped, so all of the %s source's areas may have changed", queueLen, s.Name())}
		}
		if in == nil && send == nil {
			return
		}
		select {
		case ev, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			ev.Collectors = only(allow, ev.Collectors)
			if len(ev.Collectors) == 0 && !ev.Policy && ev.Err == nil {
				continue
			}
			if len(q) >= queueLen {
				overflow = true
				continue
			}
			q = append(q, ev)
		case send <- head:
			if len(q) > 0 {
				q[0] = Event{}
				q = q[1:]
				if len(q) == 0 {
					q = buf[:0]
				}
			} else {
				overflow = false
			}
		case <-ctx.Done():
			return
		}
	}
}

// only returns the collectors that allow lists; all of them when allow is
// empty. The result is a slice of its own, which the caller may change.
func only(allow, collectors []string) []string {
	if len(allow) == 0 {
		return slices.Clone(collectors)
	}
	var kept []string
	for _, c := range collectors {
		if slices.Contains(allow, c) {
			kept = append(kept, c)
		}
	}
	return kept
}

// wanted reports whether any of collectors is allowed.
func wanted(opts *Options, collectors ...string) bool {
	return len(only(opts.Collectors, collectors)) > 0
}

// emit sends ev on out, or gives up when ctx ends; it reports whether ev was
// sent.
func emit(ctx context.Context, out chan<- Event, ev Event) bool {
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	select {
	case out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// sleep waits d, or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
