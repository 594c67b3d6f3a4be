package firewall

import (
	"context"
	"fmt"
	"math/rand"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/bench/bighost"
	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/setns"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// BenchmarkFirewall measures a snapshot of a large ruleset against what the
// tools need to dump the same namespace, and 1,000 simulated queries.
func BenchmarkFirewall(b *testing.B) {
	ns := nstest.New(b)
	ipt, nft := bighost.IptablesNft(1), bighost.Nft(1)
	cmd := ns.Command("iptables-nft-restore")
	cmd.Stdin = strings.NewReader(ipt)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("iptables-nft-restore: %v: %s", err, out)
	}
	cmd = ns.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(nft)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("nft -f: %v: %s", err, out)
	}
	collectOnce := func() *snapshot.Firewall {
		sec, err := (&Collector{}).Collect(context.Background(), &agent.Env{NetNS: ns.Path()})
		if err != nil {
			b.Fatalf("collect: %v", err)
		}
		return sec.(*snapshot.Firewall)
	}
	fw := collectOnce()
	if bk, _ := fw.Backend(snapshot.BackendIptablesNft); bk.Rules != 20000 {
		b.Fatalf("iptables-nft rules = %d, want 20000", bk.Rules)
	}
	if bk, _ := fw.Backend(snapshot.BackendNftables); bk.Rules != 2000 {
		b.Fatalf("nft rules = %d, want 2000", bk.Rules)
	}

	b.Run("snapshot-vs-tools", func(b *testing.B) {
		var ours, tools time.Duration
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			collectOnce()
			ours += time.Since(t0)
			t1 := time.Now()
			err := setns.Run(ns.Path(), func() error {
				if out, err := exec.Command("/usr/sbin/nft", "-j", "list", "ruleset").CombinedOutput(); err != nil {
					return fmt.Errorf("nft -j: %v: %.200s", err, out)
				}
				if out, err := exec.Command("/usr/sbin/iptables-nft-save").CombinedOutput(); err != nil {
					return fmt.Errorf("iptables-nft-save: %v: %.200s", err, out)
				}
				return nil
			})
			tools += time.Since(t1)
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(ours)/float64(b.N)/1e6, "hostdrift-ms/op")
		b.ReportMetric(float64(tools)/float64(b.N)/1e6, "tools-ms/op")
		b.ReportMetric(float64(ours)/float64(tools), "hostdrift/tools")
	})

	b.Run("simulate-1000", func(b *testing.B) {
		prog := netfilter.Compile(fw)
		rng := rand.New(rand.NewSource(1))
		var packets []netfilter.Packet
		for i := 0; i < 1000; i++ {
			p := netfilter.Packet{Protocol: []string{"tcp", "udp"}[rng.Intn(2)], SrcPort: 40000, DstPort: uint16(10000 + rng.Intn(12000))}
			other := netip.AddrFrom4([4]byte{10, byte(rng.Intn(4)), byte(rng.Intn(20)), 7})
			if rng.Intn(4) == 0 {
				other = netip.AddrFrom4([4]byte{192, 168, byte(rng.Intn(40)), byte(1 + rng.Intn(250))})
			}
			if i%2 == 0 {
				p.Direction, p.Src, p.Dst = netfilter.Outbound, netip.MustParseAddr("127.0.0.1"), other
			} else {
				p.Direction, p.Src, p.Dst = netfilter.Inbound, other, netip.MustParseAddr("127.0.0.1")
			}
			packets = append(packets, p)
		}
		b.ResetTimer()
		unknown := 0
		for i := 0; i < b.N; i++ {
			for _, p := range packets {
				if prog.Simulate(p).Verdict == netfilter.Unknown {
					unknown++
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed())/float64(b.N)/1e6, "ms/1000-queries")
		if unknown > 0 {
			b.Errorf("%d unknown verdicts on a ruleset without undecidable matches", unknown)
		}
	})
}
