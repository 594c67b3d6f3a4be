package firewall

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// TestSCTPChunksProbe sends an SCTP INIT, the first packet of an
// association, from the world to the host through iptables' --chunk-types
// rules on both backends and nft's "sctp chunk" rules, and compares the simulator's verdict (decided
// under the assumption that a first packet carries one INIT chunk) with
// what reached the host's input (a raw socket sees what the hook let
// through).
func TestSCTPChunksProbe(t *testing.T) {
	nstest.RequireRoot(t)
	for _, c := range []string{"iptables-nft-restore", "iptables-legacy-restore", "nft"} {
		nstest.RequireCommand(t, c)
	}
	cases := []struct {
		opt  string
		deny bool
	}{
		{"--chunk-types any INIT", true},
		{"--chunk-types any DATA,SACK", false},
		{"--chunk-types all INIT", true},
		{"--chunk-types all INIT,DATA", false},
		{"--chunk-types only INIT,DATA:Be", true},
		{"--chunk-types only DATA", false},
		{"! --chunk-types any INIT", false},
		{"! --chunk-types all DATA", true},
		{"--chunk-types any ALL", true},
		{"--chunk-types all ALL", false},
	}
	// nft's "sctp chunk X exists|missing".
	nftCases := []struct {
		opt  string
		deny bool
	}{
		{"sctp chunk init exists", true},
		{"sctp chunk data exists", false},
		{"sctp chunk init missing", false},
		{"sctp chunk sack missing", true},
	}
	for _, tool := range []string{"iptables-nft-restore", "iptables-legacy-restore", "nft"} {
		cs := cases
		if tool == "nft" {
			cs = nftCases
		}
		for i, c := range cs {
			t.Run(tool+"/"+strings.ReplaceAll(c.opt, " ", "_"), func(t *testing.T) {
				tp := newTopo(t, nil)
				if tool == "nft" {
					nftLoad(t, tp.host, "table ip g {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\t"+c.opt+" drop\n\t}\n}\n")
				} else {
					restore(t, tp.host, tool, "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p sctp -m sctp "+c.opt+" -j DROP\nCOMMIT\n")
				}
				sec, err := (&Collector{}).Collect(context.Background(), &agent.Env{NetNS: tp.host.Path()})
				var partial *agent.PartialError
				if err != nil && !errors.As(err, &partial) {
					t.Fatalf("collect: %v", err)
				}
				sport := uint16(40000 + i)
				pk := netfilter.Packet{Direction: netfilter.Inbound, Protocol: "sctp", Src: worldAddr, Dst: hostAddr, SrcPort: sport, DstPort: 9899}
				sim := netfilter.Compile(sec.(*snapshot.Firewall)).Simulate(pk)
				got := sctpInitReaches(t, tp, sport, 9899)
				if got != !c.deny {
					t.Fatalf("kernel: INIT delivered=%v, want %v: the test's premise is wrong", got, !c.deny)
				}
				want := netfilter.Allow
				if c.deny {
					want = netfilter.Deny
				}
				if sim.Verdict != want {
					t.Errorf("simulator says %s, kernel %s: %s", sim.Verdict, want, netfilter.Explain(sim, pk))
				}
			})
		}
	}
}

// sctpInitReaches sends one SCTP INIT from the world to the host and tells
// whether it passed the host's input hook.
func sctpInitReaches(t *testing.T, tp *topo, sport, dport uint16) bool {
	t.Helper()
	// Common header (ports, verification tag 0, checksum), then one INIT
	// chunk: tag, receive window, streams, initial TSN.
	msg := make([]byte, 12+20)
	binary.BigEndian.PutUint16(msg[0:], sport)
	binary.BigEndian.PutUint16(msg[2:], dport)
	msg[12], msg[13] = 1, 0
	binary.BigEndian.PutUint16(msg[14:], 20)
	binary.BigEndian.PutUint32(msg[16:], 0x27272727)
	binary.BigEndian.PutUint32(msg[20:], 65536)
	binary.BigEndian.PutUint16(msg[24:], 10)
	binary.BigEndian.PutUint16(msg[26:], 10)
	binary.BigEndian.PutUint32(msg[28:], 1)
	binary.LittleEndian.PutUint32(msg[8:], crc32.Checksum(msg, crc32.MakeTable(crc32.Castagnoli)))
	return rawReaches(t, tp, "ip4:132", msg, func(b []byte) bool {
		return len(b) >= 16 && binary.BigEndian.Uint16(b) == sport && b[12] == 1
	})
}
