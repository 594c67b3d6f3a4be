package listeners

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// TestFingerprint checks that the fingerprint does not depend on the order
// the kernel lists the sockets in, that it changes with any part of a
// socket's identity, and that Diff counts what came and went.
func TestFingerprint(t *testing.T) {
	socks := []snapshot.Socket{
		{Protocol: "tcp", Family: snapshot.IPv4, Address: netip.MustParseAddr("0.0.0.0"), Port: 22, Inode: 100},
		{Protocol: "tcp", Family: snapshot.IPv6, Address: netip.MustParseAddr("::"), Port: 22, Inode: 101},
		{Protocol: "udp", Family: snapshot.IPv4, Address: netip.MustParseAddr("127.0.0.1"), Port: 53, Inode: 102},
		{Protocol: "tcp", Family: snapshot.IPv4, Address: netip.MustParseAddr("127.0.0.1"), Port: 53, Inode: 103},
	}
	base := fingerprintOf(socks)
	rev := slices.Clone(socks)
	slices.Reverse(rev)
	rot := append(slices.Clone(socks[2:]), socks[:2]...)
	for _, order := range [][]snapshot.Socket{rev, rot} {
		if f := fingerprintOf(order); f.Sum != base.Sum {
			t.Errorf("another order gives another fingerprint")
		}
	}
	if a, g := fingerprintOf(rev).Diff(base); a != 0 || g != 0 {
		t.Errorf("same set: %d new, %d gone", a, g)
	}
	if base.Queued {
		t.Error("queued without any waiting connection")
	}
	for name, change := range map[string]func(*snapshot.Socket){
		"protocol": func(s *snapshot.Socket) { s.Protocol = "udp" },
		"family":   func(s *snapshot.Socket) { s.Family = snapshot.IPv6 },
		"address":  func(s *snapshot.Socket) { s.Address = netip.MustParseAddr("10.0.0.1") },
		"port":     func(s *snapshot.Socket) { s.Port = 2222 },
		"inode":    func(s *snapshot.Socket) { s.Inode = 999 },
	} {
		c := slices.Clone(socks)
		change(&c[0])
		f := fingerprintOf(c)
		if f.Sum == base.Sum {
			t.Errorf("a changed %s gives the same fingerprint", name)
		}
		if a, g := f.Diff(base); a != 1 || g != 1 {
			t.Errorf("changed %s: %d new, %d gone; want 1 and 1", name, a, g)
		}
	}
	more := append(slices.Clone(socks[1:]), snapshot.Socket{Protocol: "udp", Family: snapshot.IPv6, Address: netip.MustParseAddr("::1"), Port: 5353, Inode: 104},
		snapshot.Socket{Protocol: "udp", Family: snapshot.IPv6, Address: netip.MustParseAddr("::1"), Port: 5354, Inode: 105})
	if a, g := fingerprintOf(more).Diff(base); a != 2 || g != 1 {
		t.Errorf("two opened, one closed: %d new, %d gone", a, g)
	}
	q := slices.Clone(socks)
	q[3].AcceptQueue = 1
	if f := fingerprintOf(q); !f.Queued || f.Sum != base.Sum {
		t.Errorf("a waiting connection: queued %v, same sum %v; want true, true", f.Queued, f.Sum == base.Sum)
	}
	if f := fingerprintOf(nil); f.Len() != 0 || f.Sum == base.Sum {
		t.Error("no sockets: want an empty fingerprint of its own")
	}
}
