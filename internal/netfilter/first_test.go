package netfilter

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func assumeM(outcome, cond string) snapshot.Match {
	return snapshot.Match{Field: snapshot.FieldAssume, Values: []string{outcome}, Reason: cond}
}

func recentM(action string, neg bool, list, hits, secs string) snapshot.Match {
	return snapshot.Match{Field: "recent", Op: action, Negate: neg, Values: []string{list, "src", hits, secs}}
}

// firstPacketFW puts rules in front of "accept tcp 22" in an INPUT chain
// whose policy drops, in both families.
func firstPacketFW(extra ...snapshot.Chain) func(rules ...snapshot.Rule) *snapshot.Firewall {
	return func(rules ...snapshot.Rule) *snapshot.Firewall {
		rules = append(rules, rule("-A INPUT -p tcp --dport 22 -j ACCEPT", vk("accept"), m("l4proto", "tcp"), m("dport", "22")))
		chains := append([]snapshot.Chain{base("INPUT", "input", "filter", 0, "drop", rules...)}, extra...)
		local := append([]snapshot.LocalAddress{{Prefix: netip.MustParsePrefix("2001:db8::10/64"), Interface: "eth0"}}, network...)
		return &snapshot.Firewall{LocalAddresses: local, Routes: routes, Tables: []snapshot.Table{
			table("iptables-nft", "ip", "filter", chains...),
			table("iptables-nft", "ip6", "filter", chains...),
		}}
	}
}

// TestFirstPacketHeaders: matches on headers the first packet of a
// connection does not carry are decided, "!" included.
func TestFirstPacketHeaders(t *testing.T) {
	fw := firstPacketFW()
	in6 := in("tcp", 22)
	in6.Src, in6.Dst = netip.MustParseAddr("2001:db8:1::1"), netip.MustParseAddr("2001:db8::10")
	ipv6h := func(op string, neg bool, vals ...string) snapshot.Match {
		return snapshot.Match{Field: "ipv6header", Op: op, Negate: neg, Values: vals}
	}
	v4opts := func(op string, vals ...string) snapshot.Match {
		return snapshot.Match{Field: "ipv4options", Op: op, Values: vals}
	}
	tests := []struct {
		name  string
		match snapshot.Match
		pkt   Packet
		want  Verdict
	}{
		{"rt type 0 drop", m("header", "rt"), in6, Allow},
		{"exthdr rt missing drop", not(m("header", "rt")), in6, Deny},
		{"frag or hbh", m("header", "frag", "hbh"), in6, Allow},
		{"-f", m("header", "fragment"), in("tcp", 22), Allow},
		{"! -f", not(m("header", "fragment")), in("tcp", 22), Deny},
		{"ah on tcp", m("header", "ah"), in("tcp", 22), Allow},
		{"ipv6header soft hop,route", ipv6h("soft", false, "hop-by-hop", "ipv6-route"), in6, Allow},
		{"ipv6header soft ! hop,route", ipv6h("soft", true, "hop-by-hop", "ipv6-route"), in6, Deny},
		{"ipv6header soft prot", ipv6h("soft", false, "prot"), in6, Deny},
		{"ipv6header exact prot", ipv6h("", false, "protocol"), in6, Deny},
		{"ipv6header exact hop,prot", ipv6h("", false, "hop", "prot"), in6, Allow},
		{"ipv6header ! exact hop,prot", ipv6h("", true, "hop", "prot"), in6, Deny},
		{"ipv4options all", v4opts("", "7", "!1"), in("tcp", 22), Allow},
		{"ipv4options all inverted", v4opts("", "!7", "!1"), in("tcp", 22), Deny},
		{"ipv4options any", v4opts("any", "7", "!1"), in("tcp", 22), Deny},
		{"syn", m("tcp_flags", "fin,syn,rst,ack/syn"), in("tcp", 22), Deny},
		{"not syn", not(m("tcp_flags", "fin,syn,rst,ack/syn")), in("tcp", 22), Allow},
		{"ack", m("tcp_flags", "syn,ack/ack"), in("tcp", 22), Allow},
		{"syn,ack", m("tcp_flags", "syn,ack/syn,ack"), in("tcp", 22), Allow},
		{"no flags", m("tcp_flags", "all/none"), in("tcp", 22), Allow},
	}
	for _, tt := range tests {
		r := Simulate(fw(rule("-A INPUT "+tt.name+" -j DROP", vk("drop"), tt.match)), tt.pkt)
		if r.Verdict != tt.want || len(r.Conditions) > 0 {
			t.Errorf("%s: %s %v, want %s: %s", tt.name, r.Verdict, r.Conditions, tt.want, Explain(r, tt.pkt))
		}
	}
}

