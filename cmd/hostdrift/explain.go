package main

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/hostdrift/hostdrift/agent/survey"
	"github.com/hostdrift/hostdrift/internal/audit"
	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

const explainSynopsis = `explain out|in|fwd PROTOCOL [PORT] [--to ADDR] [--from ADDR] [--root DIR] [--netns PATH]

Reads the host's firewall and shows what it does to the first packet of a
connection: the verdict, every chain the packet enters, the rule or policy
that decides, and, when it is denied, how to change it with the tool that
owns the rule.

  out  the host connects to --to (default 198.51.100.1, "somewhere on the internet");
       when docker-proxy takes the connection (to a published port on loopback),
       its own connection to the container is followed too, as reach does
  in   --from (default 198.51.100.1) connects to the host (--to: which of its addresses)
  fwd  the host forwards from --from to --to (both needed: --to has no default)

PROTOCOL is tcp, udp or icmp (no port). Exit codes: 0 allowed, 1 denied,
3 unknown (or the firewall could not be read completely), 2 usage error.`

// runExplain simulates one packet through the live firewall and prints why it
// is allowed or dropped.
func runExplain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("explain", explainSynopsis, stdout, stderr)
	var live liveFlags
	live.register(fs)
	to := fs.String("to", "", "destination `ADDR`")
	from := fs.String("from", "", "source `ADDR`")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	pkt, err := explainPacket(fs.Args(), *from, *to)
	if err != nil {
		synopsis, _, _ := strings.Cut(explainSynopsis, "\n")
		fmt.Fprintf(stderr, "hostdrift explain: %v\nUsage: hostdrift %s\nRun 'hostdrift explain --help' for its flags and examples.\n", err, synopsis)
		return exitUsage
	}

	defer live.begin()()
	collectors := []string{snapshot.CollectorFirewall}
	if follows(pkt) {
		// Who takes a connection to the host itself (docker-proxy).
		collectors = append(collectors, snapshot.CollectorListeners)
	}
	snap := audit.Survey(live.ctx, live.host(), survey.Fixed(survey.Step{Collectors: collectors}),
		func(s *snapshot.Snapshot) (survey.Step, bool) {
			if follows(pkt) && rules.HasDockerProxy(s) {
				// Which container is at an address: asked only when Docker
				// is part of the path.
				return survey.Step{Collectors: []string{snapshot.CollectorDocker}}, true
			}
			return survey.Step{}, true
		})
	st, _ := snap.Collector(snapshot.CollectorFirewall)
	if !st.Usable() || snap.Firewall == nil {
		fmt.Fprintf(stdout, "%s: UNKNOWN\n  the firewall could not be read: %s\n", describe(pkt), st.Reason)
		return exitIncomplete
	}
	fw := snap.Firewall
	if pkt.Direction == netfilter.Inbound && !pkt.Dst.IsValid() {
		a, ok := netfilter.LocalAddressFor(fw, pkt.Src)
		if !ok {
			fmt.Fprintf(stderr, "hostdrift explain: the host has no address of %s's family; give one with --to\n", pkt.Src)
			return exitUsage
		}
		pkt.Dst = a
	}
	var path rules.ConnectionPath
	if follows(pkt) {
		path = rules.FollowConnection(snap, pkt)
	} else {
		res := netfilter.Simulate(fw, pkt)
		path = rules.ConnectionPath{Legs: []rules.ConnectionLeg{{Packet: pkt, Result: res}}, Verdict: res.Verdict}
	}
	gaps := netfilter.FirewallGaps(snap)
	return printExplanation(stdout, snap, path, gaps)
}

// follows reports whether the packet's path is followed past the host's
// own firewall, as the reach check does: a TCP or UDP connection the host
// opens may be taken by docker-proxy, which opens a second one.
func follows(p netfilter.Packet) bool {
	return p.Direction == netfilter.Outbound && (p.Protocol == "tcp" || p.Protocol == "udp")
}

