package netfilter

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Explain renders a result as one paragraph an operator can act on, e.g.
// "outbound tcp to 198.51.100.1:587 is dropped: chain OUTPUT (table filter,
// iptables-nft) policy DROP, reached after ufw-user-output had no matching rule".
func Explain(r Result, p Packet) string {
	if p.Direction == "" {
		p.Direction = Outbound
	}
	what := describePacket(p)
	var b strings.Builder
	assuming := ""
	if len(r.Conditions) > 0 {
		assuming = " (assuming " + strings.Join(r.Conditions, "; ") + ")"
	}
	switch r.Verdict {
	case Deny:
		b.WriteString(what + " is dropped" + assuming + ": ")
	case Allow:
		b.WriteString(what + " is allowed" + assuming)
		if r.Deciding == nil {
			b.WriteString(": no chain drops it")
		} else {
			b.WriteString(": ")
		}
	default:
		b.WriteString(what + " has an unknown fate: " + r.Reason)
		return b.String()
	}
	if d := r.Deciding; d != nil {
		if d.Policy != "" {
			fmt.Fprintf(&b, "chain %s (table %s, %s) %s", d.Chain, tableName(d), d.Backend, d.Text)
			if after := lastEmpty(r.Trace, d); after != "" {
				fmt.Fprintf(&b, ", reached after %s had no matching rule", after)
			}
		} else {
			fmt.Fprintf(&b, "rule %q in chain %s (table %s, %s", d.Text, d.Chain, tableName(d), d.Backend)
			if d.Handle != 0 {
				fmt.Fprintf(&b, ", handle %d", d.Handle)
			} else if d.Position != 0 {
				fmt.Fprintf(&b, ", rule %d", d.Position)
			}
			b.WriteString(")")
		}
		b.WriteString(origins(r.Trace, d))
	}
	if r.Final.Dst.IsValid() && (r.Final.Dst != p.Dst || r.Final.DstPort != p.DstPort) {
		fmt.Fprintf(&b, "; rewritten to %s", hostPort(r.Final.Dst, r.Final.DstPort))
	}
	if m, hint := Manager(r); m != "" && r.Verdict == Deny {
		fmt.Fprintf(&b, ". The chain belongs to %s: %s", m, hint(p))
	}
	return b.String()
}

func tableName(d *RuleRef) string {
	if d.Backend == snapshot.BackendNftables {
		return d.Family + " " + d.Table
	}
	return d.Table
}

func hostPort(a netip.Addr, port uint16) string {
	if port == 0 {
		return a.String()
	}
	return netip.AddrPortFrom(a, port).String()
}

func describePacket(p Packet) string {
	proto := snapshot.ProtocolName(p.Protocol)
	if proto == "" {
		proto = "traffic"
	}
	switch p.Direction {
	case Inbound:
		return fmt.Sprintf("inbound %s to %s", proto, hostPort(p.Dst, p.DstPort))
	case Forward:
		return fmt.Sprintf("forwarded %s from %s to %s", proto, p.Src, hostPort(p.Dst, p.DstPort))
	}
	return fmt.Sprintf("outbound %s to %s", proto, hostPort(p.Dst, p.DstPort))
}

// origins names the configuration behind the deciding rule, and the one
// the packet went through without a decision before it in the same table
// on the same hook (firewalld's zone, when its final reject decides), as
// recorded in the snapshot.
func origins(trace []Step, d *RuleRef) string {
	var s string
	if d.Origin != "" {
		s = ", set by " + d.Origin
	}
	for i := len(trace) - 1; i >= 0; i-- {
		w := trace[i].Where
		if trace[i].Hook != trace[len(trace)-1].Hook || w.Backend != d.Backend || w.Family != d.Family || w.Table != d.Table {
			break // only the deciding table's walk on the deciding hook
		}
		o := w.Origin
		if trace[i].Event != "end" || o == "" {
			continue
		}
		if !strings.HasPrefix(d.Origin, o) {
			s += "; nothing in " + o + " decided it"
		}
		break
	}
	return s
}

// lastEmpty names the last chain that ended with no matching rule before the
// decision, other than the deciding chain itself.
func lastEmpty(trace []Step, d *RuleRef) string {
	for i := len(trace) - 1; i >= 0; i-- {
		s := trace[i]
		if s.Event == "end" && !(s.Where.Chain == d.Chain && s.Where.Table == d.Table && s.Where.Backend == d.Backend) {
			return s.Where.Chain
		}
		if s.Event == "enter" && s.Where.Chain == d.Chain && s.Where.Table == d.Table && s.Where.Backend == d.Backend {
			// only look inside the deciding base chain's walk
			continue
		}
	}
	return ""
}

