package rules

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "docker_forward",
		Summary: "where Docker set the FORWARD policy to DROP, the traffic this host routes for others (VPN, LAN gateway, VM bridges) still gets through",
		Needs:   []string{snapshot.CollectorFirewall},
		Decode:  func(*Decoder) Check { return dockerForwardCheck{} },
	})
}

// dockerForwardCheck: Docker sets the filter table's FORWARD policy to DROP
// when it starts, which silently ends any routing the host did before
// (WireGuard or OpenVPN gateways, libvirt or LXD bridges, a LAN router).
type dockerForwardCheck struct{}

func (dockerForwardCheck) Evaluate(s *snapshot.Snapshot) Result {
	fw := s.Firewall
	if fw == nil {
		return Errorf("cannot evaluate: the firewall collector recorded no rules section")
	}
	r := Result{Expected: "forwarded traffic outside Docker's networks is not dropped by Docker's FORWARD policy"}
	docker := dockerTables(fw)
	if len(docker) == 0 {
		if gaps := netfilter.FirewallGaps(s); len(gaps) > 0 {
			return Result{Status: finding.Error, Expected: r.Expected, Observed: "unknown",
				Explanation: "whether Docker changed the FORWARD policy cannot be told: " + strings.Join(gaps, "; "),
				Remediation: netfilter.GapFix(s)}
		}
		r.Status, r.Observed, r.Explanation = finding.Pass, "no Docker chains", "no Docker chains in the firewall"
		return r
	}
	var policies []string
	drop := false
	for _, t := range docker {
		if c := t.Chain("FORWARD"); c != nil && c.Base() {
			policies = append(policies, fmt.Sprintf("%s policy %s (table %s, %s)", c.Name, strings.ToUpper(c.Policy), t.Name, t.Backend))
			drop = drop || c.Policy == snapshot.VerdictDrop
		}
	}
	r.Observed = "Docker chains present; " + orNone(policies)
	if !drop {
		r.Status = finding.Pass
		r.Explanation = "Docker's chains are present and the FORWARD policy is not DROP: " + orNone(policies) +
			"; forwarding outside Docker's networks is left alone (Docker normally sets DROP: someone set it back, so networks routed to this host may reach containers' unpublished ports)"
		return r
	}
	others := forwardingInterfaces(fw)
	if len(others) == 0 {
		r.Status = finding.Pass
		r.Explanation = "Docker set " + strings.Join(policies, ", ") + ", but this host has no other interface to route for (only its uplink and Docker's bridges), so nothing else is forwarded"
		return r
	}
	prog := netfilter.ProgramFor(fw)
	var dropped, passed []string
	var firstDropped *flowProbe
	for _, la := range others {
		src := neighbour(la.Prefix)
		p := netfilter.Packet{Direction: netfilter.Forward, Protocol: "tcp", Src: src, Dst: netfilter.InternetAddress(src.Is6()), SrcPort: 40000, DstPort: 443, InIface: la.Interface}
		res := prog.Simulate(p)
		e := fmt.Sprintf("from %s (in on %s): %s", src, la.Interface, explainFlow(&flowProbe{pkt: p, res: res}))
		switch res.Verdict {
		case netfilter.Deny:
			dropped = append(dropped, e)
			if firstDropped == nil {
				firstDropped = &flowProbe{pkt: p, res: res}
			}
		case netfilter.Allow:
			passed = append(passed, e)
		default:
			return Result{Status: finding.Error, Expected: r.Expected, Observed: r.Observed, Explanation: e}
		}
	}
	if len(dropped) == 0 {
		r.Status = finding.Pass
		r.Explanation = "Docker set " + strings.Join(policies, ", ") + ", and forwarding for the other networks is let through: " + strings.Join(passed, "; ")
		return r
	}
	r.Status = finding.Fail
	r.Explanation = "Docker set " + strings.Join(policies, ", ") + ": traffic this host routes for other networks (VPN, VMs, LAN) is dropped unless a rule lets it through; " + strings.Join(dropped, "; ")
	in := firstDropped.pkt.InIface
	out := firstDropped.res.Final.OutIface
	if out == "" {
		out = "UPLINK"
	}
	r.Remediation = fmt.Sprintf("if this host must route for %s, let it through in DOCKER-USER, which Docker keeps across restarts: "+
		"`iptables -I DOCKER-USER -i %s -o %s -j ACCEPT` and `iptables -I DOCKER-USER -i %s -o %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT` "+
		"(with UFW: `ufw route allow in on %s out on %s`); setting the policy back to ACCEPT would also open the containers' unpublished ports to those networks",
		in, in, out, out, in, in, out)
	return r
}

// dockerTables are the tables that hold Docker's chains.
func dockerTables(fw *snapshot.Firewall) []*snapshot.Table {
	var out []*snapshot.Table
	for i := range fw.Tables {
		t := &fw.Tables[i]
		for _, c := range t.Chains {
			if strings.HasPrefix(c.Name, "DOCKER") {
				out = append(out, t)
				break
			}
		}
	}
	return out
}

// forwardingInterfaces are the interfaces, other than loopback, the uplink
// (default route) and Docker's own, whose networks the host would route for.
func forwardingInterfaces(fw *snapshot.Firewall) []snapshot.LocalAddress {
	uplink := map[string]bool{}
	for _, rt := range fw.Routes {
		if rt.Dst.Bits() == 0 {
			uplink[rt.Interface] = true
		}
	}
	var out []snapshot.LocalAddress
	seen := map[string]bool{}
	for _, la := range fw.LocalAddresses {
		n, a := la.Interface, la.Prefix.Addr()
		if seen[n] || uplink[n] || n == "lo" || n == "docker0" || strings.HasPrefix(n, "br-") || strings.HasPrefix(n, "veth") ||
			!a.Is4() || a.IsLoopback() || la.Prefix.Bits() >= 31 {
			continue
		}
		seen[n] = true
		out = append(out, la)
	}
	return out
}

// neighbour is another address on the prefix: a machine the host routes for.
func neighbour(p netip.Prefix) netip.Addr {
	first, _ := netfilter.HostRange(p.Masked())
	if first == p.Addr() {
		return first.Next()
	}
	return first
}
