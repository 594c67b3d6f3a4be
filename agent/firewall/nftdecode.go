package firewall

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Expr is one expression of a native nftables rule as the kernel listed it:
// its name, and its decoded form when hostdrift understands the type (nil
// otherwise: google/nftables silently drops types it cannot decode, so the
// collector reads the expression list itself).
type Expr struct {
	Name string
	E    expr.Any
	// Raw is the expression's attributes as the kernel sent them, read
	// when google/nftables cannot decode the type (rawExpr).
	Raw []byte
}

// regVal is what a register holds while a rule is decoded.
type regVal struct {
	field  string // match field, "const", "random" or "unknown"
	size   int
	mask   []byte
	xor    []byte // applied after mask (mark and ct mark only)
	data   []byte // const data
	reason string
	l3     string
	lookup string // map name when the value comes from a map lookup
	// lookupKeys are that lookup's key fields, when each has a value.
	lookupKeys []string
	// parts are the fields of a load that spans several (field "merged").
	parts []hdrField
	// netOrder: a host-order value converted to network order (nft's
	// byteorder before an interval set lookup).
	netOrder bool
}

type decoder struct {
	family string // table family
	l3     string // ipv4 | ipv6 when known
	l4     string
	regs   map[int]regVal
	rule   snapshot.Rule
	sets   func(name string) *snapshot.Set
	links  []linkInfo
}

// regIndex maps an nftables register number to a 32-bit register index.
func regIndex(r uint32) int {
	switch {
	case r >= 1 && r <= 4:
		return int(r-1) * 4
	case r >= 8:
		return int(r - 8)
	}
	return -1
}

// DecodeRule turns a native rule's expressions into the normalised model.
// sets looks up the sets of the rule's table (for concatenated keys).
func DecodeRule(family string, exprs []Expr, sets func(string) *snapshot.Set) snapshot.Rule {
	return decodeRuleIn(family, exprs, sets, nil)
}

// decodeRuleIn is DecodeRule knowing the namespace's interfaces, by which
// compares of an interface's index or type become compares of names.
func decodeRuleIn(family string, exprs []Expr, sets func(string) *snapshot.Set, links []linkInfo) snapshot.Rule {
	d := &decoder{family: family, regs: map[int]regVal{}, sets: sets, links: links}
	switch family {
	case "ip":
		d.l3 = "ipv4"
	case "ip6":
		d.l3 = "ipv6"
	}
	for _, x := range exprs {
		d.expr(x)
	}
	if d.rule.Verdict.Kind == "" {
		d.rule.Verdict.Kind = snapshot.VerdictContinue
	}
	return d.rule
}

func (d *decoder) unsupported(format string, args ...any) {
	d.rule.Unsupported = append(d.rule.Unsupported, fmt.Sprintf(format, args...))
}

// undecided records a match on a value the decoder has no field for: a
// may-match, and unless its reason is chance, the clock or history, an
// entry in Unsupported saying what was not decoded.
func (d *decoder) undecided(v regVal, neg bool) {
	reason := v.reason
	if v.field == "merged" {
		reason = "lookup or range on " + partNames(v.parts)
	}
	if reason == "" {
		reason = "value not decoded"
	}
	if !snapshot.HonestMay(reason) {
		d.unsupported("%s", reason)
	}
	d.mayMatch(neg, reason)
}

func (d *decoder) mayMatch(neg bool, reason string) {
	d.rule.Matches = append(d.rule.Matches, snapshot.Match{Field: snapshot.FieldMayMatch, Negate: neg, Reason: reason})
}

func (d *decoder) set(reg uint32, v regVal) {
	if i := regIndex(reg); i >= 0 {
		d.regs[i] = v
	}
}

func (d *decoder) get(reg uint32) regVal {
	if i := regIndex(reg); i >= 0 {
		if v, ok := d.regs[i]; ok {
			return v
		}
	}
	return regVal{field: "unknown", reason: "register read before it was written"}
}

var metaFields = map[expr.MetaKey]string{
	expr.MetaKeyL4PROTO:  "l4proto",
	expr.MetaKeyNFPROTO:  "nfproto",
	expr.MetaKeyIIFNAME:  "iif",
	expr.MetaKeyOIFNAME:  "oif",
	expr.MetaKeyMARK:     "mark",
	expr.MetaKeyPROTOCOL: "ethertype",
	expr.MetaKeyPKTTYPE:  "pkttype",
	expr.MetaKeyIIF:      "iif_index",
	expr.MetaKeyOIF:      "oif_index",
	expr.MetaKeyIIFTYPE:  "iif_type",
	expr.MetaKeyOIFTYPE:  "oif_type",
	expr.MetaKeyIIFGROUP: "iif_group",
	expr.MetaKeyOIFGROUP: "oif_group",
	expr.MetaKeyPRIORITY: "priority",
}

var ctFields = map[expr.CtKey]string{
	expr.CtKeySTATE:     "ct_state",
	expr.CtKeySTATUS:    "ct_status",
	expr.CtKeyMARK:      "ct_mark",
	expr.CtKeyDIRECTION: "ct_direction",
	expr.CtKeyPROTOCOL:  "ct_proto",
	expr.CtKeyZONE:      "ct_zone",
	expr.CtKeyHELPER:    "ct_helper",
}

