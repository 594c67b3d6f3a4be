package netfilter

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Builders for hand-made rulesets.

func m(field string, vals ...string) snapshot.Match {
	return snapshot.Match{Field: field, Values: vals}
}

func not(x snapshot.Match) snapshot.Match { x.Negate = true; return x }

func mayM(reason string) snapshot.Match {
	return snapshot.Match{Field: snapshot.FieldMayMatch, Reason: reason}
}

func inSet(set string, keys ...string) snapshot.Match {
	return snapshot.Match{Field: "set", Set: set, Keys: keys}
}

func rule(text string, v snapshot.Verdict, matches ...snapshot.Match) snapshot.Rule {
	return snapshot.Rule{Text: text, Verdict: v, Matches: matches}
}

func vk(kind string) snapshot.Verdict { return snapshot.Verdict{Kind: kind} }

func jump(chain string) snapshot.Verdict { return snapshot.Verdict{Kind: "jump", Chain: chain} }

func gotoV(chain string) snapshot.Verdict { return snapshot.Verdict{Kind: "goto", Chain: chain} }

func base(name, hook, typ string, prio int, policy string, rules ...snapshot.Rule) snapshot.Chain {
	for i := range rules {
		rules[i].Position = i + 1
	}
	return snapshot.Chain{Name: name, Hook: hook, Type: typ, Priority: prio, Policy: policy, Rules: rules}
}

func regular(name string, rules ...snapshot.Rule) snapshot.Chain {
	return base(name, "", "", 0, "", rules...)
}

func table(backend, family, name string, chains ...snapshot.Chain) snapshot.Table {
	return snapshot.Table{Backend: backend, Family: family, Name: name, Chains: chains}
}

var (
	hostIP  = netip.MustParseAddr("203.0.113.10")
	remote  = netip.MustParseAddr("198.51.100.1")
	ctrIP   = netip.MustParseAddr("172.17.0.2")
	network = []snapshot.LocalAddress{
		{Prefix: netip.MustParsePrefix("203.0.113.10/24"), Interface: "eth0"},
		{Prefix: netip.MustParsePrefix("172.17.0.1/16"), Interface: "docker0"},
		{Prefix: netip.MustParsePrefix("127.0.0.1/8"), Interface: "lo"},
	}
	routes = []snapshot.Route{
		{Dst: netip.MustParsePrefix("172.17.0.0/16"), Interface: "docker0"},
		{Dst: netip.MustParsePrefix("0.0.0.0/0"), Interface: "eth0"},
	}
)

func out(proto string, port uint16) Packet {
	return Packet{Direction: Outbound, Protocol: proto, Src: hostIP, Dst: remote, SrcPort: 40000, DstPort: port}
}

func in(proto string, port uint16) Packet {
	return Packet{Direction: Inbound, Protocol: proto, Src: remote, Dst: hostIP, SrcPort: 40000, DstPort: port}
}

