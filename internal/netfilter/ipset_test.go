package netfilter

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func ipsetM(name string, neg bool, dirs ...string) snapshot.Match {
	return snapshot.Match{Field: "ipset", Set: name, Negate: neg, Keys: dirs}
}

func mem(key ...string) snapshot.IPSetMember { return snapshot.IPSetMember{Key: key} }

// TestIPSetMatch: membership as the kernel's set types decide it.
func TestIPSetMatch(t *testing.T) {
	sets := []snapshot.IPSet{
		{Name: "nets", Type: "hash:net", Family: "inet", Members: []snapshot.IPSetMember{
			mem("198.51.100.0/24"), {Key: []string{"198.51.100.0/28"}, NoMatch: true}, mem("198.51.100.4/30")}},
		{Name: "hosts", Type: "hash:ip", Family: "inet", Members: []snapshot.IPSetMember{mem("192.0.2.7")}},
		{Name: "svc", Type: "hash:ip,port", Family: "inet", Members: []snapshot.IPSetMember{mem("203.0.113.10", "tcp:22")}},
		{Name: "ports", Type: "bitmap:port", Members: []snapshot.IPSetMember{mem("8080")}},
		{Name: "ifs", Type: "hash:net,iface", Family: "inet", Members: []snapshot.IPSetMember{mem("198.51.100.0/24", "eth+")}},
		{Name: "six", Type: "hash:net", Family: "inet6", Members: []snapshot.IPSetMember{mem("::/0")}},
		{Name: "either", Type: "list:set", Members: []snapshot.IPSetMember{mem("hosts"), mem("svc")}},
		{Name: "macs", Type: "hash:mac", Members: []snapshot.IPSetMember{mem("02:00:00:00:00:01")}},
		{Name: "banned", Type: "hash:ip", Family: "inet", Timeout: 600, Members: []snapshot.IPSetMember{mem("192.0.2.99")}},
	}
	from := func(src string, proto string, port uint16) Packet {
		p := in(proto, port)
		p.Src = netip.MustParseAddr(src)
		return p
	}
	tests := []struct {
		name  string
		match snapshot.Match
		pkt   Packet
		want  Verdict // of "match -> drop", policy accept
		cond  bool
	}{
		{"in a net", ipsetM("nets", false, "src"), from("198.51.100.200", "tcp", 22), Deny, false},
		{"in the nomatch exception", ipsetM("nets", false, "src"), from("198.51.100.1", "tcp", 22), Allow, false},
		{"in a net inside the exception", ipsetM("nets", false, "src"), from("198.51.100.5", "tcp", 22), Deny, false},
		{"negated", ipsetM("nets", true, "src"), from("198.51.100.1", "tcp", 22), Deny, false},
		{"hash:ip on dst", ipsetM("hosts", false, "dst"), from("192.0.2.7", "tcp", 22), Allow, false},
		{"ip,port", ipsetM("svc", false, "dst", "dst"), from("192.0.2.1", "tcp", 22), Deny, false},
		{"ip,port other protocol", ipsetM("svc", false, "dst", "dst"), from("192.0.2.1", "udp", 22), Allow, false},
		{"fewer directions than dimensions", ipsetM("svc", false, "dst"), from("192.0.2.1", "tcp", 22), Allow, false},
		{"bitmap:port", ipsetM("ports", false, "dst"), from("192.0.2.1", "udp", 8080), Deny, false},
		{"net,iface wildcard", ipsetM("ifs", false, "src", "src"), from("198.51.100.9", "tcp", 22), Deny, false},
		{"other family", ipsetM("six", false, "src"), from("192.0.2.1", "tcp", 22), Allow, false},
		{"list:set", ipsetM("either", false, "src", "dst"), from("192.0.2.7", "tcp", 80), Deny, false},
		{"list:set second member", ipsetM("either", false, "dst", "dst"), from("192.0.2.1", "tcp", 22), Deny, false},
		{"type not interpreted", ipsetM("macs", false, "src"), from("192.0.2.1", "tcp", 22), Unknown, false},
		{"timeouts, listed", ipsetM("banned", false, "src"), from("192.0.2.99", "tcp", 22), Deny, false},
		{"timeouts, fresh peer", ipsetM("banned", false, "src"), from("192.0.2.98", "tcp", 22), Allow, true},
	}
	for _, tt := range tests {
		tt.pkt.InIface = "eth0"
		fw := &snapshot.Firewall{LocalAddresses: network, Routes: routes, IPSets: sets, Tables: []snapshot.Table{
			table("iptables-nft", "ip", "filter", base("INPUT", "input", "filter", 0, "accept",
				rule("-A INPUT "+tt.name+" -j DROP", vk("drop"), tt.match)))}}
		r := Simulate(fw, tt.pkt)
		if r.Verdict != tt.want || (len(r.Conditions) > 0) != tt.cond {
			t.Errorf("%s: %s %v, want %s: %s", tt.name, r.Verdict, r.Conditions, tt.want, Explain(r, tt.pkt))
		}
		if tt.cond && !strings.Contains(r.Conditions[0], "ipset banned") {
			t.Errorf("%s: condition %q", tt.name, r.Conditions[0])
		}
	}
}