func (d *decoder) expr(x Expr) {
	switch e := x.E.(type) {
	case nil:
		if d.rawExpr(x) {
			return
		}
		d.unsupported("expression %q is not decoded", x.Name)
		// It may have written any register: forget them all.
		for i := range d.regs {
			d.regs[i] = regVal{field: "unknown", reason: "value of an expression hostdrift cannot decode (" + x.Name + ")"}
		}
	case *expr.Meta:
		if e.SourceRegister {
			src := d.get(e.Register)
			switch {
			case e.Key == expr.MetaKeyMARK && src.field == "const":
				d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "mark", Value: fmt.Sprintf("0x%x", hostU32(src.data))})
			case e.Key == expr.MetaKeyMARK && src.field == "ct_mark":
				d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "mark", Value: "restore"})
			case e.Key == expr.MetaKeyPRIORITY:
				d.prioritySetEffect(src)
			case e.Key == expr.MetaKeyMARK:
				// The simulator cannot follow the new mark: later
				// matches on it would read the old one.
				why := "meta mark set from " + orDefault(src.reason, src.field)
				d.unsupported("%s", why)
				d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "mark", Value: snapshot.MarkUnknown + why})
			default:
				d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "meta_set"})
			}
			return
		}
		f, ok := metaFields[e.Key]
		if !ok {
			d.set(e.Register, metaUndecided(e.Key))
			return
		}
		size := 4
		if f == "iif" || f == "oif" {
			size = 16
		} else if f == "l4proto" || f == "nfproto" || f == "pkttype" {
			size = 1
		} else if f == "ethertype" || f == "iif_type" || f == "oif_type" {
			size = 2
		}
		d.set(e.Register, regVal{field: f, size: size})
	case *expr.Ct:
		if e.SourceRegister {
			src := d.get(e.Register)
			switch {
			case e.Key == expr.CtKeyMARK && src.field == "const":
				d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "ct_mark", Value: fmt.Sprintf("0x%x", hostU32(src.data))})
			case e.Key == expr.CtKeyMARK && src.field == "mark":
				d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "ct_mark", Value: "save"})
			case e.Key == expr.CtKeyZONE:
				d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "ct_zone"})
			default:
				d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "ct_set"})
			}
			return
		}
		f, ok := ctFields[e.Key]
		if !ok {
			d.set(e.Register, ctUndecided(e.Key))
			return
		}
		size := 4
		if f == "ct_direction" || f == "ct_proto" {
			size = 1
		} else if f == "ct_zone" {
			size = 2
		} else if f == "ct_helper" {
			size = 16
		}
		d.set(e.Register, regVal{field: f, size: size})
	case *expr.Payload:
		if e.OperationType != expr.PayloadLoad {
			d.payloadWrite(e)
			return
		}
		d.set(e.DestRegister, d.payload(e))
	case *expr.Bitwise:
		v := d.get(e.SourceRegister)
		v.mask = append([]byte(nil), e.Mask...)
		switch {
		case len(e.Mask) == 0:
			// A shift: google/nftables does not decode its operation.
			v = regVal{field: "unknown", reason: "bitwise shift"}
		case !allZero(e.Xor) && (v.field == "mark" || v.field == "ct_mark") && len(e.Xor) == 4 && v.xor == nil:
			// (x & mask) ^ xor: nft writes "mark | 0x23" so.
			v.xor = append([]byte(nil), e.Xor...)
		case !allZero(e.Xor):
			v = regVal{field: "unknown", reason: "bitwise xor"}
		}
		d.set(e.DestRegister, v)
	case *expr.Immediate:
		d.set(e.Register, regVal{field: "const", data: e.Data, size: len(e.Data)})
	case *expr.Cmp:
		d.cmp(d.get(e.Register), e.Op, e.Data)
	case *expr.Range:
		v := d.get(e.Register)
		from, to := d.format(v, e.FromData), d.format(v, e.ToData)
		switch v.field {
		case "header_field":
			return // the load already required the header
		case "iif_index", "oif_index", "iif_type", "oif_type", "iif_group", "oif_group":
			d.ifaceRange(v, e.Op == expr.CmpOpNeq, e.FromData, e.ToData)
			return
		case "priority":
			d.priorityRange(v, e.Op == expr.CmpOpNeq, e.FromData, e.ToData)
			return
		case "mark", "ct_mark":
			if !v.netOrder || v.mask != nil || v.xor != nil || len(e.FromData) != 4 || len(e.ToData) != 4 {
				d.undecided(regVal{field: "unknown", reason: "range of " + v.field + " in host order"}, false)
				return
			}
			d.rule.Matches = append(d.rule.Matches, snapshot.Match{Field: v.field, Negate: e.Op == expr.CmpOpNeq,
				Values: []string{fmt.Sprintf("0x%x-0x%x", binary.BigEndian.Uint32(e.FromData), binary.BigEndian.Uint32(e.ToData))}})
			return
		case "ttl", "length":
			if v.mask != nil {
				d.undecided(regVal{field: "unknown", reason: "range of masked " + v.field}, false)
				return
			}
			d.rule.Matches = append(d.rule.Matches, snapshot.Match{Field: v.field, Negate: e.Op == expr.CmpOpNeq, Values: []string{from + "-" + to}})
			return
		case "l4proto":
			if len(e.FromData) != 1 || len(e.ToData) != 1 || v.mask != nil {
				d.undecided(regVal{field: "unknown", reason: "range of l4proto"}, false)
				return
			}
			// A range of protocol numbers: the protocols in it.
			m := snapshot.Match{Field: "l4proto", Negate: e.Op == expr.CmpOpNeq}
			for p := int(e.FromData[0]); p <= int(e.ToData[0]); p++ {
				m.Values = append(m.Values, d.format(v, []byte{byte(p)}))
			}
			d.rule.Matches = append(d.rule.Matches, m)
			return
		case "sport", "dport", "saddr", "daddr", "ct_orig_saddr", "ct_orig_daddr", "ct_orig_sport", "ct_orig_dport":
		case snapshot.FieldMayMatch, "unknown", "merged":
			d.undecided(v, false)
			return
		default:
			d.undecided(regVal{field: "unknown", reason: "range of " + v.field}, false)
			return
		}
		if v.mask != nil && !allFF(v.mask) {
			d.undecided(regVal{field: "unknown", reason: "range of masked " + v.field}, false)
			return
		}
		d.rule.Matches = append(d.rule.Matches, snapshot.Match{Field: v.field, Negate: e.Op == expr.CmpOpNeq, Values: []string{from + "-" + to}})
	case *expr.Lookup:
		d.lookup(e)
	case *expr.Verdict:
		d.verdict(e)
	case *expr.Counter:
		d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "counter"})
	case *expr.Log:
		d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "log"})
	case *expr.Limit:
		d.assume(!e.Over, "packets matching it stay under "+limitText(e))
	case *expr.Quota:
		d.mayMatch(false, snapshot.MayHistory+"quota: depends on traffic already seen")
	case *expr.Connlimit:
		cond := ""
		if e.Count > 0 {
			cond = fmt.Sprintf("fewer than %d other connections counted by the rule are open (%s)", e.Count, connlimitText(e))
		}
		d.assume(connlimitFirst(e), cond)
	case *expr.Numgen:
		d.set(e.Register, regVal{field: snapshot.FieldMayMatch, reason: snapshot.MayChance + "numgen: chosen at random or in turn"})
	case *expr.Hash:
		d.set(e.DestRegister, regVal{field: snapshot.FieldMayMatch, reason: snapshot.MayChance + "hash of the packet with a seed"})
	case *expr.Fib:
		switch {
		case e.ResultADDRTYPE && e.FlagDADDR && !e.FlagIIF && !e.FlagOIF:
			d.set(e.Register, regVal{field: "dst_type", size: 4})
		case e.ResultADDRTYPE && e.FlagSADDR && !e.FlagIIF && !e.FlagOIF:
			d.set(e.Register, regVal{field: "src_type", size: 4})
		case (e.ResultOIF || e.ResultOIFNAME) && e.FlagSADDR && !e.FlagDADDR && !e.FlagOIF:
			// Reverse path filter: "fib saddr [. mark] [. iif] oif missing".
			mode := "loose"
			if e.FlagIIF {
				mode = "strict"
			}
			d.set(e.Register, regVal{field: "rpf", size: 4, reason: mode})
		default:
			d.set(e.Register, regVal{field: "unknown", reason: "fib lookup of this kind"})
		}
	case *expr.Dynset:
		if len(e.Exprs) > 0 {
			d.meter(e)
		}
		d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "set_update", Value: "@" + e.SetName})
	case *expr.Objref:
		switch e.Type {
		case 1: // NFT_OBJECT_COUNTER
		case 3: // NFT_OBJECT_CT_HELPER: "ct helper set", the connection's helper
			d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "ct_helper"})
		case 2, 4: // NFT_OBJECT_QUOTA, NFT_OBJECT_LIMIT
			d.mayMatch(false, fmt.Sprintf("%sstateful object %q counts traffic already seen", snapshot.MayHistory, e.Name))
		default:
			d.unsupported("stateful object %q of type %d", e.Name, e.Type)
			if e.Type == 0 {
				// An object chosen from a map may be a ct helper.
				d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "ct_helper"})
			}
		}
	case *expr.Notrack:
		d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: "notrack"})
	case *expr.Reject:
		d.rule.Verdict = snapshot.Verdict{Kind: snapshot.VerdictReject}
	case *expr.Masq:
		d.rule.Verdict = snapshot.Verdict{Kind: snapshot.VerdictMasquerade}
	case *expr.Redir:
		v := snapshot.Verdict{Kind: snapshot.VerdictRedirect}
		if p := d.get(e.RegisterProtoMin); e.RegisterProtoMin != 0 && p.field == "const" && len(p.data) >= 2 {
			v.To = ":" + strconv.Itoa(int(binary.BigEndian.Uint16(p.data)))
		}
		d.rule.Verdict = v
	case *expr.NAT:
		d.nat(e)
	case *expr.Queue:
		d.rule.Verdict = snapshot.Verdict{Kind: snapshot.VerdictQueue}
	case *expr.Match:
		d.unsupported("xt match %q in a native table", e.Name)
	case *expr.Target:
		d.unsupported("xt target %q in a native table", e.Name)
		d.rule.Verdict = snapshot.Verdict{Kind: snapshot.VerdictUnknown, Reason: "xt target " + e.Name}
	case *expr.Exthdr:
		d.exthdr(e)
	case *expr.SynProxy:
		// It answers a SYN itself and takes the packet: not a first
		// packet's verdict the model has.
		d.unsupported("synproxy")
	default:
		// flow_offload, secmark, ct helper, timeout and expectation
		// objects: they change later packets or what userspace sees, not
		// the fate of the first packet.
		d.rule.Effects = append(d.rule.Effects, snapshot.Effect{Kind: x.Name})
	}
}