// ufwLike is the shape UFW gives: builtin policies DROP, user chains.
func ufwLike() *snapshot.Firewall {
	return &snapshot.Firewall{LocalAddresses: network, Routes: routes, Tables: []snapshot.Table{
		table("iptables-nft", "ip", "filter",
			base("INPUT", "input", "filter", 0, "drop",
				rule("-A INPUT -j ufw-before-input", jump("ufw-before-input")),
				rule("-A INPUT -j ufw-user-input", jump("ufw-user-input"))),
			base("OUTPUT", "output", "filter", 0, "drop",
				rule("-A OUTPUT -j ufw-before-output", jump("ufw-before-output")),
				rule("-A OUTPUT -j ufw-user-output", jump("ufw-user-output"))),
			regular("ufw-before-input",
				rule("-A ufw-before-input -i lo -j ACCEPT", vk("accept"), m("iif", "lo")),
				rule("-A ufw-before-input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", vk("accept"), m("ct_state", "related", "established"))),
			regular("ufw-before-output",
				rule("-A ufw-before-output -o lo -j ACCEPT", vk("accept"), m("oif", "lo")),
				rule("-A ufw-before-output -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", vk("accept"), m("ct_state", "related", "established"))),
			regular("ufw-user-input",
				rule("-A ufw-user-input -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m recent --update --seconds 30 --hitcount 6 -j ufw-user-limit",
					jump("ufw-user-limit"), m("l4proto", "tcp"), m("dport", "22"), m("ct_state", "new"), mayM("recent: depends on earlier packets")),
				rule("-A ufw-user-input -p tcp -m tcp --dport 22 -j ufw-user-limit-accept", jump("ufw-user-limit-accept"), m("l4proto", "tcp"), m("dport", "22")),
				rule("-A ufw-user-input -p tcp -m multiport --dports 80,443,8000:8010 -j ACCEPT", vk("accept"), m("l4proto", "tcp"), m("dport", "80", "443", "8000-8010"))),
			regular("ufw-user-limit",
				rule("-A ufw-user-limit -m limit --limit 3/min -j LOG", snapshot.Verdict{Kind: "continue"}, mayM("limit: depends on the packet rate")),
				rule("-A ufw-user-limit -j REJECT", vk("reject"))),
			regular("ufw-user-limit-accept", rule("-A ufw-user-limit-accept -j ACCEPT", vk("accept"))),
			regular("ufw-user-output",
				rule("-A ufw-user-output -p tcp -m tcp --dport 443 -j ACCEPT", vk("accept"), m("l4proto", "tcp"), m("dport", "443")),
				rule("-A ufw-user-output -p udp -m udp --dport 53 -j ACCEPT", vk("accept"), m("l4proto", "udp"), m("dport", "53"))),
		),
	}}
}

func TestUFWDenyOutgoing(t *testing.T) {
	fw := ufwLike()
	p := out("tcp", 587)
	r := Simulate(fw, p)
	if r.Verdict != Deny || r.Deciding == nil || r.Deciding.Policy != "drop" || r.Deciding.Chain != "OUTPUT" {
		t.Fatalf("587 out = %+v", r)
	}
	want := "outbound tcp to 198.51.100.1:587 is dropped: chain OUTPUT (table filter, iptables-nft) policy DROP, reached after ufw-user-output had no matching rule. The chain belongs to UFW: allow it with `ufw allow out 587/tcp`"
	if got := Explain(r, p); got != want {
		t.Errorf("explanation:\n got %s\nwant %s", got, want)
	}
	var entered []string
	for _, s := range r.Trace {
		if s.Event == "enter" {
			entered = append(entered, s.Where.Chain)
		}
	}
	if !reflect.DeepEqual(entered, []string{"OUTPUT", "ufw-before-output", "ufw-user-output"}) {
		t.Errorf("chains entered = %v", entered)
	}
	if r := Simulate(fw, out("tcp", 443)); r.Verdict != Allow || r.Deciding == nil || r.Deciding.Position != 1 || r.Deciding.Chain != "ufw-user-output" {
		t.Errorf("443 out = %+v", r)
	}
	if r := Simulate(fw, out("udp", 53)); r.Verdict != Allow {
		t.Errorf("53/udp out = %+v", r)
	}
	if r := Simulate(fw, out("udp", 443)); r.Verdict != Deny {
		t.Errorf("443/udp out = %+v", r)
	}
	// Established replies are fine whatever the port.
	p = out("tcp", 587)
	p.CtState = "established"
	if r := Simulate(fw, p); r.Verdict != Allow {
		t.Errorf("established 587 out = %+v", r)
	}
	// Without a source address (as rules/ asks), the route's address is used.
	if r := Simulate(fw, Packet{Direction: Outbound, Protocol: "tcp", Dst: remote, DstPort: 587}); r.Verdict != Deny || r.Final.Src != hostIP || r.Final.OutIface != "eth0" {
		t.Errorf("587 out without source = %+v", r)
	}
	// Loopback traffic is accepted on lo by both OUTPUT and INPUT.
	p = out("tcp", 5432)
	p.Dst = netip.MustParseAddr("127.0.0.1")
	if r := Simulate(fw, p); r.Verdict != Allow {
		t.Errorf("loopback = %+v", r)
	}
}

