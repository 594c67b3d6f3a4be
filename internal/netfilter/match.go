package netfilter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

type tri int8

const (
	no tri = iota
	yes
	may
)

// matches decides a rule's matches, choosing a branch for undecidable ones.
func (w *walker) matches(cc *cChain, cr *cRule) bool {
	result := yes
	var reason string
	for i := range cr.matches {
		m := &cr.matches[i]
		w.cond = ""
		r, why := w.evalIn(cr, m)
		if m.neg && r != may && !selfNegating(m.f) {
			if r == yes {
				r = no
			} else {
				r = yes
			}
		}
		if w.cond != "" && r != may {
			r = boolTri(w.assume(condIn(cc, w.cond), r == yes))
		}
		if r == no {
			return false
		}
		if r == may && result == yes {
			result, reason = may, why
		}
	}
	if cr.may != "" && result == yes {
		result, reason = may, cr.may
	}
	if result == may {
		return w.choose(fmt.Sprintf("%s (chain %s, table %s %s, %s)", reason, cc.c.Name, cc.table.t.Family, cc.table.t.Name, cr.r.Text))
	}
	return true
}

// evalIn decides one match of a rule.
func (w *walker) evalIn(cr *cRule, m *cMatch) (tri, string) {
	switch m.f {
	case fHeader:
		return w.header(m)
	case fIPv6Header:
		return w.ipv6Header(m)
	case fIPv4Options:
		return w.ipv4Options(m)
	case fRecent:
		return w.recentMatch(cr, m)
	case fAssume:
		w.cond = m.reason
		return m.assumed, ""
	case fFirstChunks:
		return w.firstChunks(m)
	}
	return w.eval(m)
}

