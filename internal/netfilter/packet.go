// Package netfilter simulates the kernel's packet path over a firewall
// snapshot: which rule or policy decides the fate of a given packet.
package netfilter

import (
	"fmt"
	"net/netip"
)

// Direction is where a packet comes from and goes to, seen from the host.
type Direction string

// Directions.
const (
	// Outbound packets are sent by the host itself.
	Outbound Direction = "outbound"
	// Inbound packets arrive for the host itself.
	Inbound Direction = "inbound"
	// Forward packets cross the host (routed or bridged to containers).
	Forward Direction = "forward"
)

// Packet is the first packet of a connection (or any packet, with CtState).
type Packet struct {
	Direction Direction
	// Protocol is tcp, udp, icmp, icmpv6, sctp or a protocol number.
	Protocol string
	Src, Dst netip.Addr
	SrcPort  uint16
	DstPort  uint16
	// ICMPType is the icmp or icmpv6 type, by name (echo-request) or number.
	ICMPType string
	// InIface and OutIface are the interfaces the packet arrives on and
	// leaves by; empty ones are taken from the routes in the snapshot.
	InIface  string
	OutIface string
	// CtState is new (the default), established, related, invalid or untracked.
	CtState string
	// Mark is the packet mark the sender set (SO_MARK); usually 0.
	Mark uint32
}

// Verdict is the simulated fate of a packet.
type Verdict string

// Verdicts.
const (
	Allow   Verdict = "allow"
	Deny    Verdict = "deny"
	Unknown Verdict = "unknown"
)

// RuleRef names one rule (or, with Position 0, a chain's policy) and quotes it.
type RuleRef struct {
	Backend  string `json:"backend"`
	Family   string `json:"family"`
	Table    string `json:"table"`
	Chain    string `json:"chain"`
	Position int    `json:"position,omitempty"`
	Handle   uint64 `json:"handle,omitempty"`
	// Text is the rule as its tool prints it, or "policy DROP".
	Text    string `json:"text"`
	Comment string `json:"comment,omitempty"`
	// Policy is set when the chain's policy decided.
	Policy string `json:"policy,omitempty"`
	// Origin names the firewall manager's configuration behind the rule,
	// or behind the chain when the rule has none (snapshot.Rule.Origin,
	// snapshot.Chain.Origin).
	Origin string `json:"origin,omitempty"`
}

// Step is one event of the walk: a chain entered, a rule that matched with a
// verdict, a chain left with no matching rule, a policy applied.
type Step struct {
	Hook string `json:"hook"`
	// Event is enter, rule, end (no rule matched), policy, nat or skip.
	Event string  `json:"event"`
	Where RuleRef `json:"where"`
	Note  string  `json:"note,omitempty"`
}

// Result is the outcome of a simulation.
type Result struct {
	Verdict Verdict `json:"verdict"`
	// Trace is the walk of the first path (undecidable matches taken as not
	// matching); it ends at the decision.
	Trace []Step `json:"trace"`
	// Deciding is the rule or policy that decided; nil when the packet passed
	// every hook without a drop (allow by default policies) or is unknown.
	Deciding *RuleRef `json:"deciding,omitempty"`
	// Reason says why the verdict is unknown, or what rewrote the packet.
	Reason string `json:"reason,omitempty"`
	// Final is the packet after NAT.
	Final Packet `json:"final"`
	// Conditions are what the verdict assumes of the peer's history and the
	// load, for matches on rate or history (limit, recent, ct count...): it
	// holds for the first packet of a peer that sent nothing before, under
	// normal load. Empty when the verdict assumes nothing.
	Conditions []string `json:"conditions,omitempty"`
}

func (p Packet) String() string {
	dst := p.Dst.String()
	if p.DstPort != 0 {
		dst = netip.AddrPortFrom(p.Dst, p.DstPort).String()
	}
	return fmt.Sprintf("%s %s to %s", p.Direction, p.Protocol, dst)
}
