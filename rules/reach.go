package rules

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "reach",
		Summary: "a connection the host opens to ADDR:PORT, or to a container's port, gets through, following Docker's NAT and docker-proxy, or is stopped",
		Attributes: []hcl.AttributeSchema{
			{Name: "to"},
			{Name: "container"},
			{Name: "port"},
			{Name: "protocol"},
			{Name: "expect"},
		},
		AttributeDocs: map[string]string{
			"to":        "the destination as ADDR:PORT (\"127.0.0.1:8080\"), or container",
			"container": "a container's name, with port the container's own port",
			"port":      "the container's port, with container",
			"protocol":  "tcp (default) or udp",
			"expect":    "allow (default) or deny",
		},
		Needs:  []string{snapshot.CollectorFirewall, snapshot.CollectorDocker, snapshot.CollectorListeners},
		Decode: decodeReach,
	})
}

// reachCheck: a connection from the host to an address and port (or to a
// container's own port) is allowed, or denied, along the path it really
// takes: OUTPUT with its DNAT, or docker-proxy's second connection.
type reachCheck struct {
	to        netip.AddrPort
	container string
	port      uint16
	protocol  string
	deny      bool
}

func decodeReach(d *Decoder) Check {
	c := &reachCheck{
		container: d.String("container", ""),
		protocol:  d.OneOf("protocol", "tcp", "tcp", "udp"),
		deny:      d.OneOf("expect", "allow", "allow", "deny") == "deny",
	}
	switch {
	case d.Has("to") && d.Has("container"):
		d.Errorf("container", "to or container, not both", "reach goes either to = \"ADDR:PORT\" or to container = \"NAME\" with port = the container's port.")
	case d.Has("to"):
		if d.Has("port") {
			d.Errorf("port", "port goes into to", "with to, write the port as part of it: to = \"127.0.0.1:8080\".")
		}
		s := d.String("to", "")
		ap, err := netip.ParseAddrPort(s)
		if d.Known("to") && (err != nil || ap.Port() == 0) {
			d.Errorf("to", "Invalid value for to", "%q is not ADDR:PORT, like \"127.0.0.1:8080\" or \"[::1]:8080\".", s)
		}
		c.to = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	case d.Has("container"):
		if !d.Has("port") {
			d.Errorf("port", "Missing port", "reach %q: port is required with container (the port inside the container, e.g. 80).", d.Name)
		} else {
			c.port = d.Port("port")
		}
	default:
		d.Errorf("to", "Missing destination", "reach %q needs to = \"ADDR:PORT\", or container = \"NAME\" with port = N.", d.Name)
	}
	return c
}

func (c *reachCheck) what() string {
	if c.container != "" {
		return fmt.Sprintf("%s from the host to port %d of container %s", c.protocol, c.port, c.container)
	}
	return fmt.Sprintf("%s from the host to %s", c.protocol, c.to)
}

// leg is one simulated connection of the path.
type leg struct {
	probe flowProbe
	// via says how the leg came about ("" for the first).
	via string
}

// reachTrace is the path a connection takes and where it ends.
type reachTrace struct {
	legs    []leg
	verdict netfilter.Verdict
	// notes explain the path (DNAT, docker-proxy, the container reached).
	notes []string
	// nobody is set when the path is open but nothing takes the connection.
	nobody string
}