func (w *walker) eval(m *cMatch) (tri, string) {
	p := &w.p
	switch m.f {
	case fRandom:
		return may, m.reason
	case fNfproto:
		return anyStr(m.vals, w.family()), ""
	case fL4proto:
		return anyStr(m.vals, p.Protocol), ""
	case fSaddr:
		if !p.Src.IsValid() {
			return may, "source address not given"
		}
		return addrIn(m, p.Src), ""
	case fDaddr:
		return addrIn(m, p.Dst), ""
	case fSport, fDport, fPort:
		if !hasPorts(p.Protocol) {
			if m.anyProto {
				return may, "the bytes read as ports are other fields of the " + p.Protocol + " header"
			}
			return no, ""
		}
		if m.f == fPort {
			a, _ := portIn(m, p.SrcPort)
			b, _ := portIn(m, p.DstPort)
			if a == yes || b == yes {
				return yes, ""
			}
			return no, ""
		}
		port := p.DstPort
		if m.f == fSport {
			port = p.SrcPort
		}
		return portIn(m, port)
	case fIif:
		return ifaceIn(m.vals, p.InIface), ""
	case fOif:
		return ifaceIn(m.vals, p.OutIface), ""
	case fCtState:
		for _, v := range m.vals {
			if v.str == p.CtState || ((v.str == "dnat" || v.str == "snat") && w.ctStatus[v.str]) {
				return yes, ""
			}
		}
		return no, ""
	case fCtStatus:
		if p.CtState != "new" {
			return may, "ct status of an existing connection"
		}
		for _, v := range m.vals {
			if w.ctStatus[v.str] {
				return yes, ""
			}
		}
		return no, ""
	case fCtDirection:
		if p.CtState != "new" {
			return may, "ct direction of an existing connection"
		}
		return anyStr(m.vals, "original"), ""
	case fSrcType:
		if !p.Src.IsValid() {
			return may, "source address not given"
		}
		return anyStr(m.vals, w.prog.addrType(p.Src)), ""
	case fDstType:
		return anyStr(m.vals, w.prog.addrType(p.Dst)), ""
	case fIcmpType:
		if p.Protocol != "icmp" && p.Protocol != "icmpv6" {
			return no, ""
		}
		if p.ICMPType == "" {
			return may, "icmp type not given"
		}
		want := icmpNum(p.Protocol, p.ICMPType)
		code, codeKnown := icmpCode(p.Protocol, p.ICMPType)
		for _, v := range m.vals {
			if v.str != "any" && icmpNum(p.Protocol, v.str) != want {
				continue
			}
			switch {
			case v.phi == 0:
				return yes, ""
			case !codeKnown:
				return may, "icmp code of type " + p.ICMPType + " not given"
			case v.phi-1 == code:
				return yes, ""
			}
		}
		return no, ""
	case fIcmpCode:
		if p.Protocol != "icmp" && p.Protocol != "icmpv6" {
			return no, ""
		}
		code, known := icmpCode(p.Protocol, p.ICMPType)
		if !known {
			return may, "icmp code of type " + p.ICMPType + " not given"
		}
		for _, v := range m.vals {
			if v.plo == code {
				return yes, ""
			}
		}
		return no, ""
	case fEthertype:
		return anyStr(m.vals, etherType(w.family())), ""
	case fIPField:
		// Decoded exactly, but the packets hostdrift asks about carry no
		// tos, ttl or length: a peer chooses them.
		return may, "the packet's " + m.m.Field + " is not given"
	case fCtProto:
		// Both directions of a connection carry its protocol; related
		// packets (ICMP errors) belong to another's.
		if p.CtState != "new" && p.CtState != "established" {
			return may, "protocol of the connection a " + p.CtState + " packet belongs to"
		}
		return anyStr(m.vals, p.Protocol), ""
	case fCtOrigSaddr, fCtOrigDaddr, fCtOrigSport, fCtOrigDport:
		// A new connection's original tuple is its first packet as it
		// entered, before any NAT.
		if p.CtState != "new" {
			return may, "original direction of an existing connection"
		}
		o := &w.orig
		switch m.f {
		case fCtOrigSaddr:
			if !o.Src.IsValid() {
				return may, "source address not given"
			}
			return addrIn(m, o.Src), ""
		case fCtOrigDaddr:
			return addrIn(m, o.Dst), ""
		}
		if !hasPorts(o.Protocol) {
			return may, "the connection's tuple of a " + o.Protocol + " packet has no ports"
		}
		if m.f == fCtOrigSport {
			return portIn(m, o.SrcPort)
		}
		return portIn(m, o.DstPort)
	case fMark:
		if w.markWhy != "" {
			return may, w.markWhy
		}
		return markIn(m.vals, p.Mark), ""
	case fCtHelper:
		// A new connection has no helper until a rule gives it one.
		if p.CtState != "new" {
			return may, "helper of the connection a " + p.CtState + " packet belongs to"
		}
		if w.prog.helperSetBy != "" {
			return may, "the connection's helper: rule " + w.prog.helperSetBy + " may set it"
		}
		// nft's ct expression breaks the rule on a connection with no
		// helper, whether the compare is == or !=.
		return no, ""
	case fCtZone:
		// A new connection's zone is its template's: 0 unless a rule
		// sets one.
		if p.CtState != "new" {
			return may, "zone of the connection a " + p.CtState + " packet belongs to"
		}
		if w.prog.zoneSetBy != "" {
			return may, "the connection's zone: rule " + w.prog.zoneSetBy + " may set it"
		}
		return numIn(m, 0), ""
	case fPriority:
		if w.priorityWhy != "" {
			return may, w.priorityWhy
		}
		return numIn(m, w.priority), ""
	case fCtMark:
		if p.CtState != "new" {
			return may, "connection mark set by earlier packets"
		}
		if w.ctMarkWhy != "" {
			return may, w.ctMarkWhy
		}
		return markIn(m.vals, w.ctMark), ""
	case fTCPFlags:
		if p.Protocol != "tcp" {
			return no, ""
		}
		if p.CtState != "new" {
			return may, "tcp flags of a packet inside a connection"
		}
		const syn = 2
		for _, v := range m.vals {
			if syn&v.plo == v.phi {
				return yes, ""
			}
		}
		return no, ""
	case fPkttype:
		// A packet the host sends is of type host until it leaves
		// (the loopback copy of a multicast or broadcast is set apart
		// after postrouting); one that arrives is of its destination's.
		pt := "host"
		switch w.prog.addrType(p.Dst) {
		case "broadcast":
			pt = "broadcast"
		case "multicast":
			pt = "multicast"
		}
		if p.Direction == Outbound {
			pt = "host"
		}
		for _, v := range m.vals {
			if v.str == pt || (pt == "host" && v.str == "unicast") {
				return yes, ""
			}
		}
		return no, ""
	case fSet:
		return w.lookup(m.set, m.keys)
	case fRPF:
		return w.rpf(m)
	case fIPSet:
		return w.ipsetMatch(m)
	}
	return may, "match not interpreted"
}

