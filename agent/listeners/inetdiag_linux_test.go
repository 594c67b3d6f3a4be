package listeners

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink/nl"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// diagMsg builds an inet_diag_msg as the kernel lays it out.
func diagMsg(family, state uint8, src string, sport, dport uint16, rqueue, wqueue, uid, inode uint32, attrs ...[]byte) []byte {
	b := make([]byte, sizeofInetDiagMsg)
	b[0], b[1] = family, state
	binary.BigEndian.PutUint16(b[4:], sport)
	binary.BigEndian.PutUint16(b[6:], dport)
	a := netip.MustParseAddr(src)
	if a.Is4() {
		a4 := a.As4()
		copy(b[8:], a4[:])
	} else {
		a16 := a.As16()
		copy(b[8:], a16[:])
	}
	binary.BigEndian.PutUint32(b[24:], 0x0a000001) // a destination, ignored
	binary.NativeEndian.PutUint32(b[52:], 1234)    // idiag_expires, ignored
	binary.NativeEndian.PutUint32(b[56:], rqueue)
	binary.NativeEndian.PutUint32(b[60:], wqueue)
	binary.NativeEndian.PutUint32(b[64:], uid)
	binary.NativeEndian.PutUint32(b[68:], inode)
	for _, at := range attrs {
		b = append(b, at...)
	}
	return b
}