// Manager recognises which firewall manager owns the chains that decided a
// result (UFW, firewalld, Docker, kube-proxy), and returns a remediation
// hint for a packet; "" when none is recognised.
func Manager(r Result) (string, func(Packet) string) {
	var chains []string
	start := 0
	if r.Deciding != nil {
		for i := len(r.Trace) - 1; i >= 0; i-- {
			w := r.Trace[i].Where
			if w.Chain == r.Deciding.Chain && w.Table == r.Deciding.Table && r.Trace[i].Event == "enter" {
				start = i
				break
			}
		}
		chains = append(chains, r.Deciding.Chain, r.Deciding.Table)
	}
	for _, s := range r.Trace[start:] {
		chains = append(chains, s.Where.Chain, s.Where.Table)
	}
	has := func(pred func(string) bool) bool {
		for _, c := range chains {
			if pred(c) {
				return true
			}
		}
		return false
	}
	switch {
	case has(func(c string) bool { return strings.HasPrefix(c, "ufw-") || strings.HasPrefix(c, "ufw6-") }):
		return "UFW", func(p Packet) string {
			proto := snapshot.ProtocolName(p.Protocol)
			if p.Direction == Outbound {
				return fmt.Sprintf("allow it with `ufw allow out %d/%s`", p.DstPort, proto)
			}
			if p.Direction == Forward {
				return fmt.Sprintf("allow it with `ufw route allow proto %s to %s port %d`", proto, p.Dst, p.DstPort)
			}
			return fmt.Sprintf("allow it with `ufw allow %d/%s`", p.DstPort, proto)
		}
	case has(func(c string) bool {
		return c == "firewalld" || strings.HasPrefix(c, "filter_IN_") || strings.HasPrefix(c, "filter_OUT_") || strings.HasPrefix(c, "filter_FWD_") || strings.HasPrefix(c, "nat_PRE_")
	}):
		if d := r.Deciding; d != nil && d.Policy == "" && (strings.HasSuffix(d.Chain, "_deny") || strings.HasSuffix(d.Chain, "_pre") || strings.HasSuffix(d.Chain, "_post")) {
			// Opening the port would not help: a zone's deny, pre and post
			// chains hold its rich rules (and icmp blocks), and come
			// before or decide ahead of what the zone opens.
			return "firewalld", func(Packet) string {
				return "a rich rule (or an icmp block) of the zone rejects it, and opening the port would not change that: find it with `firewall-cmd --list-rich-rules` and remove it with --remove-rich-rule (and again with --permanent)"
			}
		}
		return "firewalld", func(p Packet) string {
			return fmt.Sprintf("open it with `firewall-cmd --add-port=%d/%s` (and again with --permanent to keep it)", p.DstPort, snapshot.ProtocolName(p.Protocol))
		}
	case has(func(c string) bool { return strings.HasPrefix(c, "DOCKER") }):
		return "Docker", func(Packet) string {
			return "Docker rewrites its own chains on restart; put your rules in the DOCKER-USER chain (iptables -I DOCKER-USER ...)"
		}
	case has(func(c string) bool { return strings.HasPrefix(c, "KUBE-") }):
		return "kube-proxy", func(Packet) string {
			return "kube-proxy regenerates these rules; change the Service, its endpoints or the NetworkPolicy instead"
		}
	}
	return "", nil
}

// PortProto is a protocol and port, printed "tcp/443".
type PortProto struct {
	Protocol string
	Port     uint16
}

func (p PortProto) String() string { return p.Protocol + "/" + strconv.Itoa(int(p.Port)) }

// AllowedPorts simulates tmpl once per candidate (tmpl's protocol and port
// replaced) and returns those allowed and those whose fate is unknown. With
// no candidates it tries every port the ruleset names plus common ones.
func AllowedPorts(fw *snapshot.Firewall, tmpl Packet, candidates []PortProto) (allowed, unknown []PortProto) {
	if len(candidates) == 0 {
		candidates = MentionedPorts(fw)
	}
	prog := ProgramFor(fw)
	for _, c := range candidates {
		p := tmpl
		p.Protocol, p.DstPort = c.Protocol, c.Port
		switch prog.Simulate(p).Verdict {
		case Allow:
			allowed = append(allowed, c)
		case Unknown:
			unknown = append(unknown, c)
		}
	}
	return allowed, unknown
}

// MentionedPorts lists the tcp and udp ports the ruleset names as single
// destination ports, plus a few common ones, sorted.
func MentionedPorts(fw *snapshot.Firewall) []PortProto {
	seen := map[PortProto]bool{}
	for _, port := range []uint16{22, 25, 53, 80, 123, 443, 587, 993} {
		seen[PortProto{"tcp", port}] = true
		seen[PortProto{"udp", port}] = true
	}
	if fw != nil {
		for _, t := range fw.Tables {
			for _, c := range t.Chains {
				for _, r := range c.Rules {
					for _, m := range r.Matches {
						if m.Field != "dport" || m.Op != "" {
							continue
						}
						for _, v := range m.Values {
							if n, err := strconv.ParseUint(v, 10, 16); err == nil {
								seen[PortProto{"tcp", uint16(n)}] = true
								seen[PortProto{"udp", uint16(n)}] = true
							}
						}
					}
				}
			}
		}
	}
	out := make([]PortProto, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Port != out[j].Port {
			return out[i].Port < out[j].Port
		}
		return out[i].Protocol < out[j].Protocol
	})
	return out
}
