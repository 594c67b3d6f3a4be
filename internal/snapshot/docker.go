package snapshot

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Docker is what the Docker engine says about its networks and containers.
type Docker struct {
	// Engine is the daemon that answered; nil when Docker is not installed
	// on the host, or installed and not in use (its units disabled and not
	// running), and Absent then says how that was told.
	Engine *DockerEngine `json:"engine,omitempty"`
	Absent string        `json:"absent,omitempty"`
	// Installed is the dockerd binary of a Docker that is installed but not
	// in use; empty otherwise.
	Installed  string            `json:"installed,omitempty"`
	Networks   []DockerNetwork   `json:"networks"`
	Containers []DockerContainer `json:"containers"`
}

// Attach puts the Docker section into the snapshot.
func (d *Docker) Attach(s *Snapshot) { s.Docker = d }

// DockerEngine is the daemon that answered.
type DockerEngine struct {
	// Host is where it was reached, in DOCKER_HOST form (unix:///var/run/docker.sock).
	Host    string `json:"host"`
	Version string `json:"version"`
	// APIVersion is the version negotiated with the daemon (1.41 for Docker 20.10).
	APIVersion string `json:"api_version"`
}

// DockerNetwork is one Docker network.
type DockerNetwork struct {
	Name     string         `json:"name"`
	ID       string         `json:"id"`
	Driver   string         `json:"driver"`
	Scope    string         `json:"scope"`
	Internal bool           `json:"internal"`
	Subnets  []DockerSubnet `json:"subnets,omitempty"`
	// Bridge is the host interface of a bridge network: the
	// com.docker.network.bridge.name option, else br-<first 12 of the id>.
	Bridge  string            `json:"bridge,omitempty"`
	Options map[string]string `json:"options,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// DockerSubnet is one IPAM pool of a network.
type DockerSubnet struct {
	Subnet  netip.Prefix `json:"subnet"`
	Gateway netip.Addr   `json:"gateway,omitzero"`
}

// DockerContainer is one container, running or not.
type DockerContainer struct {
	Name  string `json:"name"`
	ID    string `json:"id"`
	Image string `json:"image"`
	// State is created, running, paused, restarting, removing, exited or dead.
	State string `json:"state"`
	// NetworkMode is bridge, host, none, container:ID or a network name.
	NetworkMode string            `json:"network_mode"`
	Networks    []DockerEndpoint  `json:"networks,omitempty"`
	Ports       []PublishedPort   `json:"ports,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

// Running reports whether the container's processes run (paused counts: its
// ports stay bound).
func (c *DockerContainer) Running() bool {
	return c.State == "running" || c.State == "paused" || c.State == "restarting"
}

// DockerEndpoint is a container's attachment to one network.
type DockerEndpoint struct {
	Network string     `json:"network"`
	IPv4    netip.Addr `json:"ipv4,omitzero"`
	IPv6    netip.Addr `json:"ipv6,omitzero"`
}

// PublishedPort is a container port bound to a port of the host.
type PublishedPort struct {
	// HostIP is the host address it is bound to; 0.0.0.0 or :: is every address.
	HostIP        netip.Addr `json:"host_ip"`
	HostPort      uint16     `json:"host_port"`
	ContainerPort uint16     `json:"container_port"`
	Protocol      string     `json:"protocol"`
}

func (p PublishedPort) String() string {
	return fmt.Sprintf("%s -> %d/%s", netip.AddrPortFrom(p.HostIP, p.HostPort), p.ContainerPort, p.Protocol)
}

// Network returns the named network.
func (d *Docker) Network(name string) *DockerNetwork {
	for i := range d.Networks {
		if d.Networks[i].Name == name {
			return &d.Networks[i]
		}
	}
	return nil
}

// Container returns the named container.
func (d *Docker) Container(name string) *DockerContainer {
	for i := range d.Containers {
		if d.Containers[i].Name == name {
			return &d.Containers[i]
		}
	}
	return nil
}

// ContainerAt returns the container holding the address, and the network it
// holds it on.
func (d *Docker) ContainerAt(a netip.Addr) (*DockerContainer, string) {
	a = a.Unmap()
	for i := range d.Containers {
		for _, ep := range d.Containers[i].Networks {
			if ep.IPv4 == a || ep.IPv6 == a {
				return &d.Containers[i], ep.Network
			}
		}
	}
	return nil, ""
}

// Objects lists the networks and containers by name, for diffs: ids,
// timestamps, addresses handed out at start and bridge names derived from
// ids are noise; subnets, options (a chosen bridge name among them) and
// published ports are not.
func (d *Docker) Objects() []Object {
	var out []Object
	for _, n := range d.Networks {
		f := map[string]string{
			"driver":   n.Driver,
			"scope":    n.Scope,
			"internal": strconv.FormatBool(n.Internal),
		}
		var subnets []string
		for _, s := range n.Subnets {
			v := s.Subnet.String()
			if s.Gateway.IsValid() {
				v += " gw " + s.Gateway.String()
			}
			subnets = append(subnets, v)
		}
		f["subnets"] = strings.Join(subnets, ", ")
		addMap(f, "option.", n.Options)
		addMap(f, "label.", n.Labels)
		out = append(out, Object{Area: AreaDocker, Kind: "network", ID: n.Name, Fields: f})
	}
	for _, c := range d.Containers {
		f := map[string]string{
			"image":        c.Image,
			"state":        c.State,
			"network_mode": c.NetworkMode,
		}
		var nets, ports []string
		for _, ep := range c.Networks {
			nets = append(nets, ep.Network)
		}
		for _, p := range c.Ports {
			ports = append(ports, p.String())
		}
		slices.Sort(nets)
		slices.Sort(ports)
		f["networks"] = strings.Join(nets, ", ")
		f["ports"] = strings.Join(slices.Compact(ports), ", ")
		addMap(f, "label.", c.Labels)
		out = append(out, Object{Area: AreaDocker, Kind: "container", ID: c.Name, Fields: f})
	}
	return out
}

func addMap(f map[string]string, prefix string, m map[string]string) {
	for k, v := range m {
		f[prefix+k] = v
	}
}
