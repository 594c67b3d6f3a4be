package firewall

import (
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// ifaceBy decodes a compare of the input or output interface's index,
// link-layer type or device group as a compare of the names of the namespace's interfaces
// that have it: exact for the interfaces the snapshot saw.
func (d *decoder) ifaceBy(v regVal, op expr.CmpOp, data []byte) {
	field, what, _ := strings.Cut(v.field, "_")
	size := map[string]int{"index": 4, "group": 4, "type": 2}[what]
	ordered := op != expr.CmpOpEq && op != expr.CmpOpNeq
	if d.links == nil || v.mask != nil || len(data) != size || (ordered && what == "type") {
		d.undecided(regVal{field: "unknown", reason: "meta " + field + " " + what + " compared without the namespace's interfaces"}, false)
		return
	}
	// nft writes a range as two order compares of the value in network
	// order; an equality compares it in host order.
	want := uint64(hostU32(data))
	switch {
	case v.netOrder && size == 2:
		want = uint64(binary.BigEndian.Uint16(data))
	case v.netOrder:
		want = uint64(binary.BigEndian.Uint32(data))
	case size == 2:
		want = uint64(binary.NativeEndian.Uint16(data))
	}
	var names []string
	for _, l := range d.links {
		have := uint64(l.index)
		if what == "group" {
			have = uint64(l.group)
		}
		in := false
		switch {
		case what == "type":
			in = l.encap == encapName(uint16(want))
		case op == expr.CmpOpEq, op == expr.CmpOpNeq:
			in = have == want
		case op == expr.CmpOpLt:
			in = have < want
		case op == expr.CmpOpLte:
			in = have <= want
		case op == expr.CmpOpGt:
			in = have > want
		case op == expr.CmpOpGte:
			in = have >= want
		}
		if in {
			names = append(names, l.name)
		}
	}
	d.ifaceNames(field, op == expr.CmpOpNeq, names)
}

// ifaceRange decodes "meta iifgroup 11-33" (a range expression on the
// value in network order) as the names of the interfaces in the range.
func (d *decoder) ifaceRange(v regVal, neg bool, from, to []byte) {
	field, what, _ := strings.Cut(v.field, "_")
	if d.links == nil || v.mask != nil || !v.netOrder || what == "type" || len(from) != 4 || len(to) != 4 {
		d.undecided(regVal{field: "unknown", reason: "range of meta " + field + " " + what}, false)
		return
	}
	lo, hi := binary.BigEndian.Uint32(from), binary.BigEndian.Uint32(to)
	var names []string
	for _, l := range d.links {
		have := l.index
		if what == "group" {
			have = l.group
		}
		if lo <= have && have <= hi {
			names = append(names, l.name)
		}
	}
	d.ifaceNames(field, neg, names)
}

// ifaceNames appends the match "the interface is one of names" (negated
// when neg); with no name, equality never holds.
func (d *decoder) ifaceNames(field string, neg bool, names []string) {
	if len(names) == 0 {
		d.assume(neg, "")
		return
	}
	d.rule.Matches = append(d.rule.Matches, snapshot.Match{Field: field, Negate: neg, Values: names})
}

// ifaceSet decodes a lookup keyed by the input or output interface's
// index, link-layer type or device group ("meta iifgroup {11-33, 44-55}")
// as a compare of the names of the namespace's interfaces whose value is
// in the set, as ifaceBy does for one value. False when the key is
// another field, or the set or the interfaces are not known: the lookup is
// then decoded as any other.
func (d *decoder) ifaceSet(e *expr.Lookup, set *snapshot.Set) bool {
	v, ok := d.regs[regIndex(e.SourceRegister)]
	if !ok || set == nil || d.links == nil || v.mask != nil || len(set.KeyType) > 1 {
		return false
	}
	field, what, _ := strings.Cut(v.field, "_")
	size := map[string]int{"index": 4, "group": 4, "type": 2}[what]
	if (field != "iif" && field != "oif") || size == 0 {
		return false
	}
	spans, ok := setSpans(set, size, v.netOrder)
	if !ok || (what == "type" && !singles(spans)) {
		return false
	}
	var names []string
	for _, l := range d.links {
		for _, s := range spans {
			in := false
			switch what {
			case "index":
				in = s.lo <= uint64(l.index) && uint64(l.index) <= s.hi
			case "group":
				in = s.lo <= uint64(l.group) && uint64(l.group) <= s.hi
			case "type":
				in = l.encap == encapName(uint16(s.lo))
			}
			if in {
				names = append(names, l.name)
				break
			}
		}
	}
	d.ifaceNames(field, e.Invert, names)
	return true
}

// span is one element of a set of numbers: a value or a range.
type span struct{ lo, hi uint64 }

// setSpans reads the elements of a set of size-byte numbers; false when
// one is not such a number (a catch-all, a concatenation).
func setSpans(set *snapshot.Set, size int, netOrder bool) ([]span, bool) {
	var spans []span
	for _, el := range set.Elements {
		if len(el.Key) != 1 {
			return nil, false
		}
		lo, hi, isRange := strings.Cut(el.Key[0], "-")
		if !isRange {
			hi = lo
		}
		a, ok1 := ifaceKeyValue(lo, size, netOrder)
		b, ok2 := ifaceKeyValue(hi, size, netOrder)
		if !ok1 || !ok2 {
			return nil, false
		}
		spans = append(spans, span{a, b})
	}
	return spans, true
}

func singles(spans []span) bool {
	for _, s := range spans {
		if s.lo != s.hi {
			return false
		}
	}
	return true
}

// ifaceKeyValue reads one key of a set of numbers (interfaces' indexes,
// types or groups, priorities) as the collector
// rendered it (nftset.go's formatDatum): decimal for a four-byte key the
// set declares in host order, else the key's bytes in hex, in network
// order when netOrder and host order otherwise.
func ifaceKeyValue(s string, size int, netOrder bool) (uint64, bool) {
	var b []byte
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		var err error
		if b, err = hex.DecodeString(h); err != nil || len(b) != size {
			return 0, false
		}
	} else {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil || size != 4 {
			return 0, false
		}
		b = binary.NativeEndian.AppendUint32(nil, uint32(n))
	}
	order := binary.ByteOrder(binary.NativeEndian)
	if netOrder {
		order = binary.BigEndian
	}
	if size == 2 {
		return uint64(order.Uint16(b)), true
	}
	return uint64(order.Uint32(b)), true
}

// encapName is netlink's name of a link-layer (ARPHRD) type, as
// vishvananda/netlink gives an interface's EncapType.
func encapName(t uint16) string {
	return (&nl.IfInfomsg{IfInfomsg: unix.IfInfomsg{Type: t}}).EncapType()
}
