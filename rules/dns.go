package rules

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "dns",
		Summary: "a name resolves, through the system resolvers or a named server, to the expected addresses",
		Attributes: []hcl.AttributeSchema{
			{Name: "name", Required: true},
			{Name: "type"},
			{Name: "server"},
			{Name: "expect"},
			{Name: "match"},
			{Name: "unresolved"},
		},
		AttributeDocs: map[string]string{
			"name":       "the name to resolve, such as host.fqdn",
			"type":       "\"A\" (default), \"AAAA\", or both as [\"A\", \"AAAA\"]",
			"server":     "ask this server (\"192.0.2.53\", \"[2001:db8::53]:53\") instead of the system resolvers",
			"expect":     "the addresses the answers must be: an address or a list (lists may nest, [host.addresses, var.public_addresses]); without it, any answer passes",
			"match":      "all (default): every answer is expected; any: one expected answer is enough",
			"unresolved": "what a name that does not resolve is: fail (default) or error",
		},
		Needs:  []string{snapshot.CollectorDNS},
		Decode: decodeDNS,
	})
}

// dnsCheck: name's A and/or AAAA records, as server (or the system resolvers)
// answers them, are all (or, with match any, include one) of expect.
type dnsCheck struct {
	name   string
	types  []string
	server string // address:port, empty for the system resolvers
	expect addressSet
	all    bool
	// unresolvedError turns "the name has no address" into an error rather
	// than a fail, for hosts where nobody promised the name would resolve.
	unresolvedError bool
	// expectVars are the policy variables expect refers to, and source
	// where the check is declared: the remediation names where a missing
	// address goes.
	expectVars []string
	source     string
}

func decodeDNS(d *Decoder) Check {
	c := &dnsCheck{
		name:            decodeName(d, d.String("name", "")),
		server:          decodeServer(d),
		all:             d.OneOf("match", "all", "all", "any") == "all",
		unresolvedError: d.OneOf("unresolved", "fail", "fail", "error") == "error",
		expect:          decodeAddresses(d, "expect"),
		expectVars:      d.Variables("expect"),
		source:          fmt.Sprintf("%s:%d", d.Block.DefRange.Filename, d.Block.DefRange.Start.Line),
	}
	types := d.Strings("type")
	if len(types) == 0 {
		types = []string{snapshot.TypeA}
	}
	for _, t := range types {
		t = strings.ToUpper(t)
		if t != snapshot.TypeA && t != snapshot.TypeAAAA {
			d.Errorf("type", "Invalid value for type", "%q is not a record type hostdrift checks; allowed: \"A\", \"AAAA\", or both as [\"A\", \"AAAA\"].", t)
			continue
		}
		if !contains(c.types, t) {
			c.types = append(c.types, t)
		}
	}
	return c
}

// decodeName validates a DNS name given in a policy. A single label is left
// for Evaluate to explain: host.fqdn is one on hosts without a domain, and
// that is a fact about the host, not a mistake in the policy.
func decodeName(d *Decoder, name string) string {
	if !d.Known("name") {
		return ""
	}
	name = snapshot.Canonical(name)
	if !validName(name) {
		d.Errorf("name", "Invalid DNS name", "%q is not a DNS name.", name)
		return ""
	}
	return name
}

func decodeServer(d *Decoder) string {
	s := d.String("server", "")
	if s == "" {
		return ""
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.String()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 53).String()
	}
	d.Errorf("server", "Invalid value for server", "%q is not an IP address with an optional port, like \"192.0.2.53\", \"192.0.2.53:53\" or \"[2001:db8::53]:53\" (a server named by a host name would need DNS to find DNS).", s)
	return ""
}

// addressSet is a list of expected addresses; set is false when the policy
// gave none.
type addressSet struct {
	set   bool
	addrs []netip.Addr
}

func (s addressSet) has(a netip.Addr) bool {
	for _, e := range s.addrs {
		if e.Unmap() == a.Unmap() {
			return true
		}
	}
	return false
}