func TestMayMatch(t *testing.T) {
	fw := ufwLike()
	// The rate limit decides between reject and accept: unknown, and says why.
	r := Simulate(fw, in("tcp", 22))
	if r.Verdict != Unknown || !strings.Contains(r.Reason, "recent") {
		t.Errorf("22 in = %+v", r)
	}
	// A limit that only logs never changes the verdict.
	fw.Tables[0].Chains[4].Rules = append([]snapshot.Rule{rule("-A ufw-user-input -m limit -j LOG", vk("continue"), mayM("limit"))}, fw.Tables[0].Chains[4].Rules...)
	if r := Simulate(fw, in("tcp", 443)); r.Verdict != Allow {
		t.Errorf("443 in = %+v", r)
	}
	if r := Simulate(fw, in("tcp", 25)); r.Verdict != Deny {
		t.Errorf("25 in = %+v", r)
	}
}

func TestAcceptEndsOnlyItsBaseChain(t *testing.T) {
	fw := &snapshot.Firewall{LocalAddresses: network, Routes: routes, Tables: []snapshot.Table{
		table("iptables-nft", "ip", "filter",
			base("OUTPUT", "output", "filter", 0, "accept", rule("-A OUTPUT -p tcp --dport 587 -j ACCEPT", vk("accept"), m("l4proto", "tcp"), m("dport", "587")))),
		table("nftables", "inet", "mail",
			base("out", "output", "filter", 10, "accept", rule("tcp dport 587 drop", vk("drop"), m("l4proto", "tcp"), m("dport", "587")))),
		table("iptables-legacy", "ip", "raw",
			base("OUTPUT", "output", "filter", -300, "accept", rule("-A OUTPUT -p udp --dport 9 -j DROP", vk("drop"), m("l4proto", "udp"), m("dport", "9")))),
	}}
	r := Simulate(fw, out("tcp", 587))
	if r.Verdict != Deny || r.Deciding.Backend != "nftables" || r.Deciding.Text != "tcp dport 587 drop" {
		t.Errorf("587 = %+v", r)
	}
	if !strings.Contains(Explain(r, out("tcp", 587)), `rule "tcp dport 587 drop" in chain out (table inet mail, nftables, rule 1)`) {
		t.Errorf("explanation = %s", Explain(r, out("tcp", 587)))
	}
	// raw (-300) runs before filter: the legacy drop decides first.
	r = Simulate(fw, out("udp", 9))
	if r.Verdict != Deny || r.Deciding.Backend != "iptables-legacy" || r.Trace[0].Where.Table != "raw" {
		t.Errorf("9/udp = %+v", r)
	}
	// IPv6 packets skip ip tables but not inet ones.
	p := out("tcp", 587)
	p.Src, p.Dst = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	if r := Simulate(fw, p); r.Verdict != Deny || r.Deciding.Family != "inet" {
		t.Errorf("ipv6 587 = %+v", r)
	}
}

func TestJumpGotoReturn(t *testing.T) {
	mk := func(bRules ...snapshot.Rule) *snapshot.Firewall {
		return &snapshot.Firewall{Tables: []snapshot.Table{table("nftables", "inet", "t",
			base("in", "input", "filter", 0, "accept",
				rule("jump a", jump("a")),
				rule("drop", vk("drop"))),
			regular("a", rule("tcp dport 1 goto b", gotoV("b"), m("l4proto", "tcp"), m("dport", "1")), rule("accept", vk("accept"))),
			regular("b", bRules...),
		)}}
	}
	// goto b, b falls off: back to the caller of a (in), whose next rule drops.
	if r := Simulate(mk(), in("tcp", 1)); r.Verdict != Deny || r.Deciding.Chain != "in" {
		t.Errorf("goto fall-off = %+v", r)
	}
	// return in b also returns to in.
	if r := Simulate(mk(rule("return", vk("return"))), in("tcp", 1)); r.Verdict != Deny {
		t.Errorf("goto return = %+v", r)
	}
	if r := Simulate(mk(rule("accept", vk("accept"))), in("tcp", 1)); r.Verdict != Allow || r.Deciding.Chain != "b" {
		t.Errorf("goto accept = %+v", r)
	}
	// Not tcp/1: a accepts.
	if r := Simulate(mk(), in("tcp", 2)); r.Verdict != Allow || r.Deciding.Chain != "a" {
		t.Errorf("a accept = %+v", r)
	}
}

