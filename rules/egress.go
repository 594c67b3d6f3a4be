package rules

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "egress",
		Summary: "the local firewall lets the host open a connection (or send a datagram) to a port somewhere, or stops it",
		Attributes: []hcl.AttributeSchema{{Name: "protocol"}, {Name: "port"}, {Name: "to"}, {Name: "expect"},
			{Name: "confirm"}, {Name: "timeout"}},
		AttributeDocs: map[string]string{
			"protocol": "tcp (default), udp or icmp (no port)",
			"port":     "the destination port",
			"to":       "the destination: an address, a CIDR or a list of them (default: anywhere, 0.0.0.0/0)",
			"expect":   "allow (default) or deny",
			"confirm":  "true: follow an allowed verdict with one real TCP connection, to tell a block further out",
			"timeout":  "how long confirm's connection may take (default \"3s\")",
		},
		Needs:  []string{snapshot.CollectorFirewall},
		Decode: func(d *Decoder) Check { return decodeFlow(d, netfilter.Outbound, "to") },
	})
}

// flowCheck: a first packet of protocol/port between the host and the peer
// range, in one direction, must be allowed (or denied) by the firewall.
type flowCheck struct {
	dir      netfilter.Direction
	protocol string // tcp | udp | icmp
	port     uint16
	peers    []netip.Prefix // the "to" (egress) or "from" (ingress) ranges
	deny     bool
	// confirm, when set, is the real connection made after the verdict, to
	// tell "allowed here and reachable" from "allowed here, blocked further out".
	confirm *snapshot.ProbeTarget
}

func decodeFlow(d *Decoder, dir netfilter.Direction, peer string) Check {
	c := &flowCheck{
		dir:      dir,
		protocol: d.OneOf("protocol", "tcp", "tcp", "udp", "icmp"),
		deny:     d.OneOf("expect", "allow", "allow", "deny") == "deny",
	}
	switch {
	case c.protocol == "icmp" && d.Has("port"):
		d.Errorf("port", "No port for icmp", "icmp has no ports: leave port out (the check sends an echo request).")
	case c.protocol != "icmp" && !d.Has("port"):
		d.Errorf("port", "Missing port", "%s %q: port is required for %s (1 to 65535).", d.Kind, d.Name, c.protocol)
	case d.Has("port"):
		c.port = d.Port("port")
	}
	raw := d.Strings(peer)
	if !d.Has(peer) {
		raw = []string{"0.0.0.0/0"}
	}
	for _, s := range raw {
		p, err := parsePrefix(s)
		if err != nil {
			d.Errorf(peer, "Invalid value for "+peer, "%q is neither an IP address nor a CIDR range like \"203.0.113.0/24\" or \"::/0\".", s)
			continue
		}
		c.peers = append(c.peers, p)
	}
	if d.Has("confirm") && d.Bool("confirm", false) {
		switch {
		case c.protocol != "tcp":
			d.Errorf("confirm", "confirm needs tcp", "confirm makes a real TCP connection; protocol is %q.", c.protocol)
		case c.deny:
			d.Errorf("confirm", "confirm needs expect = \"allow\"", "confirm checks that an allowed connection really gets through; leave it out for expect = \"deny\".")
		case d.Known(peer) && (len(c.peers) != 1 || !c.peers[0].IsSingleIP()):
			d.Errorf("confirm", "confirm needs one address", "confirm connects to %s; give it a single address, e.g. to = \"192.0.2.25\".", peer)
		case len(c.peers) == 1:
			timeout := d.Duration("timeout", 3*time.Second)
			c.confirm = &snapshot.ProbeTarget{
				TCP:       netip.AddrPortFrom(c.peers[0].Addr(), c.port).String(),
				TimeoutMS: int(timeout / time.Millisecond),
			}
		}
	} else if d.Has("timeout") {
		d.Errorf("timeout", "timeout without confirm", "timeout bounds the connection that confirm = true makes; add confirm or drop timeout.")
	}
	return c
}

// Want asks the probe collector for the confirming connection.
func (c *flowCheck) Want(w *snapshot.Wants) {
	if c.confirm != nil {
		w.Probes.Targets = append(w.Probes.Targets, *c.confirm)
	}
}

