package listeners

import (
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// BenchmarkCollect10kListeners measures the collector on a namespace holding
// 10,000 TCP listeners, and, as a reference taken in the same run, ss -Htlnp
// in the same namespace (through ip netns exec, as an operator would run it).
// It reports ms/op, ss_ms/op and x_ss, the collector's time over ss's. The
// target is under 150 ms; nothing here asserts a time.
func BenchmarkCollect10kListeners(b *testing.B) {
	const n = 10000
	nstest.RequireCommand(b, "ss")
	ns := nstest.New(b)
	l := ns.Listen(b, "many:127.0.0.1:20000:10000")
	env := &agent.Env{NetNS: ns.Path(), Root: "/"}
	c := &Collector{}

	// Check once that both do the whole job.
	sec, err := c.Collect(b.Context(), env)
	if err != nil {
		b.Fatal(err)
	}
	got := sec.(*snapshot.Listeners)
	if len(got.Sockets) != n || got.Unowned != 0 || got.Sockets[n-1].Process == nil || got.Sockets[n-1].Process.PID != l.PID {
		b.Fatalf("collector: %d sockets, %d unowned, want %d owned by %d", len(got.Sockets), got.Unowned, n, l.PID)
	}
	if lines := strings.Count(ns.Run(b, "ss", "-Htlnp"), "\n"); lines != n {
		b.Fatalf("ss -Htlnp printed %d lines, want %d", lines, n)
	}

	iters := 0
	for b.Loop() {
		if _, err := c.Collect(b.Context(), env); err != nil {
			b.Fatal(err)
		}
		iters++
	}
	collector := b.Elapsed() / time.Duration(iters)

	runs := max(iters, 3)
	start := time.Now()
	for range runs {
		ns.Run(b, "ss", "-Htlnp")
	}
	ss := time.Since(start) / time.Duration(runs)

	b.ReportMetric(ms(collector), "ms/op")
	b.ReportMetric(ms(ss), "ss_ms/op")
	b.ReportMetric(float64(collector)/float64(ss), "x_ss")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
