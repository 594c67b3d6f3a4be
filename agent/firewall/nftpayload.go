package firewall

import (
	"fmt"

	"github.com/google/nftables/expr"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// hdrField is one field of a protocol header, in whole bytes: a payload
// load is matched against these by its offset and length. match is the
// model's field when the simulator knows the packet's value; chance says
// the value changes from packet to packet (checksums, sequence numbers);
// otherwise the sender chose it, and a compare on it may match
// (snapshot.MayPayload).
type hdrField struct {
	name     string
	off, len uint32
	match    string
	chance   bool
}

// Header layouts, as nft names their fields (bit fields are given by the
// bytes that hold them).
var (
	ipv4Header = []hdrField{{"ip version/hdrlength", 0, 1, "", false}, {"ip dscp/ecn", 1, 1, "tos", false}, {"ip length", 2, 2, "length", false},
		{"ip id", 4, 2, "", true}, {"ip frag-off", 6, 2, "frag_off", false}, {"ip ttl", 8, 1, "ttl", false}, {"ip protocol", 9, 1, "l4proto", false},
		{"ip checksum", 10, 2, "", true}, {"ip saddr", 12, 4, "saddr", false}, {"ip daddr", 16, 4, "daddr", false}}
	ipv6Header = []hdrField{{"ip6 version/dscp/ecn/flowlabel", 0, 4, "", false}, {"ip6 length", 4, 2, "", false},
		{"ip6 nexthdr", 6, 1, "l4proto", false}, {"ip6 hoplimit", 7, 1, "ttl", false}, {"ip6 saddr", 8, 16, "saddr", false}, {"ip6 daddr", 24, 16, "daddr", false}}
	portsHeader = []hdrField{{"th sport", 0, 2, "sport", false}, {"th dport", 2, 2, "dport", false}}
	transport   = map[string][]hdrField{
		"tcp": {{"tcp sport", 0, 2, "sport", false}, {"tcp dport", 2, 2, "dport", false}, {"tcp sequence", 4, 4, "", true}, {"tcp ackseq", 8, 4, "", true},
			{"tcp doff", 12, 1, "", false}, {"tcp flags", 13, 1, "tcp_flags", false}, {"tcp window", 14, 2, "", false}, {"tcp checksum", 16, 2, "", true}, {"tcp urgptr", 18, 2, "", false}},
		"udp":     {{"udp sport", 0, 2, "sport", false}, {"udp dport", 2, 2, "dport", false}, {"udp length", 4, 2, "", false}, {"udp checksum", 6, 2, "", true}},
		"udplite": {{"udplite sport", 0, 2, "sport", false}, {"udplite dport", 2, 2, "dport", false}, {"udplite csumcov", 4, 2, "", false}, {"udplite checksum", 6, 2, "", true}},
		"sctp":    {{"sctp sport", 0, 2, "sport", false}, {"sctp dport", 2, 2, "dport", false}, {"sctp vtag", 4, 4, "", false}, {"sctp checksum", 8, 4, "", true}},
		"dccp": {{"dccp sport", 0, 2, "sport", false}, {"dccp dport", 2, 2, "dport", false}, {"dccp doff", 4, 1, "", false}, {"dccp ccval/cscov", 5, 1, "", false},
			{"dccp checksum", 6, 2, "", true}, {"dccp type", 8, 1, "", false}},
		"icmp": {{"icmp type", 0, 1, "icmp_type", false}, {"icmp code", 1, 1, "icmp_code", false}, {"icmp checksum", 2, 2, "", true},
			{"icmp id", 4, 2, "", false}, {"icmp sequence", 6, 2, "", false}},
		"icmpv6": {{"icmpv6 type", 0, 1, "icmp_type", false}, {"icmpv6 code", 1, 1, "icmp_code", false}, {"icmpv6 checksum", 2, 2, "", true},
			{"icmpv6 id", 4, 2, "", false}, {"icmpv6 sequence", 6, 2, "", false}},
		"igmp": {{"igmp type", 0, 1, "", false}, {"igmp mrt", 1, 1, "", false}, {"igmp checksum", 2, 2, "", true}, {"igmp group", 4, 4, "", false}},
		"ah": {{"ah nexthdr", 0, 1, "", false}, {"ah hdrlength", 1, 1, "", false}, {"ah reserved", 2, 2, "", false}, {"ah spi", 4, 4, "", false},
			{"ah sequence", 8, 4, "", true}},
		"esp": {{"esp spi", 0, 4, "", false}, {"esp sequence", 4, 4, "", true}},
		"108": {{"comp nexthdr", 0, 1, "", false}, {"comp flags", 1, 1, "", false}, {"comp cpi", 2, 2, "", false}},
	}
)

// payload names the packet fields a payload load reads. A load of exactly
// one field is that field; a load of several whole fields (nft merges the
// compares of adjacent fields into one load) keeps them as parts that a
// compare splits; the first bytes of an address are a prefix; anything else
// is read as no field at all, never as a neighbour.
func (d *decoder) payload(e *expr.Payload) regVal {
	var layout []hdrField
	var where string
	switch e.Base {
	case expr.PayloadBaseNetworkHeader:
		where = "network header"
		switch d.l3 {
		case "ipv4":
			layout = ipv4Header
		case "ipv6":
			layout = ipv6Header
		}
	case expr.PayloadBaseTransportHeader:
		where = "transport header"
		layout = transport[d.l4]
		if d.l4 == "" {
			layout = portsHeader
		}
	default:
		// Outside bridge and netdev tables, the addresses of the last
		// hop's link layer (none on output: the rule then breaks).
		return regVal{field: snapshot.FieldMayMatch, reason: fmt.Sprintf("%slink-layer header bytes %d-%d: the last hop's addresses and type", snapshot.MayPayload, e.Offset, e.Offset+e.Len-1)}
	}
	end := e.Offset + e.Len
	var parts []hdrField
	for _, f := range layout {
		switch {
		case f.off == e.Offset && f.len == e.Len:
			return fieldVal(f, d.l3)
		case f.match == "saddr" || f.match == "daddr":
			// A prefix: the address's first bytes.
			if f.off == e.Offset && e.Len < f.len {
				return regVal{field: f.match, size: int(e.Len), l3: d.l3}
			}
		}
		if f.off >= e.Offset && f.off+f.len <= end {
			parts = append(parts, f)
		}
	}
	for _, f := range layout {
		// Part of one field the simulator has no value for (ip6 dscp
		// in the version/dscp/ecn/flowlabel word): that field's outcome.
		if f.match == "" && f.off <= e.Offset && end <= f.off+f.len {
			return fieldVal(f, d.l3)
		}
	}
	covered := uint32(0)
	for _, f := range parts {
		covered += f.len
	}
	if len(parts) > 1 && covered == e.Len && parts[0].off == e.Offset {
		return regVal{field: "merged", size: int(e.Len), parts: parts, l3: d.l3, reason: fmt.Sprintf("%d fields loaded together", len(parts))}
	}
	proto := d.l4
	if e.Base == expr.PayloadBaseNetworkHeader {
		proto = d.l3
	}
	if proto == "" {
		proto = "unknown protocol"
	}
	return regVal{field: "unknown", reason: fmt.Sprintf("%s bytes %d-%d of %s", where, e.Offset, end-1, proto)}
}

// fieldVal is the register value of a load of exactly the field f.
func fieldVal(f hdrField, l3 string) regVal {
	switch {
	case f.match != "":
		return regVal{field: f.match, size: int(f.len), l3: l3}
	case f.chance:
		return regVal{field: snapshot.FieldMayMatch, size: int(f.len), reason: snapshot.MayChance + f.name + " differs from packet to packet"}
	}
	return regVal{field: snapshot.FieldMayMatch, size: int(f.len), reason: snapshot.MayPayload + f.name + ": a value the sender chose"}
}

// cmpMerged decides an equality compare of a load that spans several
// fields: each field equals its slice of the data. Other compares of such
// loads are not decoded.
func (d *decoder) cmpMerged(v regVal, op expr.CmpOp, data []byte) {
	if op != expr.CmpOpEq || len(data) < v.size {
		d.undecided(regVal{field: "unknown", reason: "compare other than equality of " + partNames(v.parts)}, false)
		return
	}
	base := v.parts[0].off
	for _, f := range v.parts {
		pv := fieldVal(f, v.l3)
		lo, hi := f.off-base, f.off-base+f.len
		if v.mask != nil {
			if int(hi) > len(v.mask) {
				d.undecided(regVal{field: "unknown", reason: "mask shorter than " + partNames(v.parts)}, false)
				return
			}
			pv.mask = v.mask[lo:hi]
		}
		d.cmp(pv, op, data[lo:hi])
	}
}

func partNames(parts []hdrField) string {
	s := ""
	for i, f := range parts {
		if i > 0 {
			s += " . "
		}
		s += f.name
	}
	return s
}