func dockerLike() *snapshot.Firewall {
	return &snapshot.Firewall{LocalAddresses: network, Routes: routes, Tables: []snapshot.Table{
		table("iptables-nft", "ip", "nat",
			base("PREROUTING", "prerouting", "nat", -100, "accept", rule("-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER", jump("DOCKER"), m("dst_type", "local"))),
			regular("DOCKER",
				rule("-A DOCKER -i docker0 -j RETURN", vk("return"), m("iif", "docker0")),
				rule("-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80",
					snapshot.Verdict{Kind: "dnat", To: "172.17.0.2:80"}, not(m("iif", "docker0")), m("l4proto", "tcp"), m("dport", "8080")))),
		table("iptables-nft", "ip", "filter",
			base("INPUT", "input", "filter", 0, "accept"),
			base("FORWARD", "forward", "filter", 0, "drop",
				rule("-A FORWARD -j DOCKER-USER", jump("DOCKER-USER")),
				rule("-A FORWARD -o docker0 -j DOCKER", jump("DOCKER"), m("oif", "docker0"))),
			regular("DOCKER-USER",
				rule("-A DOCKER-USER -s 198.51.100.0/24 -j DROP", vk("drop"), m("saddr", "198.51.100.0/24"), m("dport", "81")),
				rule("-A DOCKER-USER -j RETURN", vk("return"))),
			regular("DOCKER",
				rule("-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT", vk("accept"),
					m("daddr", "172.17.0.2/32"), not(m("iif", "docker0")), m("oif", "docker0"), m("l4proto", "tcp"), m("dport", "80")))),
	}}
}

func TestDNATBeforeRouting(t *testing.T) {
	fw := dockerLike()
	p := in("tcp", 8080)
	r := Simulate(fw, p)
	if r.Verdict != Allow || r.Final.Dst != ctrIP || r.Final.DstPort != 80 || r.Final.OutIface != "docker0" {
		t.Fatalf("published port = %+v", r)
	}
	var hooks []string
	for _, s := range r.Trace {
		if len(hooks) == 0 || hooks[len(hooks)-1] != s.Hook {
			hooks = append(hooks, s.Hook)
		}
	}
	if !reflect.DeepEqual(hooks, []string{"prerouting", "forward"}) {
		t.Errorf("hooks = %v", hooks)
	}
	if got := Explain(r, p); !strings.Contains(got, "rewritten to 172.17.0.2:80") {
		t.Errorf("explanation = %s", got)
	}
	// Not published: input on the host, policy accept.
	if r := Simulate(fw, in("tcp", 8081)); r.Verdict != Allow || r.Final.Dst != hostIP {
		t.Errorf("8081 = %+v", r)
	}
	// Forwarded straight to the container on an unpublished port: FORWARD policy.
	p = Packet{Direction: Forward, Protocol: "tcp", Src: remote, Dst: ctrIP, SrcPort: 1234, DstPort: 81}
	r = Simulate(fw, p)
	if r.Verdict != Deny {
		t.Fatalf("forward 81 = %+v", r)
	}
	if name, hint := Manager(r); name != "Docker" || !strings.Contains(hint(p), "DOCKER-USER") {
		t.Errorf("manager = %q", name)
	}
	// Established connections skip nat chains.
	p = in("tcp", 8080)
	p.CtState = "established"
	if r := Simulate(fw, p); r.Final.Dst != hostIP {
		t.Errorf("established packet was DNATed: %+v", r)
	}
}

