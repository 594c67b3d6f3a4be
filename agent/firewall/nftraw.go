package firewall

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// rawAttrs reads an expression's attributes: type to data. nil when they
// are malformed.
func rawAttrs(b []byte) map[uint16][]byte {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil
	}
	out := map[uint16][]byte{}
	for ad.Next() {
		out[ad.Type()] = ad.Bytes()
	}
	if ad.Err() != nil {
		return nil
	}
	return out
}

// u32Attr is a big-endian 32-bit attribute, false when absent or of
// another size.
func u32Attr(a map[uint16][]byte, t uint16) (uint32, bool) {
	v, ok := a[t]
	if !ok || len(v) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(v), true
}

// Attribute numbers of the expressions google/nftables does not decode
// (linux/netfilter/nf_tables.h).
const (
	byteorderSreg, byteorderDreg = unix.NFTA_BYTEORDER_SREG, unix.NFTA_BYTEORDER_DREG
	rtDreg, rtKey                = unix.NFTA_RT_DREG, unix.NFTA_RT_KEY
	socketKey, socketDreg        = 1, 2 // NFTA_SOCKET_*, missing from x/sys
	ctDreg, ctKey, ctDirection   = unix.NFTA_CT_DREG, unix.NFTA_CT_KEY, unix.NFTA_CT_DIRECTION
	xfrmDreg                     = 1 // NFTA_XFRM_DREG
	osfDreg                      = 1 // NFTA_OSF_DREG
)

// rawExpr decodes, from its attributes, an expression google/nftables
// cannot: byteorder, rt, socket, ct with a direction, xfrm (ipsec), osf,
// tproxy and dup. False when the expression is none of these or its
// attributes are not understood.
func (d *decoder) rawExpr(x Expr) bool {
	a := rawAttrs(x.Raw)
	if a == nil {
		return false
	}
	switch x.Name {
	case "byteorder":
		// The value converted to network order, for a range or a set:
		// the same field, whose compares the decoder reads in that order
		// only for the fields that undecided leaves alone.
		src, ok1 := u32Attr(a, byteorderSreg)
		dst, ok2 := u32Attr(a, byteorderDreg)
		if !ok1 || !ok2 {
			return false
		}
		v := d.get(src)
		switch v.field {
		case snapshot.FieldMayMatch, "unknown":
		case "iif_index", "oif_index", "iif_type", "oif_type", "iif_group", "oif_group", "priority", "mark", "ct_mark":
			v.netOrder = true
		default:
			v = regVal{field: "unknown", reason: "byte order of " + v.field + " converted"}
		}
		d.set(dst, v)
		return true
	case "rt":
		key, ok1 := u32Attr(a, rtKey)
		dst, ok2 := u32Attr(a, rtDreg)
		if !ok1 || !ok2 {
			return false
		}
		switch key {
		case 4: // NFT_RT_XFRM: "rt ipsec exists|missing"
			d.set(dst, regVal{field: "xfrm_route", size: 1})
		default:
			d.set(dst, regVal{field: "unknown", reason: fmt.Sprintf("rt key %d (the route's class, next hop or mtu)", key)})
		}
		return true
	case "socket":
		key, ok1 := u32Attr(a, socketKey)
		dst, ok2 := u32Attr(a, socketDreg)
		if !ok1 || !ok2 {
			return false
		}
		d.set(dst, regVal{field: snapshot.FieldMayMatch, reason: fmt.Sprintf("%ssocket key %d: the local socket that takes the packet", snapshot.MayProcess, key)})
		return true
	case "ct":
		return d.rawCt(a)
	case "xfrm":
		// "ipsec in|out ...": a packet without IPsec state breaks the
		// rule, whatever the compare.
		dst, ok := u32Attr(a, xfrmDreg)
		if !ok {
			return false
		}
		d.assume(false, "the packet has no IPsec state (ipsec expression)")
		d.set(dst, regVal{field: "header_field", reason: "ipsec state"})
		return true
	case "osf":
		dst, ok := u32Attr(a, osfDreg)
		if !ok {
			return false
		}
		d.set(dst, regVal{field: snapshot.FieldMayMatch, reason: snapshot.MayPayload + "osf: the sender's operating system, from its SYN's options"})
		return true
	case "tproxy":
		d.mayMatch(false, snapshot.MayProcess+"tproxy: whether a local transparent socket takes the packet")
		d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "tproxy"})
		return true
	case "dup":
		d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "dup"})
		return true
	}
	return false
}

