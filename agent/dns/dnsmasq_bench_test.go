package dns

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// BenchmarkDnsmasq100 asks dnsmasq for the A and AAAA records of 100 names
// through the collector, as a policy of 100 dns checks with type = ["A",
// "AAAA"] does (goss's resolvable asks both too). The reference, measured in
// the same run and interleaved with it, is the plainest client: one miekg
// Exchange after the other over the same 200 queries. It reports both
// times and collector/reference: below 1 the collector is faster. No
// assertion on time: the machine is shared.
func BenchmarkDnsmasq100(b *testing.B) {
	const ip, names = "127.0.0.66", 100
	var zone strings.Builder
	for i := range names {
		fmt.Fprintf(&zone, "10.1.0.%d n%d.example.test\n2001:db8::%x n%d.example.test\n", i, i, i, i)
	}
	srv := nstest.Dnsmasq(b, ip, zone.String())
	root := fixtureRoot(b, "nameserver "+ip+"\n", "127.0.0.1 localhost\n")
	var wants []snapshot.DNSQuery
	for i := range names {
		for _, t := range []string{snapshot.TypeA, snapshot.TypeAAAA} {
			wants = append(wants, snapshot.DNSQuery{Name: fmt.Sprintf("n%d.example.test", i), Type: t})
		}
	}
	c := &collector{port: srv.Port}
	env := &agent.Env{Root: root, Wants: snapshot.Wants{DNS: wants}}

	var reference time.Duration
	b.ResetTimer()
	for range b.N {
		collectOneEach(b, c, env)

		b.StopTimer()
		reference += serialQueries(b, srv.Addr, wants)
		b.StartTimer()
	}
	b.StopTimer()
	reportVsReference(b, reference)
}