func TestSetsAndMaps(t *testing.T) {
	fw := &snapshot.Firewall{LocalAddresses: network, Routes: routes, Tables: []snapshot.Table{{
		Backend: "nftables", Family: "inet", Name: "fw",
		Sets: []snapshot.Set{
			{Name: "trusted", KeyType: []string{"ipv4_addr"}, Flags: []string{"interval"}, Elements: []snapshot.SetElement{{Key: []string{"198.51.100.0/28"}}, {Key: []string{"192.0.2.5-192.0.2.9"}}}},
			{Name: "svc", KeyType: []string{"ipv4_addr", "inet_proto", "inet_service"}, Elements: []snapshot.SetElement{{Key: []string{"203.0.113.10", "tcp", "3306"}}}},
			{Name: "ports", KeyType: []string{"inet_service"}, Flags: []string{"map"}, DataType: "verdict", Elements: []snapshot.SetElement{
				{Key: []string{"25"}, Value: "drop"}, {Key: []string{"8000-8100"}, Value: "jump web"}, {Key: []string{"22"}, Value: "accept"}}},
			{Name: "__set0", Anonymous: true, KeyType: []string{"inet_service"}, Elements: []snapshot.SetElement{{Key: []string{"80"}}, {Key: []string{"443"}}}},
			{Name: "bad", KeyType: []string{"ipv4_addr"}, Flags: []string{"dynamic", "timeout"}, Elements: []snapshot.SetElement{}},
		},
		Chains: []snapshot.Chain{
			base("input", "input", "filter", 0, "drop",
				rule("ip saddr @trusted ip daddr . meta l4proto . th dport @svc accept", vk("accept"), inSet("trusted", "saddr"), inSet("svc", "daddr", "l4proto", "dport")),
				rule("tcp dport vmap @ports", snapshot.Verdict{Kind: "vmap", Set: "ports", Keys: []string{"dport"}}, m("l4proto", "tcp")),
				rule("tcp dport { 80, 443 } accept", vk("accept"), m("l4proto", "tcp"), inSet("__set0", "dport")),
				rule("ip saddr @bad drop", vk("drop"), inSet("bad", "saddr")),
				rule("udp dport 53 accept", vk("accept"), m("l4proto", "udp"), m("dport", "53"))),
			regular("web", rule("ip saddr != 198.51.100.0/24 drop", vk("drop"), not(m("saddr", "198.51.100.0/24"))), rule("accept", vk("accept"))),
		},
	}}}
	p := in("tcp", 3306)
	if r := Simulate(fw, p); r.Verdict != Allow || r.Deciding.Position != 1 {
		t.Errorf("trusted 3306 = %+v", r)
	}
	p.Src = netip.MustParseAddr("192.0.2.7")
	if r := Simulate(fw, p); r.Verdict != Allow || r.Deciding.Position != 1 {
		t.Errorf("range 3306 = %+v", r)
	}
	p.Src = netip.MustParseAddr("192.0.2.10")
	if r := Simulate(fw, p); r.Verdict != Deny {
		t.Errorf("untrusted 3306 = %+v", r)
	}
	for port, want := range map[uint16]Verdict{25: Deny, 22: Allow, 8050: Allow, 443: Allow, 444: Deny} {
		if r := Simulate(fw, in("tcp", port)); r.Verdict != want {
			t.Errorf("tcp %d = %s, want %s: %s", port, r.Verdict, want, Explain(r, in("tcp", port)))
		}
	}
	p = in("tcp", 8050)
	p.Src = netip.MustParseAddr("192.0.2.1")
	if r := Simulate(fw, p); r.Verdict != Deny || r.Deciding.Chain != "web" {
		t.Errorf("vmap jump web = %+v", r)
	}
	// A set filled at run time does not hold a fresh peer: the verdict
	// says so.
	if r := Simulate(fw, in("udp", 53)); r.Verdict != Allow || len(r.Conditions) != 1 || !strings.Contains(r.Conditions[0], "@bad") {
		t.Errorf("dynamic set = %+v", r)
	}
}

