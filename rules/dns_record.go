package rules

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "dns_record",
		Summary: "a name's CNAME, MX, TXT (SPF), PTR (forward-confirmed), SRV or CAA records say what mail and certificates depend on",
		Attributes: []hcl.AttributeSchema{
			{Name: "name"},
			{Name: "type", Required: true},
			{Name: "server"},
			{Name: "expect"},
			{Name: "address"},
			{Name: "fcrdns"},
			{Name: "spf"},
			{Name: "spf_include"},
			{Name: "addresses"},
		},
		AttributeDocs: map[string]string{
			"name":        "the name whose records are asked (not for PTR)",
			"type":        "\"CNAME\", \"MX\", \"TXT\", \"PTR\", \"SRV\" or \"CAA\"",
			"server":      "ask this server (\"192.0.2.53\", \"[2001:db8::53]:53\") instead of the system resolvers",
			"expect":      "records that must be among the answers, one or a list, as dig +short prints them (MX \"10 mail.example.com\", SRV \"0 5 5060 sip.example.com\", CAA \"0 issue \\\"letsencrypt.org\\\"\")",
			"address":     "PTR: the address whose reverse name is asked, such as the host's public address",
			"fcrdns":      "PTR: true means a name the PTR gives must resolve back to the address (forward-confirmed reverse DNS, which mail receivers check)",
			"spf":         "TXT: true means the name's one SPF record (v=spf1) authorizes this host's addresses with ip4:/ip6:, or includes spf_include",
			"spf_include": "TXT with spf: a domain whose include: also counts as authorizing this host (a mail provider's)",
			"addresses":   "TXT with spf: the addresses that send mail, when not the host's own (behind NAT: [var.public_ip])",
		},
		Needs:  []string{snapshot.CollectorDNS},
		Decode: decodeDNSRecord,
	})
}

// recordCheck judges one name's records of one type.
type recordCheck struct {
	name       string
	typ        string
	server     string
	expect     []string
	address    netip.Addr
	fcrdns     bool
	spf        bool
	spfInclude string
	addresses  addressSet
}

func decodeDNSRecord(d *Decoder) Check {
	c := &recordCheck{typ: strings.ToUpper(d.OneOf("type", "", snapshot.DataTypes...)), server: decodeServer(d),
		address: d.Address("address"), fcrdns: d.Bool("fcrdns", false), spf: d.Bool("spf", false),
		spfInclude: snapshot.Canonical(d.String("spf_include", "")), addresses: decodeAddresses(d, "addresses")}
	switch {
	case c.typ == snapshot.TypePTR && d.Has("name"):
		d.Errorf("name", "PTR takes an address", "a PTR check names the address (address = \"198.51.100.7\"); its reverse name is worked out from it.")
	case c.typ == snapshot.TypePTR:
		if !c.address.IsValid() && d.Known("address") {
			d.Errorf("address", "Missing address", "a PTR check needs the address whose reverse name is asked.")
		}
		if c.address.IsValid() {
			c.name = reverseName(c.address)
		}
	default:
		if !d.Has("name") {
			d.Errorf("name", "Missing name", "a %s check needs the name whose records are asked.", c.typ)
			break
		}
		c.name = decodeName(d, d.String("name", ""))
	}
	if c.fcrdns && c.typ != snapshot.TypePTR {
		d.Errorf("fcrdns", "fcrdns is for PTR", "forward-confirmed reverse DNS is a property of PTR records; use type = \"PTR\".")
	}
	if (c.spf || c.spfInclude != "" || c.addresses.set) && c.typ != snapshot.TypeTXT {
		d.Errorf("spf", "spf is for TXT", "an SPF record is a TXT record; use type = \"TXT\".")
	}
	for _, e := range d.Strings("expect") {
		c.expect = append(c.expect, normRecord(c.typ, e))
	}
	return c
}

// normRecord puts a record as a policy writes it into the form the
// collector records: names lower case without the final dot, blanks single.
func normRecord(typ, v string) string {
	if typ == snapshot.TypeTXT || typ == snapshot.TypeCAA {
		return strings.TrimSpace(v)
	}
	f := strings.Fields(strings.ToLower(v))
	for i := range f {
		f[i] = strings.TrimSuffix(f[i], ".")
	}
	return strings.Join(f, " ")
}