func (c *reachCheck) Evaluate(s *snapshot.Snapshot) Result {
	fw := s.Firewall
	if fw == nil {
		return Errorf("cannot evaluate: the firewall collector recorded no rules section")
	}
	r := Result{Expected: c.what() + " " + allowedOrDenied(c.deny)}
	dst := c.to
	if c.container != "" {
		d, bad := engineFor(s, r.Expected)
		if bad != nil {
			return *bad
		}
		ctr, bad := containerFor(d, c.container, r.Expected)
		if bad != nil {
			return *bad
		}
		addr, ok := containerAddress(ctr)
		if !ok {
			r.Status, r.Observed = finding.Fail, "no address"
			r.Explanation = fmt.Sprintf("container %s has no address the host can connect to (state %s, network mode %s)", ctr.Name, ctr.State, ctr.NetworkMode)
			r.Remediation = "start the container, or attach it to a bridge network"
			return r
		}
		dst = netip.AddrPortFrom(addr, c.port)
	}
	pkt := netfilter.Packet{Direction: netfilter.Outbound, Protocol: c.protocol, Dst: dst.Addr(), DstPort: dst.Port(), SrcPort: 40000}
	tr := trace(s, netfilter.ProgramFor(fw), pkt)
	last := tr.legs[len(tr.legs)-1]
	path := strings.Join(tr.notes, "; ")
	explanation := func(e string) string {
		if path == "" {
			return e
		}
		return path + "; " + e
	}
	switch {
	case tr.verdict == netfilter.Unknown:
		r.Status, r.Observed = finding.Error, "unknown"
		r.Explanation = explanation(netfilter.Explain(last.probe.res, last.probe.pkt))
		r.Remediation = "hostdrift cannot tell what that rule does to this packet; check it by hand (hostdrift explain shows the whole path)"
		return r
	case tr.verdict == netfilter.Deny:
		r.Observed = flowObserved(&last.probe)
		r.Explanation = explanation(explainFlow(&last.probe))
		if c.deny {
			r.Status = finding.Pass
			return r
		}
		r.Status = finding.Fail
		// The filter chains saw the packet after DNAT: the fix names
		// the address and port they saw.
		fixed := last.probe
		fixed.pkt.Dst, fixed.pkt.DstPort = fixed.res.Final.Dst, fixed.res.Final.DstPort
		r.Remediation = remediate(&fixed, false)
		return r
	}
	gaps := netfilter.FirewallGaps(s)
	if tr.nobody != "" {
		r.Observed = "allowed, but nothing takes it"
		r.Explanation = explanation(explainFlow(&last.probe) + "; but " + tr.nobody)
		if c.deny {
			r.Status = finding.Pass
			return r
		}
		r.Status = finding.Fail
		r.Remediation = "start the service or container that should answer there, or correct the address"
		return r
	}
	r.Observed = "allowed"
	r.Explanation = explanation(explainFlow(&last.probe))
	switch {
	case len(gaps) > 0:
		r.Status, r.Observed = finding.Error, "allowed by the rules that could be read"
		r.Explanation += fmt.Sprintf(", but the firewall was not read completely (%s), and a drop there would win", strings.Join(gaps, "; "))
		r.Remediation = netfilter.GapFix(s)
	case c.deny:
		r.Status = finding.Fail
		r.Remediation = remediate(&last.probe, true)
	default:
		r.Status = finding.Pass
	}
	return r
}

// containerAddress is the address the host connects to a container at: its
// first IPv4 address, else its first IPv6 one.
func containerAddress(c *snapshot.DockerContainer) (netip.Addr, bool) {
	if !c.Running() {
		return netip.Addr{}, false
	}
	for _, ep := range c.Networks {
		if ep.IPv4.IsValid() {
			return ep.IPv4, true
		}
	}
	for _, ep := range c.Networks {
		if ep.IPv6.IsValid() {
			return ep.IPv6, true
		}
	}
	return netip.Addr{}, false
}

// FollowConnection follows an outbound packet of the host through its
// firewall, and through docker-proxy's second connection when the proxy
// takes it: the logic of the reach check, for hostdrift explain.
func FollowConnection(s *snapshot.Snapshot, pkt netfilter.Packet) netfilter.Connection {
	tr := trace(s, netfilter.ProgramFor(s.Firewall), pkt)
	p := netfilter.Connection{Verdict: tr.verdict, Notes: tr.notes, Nobody: tr.nobody}
	for _, l := range tr.legs {
		p.Legs = append(p.Legs, netfilter.Leg{Packet: l.probe.pkt, Result: l.probe.res, Via: l.via})
	}
	return p
}

// HasDockerProxy reports whether a docker-proxy holds a listening socket in
// the snapshot: only then can a connection's path go through a container.
func HasDockerProxy(s *snapshot.Snapshot) bool {
	if s.Listeners == nil {
		return false
	}
	for _, sock := range s.Listeners.Sockets {
		if sock.Process != nil {
			if _, _, _, ok := parseDockerProxy(sock.Process.Cmdline); ok {
				return true
			}
		}
	}
	return false
}