func TestMatchesMisc(t *testing.T) {
	fw := &snapshot.Firewall{LocalAddresses: network, Routes: routes, Tables: []snapshot.Table{
		table("iptables-nft", "ip", "mangle",
			base("OUTPUT", "output", "route", -150, "accept",
				rule("-A OUTPUT -p udp --dport 123 -j MARK --set-xmark 0x1/0x1", snapshot.Verdict{Kind: "continue"}, m("l4proto", "udp"), m("dport", "123")))),
		table("iptables-nft", "ip", "filter",
			base("OUTPUT", "output", "filter", 0, "accept",
				rule("-A OUTPUT -m mark --mark 0x1/0x1 -j DROP", vk("drop"), m("mark", "0x1/0x1")),
				rule("-A OUTPUT -o veth+ -j DROP", vk("drop"), m("oif", "veth+")),
				rule("-A OUTPUT -p tcp -m tcp --dport 1000:2000 -j REJECT", vk("reject"), m("l4proto", "tcp"), m("dport", "1000-2000")),
				rule("-A OUTPUT -p icmp --icmp-type echo-request -j DROP", vk("drop"), m("l4proto", "icmp"), m("icmp_type", "8")),
				rule("-A OUTPUT -p tcp --dport 7 -j NFQUEUE", vk("queue"), m("l4proto", "tcp"), m("dport", "7")),
				rule("-A OUTPUT -m u32 ... -j DROP", snapshot.Verdict{Kind: "drop"}, m("l4proto", "tcp"), m("dport", "9")))),
	}}
	fw.Tables[0].Chains[0].Rules[0].Effects = []snapshot.Effect{{Kind: "mark", Value: "0x1/0x1"}}
	fw.Tables[1].Chains[0].Rules[5].Unsupported = []string{"match u32"}
	cases := []struct {
		p    Packet
		want Verdict
	}{
		{out("udp", 123), Deny},
		{out("udp", 124), Allow},
		{out("tcp", 1500), Deny},
		{out("tcp", 2001), Allow},
		{Packet{Direction: Outbound, Protocol: "icmp", ICMPType: "echo-request", Src: hostIP, Dst: remote}, Deny},
		{Packet{Direction: Outbound, Protocol: "icmp", ICMPType: "echo-reply", Src: hostIP, Dst: remote}, Allow},
		{out("tcp", 7), Unknown},
		{out("tcp", 9), Unknown},
		{out("tcp", 10), Allow},
		{Packet{Direction: Outbound, Protocol: "tcp", Src: hostIP, Dst: remote, DstPort: 80, OutIface: "veth12"}, Deny},
	}
	for _, c := range cases {
		if r := Simulate(fw, c.p); r.Verdict != c.want {
			t.Errorf("%s = %s, want %s: %s", c.p, r.Verdict, c.want, Explain(r, c.p))
		}
	}
}

// TestJSONRoundTrip: a snapshot saved and loaded again simulates the same.
func TestJSONRoundTrip(t *testing.T) {
	fw := dockerLike()
	b, err := json.Marshal(fw)
	if err != nil {
		t.Fatal(err)
	}
	var back snapshot.Firewall
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fw, &back) {
		t.Fatalf("round trip changed the firewall")
	}
	for _, p := range []Packet{in("tcp", 8080), in("udp", 8080), {Direction: Forward, Protocol: "tcp", Src: remote, Dst: ctrIP, DstPort: 80}} {
		a, b := Simulate(fw, p), Simulate(&back, p)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: %+v != %+v", p, a, b)
		}
	}
}

func TestAllowedPorts(t *testing.T) {
	allowed, unknown := AllowedPorts(ufwLike(), out("", 0), nil)
	var got []string
	for _, p := range allowed {
		got = append(got, p.String())
	}
	if !reflect.DeepEqual(got, []string{"udp/53", "tcp/443"}) || len(unknown) != 0 {
		t.Errorf("allowed = %v, unknown = %v", got, unknown)
	}
}