// reverseName is the in-addr.arpa or ip6.arpa name of an address.
func reverseName(a netip.Addr) string {
	a = a.Unmap()
	b := a.AsSlice()
	var parts []string
	if a.Is4() {
		for i := len(b) - 1; i >= 0; i-- {
			parts = append(parts, fmt.Sprint(b[i]))
		}
		return strings.Join(parts, ".") + ".in-addr.arpa"
	}
	const hex = "0123456789abcdef"
	for i := len(b) - 1; i >= 0; i-- {
		parts = append(parts, string(hex[b[i]&0xf]), string(hex[b[i]>>4]))
	}
	return strings.Join(parts, ".") + ".ip6.arpa"
}

// Want asks for the records; the collector resolves a PTR's names itself.
func (c *recordCheck) Want(w *snapshot.Wants) {
	if c.name != "" {
		w.DNS = append(w.DNS, snapshot.DNSQuery{Name: c.name, Type: c.typ, Server: c.server})
	}
}

func (c *recordCheck) subject() string {
	if c.typ == snapshot.TypePTR {
		return fmt.Sprintf("the PTR of %s (%s)", c.address, c.name)
	}
	return c.name + " " + c.typ
}

func (c *recordCheck) Evaluate(s *snapshot.Snapshot) Result {
	r := Result{Expected: c.expected()}
	if s.DNS == nil {
		return Errorf("the snapshot holds no DNS section")
	}
	res, ok := s.DNS.Result(snapshot.DNSQuery{Name: c.name, Type: c.typ, Server: c.server})
	switch {
	case c.name == "":
		return Errorf("the check has no name to ask about")
	case !ok:
		return Errorf("%s was not asked when this snapshot was taken; take it again with this policy", c.subject())
	case res.Error != "":
		return Errorf("%s: %s", c.subject(), res.Error)
	case res.Rcode == "NXDOMAIN":
		r.Status, r.Observed = finding.Fail, "NXDOMAIN"
		r.Explanation = fmt.Sprintf("%s does not exist: NXDOMAIN from %s", c.name, answeredBy(res))
		r.Remediation = c.publishHint()
		return r
	case len(res.Data) == 0:
		r.Status, r.Observed = finding.Fail, "no records"
		r.Explanation = fmt.Sprintf("%s has no %s record (%s, no data, answered by %s)", c.name, c.typ, res.Rcode, answeredBy(res))
		r.Remediation = c.publishHint()
		return r
	}
	r.Observed = dataText(res.Data)
	var why, fix []string
	for _, e := range c.expect {
		if !hasData(res.Data, e) {
			why = append(why, fmt.Sprintf("%s has no record %q (it has %s, answered by %s)", c.subject(), e, r.Observed, answeredBy(res)))
			fix = append(fix, fmt.Sprintf("publish %s %s %s at the zone's DNS provider", c.name, c.typ, e))
		}
	}
	if c.spf {
		c.judgeSPF(s, res, &why, &fix)
	}
	if c.fcrdns {
		if e := c.judgeFCrDNS(s, res, &why, &fix); e != nil {
			return *e
		}
	}
	if len(why) > 0 {
		r.Status, r.Explanation, r.Remediation = finding.Fail, strings.Join(why, "; "), strings.Join(fix, "; ")
		return r
	}
	r.Status = finding.Pass
	r.Explanation = fmt.Sprintf("%s: %s (answered by %s)", c.subject(), r.Observed, answeredBy(res))
	return r
}

func (c *recordCheck) expected() string {
	parts := []string{c.subject() + " exists"}
	if len(c.expect) > 0 {
		parts = append(parts, "with "+strings.Join(c.expect, ", "))
	}
	if c.spf {
		parts = append(parts, "an SPF record authorizing this host")
	}
	if c.fcrdns {
		parts = append(parts, "naming a name that resolves back to "+c.address.String())
	}
	return strings.Join(parts, ", ")
}

func (c *recordCheck) publishHint() string {
	if c.typ == snapshot.TypePTR {
		return fmt.Sprintf("set the PTR of %s where the address block is delegated (usually the hosting provider's panel), to the host's mail name", c.address)
	}
	return fmt.Sprintf("publish the %s record of %s at the zone's DNS provider", c.typ, c.name)
}

func dataText(recs []snapshot.DataRecord) string {
	var v []string
	for _, d := range recs {
		v = append(v, fmt.Sprintf("%q", d.Value))
	}
	return strings.Join(v, ", ")
}

func hasData(recs []snapshot.DataRecord, want string) bool {
	for _, d := range recs {
		if d.Value == want || strings.EqualFold(d.Value, want) {
			return true
		}
	}
	return false
}
