package netfilter

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Program is a firewall prepared for simulation: values parsed once, base
// chains ordered per hook, sets indexed.
type Program struct {
	fw     *snapshot.Firewall
	hooks  map[string][]*cChain // hook -> base chains by priority
	local  []snapshot.LocalAddress
	routes []snapshot.Route
	ipsets map[string]*snapshot.IPSet
	// zoneSetBy names a rule that may put connections in a conntrack zone
	// (nft's ct zone set, iptables' CT target); "" when none does and
	// every connection is in zone 0.
	zoneSetBy string
	// helperSetBy names a rule that may give connections a helper (nft's
	// ct helper set, iptables' CT); "" when none does.
	helperSetBy string
}

type cTable struct {
	t      *snapshot.Table
	chains map[string]*cChain
	sets   map[string]*cSet
	ipsets map[string]*snapshot.IPSet
}

type cChain struct {
	table *cTable
	c     *snapshot.Chain
	rules []cRule
	order int
}

type cRule struct {
	r       *snapshot.Rule
	matches []cMatch
	// may is set when the rule holds something not understood.
	may string
	// inert rules have no verdict and no effect on the packet (log, counter).
	inert bool
}

type field int8

const (
	fUnknown field = iota
	fNfproto
	fL4proto
	fSaddr
	fDaddr
	fSport
	fDport
	fPort
	fIif
	fOif
	fCtState
	fCtStatus
	fCtDirection
	fSrcType
	fDstType
	fIcmpType
	fMark
	fCtMark
	fTCPFlags
	fPkttype
	fSet
	fRandom
	fHeader
	fIPv6Header
	fIPv4Options
	fRecent
	fAssume
	fRPF
	fIPSet
	fIcmpCode
	fEthertype
	fCtProto
	fCtOrigSaddr
	fCtOrigDaddr
	fCtOrigSport
	fCtOrigDport
	fIPField
	fFirstChunks
	fPriority
	fCtZone
	fCtHelper
)

var fieldByName = map[string]field{
	"nfproto": fNfproto, "l4proto": fL4proto, "saddr": fSaddr, "daddr": fDaddr, "sport": fSport, "dport": fDport,
	"port": fPort, "iif": fIif, "oif": fOif, "ct_state": fCtState, "ct_status": fCtStatus, "ct_direction": fCtDirection,
	"src_type": fSrcType, "dst_type": fDstType, "icmp_type": fIcmpType, "mark": fMark, "ct_mark": fCtMark,
	"tcp_flags": fTCPFlags, "pkttype": fPkttype, "set": fSet, snapshot.FieldMayMatch: fRandom,
	"header": fHeader, "ipv6header": fIPv6Header, "ipv4options": fIPv4Options, "recent": fRecent, snapshot.FieldAssume: fAssume, "rpf": fRPF, "ipset": fIPSet,
	"icmp_code": fIcmpCode, "ethertype": fEthertype,
	"ct_proto": fCtProto, "ct_orig_saddr": fCtOrigSaddr, "ct_orig_daddr": fCtOrigDaddr, "ct_orig_sport": fCtOrigSport, "ct_orig_dport": fCtOrigDport,
	"tos": fIPField, "dscp": fIPField, "ecn": fIPField, "ttl": fIPField, "length": fIPField,
	"first_chunks": fFirstChunks, "priority": fPriority, "ct_zone": fCtZone, "ct_helper": fCtHelper,
}

// value is one parsed match value.
type value struct {
	lo, hi  netip.Addr // address range (prefixes become ranges)
	plo     uint32     // port, number, mark value or flag compare
	phi     uint32     // port range end, or mark mask
	str     string     // names
	wild    bool       // str is a prefix (iif "eth+")
	isRange bool
	// masked: the address matches when it equals lo under the mask hi (a
	// mask that is not a prefix, as iptables' -s 10.0.12.0/255.0.255.0).
	masked bool
}

// cMatch is one compiled match. A ruleset holds tens of thousands, so what
// only set, ipset and recent matches need is behind one pointer, nil for
// the others.
type cMatch struct {
	f   field
	neg bool
	// anyProto: a port match with no protocol match before it in the rule
	// (nft's th dport), which reads the bytes of any transport header.
	anyProto bool
	// assumed is the outcome of an assume match for a fresh peer.
	assumed tri
	op      string
	vals    []value
	reason  string
	m       *snapshot.Match
	*cMatchRare
}