func TestManagers(t *testing.T) {
	fw := &snapshot.Firewall{Tables: []snapshot.Table{table("nftables", "inet", "firewalld",
		base("filter_INPUT", "input", "filter", 10, "accept", rule("jump filter_INPUT_ZONES", jump("filter_INPUT_ZONES")), rule("reject with icmpx admin-prohibited", vk("reject"))),
		regular("filter_INPUT_ZONES", rule("goto filter_IN_public", gotoV("filter_IN_public"))),
		regular("filter_IN_public", rule("tcp dport 22 accept", vk("accept"), m("l4proto", "tcp"), m("dport", "22"))),
	), table("iptables-nft", "ip", "filter", base("INPUT", "input", "filter", 0, "accept", rule("-A INPUT -j KUBE-FIREWALL", jump("KUBE-FIREWALL"))),
		regular("KUBE-FIREWALL", rule("-A KUBE-FIREWALL -p tcp --dport 10250 -j DROP", vk("drop"), m("l4proto", "tcp"), m("dport", "10250"))))}}
	p := in("tcp", 8080)
	r := Simulate(fw, p)
	name, hint := Manager(r)
	if r.Verdict != Deny || name != "firewalld" || !strings.Contains(hint(p), "firewall-cmd --add-port=8080/tcp") {
		t.Errorf("firewalld: %s %+v", name, r)
	}
	p = in("tcp", 10250)
	r = Simulate(fw, p)
	if name, _ := Manager(r); name != "kube-proxy" {
		t.Errorf("kube: %s %+v", name, r)
	}
}

func TestProgramForReusesTheCompilation(t *testing.T) {
	a, b := &snapshot.Firewall{}, &snapshot.Firewall{}
	pa := ProgramFor(a)
	if ProgramFor(a) != pa {
		t.Error("a second ProgramFor of the same firewall compiled it again")
	}
	if ProgramFor(b) == pa {
		t.Error("ProgramFor of another firewall returned the first one's program")
	}
}

// TestExplainNamesOrigins: the explanation names the configuration behind
// the deciding rule, and the zone a packet left undecided before a
// catch-all decided it.
func TestExplainNamesOrigins(t *testing.T) {
	ssh := rule("tcp dport 22 accept", vk("accept"), m("l4proto", "tcp"), m("dport", "22"))
	ssh.Origin = "firewalld zone public, service ssh"
	final := rule("reject with icmpx admin-prohibited", vk("reject"))
	zone := regular("filter_IN_public", ssh)
	zone.Origin = "firewalld zone public"
	fw := &snapshot.Firewall{Tables: []snapshot.Table{table("nftables", "inet", "firewalld",
		base("filter_INPUT", "input", "filter", 10, "accept", rule("jump filter_IN_public", jump("filter_IN_public")), final),
		zone,
	)}}
	for _, c := range []struct {
		port uint16
		want string
	}{
		{22, `rule "tcp dport 22 accept" in chain filter_IN_public (table inet firewalld, nftables, rule 1), set by firewalld zone public, service ssh`},
		{23, `rule "reject with icmpx admin-prohibited" in chain filter_INPUT (table inet firewalld, nftables, rule 2); nothing in firewalld zone public decided it`},
	} {
		p := in("tcp", c.port)
		if got := Explain(Simulate(fw, p), p); !strings.Contains(got, c.want) {
			t.Errorf("port %d:\n got %s\nwant it to hold %s", c.port, got, c.want)
		}
	}
}

