package rules_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

// Sizes of issue 18's comparison with goss: 1,000 listener checks against a
// host with 10,000 listeners (cmd/hostdrift-bench/gossfile.go).
const (
	benchSockets = 10000
	benchChecks  = 1000
	benchPort    = 20000
)

// benchPortOf is the i-th checked port: distinct ports spread over the
// sockets, as the bench's comparePort picks them.
func benchPortOf(i int) uint16 { return uint16(benchPort + (i*37)%benchSockets) }

// bigListenerSnapshot has n TCP listeners on 127.0.0.1, one a port, with
// owners, and a few on other addresses and UDP, as a busy host lists them.
func bigListenerSnapshot(n int) *snapshot.Snapshot {
	socks := make([]snapshot.Socket, 0, n+2)
	for i := range n {
		p := &snapshot.Process{PID: 1000 + i, Name: "srv", Cmdline: "/usr/bin/srv"}
		socks = append(socks, sock("tcp", "127.0.0.1", uint16(benchPort+i), p))
	}
	socks = append(socks, sock("tcp", "0.0.0.0", 22, nil), sock("udp", "0.0.0.0", 53, nil))
	return listenerSnapshot(socks...)
}

// bigListenerPolicy is the bench's HCL: n checks that TCP port N listens
// on 127.0.0.1.
func bigListenerPolicy(n int) []byte {
	var h strings.Builder
	for i := range n {
		p := benchPortOf(i)
		fmt.Fprintf(&h, "listener \"tcp-%d\" {\n  port    = %d\n  address = \"127.0.0.1\"\n}\n\n", p, p)
	}
	return []byte(h.String())
}

// referenceListenerChecks is the cost floor of the same question: index
// the sockets by port once, then look each checked port up.
func referenceListenerChecks(s *snapshot.Snapshot, n int) int {
	type key struct {
		proto string
		port  uint16
	}
	idx := make(map[key][]int, len(s.Listeners.Sockets))
	for i, sock := range s.Listeners.Sockets {
		k := key{sock.Protocol, sock.Port}
		idx[k] = append(idx[k], i)
	}
	lo := netip.MustParseAddr("127.0.0.1")
	found := 0
	for i := range n {
		for _, j := range idx[key{"tcp", benchPortOf(i)}] {
			if s.Listeners.Sockets[j].Accepts(lo) {
				found++
				break
			}
		}
	}
	return found
}

// BenchmarkListenerChecks runs issue 18's 1,000 listener checks over a
// 10,000-socket snapshot: "evaluate" judges a compiled plan, "policy" also
// parses and compiles the HCL, as hostdrift check does each run. Each
// reports its ratio to referenceListenerChecks measured in the same run
// (x-reference), so the figure means the same on a busy machine.
func BenchmarkListenerChecks(b *testing.B) {
	s := bigListenerSnapshot(benchSockets)
	src := bigListenerPolicy(benchChecks)
	compile := func() *rules.Plan {
		p, diags := rules.Load([]rules.Source{{Name: "bench.hcl", Text: src}})
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		plan, diags := p.Compile(&s.Host, nil)
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		return plan
	}
	check := func(fs []finding.Finding) {
		if len(fs) != benchChecks {
			b.Fatalf("%d findings, want %d", len(fs), benchChecks)
		}
		for _, f := range fs {
			if f.Status != finding.Pass {
				b.Fatalf("%s: %s: %s", f.Check, f.Status, f.Explanation)
			}
		}
	}
	run := func(b *testing.B, op func() []finding.Finding) {
		var reference time.Duration
		b.ResetTimer()
		for range b.N {
			check(op())
			b.StopTimer()
			start := time.Now()
			if n := referenceListenerChecks(s, benchChecks); n != benchChecks {
				b.Fatalf("reference found %d of %d", n, benchChecks)
			}
			reference += time.Since(start)
			b.StartTimer()
		}
		b.StopTimer()
		perOp := float64(b.Elapsed().Microseconds()) / 1000 / float64(b.N)
		refPerOp := float64(reference.Microseconds()) / 1000 / float64(b.N)
		b.ReportMetric(perOp, "ms/op")
		b.ReportMetric(refPerOp, "reference-ms/op")
		b.ReportMetric(perOp/refPerOp, "x-reference")
	}
	b.Run("evaluate", func(b *testing.B) {
		plan := compile()
		run(b, func() []finding.Finding { return plan.Evaluate(s, s.TakenAt) })
	})
	b.Run("policy", func(b *testing.B) {
		run(b, func() []finding.Finding { return compile().Evaluate(s, s.TakenAt) })
	})
}
