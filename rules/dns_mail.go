package rules

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// SPF is what an SPF record's mechanisms say about who may send.
type SPF struct {
	// Allowed are the ip4:/ip6: networks with a pass qualifier (+ or none).
	Allowed []netip.Prefix
	// Includes are the include: domains with a pass qualifier.
	Includes []string
	// Redirect is the redirect= domain, if any.
	Redirect string
}

// ParseSPF reads a TXT record as SPF (RFC 7208); ok is false when it is not
// one ("v=spf1" first). Mechanisms it does not judge (a, mx, exists, ptr)
// and malformed terms are left out.
func ParseSPF(txt string) (spf SPF, ok bool) {
	f := strings.Fields(txt)
	if len(f) == 0 || !strings.EqualFold(f[0], "v=spf1") {
		return spf, false
	}
	for _, term := range f[1:] {
		if k, v, isMod := strings.Cut(term, "="); isMod && !strings.Contains(k, ":") {
			if strings.EqualFold(k, "redirect") {
				spf.Redirect = snapshot.Canonical(v)
			}
			continue
		}
		qual := byte('+')
		if strings.ContainsRune("+-~?", rune(term[0])) {
			qual, term = term[0], term[1:]
		}
		if qual != '+' {
			continue
		}
		mech, arg, _ := strings.Cut(term, ":")
		switch strings.ToLower(mech) {
		case "ip4", "ip6":
			if p, err := netip.ParsePrefix(arg); err == nil {
				spf.Allowed = append(spf.Allowed, p.Masked())
			} else if a, err := netip.ParseAddr(arg); err == nil {
				spf.Allowed = append(spf.Allowed, netip.PrefixFrom(a, a.BitLen()))
			}
		case "include":
			if arg != "" {
				spf.Includes = append(spf.Includes, snapshot.Canonical(arg))
			}
		}
	}
	return spf, true
}

// Authorizes returns the first address the record's ip4:/ip6: networks
// allow.
func (s SPF) Authorizes(addrs []netip.Addr) (netip.Addr, netip.Prefix, bool) {
	for _, a := range addrs {
		for _, p := range s.Allowed {
			if p.Contains(a.Unmap()) {
				return a, p, true
			}
		}
	}
	return netip.Addr{}, netip.Prefix{}, false
}

// senders are the addresses the SPF record must authorize: the policy's,
// or the host's unicast addresses.
func (c *recordCheck) senders(s *snapshot.Snapshot) []netip.Addr {
	if c.addresses.set {
		return c.addresses.addrs
	}
	var out []netip.Addr
	for _, a := range s.Host.UnicastAddresses() {
		out = append(out, a.IP)
	}
	return out
}

// judgeSPF: one SPF record, authorizing the senders or including the
// provider named.
func (c *recordCheck) judgeSPF(s *snapshot.Snapshot, res *snapshot.DNSResult, why, fix *[]string) {
	var spfs []string
	for _, d := range res.Data {
		if _, ok := ParseSPF(d.Value); ok {
			spfs = append(spfs, d.Value)
		}
	}
	switch len(spfs) {
	case 0:
		*why = append(*why, fmt.Sprintf("%s has no SPF record (no TXT record starts with v=spf1): receivers cannot tell this host may send its mail", c.name))
		*fix = append(*fix, fmt.Sprintf("publish %s TXT \"v=spf1 %s ~all\"", c.name, mechanismFor(c.senders(s))))
		return
	case 1:
	default:
		*why = append(*why, fmt.Sprintf("%s has %d SPF records (%s): RFC 7208 makes that a permanent error, and receivers treat the mail as unauthenticated", c.name, len(spfs), strings.Join(spfs, "; ")))
		*fix = append(*fix, "merge them into one TXT record that starts with v=spf1")
		return
	}
	spf, _ := ParseSPF(spfs[0])
	senders := c.senders(s)
	if _, _, ok := spf.Authorizes(senders); ok {
		return
	}
	if c.spfInclude != "" && contains(spf.Includes, c.spfInclude) {
		return
	}
	var addrs []string
	for _, a := range senders {
		addrs = append(addrs, a.String())
	}
	who := "this host's addresses (" + strings.Join(addrs, ", ") + ")"
	if len(addrs) == 0 {
		who = "this host (it has no global address: set addresses to its public one)"
	}
	msg := fmt.Sprintf("the SPF record of %s (%q) authorizes none of %s", c.name, spfs[0], who)
	if c.spfInclude != "" {
		msg += " and does not include " + c.spfInclude
	} else if len(spf.Includes) > 0 {
		msg += fmt.Sprintf("; it includes %s, which hostdrift does not follow (name the provider with spf_include if that is how this host is authorized)", strings.Join(spf.Includes, ", "))
	}
	*why = append(*why, msg)
	*fix = append(*fix, fmt.Sprintf("add %s to the SPF record of %s", mechanismFor(senders), c.name))
}

func mechanismFor(addrs []netip.Addr) string {
	var m []string
	for _, a := range addrs {
		if a.Unmap().Is4() {
			m = append(m, "ip4:"+a.Unmap().String())
		} else {
			m = append(m, "ip6:"+a.String())
		}
	}
	if len(m) == 0 {
		return "ip4:ADDRESS"
	}
	return strings.Join(m, " ")
}

// judgeFCrDNS: a name the PTR gives resolves back to the address. It
// returns an error result when the forward lookups were not made or failed.
func (c *recordCheck) judgeFCrDNS(s *snapshot.Snapshot, res *snapshot.DNSResult, why, fix *[]string) *Result {
	typ := snapshot.TypeA
	if c.address.Unmap().Is6() {
		typ = snapshot.TypeAAAA
	}
	var seen []string
	for i, d := range res.Data {
		if i == 4 { // as many as the collector resolves
			break
		}
		fwd, ok := s.DNS.Result(snapshot.DNSQuery{Name: d.Value, Type: typ, Server: c.server})
		if !ok {
			e := Errorf("%s %s was not asked when this snapshot was taken; take it again with this version", d.Value, typ)
			return &e
		}
		if fwd.Error != "" {
			e := Errorf("the PTR of %s names %s, whose %s lookup failed: %s", c.address, d.Value, typ, fwd.Error)
			return &e
		}
		var got []string
		for _, rec := range fwd.Records {
			if rec.IP.Unmap() == c.address.Unmap() {
				return nil
			}
			got = append(got, rec.IP.String())
		}
		if len(got) == 0 {
			seen = append(seen, d.Value+" has no "+typ+" record")
		} else {
			seen = append(seen, fmt.Sprintf("%s resolves to %s", d.Value, strings.Join(got, ", ")))
		}
	}
	*why = append(*why, fmt.Sprintf("the PTR of %s is not forward-confirmed: %s, not %s; mail receivers that check reverse DNS reject or mark this host's mail", c.address, strings.Join(seen, "; "), c.address))
	*fix = append(*fix, fmt.Sprintf("give %s the %s record %s, or set the PTR of %s to a name that has it", res.Data[0].Value, typ, c.address, c.address))
	return nil
}
