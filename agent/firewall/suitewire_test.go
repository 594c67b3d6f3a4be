package firewall

import (
	"encoding/binary"
	"hash/crc32"
	"net/netip"

	"github.com/hostdrift/hostdrift/internal/netfilter"
)

// A wire probe is the first packet of a flow as the suite differential
// sends it: whole IPv4 or IPv6 packets through a raw socket (IPPROTO_RAW),
// so that any source, protocol, port and ICMP type can be sent from the
// host under test, and the OUTPUT hook's verdict is the send's own result.

// icmpKind is an ICMP type the probes carry: its name as the simulator
// takes it, its numbers on the wire, and the conntrack state the kernel
// gives it when it starts nothing (a request is new; a reply or an error
// with no connection behind it is invalid; neighbour discovery and MLD are
// untracked).
type icmpKind struct {
	name       string
	typ, code  uint8
	ctState    string
	protocolV6 bool
}

var icmpKinds = []icmpKind{
	{name: "echo-request", typ: 8, ctState: "new"},
	{name: "echo-reply", typ: 0, ctState: "invalid"},
	{name: "timestamp-request", typ: 13, ctState: "new"},
	{name: "router-solicitation", typ: 10, ctState: "invalid"},
	{name: "destination-unreachable", typ: 3, code: 3, ctState: "invalid"},
	{name: "time-exceeded", typ: 11, ctState: "invalid"},
	{name: "echo-request", typ: 128, ctState: "new", protocolV6: true},
	{name: "echo-reply", typ: 129, ctState: "invalid", protocolV6: true},
	{name: "nd-neighbor-solicit", typ: 135, ctState: "untracked", protocolV6: true},
	{name: "nd-router-advert", typ: 134, ctState: "untracked", protocolV6: true},
	{name: "destination-unreachable", typ: 1, code: 4, ctState: "invalid", protocolV6: true},
	{name: "packet-too-big", typ: 2, ctState: "invalid", protocolV6: true},
}

// icmpKindOf returns the wire numbers of a probe's ICMP type name.
func icmpKindOf(proto, name string) icmpKind {
	for _, k := range icmpKinds {
		if k.name == name && k.protocolV6 == (proto == "icmpv6") {
			return k
		}
	}
	panic("no icmp kind " + proto + " " + name)
}

var protoNumbers = map[string]uint8{"icmp": 1, "tcp": 6, "udp": 17, "dccp": 33, "esp": 50, "ah": 51, "icmpv6": 58, "sctp": 132, "udplite": 136}

