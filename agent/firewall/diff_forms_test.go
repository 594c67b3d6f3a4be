package firewall

import (
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// TestDecodedFormsProbe loads, one ruleset at a time, the rule forms the
// decoders read since issue 27's suites, and probes TCP and UDP first
// packets through the kernel: where the simulator decides (IPsec policy
// and state of a plain packet, ecn's tcp flags, ct original, packet
// writes to fields it does not read) it must agree with the kernel on
// every probe; where the outcome depends on the payload or the process it
// must decide none of the probes the rule sees. Replies are accepted
// first: the rules judge first packets.
func TestDecodedFormsProbe(t *testing.T) {
	nstest.RequireRoot(t)
	for _, c := range []string{"nft", "iptables-nft-restore", "ip6tables-nft-restore", "iptables-legacy-restore"} {
		nstest.RequireCommand(t, c)
	}
	nftCase := func(name, rules string, decided bool) guessCase {
		return guessCase{decided: decided, undecided: !decided, rs: ruleset{name: name, ports: []uint16{22, 80}, v6: true, load: func(t *testing.T, tp *topo) {
			nftLoad(t, tp.host, "table inet g {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tct state established,related accept\n\t\t"+rules+"\n\t}\n}\n")
		}}}
	}
	nft4Case := func(name, rules string) guessCase {
		return guessCase{decided: true, rs: ruleset{name: name, ports: []uint16{22, 80}, load: func(t *testing.T, tp *topo) {
			nftLoad(t, tp.host, "table ip g {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tct state established,related accept\n\t\t"+rules+"\n\t}\n}\n")
		}}}
	}
	iptCase := func(name, tool, rule string, v6, decided bool) guessCase {
		return guessCase{decided: decided, undecided: !decided, rs: ruleset{name: name, ports: []uint16{22, 80}, v6: v6, load: func(t *testing.T, tp *topo) {
			restore(t, tp.host, tool, "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n"+rule+"\nCOMMIT\n")
		}}}
	}
	cases := []guessCase{
		// A plain packet has no IPsec state: "ipsec in" breaks the rule,
		// "meta secpath missing" holds.
		nftCase("nft ipsec in", "ipsec in reqid 1 drop\n\t\tipsec in ip saddr 10.0.0.0/8 drop", true),
		nftCase("nft secpath missing", "meta secpath missing tcp dport 22 drop\n\t\tmeta secpath exists drop", true),
		// Writes to fields the simulator does not read change no verdict.
		nftCase("nft payload and option writes", "ip dscp set cs1\n\t\tip6 hoplimit set 9\n\t\ttcp option maxseg size set 1200\n\t\ttcp dport 22 drop", true),
		// The original tuple of a new connection is its first packet.
		nft4Case("nft ct original", "meta l4proto tcp ct original proto-dst 22 drop\n\t\tct original ip saddr 10.0.0.0/8 udp dport 80 drop\n\t\tct original ip daddr != 10.0.0.0/8 drop"),
		// A plain packet is no fragment; "mark | 0x23 == 0x11" never
		// holds, "mark | 0x1 == 0x1" always does.
		nft4Case("nft frag-off", "ip frag-off & 0x1fff != 0 drop\n\t\tip frag-off & 0x1fff 0 tcp dport 22 drop"),
		nft4Case("nft mark or", "meta mark or 0x23 == 0x11 drop\n\t\tmeta mark or 0x1 == 0x1 udp dport 80 drop"),
		// An interface's index, link-layer type and group name the
		// interfaces that have them.
		nftCase("nft iif index and type", "meta iif lo drop\n\t\tmeta iiftype ether tcp dport 22 drop\n\t\tmeta iiftype loopback drop\n\t\tmeta iiftype != ether udp dport 80 drop\n\t\tmeta iifgroup 7 drop\n\t\tmeta iifgroup 0 udp dport 22 drop", true),
		// A set of them names the interfaces whose value is in it, ranges
		// (in network order) included.
		nftCase("nft iif sets", "meta iifgroup { 7, 11 } drop\n\t\tmeta iifgroup != { 11-33, 44-55 } tcp dport 22 drop\n\t\tmeta iiftype { ppp, loopback } drop\n\t\tmeta iiftype != { ppp } udp dport 80 drop\n\t\tmeta iif { \"lo\" } drop\n\t\tmeta iifgroup 5-9 drop\n\t\tmeta iifgroup != 1-3 udp dport 22 drop\n\t\tmeta iifgroup { 1-3 } tcp dport 80 drop", true),
		// A packet from a network device has priority 0 until a rule sets
		// it; the simulator follows a constant it is set to.
		nftCase("nft meta priority", "meta priority 1:1234 drop\n\t\tmeta priority != none drop\n\t\tmeta priority { 1:1, 2:2 } drop\n\t\tmeta priority 1:1-1:9 drop\n\t\tmeta priority none tcp dport 22 drop\n\t\tmeta priority set 1:5\n\t\tmeta priority { 1:0-1:4 } drop\n\t\tmeta priority != { 1:5 } drop\n\t\tmeta priority 1:5 udp dport 80 drop", true),
		// Marks in network order (ranges, order compares, interval sets)
		// and ranges of protocol numbers.
		nftCase("nft mark ranges", "ct mark 0x10-0x20 drop\n\t\tct mark { 0x1-0x20, 0x30 } drop\n\t\tmeta mark > 0x0 drop\n\t\tct mark != 0x10-0x20 tcp dport 22 drop\n\t\tmeta mark set 0x15\n\t\tmeta mark < 0x15 drop\n\t\tmeta mark { 0x10-0x20 } udp dport 80 drop\n\t\tmeta l4proto 18-255 drop\n\t\tmeta l4proto != 1-16 tcp dport 80 drop\n\t\tmeta l4proto 5-7 tcp dport 22 drop", true),
		// A connection's protocol is its first packet's, in both
		// directions; its id is a keyed hash.
		nftCase("nft ct protocol", "ct protocol tcp tcp dport 22 drop\n\t\tct original protocol udp udp dport 80 drop\n\t\tct reply protocol icmp drop", true),
		nftCase("nft ct id", "ct id 12345 drop", false),
		// A new connection has no helper until a rule gives it one, and a
		// ct helper compare breaks the rule, == or !=.
		nftCase("nft ct helper", "ct helper \"ftp\" drop\n\t\tct helper != \"ftp\" tcp dport 22 drop", true),
		// A new connection is in zone 0 when no rule sets a zone.
		nftCase("nft ct zone", "ct zone 1 drop\n\t\tct original zone != 0 drop\n\t\tct zone 0 tcp dport 22 drop\n\t\tct reply zone 0 udp dport 80 drop", true),
		// A nat address from a map keyed by the source: the map's value
		// for the peer, and no nat for a peer the map does not hold.
		{decided: true, rs: ruleset{name: "nft dnat from a map", ports: []uint16{22, 80}, load: func(t *testing.T, tp *topo) {
			ipBatch(t, tp.host, "addr add 10.200.0.77/32 dev lo")
			nftLoad(t, tp.host, "table ip n {\n\tmap m { type ipv4_addr : ipv4_addr; flags interval; elements = { 10.201.0.0/24 : 10.200.0.77 } }\n\tchain pre {\n\t\ttype nat hook prerouting priority -100; policy accept;\n\t\tdnat to ip saddr map @m\n\t}\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tct state established,related accept\n\t\tip daddr 10.200.0.77 tcp dport 22 drop\n\t}\n}\n")
		}}},
		// What the sender put in the segment: never decided.
		nftCase("nft tcp option", "tcp option sack-perm exists drop", false),
		nftCase("nft tcp window", "tcp window 29200 drop", false),
		nftCase("nft ether saddr", "ether saddr 00:11:22:33:44:55 drop", false),
		nftCase("nft meta length range", "meta length 10-2000 drop", false),
		nftCase("nft socket", "socket transparent 0 drop", false),
		iptCase("iptables policy", "iptables-nft-restore", "-A INPUT -m policy --dir in --pol ipsec -j DROP\n-A INPUT -p tcp --dport 22 -m policy --dir in --pol none -j DROP", false, true),
		iptCase("ip6tables policy legacy", "ip6tables-legacy-restore", "-A INPUT -m policy --dir in --pol ipsec --strict --reqid 1 --proto esp -j DROP\n-A INPUT -p udp -m policy --dir in --pol none -j DROP", true, true),
		iptCase("iptables ecn tcp flags", "iptables-legacy-restore", "-A INPUT -p tcp -m ecn --ecn-tcp-ece -j DROP\n-A INPUT -p tcp --dport 22 -m ecn ! --ecn-tcp-cwr -j DROP", false, true),
		// A mark from a seeded hash: later matches on it are unknown.
		iptCase("iptables HMARK", "iptables-nft-restore", "-A INPUT -j HMARK --hmark-tuple src,sport --hmark-mod 2 --hmark-rnd 0x27\n-A INPUT -m mark --mark 0x1 -j DROP", false, false),
		iptCase("iptables string", "iptables-nft-restore", "-A INPUT -m string --algo bm --string GET -j DROP", false, false),
		iptCase("iptables tcpmss", "iptables-legacy-restore", "-A INPUT -p tcp -m tcpmss --mss 1400:1500 -j DROP", false, false),
	}
	runGuessCases(t, cases)
}
