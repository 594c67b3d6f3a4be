package watch

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// patience is how long a test waits for an event that must come: a bound
// on a hang, not a claim about speed.
const patience = 30 * time.Second

// waitEvent reads events until one satisfies ok, and fails the test if none
// does within patience. It returns the events read before it.
func waitEvent(t *testing.T, ch <-chan Event, what string, ok func(Event) bool) (Event, []Event) {
	t.Helper()
	var before []Event
	timeout := time.After(patience)
	for {
		select {
		case e, open := <-ch:
			if !open {
				t.Fatalf("channel closed while waiting for %s; saw %v", what, before)
			}
			if ok(e) {
				return e, before
			}
			before = append(before, e)
		case <-timeout:
			t.Fatalf("no event for %s within %s; saw %v", what, patience, before)
		}
	}
}

// about returns a predicate for an event naming collector whose detail
// holds all of says.
func about(collector string, says ...string) func(Event) bool {
	return func(e Event) bool {
		if collector != "" && !slices.Contains(e.Collectors, collector) {
			return false
		}
		for _, s := range says {
			if !strings.Contains(e.Detail, s) {
				return false
			}
		}
		return true
	}
}

// startSource starts the sources of fs and stops them at cleanup, checking
// that every goroutine they started ends.
func startSource(t *testing.T, opts Options, fs ...factory) <-chan Event {
	t.Helper()
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	ch, errs := start(ctx, &opts, fs)
	for _, err := range errs {
		cancel()
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		for range ch {
		}
		waitGoroutines(t, base)
	})
	return ch
}

// waitGoroutines fails the test unless the goroutine count comes back to
// base within patience.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines left, %d before the sources started:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