// cMatchRare is what set, ipset and recent matches need besides.
type cMatchRare struct {
	set  *cSet
	keys []field
	// recent is the parsed -m recent match.
	recent *recentSpec
	// ipset is the set of an ipset match.
	ipset *snapshot.IPSet
}

// recentSpec is one -m recent match: its action on a list keyed by the
// source or destination address.
type recentSpec struct {
	action, list, side string
	hitcount, seconds  int
}

type cSet struct {
	s      *snapshot.Set
	fields []field
	exact  map[string]int // canonical key -> element index
	ranged []int          // elements needing a scan
	elems  [][]value
	bad    string // why the set cannot be evaluated
}

var (
	cacheMu   sync.Mutex
	cacheFW   *snapshot.Firewall
	cacheProg *Program
)

// ProgramFor compiles fw, reusing the last compilation for the same pointer:
// every check of a run asks about the same snapshot, and compiling a large
// ruleset costs far more than simulating a packet through it. A firewall
// must not be modified once simulated.
func ProgramFor(fw *snapshot.Firewall) *Program {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if cacheFW == fw && cacheProg != nil {
		return cacheProg
	}
	p := Compile(fw)
	cacheFW, cacheProg = fw, p
	return p
}

// Compile prepares a firewall for many simulations.
func Compile(fw *snapshot.Firewall) *Program {
	p := &Program{fw: fw, hooks: map[string][]*cChain{}}
	if fw == nil {
		return p
	}
	p.local, p.routes = fw.LocalAddresses, fw.Routes
	ipsets := map[string]*snapshot.IPSet{}
	for i := range fw.IPSets {
		ipsets[fw.IPSets[i].Name] = &fw.IPSets[i]
	}
	p.ipsets = ipsets
	order := 0
	for ti := range fw.Tables {
		t := &fw.Tables[ti]
		ct := &cTable{t: t, chains: map[string]*cChain{}, sets: map[string]*cSet{}, ipsets: ipsets}
		for si := range t.Sets {
			ct.sets[t.Sets[si].Name] = compileSet(&t.Sets[si])
		}
		for ci := range t.Chains {
			c := &t.Chains[ci]
			cc := &cChain{table: ct, c: c, order: order, rules: make([]cRule, 0, len(c.Rules))}
			order++
			for ri := range c.Rules {
				cc.rules = append(cc.rules, compileRule(ct, &c.Rules[ri]))
				for _, e := range c.Rules[ri].Effects {
					where := fmt.Sprintf("%q in chain %s of table %s %s", c.Rules[ri].Text, c.Name, t.Family, t.Name)
					if (e.Kind == "ct_zone" || e.Kind == "ct") && p.zoneSetBy == "" {
						p.zoneSetBy = where
					}
					if (e.Kind == "ct_helper" || e.Kind == "ct") && p.helperSetBy == "" {
						p.helperSetBy = where
					}
				}
			}
			ct.chains[c.Name] = cc
			if c.Base() {
				p.hooks[c.Hook] = append(p.hooks[c.Hook], cc)
			}
		}
	}
	for _, chains := range p.hooks {
		sort.SliceStable(chains, func(i, j int) bool {
			if chains[i].c.Priority != chains[j].c.Priority {
				return chains[i].c.Priority < chains[j].c.Priority
			}
			return chains[i].order < chains[j].order
		})
	}
	return p
}

