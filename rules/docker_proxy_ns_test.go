package rules

import (
	"net/netip"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// A docker-proxy process in another PID or mount namespace (a container's)
// is not the host's proxy for a published port.
func TestProxyAtIgnoresOtherNamespaces(t *testing.T) {
	for _, c := range []struct {
		ns   string
		want bool
	}{{snapshot.NamespacesHost, true}, {"", true}, {snapshot.NamespacesOther, false}} {
		l := &snapshot.Listeners{Sockets: []snapshot.Socket{{
			Protocol: "tcp", Family: snapshot.IPv4, Address: netip.MustParseAddr("0.0.0.0"), Port: 8080,
			Process: &snapshot.Process{PID: 7, Name: "docker-proxy", Namespaces: c.ns,
				Cmdline: "/usr/bin/docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 8080 -container-ip 172.17.0.2 -container-port 80"},
		}}}
		px, _ := proxyAt(l, "tcp", netip.MustParseAddr("127.0.0.1"), 8080)
		if (px != nil) != c.want {
			t.Errorf("namespaces %q: proxy found %t, want %t", c.ns, px != nil, c.want)
		}
	}
}