// trace follows a connection the host opens (pkt, outbound): through OUTPUT
// (where Docker's DNAT may send it to a container), and, when it is
// delivered to the host itself and docker-proxy takes it, through
// docker-proxy's own connection to the container.
func trace(s *snapshot.Snapshot, prog *netfilter.Program, pkt netfilter.Packet) reachTrace {
	var tr reachTrace
	protocol := pkt.Protocol
	dst := netip.AddrPortFrom(pkt.Dst, pkt.DstPort)
	res := prog.Simulate(pkt)
	tr.legs = append(tr.legs, leg{probe: flowProbe{pkt: pkt, res: res}})
	tr.verdict = res.Verdict
	final := netip.AddrPortFrom(res.Final.Dst, res.Final.DstPort)
	if dnat := natStep(res); dnat != nil && final != dst {
		note := fmt.Sprintf("the DNAT rule %q (chain %s, table %s, %s) sends %s to %s", dnat.Where.Text, dnat.Where.Chain, dnat.Where.Table, dnat.Where.Backend, dst, final)
		if strings.HasPrefix(dnat.Where.Chain, "DOCKER") {
			note = "Docker's " + strings.TrimPrefix(note, "the ")
		}
		if name := containerName(s.Docker, final.Addr()); name != "" {
			note += " (container " + name + ")"
		}
		tr.notes = append(tr.notes, note)
	}
	if res.Verdict != netfilter.Allow {
		return tr
	}
	if !isLocal(s, final.Addr()) && !ownsAddress(s.Firewall, final.Addr()) {
		if name := containerName(s.Docker, final.Addr()); name != "" && final == dst {
			tr.notes = append(tr.notes, fmt.Sprintf("%s is container %s", final.Addr(), name))
		}
		return tr
	}
	// Delivered to the host itself: who takes it?
	proxy, other := proxyAt(s.Listeners, protocol, final.Addr(), final.Port())
	switch {
	case proxy != nil:
		note := fmt.Sprintf("no NAT rule rewrites %s (Docker's OUTPUT rule leaves loopback alone), so docker-proxy", final)
		if p := proxy.sock.Process; p != nil {
			note += fmt.Sprintf(" (pid %d)", p.PID)
		}
		target := netip.AddrPortFrom(proxy.containerIP, proxy.containerPort)
		note += fmt.Sprintf(" takes it and opens a second connection from the host to %s", target)
		if name := containerName(s.Docker, target.Addr()); name != "" {
			note += " (container " + name + ")"
		}
		tr.notes = append(tr.notes, note)
		pkt2 := netfilter.Packet{Direction: netfilter.Outbound, Protocol: protocol, Dst: target.Addr(), DstPort: target.Port(), SrcPort: 40001}
		res2 := prog.Simulate(pkt2)
		tr.legs = append(tr.legs, leg{probe: flowProbe{pkt: pkt2, res: res2}, via: "docker-proxy"})
		tr.verdict = res2.Verdict
	case other != nil:
		tr.notes = append(tr.notes, fmt.Sprintf("%s is served on the host by %s", final, owner(*other)))
	case s.Listeners != nil:
		tr.nobody = fmt.Sprintf("nothing listens on %s/%s and no NAT rule rewrote it", final, protocol)
	}
	return tr
}

// natStep is the trace's DNAT (or redirect) step, if any.
func natStep(res netfilter.Result) *netfilter.Step {
	for i := range res.Trace {
		st := &res.Trace[i]
		if st.Event == "nat" && (strings.HasPrefix(st.Note, "dnat") || strings.HasPrefix(st.Note, "redirect")) {
			return st
		}
	}
	return nil
}

// ownsAddress reports whether the firewall section's local addresses (read
// in the namespace the rules apply to) hold a.
func ownsAddress(fw *snapshot.Firewall, a netip.Addr) bool {
	for _, la := range fw.LocalAddresses {
		if la.Prefix.Addr() == a {
			return true
		}
	}
	return false
}
