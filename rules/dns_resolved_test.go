package rules_test

import (
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// An answer through systemd-resolved's stub is the answer of one of its
// upstreams: a dns finding names the upstream, never blames the stub, and
// says which one it was only when the collector could tell.
func TestDNSThroughResolvedStub(t *testing.T) {
	const stale = `dns "www" {
  name   = "www.example.com"
  expect = "198.51.100.7"
}`
	resolved := &snapshot.Resolved{Source: "dbus", Servers: []snapshot.ResolvedServer{
		{Address: "10.0.0.1:53", Current: true}, {Address: "10.0.0.2:53"},
		{Address: "192.168.1.1:53", LinkIndex: 2, Link: "eth0"},
	}}
	cases := []struct {
		name      string
		upstreams []string
		resolved  *snapshot.Resolved
		says      []string
	}{
		{"the upstream in use", []string{"10.0.0.1:53"}, resolved,
			[]string{"www.example.com A 203.0.113.10 (answered by upstream 10.0.0.1 through systemd-resolved's stub 127.0.0.53, TTL 300) is not among the expected addresses"}},
		{"one of several", []string{"10.0.0.1:53", "192.168.1.1:53"}, resolved,
			[]string{"answered by one of the upstreams 10.0.0.1 or 192.168.1.1 (it cannot be told which) through systemd-resolved's stub 127.0.0.53"}},
		{"upstreams unknown", nil, &snapshot.Resolved{Source: "/run/systemd/resolve/resolv.conf", Servers: []snapshot.ResolvedServer{}, Error: "absent"},
			[]string{"answered by systemd-resolved's stub 127.0.0.53 (its upstreams could not be read)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := answer("www.example.com", "A", "", "127.0.0.53:53", 300, "203.0.113.10")
			a.Upstreams = c.upstreams
			s := dnsSnapshot(t, nil, a)
			s.DNS.Resolvers = []string{"127.0.0.53:53"}
			s.DNS.Resolved = c.resolved
			f := dnsOne(t, stale, saved(t, s), nil)
			if f.Status != finding.Fail {
				t.Fatalf("%s: %s", f.Status, f.Explanation)
			}
			for _, w := range c.says {
				if !strings.Contains(f.Explanation, w) {
					t.Errorf("explanation lacks %q:\n%s", w, f.Explanation)
				}
			}
			if strings.Contains(f.Explanation, "answered by 127.0.0.53") {
				t.Errorf("the stub is blamed for the answer:\n%s", f.Explanation)
			}
			if !strings.Contains(f.Remediation, "resolvectl flush-caches") {
				t.Errorf("remediation does not mention resolved's cache: %s", f.Remediation)
			}
			if c.upstreams != nil && !strings.Contains(f.Expected, "systemd-resolved at 127.0.0.53, upstream 10.0.0.1, 10.0.0.2, 192.168.1.1") {
				t.Errorf("expected does not name the upstreams: %s", f.Expected)
			}
		})
	}
}

// A query resolved could not answer (it says SERVFAIL when its upstreams
// fail) names the upstreams it forwards to.
func TestDNSFailedThroughResolvedStub(t *testing.T) {
	q := snapshot.DNSResult{DNSQuery: snapshot.DNSQuery{Name: "www.example.com", Type: "A"}, AnsweredBy: "127.0.0.53:53", Rcode: "SERVFAIL",
		Failed: []string{"127.0.0.53:53: answered SERVFAIL (2 tries)"}, Error: "no usable answer: 127.0.0.53:53: answered SERVFAIL (2 tries)",
		Upstreams: []string{"10.0.0.1:53"}}
	s := dnsSnapshot(t, nil, q)
	s.DNS.Resolvers = []string{"127.0.0.53:53"}
	f := dnsOne(t, `dns "www" {
  name = "www.example.com"
}`, s, nil)
	want := "www.example.com A: no usable answer: 127.0.0.53:53: answered SERVFAIL (2 tries) (systemd-resolved forwards to upstream 10.0.0.1)"
	if f.Status != finding.Error || f.Explanation != want {
		t.Errorf("got %s: %s\nwant error: %s", f.Status, f.Explanation, want)
	}
}
