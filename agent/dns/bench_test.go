package dns

import (
	"context"
	"fmt"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// BenchmarkCollect500 checks 500 names against a local server through the
// collector (16 queries in flight) and, as the reference measured in the same
// run, asks the same 500 queries one at a time with a plain miekg client. It
// reports the collector's ms/op, the sequential ms/op and their ratio: once
// against a server that answers at once, once against one that takes 1 ms per
// answer, as a resolver on the LAN does.
func BenchmarkCollect500(b *testing.B) {
	for _, delay := range []time.Duration{0, time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%s", delay), func(b *testing.B) { benchCollect(b, delay) })
	}
}

func benchCollect(b *testing.B, delay time.Duration) {
	const names = 500
	srv := startSlowServer(b, "127.0.0.53", delay)
	root := fixtureRoot(b, "nameserver 127.0.0.53\n", "")
	wants := make([]snapshot.DNSQuery, names)
	for i := range wants {
		wants[i] = snapshot.DNSQuery{Name: fmt.Sprintf("n%d.example.test", i), Type: "A"}
	}
	c := &collector{port: srv.Port}
	env := &agent.Env{Root: root, Wants: snapshot.Wants{DNS: wants}}

	var sequential time.Duration
	b.ResetTimer()
	for range b.N {
		collectOneEach(b, c, env)

		b.StopTimer()
		sequential += serialQueries(b, srv.Addr, wants)
		b.StartTimer()
	}
	b.StopTimer()
	perOp := float64(b.Elapsed().Microseconds()) / 1000 / float64(b.N)
	seqPerOp := float64(sequential.Microseconds()) / 1000 / float64(b.N)
	b.ReportMetric(perOp, "ms/op")
	b.ReportMetric(seqPerOp, "sequential-ms/op")
	b.ReportMetric(seqPerOp/perOp, "speedup-vs-sequential")
}

// serialQueries asks each question of wants of the server at addr, one
// after another with one plain miekg/dns client, and returns how long that
// took: the reference the collector's benchmarks are measured against.
func serialQueries(b *testing.B, addr string, wants []snapshot.DNSQuery) time.Duration {
	return serialQueriesWant(b, addr, wants, func(snapshot.DNSQuery) int { return 1 })
}

// serialQueriesWant is serialQueries where question q has answers(q)
// records, with NOERROR.
func serialQueriesWant(b *testing.B, addr string, wants []snapshot.DNSQuery, answers func(snapshot.DNSQuery) int) time.Duration {
	b.Helper()
	start := time.Now()
	client := &mdns.Client{Timeout: 2 * time.Second}
	for _, q := range wants {
		m := new(mdns.Msg)
		m.SetQuestion(mdns.Fqdn(q.Name), mdns.StringToType[q.Type])
		resp, _, err := client.Exchange(m, addr)
		if err != nil || resp.Rcode != mdns.RcodeSuccess || len(resp.Answer) != answers(q) {
			b.Fatalf("reference %s %s: %v %v", q.Name, q.Type, resp, err)
		}
	}
	return time.Since(start)
}

// reportVsReference reports the benchmark's time per operation, the
// reference's, and their ratio (x-reference); it returns the first, in ms.
func reportVsReference(b *testing.B, reference time.Duration) float64 {
	b.Helper()
	perOp := float64(b.Elapsed().Microseconds()) / 1000 / float64(b.N)
	refPerOp := float64(reference.Microseconds()) / 1000 / float64(b.N)
	b.ReportMetric(perOp, "ms/op")
	b.ReportMetric(refPerOp, "reference-ms/op")
	b.ReportMetric(perOp/refPerOp, "x-reference")
	return perOp
}

// collectOneEach runs the collector once and fails the benchmark unless
// every question got exactly one record.
func collectOneEach(b *testing.B, c *collector, env *agent.Env) {
	b.Helper()
	sec, err := c.Collect(context.Background(), env)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range sec.(*snapshot.DNS).Queries {
		if r.Error != "" || len(r.Records) != 1 {
			b.Fatalf("%s %s: %+v", r.Name, r.Type, r)
		}
	}
}