func hasPorts(proto string) bool {
	switch proto {
	case "tcp", "udp", "sctp", "udplite", "dccp":
		return true
	}
	return false
}

func anyStr(vals []value, s string) tri {
	for _, v := range vals {
		if v.str == s {
			return yes
		}
	}
	return no
}

func addrIn(m *cMatch, a netip.Addr) tri {
	a = a.Unmap()
	for _, v := range m.vals {
		if v.lo.BitLen() != a.BitLen() {
			continue
		}
		if v.masked {
			if maskAddr(a, v.hi) == v.lo {
				return yes
			}
			continue
		}
		switch m.op {
		case "lt":
			return boolTri(a.Less(v.lo))
		case "le":
			return boolTri(a.Compare(v.lo) <= 0)
		case "gt":
			return boolTri(a.Compare(v.lo) > 0)
		case "ge":
			return boolTri(a.Compare(v.lo) >= 0)
		}
		if a.Compare(v.lo) >= 0 && a.Compare(v.hi) <= 0 {
			return yes
		}
	}
	return no
}

func boolTri(b bool) tri {
	if b {
		return yes
	}
	return no
}

func portIn(m *cMatch, port uint16) (tri, string) {
	return numIn(m, uint32(port)), ""
}

// numIn reports whether p is one of m's values or ranges, or compares as
// m's op says with its value.
func numIn(m *cMatch, p uint32) tri {
	for _, v := range m.vals {
		switch m.op {
		case "lt":
			return boolTri(p < v.plo)
		case "le":
			return boolTri(p <= v.plo)
		case "gt":
			return boolTri(p > v.plo)
		case "ge":
			return boolTri(p >= v.plo)
		}
		if p >= v.plo && p <= v.phi {
			return yes
		}
	}
	return no
}

func ifaceIn(vals []value, name string) tri {
	for _, v := range vals {
		if v.wild && strings.HasPrefix(name, v.str) && name != "" {
			return yes
		}
		if !v.wild && v.str == name {
			return yes
		}
	}
	return no
}

func markIn(vals []value, mark uint32) tri {
	for _, v := range vals {
		if v.isRange && v.plo <= mark && mark <= v.phi || !v.isRange && mark&v.phi == v.plo {
			return yes
		}
	}
	return no
}

// keyValue is the packet's value for one set key field.
func (w *walker) keyValue(f field) (value, string, bool) {
	p := &w.p
	switch f {
	case fSaddr:
		if !p.Src.IsValid() {
			return value{}, "", false
		}
		return value{lo: p.Src.Unmap(), hi: p.Src.Unmap()}, p.Src.Unmap().String(), true
	case fDaddr:
		return value{lo: p.Dst.Unmap(), hi: p.Dst.Unmap()}, p.Dst.Unmap().String(), true
	case fSport, fDport:
		if !hasPorts(p.Protocol) {
			return value{}, "", false
		}
		port := p.DstPort
		if f == fSport {
			port = p.SrcPort
		}
		return value{plo: uint32(port)}, strconv.Itoa(int(port)), true
	case fL4proto:
		return value{str: p.Protocol}, p.Protocol, true
	case fIif:
		return value{str: p.InIface}, p.InIface, true
	case fOif:
		return value{str: p.OutIface}, p.OutIface, true
	case fCtState:
		return value{str: p.CtState}, p.CtState, true
	case fMark:
		if w.markWhy != "" {
			return value{}, "", false
		}
		return value{plo: p.Mark}, strconv.Itoa(int(p.Mark)), true
	case fNfproto:
		return value{str: w.family()}, w.family(), true
	case fDstType:
		t := w.prog.addrType(p.Dst)
		return value{str: t}, t, true
	case fIcmpType:
		if (p.Protocol != "icmp" && p.Protocol != "icmpv6") || p.ICMPType == "" {
			return value{}, "", false
		}
		n := icmpNum(p.Protocol, p.ICMPType)
		if n < 0 {
			return value{}, "", false
		}
		s := strconv.Itoa(n)
		return value{str: s}, s, true
	case fTCPFlags:
		// The first packet of a TCP connection carries syn alone.
		if p.Protocol != "tcp" || p.CtState != "new" {
			return value{}, "", false
		}
		return value{plo: 0xff, phi: 2, str: "2"}, "2", true
	case fEthertype:
		t := etherType(w.family())
		return value{str: t}, t, true
	}
	return value{}, "", false
}