// decodeAddresses reads an attribute that holds an address or a list of them;
// nested lists are flattened, so [host.addresses, var.public_ip] works.
func decodeAddresses(d *Decoder, name string) addressSet {
	a, ok := d.content.Attributes[name]
	if !ok {
		return addressSet{}
	}
	out := addressSet{set: true}
	v, diags := a.Expr.Value(d.ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return out
	}
	var strs []string
	if !flattenStrings(v, &strs) {
		d.Errorf(name, "Wrong type for "+name, "%s must be an IP address or a list of them (lists may nest: [host.addresses, var.public_ip]), not %s.", name, v.Type().FriendlyName())
		return out
	}
	for _, s := range strs {
		ip, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			d.Errorf(name, "Invalid address in "+name, "%q is not an IP address.", s)
			continue
		}
		out.addrs = append(out.addrs, ip)
	}
	return out
}

func flattenStrings(v cty.Value, out *[]string) bool {
	switch {
	case v.IsNull():
		return false
	case v.Type() == cty.String:
		*out = append(*out, v.AsString())
		return true
	case v.Type().IsListType() || v.Type().IsTupleType() || v.Type().IsSetType():
		for _, e := range v.AsValueSlice() {
			if !flattenStrings(e, out) {
				return false
			}
		}
		return true
	}
	return false
}

// Want asks for the name's records from the check's server.
func (c *dnsCheck) Want(w *snapshot.Wants) {
	if !strings.Contains(c.name, ".") {
		return
	}
	for _, t := range c.types {
		w.DNS = append(w.DNS, snapshot.DNSQuery{Name: c.name, Type: t, Server: c.server})
	}
}

func (c *dnsCheck) Evaluate(s *snapshot.Snapshot) Result {
	types := strings.Join(c.types, "/")
	r := Result{Expected: fmt.Sprintf("%s %s from %s", c.name, types, serverName(c.server, s.DNS))}
	if c.expect.set {
		verb := "all in"
		if !c.all {
			verb = "one of"
		}
		r.Expected += fmt.Sprintf(": %s %s", verb, describeExpected(c.expect, s))
	}
	if res := singleLabel(c.name, s); res != nil {
		return *res
	}
	results, failed, errRes := lookup(s, c.name, c.types, c.server)
	if errRes != nil {
		return *errRes
	}
	r.Observed = observed(results, failed)
	var got []snapshot.AddressRecord
	for _, q := range results {
		got = append(got, q.Records...)
	}
	note := hostsNote(s, c.name, c.server, results) + failedNote(results)
	// blind says what could not be judged: a failed query is never judged,
	// but it never hides a verdict on the answers that did come back.
	blind := queryErrors(c.name, failed)
	if len(got) == 0 {
		r.Status = finding.Fail
		if c.unresolvedError {
			r.Status = finding.Error
		}
		r.Explanation = unresolved(c.name, results) + note
		r.Remediation = "publish the record at the name's DNS provider (or fix the zone); a name that must resolve only inside should be checked against the internal server with server ="
		if len(failed) > 0 {
			// The failed type may hold the addresses: not a verdict.
			r.Status = finding.Error
			r.Explanation = blind + joinSemi(r.Explanation)
			r.Remediation = queryRemediation
		}
		return r
	}
	var bad, good int
	for _, rec := range got {
		if !c.expect.set || c.expect.has(rec.IP) {
			good++
		} else {
			bad++
		}
	}
	if (c.all && bad == 0) || (!c.all && good > 0) {
		r.Status = finding.Pass
		r.Explanation = describeAnswers(c.name, results, nil) + note
		if len(failed) > 0 && c.all {
			// Every answer that came back is right, but one type is unknown.
			r.Status = finding.Error
			r.Explanation = blind + "; the answers that did come back are as expected: " + r.Explanation
			r.Remediation = queryRemediation
		}
		return r
	}
	if !c.all && len(failed) > 0 {
		// The expected address may be in the answer that did not come back.
		r.Status = finding.Error
		r.Explanation = blind + fmt.Sprintf("; none of the answers that came back (%s) is %s", describeAnswers(c.name, results, nil), strings.TrimPrefix(notExpected(c.expect, s, false), "not "))
		r.Remediation = queryRemediation
		return r
	}
	r.Status = finding.Fail
	if c.all {
		subject := describeAnswers(c.name, results, func(a netip.Addr) bool { return !c.expect.has(a) })
		r.Explanation = fmt.Sprintf("%s %s %s", subject, isAre(bad), notExpected(c.expect, s, bad > 1))
	} else {
		r.Explanation = fmt.Sprintf("none of %s is %s", describeAnswers(c.name, results, nil), strings.TrimPrefix(notExpected(c.expect, s, false), "not "))
	}
	r.Explanation += note
	if len(failed) > 0 {
		r.Explanation += "; the other query could not be judged: " + blind
	}
	r.Remediation = "point the record at this host's current address (after a migration, every A and AAAA record and every alias target); lower the TTL before the next move. " + c.natHint()
	if stubAnswered(results) {
		r.Remediation += ". If the record is already right at its DNS provider, systemd-resolved or its upstream may still hold the old answer until its TTL runs out (`resolvectl flush-caches` empties resolved's cache)"
	}
	return r
}