// Needs adds the probes collector when the check confirms.
func (c *flowCheck) Needs() []string {
	if c.confirm != nil {
		return []string{snapshot.CollectorProbes}
	}
	return nil
}

// confirmed judges an allowed flow by the real connection made to it.
func (c *flowCheck) confirmed(s *snapshot.Snapshot, r Result) Result {
	var res *snapshot.ProbeResult
	if s.Probes != nil {
		for i := range s.Probes.Results {
			if s.Probes.Results[i].Target == *c.confirm {
				res = &s.Probes.Results[i]
			}
		}
	}
	switch {
	case res == nil:
		return Errorf("cannot confirm: no connection to %s was made in this snapshot (it was taken with another policy)", c.confirm.TCP)
	case res.Failure == snapshot.ProbeNotRun:
		return Errorf("cannot confirm: the connection to %s was not tried: %s", c.confirm.TCP, res.Error)
	case probesPredate(s) != "":
		// Neither "confirmed" nor "blocked further out" follows from a
		// connection that met another ruleset than the one judged.
		r.Status, r.Observed = finding.Error, "allowed here; the last real connection predates this ruleset"
		r.Explanation += fmt.Sprintf("; cannot confirm: the real connection to %s (%s) says nothing about this ruleset: %s", c.confirm.TCP, connectionOutcome(res), probesPredate(s))
		r.Remediation = "judge it again: a fresh check makes the connection and reads the firewall together"
		return r
	case res.Connected:
		r.Explanation += fmt.Sprintf("; confirmed: connected to %s in %.1f ms", c.confirm.TCP, res.ConnectMS)
		return r
	}
	r.Status = finding.Fail
	r.Observed = "allowed here, but the connection failed"
	switch res.Failure {
	case snapshot.ProbeTimeout:
		r.Explanation += fmt.Sprintf("; but a real connection to %s got no answer within %s: the local firewall allows it, so the block is likely further out (a provider or upstream firewall)", c.confirm.TCP, time.Duration(c.confirm.TimeoutMS)*time.Millisecond)
		r.Remediation = "ask whoever runs the network between this host and " + c.confirm.TCP + " (many providers block outbound mail ports by default)"
	case snapshot.ProbeRefused:
		r.Explanation += fmt.Sprintf("; a real connection to %s was refused: the path is open but nothing accepts there", c.confirm.TCP)
		r.Remediation = "check that the service at " + c.confirm.TCP + " runs, or that the address is right"
	default:
		r.Explanation += fmt.Sprintf("; but a real connection to %s failed: %s", c.confirm.TCP, res.Error)
	}
	return r
}

// connectionOutcome words how a confirming connection went.
func connectionOutcome(res *snapshot.ProbeResult) string {
	switch {
	case res.Connected:
		return "connected"
	case res.Failure == snapshot.ProbeTimeout:
		return "no answer"
	case res.Failure == snapshot.ProbeRefused:
		return "refused"
	}
	return "failed: " + res.Error
}

// parsePrefix reads an address (a /32 or /128) or a CIDR, masked.
func parsePrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p.Masked(), nil
}

func (c *flowCheck) what() string {
	dir := "outbound"
	if c.dir == netfilter.Inbound {
		dir = "inbound"
	}
	svc := c.protocol
	if c.port != 0 {
		svc = fmt.Sprintf("%s/%d", c.protocol, c.port)
	}
	peers := make([]string, len(c.peers))
	for i, p := range c.peers {
		peers[i] = prefixString(p)
	}
	rel := "to"
	if c.dir == netfilter.Inbound {
		rel = "from"
	}
	return fmt.Sprintf("%s %s %s %s", dir, svc, rel, strings.Join(peers, ", "))
}

func prefixString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// flowProbe is one simulated packet and why its address was picked.
type flowProbe struct {
	pkt netfilter.Packet
	why string
	res netfilter.Result
}

