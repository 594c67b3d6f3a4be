package firewall

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// Rule forms the decoders once read with confidence and wrongly (issue 27):
// a merged icmp type/code load read as a port, a set lookup keyed by a field
// with no value decided "no match", an extension-header module with no
// option that lost its header requirement, an unknown module dropped. Each
// is loaded into the kernel and probed; the simulator must agree with the
// kernel wherever it decides, and say unknown only where it cannot know.

// TestNeverGuessTCP probes TCP and UDP first packets through rules that
// were misread, each alone in an accept-policy chain.
func TestNeverGuessTCP(t *testing.T) {
	nstest.RequireRoot(t)
	for _, c := range []string{"nft", "iptables-nft-restore", "ip6tables-nft-restore", "ip6tables-legacy-restore", "iptables-legacy-restore"} {
		nstest.RequireCommand(t, c)
	}
	nftCase := func(name, rules string, decided bool) guessCase {
		return guessCase{decided: decided, rs: ruleset{name: name, ports: []uint16{22, 80}, v6: true, load: func(t *testing.T, tp *topo) {
			nftLoad(t, tp.host, "table inet g {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\t"+rules+"\n\t}\n}\n")
		}}}
	}
	iptCase := func(name, tool, rule string, v6, decided bool) guessCase {
		return guessCase{decided: decided, rs: ruleset{name: name, ports: []uint16{22, 80}, v6: v6, load: func(t *testing.T, tp *topo) {
			restore(t, tp.host, tool, "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"+rule+"\nCOMMIT\n")
		}}}
	}
	cases := []guessCase{
		// A first SYN carries syn alone: the kernel drops it.
		nftCase("tcp flags set", "tcp flags { syn, syn | ack } tcp dport { 22, 80 } drop", true),
		nftCase("meta protocol set", "meta protocol { ip, ip6 } tcp dport 22 drop", true),
		// No fragment, routing, hop-by-hop or AH header on a plain SYN.
		iptCase("ip6tables bare frag nft", "ip6tables-nft-restore", "-A INPUT -m frag -j DROP", true, true),
		iptCase("ip6tables bare frag legacy", "ip6tables-legacy-restore", "-A INPUT -m frag -j DROP", true, true),
		iptCase("ip6tables bare rt hbh", "ip6tables-nft-restore", "-A INPUT -m rt -j DROP\n-A INPUT -m hbh -j DROP\n-A INPUT -m ah -j DROP", true, true),
	}
	// -m socket depends on the host's sockets: unknown, never a verdict.
	socket := iptCase("iptables socket", "iptables-nft-restore", "-A INPUT -p tcp -m multiport --dports 22,80 -m socket -j DROP", false, false)
	socket.undecided = true
	cases = append(cases, socket)
	runGuessCases(t, cases)
}

// runGuessCases probes each case's ruleset in the kernel and through the
// simulator: no disagreement; a decided case has no unknown verdict; an
// undecided one (only its rule drops) is never denied on what it cannot
// know.
func runGuessCases(t *testing.T, cases []guessCase) {
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.rs.name, " ", "_"), func(t *testing.T) {
			v4, v6 := runDifferential(t, c.rs, 64, 27)
			for _, ag := range []agreement{v4, v6} {
				for _, w := range ag.wrong {
					t.Errorf("disagreement: %s", w)
				}
				if c.decided && ag.unknown > 0 {
					t.Errorf("%s: %d of %d probes unknown, first: %s", ag.name, ag.unknown, ag.probes, ag.why[0])
				}
				if c.undecided && ag.probes > 0 && (ag.denyOK > 0 || ag.unknown == 0) {
					t.Errorf("%s: %d probes denied, %d unknown: the rule's outcome was decided", ag.name, ag.denyOK, ag.unknown)
				}
			}
		})
	}
}

type guessCase struct {
	rs ruleset
	// decided: the simulator must decide every probe.
	decided bool
	// undecided: the simulator must decide none of the probes the rule sees.
	undecided bool
}

// TestNeverGuessICMP sends ICMP echo requests from the world to the host
// through nft rules on the icmp header, and compares the simulator's
// verdicts with what reached the host (a raw socket sees the requests the
// input hook let through).
func TestNeverGuessICMP(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "nft")
	cases := []struct {
		rules string
		deny  bool
	}{
		// nft merges the two compares into one 2-byte load of type and code.
		{"icmp type 8 icmp code 0 drop", true},
		{"icmp type echo-request icmp code 1 drop", false},
		{"icmp type { echo-request, echo-reply } drop", true},
		{"icmp type { echo-reply, timestamp-request } drop", false},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.rules, " ", "_"), func(t *testing.T) {
			tp := newTopo(t, nil)
			nftLoad(t, tp.host, "table ip g {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\t"+c.rules+"\n\t}\n}\n")
			sec, err := (&Collector{}).Collect(context.Background(), &agent.Env{NetNS: tp.host.Path()})
			var partial *agent.PartialError
			if err != nil && !errors.As(err, &partial) {
				t.Fatalf("collect: %v", err)
			}
			pk := netfilter.Packet{Direction: netfilter.Inbound, Protocol: "icmp", ICMPType: "echo-request", Src: worldAddr, Dst: hostAddr}
			sim := netfilter.Compile(sec.(*snapshot.Firewall)).Simulate(pk)
			got := echoReaches(t, tp, 0x2727)
			if got != !c.deny {
				t.Fatalf("kernel: echo request delivered=%v, want %v: the test's premise is wrong", got, !c.deny)
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

// echoReaches sends one echo request from the world to the host and tells
// whether it passed the host's input hook.
func echoReaches(t *testing.T, tp *topo, id uint16) bool {
	t.Helper()
	msg := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), 0, 1, 'h', 'd'}
	binary.BigEndian.PutUint16(msg[2:], icmpChecksum(msg))
	return rawReaches(t, tp, "ip4:icmp", msg, func(b []byte) bool {
		return len(b) >= 8 && b[0] == 8 && binary.BigEndian.Uint16(b[4:]) == id
	})
}

// rawReaches sends msg, an IPv4 payload of the protocol network names
// ("ip4:icmp", "ip4:132"), from the world to the host, and tells whether a
// raw socket of the host's received a packet that is (is says) the one
// sent: it passed the host's input hook.
func rawReaches(t *testing.T, tp *topo, network string, msg []byte, is func([]byte) bool) bool {
	t.Helper()
	var rx net.PacketConn
	tp.host.Do(t, func() {
		var err error
		if rx, err = net.ListenPacket(network, hostAddr.String()); err != nil {
			t.Fatalf("raw %s socket: %v", network, err)
		}
	})
	defer rx.Close()
	var mu sync.Mutex
	seen := false
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := rx.ReadFrom(buf)
			if err != nil {
				return
			}
			if is(buf[:n]) {
				mu.Lock()
				seen = true
				mu.Unlock()
			}
		}
	}()
	tp.world.Do(t, func() {
		tx, err := net.ListenPacket(network, worldAddr.String())
		if err != nil {
			t.Fatalf("raw %s socket: %v", network, err)
		}
		defer tx.Close()
		if _, err := tx.WriteTo(msg, &net.IPAddr{IP: net.IP(hostAddr.AsSlice())}); err != nil {
			t.Fatalf("send %s: %v", network, err)
		}
	})
	// Delivery over a veth takes microseconds; wait well past it.
	for i := 0; i < 10; i++ {
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		s := seen
		mu.Unlock()
		if s {
			return true
		}
	}
	return false
}

func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