// explainPacket reads the positional arguments and addresses into a packet.
func explainPacket(pos []string, from, to string) (netfilter.Packet, error) {
	var p netfilter.Packet
	if len(pos) < 2 || len(pos) > 3 {
		return p, fmt.Errorf("want a direction, a protocol and a port, e.g. `explain out tcp 587`")
	}
	switch pos[0] {
	case "out", "outbound", "egress":
		p.Direction = netfilter.Outbound
	case "in", "inbound", "ingress":
		p.Direction = netfilter.Inbound
	case "fwd", "forward":
		p.Direction = netfilter.Forward
	default:
		return p, fmt.Errorf("direction must be out, in or fwd, not %q", pos[0])
	}
	p.Protocol = strings.ToLower(pos[1])
	switch p.Protocol {
	case "tcp", "udp":
		if len(pos) != 3 {
			return p, fmt.Errorf("%s needs a port", p.Protocol)
		}
		n, err := strconv.ParseUint(pos[2], 10, 16)
		if err != nil || n == 0 {
			return p, fmt.Errorf("port must be a number from 1 to 65535, not %q", pos[2])
		}
		p.DstPort, p.SrcPort = uint16(n), 40000
	case "icmp":
		if len(pos) == 3 {
			return p, fmt.Errorf("icmp has no port")
		}
		p.ICMPType = "echo-request"
	default:
		return p, fmt.Errorf("protocol must be tcp, udp or icmp, not %q", pos[1])
	}
	parse := func(flag, s string) (netip.Addr, error) {
		if s == "" {
			return netip.Addr{}, nil
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return a, fmt.Errorf("--%s: %q is not an IP address", flag, s)
		}
		return a.Unmap(), nil
	}
	src, err := parse("from", from)
	if err != nil {
		return p, err
	}
	dst, err := parse("to", to)
	if err != nil {
		return p, err
	}
	p.Src, p.Dst = src, dst
	switch p.Direction {
	case netfilter.Outbound:
		if !p.Dst.IsValid() {
			p.Dst = netfilter.InternetAddress(p.Src.IsValid() && p.Src.Is6())
		}
	case netfilter.Inbound:
		if !p.Src.IsValid() {
			p.Src = netfilter.InternetAddress(p.Dst.IsValid() && p.Dst.Is6())
		}
	case netfilter.Forward:
		if !p.Dst.IsValid() {
			return p, fmt.Errorf("fwd needs --to: the address the host forwards to")
		}
		if !p.Src.IsValid() {
			p.Src = netfilter.InternetAddress(p.Dst.Is6())
		}
	}
	if p.Src.IsValid() && p.Dst.IsValid() && p.Src.Is4() != p.Dst.Is4() {
		return p, fmt.Errorf("--from and --to are of different address families")
	}
	if p.Protocol == "icmp" && p.Dst.Is6() {
		p.Protocol = "icmpv6"
	}
	return p, nil
}

func describe(p netfilter.Packet) string {
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

// printExplanation writes the verdict, the trace of each leg of the path
// and, when the packet is denied, the hint, and returns the exit code.
func printExplanation(w io.Writer, snap *snapshot.Snapshot, path rules.ConnectionPath, gaps []string) int {
	fw := snap.Firewall
	first, last := path.Legs[0], path.Legs[len(path.Legs)-1]
	verdict, code := strings.ToUpper(string(path.Verdict)), exitIncomplete
	switch path.Verdict {
	case netfilter.Allow:
		code = exitOK
		if len(gaps) > 0 {
			verdict, code = "ALLOW by the rules that could be read (UNKNOWN)", exitIncomplete
		}
	case netfilter.Deny:
		code = exitDrift
	}
	fmt.Fprintf(w, "%s: %s\n", describe(shownPacket(first)), verdict)
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
			fmt.Fprintf(w, "\nPath of %s's connection, %s:\n", leg.Via, describe(shownPacket(leg)))
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
	return code
}

// shownPacket is the leg's packet with the source address the simulation
// chose when none was given.
func shownPacket(l rules.ConnectionLeg) netfilter.Packet {
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
			} else {
				fmt.Fprintf(w, "%schain %s\n", ind(depth), where.Chain)
			}
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