func compileRule(ct *cTable, r *snapshot.Rule) cRule {
	cr := cRule{r: r, inert: r.Verdict.Kind == snapshot.VerdictContinue, matches: make([]cMatch, 0, len(r.Matches))}
	for _, e := range r.Effects {
		if e.Kind != "log" && e.Kind != "counter" {
			cr.inert = false
		}
	}
	for _, m := range r.Matches {
		if m.Field == "recent" {
			cr.inert = false // --set and --update record the packet
		}
	}
	if len(r.Unsupported) > 0 {
		cr.may = "rule not fully understood (" + strings.Join(r.Unsupported, "; ") + ")"
	}
	protoSeen := false
	for i := range r.Matches {
		m := &r.Matches[i]
		cm := cMatch{f: fieldByName[m.Field], neg: m.Negate, op: m.Op, m: m, reason: m.Reason}
		switch cm.f {
		case fL4proto:
			protoSeen = protoSeen || !m.Negate
		case fSport, fDport, fPort:
			cm.anyProto = !protoSeen
		}
		switch cm.f {
		case fUnknown:
			cm.f, cm.reason = fRandom, "match on "+m.Field+" is not interpreted"
		case fRandom:
			if cm.reason == "" {
				cm.reason = "match whose outcome is unknowable"
			}
		case fRecent:
			cm.cMatchRare = &cMatchRare{}
			rs, err := parseRecent(m)
			if err != nil {
				cm.f, cm.reason = fRandom, err.Error()
				break
			}
			cm.recent = rs
		case fAssume:
			switch {
			case len(m.Values) == 1 && m.Values[0] == snapshot.AssumeMatch:
				cm.assumed = yes
			case len(m.Values) == 1 && m.Values[0] == snapshot.AssumeNoMatch:
				cm.assumed = no
			default:
				cm.f, cm.reason = fRandom, fmt.Sprintf("assumed outcome %q not understood", m.Values)
			}
		case fHeader, fIPv6Header, fIPv4Options, fRPF, fFirstChunks:
			for _, v := range m.Values {
				cm.vals = append(cm.vals, value{str: strings.ToLower(v)})
			}
		case fIPSet:
			cm.cMatchRare = &cMatchRare{ipset: ct.ipsets[m.Set]}
			switch {
			case m.Reason != "":
				cm.f, cm.reason = fRandom, m.Reason
			case cm.ipset == nil:
				cm.f, cm.reason = fRandom, "ipset "+m.Set+" is missing from the snapshot"
			}
		case fSet:
			cm.cMatchRare = &cMatchRare{set: ct.sets[m.Set]}
			for _, k := range m.Keys {
				cm.keys = append(cm.keys, fieldByName[k])
			}
			if cm.set == nil {
				cm.f, cm.reason = fRandom, "set @"+m.Set+" is missing from the snapshot"
			}
		default:
			cm.vals = make([]value, 0, len(m.Values))
			for _, v := range m.Values {
				pv, err := parseValue(cm.f, v)
				if err != nil {
					cm.f, cm.reason = fRandom, fmt.Sprintf("value %q of %s not understood", v, m.Field)
					break
				}
				cm.vals = append(cm.vals, pv)
			}
		}
		cr.matches = append(cr.matches, cm)
	}
	return cr
}

func compileSet(s *snapshot.Set) *cSet {
	cs := &cSet{s: s, exact: map[string]int{}}
	for _, k := range s.KeyType {
		cs.fields = append(cs.fields, fieldOfType(k))
	}
	for i, e := range s.Elements {
		if len(e.Key) != len(cs.fields) {
			cs.bad = "set @" + s.Name + " has elements of another shape"
			continue
		}
		var vals []value
		exact := true
		var key []string
		for j, k := range e.Key {
			v, err := parseValue(cs.fields[j], k)
			if err != nil {
				cs.bad = fmt.Sprintf("element %q of @%s not understood", k, s.Name)
				break
			}
			if v.isRange || v.wild {
				exact = false
			}
			vals = append(vals, v)
			key = append(key, canonical(cs.fields[j], v))
		}
		cs.elems = append(cs.elems, vals)
		if len(vals) != len(e.Key) {
			continue
		}
		if exact {
			cs.exact[strings.Join(key, "|")] = i
		} else {
			cs.ranged = append(cs.ranged, i)
		}
	}
	return cs
}

// fieldOfType tells how to parse set elements of an nft datatype.
func fieldOfType(t string) field {
	switch t {
	case "ipv4_addr", "ipv6_addr":
		return fDaddr
	case "inet_service":
		return fDport
	case "inet_proto":
		return fL4proto
	case "ifname":
		return fIif
	case "ct_state":
		return fCtState
	case "ct_status":
		return fCtStatus
	case "mark":
		return fMark
	case "icmp_type", "icmpv6_type":
		return fIcmpType
	case "fib_addrtype":
		return fDstType
	case "nf_proto":
		return fNfproto
	case "tcp_flag":
		return fTCPFlags
	case "ether_type":
		return fEthertype
	}
	return fUnknown
}