func (c *flowCheck) Evaluate(s *snapshot.Snapshot) Result {
	fw := s.Firewall
	if fw == nil {
		return Errorf("cannot evaluate: the firewall collector recorded no rules section")
	}
	r := Result{Expected: c.what() + " " + allowedOrDenied(c.deny)}
	var probes []*flowProbe
	for _, pfx := range c.peers {
		for _, rep := range netfilter.Representatives(fw, pfx, c.dir) {
			p, err := c.packet(fw, rep.Addr)
			if err != nil {
				return Errorf("cannot evaluate: %v", err)
			}
			probes = append(probes, &flowProbe{pkt: p, why: rep.Why})
		}
	}
	prog := netfilter.ProgramFor(fw)
	var allowed, denied, unknown []*flowProbe
	for _, p := range probes {
		p.res = prog.Simulate(p.pkt)
		switch p.res.Verdict {
		case netfilter.Allow:
			allowed = append(allowed, p)
		case netfilter.Deny:
			denied = append(denied, p)
		default:
			unknown = append(unknown, p)
		}
	}
	if len(probes) == 0 {
		return Errorf("cannot evaluate: no address to check in %s", c.what())
	}
	// A drop seen in the rules hostdrift could read is certain (a drop in any
	// table wins); an accept is not while a ruleset could not be read.
	gaps := netfilter.FirewallGaps(s)
	switch {
	case !c.deny && len(denied) > 0:
		return c.fail(r, fw, denied[0], probes)
	case c.deny && len(allowed) > 0 && len(gaps) == 0:
		return c.fail(r, fw, allowed[0], probes)
	case len(unknown) > 0:
		p := unknown[0]
		r.Status, r.Observed = finding.Error, "unknown"
		r.Explanation = netfilter.Explain(p.res, p.pkt) + sampled(probes)
		r.Remediation = "hostdrift cannot tell what that rule does to this packet; check it by hand (hostdrift explain shows the whole path)"
		return r
	case len(allowed) > 0 && len(gaps) > 0:
		p := allowed[0]
		r.Status, r.Observed = finding.Error, "allowed by the rules that could be read"
		r.Explanation = fmt.Sprintf("%s, but the firewall was not read completely (%s), and a drop there would win", explainFlow(p), strings.Join(gaps, "; "))
		r.Remediation = netfilter.GapFix(s)
		return r
	}
	p := probes[0]
	r.Status = finding.Pass
	r.Observed = flowObserved(p)
	r.Explanation = explainFlow(p) + sampled(probes)
	if c.confirm != nil {
		return c.confirmed(s, r)
	}
	return r
}

// fail reports the probe whose verdict is the opposite of the expected one.
func (c *flowCheck) fail(r Result, fw *snapshot.Firewall, p *flowProbe, probes []*flowProbe) Result {
	r.Status = finding.Fail
	r.Observed = flowObserved(p)
	r.Explanation = explainFlow(p)
	if !c.deny {
		if ports := c.allowedPorts(fw, p.pkt); ports != "" {
			r.Explanation += "; " + ports
		}
	}
	r.Explanation += sampled(probes)
	r.Remediation = remediate(p, c.deny)
	return r
}

// packet builds the first packet of the flow to or from one peer address.
func (c *flowCheck) packet(fw *snapshot.Firewall, peer netip.Addr) (netfilter.Packet, error) {
	p := netfilter.Packet{Direction: c.dir, Protocol: c.protocol, DstPort: c.port, SrcPort: 40000}
	if c.protocol == "icmp" {
		p.SrcPort = 0
		p.ICMPType = "echo-request"
		if peer.Is6() {
			p.Protocol = "icmpv6"
		}
	}
	if c.dir == netfilter.Outbound {
		p.Dst = peer
		return p, nil
	}
	p.Src = peer
	local, ok := netfilter.LocalAddressFor(fw, peer)
	if !ok {
		return p, fmt.Errorf("the host has no %s address for %s to reach", family(peer), peer)
	}
	p.Dst = local
	return p, nil
}