// TestPriority: a packet from a network device has priority 0 until a rule
// sets it; a local packet's is its socket's, unknown until a rule sets it.
func TestPriority(t *testing.T) {
	drop := func(prio string) snapshot.Rule {
		return rule("meta priority "+prio+" drop", vk("drop"), m("priority", prio))
	}
	set := func() snapshot.Rule {
		r := rule("meta priority set 1:5", vk("continue"))
		r.Effects = []snapshot.Effect{{Kind: "priority", Value: "0x10005"}}
		return r
	}
	fw := func(in, out []snapshot.Rule) *snapshot.Firewall {
		return &snapshot.Firewall{LocalAddresses: network, Routes: routes, Tables: []snapshot.Table{
			table("nftables", "inet", "t",
				base("pre", "prerouting", "filter", 0, "accept", rule("meta priority != 0 drop", vk("drop"), not(m("priority", "0x0")))),
				base("in", "input", "filter", 0, "accept", in...),
				base("out", "output", "filter", 0, "accept", out...)),
		}}
	}
	if r := Simulate(fw([]snapshot.Rule{drop("0x10001-0x10009")}, nil), in("tcp", 22)); r.Verdict != Allow {
		t.Errorf("inbound, priority 0 = %+v", r)
	}
	if r := Simulate(fw([]snapshot.Rule{set(), drop("0x10001-0x10009")}, nil), in("tcp", 22)); r.Verdict != Deny {
		t.Errorf("inbound, priority set to 1:5 then 1:1-1:9 = %+v", r)
	}
	if r := Simulate(fw(nil, []snapshot.Rule{drop("0x0")}), out("tcp", 22)); r.Verdict != Unknown || !strings.Contains(r.Reason, snapshot.MayProcess) {
		t.Errorf("outbound, the socket's priority = %+v", r)
	}
	if r := Simulate(fw(nil, []snapshot.Rule{set(), drop("0x0")}), out("tcp", 22)); r.Verdict != Allow {
		t.Errorf("outbound, priority set to 1:5 = %+v", r)
	}
}

// TestCtZone: a new connection is in zone 0 unless some rule may set a
// zone, and then its zone is unknown.
func TestCtZone(t *testing.T) {
	fw := func(extra ...snapshot.Rule) *snapshot.Firewall {
		rules := append(extra, rule("ct zone 0 drop", vk("drop"), m("ct_zone", "0")))
		return &snapshot.Firewall{LocalAddresses: network, Routes: routes, Tables: []snapshot.Table{
			table("nftables", "inet", "t", base("in", "input", "filter", 0, "accept", rules...)),
		}}
	}
	if r := Simulate(fw(), in("tcp", 22)); r.Verdict != Deny {
		t.Errorf("zone 0 = %+v", r)
	}
	set := rule("ct zone set 3", vk("continue"))
	set.Effects = []snapshot.Effect{{Kind: "ct_zone"}}
	if r := Simulate(fw(set), in("tcp", 22)); r.Verdict != Unknown || !strings.Contains(r.Reason, "ct zone set 3") {
		t.Errorf("zone after a zone set = %+v", r)
	}
}

// TestNATFromMap: "dnat to ip saddr map {...}" rewrites to the map's value
// for the packet's key; with no element for it the rule breaks.
func TestNATFromMap(t *testing.T) {
	fw := &snapshot.Firewall{LocalAddresses: network, Routes: routes, Tables: []snapshot.Table{{
		Backend: "nftables", Family: "ip", Name: "nat",
		Sets: []snapshot.Set{{Name: "m", KeyType: []string{"ipv4_addr"}, Flags: []string{"map"}, DataType: "ipv4_addr",
			Elements: []snapshot.SetElement{{Key: []string{remote.String()}, Value: ctrIP.String()}}}},
		Chains: []snapshot.Chain{base("pre", "prerouting", "nat", -100, "accept",
			rule("dnat to ip saddr map @m", snapshot.Verdict{Kind: snapshot.VerdictDNAT, Set: "m", Keys: []string{"saddr"}}, inSet("m", "saddr")))},
	}}}
	if r := Simulate(fw, in("tcp", 8080)); r.Final.Dst != ctrIP {
		t.Errorf("from a source in the map: %+v", r)
	}
	p := in("tcp", 8080)
	p.Src = netip.MustParseAddr("192.0.2.77")
	if r := Simulate(fw, p); r.Final.Dst != hostIP || r.Verdict != Allow {
		t.Errorf("from a source not in the map: %+v", r)
	}
}