func canonical(f field, v value) string {
	switch f {
	case fSaddr, fDaddr:
		return v.lo.String()
	case fSport, fDport, fPort, fMark, fCtMark:
		return strconv.FormatUint(uint64(v.plo), 10)
	}
	return v.str
}

// parseValue reads one match value for field f.
func parseValue(f field, s string) (value, error) {
	switch f {
	case fSaddr, fDaddr, fCtOrigSaddr, fCtOrigDaddr:
		return parseAddr(s)
	case fPriority, fCtZone:
		// "0x10001" or a range "0x10001-0x1ffff".
		lo, hi, ok := strings.Cut(s, "-")
		a, err := strconv.ParseUint(lo, 0, 32)
		if err != nil {
			return value{}, err
		}
		b := a
		if ok {
			if b, err = strconv.ParseUint(hi, 0, 32); err != nil {
				return value{}, err
			}
		}
		return value{plo: uint32(a), phi: uint32(b), isRange: a != b}, nil
	case fSport, fDport, fPort, fCtOrigSport, fCtOrigDport:
		lo, hi, ok := strings.Cut(s, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return value{}, err
		}
		b := a
		if ok {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil {
				return value{}, err
			}
		}
		return value{plo: uint32(a), phi: uint32(b), isRange: a != b}, nil
	case fIif, fOif:
		if strings.HasSuffix(s, "+") || strings.HasSuffix(s, "*") {
			return value{str: s[:len(s)-1], wild: true}, nil
		}
		return value{str: s}, nil
	case fMark, fCtMark:
		if lo, hi, ok := strings.Cut(s, "-"); ok {
			// A range of marks: "0x10-0x20".
			a, err := strconv.ParseUint(lo, 0, 32)
			if err != nil {
				return value{}, err
			}
			b, err := strconv.ParseUint(hi, 0, 32)
			if err != nil {
				return value{}, err
			}
			return value{plo: uint32(a), phi: uint32(b), isRange: true}, nil
		}
		v, m, hasMask := strings.Cut(s, "/")
		a, err := strconv.ParseUint(v, 0, 32)
		if err != nil {
			return value{}, err
		}
		mask := uint64(0xffffffff)
		if hasMask {
			if mask, err = strconv.ParseUint(m, 0, 32); err != nil {
				return value{}, err
			}
		}
		return value{plo: uint32(a), phi: uint32(mask)}, nil
	case fIcmpType:
		// "8/1" is type 8 with code 1 (phi holds the code plus one).
		t, c, ok := strings.Cut(strings.ToLower(s), "/")
		if !ok {
			return value{str: t}, nil
		}
		n, err := strconv.ParseUint(c, 10, 8)
		if err != nil {
			return value{}, err
		}
		return value{str: t, phi: uint32(n) + 1}, nil
	case fTCPFlags:
		mask, cmp, ok := strings.Cut(s, "/")
		if !ok {
			// A set element: the flags byte exactly.
			n, err := strconv.ParseUint(s, 0, 8)
			if err != nil {
				return value{}, fmt.Errorf("tcp flags %q", s)
			}
			return value{plo: 0xff, phi: uint32(n), str: strconv.FormatUint(n, 10)}, nil
		}
		return value{plo: tcpFlagBits(mask), phi: tcpFlagBits(cmp)}, nil
	case fIcmpCode:
		n, err := strconv.ParseUint(s, 0, 8)
		if err != nil {
			return value{}, err
		}
		return value{plo: uint32(n)}, nil
	case fL4proto, fCtProto:
		return value{str: snapshot.ProtocolName(s)}, nil
	case fSrcType, fDstType, fCtState, fCtStatus, fPkttype, fNfproto, fCtDirection, fEthertype:
		return value{str: strings.ToLower(s)}, nil
	}
	return value{str: s}, nil
}

