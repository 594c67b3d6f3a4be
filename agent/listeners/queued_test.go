package listeners

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// queuedMsg builds an inet_diag_msg for a TCP socket, with a tcp_info
// attribute when info is set.
func queuedMsg(family uint8, local netip.Addr, port uint16, inode uint32, info []byte) []byte {
	b := make([]byte, sizeofInetDiagMsg)
	b[0], b[1] = family, tcpEstablished
	binary.BigEndian.PutUint16(b[4:6], port)
	binary.BigEndian.PutUint16(b[6:8], 50000)
	a := local.As16()
	if family == afInet {
		a4 := local.As4()
		copy(b[8:12], a4[:])
	} else {
		copy(b[8:24], a[:])
	}
	binary.NativeEndian.PutUint32(b[68:72], inode)
	if info != nil {
		attr := make([]byte, sizeofRtAttr+len(info))
		binary.NativeEndian.PutUint16(attr[0:2], uint16(len(attr)))
		binary.NativeEndian.PutUint16(attr[2:4], inetDiagInfo)
		copy(attr[4:], info)
		b = append(b, attr...)
	}
	return b
}

func tcpInfo(lastData, lastAck uint32) []byte {
	info := make([]byte, 104)
	binary.NativeEndian.PutUint32(info[tcpInfoLastDataRecv:], lastData)
	binary.NativeEndian.PutUint32(info[tcpInfoLastAckRecv:], lastAck)
	return info
}

func TestParseQueued(t *testing.T) {
	ports := map[uint16]bool{443: true}
	lo := netip.MustParseAddr("127.0.0.1")
	mapped := netip.MustParseAddr("::ffff:127.0.0.1")
	for _, c := range []struct {
		name string
		msg  []byte
		keep bool
		addr netip.Addr
	}{
		{"unaccepted, on a listener's port", queuedMsg(afInet, lo, 443, 0, nil), true, lo},
		{"v4-mapped child of a dual-stack listener", queuedMsg(afInet6, mapped, 443, 0, nil), true, lo},
		{"accepted: a process holds it", queuedMsg(afInet, lo, 443, 9911, nil), false, netip.Addr{}},
		{"no listener on its port", queuedMsg(afInet, lo, 8080, 0, nil), false, netip.Addr{}},
	} {
		got, keep, err := parseQueuedCandidate(c.msg, ports)
		if err != nil || keep != c.keep || (keep && (got.local != c.addr || got.port != 443 || len(got.id) != sizeofSockID)) {
			t.Errorf("%s: %+v keep %v err %v", c.name, got, keep, err)
		}
	}
	if _, _, err := parseQueuedCandidate(make([]byte, 10), ports); err == nil {
		t.Error("short message: want an error")
	}

	if idle, ok, err := parseTCPIdle(queuedMsg(afInet, lo, 443, 0, tcpInfo(42_000, 41_500))); err != nil || !ok || idle != 41_500 {
		t.Errorf("idle %d ok %v err %v, want 41500 (the later of the last data and the last ACK)", idle, ok, err)
	}
	if _, ok, err := parseTCPIdle(queuedMsg(afInet, lo, 443, 0, nil)); err != nil || ok {
		t.Errorf("no tcp_info: ok %v err %v, want not ok", ok, err)
	}
	if _, _, err := parseTCPIdle(queuedMsg(afInet, lo, 443, 0, make([]byte, 20))); err == nil {
		t.Error("truncated tcp_info: want an error")
	}
}

func TestAttributeQueued(t *testing.T) {
	lst := func(addr string, v6only bool, queue uint32) snapshot.Socket {
		a := netip.MustParseAddr(addr)
		return snapshot.Socket{Protocol: "tcp", Family: snapshot.FamilyOf(a), Address: a, Port: 443, V6Only: v6only, AcceptQueue: queue, Backlog: 5}
	}
	conn := func(addr string, ms uint32) queuedConn {
		return queuedConn{local: netip.MustParseAddr(addr), port: 443, idleMS: ms, known: true}
	}
	socks := []snapshot.Socket{
		lst("0.0.0.0", false, 0),   // 0: wildcard, empty queue
		lst("10.0.0.5", false, 1),  // 1: exact address wins
		lst("::", false, 2),        // 2: dual-stack, busy
		lst("::1", true, 0),        // 3
		lst("192.0.2.9", false, 0), // 4: nothing waits
	}
	attributeQueued(socks, []queuedConn{
		conn("10.0.0.5", 1200),
		conn("127.0.0.1", 5000), // 0.0.0.0 and [::] take it: the busy one
		conn("127.0.0.1", 7000),
		conn("::1", 300),
		{local: netip.MustParseAddr("::1"), port: 443}, // no tcp_info
	})
	want := []struct{ n, ms uint32 }{{0, 0}, {1, 1200}, {2, 7000}, {2, 300}, {0, 0}}
	for i, w := range want {
		if socks[i].Queued != w.n || socks[i].QueuedMS != w.ms {
			t.Errorf("%s: Queued %d QueuedMS %d, want %d and %d", socks[i].Address, socks[i].Queued, socks[i].QueuedMS, w.n, w.ms)
		}
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
