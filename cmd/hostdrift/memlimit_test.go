package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// TestMemoryLimit: the soft limit is set, left alone when the operator set
// GOGC or GOMEMLIMIT, and lifted once the live heap outgrows it, so that a
// big host's run is paced as Go paces it by default rather than collecting
// without pause.
func TestMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	debug.SetMemoryLimit(math.MaxInt64)

	for _, env := range []map[string]string{{"GOGC": "50"}, {"GOMEMLIMIT": "1GiB"}} {
		setMemoryLimit(func(k string) string { return env[k] })
		if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
			t.Errorf("with %v the limit was set to %d", env, got)
		}
	}

	setMemoryLimit(func(string) string { return "" })
	if got := debug.SetMemoryLimit(-1); got != softMemoryLimit {
		t.Fatalf("limit = %d, want %d", got, softMemoryLimit)
	}
	live := make([]byte, softMemoryLimit+(16<<20))
	for i := range live {
		live[i] = 1 // not a zero page
	}
	// The lift happens in a finalizer after a collection: wait for it
	// (generously: this asserts that it happens, not how fast).
	for deadline := time.Now().Add(30 * time.Second); debug.SetMemoryLimit(-1) != math.MaxInt64; {
		if time.Now().After(deadline) {
			t.Fatalf("the limit stayed at %d with %d bytes live", debug.SetMemoryLimit(-1), len(live))
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	runtime.KeepAlive(live)
}
