package netfilter

import (
	"net/netip"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// TestPkttypeOfSentPackets: a packet the host sends is of type host in
// the output and postrouting hooks, whatever its destination (the kernel
// sets the loopback copy of a multicast or broadcast apart only after
// postrouting); a packet that arrives has the type of its destination.
// The iptables suite's differential found the simulator deciding
// "-m pkttype --pkt-type multicast" from an outbound packet's destination.
func TestPkttypeOfSentPackets(t *testing.T) {
	mcast, bcast := netip.MustParseAddr("224.0.0.251"), netip.MustParseAddr("203.0.113.255")
	cases := []struct {
		dir  Direction
		dst  netip.Addr
		drop string // the pkttype rule
		want Verdict
	}{
		{Outbound, mcast, "multicast", Allow},
		{Outbound, bcast, "broadcast", Allow},
		{Outbound, mcast, "unicast", Deny},
		{Outbound, bcast, "host", Deny},
		{Outbound, remote, "unicast", Deny},
		{Inbound, mcast, "multicast", Deny},
		{Inbound, bcast, "broadcast", Deny},
		{Inbound, mcast, "unicast", Allow},
		{Inbound, hostIP, "unicast", Deny},
	}
	for _, c := range cases {
		hook := "output"
		if c.dir == Inbound {
			hook = "input"
		}
		fw := &snapshot.Firewall{LocalAddresses: network, Routes: routes, Tables: []snapshot.Table{
			table("nftables", "inet", "t", base("c", hook, "filter", 0, "accept",
				rule("meta pkttype "+c.drop+" drop", vk("drop"), m("pkttype", c.drop)))),
		}}
		p := Packet{Direction: c.dir, Protocol: "udp", Src: hostIP, Dst: c.dst, SrcPort: 40000, DstPort: 5353}
		if c.dir == Inbound {
			p.Src = remote
		}
		if got := Simulate(fw, p); got.Verdict != c.want {
			t.Errorf("%s udp to %s through pkttype %s drop: %s, want %s: %s", c.dir, c.dst, c.drop, got.Verdict, c.want, Explain(got, p))
		}
	}
}
