package rules_test

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

// dnsHost is the host of the example: 198.51.100.7 on eth0 and
// 10.0.0.5 on eth1.
func dnsHost() snapshot.Host {
	addr := func(ip string) snapshot.Address {
		a := netip.MustParseAddr(ip)
		return snapshot.Address{IP: a, Family: snapshot.FamilyOf(a), Scope: "global"}
	}
	return snapshot.Host{Hostname: "www", FQDN: "www.example.com", Interfaces: []snapshot.Interface{
		{Name: "lo", Loopback: true, Addresses: []snapshot.Address{{IP: netip.MustParseAddr("127.0.0.1"), Family: snapshot.IPv4, Scope: "host"}}},
		{Name: "eth0", Addresses: []snapshot.Address{addr("198.51.100.7")}},
		{Name: "eth1", Addresses: []snapshot.Address{addr("10.0.0.5")}},
	}}
}

func answer(name, qtype, server, by string, ttl uint32, ips ...string) snapshot.DNSResult {
	r := snapshot.DNSResult{DNSQuery: snapshot.DNSQuery{Name: name, Type: qtype, Server: server}, AnsweredBy: by, Rcode: "NOERROR"}
	for _, ip := range ips {
		r.Records = append(r.Records, snapshot.AddressRecord{IP: netip.MustParseAddr(ip), TTL: ttl})
	}
	return r
}

