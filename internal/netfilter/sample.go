// Addresses that stand for ranges in a simulation, and what part of the
// firewall a snapshot lacks.

package netfilter

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Representative is one address that stands for a range in a simulation.
type Representative struct {
	Addr netip.Addr
	// Why says what the address stands for ("" for a single address).
	Why string
}

// MaxRepresentatives bounds the addresses one check simulates.
const MaxRepresentatives = 32

// Representatives picks the addresses that stand for a peer range: the
// range itself when it is one address; else one address on the internet when
// the range covers it (0.0.0.0/0, ::/0), the first and last host of narrower
// ranges, and every address the ruleset names (as a source for inbound, a
// destination for outbound) inside the range, so that a rule covering part
// of the range shows. Loopback, link-local and multicast addresses named by
// the rules are left out of ranges wider than themselves.
func Representatives(fw *snapshot.Firewall, pfx netip.Prefix, dir Direction) []Representative {
	if pfx.IsSingleIP() {
		return []Representative{{Addr: pfx.Addr()}}
	}
	var out []Representative
	seen := map[netip.Addr]bool{}
	add := func(a netip.Addr, why string) {
		if a.IsValid() && pfx.Contains(a) && !seen[a] && len(out) < MaxRepresentatives {
			seen[a] = true
			out = append(out, Representative{Addr: a, Why: why})
		}
	}
	inet := InternetAddress(pfx.Addr().Is6())
	if pfx.Contains(inet) && pfx.Bits() <= 8 {
		add(inet, "an address on the internet")
	} else {
		first, last := HostRange(pfx)
		add(first, "first address of "+pfx.String())
		add(last, "last address of "+pfx.String())
	}
	field := "daddr"
	if dir == Inbound {
		field = "saddr"
	}
	if fw == nil {
		return out
	}
	for _, t := range fw.Tables {
		for _, ch := range t.Chains {
			for _, rl := range ch.Rules {
				for _, m := range rl.Matches {
					if m.Field != field {
						continue
					}
					for _, v := range m.Values {
						a, ok := firstAddr(v)
						if !ok || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() {
							continue
						}
						add(a, "named by the rules")
					}
				}
			}
		}
	}
	return out
}

// HostRange returns the first and last host addresses of a prefix (the
// network and broadcast addresses excluded when the prefix has room).
func HostRange(p netip.Prefix) (netip.Addr, netip.Addr) {
	first := p.Addr()
	last := first
	for b := p.Bits(); b < first.BitLen(); b++ {
		last = setBit(last, b)
	}
	if first.BitLen()-p.Bits() >= 2 {
		first, last = first.Next(), last.Prev()
	}
	return first, last
}

func setBit(a netip.Addr, bit int) netip.Addr {
	b := a.AsSlice()
	b[bit/8] |= 0x80 >> (bit % 8)
	out, _ := netip.AddrFromSlice(b)
	return out
}

// firstAddr reads the first address of a match value: an address, a CIDR or
// a range a-b.
func firstAddr(v string) (netip.Addr, bool) {
	v, _, _ = strings.Cut(v, "-")
	if p, err := netip.ParsePrefix(v); err == nil {
		if p.IsSingleIP() {
			return p.Addr().Unmap(), true
		}
		return p.Masked().Addr().Next().Unmap(), true
	}
	a, err := netip.ParseAddr(v)
	return a.Unmap(), err == nil
}

// LocalAddressFor picks the host address a packet from src is sent to: an
// address of the interface the host routes src through, of src's family;
// else any address of that family other than loopback.
func LocalAddressFor(fw *snapshot.Firewall, src netip.Addr) (netip.Addr, bool) {
	if fw == nil {
		return netip.Addr{}, false
	}
	iface := ""
	best := -1
	for _, rt := range fw.Routes {
		if rt.Dst.Addr().Is4() == src.Is4() && rt.Dst.Contains(src) && rt.Dst.Bits() > best {
			iface, best = rt.Interface, rt.Dst.Bits()
		}
	}
	var fallback netip.Addr
	for _, la := range fw.LocalAddresses {
		a := la.Prefix.Addr()
		if a.Is4() != src.Is4() || a.IsLoopback() || a.IsLinkLocalUnicast() {
			continue
		}
		if la.Interface == iface && iface != "" {
			return a, true
		}
		if !fallback.IsValid() {
			fallback = a
		}
	}
	return fallback, fallback.IsValid()
}

// GapFix says what would close the firewall's gaps, from what the collector
// recorded for each unreadable backend; "" when it could not tell (the
// explanation then names the gaps, and no fix is guessed).
func GapFix(s *snapshot.Snapshot) string {
	if s.Firewall == nil {
		return ""
	}
	var fixes []string
	for _, b := range s.Firewall.Backends {
		for _, f := range b.Fix {
			if !slices.Contains(fixes, f) {
				fixes = append(fixes, f)
			}
		}
	}
	return strings.Join(fixes, "; ")
}

// FirewallGaps lists the parts of the firewall the snapshot lacks (rulesets
// that could not be read, with why), empty when it is complete. An accept
// simulated over an incomplete firewall is not certain.
func FirewallGaps(s *snapshot.Snapshot) []string {
	var gaps []string
	if s.Firewall == nil {
		return []string{"no firewall section in the snapshot"}
	}
	for _, b := range s.Firewall.Backends {
		if !b.Available || b.Reason != "" {
			reason := b.Reason
			if reason == "" {
				reason = "not readable"
			}
			gaps = append(gaps, b.Name+": "+reason)
		}
	}
	if st, ok := s.Collector(snapshot.CollectorFirewall); ok && st.Status == snapshot.StatusPartial && len(gaps) == 0 {
		gaps = append(gaps, st.Reason)
	}
	return gaps
}

// Representative addresses: "somewhere on the internet" (documentation
// ranges, which no real ruleset names), used for 0.0.0.0/0 and ::/0.
var (
	internet4 = netip.MustParseAddr("198.51.100.1")
	internet6 = netip.MustParseAddr("2001:db8::1")
)

// InternetAddress is the address hostdrift uses for "somewhere on the
// internet" in the given family: 198.51.100.1 or 2001:db8::1.
func InternetAddress(v6 bool) netip.Addr {
	if v6 {
		return internet6
	}
	return internet4
}