// ctOrigFields are the ct keys of the original direction the model has,
// for a connection's first packet.
var ctOrigFields = map[uint32]string{
	unix.NFT_CT_SRC: "ct_orig_saddr", unix.NFT_CT_SRC_IP: "ct_orig_saddr", unix.NFT_CT_SRC_IP6: "ct_orig_saddr",
	unix.NFT_CT_DST: "ct_orig_daddr", unix.NFT_CT_DST_IP: "ct_orig_daddr", unix.NFT_CT_DST_IP6: "ct_orig_daddr",
	unix.NFT_CT_PROTO_SRC: "ct_orig_sport", unix.NFT_CT_PROTO_DST: "ct_orig_dport",
}

// rawCt decodes a ct load with a direction ("ct original saddr"), whose
// one-byte direction google/nftables fails to read.
func (d *decoder) rawCt(a map[uint16][]byte) bool {
	key, ok1 := u32Attr(a, ctKey)
	if _, set := u32Attr(a, unix.NFTA_CT_SREG); set && ok1 && key == unix.NFT_CT_ZONE {
		// "ct original zone set 1": the zone of new connections.
		d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "ct_zone"})
		return true
	}
	dst, ok2 := u32Attr(a, ctDreg)
	dir, ok3 := a[ctDirection]
	if !ok1 || !ok2 || !ok3 || len(dir) != 1 {
		return false
	}
	switch expr.CtKey(key) {
	case expr.CtKeyPKTS, expr.CtKeyBYTES, expr.CtKeyAVGPKT:
		d.set(dst, ctUndecided(expr.CtKey(key)))
		return true
	}
	switch key {
	case unix.NFT_CT_PROTOCOL:
		// The same in both directions.
		d.set(dst, regVal{field: "ct_proto", size: 1})
		return true
	case unix.NFT_CT_ID:
		d.set(dst, ctUndecided(expr.CtKey(key)))
		return true
	case unix.NFT_CT_HELPER:
		d.set(dst, regVal{field: "ct_helper", size: 16})
		return true
	case unix.NFT_CT_ZONE:
		// A zone of one direction: the connection's zone, 0 in both
		// unless a rule set one (the simulator knows whether one may).
		d.set(dst, regVal{field: "ct_zone", size: 2})
		return true
	}
	f, ok := ctOrigFields[key]
	if dir[0] != 0 || !ok {
		d.set(dst, regVal{field: "unknown", reason: fmt.Sprintf("ct key %d of direction %d", key, dir[0])})
		return true
	}
	v := regVal{field: f, size: 2}
	switch key {
	case unix.NFT_CT_SRC_IP, unix.NFT_CT_DST_IP:
		v.size, v.l3 = 4, "ipv4"
	case unix.NFT_CT_SRC_IP6, unix.NFT_CT_DST_IP6:
		v.size, v.l3 = 16, "ipv6"
	case unix.NFT_CT_SRC, unix.NFT_CT_DST:
		// The tuple's address, as long as the table family's.
		switch d.family {
		case "ip":
			v.size, v.l3 = 4, "ipv4"
		case "ip6":
			v.size, v.l3 = 16, "ipv6"
		default:
			v = regVal{field: "unknown", reason: "ct original address of either family"}
		}
	}
	d.set(dst, v)
	return true
}

// modelled are the match fields a packet write may change that the
// simulator reads: a write to any of them is not decoded.
var modelled = map[string]bool{"saddr": true, "daddr": true, "sport": true, "dport": true, "l4proto": true, "tcp_flags": true, "icmp_type": true, "icmp_code": true}

// payloadWrite decodes a payload write (packet mangling): an effect when it
// changes a field the simulator does not read (dscp, ttl, checksums, the
// link layer), unsupported otherwise.
func (d *decoder) payloadWrite(e *expr.Payload) {
	if e.Base == expr.PayloadBaseLLHeader {
		d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "payload_set"})
		return
	}
	v := d.payload(&expr.Payload{Base: e.Base, Offset: e.Offset, Len: e.Len})
	touched := v.field == "unknown" || modelled[v.field]
	for _, p := range v.parts {
		touched = touched || modelled[p.match]
	}
	if touched {
		d.unsupported("payload write to %s", orDefault(v.reason, v.field))
		return
	}
	d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "payload_set"})
}