// TestFirstPacketHistory: matches on rate and history take their outcome
// for a fresh peer, and the verdict names the assumption when the other
// outcome would change it.
func TestFirstPacketHistory(t *testing.T) {
	ufwLimit := regular("ufw-user-limit", rule("-A ufw-user-limit -j REJECT", vk("reject")))
	logOnly := regular("ufw-logging-deny", rule("-A ufw-logging-deny -j LOG", snapshot.Verdict{Kind: "continue"}))
	fw := firstPacketFW(ufwLimit, logOnly)
	tcp22 := []snapshot.Match{m("l4proto", "tcp"), m("dport", "22")}
	with := func(extra ...snapshot.Match) []snapshot.Match {
		return append(append([]snapshot.Match(nil), tcp22...), extra...)
	}
	tests := []struct {
		name  string
		rules []snapshot.Rule
		want  Verdict
		cond  string // a condition must contain it; "" for none
	}{
		{"ufw limit", []snapshot.Rule{
			rule("-A INPUT -p tcp --dport 22 -m recent --set", vk("continue"), with(recentM("set", false, "DEFAULT", "0", "0"))...),
			rule("-A INPUT -p tcp --dport 22 -m recent --update --seconds 30 --hitcount 6 -j ufw-user-limit", jump("ufw-user-limit"), with(recentM("update", false, "DEFAULT", "6", "30"))...),
		}, Allow, "UFW's `limit` rejects the 6th"},
		{"rcheck after set", []snapshot.Rule{
			rule("-A INPUT -m recent --set --name L", vk("continue"), recentM("set", false, "L", "0", "0")),
			rule("-A INPUT -m recent --rcheck --name L -j DROP", vk("drop"), recentM("rcheck", false, "L", "0", "0")),
		}, Deny, ""},
		{"rcheck on another list", []snapshot.Rule{
			rule("-A INPUT -m recent --set --name L", vk("continue"), recentM("set", false, "L", "0", "0")),
			rule("-A INPUT -m recent --rcheck --name M -j DROP", vk("drop"), recentM("rcheck", false, "M", "0", "0")),
		}, Allow, "sent nothing before"},
		{"! rcheck", []snapshot.Rule{
			rule("-A INPUT -m recent ! --rcheck --name M -j DROP", vk("drop"), recentM("rcheck", true, "M", "0", "0")),
		}, Deny, "sent nothing before"},
		{"hashlimit above drops", []snapshot.Rule{
			rule("-A INPUT -m hashlimit --hashlimit-above 5/sec -j DROP", vk("drop"), assumeM("nomatch", "each srcip stay under 5/sec")),
		}, Allow, "each srcip stay under 5/sec"},
		{"limit accepts", []snapshot.Rule{
			rule("-A INPUT -p tcp --dport 80 -m limit --limit 10/s -j ACCEPT", vk("accept"), m("l4proto", "tcp"), m("dport", "22"), assumeM("match", "packets matching -m limit stay under 10/s")),
			rule("-A INPUT -j DROP", vk("drop")),
		}, Allow, "stay under 10/s"},
		// The limit only decides whether the packet is logged: nothing to say.
		{"limit on logging", []snapshot.Rule{
			rule("-A INPUT -m limit --limit 3/min -j ufw-logging-deny", jump("ufw-logging-deny"), assumeM("match", "packets matching -m limit stay under 3/min")),
		}, Allow, ""},
		{"statistic stays unknown", []snapshot.Rule{
			rule("-A INPUT -m statistic --mode random -j DROP", vk("drop"), mayM("statistic")),
		}, Unknown, ""},
	}
	for _, tt := range tests {
		pkt := in("tcp", 22)
		r := Simulate(fw(tt.rules...), pkt)
		text := Explain(r, pkt)
		if r.Verdict != tt.want {
			t.Errorf("%s: %s, want %s: %s", tt.name, r.Verdict, tt.want, text)
			continue
		}
		got := strings.Join(r.Conditions, "; ")
		if (tt.cond == "") != (got == "") || !strings.Contains(got, tt.cond) {
			t.Errorf("%s: conditions %q, want one with %q", tt.name, got, tt.cond)
		}
		if tt.cond != "" && !strings.Contains(text, "(assuming "+r.Conditions[0]) {
			t.Errorf("%s: explanation does not say the condition: %s", tt.name, text)
		}
	}
}

// TestReversePath: firewalld's "fib saddr . mark . iif oif missing drop"
// is decided with the routes of the snapshot.
func TestReversePath(t *testing.T) {
	rpf := func(mode string) snapshot.Match {
		return snapshot.Match{Field: "rpf", Negate: true, Values: []string{mode}}
	}
	fw := func(mode string) *snapshot.Firewall {
		return &snapshot.Firewall{LocalAddresses: network, Routes: routes, Tables: []snapshot.Table{
			table("nftables", "inet", "firewalld",
				base("filter_PREROUTING", "prerouting", "filter", 10, "accept",
					rule("fib saddr . mark . iif oif missing drop", vk("drop"), rpf(mode)))),
		}}
	}
	good := in("tcp", 22) // from the internet, by eth0: the default route
	good.InIface = "eth0"
	spoofed := good
	spoofed.InIface = "docker0"
	ctr := good
	ctr.Src, ctr.InIface = ctrIP, "eth0"
	tests := []struct {
		name string
		mode string
		pkt  Packet
		want Verdict
	}{
		{"strict, right way", "strict", good, Allow},
		{"strict, wrong interface", "strict", spoofed, Deny},
		{"strict, container address from outside", "strict", ctr, Deny},
		{"loose, container address from outside", "loose", ctr, Allow},
	}
	for _, tt := range tests {
		if r := Simulate(fw(tt.mode), tt.pkt); r.Verdict != tt.want {
			t.Errorf("%s: %s, want %s: %s", tt.name, r.Verdict, tt.want, Explain(r, tt.pkt))
		}
	}
}
