package snapshot

import "net/netip"

// Listeners is what the listeners collector saw: every listening TCP socket
// and every bound UDP socket.
type Listeners struct {
	// Source is how the sockets were read: "sock_diag" or "procfs".
	Source string `json:"source"`
	// BindV6Only is net.ipv6.bindv6only, the default for new IPv6 sockets.
	BindV6Only bool     `json:"bindv6only"`
	Sockets    []Socket `json:"sockets"`
	// Unowned counts sockets whose owning process could not be found, and
	// OwnerError says why (usually: not allowed to read other users' /proc/PID/fd).
	Unowned    int    `json:"unowned"`
	OwnerError string `json:"owner_error,omitempty"`
}

// Attach puts the listeners into the snapshot.
func (l *Listeners) Attach(s *Snapshot) { s.Listeners = l }

// Socket is one listening TCP socket or bound UDP socket.
type Socket struct {
	Protocol string     `json:"protocol"` // tcp | udp
	Family   Family     `json:"family"`
	Address  netip.Addr `json:"address"`
	Port     uint16     `json:"port"`
	// V6Only is set for IPv6 sockets that do not also accept IPv4. A socket
	// on [::] without it is dual-stack: it serves 0.0.0.0 too.
	V6Only bool   `json:"v6only,omitempty"`
	Inode  uint64 `json:"inode"`
	UID    uint32 `json:"uid"`
	// AcceptQueue is the number of connections waiting to be accepted and
	// Backlog the queue's limit (TCP listeners only).
	AcceptQueue uint32 `json:"accept_queue"`
	Backlog     uint32 `json:"backlog"`
	// Queued counts the connections sock_diag listed as waiting in this
	// listener's accept queue: established (the handshake done) and not
	// yet accepted, so no process holds them. QueuedMS is how long the
	// oldest of them has waited, at least: the time since it last heard
	// from its peer (tcp_info). TCP listeners read through sock_diag only.
	Queued   uint32   `json:"queued,omitempty"`
	QueuedMS uint32   `json:"queued_ms,omitempty"`
	Process  *Process `json:"process,omitempty"`
}

// Process is the process that owns a socket.
type Process struct {
	PID     int    `json:"pid"`
	Name    string `json:"name"`
	Cmdline string `json:"cmdline"`
	Unit    string `json:"unit,omitempty"`
	// ContainerID is the container the process runs in, from its cgroup;
	// empty for a process in the audited host's own namespaces, even when
	// hostdrift itself runs in a container.
	ContainerID string `json:"container_id,omitempty"`
	// Namespaces says whether the process runs in the audited host's PID
	// and mount namespaces (NamespacesHost) or in others, a container's
	// (NamespacesOther); empty when it could not be told.
	Namespaces string `json:"namespaces,omitempty"`
}

// Values of Process.Namespaces.
const (
	NamespacesHost  = "host"
	NamespacesOther = "other"
)

// OtherNamespaces reports whether the process runs in other PID or mount
// namespaces than the audited host's: it is no evidence about the host.
func (p *Process) OtherNamespaces() bool { return p != nil && p.Namespaces == NamespacesOther }

// DualStack reports whether an IPv6 socket on the unspecified address also
// accepts IPv4 connections.
func (s Socket) DualStack() bool {
	return s.Family == IPv6 && s.Address.IsUnspecified() && !s.V6Only
}

// Accepts reports whether the socket receives traffic sent to addr.
func (s Socket) Accepts(addr netip.Addr) bool {
	addr = addr.Unmap()
	if s.Address.IsUnspecified() {
		if s.Family == IPv4 {
			return addr.Is4()
		}
		return addr.Is6() || (addr.Is4() && !s.V6Only)
	}
	return s.Address.Unmap() == addr
}

// Stalled reports whether a TCP listener has a full accept queue: its owner
// has stopped calling accept.
func (s Socket) Stalled() bool {
	return s.Protocol == "tcp" && s.Backlog > 0 && s.AcceptQueue >= s.Backlog
}
