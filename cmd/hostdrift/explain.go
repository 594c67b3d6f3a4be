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
	"github.com/hostdrift/hostdrift/internal/report/explain"
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
		fmt.Fprintf(stdout, "%s: UNKNOWN\n  the firewall could not be read: %s\n", explain.Describe(pkt), st.Reason)
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
	var path netfilter.Connection
	if follows(pkt) {
		path = rules.FollowConnection(snap, pkt)
	} else {
		res := netfilter.Simulate(fw, pkt)
		path = netfilter.Connection{Legs: []netfilter.Leg{{Packet: pkt, Result: res}}, Verdict: res.Verdict}
	}
	gaps := netfilter.FirewallGaps(snap)
	explain.Write(stdout, fw, path, gaps)
	switch {
	case path.Verdict == netfilter.Deny:
		return exitDrift
	case path.Verdict == netfilter.Allow && len(gaps) == 0:
		return exitOK
	}
	return exitIncomplete
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
