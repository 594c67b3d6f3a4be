package listeners

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"strconv"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// parseProcNet reads one of /proc/net/{tcp,tcp6,udp,udp6} and returns its
// listening TCP sockets (state 0A) or its bound, unconnected UDP sockets
// (remote port 0). procfs does not show v6only or the listen backlog: V6Only
// and Backlog are left false and zero.
func parseProcNet(r io.Reader, protocol string, family snapshot.Family) ([]snapshot.Socket, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	var out []snapshot.Socket
	var fields [][]byte
	line := 0
	for sc.Scan() {
		line++
		if line == 1 {
			continue // sl local_address rem_address st tx_queue rx_queue ...
		}
		fields = splitFields(sc.Bytes(), fields[:0])
		if len(fields) == 0 {
			continue
		}
		// 0:sl 1:local 2:remote 3:st 4:tx:rx 5:tr:when 6:retrnsmt 7:uid 8:timeout 9:inode
		if len(fields) < 10 {
			return nil, fmt.Errorf("line %d: %d fields, want at least 10", line, len(fields))
		}
		st, err := strconv.ParseUint(string(fields[3]), 16, 8)
		if err != nil {
			return nil, fmt.Errorf("line %d: state %q: %w", line, fields[3], err)
		}
		if protocol == "tcp" && st != tcpListen {
			continue
		}
		addr, port, err := parseHexAddrPort(fields[1], family)
		if err != nil {
			return nil, fmt.Errorf("line %d: local address: %w", line, err)
		}
		_, rport, err := parseHexAddrPort(fields[2], family)
		if err != nil {
			return nil, fmt.Errorf("line %d: remote address: %w", line, err)
		}
		if protocol == "udp" && (rport != 0 || port == 0) {
			continue
		}
		_, rx, ok := bytes.Cut(fields[4], []byte(":"))
		if !ok {
			return nil, fmt.Errorf("line %d: queues %q: want tx:rx", line, fields[4])
		}
		rxq, err := strconv.ParseUint(string(rx), 16, 32)
		if err != nil {
			return nil, fmt.Errorf("line %d: rx_queue %q: %w", line, rx, err)
		}
		uid, err := strconv.ParseUint(string(fields[7]), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("line %d: uid %q: %w", line, fields[7], err)
		}
		inode, err := strconv.ParseUint(string(fields[9]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: inode %q: %w", line, fields[9], err)
		}
		s := snapshot.Socket{
			Protocol: protocol,
			Family:   family,
			Address:  addr,
			Port:     port,
			Inode:    inode,
			UID:      uint32(uid),
		}
		if protocol == "tcp" {
			// For a listener rx_queue is the accept queue's length; tx_queue
			// is 0 and the backlog is not shown.
			s.AcceptQueue = uint32(rxq)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// splitFields splits a line on blanks without allocating new strings.
func splitFields(b []byte, out [][]byte) [][]byte {
	start := -1
	for i, c := range b {
		if c == ' ' || c == '\t' {
			if start >= 0 {
				out = append(out, b[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, b[start:])
	}
	return out
}

// parseHexAddrPort decodes procfs's ADDR:PORT. The port is big-endian hex;
// the address is printed as 32-bit words in host byte order (one word for
// IPv4, four for IPv6), so on little-endian hosts each word's bytes come
// reversed: 127.0.0.1 is 0100007F and ::1 is 00000000000000000000000001000000.
func parseHexAddrPort(b []byte, family snapshot.Family) (netip.Addr, uint16, error) {
	a, p, ok := bytes.Cut(b, []byte(":"))
	if !ok {
		return netip.Addr{}, 0, fmt.Errorf("%q: want ADDR:PORT", b)
	}
	port, err := strconv.ParseUint(string(p), 16, 16)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("port %q: %w", p, err)
	}
	want := 8
	if family == snapshot.IPv6 {
		want = 32
	}
	if len(a) != want {
		return netip.Addr{}, 0, fmt.Errorf("address %q: want %d hex digits", a, want)
	}
	var raw [16]byte
	for i := 0; i < len(a)/8; i++ {
		w, err := strconv.ParseUint(string(a[i*8:i*8+8]), 16, 32)
		if err != nil {
			return netip.Addr{}, 0, fmt.Errorf("address %q: %w", a, err)
		}
		binary.NativeEndian.PutUint32(raw[i*4:], uint32(w))
	}
	if family == snapshot.IPv4 {
		return netip.AddrFrom4([4]byte(raw[:4])), uint16(port), nil
	}
	return netip.AddrFrom16(raw), uint16(port), nil
}
