package netfilter

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// ipsetMatch decides -m set --match-set as xt_set and the set types do:
// fewer directions than the set has dimensions, or another family, never
// match; an exception (nomatch) wins when it is the most specific member.
// A fresh peer is not in a set whose members expire (filled at run time by
// -j SET or a daemon), unless listed already.
func (w *walker) ipsetMatch(m *cMatch) (tri, string) {
	s := m.ipset
	r, why := w.inIPSet(s, m.m.Keys, 0)
	if r == no && s.Timeout > 0 {
		if w.setsUpdated["ipset:"+s.Name] {
			return may, "ipset " + s.Name + " is filled by this very packet"
		}
		w.cond = "the peer is not in ipset " + s.Name + ", whose members expire and are added at run time"
	}
	return r, why
}

// ipsetDims are the dimensions of each type hostdrift matches.
var ipsetDims = map[string][]string{
	"hash:ip": {"ip"}, "hash:net": {"ip"}, "bitmap:ip": {"ip"},
	"hash:ip,port": {"ip", "port"}, "hash:net,port": {"ip", "port"},
	"hash:ip,port,ip": {"ip", "port", "ip"}, "hash:ip,port,net": {"ip", "port", "ip"}, "hash:net,port,net": {"ip", "port", "ip"},
	"hash:net,net": {"ip", "ip"}, "hash:net,iface": {"ip", "iface"}, "bitmap:port": {"port"},
}

func (w *walker) inIPSet(s *snapshot.IPSet, dirs []string, depth int) (tri, string) {
	if depth > 4 {
		return may, "ipset " + s.Name + ": list:set nested too deep"
	}
	if s.Type == "list:set" {
		res, why := no, ""
		for _, mem := range s.Members {
			sub := w.prog.ipsets[mem.Key[0]]
			if sub == nil {
				return may, "ipset " + mem.Key[0] + " (in " + s.Name + ") is missing from the snapshot"
			}
			switch r, y := w.inIPSet(sub, dirs, depth+1); r {
			case yes:
				return yes, ""
			case may:
				res, why = may, y
			}
		}
		return res, why
	}
	dims, ok := ipsetDims[s.Type]
	if !ok {
		return may, "ipset " + s.Name + " of type " + s.Type + " is not interpreted"
	}
	if len(dirs) < len(dims) {
		return no, ""
	}
	if (s.Family == "inet" && w.family() != "ipv4") || (s.Family == "inet6" && w.family() != "ipv6") {
		return no, ""
	}
	best, bestBits, found := false, -1, false
	for _, mem := range s.Members {
		if len(mem.Key) != len(dims) {
			return may, "ipset " + s.Name + " has members of another shape"
		}
		bits := 0
		all := true
		for i, d := range dims {
			r, b := w.ipsetDim(d, dirs[i], mem.Key[i], mem.Wildcard)
			if r == may {
				return may, "ipset " + s.Name + ": " + d + " " + mem.Key[i] + " not interpreted for this packet"
			}
			if r == no {
				all = false
				break
			}
			bits += b
		}
		if all && bits > bestBits {
			best, bestBits, found = !mem.NoMatch, bits, true
		}
	}
	return boolTri(found && best), ""
}

// ipsetDim matches one dimension of a member; bits is how specific it is.
func (w *walker) ipsetDim(dim, dir, key string, wildcard bool) (tri, int) {
	p := &w.p
	switch dim {
	case "ip":
		a := p.Dst
		if dir == "src" {
			a = p.Src
		}
		if !a.IsValid() {
			return may, 0
		}
		a = a.Unmap()
		if pf, err := netip.ParsePrefix(key); err == nil {
			return boolTri(pf.Contains(a)), pf.Bits()
		}
		e, err := netip.ParseAddr(key)
		if err != nil {
			return may, 0
		}
		return boolTri(e == a), e.BitLen()
	case "port":
		proto, port, hasProto := strings.Cut(key, ":")
		if !hasProto {
			proto, port = "", key
		}
		switch p.Protocol {
		case "tcp", "udp", "sctp", "udplite":
		case "icmp", "icmpv6":
			if proto == p.Protocol {
				return may, 0
			}
			return no, 0
		default:
			return no, 0
		}
		n, err := strconv.Atoi(port)
		if err != nil {
			return may, 0
		}
		pp := p.DstPort
		if dir == "src" {
			pp = p.SrcPort
		}
		return boolTri((proto == "" || proto == p.Protocol) && n == int(pp)), 0
	case "iface":
		if strings.HasPrefix(key, "physdev:") {
			return may, 0
		}
		name := p.OutIface
		if dir == "src" {
			name = p.InIface
		}
		if wildcard || strings.HasSuffix(key, "+") {
			pre := strings.TrimSuffix(key, "+")
			return boolTri(name != "" && strings.HasPrefix(name, pre)), 0
		}
		return boolTri(name == key), 0
	}
	return may, 0
}
