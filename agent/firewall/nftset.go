package firewall

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/big"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// convertSet turns a set and its elements into the model, rebuilding
// interval ranges from the raw boundaries.
func convertSet(s *nftables.Set, elems []nftables.SetElement) snapshot.Set {
	out := snapshot.Set{Name: s.Name, Anonymous: s.Anonymous, Elements: []snapshot.SetElement{}}
	types := []nftables.SetDatatype{s.KeyType}
	if s.Concatenation || len(nftables.ConcatSetTypeElements(s.KeyType)) > 1 {
		types = nftables.ConcatSetTypeElements(s.KeyType)
	}
	for _, t := range types {
		out.KeyType = append(out.KeyType, t.Name)
	}
	if s.IsMap {
		out.DataType = s.DataType.Name
		if out.DataType == "" {
			out.DataType = "verdict"
		}
	}
	for flag, on := range map[string]bool{"constant": s.Constant, "interval": s.Interval, "map": s.IsMap, "timeout": s.HasTimeout, "dynamic": s.Dynamic, "concat": s.Concatenation} {
		if on {
			out.Flags = append(out.Flags, flag)
		}
	}
	sort.Strings(out.Flags)
	hostOrder := s.KeyByteOrder != nil && s.KeyByteOrder.PutUint16(1)[0] == 1
	value := func(e nftables.SetElement) string {
		if !s.IsMap {
			return ""
		}
		if out.DataType == "verdict" {
			return verdictData(e)
		}
		return formatDatum(s.DataType.Name, e.Val, false)
	}
	if s.Interval && len(types) == 1 && !hasKeyEnd(elems) {
		sorted := append([]nftables.SetElement(nil), elems...)
		sort.SliceStable(sorted, func(i, j int) bool {
			c := bytes.Compare(sorted[i].Key, sorted[j].Key)
			if c != 0 {
				return c < 0
			}
			return sorted[i].IntervalEnd && !sorted[j].IntervalEnd
		})
		for i, e := range sorted {
			if e.IntervalEnd {
				continue
			}
			var end []byte
			if i+1 < len(sorted) && sorted[i+1].IntervalEnd {
				end = decrement(sorted[i+1].Key)
			} else {
				end = bytes.Repeat([]byte{0xff}, len(e.Key))
			}
			out.Elements = append(out.Elements, snapshot.SetElement{Key: []string{formatRange(types[0].Name, e.Key, end)}, Value: value(e)})
		}
		return out
	}
	for _, e := range elems {
		if e.IntervalEnd {
			continue
		}
		keys := splitKey(types, e.Key)
		var ends [][]byte
		if len(e.KeyEnd) > 0 {
			ends = splitKey(types, e.KeyEnd)
		}
		el := snapshot.SetElement{Value: value(e)}
		for i, t := range types {
			if i >= len(keys) {
				break
			}
			if ends != nil && i < len(ends) && !bytes.Equal(keys[i], ends[i]) {
				el.Key = append(el.Key, formatRange(t.Name, keys[i], ends[i]))
			} else {
				el.Key = append(el.Key, formatDatum(t.Name, keys[i], hostOrder))
			}
		}
		out.Elements = append(out.Elements, el)
	}
	return out
}

func hasKeyEnd(elems []nftables.SetElement) bool {
	for _, e := range elems {
		if len(e.KeyEnd) > 0 {
			return true
		}
	}
	return false
}

// splitKey cuts a concatenated key into its fields, each padded to 4 bytes.
func splitKey(types []nftables.SetDatatype, key []byte) [][]byte {
	if len(types) == 1 {
		return [][]byte{key}
	}
	var out [][]byte
	off := 0
	for _, t := range types {
		n := int(t.Bytes)
		if t.Name == "ifname" {
			n = 16
		}
		if off+n > len(key) {
			break
		}
		out = append(out, key[off:off+n])
		off += (n + 3) / 4 * 4
	}
	return out
}

func decrement(b []byte) []byte {
	n := new(big.Int).SetBytes(b)
	if n.Sign() > 0 {
		n.Sub(n, big.NewInt(1))
	}
	out := make([]byte, len(b))
	n.FillBytes(out)
	return out
}

