package rules

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Helpers shared by the Docker check kinds (docker_network, published_port,
// reach and the docker_* kinds of the default policy).

// engineFor returns the Docker section of a snapshot whose engine answered.
// A check that names Docker things fails on a host without Docker (the
// policy expects something that is not there); the result says so.
func engineFor(s *snapshot.Snapshot, expected string) (*snapshot.Docker, *Result) {
	if s.Docker == nil {
		r := Errorf("cannot evaluate: the docker collector recorded no section")
		return nil, &r
	}
	if s.Docker.Engine == nil {
		fix := "install and start Docker (Debian: apt-get install docker.io), or leave this check out of this host's policy"
		if s.Docker.Installed != "" {
			fix = "Docker is installed: enable and start it (systemctl enable --now docker), or leave this check out of this host's policy"
		}
		return nil, &Result{
			Status: finding.Fail, Expected: expected, Observed: "no Docker engine",
			Explanation: s.Docker.Absent, Remediation: fix,
		}
	}
	return s.Docker, nil
}

// noEngine is the skip of a default-policy check on a host without a Docker
// engine in use: it does not apply there, and the collector's words say why
// (not installed, or installed and disabled).
func noEngine(s *snapshot.Snapshot, expected string) (Result, bool) {
	if s.Docker != nil && s.Docker.Engine == nil {
		why := s.Docker.Absent
		if why == "" {
			why = "no Docker engine on this host"
		}
		return Result{Status: finding.Skip, Expected: expected, Observed: "no Docker engine", Explanation: why}, true
	}
	if s.Docker == nil {
		return Errorf("cannot evaluate: the docker collector recorded no section"), true
	}
	return Result{}, false
}

// containerFor finds a container by name; the result explains a miss.
func containerFor(d *snapshot.Docker, name, expected string) (*snapshot.DockerContainer, *Result) {
	if c := d.Container(name); c != nil {
		return c, nil
	}
	var names []string
	for _, c := range d.Containers {
		names = append(names, c.Name)
	}
	return nil, &Result{
		Status: finding.Fail, Expected: expected, Observed: "no such container",
		Explanation: fmt.Sprintf("the Docker engine has no container named %q (containers: %s)", name, orNone(names)),
		Remediation: "create the container (docker run or your compose file), or correct the name",
	}
}

// dockerProxy is a docker-proxy process from the listeners section: the
// userland proxy Docker runs for each published port, which takes the
// connections the NAT rules do not rewrite (those to loopback) and opens a
// second one, from the host, to the container.
type dockerProxy struct {
	sock          snapshot.Socket
	protocol      string
	containerIP   netip.Addr
	containerPort uint16
}

// parseDockerProxy reads a docker-proxy command line:
// "docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 8080 -container-ip 172.17.0.2 -container-port 80".
func parseDockerProxy(cmdline string) (proto string, ip netip.Addr, port uint16, ok bool) {
	f := strings.Fields(cmdline)
	if len(f) == 0 || !strings.HasSuffix(f[0], "docker-proxy") {
		return "", netip.Addr{}, 0, false
	}
	proto = "tcp"
	for i := 1; i+1 < len(f); i += 2 {
		switch strings.TrimLeft(f[i], "-") {
		case "proto":
			proto = f[i+1]
		case "container-ip":
			ip, _ = netip.ParseAddr(f[i+1])
		case "container-port":
			n, _ := strconv.ParseUint(f[i+1], 10, 16)
			port = uint16(n)
		}
	}
	return proto, ip.Unmap(), port, ip.IsValid() && port != 0
}

// proxyAt returns the docker-proxy that accepts protocol traffic to
// addr:port on the host, if the listeners section holds one.
func proxyAt(l *snapshot.Listeners, protocol string, addr netip.Addr, port uint16) (*dockerProxy, *snapshot.Socket) {
	if l == nil {
		return nil, nil
	}
	var other *snapshot.Socket
	for i := range l.Sockets {
		sock := l.Sockets[i]
		if sock.Protocol != protocol || sock.Port != port || !sock.Accepts(addr) {
			continue
		}
		// A docker-proxy in another PID or mount namespace (a container's)
		// is not the host's Docker proxying its published port.
		if sock.Process != nil && !sock.Process.OtherNamespaces() {
			if proto, ip, cport, ok := parseDockerProxy(sock.Process.Cmdline); ok && proto == protocol {
				return &dockerProxy{sock: sock, protocol: proto, containerIP: ip, containerPort: cport}, &l.Sockets[i]
			}
		}
		if other == nil {
			other = &l.Sockets[i]
		}
	}
	return nil, other
}

// containerName names the container at an address, "" when none is.
func containerName(d *snapshot.Docker, a netip.Addr) string {
	if d == nil {
		return ""
	}
	if c, _ := d.ContainerAt(a); c != nil {
		return c.Name
	}
	return ""
}
