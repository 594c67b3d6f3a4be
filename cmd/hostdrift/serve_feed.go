package main

import (
	"context"
	"time"

	"github.com/hostdrift/hostdrift/agent/watch"
)

// A burst of events (a ufw reload sends hundreds) is one evaluation: its
// batch comes out once coalesceQuiet has passed without another event, and
// at the latest coalesceMax after its first event.
const (
	coalesceQuiet = 300 * time.Millisecond
	coalesceMax   = 2 * time.Second
)

// watchEvents starts the event sources that apply here, counts each event
// with seen (before bursts are folded), and coalesces the bursts into
// batches.
func watchEvents(ctx context.Context, opts watch.Options, seen func(watch.Event)) (<-chan []watch.Event, []error) {
	events, errs := watch.Start(ctx, opts)
	counted := make(chan watch.Event)
	go func() {
		defer close(counted)
		for ev := range events {
			seen(ev)
			counted <- ev
		}
	}()
	return watch.Coalesce(counted, coalesceQuiet, coalesceMax), errs
}
