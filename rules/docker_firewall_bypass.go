package rules

import (
	"fmt"
	"strings"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "docker_firewall_bypass",
		Summary: "no container port is published to every address while the host firewall would deny that port on the host itself (Docker's DNAT goes around INPUT)",
		Needs:   []string{snapshot.CollectorDocker, snapshot.CollectorFirewall},
		Decode:  func(*Decoder) Check { return dockerBypassCheck{} },
	})
}

// dockerBypassCheck: a port published on 0.0.0.0 or :: is DNATed in
// PREROUTING and forwarded to the container, so the host's INPUT rules
// (UFW's, firewalld's, hand-written ones) never see it. When those rules
// would deny the port, the operator believes it closed while the internet
// reaches the container.
type dockerBypassCheck struct{}

func (dockerBypassCheck) Evaluate(s *snapshot.Snapshot) Result {
	const expected = "no published container port is reachable from anywhere while the host firewall denies it on INPUT"
	if r, done := noEngine(s, expected); done {
		return r
	}
	fw := s.Firewall
	if fw == nil {
		return Errorf("cannot evaluate: the firewall collector recorded no rules section")
	}
	// What the host's own rules do to a packet that no DNAT rewrites (a
	// service of the host itself on that port): the ruleset without its nat
	// base chains, sharing the run's compilation.
	real := netfilter.ProgramFor(fw)
	inputOnly := real.WithoutBaseChains(func(c *snapshot.Chain) bool { return c.Type == "nat" })
	var bypass, unknown []string
	var first snapshot.PublishedPort
	checked := 0
	for _, ctr := range s.Docker.Containers {
		if !ctr.Running() {
			continue
		}
		for _, p := range ctr.Ports {
			if !p.HostIP.IsUnspecified() {
				continue
			}
			pkt, ok := internetTo(fw, p)
			if !ok {
				continue
			}
			checked++
			got, host := real.Simulate(pkt), inputOnly.Simulate(pkt)
			switch {
			case got.Verdict == netfilter.Unknown:
				unknown = append(unknown, fmt.Sprintf("port %d of container %s: %s", p.HostPort, ctr.Name, netfilter.Explain(got, pkt)))
			case got.Verdict != netfilter.Allow || host.Verdict != netfilter.Deny || got.Final.Dst == pkt.Dst:
				continue
			default:
				who := "the host firewall's"
				if m, _ := netfilter.Manager(host); m != "" {
					who = m + "'s"
				}
				bypass = append(bypass, fmt.Sprintf("port %d of container %s is reachable from anywhere: Docker's DNAT sends it through FORWARD, around %s input rules (on INPUT it would be dropped by %s)",
					p.HostPort, ctr.Name, who, deciderText(host)))
				if len(bypass) == 1 {
					first = p
				}
			}
		}
	}
	r := Result{Expected: expected}
	gaps := netfilter.FirewallGaps(s)
	switch {
	case len(bypass) > 0:
		r.Status, r.Observed = finding.Fail, fmt.Sprintf("%d port(s) bypass the host firewall", len(bypass))
		r.Explanation = strings.Join(bypass, "; ")
		uplink := uplinkOf(fw)
		r.Remediation = fmt.Sprintf("if only this host needs it, publish the port on loopback (-p 127.0.0.1:%d:%d, or \"127.0.0.1:%d:%d\" in compose); "+
			"to filter it from outside, add a rule to DOCKER-USER, which Docker keeps and evaluates before its own (the packet is already rewritten there, so match the original port: "+
			"`iptables -I DOCKER-USER -i %s -p %s -m conntrack --ctorigdstport %d -j DROP`); UFW's and firewalld's own rules do not apply to published ports",
			first.HostPort, first.ContainerPort, first.HostPort, first.ContainerPort, uplink, first.Protocol, first.HostPort)
	case len(unknown) > 0:
		r.Status, r.Observed, r.Explanation = finding.Error, "unknown", strings.Join(unknown, "; ")
	case len(gaps) > 0 && checked > 0:
		r.Status, r.Observed = finding.Error, "unknown"
		r.Explanation = "the firewall was not read completely (" + strings.Join(gaps, "; ") + ")"
		r.Remediation = netfilter.GapFix(s)
	case checked == 0:
		r.Status, r.Observed, r.Explanation = finding.Pass, "none published on every address", "no running container publishes a port on 0.0.0.0 or ::"
	default:
		r.Status, r.Observed = finding.Pass, "none bypass"
		r.Explanation = fmt.Sprintf("%d port(s) published on every address; for each, the host firewall's INPUT rules would not deny it either, or Docker's path drops it too", checked)
	}
	return r
}

// internetTo is the first packet from the internet to a published port, at
// the host address the internet reaches (that of the default route).
func internetTo(fw *snapshot.Firewall, p snapshot.PublishedPort) (netfilter.Packet, bool) {
	src := netfilter.InternetAddress(p.HostIP.Is6())
	dst, ok := netfilter.LocalAddressFor(fw, src)
	if !ok {
		return netfilter.Packet{}, false
	}
	return netfilter.Packet{Direction: netfilter.Inbound, Protocol: p.Protocol, Src: src, Dst: dst, SrcPort: 40000, DstPort: p.HostPort}, true
}

// uplinkOf is the interface of the default route ("UPLINK" when there is none).
func uplinkOf(fw *snapshot.Firewall) string {
	for _, rt := range fw.Routes {
		if rt.Dst.Bits() == 0 && rt.Interface != "" {
			return rt.Interface
		}
	}
	return "UPLINK"
}

// deciderText quotes the rule or policy that decided a result.
func deciderText(res netfilter.Result) string {
	d := res.Deciding
	if d == nil {
		return "no rule"
	}
	if d.Policy != "" {
		return fmt.Sprintf("chain %s %s", d.Chain, d.Text)
	}
	return fmt.Sprintf("%q in chain %s", d.Text, d.Chain)
}