// rtattr builds one attribute, padded to 4 bytes.
func rtattr(typ uint16, data ...byte) []byte {
	b := make([]byte, 4, 4+len(data)+3)
	binary.NativeEndian.PutUint16(b[0:], uint16(4+len(data)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

const (
	inetDiagShutdown = 8
	inetDiagCgroupID = 21
)

func TestParseInetDiag(t *testing.T) {
	shutdown := rtattr(inetDiagShutdown, 0)
	cgroupID := rtattr(inetDiagCgroupID, 1, 2, 3, 4, 5, 6, 7, 8)
	tests := []struct {
		name     string
		protocol string
		msg      []byte
		want     snapshot.Socket
		keep     bool
		err      string
	}{
		{
			name: "tcp4 listener with queue", protocol: "tcp",
			msg:  diagMsg(afInet, tcpListen, "127.0.0.1", 8080, 0, 3, 2, 1000, 4242, shutdown),
			want: snapshot.Socket{Protocol: "tcp", Family: snapshot.IPv4, Address: netip.MustParseAddr("127.0.0.1"), Port: 8080, UID: 1000, Inode: 4242, AcceptQueue: 3, Backlog: 2},
			keep: true,
		},
		{
			name: "tcp6 v6only after other attributes", protocol: "tcp",
			msg:  diagMsg(afInet6, tcpListen, "::", 443, 0, 0, 4096, 0, 7, shutdown, cgroupID, rtattr(inetDiagSKV6Only, 1)),
			want: snapshot.Socket{Protocol: "tcp", Family: snapshot.IPv6, Address: netip.MustParseAddr("::"), Port: 443, Inode: 7, Backlog: 4096, V6Only: true},
			keep: true,
		},
		{
			name: "tcp6 dual-stack", protocol: "tcp",
			msg:  diagMsg(afInet6, tcpListen, "::", 9000, 0, 0, 128, 0, 8, shutdown, rtattr(inetDiagSKV6Only, 0)),
			want: snapshot.Socket{Protocol: "tcp", Family: snapshot.IPv6, Address: netip.MustParseAddr("::"), Port: 9000, Inode: 8, Backlog: 128},
			keep: true,
		},
		{
			name: "tcp6 on a v4-mapped address", protocol: "tcp",
			msg:  diagMsg(afInet6, tcpListen, "::ffff:10.0.0.1", 22, 0, 0, 128, 0, 9, rtattr(inetDiagSKV6Only, 0)),
			want: snapshot.Socket{Protocol: "tcp", Family: snapshot.IPv6, Address: netip.MustParseAddr("::ffff:10.0.0.1"), Port: 22, Inode: 9, Backlog: 128},
			keep: true,
		},
		{
			name: "tcp not listening is dropped", protocol: "tcp",
			msg:  diagMsg(afInet, 1 /* ESTABLISHED */, "10.0.0.1", 22, 51000, 0, 0, 0, 10),
			keep: false,
		},
		{
			name: "udp unconnected keeps no queues", protocol: "udp",
			msg:  diagMsg(afInet6, 7 /* CLOSE */, "::1", 5353, 0, 512, 768, 101, 11, rtattr(inetDiagSKV6Only, 1)),
			want: snapshot.Socket{Protocol: "udp", Family: snapshot.IPv6, Address: netip.MustParseAddr("::1"), Port: 5353, UID: 101, Inode: 11, V6Only: true},
			keep: true,
		},
		{
			name: "udp connected is dropped", protocol: "udp",
			msg:  diagMsg(afInet, 1, "10.0.0.2", 40000, 53, 0, 0, 0, 12),
			keep: false,
		},
		{
			name: "attribute with flag bits", protocol: "tcp",
			msg:  diagMsg(afInet6, tcpListen, "::", 1, 0, 0, 1, 0, 13, rtattr(inetDiagSKV6Only|0x8000, 1)),
			want: snapshot.Socket{Protocol: "tcp", Family: snapshot.IPv6, Address: netip.MustParseAddr("::"), Port: 1, Inode: 13, Backlog: 1, V6Only: true},
			keep: true,
		},
		{name: "short message", protocol: "tcp", msg: make([]byte, 40), err: "40 bytes"},
		{name: "empty message", protocol: "udp", msg: nil, err: "0 bytes"},
		{
			name: "bad family", protocol: "tcp",
			msg: func() []byte {
				m := diagMsg(afInet, tcpListen, "1.2.3.4", 1, 0, 0, 0, 0, 1)
				m[0] = 17
				return m
			}(),
			err: "unknown family 17",
		},
		{
			name: "attribute longer than message", protocol: "tcp",
			msg: func() []byte {
				m := diagMsg(afInet6, tcpListen, "::", 1, 0, 0, 0, 0, 1, rtattr(inetDiagSKV6Only, 1))
				binary.NativeEndian.PutUint16(m[sizeofInetDiagMsg:], 200)
				return m
			}(),
			err: "length 200",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, keep, err := parseInetDiag(tt.protocol, tt.msg)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if keep != tt.keep {
				t.Fatalf("keep = %v, want %v", keep, tt.keep)
			}
			if keep && got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestInetDiagReqSerialize(t *testing.T) {
	r := &inetDiagReq{family: afInet6, protocol: ipprotoTCP, states: statesListen}
	b := r.Serialize()
	if len(b) != r.Len() || r.Len() != 56 {
		t.Fatalf("len %d, Len() %d, want 56", len(b), r.Len())
	}
	if b[0] != 10 || b[1] != 6 || b[2] != 0 || b[3] != 0 {
		t.Errorf("header bytes %v", b[:4])
	}
	if got := binary.NativeEndian.Uint32(b[4:8]); got != 1<<10 {
		t.Errorf("states = %#x, want %#x", got, 1<<10)
	}
	for i, c := range b[8:] {
		if c != 0 {
			t.Fatalf("socket id byte %d = %d, want 0 (no filter)", i, c)
		}
	}
}

func TestDumpRetry(t *testing.T) {
	sock := func(port uint16) []snapshot.Socket { return []snapshot.Socket{{Port: port}} }
	tests := []struct {
		name       string
		interrupts int // attempts interrupted before one completes
		failWith   error
		wantCalls  int
		wantPort   uint16
		wantErr    error
	}{
		{name: "clean", interrupts: 0, wantCalls: 1, wantPort: 1},
		{name: "interrupted once", interrupts: 1, wantCalls: 2, wantPort: 2},
		{name: "interrupted three times", interrupts: 3, wantCalls: 4, wantPort: 4},
		{name: "always interrupted", interrupts: 100, wantCalls: 4, wantPort: 4, wantErr: errInterrupted},
		{name: "other error", failWith: errors.New("boom"), wantCalls: 1, wantErr: errors.New("boom")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			got, err := dumpRetry(func() ([]snapshot.Socket, error) {
				calls++
				if tt.failWith != nil {
					return nil, tt.failWith
				}
				if calls <= tt.interrupts {
					return sock(uint16(calls)), nl.ErrDumpInterrupted
				}
				return sock(uint16(calls)), nil
			})
			if calls != tt.wantCalls {
				t.Errorf("%d attempts, want %d", calls, tt.wantCalls)
			}
			if (err == nil) != (tt.wantErr == nil) || err != nil && err.Error() != tt.wantErr.Error() {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantPort != 0 && (len(got) != 1 || got[0].Port != tt.wantPort) {
				t.Errorf("got %+v, want the sockets of attempt %d", got, tt.wantPort)
			}
		})
	}
}
