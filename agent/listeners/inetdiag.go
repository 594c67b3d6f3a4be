package listeners

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Values from linux/inet_diag.h, linux/socket.h and net/tcp_states.h.
const (
	afInet  = 2
	afInet6 = 10

	ipprotoTCP = 6
	ipprotoUDP = 17

	tcpListen = 10

	sizeofInetDiagReqV2 = 56 // struct inet_diag_req_v2
	sizeofInetDiagMsg   = 72 // struct inet_diag_msg
	sizeofRtAttr        = 4

	inetDiagInfo     = 2  // INET_DIAG_INFO, struct tcp_info
	inetDiagSKV6Only = 11 // INET_DIAG_SKV6ONLY, u8

	tcpEstablished = 1
	tcpCloseWait   = 8

	statesListen = 1 << tcpListen
	statesAll    = 0xffffffff
	// statesQueued are the states of a connection that can wait in an
	// accept queue: established, or closed by its peer meanwhile.
	statesQueued = 1<<tcpEstablished | 1<<tcpCloseWait

	sizeofSockID = 48 // struct inet_diag_sockid
)

// inetDiagReq is struct inet_diag_req_v2: dump the sockets of one family and
// protocol whose state is in states, or (with id set) ask for one socket. It
// implements nl.NetlinkRequestData.
type inetDiagReq struct {
	family   uint8
	protocol uint8
	// ext is idiag_ext: the bits of the attributes asked for, 1<<(type-1).
	ext    uint8
	states uint32
	// id is a struct inet_diag_sockid, as a dump answered it; empty for a
	// dump (no filter).
	id []byte
}

// Serialize encodes the request in the kernel's layout.
func (r *inetDiagReq) Serialize() []byte {
	b := make([]byte, sizeofInetDiagReqV2)
	b[0] = r.family
	b[1] = r.protocol
	b[2] = r.ext // INET_DIAG_SKV6ONLY comes unasked
	binary.NativeEndian.PutUint32(b[4:8], r.states)
	copy(b[8:8+sizeofSockID], r.id)
	return b
}

// Len is the request's size.
func (r *inetDiagReq) Len() int { return sizeofInetDiagReqV2 }

// parseInetDiag decodes one inet_diag_msg and its attributes, as the kernel
// sends them in answer to a SOCK_DIAG_BY_FAMILY dump. keep is false for
// sockets that are neither listening (TCP) nor bound and unconnected (UDP).
func parseInetDiag(protocol string, b []byte) (s snapshot.Socket, keep bool, err error) {
	if len(b) < sizeofInetDiagMsg {
		return s, false, fmt.Errorf("inet_diag_msg of %d bytes, want at least %d", len(b), sizeofInetDiagMsg)
	}
	family, state := b[0], b[1]
	// struct inet_diag_sockid starts at 4: ports and addresses in network order.
	sport := binary.BigEndian.Uint16(b[4:6])
	dport := binary.BigEndian.Uint16(b[6:8])
	s = snapshot.Socket{
		Protocol: protocol,
		Port:     sport,
		UID:      binary.NativeEndian.Uint32(b[64:68]),
		Inode:    uint64(binary.NativeEndian.Uint32(b[68:72])),
	}
	switch family {
	case afInet:
		s.Family = snapshot.IPv4
		s.Address = netip.AddrFrom4([4]byte(b[8:12]))
	case afInet6:
		s.Family = snapshot.IPv6
		s.Address = netip.AddrFrom16([16]byte(b[8:24]))
	default:
		return s, false, fmt.Errorf("inet_diag_msg of unknown family %d", family)
	}
	switch protocol {
	case "tcp":
		if state != tcpListen {
			return s, false, nil
		}
		// For a listener the kernel puts the accept queue's length in
		// idiag_rqueue and its limit (the listen backlog) in idiag_wqueue.
		s.AcceptQueue = binary.NativeEndian.Uint32(b[56:60])
		s.Backlog = binary.NativeEndian.Uint32(b[60:64])
	case "udp":
		// A connected UDP socket (dport set) only talks to its peer: it is
		// not a service. Unconnected ones are in TCP_CLOSE (7).
		if dport != 0 || sport == 0 {
			return s, false, nil
		}
	}
	attrs := b[sizeofInetDiagMsg:]
	for len(attrs) >= sizeofRtAttr {
		alen := int(binary.NativeEndian.Uint16(attrs[0:2]))
		atype := binary.NativeEndian.Uint16(attrs[2:4])
		if alen < sizeofRtAttr || alen > len(attrs) {
			return s, false, fmt.Errorf("inet_diag attribute %d of length %d in %d bytes", atype, alen, len(attrs))
		}
		if atype&0x3fff == inetDiagSKV6Only && alen > sizeofRtAttr {
			s.V6Only = attrs[sizeofRtAttr] != 0
		}
		next := (alen + 3) &^ 3
		if next > len(attrs) {
			break
		}
		attrs = attrs[next:]
	}
	return s, true, nil
}
