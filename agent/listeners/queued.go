package listeners

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Connections waiting in an accept queue. The kernel creates a full socket
// for each connection that completes the handshake and queues it on its
// listener until accept(2) takes it; until then no file, and so no inode,
// is attached to it. sock_diag lists these children among the established
// sockets, with inode 0 and the listener's port, and tcp_info says how long
// since each last heard from its peer.

// maxQueuedLookups bounds the per-connection tcp_info lookups of one run.
const maxQueuedLookups = 1024

// Offsets in struct tcp_info (linux/tcp.h) of the times since the last data
// and the last ACK were received, in milliseconds.
const (
	tcpInfoLastDataRecv = 52
	tcpInfoLastAckRecv  = 56
)

// queuedConn is one connection that may wait in an accept queue.
type queuedConn struct {
	family uint8
	local  netip.Addr
	port   uint16
	// id is the connection's struct inet_diag_sockid, to ask about it again.
	id []byte
	// idleMS is the time since it last heard from its peer; known says
	// whether tcp_info gave it.
	idleMS uint32
	known  bool
}

// parseQueuedCandidate decodes an established socket from a sock_diag dump.
// keep is false unless it has no inode (no process holds it: not yet
// accepted) and its local port is one a TCP listener listens on.
func parseQueuedCandidate(b []byte, listenPorts map[uint16]bool) (c queuedConn, keep bool, err error) {
	if len(b) < sizeofInetDiagMsg {
		return c, false, fmt.Errorf("inet_diag_msg of %d bytes, want at least %d", len(b), sizeofInetDiagMsg)
	}
	c.family = b[0]
	c.port = binary.BigEndian.Uint16(b[4:6])
	inode := binary.NativeEndian.Uint32(b[68:72])
	if inode != 0 || !listenPorts[c.port] {
		return c, false, nil
	}
	switch c.family {
	case afInet:
		c.local = netip.AddrFrom4([4]byte(b[8:12]))
	case afInet6:
		c.local = netip.AddrFrom16([16]byte(b[8:24])).Unmap()
	default:
		return c, false, fmt.Errorf("inet_diag_msg of unknown family %d", c.family)
	}
	c.id = append([]byte(nil), b[4:4+sizeofSockID]...)
	return c, true, nil
}

// parseTCPIdle reads, from a sock_diag answer that carries INET_DIAG_INFO,
// the time since the connection last heard from its peer: the lesser of
// the times since the last data and the last ACK.
func parseTCPIdle(b []byte) (idleMS uint32, ok bool, err error) {
	if len(b) < sizeofInetDiagMsg {
		return 0, false, fmt.Errorf("inet_diag_msg of %d bytes, want at least %d", len(b), sizeofInetDiagMsg)
	}
	attrs := b[sizeofInetDiagMsg:]
	for len(attrs) >= sizeofRtAttr {
		alen := int(binary.NativeEndian.Uint16(attrs[0:2]))
		atype := binary.NativeEndian.Uint16(attrs[2:4])
		if alen < sizeofRtAttr || alen > len(attrs) {
			return 0, false, fmt.Errorf("inet_diag attribute %d of length %d in %d bytes", atype, alen, len(attrs))
		}
		if atype&0x3fff == inetDiagInfo {
			info := attrs[sizeofRtAttr:alen]
			if len(info) < tcpInfoLastAckRecv+4 {
				return 0, false, fmt.Errorf("tcp_info of %d bytes, want at least %d", len(info), tcpInfoLastAckRecv+4)
			}
			data := binary.NativeEndian.Uint32(info[tcpInfoLastDataRecv:])
			ack := binary.NativeEndian.Uint32(info[tcpInfoLastAckRecv:])
			return min(data, ack), true, nil
		}
		next := (alen + 3) &^ 3
		if next > len(attrs) {
			break
		}
		attrs = attrs[next:]
	}
	return 0, false, nil
}

// attributeQueued counts each waiting connection on the listener that holds
// it: the TCP listener on its port bound to its very address, else the one
// on the unspecified address that accepts it. Listeners sharing an address
// and port (SO_REUSEPORT) cannot be told apart: those with a non-empty queue
// each count it.
func attributeQueued(socks []snapshot.Socket, conns []queuedConn) {
	for _, c := range conns {
		var exact, wild []int
		for i, s := range socks {
			if s.Protocol != "tcp" || s.Port != c.port || !s.Accepts(c.local) {
				continue
			}
			if s.Address.Unmap() == c.local {
				exact = append(exact, i)
			} else {
				wild = append(wild, i)
			}
		}
		cands := exact
		if len(cands) == 0 {
			cands = wild
		}
		if len(cands) > 1 {
			var busy []int
			for _, i := range cands {
				if socks[i].AcceptQueue > 0 {
					busy = append(busy, i)
				}
			}
			if len(busy) > 0 {
				cands = busy
			}
		}
		for _, i := range cands {
			s := &socks[i]
			s.Queued++
			if c.known {
				s.QueuedMS = max(s.QueuedMS, c.idleMS)
			}
		}
	}
}