// etherType is the link-layer protocol of a packet of the family, as nft's
// meta protocol lists it.
func etherType(family string) string {
	if family == "ipv6" {
		return "0x86dd"
	}
	return "0x0800"
}

// icmpCodeZero are the ICMP and ICMPv6 types whose only code is 0.
var icmpCodeZero = map[string]map[int]bool{
	"icmp":   {0: true, 8: true, 9: true, 10: true, 13: true, 14: true},
	"icmpv6": {128: true, 129: true, 130: true, 131: true, 133: true, 134: true, 135: true, 136: true},
}

// icmpCode is the code of an ICMP message of the type when its type has
// only one (echo requests and replies, router and neighbour discovery).
func icmpCode(proto, typ string) (uint32, bool) {
	n := icmpNum(proto, typ)
	return 0, icmpCodeZero[proto][n]
}

func (w *walker) lookup(s *cSet, keys []field) (tri, string) {
	_, ok, why := w.findElem(s, keys)
	if ok == yes {
		return yes, ""
	}
	if ok == may {
		return may, why
	}
	if s.s.Has("dynamic") || s.s.Has("timeout") {
		if w.setsUpdated[s.s.Name] {
			return may, "set @" + s.s.Name + " is filled by this very packet"
		}
		// A fresh peer is not in a set packets fill, unless listed already.
		w.cond = "the peer is not in @" + s.s.Name + ", which is filled at run time"
	}
	return no, ""
}

// findElem finds the element whose key the packet matches. It decides
// only when the packet has a value for every key field; otherwise it says
// may, and why.
func (w *walker) findElem(s *cSet, keys []field) (int, tri, string) {
	if s.bad != "" {
		return -1, may, s.bad
	}
	if len(keys) != len(s.fields) {
		return -1, may, "lookup in @" + s.s.Name + " keyed by other fields than its elements"
	}
	vals := make([]value, len(keys))
	canon := make([]string, len(keys))
	known := make([]bool, len(keys))
	missing := -1
	for i, k := range keys {
		v, c, ok := w.keyValue(k)
		if !ok {
			missing = i
			continue
		}
		vals[i], canon[i], known[i] = v, c, true
	}
	if missing >= 0 {
		// No element can match when none matches the fields the packet
		// has values for; otherwise the outcome is unknown.
		for _, el := range s.elems {
			all := len(el) == len(keys)
			for j := 0; all && j < len(el); j++ {
				all = !known[j] || elemHas(s.fields[j], el[j], vals[j])
			}
			if all {
				name := s.s.Name
				if missing < len(s.s.KeyType) {
					name += " (" + s.s.KeyType[missing] + ")"
				}
				return -1, may, "lookup in @" + name + " keyed by a field the packet has no value for"
			}
		}
		return -1, no, ""
	}
	if i, ok := s.exact[strings.Join(canon, "|")]; ok {
		return i, yes, ""
	}
	for _, ei := range s.ranged {
		el := s.elems[ei]
		all := true
		for j, ev := range el {
			if !elemHas(s.fields[j], ev, vals[j]) {
				all = false
				break
			}
		}
		if all {
			return ei, yes, ""
		}
	}
	return -1, no, ""
}

func elemHas(f field, ev, pv value) bool {
	switch f {
	case fSaddr, fDaddr:
		return ev.lo.BitLen() == pv.lo.BitLen() && pv.lo.Compare(ev.lo) >= 0 && pv.lo.Compare(ev.hi) <= 0
	case fSport, fDport:
		return pv.plo >= ev.plo && pv.plo <= ev.phi
	case fIif, fOif:
		if ev.wild {
			return strings.HasPrefix(pv.str, ev.str)
		}
		return ev.str == pv.str
	case fMark:
		if ev.isRange {
			return ev.plo <= pv.plo && pv.plo <= ev.phi
		}
		return pv.plo&ev.phi == ev.plo
	}
	return ev.str == pv.str
}

