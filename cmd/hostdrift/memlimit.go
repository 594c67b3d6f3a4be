package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// softMemoryLimit is the memory hostdrift keeps to while what it holds
// fits: with the default pacing (GOGC=100) the heap grows to twice what is
// live before a collection, so a check of the big host that holds 45 MB
// peaked at 85 MB of RSS; with this limit, 72 MB, for 4 more collections
// (29 against 25). 48 MiB gave the same RSS for 13 more (docs/performance.md).
const softMemoryLimit = 56 << 20

// setMemoryLimit sets the soft memory limit, unless the operator chose the
// collector's settings (GOGC, GOMEMLIMIT), and lifts it again as soon as
// the live heap outgrows it: past that point a limit would make the
// collector run without pause (a host many times bigger than the bench's),
// and the usual pacing is the better trade.
func setMemoryLimit(getenv func(string) string) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(softMemoryLimit)
	watchLiveHeap(func(live uint64) bool {
		if live <= softMemoryLimit {
			return true
		}
		debug.SetMemoryLimit(math.MaxInt64)
		return false
	})
}

// watchLiveHeap calls f with the live heap after every garbage collection,
// until f returns false.
func watchLiveHeap(f func(live uint64) bool) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var arm func()
	arm = func() {
		// A finalizer runs after the collection that found its object
		// unreachable: one object per cycle makes a hook on every cycle.
		runtime.SetFinalizer(new(sentinel), func(*sentinel) {
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 && !f(sample[0].Value.Uint64()) {
				return
			}
			arm()
		})
	}
	arm()
}

// sentinel is the object whose finalizer marks a collection; it must not
// be zero-sized (those share one address and are never collected).
type sentinel struct{ _ [16]byte }
