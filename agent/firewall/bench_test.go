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
	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/nstest"
	"github.com/hostdrift/hostdrift/internal/setns"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// benchRuleset is 20,000 iptables-nft rules (1,000 user chains of 18 rules
// reached from INPUT and OUTPUT), 2,000 native nft rules and one native set
// of 10,000 addresses.
func benchRuleset() (iptables, nft string) {
	var b strings.Builder
	b.WriteString("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
	for k := 0; k < 1000; k++ {
		fmt.Fprintf(&b, ":C%d - [0:0]\n", k)
	}
	for k := 0; k < 1000; k++ {
		chainDir := "INPUT"
		if k%2 == 1 {
			chainDir = "OUTPUT"
		}
		fmt.Fprintf(&b, "-A %s -p tcp -m tcp --dport %d -j C%d\n", chainDir, 10000+k, k)
		fmt.Fprintf(&b, "-A %s -p udp -m udp --dport %d -m comment --comment \"svc %d\" -j C%d\n", chainDir, 10000+k, k, k)
		for j := 0; j < 18; j++ {
			verdict := "ACCEPT"
			if j%3 == 0 {
				verdict = "DROP"
			}
			fmt.Fprintf(&b, "-A C%d -s 10.%d.%d.0/24 -m conntrack --ctstate NEW -j %s\n", k, k/250, j, verdict)
		}
	}
	b.WriteString("COMMIT\n")
	var n strings.Builder
	n.WriteString("table inet bench {\n\tset big {\n\t\ttype ipv4_addr\n\t\telements = { ")
	for i := 0; i < 10000; i++ {
		if i > 0 {
			n.WriteString(", ")
		}
		fmt.Fprintf(&n, "192.168.%d.%d", i/250, 1+i%250)
	}
	n.WriteString(" }\n\t}\n\tchain input {\n\t\ttype filter hook input priority filter + 5; policy accept;\n\t\tip saddr @big drop\n")
	for i := 0; i < 1999; i++ {
		fmt.Fprintf(&n, "\t\tip saddr 172.16.%d.%d tcp dport %d accept\n", i/250, 1+i%250, 20000+i)
	}
	n.WriteString("\t}\n}\n")
	return b.String(), n.String()
}

// BenchmarkFirewall measures a snapshot of a large ruleset against what the
// tools need to dump the same namespace, and 1,000 simulated queries.
func BenchmarkFirewall(b *testing.B) {
	ns := nstest.New(b)
	ipt, nft := benchRuleset()
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
