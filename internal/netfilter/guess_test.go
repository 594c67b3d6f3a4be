package netfilter

import (
	"net/netip"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// TestNeverGuess: a match is decided only on values the packet has; set
// lookups keyed by a field with no value say unknown, unless no element
// matches the fields that have one (issue 27).
func TestNeverGuess(t *testing.T) {
	sets := []snapshot.Set{
		{Name: "flags", KeyType: []string{"tcp_flag"}, Elements: []snapshot.SetElement{{Key: []string{"0x02"}}, {Key: []string{"0x12"}}}},
		{Name: "acks", KeyType: []string{"tcp_flag"}, Elements: []snapshot.SetElement{{Key: []string{"0x10"}}}},
		{Name: "echo", KeyType: []string{"icmp_type"}, Elements: []snapshot.SetElement{{Key: []string{"8"}}, {Key: []string{"0"}}}},
		{Name: "eth", KeyType: []string{"ether_type"}, Elements: []snapshot.SetElement{{Key: []string{"0x0800"}}, {Key: []string{"0x86dd"}}}},
		{Name: "fam", KeyType: []string{"nf_proto"}, Elements: []snapshot.SetElement{{Key: []string{"ipv4"}}}},
		{Name: "ctm", KeyType: []string{"mark"}, Elements: []snapshot.SetElement{{Key: []string{"0x1"}}}},
		{Name: "svc", KeyType: []string{"inet_proto", "inet_service"}, Elements: []snapshot.SetElement{{Key: []string{"tcp", "22"}}}},
	}
	fw := func(ms ...snapshot.Match) *snapshot.Firewall {
		tb := table("nftables", "inet", "g", base("input", "input", "filter", 0, "accept", rule("r", vk("drop"), ms...)))
		tb.Sets = sets
		return &snapshot.Firewall{LocalAddresses: network, Routes: routes, Tables: []snapshot.Table{tb}}
	}
	echo := in("icmp", 0)
	echo.ICMPType = "echo-request"
	unreach := in("icmp", 0)
	unreach.ICMPType = "destination-unreachable"
	tests := []struct {
		name string
		ms   []snapshot.Match
		pkt  Packet
		want Verdict
	}{
		{"tcp flags { syn, syn|ack }", []snapshot.Match{m("l4proto", "tcp"), inSet("flags", "tcp_flags")}, in("tcp", 22), Deny},
		{"tcp flags { ack }", []snapshot.Match{m("l4proto", "tcp"), inSet("acks", "tcp_flags")}, in("tcp", 22), Allow},
		{"icmp type { echo-request, echo-reply }", []snapshot.Match{m("l4proto", "icmp"), inSet("echo", "icmp_type")}, echo, Deny},
		{"icmp type set, other type", []snapshot.Match{m("l4proto", "icmp"), inSet("echo", "icmp_type")}, unreach, Allow},
		{"icmp type set, type not given", []snapshot.Match{m("l4proto", "icmp"), inSet("echo", "icmp_type")}, in("icmp", 0), Unknown},
		{"meta protocol { ip, ip6 }", []snapshot.Match{inSet("eth", "ethertype")}, in("udp", 53), Deny},
		{"meta nfproto { ipv4 }", []snapshot.Match{inSet("fam", "nfproto")}, in("udp", 53), Deny},
		{"ct mark set: no value", []snapshot.Match{inSet("ctm", "ct_mark")}, in("udp", 53), Unknown},
		{"l4proto . th dport, no ports, no element", []snapshot.Match{inSet("svc", "l4proto", "dport")}, echo, Allow},
		{"icmp type 8 code 0", []snapshot.Match{m("l4proto", "icmp"), m("icmp_type", "8"), m("icmp_code", "0")}, echo, Deny},
		{"icmp type 8 code 1", []snapshot.Match{m("l4proto", "icmp"), m("icmp_type", "8"), m("icmp_code", "1")}, echo, Allow},
		{"icmp code of a type with many", []snapshot.Match{m("l4proto", "icmp"), m("icmp_code", "3")}, unreach, Unknown},
		{"--icmp-type 8/0", []snapshot.Match{m("l4proto", "icmp"), m("icmp_type", "8/0")}, echo, Deny},
		{"--icmp-type 8/1", []snapshot.Match{m("l4proto", "icmp"), m("icmp_type", "8/1")}, echo, Allow},
		{"th dport on icmp", []snapshot.Match{m("dport", "22")}, echo, Unknown},
		{"tcp dport on icmp", []snapshot.Match{m("l4proto", "tcp"), m("dport", "22")}, echo, Allow},
		{"ttl: not in the packet", []snapshot.Match{m("ttl", "64")}, in("tcp", 22), Unknown},
		{"-s under a mask, in", []snapshot.Match{m("saddr", "198.0.100.0/255.0.255.0")}, in("tcp", 22), Deny},
		{"-s under a mask, out", []snapshot.Match{m("saddr", "198.0.101.0/255.0.255.0")}, in("tcp", 22), Allow},
	}
	for _, tt := range tests {
		r := Simulate(fw(tt.ms...), tt.pkt)
		if r.Verdict != tt.want {
			t.Errorf("%s: %s, want %s: %s", tt.name, r.Verdict, tt.want, Explain(r, tt.pkt))
		}
	}
	// The remote peer 198.51.100.1 under 255.0.255.0 is 198.0.100.0.
	if a := maskAddr(remote, netip.MustParseAddr("255.0.255.0")); a != netip.MustParseAddr("198.0.100.0") {
		t.Errorf("maskAddr = %s", a)
	}
}

// TestUndecidable lists the matches no packet decides, and not the others.
func TestUndecidable(t *testing.T) {
	tb := table("iptables-nft", "ip", "filter")
	fw := &snapshot.Firewall{}
	r := rule("r", vk("drop"), m("saddr", "10.0.12.0/255.0.255.0"), m("saddr", "10.0.0.0/8"), mayM("chance: x"), m("no_such_field", "1"), m("saddr", "not-an-address"))
	got := Undecidable(fw, &tb, &r)
	if len(got) != 3 || got[0] != "chance: x" {
		t.Errorf("Undecidable = %q", got)
	}
}

// TestConntrackTuple: a new connection's original tuple is its first
// packet before NAT; an existing connection's is not the packet's.
func TestConntrackTuple(t *testing.T) {
	nat := base("PREROUTING", "prerouting", "nat", -100, "accept",
		rule("dnat", snapshot.Verdict{Kind: "dnat", To: "172.17.0.2:80"}, m("daddr", hostIP.String()), m("l4proto", "tcp"), m("dport", "8080")))
	fw := func(ms ...snapshot.Match) *snapshot.Firewall {
		return &snapshot.Firewall{LocalAddresses: network, Routes: routes, Tables: []snapshot.Table{
			table("iptables-nft", "ip", "nat", nat),
			table("iptables-nft", "ip", "filter", base("FORWARD", "forward", "filter", 0, "accept", rule("r", vk("drop"), ms...)),
				base("INPUT", "input", "filter", 0, "accept", rule("r", vk("drop"), ms...))),
		}}
	}
	est := in("tcp", 8080)
	est.CtState = "established"
	tests := []struct {
		name string
		ms   []snapshot.Match
		pkt  Packet
		want Verdict
	}{
		{"ctorigdst host, after dnat", []snapshot.Match{m("ct_orig_daddr", hostIP.String()), m("ct_orig_dport", "8080")}, in("tcp", 8080), Deny},
		{"ctorigdst container", []snapshot.Match{m("ct_orig_daddr", ctrIP.String())}, in("tcp", 8080), Allow},
		{"ctorigsrc", []snapshot.Match{m("ct_orig_saddr", "198.51.100.0/24"), m("ct_orig_sport", "40000-40010")}, in("tcp", 8080), Deny},
		{"ctproto udp", []snapshot.Match{m("ct_proto", "udp")}, in("tcp", 8080), Allow},
		{"ctproto tcp", []snapshot.Match{m("ct_proto", "tcp")}, in("tcp", 8080), Deny},
		{"ctorigdst of an established connection", []snapshot.Match{m("ct_orig_daddr", hostIP.String())}, est, Unknown},
	}
	for _, tt := range tests {
		r := Simulate(fw(tt.ms...), tt.pkt)
		if r.Verdict != tt.want {
			t.Errorf("%s: %s, want %s: %s", tt.name, r.Verdict, tt.want, Explain(r, tt.pkt))
		}
	}
}