// natHint says where an address this host is reached at but does not hold
// goes: the policy variable that feeds expect, named as the policy declared
// it, or this check's expect attribute.
func (c *dnsCheck) natHint() string {
	const never = "hostdrift never asks the internet for it"
	if len(c.expectVars) == 0 {
		return fmt.Sprintf("Behind NAT, add the public address to this check's expect (%s): %s", c.source, never)
	}
	return fmt.Sprintf("Behind NAT, give the public address in var.%s: `hostdrift check --var '%s=[\"ADDRESS\"]'` (%s)", c.expectVars[0], c.expectVars[0], never)
}

// queryRemediation is the hint for a query that failed.
const queryRemediation = "check that the resolver is reachable and can resolve the name (dig @SERVER NAME); a failed query is not a verdict on the record"

// queryErrors explains the queries that failed: "web1.example.com AAAA: no
// usable answer: 192.0.2.53:53: answered REFUSED".
func queryErrors(name string, failed []*snapshot.DNSResult) string {
	var parts []string
	for _, q := range failed {
		p := fmt.Sprintf("%s %s: %s", name, q.Type, q.Error)
		if len(q.Upstreams) > 0 {
			// The stub answers for its upstreams: say whose failure it is.
			p += " (systemd-resolved forwards to " + upstreams(q) + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

func joinSemi(s string) string {
	if s == "" {
		return ""
	}
	return "; " + s
}

// singleLabel explains why a name without a dot is not asked. The host's
// own name without a domain is a skip: there is no FQDN to resolve, which is
// a fact about the host, not blindness.
func singleLabel(name string, s *snapshot.Snapshot) *Result {
	if strings.Contains(name, ".") {
		return nil
	}
	if name == snapshot.Canonical(s.Host.FQDN) {
		res := Skipf("this host has no FQDN (hostname %s, no domain in /etc/hosts or resolv.conf search): nothing to resolve", s.Host.Hostname)
		res.Observed = "no FQDN"
		return &res
	}
	res := Errorf("%q is a single label, not a fully qualified name, so there is nothing to ask DNS", name)
	res.Remediation = "name a fully qualified name (name.example.com) in the check"
	return &res
}

// lookup returns the recorded answers for name's types and the queries that
// failed; a type that was never asked is an error result (the snapshot was
// taken with another policy).
func lookup(s *snapshot.Snapshot, name string, types []string, server string) (ok, failed []*snapshot.DNSResult, _ *Result) {
	for _, t := range types {
		q, found := s.DNS.Result(snapshot.DNSQuery{Name: name, Type: t, Server: server})
		if !found {
			res := Errorf("%s %s was not asked when this snapshot was taken; take it again with this policy", name, t)
			res.Remediation = "take the snapshot with the policy that holds this check, so the dns collector asks for the name"
			return nil, nil, &res
		}
		if q.Error != "" {
			failed = append(failed, q)
			continue
		}
		ok = append(ok, q)
	}
	return ok, failed, nil
}

// validName reports whether name is a DNS name: dot-separated labels of 1 to
// 63 printable characters, at most 253 in all.
func validName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	for _, l := range strings.Split(name, ".") {
		if l == "" || len(l) > 63 || strings.ContainsFunc(l, func(r rune) bool { return r <= ' ' || r > '~' }) {
			return false
		}
	}
	return true
}

func contains(ss []string, s string) bool {
	for _, e := range ss {
		if e == s {
			return true
		}
	}
	return false
}
