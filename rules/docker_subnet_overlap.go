package rules

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "docker_subnet_overlap",
		Summary: "no Docker network's subnet overlaps another's, or a network the host routes elsewhere (a VPN, the LAN)",
		Needs:   []string{snapshot.CollectorDocker, snapshot.CollectorFirewall},
		Decode:  func(*Decoder) Check { return dockerOverlapCheck{} },
	})
}

// dockerOverlapCheck: a Docker subnet that overlaps a network the host
// reaches through another interface hides those machines from the host and
// its containers (the bridge's route wins for the overlapping part), and two
// Docker networks that overlap make addresses ambiguous.
type dockerOverlapCheck struct{}

func (dockerOverlapCheck) Evaluate(s *snapshot.Snapshot) Result {
	const expected = "Docker's subnets overlap neither each other nor the host's other routes"
	if r, done := noEngine(s, expected); done {
		return r
	}
	if s.Firewall == nil {
		return Errorf("cannot evaluate: the firewall collector recorded no routes")
	}
	type subnet struct {
		net    string
		prefix netip.Prefix
	}
	var subnets []subnet
	bridges := map[string]bool{}
	for _, n := range s.Docker.Networks {
		if n.Bridge != "" {
			bridges[n.Bridge] = true
		}
		for _, sn := range n.Subnets {
			subnets = append(subnets, subnet{n.Name, sn.Subnet})
		}
	}
	var found []string
	for i, a := range subnets {
		for _, b := range subnets[i+1:] {
			if a.prefix.Overlaps(b.prefix) {
				found = append(found, fmt.Sprintf("networks %s (%s) and %s (%s) overlap", a.net, a.prefix, b.net, b.prefix))
			}
		}
		for _, rt := range s.Firewall.Routes {
			if rt.Dst.Bits() == 0 || bridges[rt.Interface] || rt.Dst.Addr().IsLinkLocalUnicast() || !rt.Dst.Overlaps(a.prefix) {
				continue
			}
			via := "on " + rt.Interface
			if rt.Gateway.IsValid() {
				via = fmt.Sprintf("via %s on %s", rt.Gateway, rt.Interface)
			}
			found = append(found, fmt.Sprintf("network %s (%s) overlaps the host's route to %s %s: machines there are hidden behind the bridge", a.net, a.prefix, rt.Dst, via))
		}
	}
	r := Result{Expected: expected}
	if len(found) == 0 {
		r.Status, r.Observed = finding.Pass, "no overlap"
		r.Explanation = fmt.Sprintf("%d Docker subnet(s), none overlapping each other or the host's %d other route(s)", len(subnets), len(s.Firewall.Routes))
		return r
	}
	r.Status, r.Observed = finding.Fail, fmt.Sprintf("%d overlap(s)", len(found))
	r.Explanation = strings.Join(found, "; ")
	r.Remediation = "give Docker address pools clear of the host's networks (\"default-address-pools\" in /etc/docker/daemon.json) and recreate the overlapping networks with --subnet"
	return r
}