// wirePacket builds the packet pk describes: a TCP SYN with no options, a
// UDP or UDP-Lite datagram, an SCTP INIT, a DCCP Request, an ESP or AH
// packet, or an ICMP message of pk.ICMPType; id makes
// its sequence numbers, tags and ICMP identifier its own.
func wirePacket(pk netfilter.Packet, id uint16) []byte {
	var l4 []byte
	proto := protoNumbers[pk.Protocol]
	switch pk.Protocol {
	case "tcp":
		l4 = make([]byte, 20)
		binary.BigEndian.PutUint16(l4[0:], pk.SrcPort)
		binary.BigEndian.PutUint16(l4[2:], pk.DstPort)
		binary.BigEndian.PutUint32(l4[4:], uint32(id)<<16|1)
		l4[12] = 5 << 4
		l4[13] = 0x02 // SYN alone
		binary.BigEndian.PutUint16(l4[14:], 64240)
	case "udp":
		l4 = make([]byte, 10)
		binary.BigEndian.PutUint16(l4[0:], pk.SrcPort)
		binary.BigEndian.PutUint16(l4[2:], pk.DstPort)
		binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
		copy(l4[8:], "hd")
	case "udplite":
		l4 = make([]byte, 10)
		binary.BigEndian.PutUint16(l4[0:], pk.SrcPort)
		binary.BigEndian.PutUint16(l4[2:], pk.DstPort)
		binary.BigEndian.PutUint16(l4[4:], uint16(len(l4))) // checksum coverage: all
		copy(l4[8:], "hd")
	case "dccp":
		l4 = make([]byte, 20) // a Request with extended sequence numbers
		binary.BigEndian.PutUint16(l4[0:], pk.SrcPort)
		binary.BigEndian.PutUint16(l4[2:], pk.DstPort)
		l4[4] = 5 // data offset, in words
		l4[8] = 0<<1 | 1
		binary.BigEndian.PutUint32(l4[12:], uint32(id))
		binary.BigEndian.PutUint32(l4[16:], 42) // service code
	case "esp":
		l4 = make([]byte, 16)
		binary.BigEndian.PutUint32(l4[0:], 0x10000|uint32(id)) // SPI
		binary.BigEndian.PutUint32(l4[4:], 1)
	case "ah":
		l4 = make([]byte, 24)
		l4[0], l4[1] = 59, 4                                   // no next header; length in words, less 2
		binary.BigEndian.PutUint32(l4[4:], 0x10000|uint32(id)) // SPI
		binary.BigEndian.PutUint32(l4[8:], 1)
	case "sctp":
		l4 = make([]byte, 32)
		binary.BigEndian.PutUint16(l4[0:], pk.SrcPort)
		binary.BigEndian.PutUint16(l4[2:], pk.DstPort)
		c := l4[12:]
		c[0] = 1 // INIT, verification tag 0
		binary.BigEndian.PutUint16(c[2:], 20)
		binary.BigEndian.PutUint32(c[4:], uint32(id)|0x10000) // initiate tag, never 0
		binary.BigEndian.PutUint32(c[8:], 65535)              // a_rwnd
		binary.BigEndian.PutUint16(c[12:], 10)                // outbound streams
		binary.BigEndian.PutUint16(c[14:], 10)                // inbound streams
		binary.BigEndian.PutUint32(c[16:], 1)                 // initial TSN
		binary.LittleEndian.PutUint32(l4[8:], crc32.Checksum(l4, crc32.MakeTable(crc32.Castagnoli)))
	case "icmp", "icmpv6":
		k := icmpKindOf(pk.Protocol, pk.ICMPType)
		l4 = make([]byte, 12)
		l4[0], l4[1] = k.typ, k.code
		binary.BigEndian.PutUint16(l4[4:], id)
		binary.BigEndian.PutUint16(l4[6:], 1)
	default:
		panic("no wire form for protocol " + pk.Protocol)
	}
	if off, ok := map[string]int{"tcp": 16, "udp": 6, "udplite": 6, "dccp": 6, "icmp": 2, "icmpv6": 2}[pk.Protocol]; ok {
		var sum uint32
		if pk.Protocol != "icmp" { // the others' checksums cover a pseudo-header
			sum = pseudoSum(pk.Src, pk.Dst, proto, len(l4))
		}
		csum := ^fold(sum + rawSum(l4))
		binary.BigEndian.PutUint16(l4[off:], csum)
	}
	if pk.Dst.Is4() {
		h := make([]byte, 20, 20+len(l4))
		h[0] = 0x45
		binary.BigEndian.PutUint16(h[2:], uint16(20+len(l4)))
		binary.BigEndian.PutUint16(h[4:], id)
		h[8], h[9] = 64, proto
		s, d := pk.Src.As4(), pk.Dst.As4()
		copy(h[12:], s[:])
		copy(h[16:], d[:])
		binary.BigEndian.PutUint16(h[10:], ^fold(rawSum(h)))
		return append(h, l4...)
	}
	h := make([]byte, 40, 40+len(l4))
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(l4)))
	h[6], h[7] = proto, 64
	s, d := pk.Src.As16(), pk.Dst.As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return append(h, l4...)
}

func pseudoSum(src, dst netip.Addr, proto uint8, n int) uint32 {
	var b []byte
	b = append(b, src.AsSlice()...)
	b = append(b, dst.AsSlice()...)
	b = append(b, 0, proto, byte(n>>8), byte(n))
	return rawSum(b)
}

func rawSum(b []byte) uint32 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	return sum
}

func fold(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}
