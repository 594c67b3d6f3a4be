package docker

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// bridgeNameOption is the network option that names a bridge's interface.
const bridgeNameOption = "com.docker.network.bridge.name"

// convert turns the engine's answers into the snapshot model: networks and
// containers sorted by name; inspected holds the containers that are not
// running, whose published ports only inspect shows.
func convert(nets []network.Summary, ctrs []container.Summary, inspected map[string]container.InspectResponse) *snapshot.Docker {
	d := &snapshot.Docker{Networks: []snapshot.DockerNetwork{}, Containers: []snapshot.DockerContainer{}}
	for _, n := range nets {
		dn := snapshot.DockerNetwork{
			Name: n.Name, ID: n.ID, Driver: n.Driver, Scope: n.Scope, Internal: n.Internal,
			Options: nonEmpty(n.Options), Labels: nonEmpty(n.Labels),
		}
		for _, c := range n.IPAM.Config {
			if c.Subnet.IsValid() {
				dn.Subnets = append(dn.Subnets, snapshot.DockerSubnet{Subnet: c.Subnet.Masked(), Gateway: c.Gateway.Unmap()})
			}
		}
		if n.Driver == "bridge" {
			dn.Bridge = n.Options[bridgeNameOption]
			if dn.Bridge == "" && len(n.ID) >= 12 {
				dn.Bridge = "br-" + n.ID[:12]
			}
		}
		d.Networks = append(d.Networks, dn)
	}
	for _, c := range ctrs {
		dc := snapshot.DockerContainer{
			ID: c.ID, Image: c.Image, State: string(c.State), NetworkMode: c.HostConfig.NetworkMode, Labels: nonEmpty(c.Labels),
		}
		if len(c.Names) > 0 {
			dc.Name = strings.TrimPrefix(c.Names[0], "/")
		}
		if c.NetworkSettings != nil {
			for name, ep := range c.NetworkSettings.Networks {
				e := snapshot.DockerEndpoint{Network: name}
				if ep != nil {
					e.IPv4, e.IPv6 = ep.IPAddress.Unmap(), ep.GlobalIPv6Address
				}
				dc.Networks = append(dc.Networks, e)
			}
		}
		slices.SortFunc(dc.Networks, func(a, b snapshot.DockerEndpoint) int { return cmp.Compare(a.Network, b.Network) })
		for _, p := range c.Ports {
			if p.PublicPort != 0 {
				dc.Ports = append(dc.Ports, snapshot.PublishedPort{HostIP: hostIP(p.IP), HostPort: p.PublicPort, ContainerPort: p.PrivatePort, Protocol: p.Type})
			}
		}
		if in, ok := inspected[c.ID]; ok && len(dc.Ports) == 0 {
			dc.Ports = boundPorts(in)
		}
		sortPorts(dc.Ports)
		d.Containers = append(d.Containers, dc)
	}
	slices.SortFunc(d.Networks, func(a, b snapshot.DockerNetwork) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(d.Containers, func(a, b snapshot.DockerContainer) int { return cmp.Compare(a.Name, b.Name) })
	return d
}

// boundPorts are the port bindings a container that is not running asks
// for: what it will publish when it starts. An empty host address is every
// address (0.0.0.0); an empty host port is one Docker picks at start (0).
func boundPorts(in container.InspectResponse) []snapshot.PublishedPort {
	if in.HostConfig == nil {
		return nil
	}
	var out []snapshot.PublishedPort
	for port, bindings := range in.HostConfig.PortBindings {
		for _, b := range bindings {
			hp, _ := strconv.ParseUint(b.HostPort, 10, 16)
			out = append(out, snapshot.PublishedPort{HostIP: hostIP(b.HostIP), HostPort: uint16(hp), ContainerPort: port.Num(), Protocol: string(port.Proto())})
		}
	}
	return out
}

func hostIP(a netip.Addr) netip.Addr {
	if !a.IsValid() {
		return netip.IPv4Unspecified()
	}
	return a.Unmap()
}

func sortPorts(ps []snapshot.PublishedPort) {
	slices.SortFunc(ps, func(a, b snapshot.PublishedPort) int {
		return cmp.Or(cmp.Compare(a.HostPort, b.HostPort), cmp.Compare(a.Protocol, b.Protocol), a.HostIP.Compare(b.HostIP), cmp.Compare(a.ContainerPort, b.ContainerPort))
	})
}

func nonEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}