func parseAddr(s string) (value, error) {
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		a, err := netip.ParseAddr(lo)
		if err != nil {
			return value{}, err
		}
		b, err := netip.ParseAddr(hi)
		if err != nil {
			return value{}, err
		}
		return value{lo: a, hi: b, isRange: true}, nil
	}
	if a, m, ok := strings.Cut(s, "/"); ok && strings.ContainsAny(m, ".:") {
		// A mask that is not a prefix, as iptables prints it.
		addr, err := netip.ParseAddr(a)
		if err != nil {
			return value{}, err
		}
		mask, err := netip.ParseAddr(m)
		if err != nil || mask.BitLen() != addr.BitLen() {
			return value{}, fmt.Errorf("mask %q of %q", m, s)
		}
		return value{lo: maskAddr(addr, mask), hi: mask, masked: true, isRange: true}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			// iptables prints masks as /255.255.0.0 only when non-contiguous
			return value{}, err
		}
		p = p.Masked()
		last := lastAddr(p)
		return value{lo: p.Addr(), hi: last, isRange: p.Bits() < p.Addr().BitLen()}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return value{}, err
	}
	return value{lo: a, hi: a}, nil
}

// maskAddr is a with every bit that is not set in mask cleared.
func maskAddr(a, mask netip.Addr) netip.Addr {
	b, m := a.AsSlice(), mask.AsSlice()
	for i := range b {
		b[i] &= m[i]
	}
	out, _ := netip.AddrFromSlice(b)
	return out
}

func lastAddr(p netip.Prefix) netip.Addr {
	if !p.IsValid() {
		return p.Addr() // nothing to widen (and no bytes to index)
	}
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

var tcpFlagNames = map[string]uint32{"fin": 1, "syn": 2, "rst": 4, "psh": 8, "ack": 16, "urg": 32, "ecn": 64, "cwr": 128, "all": 63, "none": 0}

func tcpFlagBits(s string) uint32 {
	var v uint32
	for _, f := range strings.Split(strings.ToLower(s), ",") {
		v |= tcpFlagNames[strings.TrimSpace(f)]
	}
	return v
}

var icmpTypes = map[string]int{
	"echo-reply": 0, "destination-unreachable": 3, "source-quench": 4, "redirect": 5, "echo-request": 8,
	"router-advertisement": 9, "router-solicitation": 10, "time-exceeded": 11, "parameter-problem": 12,
	"timestamp-request": 13, "timestamp-reply": 14,
}

var icmp6Types = map[string]int{
	"destination-unreachable": 1, "packet-too-big": 2, "time-exceeded": 3, "parameter-problem": 4,
	"echo-request": 128, "echo-reply": 129, "mld-listener-query": 130, "mld-listener-report": 131,
	"nd-router-solicit": 133, "nd-router-advert": 134, "nd-neighbor-solicit": 135, "nd-neighbor-advert": 136,
	"router-solicitation": 133, "router-advertisement": 134, "neighbour-solicitation": 135, "neighbour-advertisement": 136,
	"neighbor-solicitation": 135, "neighbor-advertisement": 136,
}

// icmpNum returns the number of an icmp type name or number, -1 if unknown.
func icmpNum(proto, s string) int {
	s = strings.ToLower(s)
	table := icmpTypes
	if proto == "icmpv6" {
		table = icmp6Types
	}
	if n, ok := table[s]; ok {
		return n
	}
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return -1
}

// Undecidable lists why the simulator cannot decide a match of the rule of
// table t of fw whatever the packet: may-matches the collector recorded,
// fields and values it does not interpret, sets missing from the snapshot.
// Matches that need a value the packet may lack are not listed.
func Undecidable(fw *snapshot.Firewall, t *snapshot.Table, r *snapshot.Rule) []string {
	ct := &cTable{t: t, chains: map[string]*cChain{}, sets: map[string]*cSet{}, ipsets: map[string]*snapshot.IPSet{}}
	for i := range fw.IPSets {
		ct.ipsets[fw.IPSets[i].Name] = &fw.IPSets[i]
	}
	for si := range t.Sets {
		ct.sets[t.Sets[si].Name] = compileSet(&t.Sets[si])
	}
	var out []string
	cr := compileRule(ct, r)
	for _, m := range cr.matches {
		if m.f == fRandom {
			out = append(out, m.reason)
		}
		if m.f == fSet && m.set != nil && m.set.bad != "" {
			out = append(out, m.set.bad)
		}
	}
	return out
}
