package listeners

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// sockKey is what identifies a listening socket in a fingerprint:
// protocol, family, address (16 bytes), port and inode, in that order.
type sockKey [1 + 1 + 16 + 2 + 8]byte

// Fingerprint is a cheap summary of a namespace's listening sockets (TCP in
// LISTEN, unconnected UDP): equal fingerprints mean the same set of
// sockets, by protocol, family, address, port and inode. It says nothing
// about which processes hold them: a socket handed to another process
// keeps its inode.
type Fingerprint struct {
	// Sum is the SHA-256 of the sorted set of sockets.
	Sum [sha256.Size]byte
	// Queued is set when a TCP listener has connections waiting in its
	// accept queue: how long they have waited changes with time, not with
	// the set of sockets.
	Queued bool
	// keys are the sorted sockets, for Diff.
	keys []sockKey
}

// fingerprintOf summarises socks; their order does not matter.
func fingerprintOf(socks []snapshot.Socket) Fingerprint {
	var f Fingerprint
	f.keys = make([]sockKey, 0, len(socks))
	for _, s := range socks {
		var k sockKey
		k[0] = ipprotoUDP
		if s.Protocol == "tcp" {
			k[0] = ipprotoTCP
			if s.AcceptQueue > 0 {
				f.Queued = true
			}
		}
		k[1] = afInet
		if s.Family == snapshot.IPv6 {
			k[1] = afInet6
		}
		a := s.Address.As16()
		copy(k[2:18], a[:])
		binary.BigEndian.PutUint16(k[18:20], s.Port)
		binary.BigEndian.PutUint64(k[20:28], s.Inode)
		f.keys = append(f.keys, k)
	}
	slices.SortFunc(f.keys, func(a, b sockKey) int { return bytes.Compare(a[:], b[:]) })
	f.keys = slices.Compact(f.keys)
	h := sha256.New()
	for _, k := range f.keys {
		h.Write(k[:])
	}
	h.Sum(f.Sum[:0])
	return f
}

// Len is the number of distinct sockets in the fingerprint.
func (f Fingerprint) Len() int { return len(f.keys) }

// Diff counts the sockets in f that old lacks (added) and those in old
// that f lacks (gone).
func (f Fingerprint) Diff(old Fingerprint) (added, gone int) {
	i, j := 0, 0
	for i < len(f.keys) && j < len(old.keys) {
		switch c := bytes.Compare(f.keys[i][:], old.keys[j][:]); {
		case c < 0:
			added++
			i++
		case c > 0:
			gone++
			j++
		default:
			i++
			j++
		}
	}
	return added + len(f.keys) - i, gone + len(old.keys) - j
}
