package firewall

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/nftables/expr"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// priorityNumber reads a 4-byte priority (nft's major:minor classid) as
// the register holds it: host order, or network order after byteorder.
func priorityNumber(v regVal, data []byte) (uint32, bool) {
	if len(data) != 4 {
		return 0, false
	}
	if v.netOrder {
		return binary.BigEndian.Uint32(data), true
	}
	return hostU32(data), true
}

// priorityCmp decodes "meta priority 1:1234" and its order compares.
func (d *decoder) priorityCmp(v regVal, op expr.CmpOp, data []byte) {
	n, ok := priorityNumber(v, data)
	if !ok || v.mask != nil {
		d.undecided(regVal{field: "unknown", reason: "masked or partial compare of meta priority"}, false)
		return
	}
	m := snapshot.Match{Field: "priority", Negate: op == expr.CmpOpNeq, Values: []string{fmt.Sprintf("0x%x", n)}}
	m.Op = map[expr.CmpOp]string{expr.CmpOpLt: "lt", expr.CmpOpLte: "le", expr.CmpOpGt: "gt", expr.CmpOpGte: "ge"}[op]
	d.rule.Matches = append(d.rule.Matches, m)
}

// priorityRange decodes "meta priority bcad:dada-bcad:dadc".
func (d *decoder) priorityRange(v regVal, neg bool, from, to []byte) {
	a, ok1 := priorityNumber(v, from)
	b, ok2 := priorityNumber(v, to)
	if !ok1 || !ok2 || v.mask != nil {
		d.undecided(regVal{field: "unknown", reason: "range of masked or partial meta priority"}, false)
		return
	}
	d.rule.Matches = append(d.rule.Matches, snapshot.Match{Field: "priority", Negate: neg, Values: []string{fmt.Sprintf("0x%x-0x%x", a, b)}})
}

// prioritySet decodes a lookup keyed by the packet's priority ("meta
// priority {bcad:dada, aaaa:bbbb}") as a match of its values; false when
// the key is another field or the set's elements are not numbers.
func (d *decoder) prioritySet(e *expr.Lookup, set *snapshot.Set) bool {
	v, ok := d.regs[regIndex(e.SourceRegister)]
	if !ok || v.field != "priority" || set == nil || v.mask != nil || len(set.KeyType) > 1 {
		return false
	}
	spans, ok := setSpans(set, 4, v.netOrder)
	if !ok {
		return false
	}
	m := snapshot.Match{Field: "priority", Negate: e.Invert}
	for _, s := range spans {
		if s.lo == s.hi {
			m.Values = append(m.Values, fmt.Sprintf("0x%x", s.lo))
		} else {
			m.Values = append(m.Values, fmt.Sprintf("0x%x-0x%x", s.lo, s.hi))
		}
	}
	if len(m.Values) == 0 {
		// An empty set: nothing is in it.
		d.assume(e.Invert, "")
		return true
	}
	d.rule.Matches = append(d.rule.Matches, m)
	return true
}

// prioritySetEffect decodes "meta priority set ...": a constant the
// simulator follows, anything else an unknown priority from then on.
func (d *decoder) prioritySetEffect(src regVal) {
	if src.field == "const" && len(src.data) == 4 {
		d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "priority", Value: fmt.Sprintf("0x%x", hostU32(src.data))})
		return
	}
	why := "meta priority set from " + orDefault(src.reason, src.field)
	if snapshot.HonestMay(src.reason) {
		why = src.reason
	} else {
		d.unsupported("%s", why)
	}
	d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "priority", Value: snapshot.MarkUnknown + why})
}

// markNetOrder decodes compares, ranges and set lookups of a mark or ct
// mark converted to network order (nft's byteorder before "ct mark
// 0x10-0x20", "meta mark < 0x10" or an interval set): a match of the
// marks' values or ranges.
func (d *decoder) markNetOrder(v regVal, op expr.CmpOp, data []byte) {
	if len(data) != 4 || v.mask != nil || v.xor != nil {
		d.undecided(regVal{field: "unknown", reason: "masked or partial compare of " + v.field + " in network order"}, false)
		return
	}
	n := binary.BigEndian.Uint32(data)
	lo, hi := n, n
	switch op {
	case expr.CmpOpLt:
		lo, hi = 0, n-1
	case expr.CmpOpLte:
		lo = 0
	case expr.CmpOpGt:
		lo, hi = n+1, ^uint32(0)
	case expr.CmpOpGte:
		hi = ^uint32(0)
	}
	if (op == expr.CmpOpLt && n == 0) || (op == expr.CmpOpGt && n == ^uint32(0)) {
		d.assume(false, "") // no mark is below 0 or above the largest
		return
	}
	val := fmt.Sprintf("0x%x", lo)
	if lo != hi {
		val += fmt.Sprintf("-0x%x", hi)
	}
	d.rule.Matches = append(d.rule.Matches, snapshot.Match{Field: v.field, Negate: op == expr.CmpOpNeq, Values: []string{val}})
}

// markSet decodes a lookup keyed by a mark or ct mark converted to network
// order (an interval set): the collector rendered each boundary as a host
// order number (formatDatum), so its bytes are read again in network
// order. False when the key is another field.
func (d *decoder) markSet(e *expr.Lookup, set *snapshot.Set) bool {
	v, ok := d.regs[regIndex(e.SourceRegister)]
	if !ok || (v.field != "mark" && v.field != "ct_mark") || !v.netOrder || set == nil || v.mask != nil || v.xor != nil || len(set.KeyType) > 1 {
		return false
	}
	m := snapshot.Match{Field: v.field, Negate: e.Invert}
	for _, el := range set.Elements {
		if len(el.Key) != 1 {
			return false
		}
		lo, hi, isRange := strings.Cut(el.Key[0], "-")
		if !isRange {
			hi = lo
		}
		a, ok1 := swappedNumber(lo)
		b, ok2 := swappedNumber(hi)
		if !ok1 || !ok2 {
			return false
		}
		if a == b {
			m.Values = append(m.Values, fmt.Sprintf("0x%x", a))
		} else {
			m.Values = append(m.Values, fmt.Sprintf("0x%x-0x%x", a, b))
		}
	}
	if len(m.Values) == 0 {
		d.assume(e.Invert, "")
		return true
	}
	d.rule.Matches = append(d.rule.Matches, m)
	return true
}

// swappedNumber reads a 4-byte key rendered as a host-order number whose
// bytes hold a network-order value.
func swappedNumber(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		return 0, false
	}
	return binary.BigEndian.Uint32(binary.NativeEndian.AppendUint32(nil, uint32(n))), true
}
