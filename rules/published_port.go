package rules

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "published_port",
		Summary: "a running container publishes a host port, bound only to the address the policy gives",
		Attributes: []hcl.AttributeSchema{
			{Name: "container", Required: true},
			{Name: "port", Required: true},
			{Name: "address"},
			{Name: "protocol"},
		},
		AttributeDocs: map[string]string{
			"container": "the container's name",
			"port":      "the host port it publishes",
			"address":   "the only host address it may be bound to (\"127.0.0.1\"); default: any",
			"protocol":  "tcp (default) or udp",
		},
		Needs:  []string{snapshot.CollectorDocker},
		Decode: decodePublishedPort,
	})
}

// publishedPortCheck: the container publishes host port port/protocol, and
// when an address is given, on that address alone.
type publishedPortCheck struct {
	container string
	port      uint16
	protocol  string
	address   netip.Addr
}

func decodePublishedPort(d *Decoder) Check {
	return &publishedPortCheck{
		container: d.String("container", ""),
		port:      d.Port("port"),
		protocol:  d.OneOf("protocol", "tcp", "tcp", "udp"),
		address:   d.Address("address"),
	}
}

func (c *publishedPortCheck) Evaluate(s *snapshot.Snapshot) Result {
	want := fmt.Sprintf("container %s publishes host port %s/%d", c.container, c.protocol, c.port)
	if c.address.IsValid() {
		want += " on " + c.address.String() + " only"
	}
	d, bad := engineFor(s, want)
	if bad != nil {
		return *bad
	}
	ctr, bad := containerFor(d, c.container, want)
	if bad != nil {
		return *bad
	}
	var on, wrong []snapshot.PublishedPort
	var all []string
	for _, p := range ctr.Ports {
		all = append(all, p.String())
		if p.HostPort != c.port || p.Protocol != c.protocol {
			continue
		}
		on = append(on, p)
		if c.address.IsValid() && p.HostIP.Unmap() != c.address.Unmap() {
			wrong = append(wrong, p)
		}
	}
	r := Result{Expected: want, Observed: orNone(all)}
	switch {
	case len(on) == 0:
		r.Status = finding.Fail
		r.Explanation = fmt.Sprintf("container %s does not publish host port %s/%d; it publishes %s", ctr.Name, c.protocol, c.port, orNone(all))
		r.Remediation = fmt.Sprintf("publish it (docker run -p %s:CONTAINER-PORT, or ports: in the compose file) and recreate the container", bindSpec(c.address, c.port))
		return r
	case !ctr.Running():
		r.Status = finding.Fail
		r.Explanation = fmt.Sprintf("container %s would publish %s but is %s: nothing answers on host port %d", ctr.Name, describePorts(on), ctr.State, c.port)
		r.Remediation = "start it (docker start " + ctr.Name + ") and find out why it stopped (docker logs " + ctr.Name + ")"
		return r
	case len(wrong) > 0:
		r.Status = finding.Fail
		r.Explanation = fmt.Sprintf("container %s publishes %s", ctr.Name, describePorts(wrong))
		if wrong[0].HostIP.IsUnspecified() {
			r.Explanation += fmt.Sprintf(": bound on every address, not only %s, so other machines reach it unless a rule in DOCKER-USER stops them (Docker's DNAT goes around the host's INPUT rules)", c.address)
		} else {
			r.Explanation += fmt.Sprintf(", not on %s", c.address)
		}
		r.Remediation = fmt.Sprintf("publish it as -p %s:%d (ports: \"%s:%d\" in compose) and recreate the container", bindSpec(c.address, c.port), wrong[0].ContainerPort, bindSpec(c.address, c.port), wrong[0].ContainerPort)
		return r
	}
	r.Status = finding.Pass
	r.Explanation = fmt.Sprintf("container %s (%s) publishes %s", ctr.Name, ctr.State, describePorts(on))
	if s.Listeners != nil {
		var proxies []string
		for _, p := range on {
			if px, _ := proxyAt(s.Listeners, p.Protocol, hostAddrOf(p), p.HostPort); px != nil && px.sock.Process != nil {
				proxies = append(proxies, fmt.Sprintf("docker-proxy pid %d on %s", px.sock.Process.PID, netip.AddrPortFrom(px.sock.Address, px.sock.Port)))
			}
		}
		if len(proxies) > 0 {
			r.Explanation += "; served on the host by " + strings.Join(proxies, ", ")
		}
	}
	return r
}

// hostAddrOf is an address a published port accepts on the host: its own,
// or loopback for one bound on every address.
func hostAddrOf(p snapshot.PublishedPort) netip.Addr {
	if !p.HostIP.IsUnspecified() {
		return p.HostIP
	}
	if p.HostIP.Is6() {
		return netip.IPv6Loopback()
	}
	return netip.MustParseAddr("127.0.0.1")
}

func bindSpec(a netip.Addr, port uint16) string {
	if !a.IsValid() {
		return fmt.Sprint(port)
	}
	if a.Is6() {
		return fmt.Sprintf("[%s]:%d", a, port)
	}
	return fmt.Sprintf("%s:%d", a, port)
}

func describePorts(ps []snapshot.PublishedPort) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return strings.Join(out, ", ")
}
