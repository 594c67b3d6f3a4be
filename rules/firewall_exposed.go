package rules

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "firewall_exposed",
		Summary: "no listener on the given (usually internal) ports is both bound to a public address and accepted by the firewall from anywhere",
		Attributes: []hcl.AttributeSchema{
			{Name: "ports", Required: true},
			{Name: "protocol"},
		},
		AttributeDocs: map[string]string{
			"ports":    "the ports of internal services (a list)",
			"protocol": "tcp (default) or udp",
		},
		Needs:  []string{snapshot.CollectorListeners, snapshot.CollectorFirewall},
		Decode: decodeExposed,
	})
}

// exposedCheck: a listener of an internal service on a public address is
// only an accident waiting when the firewall also lets the internet in.
type exposedCheck struct {
	protocol string
	ports    map[uint16]bool
	list     string
}

func decodeExposed(d *Decoder) Check {
	c := &exposedCheck{protocol: d.OneOf("protocol", "tcp", "tcp", "udp"), ports: map[uint16]bool{}}
	var names []string
	for _, s := range d.Strings("ports") {
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil || n == 0 {
			d.Errorf("ports", "Invalid value for ports", "%q is not a port number from 1 to 65535.", s)
			continue
		}
		c.ports[uint16(n)] = true
		names = append(names, s)
	}
	c.list = strings.Join(names, ", ")
	return c
}

func (c *exposedCheck) Evaluate(s *snapshot.Snapshot) Result {
	fw := s.Firewall
	if fw == nil || s.Listeners == nil {
		return Errorf("cannot evaluate: the snapshot lacks the firewall or the listeners")
	}
	r := Result{Expected: fmt.Sprintf("no %s listener on port %s reachable from anywhere", c.protocol, c.list)}
	prog := netfilter.ProgramFor(fw)
	var exposed, unknown []string
	var first *flowProbe
	public := 0
	for _, sock := range s.Listeners.Sockets {
		if sock.Protocol != c.protocol || !c.ports[sock.Port] || sock.Address.Unmap().IsLoopback() {
			continue
		}
		public++
		for _, p := range exposedPackets(fw, sock) {
			res := prog.Simulate(p)
			switch res.Verdict {
			case netfilter.Allow:
				if first == nil {
					first = &flowProbe{pkt: p, res: res}
				}
				exposed = append(exposed, fmt.Sprintf("port %d (%s) is reachable from anywhere: %s", sock.Port, owner(sock), explainFlow(&flowProbe{pkt: p, res: res})))
			case netfilter.Unknown:
				unknown = append(unknown, fmt.Sprintf("port %d (%s): %s", sock.Port, owner(sock), netfilter.Explain(res, p)))
			}
		}
	}
	gaps := netfilter.FirewallGaps(s)
	switch {
	case len(exposed) > 0 && len(gaps) == 0:
		r.Status = finding.Fail
		r.Observed = fmt.Sprintf("%d reachable", len(exposed))
		r.Explanation = strings.Join(exposed, "; ")
		r.Remediation = "bind the service to 127.0.0.1 or a private address in its configuration; if it must listen publicly, " + remediate(first, true)
		return r
	case len(unknown) > 0:
		r.Status, r.Observed = finding.Error, "unknown"
		r.Explanation = strings.Join(unknown, "; ")
		return r
	case len(exposed) > 0:
		r.Status, r.Observed = finding.Error, "reachable by the rules that could be read"
		r.Explanation = strings.Join(exposed, "; ") + "; but the firewall was not read completely (" + strings.Join(gaps, "; ") + ")"
		r.Remediation = netfilter.GapFix(s)
		return r
	}
	r.Status = finding.Pass
	r.Observed = "none reachable"
	if public == 0 {
		r.Explanation = fmt.Sprintf("no %s listener on port %s at a public address", c.protocol, c.list)
	} else {
		r.Explanation = fmt.Sprintf("%d listener(s) on port %s at a public address, but the firewall drops them from the internet", public, c.list)
	}
	return r
}

// exposedPackets are the first packets from the internet to the socket, one
// per address family it takes, aimed at the host address the internet
// reaches (that of the interface holding the default route).
func exposedPackets(fw *snapshot.Firewall, sock snapshot.Socket) []netfilter.Packet {
	var out []netfilter.Packet
	for _, v6 := range []bool{false, true} {
		src := netfilter.InternetAddress(v6)
		dst := sock.Address.Unmap()
		if dst.IsUnspecified() {
			a, ok := netfilter.LocalAddressFor(fw, src)
			if !ok {
				continue
			}
			dst = a
		}
		if dst.Is6() != v6 || !sock.Accepts(dst) {
			continue
		}
		out = append(out, netfilter.Packet{Direction: netfilter.Inbound, Protocol: sock.Protocol, Src: src, Dst: dst, SrcPort: 40000, DstPort: sock.Port})
	}
	return out
}

// owner renders "redis-server, pid 777, redis-server.service, on 0.0.0.0".
func owner(sock snapshot.Socket) string {
	s := "owner unknown"
	if p := sock.Process; p != nil {
		s = fmt.Sprintf("%s, pid %d", p.Name, p.PID)
		if p.Unit != "" {
			s += ", " + p.Unit
		}
	}
	return s + ", on " + sock.Address.String()
}