// saved writes a snapshot as JSON and reads it back, as check --snapshot
// reads one.
func saved(t *testing.T, s *snapshot.Snapshot) *snapshot.Snapshot {
	t.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(s); err != nil {
		t.Fatal(err)
	}
	out, err := snapshot.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// dnsSnapshot is a saved snapshot: built by hand, written as JSON and read
// back, as check --snapshot reads one.
func dnsSnapshot(t *testing.T, hosts []snapshot.HostsEntry, queries ...snapshot.DNSResult) *snapshot.Snapshot {
	t.Helper()
	s := &snapshot.Snapshot{
		Schema: snapshot.Schema,
		Host:   dnsHost(),
		Collectors: []snapshot.CollectorStatus{
			{Name: "host", Status: snapshot.StatusOK}, {Name: "dns", Status: snapshot.StatusOK},
		},
		DNS: &snapshot.DNS{Resolvers: []string{"192.0.2.53:53"}, TimeoutMS: 2000, Attempts: 2, Hosts: hosts, Queries: queries},
	}
	back := saved(t, s)
	if !reflect.DeepEqual(back.DNS, s.DNS) {
		t.Fatalf("DNS section does not round-trip through JSON:\n%+v\n%+v", back.DNS, s.DNS)
	}
	return back
}

func dnsPlan(t *testing.T, src string, host *snapshot.Host, vars map[string]string) *rules.Plan {
	t.Helper()
	p, diags := rules.Load([]rules.Source{{Name: "dns.hcl", Text: []byte(src)}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	given, diags := rules.ReadVariables(rules.VariableInputs{Flags: vars})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, diags := p.Compile(host, given)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return plan
}

func dnsOne(t *testing.T, src string, s *snapshot.Snapshot, vars map[string]string) finding.Finding {
	t.Helper()
	fs := dnsPlan(t, src, &s.Host, vars).Evaluate(s, time.Now())
	if len(fs) != 1 {
		t.Fatalf("want 1 finding, got %d", len(fs))
	}
	return fs[0]
}

const wwwCheck = `
dns "www" {
  name   = "www.example.com"
  type   = "A"
  server = "192.0.2.53:53"
  expect = host.addresses
}
`

// bothCheck asks the system resolvers for A and AAAA, as the built-in
// policy does.
const bothCheck = `dns "both" {
  name   = "www.example.com"
  type   = ["A", "AAAA"]
  expect = host.addresses
}`

// refusedAAAA: the resolver refused the AAAA query.
var refusedAAAA = snapshot.DNSResult{DNSQuery: snapshot.DNSQuery{Name: "www.example.com", Type: "AAAA"}, AnsweredBy: "192.0.2.53:53", Rcode: "REFUSED",
	Failed: []string{"192.0.2.53:53: answered REFUSED (2 tries)"}, Error: "no usable answer: 192.0.2.53:53: answered REFUSED (2 tries)"}

func TestDNSExplanations(t *testing.T) {
	const srv = "192.0.2.53:53"
	hosts := []snapshot.HostsEntry{{Line: 3, IP: netip.MustParseAddr("10.9.9.9"), Names: []string{"app.example.com"}}}
	nx := snapshot.DNSResult{DNSQuery: snapshot.DNSQuery{Name: "www.example.com", Type: "A", Server: srv}, AnsweredBy: srv, Rcode: "NXDOMAIN", Authoritative: true}
	servfail := snapshot.DNSResult{DNSQuery: snapshot.DNSQuery{Name: "www.example.com", Type: "A", Server: srv}, AnsweredBy: srv, Rcode: "SERVFAIL",
		Failed: []string{srv + ": answered SERVFAIL (2 tries)"}, Error: "no usable answer: " + srv + ": answered SERVFAIL (2 tries)"}
	timeout := snapshot.DNSResult{DNSQuery: snapshot.DNSQuery{Name: "www.example.com", Type: "A", Server: srv},
		Failed: []string{srv + ": no answer within 2s (2 tries)"}, Error: "no usable answer: " + srv + ": no answer within 2s (2 tries)"}
	chain := answer("app.example.com", "A", "", "192.0.2.53:53", 60, "198.51.100.7")
	chain.CNAMEs = []snapshot.CNAME{{Name: "app.example.com", Target: "lb.example.net", TTL: 300}, {Name: "lb.example.net", Target: "web.example.net", TTL: 300}}
	fallback := answer("www.example.com", "A", "", "192.0.2.54:53", 300, "198.51.100.7")
	fallback.Failed = []string{"192.0.2.53:53: no answer within 2s (2 tries)"}

	cases := []struct {
		name, src string
		vars      map[string]string
		query     []snapshot.DNSResult
		status    finding.Status
		want      string
	}{
		{"pass", wwwCheck, nil, []snapshot.DNSResult{answer("www.example.com", "A", srv, srv, 300, "198.51.100.7")},
			finding.Pass, "www.example.com A 198.51.100.7 (answered by 192.0.2.53, TTL 300)"},
		{"stale address", wwwCheck, nil, []snapshot.DNSResult{answer("www.example.com", "A", srv, srv, 300, "203.0.113.10")},
			finding.Fail, "www.example.com A 203.0.113.10 (answered by 192.0.2.53, TTL 300) is not an address of this host; this host has 198.51.100.7 (eth0) and 10.0.0.5 (eth1)"},
		{"one stale among two", wwwCheck, nil, []snapshot.DNSResult{answer("www.example.com", "A", srv, srv, 300, "198.51.100.7", "203.0.113.10")},
			finding.Fail, "www.example.com A 203.0.113.10 (answered by 192.0.2.53, TTL 300) is not an address of this host; this host has 198.51.100.7 (eth0) and 10.0.0.5 (eth1)"},
		{"one stale among two, match any", strings.Replace(wwwCheck, "expect", "match = \"any\"\n  expect", 1), nil,
			[]snapshot.DNSResult{answer("www.example.com", "A", srv, srv, 300, "198.51.100.7", "203.0.113.10")},
			finding.Pass, "www.example.com A 198.51.100.7, 203.0.113.10 (answered by 192.0.2.53, TTL 300)"},
		{"none expected, match any", strings.Replace(wwwCheck, "expect", "match = \"any\"\n  expect", 1), nil,
			[]snapshot.DNSResult{answer("www.example.com", "A", srv, srv, 60, "203.0.113.10", "203.0.113.11")},
			finding.Fail, "none of www.example.com A 203.0.113.10, 203.0.113.11 (answered by 192.0.2.53, TTL 60) is an address of this host; this host has 198.51.100.7 (eth0) and 10.0.0.5 (eth1)"},
		{"NAT: the public address from a variable",
			"variable \"public_ip\" {}\n" + strings.Replace(wwwCheck, "host.addresses", "var.public_ip", 1), map[string]string{"public_ip": "203.0.113.10"},
			[]snapshot.DNSResult{answer("www.example.com", "A", srv, srv, 300, "203.0.113.7")},
			finding.Fail, "www.example.com A 203.0.113.7 (answered by 192.0.2.53, TTL 300) is not among the expected addresses: 203.0.113.10"},
		{"NXDOMAIN", wwwCheck, nil, []snapshot.DNSResult{nx},
			finding.Fail, "www.example.com does not exist: NXDOMAIN (authoritative) from 192.0.2.53"},
		{"NXDOMAIN as error", strings.Replace(wwwCheck, "expect", "unresolved = \"error\"\n  expect", 1), nil, []snapshot.DNSResult{nx},
			finding.Error, "www.example.com does not exist: NXDOMAIN (authoritative) from 192.0.2.53"},
		{"SERVFAIL", wwwCheck, nil, []snapshot.DNSResult{servfail},
			finding.Error, "www.example.com A: no usable answer: 192.0.2.53:53: answered SERVFAIL (2 tries)"},
		{"timeout", wwwCheck, nil, []snapshot.DNSResult{timeout},
			finding.Error, "www.example.com A: no usable answer: 192.0.2.53:53: no answer within 2s (2 tries)"},
		{"no data", wwwCheck, nil, []snapshot.DNSResult{answer("www.example.com", "A", srv, srv, 0)},
			finding.Fail, "www.example.com has no A record (NOERROR, no data, answered by 192.0.2.53)"},
		{"CNAME chain and an /etc/hosts shadow", `dns "app" {
  name   = "app.example.com"
  expect = host.addresses
}`, nil, []snapshot.DNSResult{chain},
			finding.Pass, "app.example.com → lb.example.net → web.example.net A 198.51.100.7 (answered by 192.0.2.53, TTL 60); note: /etc/hosts line 3 pins app.example.com to 10.9.9.9, so programs on this host get that address instead"},
		{"a resolver failed before another answered", `dns "www" {
  name   = "www.example.com"
  expect = host.addresses
}`, nil, []snapshot.DNSResult{fallback},
			finding.Pass, "www.example.com A 198.51.100.7 (answered by 192.0.2.54, TTL 300); before that answer, 192.0.2.53:53: no answer within 2s (2 tries)"},
		{"AAAA", `dns "v6" {
  name   = "www.example.com"
  type   = "AAAA"
  expect = ["2001:db8::7"]
}`, nil, []snapshot.DNSResult{answer("www.example.com", "AAAA", "", "[2001:db8::53]:53", 3600, "2001:db8::8")},
			finding.Fail, "www.example.com AAAA 2001:db8::8 (answered by 2001:db8::53, TTL 3600) is not among the expected addresses: 2001:db8::7"},
		{"A and AAAA pooled", `dns "both" {
  name   = "www.example.com"
  type   = ["A", "AAAA"]
  expect = [host.addresses, "2001:db8::7"]
}`, nil, []snapshot.DNSResult{answer("www.example.com", "A", "", "192.0.2.53:53", 300, "198.51.100.7"), answer("www.example.com", "AAAA", "", "192.0.2.53:53", 300)},
			finding.Pass, "www.example.com A 198.51.100.7 (answered by 192.0.2.53, TTL 300)"},
		// An error on one type never hides a fail on another: the stale A
		// answer is judged while AAAA is refused.
		{"A stale, AAAA refused", bothCheck, nil, []snapshot.DNSResult{answer("www.example.com", "A", "", "192.0.2.53:53", 300, "203.0.113.10"), refusedAAAA},
			finding.Fail, "www.example.com A 203.0.113.10 (answered by 192.0.2.53, TTL 300) is not an address of this host; this host has 198.51.100.7 (eth0) and 10.0.0.5 (eth1); the other query could not be judged: www.example.com AAAA: no usable answer: 192.0.2.53:53: answered REFUSED (2 tries)"},
		{"A right, AAAA refused", bothCheck, nil, []snapshot.DNSResult{answer("www.example.com", "A", "", "192.0.2.53:53", 300, "198.51.100.7"), refusedAAAA},
			finding.Error, "www.example.com AAAA: no usable answer: 192.0.2.53:53: answered REFUSED (2 tries); the answers that did come back are as expected: www.example.com A 198.51.100.7 (answered by 192.0.2.53, TTL 300)"},
		{"A no data, AAAA refused", bothCheck, nil, []snapshot.DNSResult{answer("www.example.com", "A", "", "192.0.2.53:53", 300), refusedAAAA},
			finding.Error, "www.example.com AAAA: no usable answer: 192.0.2.53:53: answered REFUSED (2 tries); www.example.com has no A record (NOERROR, no data, answered by 192.0.2.53)"},
		{"match any: A stale, AAAA refused", strings.Replace(bothCheck, "expect", "match = \"any\"\n  expect", 1), nil,
			[]snapshot.DNSResult{answer("www.example.com", "A", "", "192.0.2.53:53", 300, "203.0.113.10"), refusedAAAA},
			finding.Error, "www.example.com AAAA: no usable answer: 192.0.2.53:53: answered REFUSED (2 tries); none of the answers that came back (www.example.com A 203.0.113.10 (answered by 192.0.2.53, TTL 300)) is an address of this host; this host has 198.51.100.7 (eth0) and 10.0.0.5 (eth1)"},
		{"not asked", wwwCheck, nil, nil,
			finding.Error, "www.example.com A was not asked when this snapshot was taken; take it again with this policy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := dnsOne(t, c.src, dnsSnapshot(t, hosts, c.query...), c.vars)
			if f.Status != c.status || f.Explanation != c.want {
				t.Errorf("got %s: %s\nwant %s: %s", f.Status, f.Explanation, c.status, c.want)
			}
			if f.Status != finding.Pass && f.Remediation == "" {
				t.Errorf("no remediation")
			}
		})
	}
}

func TestDNSSingleLabelFQDN(t *testing.T) {
	s := dnsSnapshot(t, nil)
	s.Host.Hostname, s.Host.FQDN = "ci-box", "ci-box"
	plan := dnsPlan(t, `dns "fqdn" {
  name   = host.fqdn
  expect = host.addresses
}`, &s.Host, nil)
	if w := plan.Wants(); len(w.DNS) != 0 {
		t.Errorf("a single label is asked: %+v", w.DNS)
	}
	f := plan.Evaluate(s, time.Now())[0]
	want := `this host has no FQDN (hostname ci-box, no domain in /etc/hosts or resolv.conf search): nothing to resolve`
	if f.Status != finding.Skip || f.Explanation != want {
		t.Errorf("got %s: %s", f.Status, f.Explanation)
	}
}

func TestHostsEntry(t *testing.T) {
	entry := func(line int, ip string, names ...string) snapshot.HostsEntry {
		return snapshot.HostsEntry{Line: line, IP: netip.MustParseAddr(ip), Names: names}
	}
	own := `hosts_entry "own-name" {
  name           = [host.hostname, host.fqdn]
  expect         = host.addresses
  allow_loopback = true
}`
	shadow := `hosts_entry "app" {
  name = "app.example.com"
}`
	sys := "192.0.2.53:53"
	nx := snapshot.DNSResult{DNSQuery: snapshot.DNSQuery{Name: "app.example.com", Type: "A"}, AnsweredBy: sys, Rcode: "NXDOMAIN"}
	cases := []struct {
		name, src string
		hosts     []snapshot.HostsEntry
		query     []snapshot.DNSResult
		status    finding.Status
		want      string
	}{
		{"own name on loopback (Debian's 127.0.1.1)", own, []snapshot.HostsEntry{entry(1, "127.0.0.1", "localhost"), entry(2, "127.0.1.1", "www.example.com", "www")}, nil,
			finding.Pass, "/etc/hosts entries agree: line 2: 127.0.1.1 www www.example.com"},
		{"own name pinned to a former address", own, []snapshot.HostsEntry{entry(4, "10.0.0.4", "www.example.com", "www")}, nil,
			finding.Fail, "/etc/hosts line 4 pins www and www.example.com to 10.0.0.4, which is not an address of this host; this host has 198.51.100.7 (eth0) and 10.0.0.5 (eth1)"},
		{"own name absent", own, nil, nil,
			finding.Pass, "/etc/hosts has no entry for www and www.example.com; lookups go to DNS"},
		{"shadow: agrees with DNS", shadow, []snapshot.HostsEntry{entry(3, "198.51.100.9", "app.example.com")},
			[]snapshot.DNSResult{answer("app.example.com", "A", "", sys, 300, "198.51.100.9"), answer("app.example.com", "AAAA", "", sys, 300)},
			finding.Pass, "/etc/hosts entries agree: line 3: 198.51.100.9 app.example.com"},
		{"shadow: differs from DNS", shadow, []snapshot.HostsEntry{entry(3, "10.9.9.9", "app.example.com")},
			[]snapshot.DNSResult{answer("app.example.com", "A", "", sys, 300, "198.51.100.9"), answer("app.example.com", "AAAA", "", sys, 300)},
			finding.Fail, "/etc/hosts line 3 pins app.example.com to 10.9.9.9, but DNS answers app.example.com A 198.51.100.9 (answered by 192.0.2.53, TTL 300): programs on this host reach 10.9.9.9, every other machine the address DNS gives"},
		{"shadow: a name DNS does not have", shadow, []snapshot.HostsEntry{entry(3, "10.9.9.9", "app.example.com")},
			[]snapshot.DNSResult{nx},
			finding.Fail, "/etc/hosts line 3 pins app.example.com to 10.9.9.9, but app.example.com does not exist: NXDOMAIN from 192.0.2.53: programs on this host find a name that the rest of the network does not"},
		{"shadow: DNS timed out", shadow, []snapshot.HostsEntry{entry(3, "10.9.9.9", "app.example.com")},
			[]snapshot.DNSResult{{DNSQuery: snapshot.DNSQuery{Name: "app.example.com", Type: "A"}, Error: "no usable answer: 192.0.2.53:53: no answer within 2s (2 tries)"}},
			finding.Error, "cannot compare /etc/hosts line 3 pins app.example.com to 10.9.9.9 with DNS: app.example.com A: no usable answer: 192.0.2.53:53: no answer within 2s (2 tries)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := dnsOne(t, c.src, dnsSnapshot(t, c.hosts, c.query...), nil)
			if f.Status != c.status || f.Explanation != c.want {
				t.Errorf("got %s: %s\nwant %s: %s", f.Status, f.Explanation, c.status, c.want)
			}
		})
	}
}

func TestDNSWants(t *testing.T) {
	h := dnsHost()
	plan := dnsPlan(t, wwwCheck+`
dns "both" {
  name = "WWW.Example.com."
  type = ["A", "aaaa", "A"]
}
hosts_entry "own" {
  name   = host.fqdn
  expect = host.addresses
}
hosts_entry "app" {
  name = ["app.example.com", "app"]
}
`, &h, nil)
	want := []snapshot.DNSQuery{
		{Name: "www.example.com", Type: "A", Server: "192.0.2.53:53"},
		{Name: "www.example.com", Type: "A"}, {Name: "www.example.com", Type: "AAAA"},
		{Name: "app.example.com", Type: "A"}, {Name: "app.example.com", Type: "AAAA"},
	}
	if got := plan.Wants().DNS; !reflect.DeepEqual(got, want) {
		t.Errorf("wants %+v\nwant %+v", got, want)
	}
}

func TestDNSDecodeErrors(t *testing.T) {
	h := dnsHost()
	cases := map[string]string{
		`dns "x" {
  name   = "www.example.com"
  server = "ns1.example.com"
}`: "a server named by a host name would need DNS to find DNS",
		`dns "x" {
  name = "www.example.com"
  type = "MX"
}`: `"MX" is not a record type hostdrift checks`,
		`dns "x" {
  name   = "www.example.com"
  expect = ["198.51.100.7", "not-an-ip"]
}`: `"not-an-ip" is not an IP address`,
		`dns "x" {
  name   = "www.example.com"
  expect = 42
}`: "expect must be an IP address or a list of them",
		`dns "x" {
  name = "bad name.example.com"
}`: "is not a DNS name",
		`dns "x" {
  name  = "www.example.com"
  match = "most"
}`: `"most" is not a valid match`,
	}
	for src, want := range cases {
		p, diags := rules.Load([]rules.Source{{Name: "bad.hcl", Text: []byte(src)}})
		if !diags.HasErrors() {
			_, diags = p.Compile(&h, nil)
		}
		if !diags.HasErrors() || !strings.Contains(diags.Error(), want) {
			t.Errorf("%s\ngot %v, want an error containing %q", src, diags, want)
		}
	}
}

// Under policy validate host facts are unknown: the checks still compile.
func TestDNSValidate(t *testing.T) {
	p, diags := rules.Load([]rules.Source{{Name: "v.hcl", Text: []byte(`
variable "public_ip" {}
dns "fqdn" {
  name   = host.fqdn
  type   = ["A", "AAAA"]
  expect = [host.addresses, var.public_ip]
}
hosts_entry "own" {
  name   = [host.hostname, host.fqdn]
  expect = host.addresses
}`)}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if _, diags := p.Compile(nil, nil); diags.HasErrors() {
		t.Fatal(diags)
	}
}

// TestDNSNATHintNamesThePolicyVariable: the remediation names the variable
// that feeds expect in the policy that declared the check, or the check's
// own expect when no variable does.
func TestDNSNATHintNamesThePolicyVariable(t *testing.T) {
	stale := answer("www.example.com", "A", "192.0.2.53:53", "192.0.2.53:53", 300, "203.0.113.10")
	for _, c := range []struct{ name, src, want string }{
		{"variable", "variable \"front_door\" { default = [] }\n" + strings.Replace(wwwCheck, "host.addresses", "[host.addresses, var.front_door]", 1),
			"give the public address in var.front_door: `hostdrift check --var 'front_door=[\"ADDRESS\"]'`"},
		{"no variable", wwwCheck, "add the public address to this check's expect (dns.hcl:2)"},
	} {
		f := dnsOne(t, c.src, dnsSnapshot(t, nil, stale), nil)
		if f.Status != finding.Fail || !strings.Contains(f.Remediation, c.want) || strings.Contains(f.Remediation, "public_ip") {
			t.Errorf("%s: got %s, remediation %q, want it to contain %q", c.name, f.Status, f.Remediation, c.want)
		}
	}
}
