package watch

import (
	"fmt"
	"slices"
	"time"
)

// maxBatch is the most events a batch holds one by one; further events of
// the same batch are folded into one last event that names their
// collectors, so that a flood costs bounded memory.
const maxBatch = 256

// Coalesce groups the events of a burst: a batch comes out once quiet has
// passed with no new event, and never later than max after the batch's
// first event. Events that say the same thing (source, detail, collectors)
// are kept once. The returned channel closes when in closes, after the last
// batch.
func Coalesce(in <-chan Event, quiet, max time.Duration) <-chan []Event {
	out := make(chan []Event)
	go coalesce(in, out, quiet, max, realClock{})
	return out
}

// clock is the time Coalesce runs on; tests give it a fake one.
type clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) (<-chan time.Time, func())
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) After(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// batch is the events of one burst, and when it is due.
type batch struct {
	events      []Event
	first, last time.Time
	folded      int // events folded into the last one past maxBatch
}

// add puts ev into the batch, seen at now.
func (b *batch) add(ev Event, now time.Time) {
	if len(b.events) == 0 {
		b.first = now
	}
	b.last = now
	for _, e := range b.events {
		if same(e, ev) {
			return
		}
	}
	if len(b.events) < maxBatch {
		b.events = append(b.events, ev)
		return
	}
	b.folded++
	tail := &b.events[maxBatch-1]
	if b.folded == 1 {
		*tail = Event{Source: "coalesce", Collectors: slices.Clone(tail.Collectors), Policy: tail.Policy, At: tail.At}
		b.folded++
	}
	for _, c := range ev.Collectors {
		if !slices.Contains(tail.Collectors, c) {
			tail.Collectors = append(tail.Collectors, c)
		}
	}
	tail.Policy = tail.Policy || ev.Policy
	tail.Detail = fmt.Sprintf("%d more events", b.folded)
}

// due is when the batch must come out.
func (b *batch) due(quiet, max time.Duration) time.Time {
	d := b.last.Add(quiet)
	if m := b.first.Add(max); m.Before(d) {
		d = m
	}
	return d
}

// take returns the batch's events and empties it.
func (b *batch) take() []Event {
	evs := b.events
	*b = batch{}
	return evs
}

// same reports whether two events say the same thing.
func same(a, b Event) bool {
	return a.Source == b.Source && a.Detail == b.Detail && a.Policy == b.Policy &&
		a.Err == nil && b.Err == nil && slices.Equal(a.Collectors, b.Collectors)
}

func coalesce(in <-chan Event, out chan<- []Event, quiet, max time.Duration, clk clock) {
	defer close(out)
	var b batch
	var timer <-chan time.Time
	stop := func() {}
	defer func() { stop() }()
	for {
		select {
		case ev, ok := <-in:
			if !ok {
				if len(b.events) > 0 {
					out <- b.take()
				}
				return
			}
			b.add(ev, clk.Now())
		case <-timer:
		}
		stop()
		timer, stop = nil, func() {}
		if len(b.events) == 0 {
			continue
		}
		now := clk.Now()
		if d := b.due(quiet, max); now.Before(d) {
			timer, stop = clk.After(d.Sub(now))
			continue
		}
		out <- b.take()
	}
}

// Areas returns what a batch asks the caller to do: the collectors to read
// again (sorted, each once), and whether the policy must be reloaded.
func Areas(batch []Event) (collectors []string, policy bool) {
	for _, e := range batch {
		policy = policy || e.Policy
		for _, c := range e.Collectors {
			if !slices.Contains(collectors, c) {
				collectors = append(collectors, c)
			}
		}
	}
	slices.Sort(collectors)
	return collectors, policy
}
