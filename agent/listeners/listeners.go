// Package listeners is the collector of listening sockets: every TCP socket in
// LISTEN and every bound, unconnected UDP socket, with the process that owns it.
package listeners

import (
	"cmp"
	"context"
	"slices"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Where sockets are read from; the values of snapshot.Listeners.Source.
const (
	// SourceSockDiag is the kernel's netlink sock_diag interface, which shows
	// everything: v6only and the accept queue's limit included.
	SourceSockDiag = "sock_diag"
	// SourceProcfs is /proc/net/{tcp,tcp6,udp,udp6}, used when sock_diag is
	// unavailable: it shows neither v6only nor the listen backlog.
	SourceProcfs = "procfs"
)

// Collector reads the listening sockets of the host, or of Env.NetNS when set:
// every TCP socket in LISTEN, and every UDP socket that is bound and not
// connected (destination port 0; a connected UDP socket only talks to its
// peer, it is a client). IPv4 and IPv6 alike. Owners are found by scanning
// /proc/PID/fd below Env.Root.
type Collector struct {
	// Source forces where sockets are read from: SourceSockDiag (no
	// fallback) or SourceProcfs. Empty, the default, tries sock_diag and
	// falls back to procfs when the kernel refuses it.
	Source string
}

func init() {
	agent.Register(snapshot.CollectorListeners, func() agent.Collector { return &Collector{} })
}

// Follows declares the news after which the sockets are read again besides
// their poll: Docker's container changes, which open and close
// docker-proxy's sockets.
func (*Collector) Follows() []agent.Source { return []agent.Source{agent.Docker} }

// Collect reads the sockets and their owners. It returns a Partial error with
// the data when owners could not all be read (not root) or the source could
// not show everything.
func (c *Collector) Collect(ctx context.Context, env *agent.Env) (snapshot.Section, error) {
	l, err := c.collect(ctx, env)
	if l == nil {
		return nil, err
	}
	return l, err
}

// sortSockets orders sockets by protocol, family, address and port (and
// inode, for sockets sharing a port with SO_REUSEPORT).
func sortSockets(s []snapshot.Socket) {
	slices.SortFunc(s, func(a, b snapshot.Socket) int {
		return cmp.Or(
			cmp.Compare(a.Protocol, b.Protocol),
			cmp.Compare(a.Family, b.Family),
			a.Address.Compare(b.Address),
			cmp.Compare(a.Port, b.Port),
			cmp.Compare(a.Inode, b.Inode),
		)
	})
}