// formatRange renders [from, to] as a single value, a CIDR or "a-b".
func formatRange(typ string, from, to []byte) string {
	if bytes.Equal(from, to) {
		return formatDatum(typ, from, false)
	}
	a, okA := netip.AddrFromSlice(from)
	b, okB := netip.AddrFromSlice(to)
	// The kernel does not check a key against its type: bytes of another
	// length are no address, and are printed as bytes below.
	if (typ == "ipv4_addr" || typ == "ipv6_addr") && okA && okB && a.BitLen() == b.BitLen() {
		for bitsLen := 0; bitsLen <= a.BitLen(); bitsLen++ {
			p := netip.PrefixFrom(a, bitsLen).Masked()
			if p.Addr() == a && lastAddr(p) == b {
				return p.String()
			}
		}
		return a.String() + "-" + b.String()
	}
	return formatDatum(typ, from, false) + "-" + formatDatum(typ, to, false)
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func formatDatum(typ string, b []byte, hostOrder bool) string {
	switch typ {
	case "ipv4_addr", "ipv6_addr":
		if a, ok := netip.AddrFromSlice(b); ok {
			return a.String()
		}
	case "inet_service":
		if len(b) >= 2 {
			return strconv.Itoa(int(binary.BigEndian.Uint16(b)))
		}
	case "inet_proto":
		if len(b) >= 1 {
			if n, ok := protoNames[b[0]]; ok {
				return n
			}
			return strconv.Itoa(int(b[0]))
		}
	case "ifname":
		if i := bytes.IndexByte(b, 0); i >= 0 {
			return string(b[:i])
		}
		return string(b) + "*"
	case "ct_state":
		return strings.Join(flagNames(hostU32(b), ctStateBits), ",")
	case "ct_status":
		return strings.Join(flagNames(hostU32(b), ctStatusBits), ",")
	case "mark", "fib_addrtype":
		if typ == "fib_addrtype" {
			if n, ok := rtnTypes[hostU32(b)]; ok {
				return n
			}
		}
		return fmt.Sprintf("0x%x", hostU32(b))
	case "nf_proto":
		if len(b) >= 1 {
			switch b[0] {
			case unix.NFPROTO_IPV4:
				return "ipv4"
			case unix.NFPROTO_IPV6:
				return "ipv6"
			}
			return strconv.Itoa(int(b[0]))
		}
	case "icmp_type", "icmpv6_type", "pkt_type":
		if len(b) >= 1 {
			return strconv.Itoa(int(b[0]))
		}
	}
	if hostOrder && len(b) == 4 {
		return strconv.FormatUint(uint64(hostU32(b)), 10)
	}
	return fmt.Sprintf("0x%x", b)
}

// verdictData renders the verdict a verdict-map element maps to; the
// library leaves its nested attributes undecoded in Val.
func verdictData(e nftables.SetElement) string {
	if e.VerdictData != nil {
		return verdictString(e.VerdictData.Kind, e.VerdictData.Chain)
	}
	ad, err := netlink.NewAttributeDecoder(e.Val)
	if err != nil {
		return "unknown"
	}
	ad.ByteOrder = binary.BigEndian
	var code int32
	var chain string
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_VERDICT_CODE:
			code = int32(ad.Uint32())
		case unix.NFTA_VERDICT_CHAIN:
			chain = ad.String()
		}
	}
	if ad.Err() != nil {
		return "unknown"
	}
	return verdictString(expr.VerdictKind(code), chain)
}

func verdictString(k expr.VerdictKind, chain string) string {
	switch k {
	case expr.VerdictAccept:
		return "accept"
	case expr.VerdictDrop:
		return "drop"
	case expr.VerdictReturn:
		return "return"
	case expr.VerdictContinue:
		return "continue"
	case expr.VerdictJump:
		return "jump " + chain
	case expr.VerdictGoto:
		return "goto " + chain
	case expr.VerdictQueue:
		return "queue"
	}
	return "unknown"
}
