package netfilter

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// The question hostdrift answers is about the first packet of a new
// connection from a fresh peer: a TCP SYN or a UDP datagram with no IPv6
// extension header, no IPv4 option, not a fragment, from a peer that sent
// nothing before, under normal load. This file decides the matches that
// only make sense with that packet in mind.

// selfNegating fields apply their own "!" (it is not a plain negation, or
// the rule breaks whatever the compare, as nft's ct helper without one).
func selfNegating(f field) bool {
	return f == fIPv6Header || f == fIPv4Options || f == fRecent || f == fCtHelper
}

// header decides "the packet carries one of these headers": the first packet
// carries none, unless its own protocol is the header (esp, ah), whose
// fields are not interpreted.
func (w *walker) header(m *cMatch) (tri, string) {
	for _, v := range m.vals {
		if v.str == w.p.Protocol || (v.str == "mh" && w.p.Protocol == "ipv6-mh") {
			return may, "fields of the " + v.str + " header are not interpreted"
		}
	}
	return no, ""
}

// ipv6HeaderNames gives each name ip6tables' ipv6header accepts its header.
var ipv6HeaderNames = map[string]string{
	"hop": "hop", "hop-by-hop": "hop", "0": "hop",
	"dst": "dst", "ipv6-opts": "dst", "60": "dst",
	"route": "route", "ipv6-route": "route", "43": "route",
	"frag": "frag", "ipv6-frag": "frag", "44": "frag",
	"auth": "auth", "ah": "auth", "51": "auth",
	"esp": "esp", "50": "esp",
	"none": "none", "ipv6-nonxt": "none", "59": "none",
	"prot": "prot", "protocol": "prot", "255": "prot",
}

// ipv6Header decides -m ipv6header (ip6t_ipv6header.c) for a packet whose
// only header after the IPv6 one is its protocol's.
func (w *walker) ipv6Header(m *cMatch) (tri, string) {
	present := map[string]bool{"prot": true}
	if w.p.Protocol == "esp" {
		present = map[string]bool{"esp": true}
	}
	listed := map[string]bool{}
	for _, v := range m.vals {
		h, ok := ipv6HeaderNames[v.str]
		if !ok {
			return may, "ipv6header name " + v.str + " not understood"
		}
		listed[h] = true
	}
	if m.op == "soft" {
		// every listed header present, or with "!" none of them
		for h := range listed {
			if present[h] == m.neg {
				return no, ""
			}
		}
		return yes, ""
	}
	same := len(listed) == len(present)
	for h := range present {
		same = same && listed[h]
	}
	return boolTri(same != m.neg), ""
}

// ipv4Options decides -m ipv4options for a packet with no option: with
// --any it matches when an option is inverted, else when all are.
func (w *walker) ipv4Options(m *cMatch) (tri, string) {
	inverted := 0
	for _, v := range m.vals {
		if strings.HasPrefix(v.str, "!") {
			inverted++
		}
	}
	if m.op == "any" {
		return boolTri(inverted > 0), ""
	}
	return boolTri(inverted == len(m.vals)), ""
}

func parseRecent(m *snapshot.Match) (*recentSpec, error) {
	if len(m.Values) != 4 {
		return nil, fmt.Errorf("recent match with %d values, want 4", len(m.Values))
	}
	hc, err1 := strconv.Atoi(m.Values[2])
	sec, err2 := strconv.Atoi(m.Values[3])
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("recent match values %q not understood", m.Values)
	}
	switch m.Op {
	case "set", "rcheck", "update", "remove":
	default:
		return nil, fmt.Errorf("recent action %q not understood", m.Op)
	}
	return &recentSpec{action: m.Op, list: m.Values[0], side: m.Values[1], hitcount: hc, seconds: sec}, nil
}

// recentMatch runs -m recent as xt_recent.c does, on lists that hold nothing
// for this peer before the packet: the packet's own --set and --update are
// its only hits. The "!" is applied here, since --update records a hit only
// when the match (after "!") holds.
func (w *walker) recentMatch(cr *cRule, m *cMatch) (tri, string) {
	rs := m.recent
	key := rs.list + "|" + rs.side
	if w.recent == nil {
		w.recent = map[string]int{}
	}
	hits := w.recent[key]
	var found bool
	switch rs.action {
	case "set":
		found = true
	case "remove":
		found = hits > 0
		if found {
			delete(w.recent, key)
		}
	default:
		need := rs.hitcount
		if need < 1 {
			need = 1
		}
		found = hits >= need
		if !found {
			// Earlier packets could only have added hits.
			w.cond = recentCondition(cr, rs)
		}
	}
	ret := found != m.neg
	if rs.action == "set" || (rs.action == "update" && ret) {
		w.recent[key] = hits + 1
	}
	if rs.action == "remove" && !found {
		w.cond = "the " + peerWord(rs.side) + " is not on recent list " + rs.list
	}
	return boolTri(ret), ""
}

func peerWord(side string) string {
	if side == "dst" {
		return "destination"
	}
	return "source"
}

// recentCondition says what a recent check assumes, in UFW's words when the
// rule is UFW's limit.
func recentCondition(cr *cRule, rs *recentSpec) string {
	if rs.hitcount > 1 && rs.seconds > 0 && strings.HasSuffix(cr.r.Verdict.Chain, "-user-limit") {
		return fmt.Sprintf("the source opened fewer than %d new connections within %d s: UFW's `limit` rejects the %s", rs.hitcount, rs.seconds, ordinal(rs.hitcount))
	}
	what := "an entry"
	if rs.hitcount > 1 {
		what = fmt.Sprintf("%d hits", rs.hitcount)
	}
	if rs.seconds > 0 {
		what += fmt.Sprintf(" within %d s", rs.seconds)
	}
	return fmt.Sprintf("the %s sent nothing before (-m recent --%s looks for %s on list %s)", peerWord(rs.side), rs.action, what, rs.list)
}

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}

// condIn names the chain an assumption was made in, unless it names its
// manager already.
func condIn(cc *cChain, cond string) string {
	if strings.Contains(cond, "UFW's") {
		return cond
	}
	return fmt.Sprintf("%s (chain %s, table %s %s)", cond, cc.c.Name, cc.table.t.Family, cc.table.t.Name)
}

// rpf decides nft's reverse path filter (nft_fib's saddr lookup) with the
// main routing table of the snapshot: a route back to the source exists
// (loose) and leaves by the interface the packet came in by (strict).
// Packets from lo always pass; link-local and multicast sources, which the
// kernel treats apart, stay undecided.
func (w *walker) rpf(m *cMatch) (tri, string) {
	src := w.p.Src.Unmap()
	switch {
	case w.p.InIface == "lo":
		return yes, ""
	case !src.IsValid():
		return may, "source address not given"
	case src.IsLinkLocalUnicast() || src.IsMulticast() || src.IsUnspecified():
		return may, "reverse path of a link-local or multicast source"
	}
	out := w.prog.route(src)
	if len(m.vals) == 1 && m.vals[0].str == "strict" {
		return boolTri(out != "" && out == w.p.InIface), ""
	}
	return boolTri(out != ""), ""
}
