// Package explain renders hostdrift explain's answer: the verdict on a
// connection, the chains each of its packets goes through, the rule or
// policy that decides, and how to change it with the tool that owns it.
package explain

import (
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Describe names a packet: direction, protocol, source and destination.
func Describe(p netfilter.Packet) string {
	s := string(p.Direction) + " " + p.Protocol
	if p.Src.IsValid() {
		s += " from " + p.Src.String()
	}
	dst := p.Dst.String()
	if p.DstPort != 0 {
		dst = netip.AddrPortFrom(p.Dst, p.DstPort).String()
	}
	return s + " to " + dst
}

// Write writes the verdict on the connection, the trace of each of its
// legs through fw and, when it is denied, how to change that. gaps are the
// rulesets that could not be read: an allow is then unknown.
func Write(w io.Writer, fw *snapshot.Firewall, path netfilter.Connection, gaps []string) {
	first, last := path.Legs[0], path.Legs[len(path.Legs)-1]
	verdict := strings.ToUpper(string(path.Verdict))
	if path.Verdict == netfilter.Allow && len(gaps) > 0 {
		verdict = "ALLOW by the rules that could be read (UNKNOWN)"
	}
	fmt.Fprintf(w, "%s: %s\n", Describe(shownPacket(first)), verdict)
	fmt.Fprintf(w, "  %s\n", netfilter.Explain(first.Result, first.Packet))
	for _, n := range path.Notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
	if len(path.Legs) > 1 {
		fmt.Fprintf(w, "  %s's connection: %s\n", last.Via, netfilter.Explain(last.Result, last.Packet))
	}
	if path.Nobody != "" {
		fmt.Fprintf(w, "  but %s\n", path.Nobody)
	}
	if len(gaps) > 0 {
		fmt.Fprintf(w, "  not read: %s; a drop there would win (run as root or with CAP_NET_ADMIN)\n", strings.Join(gaps, "; "))
	}
	fmt.Fprintf(w, "\nRulesets: %s\n", backends(fw))
	for _, b := range fw.Backends {
		if b.Note != "" {
			fmt.Fprintf(w, "  %s: %s\n", b.Name, b.Note)
		}
	}
	for _, leg := range path.Legs {
		if leg.Via == "" {
			fmt.Fprintf(w, "\nPath of the packet:\n")
		} else {
			fmt.Fprintf(w, "\nPath of %s's connection, %s:\n", leg.Via, Describe(shownPacket(leg)))
		}
		printTrace(w, fw, leg.Result)
	}
	if path.Verdict == netfilter.Deny {
		// Only a denied packet has something to change, on the leg that
		// was denied (docker-proxy's connection to the container).
		if m, hint := netfilter.Manager(last.Result); m != "" {
			fmt.Fprintf(w, "Managed by: %s; %s\n", m, hint(last.Packet))
		}
	}
	if path.Verdict != netfilter.Allow && (last.Packet.Protocol == "tcp" || last.Packet.Protocol == "udp") {
		allowed, _ := netfilter.AllowedPorts(fw, last.Packet, nil)
		var names []string
		for _, a := range allowed {
			names = append(names, a.String())
		}
		if len(names) == 0 {
			names = []string{"none of the usual or named ports"}
		}
		fmt.Fprintf(w, "Allowed %s to %s: %s\n", dirWord(last.Packet.Direction), last.Packet.Dst, strings.Join(names, ", "))
	}
}

// shownPacket is the leg's packet with the source address the simulation
// chose when none was given.
func shownPacket(l netfilter.Leg) netfilter.Packet {
	p := l.Packet
	if !p.Src.IsValid() {
		p.Src = l.Result.Final.Src
	}
	return p
}

// printTrace writes the chains one packet went through, and what decided.
func printTrace(w io.Writer, fw *snapshot.Firewall, res netfilter.Result) {
	if len(res.Trace) == 0 {
		fmt.Fprintln(w, "  no base chain on its hooks: nothing filters it")
	}
	depth := 0
	shown := "" // the origin of the last chain entered
	for _, st := range res.Trace {
		where := st.Where
		ind := func(d int) string { return "  " + strings.Repeat("  ", d) }
		switch st.Event {
		case "enter":
			if c := lookupChain(fw, where); c != nil && c.Base() {
				depth = 0
				pol := ""
				if c.Policy != "" {
					pol = ", policy " + c.Policy
				}
				fmt.Fprintf(w, "%s[%s] chain %s (table %s, %s, priority %d%s)\n", ind(depth), st.Hook, where.Chain, tableOf(where), where.Backend, c.Priority, pol)
			} else if where.Origin != "" && where.Origin != shown {
				fmt.Fprintf(w, "%schain %s  (%s)\n", ind(depth), where.Chain, where.Origin)
			} else {
				fmt.Fprintf(w, "%schain %s\n", ind(depth), where.Chain)
			}
			shown = where.Origin
			depth++
		case "rule", "nat":
			ref := fmt.Sprintf("rule %d", where.Position)
			if where.Handle != 0 {
				ref = fmt.Sprintf("handle %d", where.Handle)
			}
			fmt.Fprintf(w, "%s%s: %s  -> %s\n", ind(depth), ref, where.Text, st.Note)
			if where.Comment != "" {
				fmt.Fprintf(w, "%s  (comment: %s)\n", ind(depth), where.Comment)
			}
			if c := lookupChain(fw, where); where.Origin != "" && (c == nil || c.Origin != where.Origin) {
				fmt.Fprintf(w, "%s  (from %s)\n", ind(depth), where.Origin)
			}
			if st.Note == "return" && depth > 0 {
				depth--
			}
		case "end":
			fmt.Fprintf(w, "%send of %s: no rule matched\n", ind(depth), where.Chain)
			if depth > 0 {
				depth--
			}
		case "policy":
			fmt.Fprintf(w, "%s%s of chain %s decides\n", ind(0), where.Text, where.Chain)
		default:
			fmt.Fprintf(w, "%s%s %s %s\n", ind(depth), st.Event, where.Chain, st.Note)
		}
	}
	if d := res.Deciding; d != nil && res.Verdict != netfilter.Unknown {
		fmt.Fprintf(w, "\nDecided by: %s in chain %s (table %s, %s)\n", d.Text, d.Chain, tableOf(*d), d.Backend)
		if d.Origin != "" {
			fmt.Fprintf(w, "Made by: %s\n", d.Origin)
		}
	}
	if len(res.Conditions) > 0 {
		fmt.Fprintf(w, "Assumes (the first packet of a peer that sent nothing before, under normal load):\n")
		for _, c := range res.Conditions {
			fmt.Fprintf(w, "  - %s\n", c)
		}
	}
	if res.Verdict == netfilter.Unknown {
		fmt.Fprintf(w, "\nUnknown because: %s\n", res.Reason)
	}
}

func dirWord(d netfilter.Direction) string {
	switch d {
	case netfilter.Inbound:
		return "inbound"
	case netfilter.Forward:
		return "forwarded"
	}
	return "outbound"
}

func tableOf(r netfilter.RuleRef) string { return r.Family + " " + r.Table }

func lookupChain(fw *snapshot.Firewall, r netfilter.RuleRef) *snapshot.Chain {
	t := fw.Table(r.Backend, r.Family, r.Table)
	if t == nil {
		return nil
	}
	return t.Chain(r.Chain)
}

// backends summarises what each rule source holds.
func backends(fw *snapshot.Firewall) string {
	var parts []string
	for _, b := range fw.Backends {
		switch {
		case !b.Available:
			parts = append(parts, b.Name+" (not read)")
		case b.Rules == 0 && b.Tables == 0:
			parts = append(parts, b.Name+" (empty)")
		default:
			parts = append(parts, fmt.Sprintf("%s (%d tables, %d rules)", b.Name, b.Tables, b.Rules))
		}
	}
	return strings.Join(parts, ", ")
}
