package netfilter

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// FuzzSimulate walks fuzzed packets through fixed rulesets: UFW's shape,
// Docker's (DNAT before routing), and a native table with sets, maps, marks,
// goto and undecidable matches. Every packet gets a verdict, an unknown one
// says why, the walk is deterministic, and the result can be explained.
func FuzzSimulate(f *testing.F) {
	seed := func(p Packet) {
		f.Add(uint8(len(p.Direction)), p.Protocol, p.Src.AsSlice(), p.Dst.AsSlice(), p.SrcPort, p.DstPort, p.ICMPType, p.InIface, p.OutIface, p.CtState, p.Mark)
	}
	seed(in("tcp", 22))
	seed(in("tcp", 8080))
	seed(out("udp", 53))
	seed(Packet{Direction: Forward, Protocol: "tcp", Src: remote, Dst: ctrIP, SrcPort: 1234, DstPort: 81})
	seed(Packet{Direction: Outbound, Protocol: "icmp", ICMPType: "echo-request", Src: hostIP, Dst: remote})
	seed(Packet{Direction: Inbound, Protocol: "6", Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::7"), DstPort: 443, CtState: "established", Mark: 1})
	seed(Packet{Direction: Outbound, Protocol: "udp", Src: netip.MustParseAddr("::ffff:203.0.113.10"), Dst: netip.MustParseAddr("127.0.0.1"), DstPort: 123, OutIface: "veth1"})
	progs := []*Program{Compile(ufwLike()), Compile(dockerLike()), Compile(nativeLike())}
	dirs := []Direction{Inbound, Outbound, Forward, "sideways"}
	f.Fuzz(func(t *testing.T, dir uint8, proto string, src, dst []byte, sport, dport uint16, icmp, iif, oif, ct string, mark uint32) {
		p := Packet{Direction: dirs[int(dir)%len(dirs)], Protocol: proto, SrcPort: sport, DstPort: dport,
			ICMPType: icmp, InIface: iif, OutIface: oif, CtState: ct, Mark: mark}
		p.Src, _ = netip.AddrFromSlice(src)
		p.Dst, _ = netip.AddrFromSlice(dst)
		for i, prog := range progs {
			r := prog.Simulate(p)
			switch r.Verdict {
			case Allow, Deny:
			case Unknown:
				if r.Reason == "" {
					t.Fatalf("ruleset %d: %s: unknown without a reason", i, p)
				}
			default:
				t.Fatalf("ruleset %d: %s: verdict %q", i, p, r.Verdict)
			}
			if again := prog.Simulate(p); !reflect.DeepEqual(again, r) {
				t.Fatalf("ruleset %d: %s: two walks differ:\n%+v\n%+v", i, p, r, again)
			}
			if Explain(r, p) == "" {
				t.Fatalf("ruleset %d: %s: no explanation", i, p)
			}
			if _, hint := Manager(r); hint != nil {
				hint(p)
			}
		}
	})
}

// nativeLike is an nftables table as firewalld or a hand-written ruleset
// makes it: sets and a verdict map, a mark set in one chain and matched in
// another, goto and return, a rate limit, and NAT.
func nativeLike() *snapshot.Firewall {
	sets := []snapshot.Set{
		{Name: "trusted", KeyType: []string{"ipv4_addr"}, Flags: []string{"interval"}, Elements: []snapshot.SetElement{{Key: []string{"198.51.100.0/28"}}, {Key: []string{"192.0.2.5-192.0.2.9"}}}},
		{Name: "svc", KeyType: []string{"ipv4_addr", "inet_proto", "inet_service"}, Elements: []snapshot.SetElement{{Key: []string{"203.0.113.10", "tcp", "3306"}}}},
		{Name: "ports", KeyType: []string{"inet_service"}, Flags: []string{"map"}, DataType: "verdict", Elements: []snapshot.SetElement{
			{Key: []string{"25"}, Value: "drop"}, {Key: []string{"8000-8100"}, Value: "goto web"}, {Key: []string{"22"}, Value: "accept"}}},
		{Name: "blocked6", KeyType: []string{"ipv6_addr"}, Flags: []string{"interval"}, Elements: []snapshot.SetElement{{Key: []string{"2001:db8:bad::/48"}}}},
		{Name: "dyn", KeyType: []string{"ipv4_addr"}, Flags: []string{"dynamic", "timeout"}, Elements: []snapshot.SetElement{}},
	}
	mark := rule("meta mark set 0x1", vk("continue"), m("l4proto", "udp"), m("dport", "123"))
	mark.Effects = []snapshot.Effect{{Kind: "mark", Value: "0x1"}}
	limited := rule("limit rate 3/minute accept", vk("accept"), m("l4proto", "icmp"), mayM("limit: depends on the packet rate"))
	return &snapshot.Firewall{LocalAddresses: append(network, snapshot.LocalAddress{Prefix: netip.MustParsePrefix("2001:db8::7/64"), Interface: "eth0"}),
		Routes: routes, Tables: []snapshot.Table{
			{Backend: "nftables", Family: "inet", Name: "fw", Sets: sets, Chains: []snapshot.Chain{
				base("pre", "prerouting", "nat", -100, "accept",
					rule("tcp dport 2222 redirect to :22", snapshot.Verdict{Kind: "redirect", To: ":22"}, m("l4proto", "tcp"), m("dport", "2222")),
					rule("tcp dport 8081 dnat to 172.17.0.2:80", snapshot.Verdict{Kind: "dnat", To: "172.17.0.2:80"}, m("l4proto", "tcp"), m("dport", "8081"))),
				base("mangle", "output", "route", -150, "accept", mark),
				base("input", "input", "filter", 0, "drop",
					rule("ct state established,related accept", vk("accept"), m("ct_state", "established", "related")),
					rule("iifname lo accept", vk("accept"), m("iif", "lo")),
					rule("ip6 saddr @blocked6 drop", vk("drop"), inSet("blocked6", "saddr")),
					rule("ip saddr @trusted ip daddr . meta l4proto . th dport @svc accept", vk("accept"), inSet("trusted", "saddr"), inSet("svc", "daddr", "l4proto", "dport")),
					rule("tcp dport vmap @ports", snapshot.Verdict{Kind: "vmap", Set: "ports", Keys: []string{"dport"}}, m("l4proto", "tcp")),
					rule("ip saddr @dyn drop", vk("drop"), inSet("dyn", "saddr")),
					limited,
					rule("jump checks", jump("checks"))),
				regular("checks",
					rule("fib daddr type != local return", vk("return"), not(m("dst_type", "local"))),
					rule("udp dport 1000-2000 reject", vk("reject"), m("l4proto", "udp"), m("dport", "1000-2000")),
					rule("<xt match u32> drop", snapshot.Verdict{Kind: "unknown", Reason: "xt match u32"})),
				regular("web", rule("ip saddr != 198.51.100.0/24 drop", vk("drop"), not(m("saddr", "198.51.100.0/24"))), rule("accept", vk("accept"))),
				base("output", "output", "filter", 0, "accept",
					rule("meta mark 0x1 drop", vk("drop"), m("mark", "0x1/0x1")),
					rule("oifname veth* drop", vk("drop"), m("oif", "veth+")),
					rule("icmp type echo-request queue", vk("queue"), m("l4proto", "icmp"), m("icmp_type", "8"))),
				base("post", "postrouting", "nat", 100, "accept",
					rule("ip saddr 172.17.0.0/16 oifname != docker0 masquerade", vk("masquerade"), m("saddr", "172.17.0.0/16"), not(m("oif", "docker0")))),
			}},
		}}
}