// allowedOrDenied words an expectation: "denied" when deny, else "allowed".
func allowedOrDenied(deny bool) string {
	if deny {
		return "denied"
	}
	return "allowed"
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

func flowObserved(p *flowProbe) string {
	if p.res.Verdict == netfilter.Deny {
		if d := p.res.Deciding; d != nil {
			return fmt.Sprintf("denied (%s, chain %s)", strings.TrimPrefix(d.Text, "policy "), d.Chain)
		}
		return "denied"
	}
	if p.res.Verdict == netfilter.Allow {
		return "allowed"
	}
	return string(p.res.Verdict)
}

// explainFlow is the simulator's explanation without its remediation hint,
// which goes into the finding's remediation.
func explainFlow(p *flowProbe) string {
	e := netfilter.Explain(p.res, p.pkt)
	e, _, _ = strings.Cut(e, ". The chain belongs to ")
	return e
}

// sampled says which addresses stood for the ranges, when there were more
// than one.
func sampled(probes []*flowProbe) string {
	if len(probes) < 2 {
		if len(probes) == 1 && probes[0].why != "" {
			return fmt.Sprintf(" (%s stands for %s)", peerOf(probes[0].pkt), probes[0].why)
		}
		return ""
	}
	parts := make([]string, len(probes))
	for i, p := range probes {
		parts[i] = fmt.Sprintf("%s %s", peerOf(p.pkt), p.res.Verdict)
		if p.why != "" {
			parts[i] += " (" + p.why + ")"
		}
	}
	return "; addresses checked: " + strings.Join(parts, ", ")
}

func peerOf(p netfilter.Packet) netip.Addr {
	if p.Direction == netfilter.Inbound {
		return p.Src
	}
	return p.Dst
}

// allowedPorts lists what the firewall does let through in the same
// direction to the same peer, so a fail shows the neighbourhood.
func (c *flowCheck) allowedPorts(fw *snapshot.Firewall, tmpl netfilter.Packet) string {
	if c.protocol == "icmp" {
		return ""
	}
	const max = 12
	allowed, _ := netfilter.AllowedPorts(fw, tmpl, nil)
	dir := "outbound"
	if c.dir == netfilter.Inbound {
		dir = "inbound"
	}
	if len(allowed) == 0 {
		return dir + " allowed: none of the usual or named ports"
	}
	var parts []string
	for i, a := range allowed {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(allowed)-max))
			break
		}
		parts = append(parts, a.String())
	}
	return dir + " allowed: " + strings.Join(parts, ", ")
}

// remediate says how to change the verdict, in the terms of the manager that
// owns the deciding chain when one is recognised.
func remediate(p *flowProbe, wantDeny bool) string {
	m, hint := netfilter.Manager(p.res)
	pk := p.pkt
	proto := pk.Protocol
	if !wantDeny {
		if m != "" {
			return fmt.Sprintf("the chain belongs to %s: %s", m, hint(pk))
		}
		where := "the rule above"
		if d := p.res.Deciding; d != nil && d.Policy != "" {
			where = "the policy of chain " + d.Chain
		}
		return fmt.Sprintf("%s drops it: add an accept rule for %s port %d before it (iptables -I, or nft insert rule), and save it where the boot-time ruleset is kept", where, proto, pk.DstPort)
	}
	switch m {
	case "UFW":
		if pk.Direction == netfilter.Outbound {
			return fmt.Sprintf("the chain belongs to UFW: deny it with `ufw deny out %d/%s` (or `ufw default deny outgoing`)", pk.DstPort, proto)
		}
		return fmt.Sprintf("the chain belongs to UFW: remove the allow rule (`ufw status numbered`, then `ufw delete N`) or deny it with `ufw deny %d/%s`", pk.DstPort, proto)
	case "firewalld":
		return fmt.Sprintf("the chain belongs to firewalld: close it with `firewall-cmd --remove-port=%d/%s` (and again with --permanent)", pk.DstPort, proto)
	case "":
		if p.res.Deciding == nil {
			return fmt.Sprintf("no firewall rule filters it: drop %s port %d from outside (with UFW: `ufw deny %d/%s`; else an nftables or iptables rule), and save it where the boot-time ruleset is kept", proto, pk.DstPort, pk.DstPort, proto)
		}
		return fmt.Sprintf("add a drop rule for %s port %d before the accepting rule (or make the chain's policy drop), and save it where the boot-time ruleset is kept", proto, pk.DstPort)
	}
	return fmt.Sprintf("the chain belongs to %s: %s", m, hint(pk))
}