func (w *walker) vmap(cc *cChain, v snapshot.Verdict) (string, tri) {
	s := cc.table.sets[v.Set]
	if s == nil {
		return "verdict map @" + v.Set + " is missing from the snapshot", may
	}
	var keys []field
	for _, k := range v.Keys {
		keys = append(keys, fieldByName[k])
	}
	i, ok, why := w.findElem(s, keys)
	switch ok {
	case may:
		return "verdict map @" + v.Set + ": " + why, may
	case no:
		if s.s.Has("dynamic") || s.s.Has("timeout") {
			if w.setsUpdated[s.s.Name] {
				return "verdict map @" + v.Set + " is filled by this very packet", may
			}
			if w.assume(condIn(cc, "the peer is not in @"+s.s.Name+", which is filled at run time"), false) {
				return "verdict map @" + v.Set + " holds the peer (filled at run time)", may
			}
		}
		return "", no
	}
	return s.s.Elements[i].Value, yes
}

// addrType is the kernel's address type of a: local, broadcast, multicast,
// unicast.
func (prog *Program) addrType(a netip.Addr) string {
	a = a.Unmap()
	if a.IsLoopback() {
		return "local"
	}
	for _, l := range prog.local {
		if l.Prefix.Addr().Unmap() == a {
			return "local"
		}
	}
	if a.IsMulticast() {
		return "multicast"
	}
	if a.Is4() {
		if a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return "broadcast"
		}
		for _, l := range prog.local {
			p := l.Prefix
			if p.Addr().Is4() && p.Bits() < 31 && lastAddr(p.Masked()) == a {
				return "broadcast"
			}
		}
	}
	return "unicast"
}

func (prog *Program) isLocal(a netip.Addr) bool { return prog.addrType(a) == "local" }

// route picks the output interface for dst: longest prefix of the routes.
func (prog *Program) route(dst netip.Addr) string {
	dst = dst.Unmap()
	if prog.isLocal(dst) {
		return "lo"
	}
	best, bits := "", -1
	for _, r := range prog.routes {
		if r.Dst.IsValid() && r.Dst.Addr().BitLen() == dst.BitLen() && r.Dst.Contains(dst) && r.Dst.Bits() > bits {
			best, bits = r.Interface, r.Dst.Bits()
		}
	}
	if best == "" {
		for _, l := range prog.local {
			if l.Prefix.Masked().Contains(dst) && l.Prefix.Addr().BitLen() == dst.BitLen() && l.Prefix.Bits() > bits {
				best, bits = l.Interface, l.Prefix.Bits()
			}
		}
	}
	return best
}

// addrOf returns an address of the interface in the family.
func (prog *Program) addrOf(iface, family string) (netip.Addr, bool) {
	for _, l := range prog.local {
		a := l.Prefix.Addr().Unmap()
		if l.Interface == iface && (a.Is4() == (family == "ipv4")) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// firstChunks decides sctp's --chunk-types and dccp's --dccp-types for the
// first packet of an association or connection, which carries one INIT
// chunk (sctp) or is a REQUEST (dccp): an assumption the walk states.
// Values are the protocol, then the names; Op is any, all or only (xt_sctp:
// an empty list matches every packet; "all" needs each listed type in the
// packet; "only" and "any" need the packet's type listed).
func (w *walker) firstChunks(m *cMatch) (tri, string) {
	if len(m.vals) == 0 {
		return may, "chunk types without a protocol"
	}
	proto := m.vals[0].str
	if w.p.Protocol != proto {
		return no, ""
	}
	first := map[string]string{"sctp": "init", "dccp": "request"}[proto]
	if w.p.CtState != "new" {
		return may, proto + " chunk types of a packet inside an association"
	}
	w.cond = fmt.Sprintf("a first %s packet carries one %s chunk and nothing else", proto, strings.ToUpper(first))
	listed, others := false, false
	for _, v := range m.vals[1:] {
		switch v.str {
		case first, "all":
			listed = true
			others = others || v.str == "all"
		case "none":
		default:
			others = true
		}
	}
	switch {
	case proto == "sctp" && !listed && !others:
		return yes, "" // no type listed: xt_sctp matches every packet
	case m.op == "all":
		return boolTri(listed && !others), ""
	case m.op == "any" || m.op == "only":
		return boolTri(listed), ""
	}
	return may, "chunk match mode " + m.op
}