func limitText(e *expr.Limit) string {
	units := map[expr.LimitTime]string{expr.LimitTimeSecond: "second", expr.LimitTimeMinute: "minute", expr.LimitTimeHour: "hour", expr.LimitTimeDay: "day", expr.LimitTimeWeek: "week"}
	s := "limit rate "
	if e.Over {
		s += "over "
	}
	s += strconv.FormatUint(e.Rate, 10)
	if e.Type == expr.LimitTypePktBytes {
		s += " bytes"
	}
	s += "/" + units[e.Unit]
	if e.Burst > 0 {
		s += fmt.Sprintf(" burst %d", e.Burst)
	}
	return s
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func hostU32(b []byte) uint32 {
	var buf [4]byte
	copy(buf[:], b)
	return binary.NativeEndian.Uint32(buf[:])
}

var protoNames = map[byte]string{1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6", 132: "sctp", 136: "udplite", 33: "dccp", 2: "igmp", 47: "gre", 50: "esp", 51: "ah"}

var ctStateBits = []struct {
	bit  uint32
	name string
}{{1, "invalid"}, {2, "established"}, {4, "related"}, {8, "new"}, {64, "untracked"}}

var ctStatusBits = []struct {
	bit  uint32
	name string
}{{1, "expected"}, {2, "seen-reply"}, {4, "assured"}, {8, "confirmed"}, {16, "snat"}, {32, "dnat"}, {512, "dying"}}

var rtnTypes = map[uint32]string{1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast", 6: "blackhole", 7: "unreachable", 8: "prohibit"}

var tcpFlagBits = []struct {
	bit  byte
	name string
}{{1, "fin"}, {2, "syn"}, {4, "rst"}, {8, "psh"}, {16, "ack"}, {32, "urg"}, {64, "ecn"}, {128, "cwr"}}

func flagNames(v uint32, table []struct {
	bit  uint32
	name string
}) []string {
	var out []string
	for _, b := range table {
		if v&b.bit != 0 {
			out = append(out, b.name)
		}
	}
	return out
}

func tcpFlags(v byte) string {
	var out []string
	for _, b := range tcpFlagBits {
		if v&b.bit != 0 {
			out = append(out, b.name)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ",")
}

// format renders register data as a value of the register's field.
func (d *decoder) format(v regVal, data []byte) string {
	switch v.field {
	case "l4proto", "ct_proto":
		if len(data) > 0 {
			if n, ok := protoNames[data[0]]; ok {
				return n
			}
			return strconv.Itoa(int(data[0]))
		}
	case "nfproto":
		if len(data) > 0 {
			switch data[0] {
			case unix.NFPROTO_IPV4:
				return "ipv4"
			case unix.NFPROTO_IPV6:
				return "ipv6"
			}
			return strconv.Itoa(int(data[0]))
		}
	case "saddr", "daddr", "ct_orig_saddr", "ct_orig_daddr":
		full := 4
		if v.l3 == "ipv6" {
			full = 16
		}
		buf := make([]byte, full)
		copy(buf, data)
		a, _ := netip.AddrFromSlice(buf)
		return a.String()
	case "sport", "dport", "ct_orig_sport", "ct_orig_dport":
		if len(data) >= 2 {
			return strconv.Itoa(int(binary.BigEndian.Uint16(data)))
		}
	case "iif", "oif":
		s := string(data)
		if i := strings.IndexByte(s, 0); i >= 0 {
			return s[:i]
		}
		return s + "*"
	case "ct_direction":
		if len(data) > 0 && data[0] <= 1 {
			return []string{"original", "reply"}[data[0]]
		}
	case "ttl", "length":
		n := 0
		for _, b := range data {
			n = n<<8 | int(b)
		}
		return strconv.Itoa(n)
	case "icmp_type", "icmp_code", "pkttype":
		if len(data) > 0 {
			return strconv.Itoa(int(data[0]))
		}
	case "mark", "ct_mark":
		return fmt.Sprintf("0x%x", hostU32(data))
	case "dst_type", "src_type":
		if n, ok := rtnTypes[hostU32(data)]; ok {
			return n
		}
	case "ethertype":
		if len(data) >= 2 {
			switch binary.BigEndian.Uint16(data) {
			case 0x0800:
				return "ipv4"
			case 0x86dd:
				return "ipv6"
			}
		}
	}
	return fmt.Sprintf("0x%x", data)
}

var pktTypes = map[string]string{"0": "host", "1": "broadcast", "2": "multicast", "3": "other"}

func (d *decoder) cmp(v regVal, op expr.CmpOp, data []byte) {
	switch v.field {
	case snapshot.FieldMayMatch, "unknown":
		d.undecided(v, false)
		return
	case "merged":
		d.cmpMerged(v, op, data)
		return
	case "const":
		d.unsupported("comparison of a constant")
		return
	}
	if (v.field == "mark" || v.field == "ct_mark") && v.netOrder {
		d.markNetOrder(v, op, data)
		return
	}
	neg := op == expr.CmpOpNeq
	switch v.field {
	case "mark", "ct_mark", "ct_state", "ct_status", "sport", "dport", "ct_orig_sport", "ct_orig_dport", "src_type", "dst_type":
		if len(data) < v.size {
			d.undecided(regVal{field: "unknown", reason: fmt.Sprintf("compare of the first %d bytes of %s", len(data), v.field)}, false)
			return
		}
	}
	m := snapshot.Match{Field: v.field, Negate: neg}
	switch op {
	case expr.CmpOpLt:
		m.Op = "lt"
	case expr.CmpOpLte:
		m.Op = "le"
	case expr.CmpOpGt:
		m.Op = "gt"
	case expr.CmpOpGte:
		m.Op = "ge"
	}
	if m.Op != "" && !orderedFields[v.field] {
		d.orderCmp(v, m, data)
		return
	}
	switch v.field {
	case "ct_state", "ct_status":
		table := ctStateBits
		if v.field == "ct_status" {
			table = ctStatusBits
		}
		val := hostU32(data)
		if v.mask != nil {
			mask := hostU32(v.mask)
			// "ct state established,related" is (state & mask) != 0.
			if val == 0 {
				m.Values = flagNames(mask, table)
				m.Negate = !neg
				break
			}
			if val == mask {
				// all bits set: only one-bit masks are common
				m.Values = flagNames(mask, table)
				break
			}
			d.unsupported("%s bit test", v.field)
			d.mayMatch(false, v.field+" bit test")
			return
		}
		m.Values = flagNames(val, table)
	case "saddr", "daddr", "ct_orig_saddr", "ct_orig_daddr":
		a := d.format(v, data)
		bitsLen := v.size * 8
		if len(data) < v.size {
			// nft compares only the first bytes of the register for a
			// prefix of whole bytes ("ct original ip saddr 10.0.0.0/8").
			if v.mask != nil {
				d.undecided(regVal{field: "unknown", reason: "masked compare of part of an address"}, false)
				return
			}
			bitsLen = len(data) * 8
		}
		if v.mask != nil {
			ones := 0
			for _, b := range v.mask {
				ones += bits.OnesCount8(b)
			}
			bitsLen = ones
			if !isPrefixMask(v.mask) || len(v.mask) != v.size {
				// A mask that is not a prefix: the address under the mask.
				if v.size*8 != map[string]int{"ipv4": 32, "ipv6": 128}[v.l3] {
					d.undecided(regVal{field: "unknown", reason: "mask on part of an address"}, false)
					return
				}
				m.Values = []string{a + "/" + d.format(v, v.mask)}
				break
			}
		}
		full := 32
		if v.l3 == "ipv6" {
			full = 128
		}
		if bitsLen < full {
			a = fmt.Sprintf("%s/%d", a, bitsLen)
		}
		m.Values = []string{a}
	case "mark", "ct_mark":
		if v.xor != nil && v.mask != nil {
			// (x & mask) ^ xor == data: x & mask == data ^ xor, which
			// never holds when data ^ xor has bits outside the mask.
			want, mask := hostU32(data)^hostU32(v.xor), hostU32(v.mask)
			if op != expr.CmpOpEq && op != expr.CmpOpNeq {
				d.undecided(regVal{field: "unknown", reason: "order compare of " + v.field + " after xor"}, false)
				return
			}
			if want&^mask != 0 {
				d.assume(neg, "")
				return
			}
			m.Values = []string{fmt.Sprintf("0x%x/0x%x", want, mask)}
			break
		}
		if v.mask != nil {
			m.Values = []string{fmt.Sprintf("0x%x/0x%x", hostU32(data), hostU32(v.mask))}
		} else {
			m.Values = []string{d.format(v, data)}
		}
	case "header_present":
		// "exthdr rt exists" compares with 1, "missing" with 0.
		present := len(data) > 0 && data[0] != 0
		d.rule.Matches = append(d.rule.Matches, snapshot.Match{Field: "header", Negate: neg == present, Values: []string{v.reason}})
		return
	case "header_field":
		return // the load already required the header
	case "sctp_chunk_present":
		// "sctp chunk init exists" compares with 1, "missing" with 0: the
		// simulator decides it for a first packet (one INIT chunk).
		present := len(data) > 0 && data[0] != 0
		d.rule.Matches = append(d.rule.Matches, snapshot.Match{Field: "first_chunks", Op: "any", Negate: neg == present, Values: []string{"sctp", v.reason}})
		return
	case "iif_index", "oif_index", "iif_type", "oif_type", "iif_group", "oif_group":
		d.ifaceBy(v, op, data)
		return
	case "ct_helper":
		name := strings.TrimRight(string(data), "\x00")
		if v.mask != nil || !strings.Contains(string(data), "\x00") {
			d.undecided(regVal{field: "unknown", reason: "compare of part of ct helper's name"}, false)
			return
		}
		m.Values = []string{name}
	case "ct_zone":
		if len(data) != 2 || v.mask != nil || v.netOrder {
			d.undecided(regVal{field: "unknown", reason: "masked or partial compare of ct zone"}, false)
			return
		}
		m.Values = []string{strconv.Itoa(int(binary.NativeEndian.Uint16(data)))}
	case "priority":
		d.priorityCmp(v, op, data)
		return
	case "frag_off":
		// iptables' -f is "frag-off & 0x1fff != 0": a fragment other than
		// the first. Other tests of the flags are the sender's choice.
		if op != expr.CmpOpEq && op != expr.CmpOpNeq || len(v.mask) != 2 || v.mask[0] != 0x1f || v.mask[1] != 0xff || !allZero(data) {
			d.mayMatch(false, snapshot.MayPayload+"ip frag-off: the fragment flags and offset the sender chose")
			return
		}
		d.rule.Matches = append(d.rule.Matches, snapshot.Match{Field: "header", Negate: !neg, Values: []string{"fragment"}})
		return
	case "xfrm_route":
		// "rt ipsec exists" compares with 1, "missing" with 0.
		present := len(data) > 0 && data[0] != 0
		d.assume(neg == present, "no IPsec policy of the host applies to the packet's route (rt ipsec)")
		return
	case "secpath":
		// "meta secpath exists" compares with 1, "missing" with 0.
		present := len(data) > 0 && data[0] != 0
		d.assume(neg == present, "the packet arrived without IPsec protection (meta secpath)")
		return
	case "rpf":
		// Only "missing" (0) and "exists" are compared in practice.
		found := !allZero(data)
		d.rule.Matches = append(d.rule.Matches, snapshot.Match{Field: "rpf", Negate: neg == found, Values: []string{v.reason}})
		return
	case "tcp_flags":
		if len(data) == 0 {
			// The kernel never lists one; a malformed message must not crash the collector.
			d.unsupported("tcp flags compared with no value")
			d.mayMatch(false, "tcp flags compared with no value")
			return
		}
		mask := byte(0xff)
		if len(v.mask) > 0 {
			mask = v.mask[0]
		}
		m.Values = []string{tcpFlags(mask) + "/" + tcpFlags(data[0])}
	case "pkttype":
		m.Values = []string{pktTypes[d.format(v, data)]}
	case "tos":
		// ip dscp and ip ecn are masks of the tos byte.
		if len(data) != 1 {
			d.undecided(regVal{field: "unknown", reason: "ip dscp/ecn compared with other than a byte"}, neg)
			return
		}
		switch {
		case v.mask == nil || allFF(v.mask):
			m.Values = []string{fmt.Sprintf("0x%02x/0xff", data[0])}
		case v.mask[0] == 0xfc:
			m.Field, m.Values = "dscp", []string{fmt.Sprintf("0x%02x", data[0]>>2)}
		case v.mask[0] == 0x03:
			m.Field, m.Values = "ecn", []string{strconv.Itoa(int(data[0] & 3))}
		default:
			m.Values = []string{fmt.Sprintf("0x%02x/0x%02x", data[0], v.mask[0])}
		}
	case "ethertype":
		m.Field = "nfproto"
		m.Values = []string{d.format(v, data)}
	default:
		if v.mask != nil && !allFF(v.mask) {
			d.unsupported("masked comparison of %s", v.field)
			d.mayMatch(false, "masked comparison of "+v.field)
			return
		}
		m.Values = []string{d.format(v, data)}
	}
	switch m.Field {
	case "nfproto":
		if !m.Negate && len(m.Values) == 1 {
			d.l3 = m.Values[0]
		}
	case "l4proto":
		if !m.Negate && len(m.Values) == 1 {
			d.l4 = m.Values[0]
		}
	}
	d.rule.Matches = append(d.rule.Matches, m)
}

// orderedFields are the fields whose order compares ("tcp dport >= 1024")
// the simulator reads, or that decode them themselves (an interface's
// index or group, the priority, fields whose value is the sender's or
// only says a header is there); others are listed value by value.
var orderedFields = map[string]bool{"sport": true, "dport": true, "saddr": true, "daddr": true,
	"ct_orig_saddr": true, "ct_orig_daddr": true, "ct_orig_sport": true, "ct_orig_dport": true,
	"ttl": true, "length": true, "priority": true, "tos": true,
	"header_field": true, "header_present": true, "sctp_chunk_present": true, "frag_off": true, "xfrm_route": true, "secpath": true, "rpf": true,
	"iif_index": true, "oif_index": true, "iif_type": true, "oif_type": true, "iif_group": true, "oif_group": true}

// orderCmp decodes an order compare of a one-byte field ("meta l4proto >=
// 5", nft's form of a range) as the values that satisfy it; of any other
// field it is not decoded.
func (d *decoder) orderCmp(v regVal, m snapshot.Match, data []byte) {
	switch v.field {
	case "l4proto", "icmp_type", "icmp_code", "nfproto":
	default:
		d.undecided(regVal{field: "unknown", reason: "order compare of " + v.field}, false)
		return
	}
	if len(data) != 1 || v.mask != nil {
		d.undecided(regVal{field: "unknown", reason: "order compare of " + v.field}, false)
		return
	}
	n := int(data[0])
	var vals []string
	for b := 0; b < 256; b++ {
		if m.Op == "lt" && b < n || m.Op == "le" && b <= n || m.Op == "gt" && b > n || m.Op == "ge" && b >= n {
			vals = append(vals, d.format(v, []byte{byte(b)}))
		}
	}
	if len(vals) == 0 {
		d.assume(false, "")
		return
	}
	m.Op, m.Values = "", vals
	d.rule.Matches = append(d.rule.Matches, m)
}

// isPrefixMask reports whether the mask's set bits all come first.
func isPrefixMask(b []byte) bool {
	zero := false
	for _, c := range b {
		for i := 7; i >= 0; i-- {
			set := c&(1<<i) != 0
			if set && zero {
				return false
			}
			zero = zero || !set
		}
	}
	return true
}

func allFF(b []byte) bool {
	for _, c := range b {
		if c != 0xff {
			return false
		}
	}
	return true
}

// keys collects the fields of a (possibly concatenated) set key starting at reg.
func (d *decoder) keys(reg uint32, n int) ([]string, string) {
	i := regIndex(reg)
	var out []string
	for k := 0; k < n; k++ {
		v, ok := d.regs[i]
		if !ok {
			return nil, "set key register not written"
		}
		switch v.field {
		case snapshot.FieldMayMatch, "unknown":
			return nil, v.reason
		case "const":
			return nil, "a constant"
		case "merged":
			return nil, partNames(v.parts) + " loaded together"
		case "frag_off":
			return nil, snapshot.MayPayload + "ip frag-off: the fragment flags and offset the sender chose"
		case "iif_index", "oif_index", "iif_type", "oif_type", "iif_group", "oif_group":
			return nil, "the interface's " + v.field
		case "priority":
			return nil, "meta priority in a concatenation or map key"
		case "ct_proto", "ct_zone", "ct_helper":
			return nil, v.field + " as a set key"
		}
		if v.netOrder {
			return nil, "byte order of " + v.field + " converted"
		}
		if v.mask != nil && !allFF(v.mask) && v.field != "ct_state" && v.field != "ct_status" {
			return nil, "masked set key " + v.field
		}
		out = append(out, v.field)
		if v.size <= 0 {
			v.size = 4
		}
		i += (v.size + 3) / 4
	}
	return out, ""
}

func (d *decoder) lookup(e *expr.Lookup) {
	n := 1
	var set *snapshot.Set
	if d.sets != nil {
		set = d.sets(e.SetName)
	}
	if set != nil && len(set.KeyType) > 0 {
		n = len(set.KeyType)
	}
	if set != nil {
		for _, el := range set.Elements {
			if slicesContains(el.Key, "0x") {
				// A catch-all element ("*") or a key the collector read
				// as nothing: the lookup cannot be decided.
				d.unsupported("set @%s has an element with no key (a catch-all)", e.SetName)
				break
			}
		}
	}
	if n == 1 && !e.IsDestRegSet && (d.ifaceSet(e, set) || d.prioritySet(e, set) || d.markSet(e, set)) {
		return
	}
	keys, why := d.keys(e.SourceRegister, n)
	if e.IsDestRegSet {
		if e.DestRegister == 0 {
			if keys == nil {
				if !snapshot.HonestMay(why) {
					d.unsupported("verdict map @%s keyed by %s", e.SetName, why)
				}
				reason := "verdict map keyed by " + why
				if snapshot.HonestMay(why) {
					reason = why + " (the key of verdict map @" + e.SetName + ")"
				}
				d.rule.Verdict = snapshot.Verdict{Kind: snapshot.VerdictUnknown, Reason: reason, Set: e.SetName}
				return
			}
			d.rule.Verdict = snapshot.Verdict{Kind: snapshot.VerdictMap, Set: e.SetName, Keys: keys}
			return
		}
		d.set(e.DestRegister, regVal{field: "unknown", reason: "value from map @" + e.SetName, lookup: e.SetName, lookupKeys: keys})
		// a map lookup also fails (no match) when the key is absent
		if keys == nil {
			d.undecided(regVal{field: "unknown", reason: why}, false)
			return
		}
		d.rule.Matches = append(d.rule.Matches, snapshot.Match{Field: "set", Set: e.SetName, Keys: keys})
		return
	}
	if keys == nil {
		if snapshot.HonestMay(why) {
			d.mayMatch(e.Invert, why)
			return
		}
		d.undecided(regVal{field: "unknown", reason: "lookup in @" + e.SetName + " keyed by " + why}, e.Invert)
		return
	}
	d.rule.Matches = append(d.rule.Matches, snapshot.Match{Field: "set", Set: e.SetName, Keys: keys, Negate: e.Invert})
}

// metaUndecided is the register value of a meta key the model has no
// field for.
func metaUndecided(k expr.MetaKey) regVal {
	switch k {
	case expr.MetaKeyPRANDOM:
		return regVal{field: snapshot.FieldMayMatch, reason: snapshot.MayChance + "meta random"}
	case expr.MetaKeyCPU:
		return regVal{field: snapshot.FieldMayMatch, reason: snapshot.MayChance + "meta cpu: the CPU that handles the packet"}
	case expr.MetaKeyLEN:
		return regVal{field: snapshot.FieldMayMatch, reason: snapshot.MayPayload + "meta length: the packet's length"}
	case expr.MetaKeySKUID, expr.MetaKeySKGID:
		return regVal{field: snapshot.FieldMayMatch, reason: snapshot.MayProcess + "meta skuid or skgid: the local socket's owner"}
	case expr.MetaKeyCGROUP:
		return regVal{field: snapshot.FieldMayMatch, reason: snapshot.MayProcess + "meta cgroup: the local process's control group"}
	case 25: // NFT_META_SECPATH, missing from x/sys
		return regVal{field: "secpath", size: 1}
	case 30, 31, 32: // NFT_META_TIME_NS, NFT_META_TIME_DAY, NFT_META_TIME_HOUR
		return regVal{field: snapshot.FieldMayMatch, reason: snapshot.MayClock + "meta time, day or hour"}
	}
	return regVal{field: "unknown", reason: fmt.Sprintf("meta key %d", k)}
}

// ctUndecided is the register value of a ct key the model has no field for.
func ctUndecided(k expr.CtKey) regVal {
	switch k {
	case expr.CtKeyEXPIRATION, expr.CtKeyPKTS, expr.CtKeyBYTES, expr.CtKeyAVGPKT, expr.CtKeyLABELS:
		return regVal{field: snapshot.FieldMayMatch, reason: fmt.Sprintf("%sct key %d counts the connection's traffic or time", snapshot.MayHistory, k)}
	case 23: // NFT_CT_ID, missing from google/nftables
		return regVal{field: snapshot.FieldMayMatch, reason: snapshot.MayChance + "ct id: a keyed hash of the connection"}
	}
	return regVal{field: "unknown", reason: fmt.Sprintf("ct key %d", k)}
}

func (d *decoder) verdict(e *expr.Verdict) {
	v := snapshot.Verdict{}
	switch e.Kind {
	case expr.VerdictAccept:
		v.Kind = snapshot.VerdictAccept
	case expr.VerdictDrop:
		v.Kind = snapshot.VerdictDrop
	case expr.VerdictReturn:
		v.Kind = snapshot.VerdictReturn
	case expr.VerdictJump:
		v.Kind, v.Chain = snapshot.VerdictJump, e.Chain
	case expr.VerdictGoto:
		v.Kind, v.Chain = snapshot.VerdictGoto, e.Chain
	case expr.VerdictContinue:
		v.Kind = snapshot.VerdictContinue
	case expr.VerdictQueue:
		v.Kind = snapshot.VerdictQueue
	default:
		v.Kind, v.Reason = snapshot.VerdictUnknown, fmt.Sprintf("verdict code %d", e.Kind)
	}
	d.rule.Verdict = v
}

func (d *decoder) nat(e *expr.NAT) {
	v := snapshot.Verdict{Kind: snapshot.VerdictDNAT}
	if e.Type == expr.NATTypeSourceNAT {
		v.Kind = snapshot.VerdictSNAT
	}
	var addr, port string
	if e.RegAddrMin != 0 {
		a := d.get(e.RegAddrMin)
		if d.natMap(&v, a, e) {
			return
		}
		if a.field != "const" {
			d.unsupported("nat address taken from %s", a.reason)
			d.rule.Verdict = snapshot.Verdict{Kind: snapshot.VerdictUnknown, Reason: "nat address taken from " + a.reason}
			return
		}
		ip, ok := netip.AddrFromSlice(a.data)
		if !ok {
			d.rule.Verdict = snapshot.Verdict{Kind: snapshot.VerdictUnknown, Reason: "nat address not decoded"}
			return
		}
		addr = ip.String()
		if ip.Is6() {
			addr = "[" + addr + "]"
		}
	}
	if e.RegProtoMin != 0 {
		p := d.get(e.RegProtoMin)
		if p.field != "const" || len(p.data) < 2 {
			d.unsupported("nat port taken from %s", p.reason)
			d.rule.Verdict = snapshot.Verdict{Kind: snapshot.VerdictUnknown, Reason: "nat port taken from " + p.reason}
			return
		}
		port = strconv.Itoa(int(binary.BigEndian.Uint16(p.data)))
	}
	v.To = addr
	if port != "" {
		v.To = addr + ":" + port
	}
	if v.To != "" && addr == "" {
		v.To = ":" + port
	}
	d.rule.Verdict = v
}

// natMap decodes "dnat to ip saddr map { 10.0.0.1 : 192.168.0.1 }": the
// new address is the map's value for the packet's key, which the simulator
// looks up. False when the address comes from elsewhere, the map's values
// are no plain addresses, or a port is given besides.
func (d *decoder) natMap(v *snapshot.Verdict, a regVal, e *expr.NAT) bool {
	if a.lookup == "" || a.lookupKeys == nil || e.RegProtoMin != 0 || d.sets == nil {
		return false
	}
	set := d.sets(a.lookup)
	if set == nil || (set.DataType != "ipv4_addr" && set.DataType != "ipv6_addr") {
		return false
	}
	v.Set, v.Keys = a.lookup, a.lookupKeys
	d.rule.Verdict = *v
	return true
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
