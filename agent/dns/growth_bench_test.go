package dns

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/bench/bighost"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// BenchmarkDnsmasqBigHost asks one dnsmasq serving the big host's zone for
// the A and AAAA records of all its names through the collector, at the
// bench's 1x (500 names, the goss comparison's set) and 16x (8,000). The
// reference, measured in the same run and interleaved with it, is one plain
// miekg Exchange after the other over the same queries. It reports both
// times, collector/reference (below 1 the collector is faster), the
// collector's wall microseconds per query, whose change from 1x to 16x is
// the collector's growth beyond linear, and its CPU microseconds per query
// (this process's, so not dnsmasq's), which a busy machine stretches less
// than wall time. No assertion on time.
func BenchmarkDnsmasqBigHost(b *testing.B) {
	for _, scale := range []int{1, 16} {
		b.Run(fmt.Sprintf("names=%d", scale*bighost.Names), func(b *testing.B) { benchBigHost(b, scale) })
	}
}

func benchBigHost(b *testing.B, scale int) {
	const ip = "127.0.0.67"
	srv := nstest.Dnsmasq(b, ip, bighost.HostsZone(scale))
	root := fixtureRoot(b, "nameserver "+ip+"\n", "127.0.0.1 localhost\n")
	var wants []snapshot.DNSQuery
	for i := range scale * bighost.Names {
		for _, t := range []string{snapshot.TypeA, snapshot.TypeAAAA} {
			wants = append(wants, snapshot.DNSQuery{Name: bighost.Name(i), Type: t, Server: srv.Addr})
		}
	}
	c := &collector{port: srv.Port}
	env := &agent.Env{Root: root, Wants: snapshot.Wants{DNS: wants}}

	var reference, cpu time.Duration
	b.ResetTimer()
	for range b.N {
		cpu0 := cpuTime(b)
		sec, err := c.Collect(b.Context(), env)
		cpu += cpuTime(b) - cpu0
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range sec.(*snapshot.DNS).Queries {
			if want := map[string]int{snapshot.TypeA: 1, snapshot.TypeAAAA: 0}[r.Type]; r.Error != "" || r.Rcode != "NOERROR" || len(r.Records) != want {
				b.Fatalf("%s %s: %+v", r.Name, r.Type, r)
			}
		}

		b.StopTimer()
		reference += serialQueriesWant(b, srv.Addr, wants, func(q snapshot.DNSQuery) int {
			return map[string]int{snapshot.TypeA: 1, snapshot.TypeAAAA: 0}[q.Type]
		})
		b.StartTimer()
	}
	b.StopTimer()
	perOp := reportVsReference(b, reference)
	b.ReportMetric(perOp*1000/float64(len(wants)), "us/query")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N)/float64(len(wants)), "cpu-us/query")
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
