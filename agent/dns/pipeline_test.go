package dns

import (
	"context"
	"net/netip"
	"testing"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/audit"
	"github.com/hostdrift/hostdrift/rules"
)

// testHost holds the addresses the test zone's www points at.
func testHost() *snapshot.Host {
	addr := func(ip string) snapshot.Address {
		a := netip.MustParseAddr(ip)
		return snapshot.Address{IP: a, Family: snapshot.FamilyOf(a), Scope: "global"}
	}
	return &snapshot.Host{Hostname: "www", FQDN: "www.example.test", Interfaces: []snapshot.Interface{
		{Name: "lo", Loopback: true, Addresses: []snapshot.Address{{IP: netip.MustParseAddr("127.0.0.1"), Family: snapshot.IPv4, Scope: "host"}}},
		{Name: "eth0", Addresses: []snapshot.Address{addr("198.51.100.7"), addr("2001:db8::7")}},
		{Name: "eth1", Addresses: []snapshot.Address{addr("10.0.0.5")}},
	}}
}

// judge does what hostdrift check does: compile the policy against the host,
// collect what the plan wants from root, save the snapshot as JSON, read it
// back and evaluate it. It returns the findings by check ID.
func judge(t *testing.T, policy, root string, port int, host *snapshot.Host, vars map[string]string) map[string]finding.Finding {
	t.Helper()
	pol, diags := rules.Load([]rules.Source{{Name: "test.hcl", Text: []byte(policy)}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	given, diags := rules.ReadVariables(rules.VariableInputs{Flags: vars})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, diags := pol.Compile(host, given)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	snap := &snapshot.Snapshot{Schema: snapshot.Schema, Host: *host, Collectors: []snapshot.CollectorStatus{{Name: "host", Status: snapshot.StatusOK}}}
	c := &collector{port: port}
	sec, err := c.Collect(context.Background(), &agent.Env{Root: root, Wants: plan.Wants()})
	if err != nil {
		t.Fatal(err)
	}
	sec.Attach(snap)
	snap.Collectors = append(snap.Collectors, snapshot.CollectorStatus{Name: snapshot.CollectorDNS, Status: snapshot.StatusOK})
	return audit.Saved(t, plan, snap)
}

func expectFinding(t *testing.T, fs map[string]finding.Finding, id string, status finding.Status, explanation string) {
	t.Helper()
	f, ok := fs[id]
	if !ok {
		t.Errorf("%s: no finding", id)
		return
	}
	if f.Status != status || f.Explanation != explanation {
		t.Errorf("%s:\n got %s: %s\nwant %s: %s", id, f.Status, f.Explanation, status, explanation)
	}
}

// Every answer and error class, from a real server through the collector,
// a saved snapshot and the rules, with the explanations an operator reads.
func TestPipeline(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "127.0.0.53")
	other := startServer(t, "127.0.0.55")
	root := fixtureRoot(t, "nameserver 127.0.0.53\noptions timeout:1 attempts:2\n",
		"127.0.0.1 localhost\n127.0.1.1 www.example.test www\n10.9.9.9 alias.example.test\n")
	policy := `
dns "www" {
  name   = "www.example.test"
  expect = host.addresses
}
dns "stale" {
  name   = "stale.example.test"
  server = "` + other.Addr + `"
  expect = host.addresses
}
dns "nx" {
  name   = "nx.example.test"
  expect = host.addresses
}
dns "servfail" {
  name = "broken.example.test"
}
dns "timeout" {
  name = "slow.example.test"
}
dns "cname" {
  name   = "alias.example.test"
  type   = ["A", "AAAA"]
  expect = host.addresses
}
dns "v6" {
  name   = "www.example.test"
  type   = "AAAA"
  expect = host.ipv6
}
dns "nat" {
  name   = "stale.example.test"
  expect = [host.addresses, var.public_ip]
}
variable "public_ip" {}
hosts_entry "shadow" {
  name = "alias.example.test"
}
hosts_entry "own-name" {
  name           = [host.hostname, host.fqdn]
  expect         = host.addresses
  allow_loopback = true
}
`
	fs := judge(t, policy, root, srv.Port, testHost(), map[string]string{"public_ip": "203.0.113.10"})
	by := srv.Addr
	expectFinding(t, fs, "dns.www", finding.Pass,
		"www.example.test A 198.51.100.7 (answered by "+by+", TTL 300)")
	expectFinding(t, fs, "dns.stale", finding.Fail,
		"stale.example.test A 203.0.113.10 (answered by "+other.Addr+", TTL 300) is not an address of this host; this host has 198.51.100.7 (eth0), 2001:db8::7 (eth0) and 10.0.0.5 (eth1)")
	expectFinding(t, fs, "dns.nx", finding.Fail,
		"nx.example.test does not exist: NXDOMAIN (authoritative) from "+by)
	expectFinding(t, fs, "dns.servfail", finding.Error,
		"broken.example.test A: no usable answer: "+by+": answered SERVFAIL (2 tries)")
	expectFinding(t, fs, "dns.timeout", finding.Error,
		"slow.example.test A: no usable answer: "+by+": no answer within 1s (2 tries)")
	expectFinding(t, fs, "dns.cname", finding.Pass,
		"alias.example.test → lb.example.test → www.example.test A 198.51.100.7 (answered by "+by+", TTL 300) and alias.example.test → lb.example.test → www.example.test AAAA 2001:db8::7 (answered by "+by+", TTL 300); note: /etc/hosts line 3 pins alias.example.test to 10.9.9.9, so programs on this host get that address instead")
	expectFinding(t, fs, "dns.v6", finding.Pass,
		"www.example.test AAAA 2001:db8::7 (answered by "+by+", TTL 300)")
	expectFinding(t, fs, "dns.nat", finding.Pass,
		"stale.example.test A 203.0.113.10 (answered by "+by+", TTL 300)")
	expectFinding(t, fs, "hosts_entry.shadow", finding.Fail,
		"/etc/hosts line 3 pins alias.example.test to 10.9.9.9, but DNS answers alias.example.test → lb.example.test → www.example.test A 198.51.100.7 (answered by "+by+", TTL 300): programs on this host reach 10.9.9.9, every other machine the address DNS gives")
	expectFinding(t, fs, "hosts_entry.own-name", finding.Pass,
		"/etc/hosts entries agree: line 2: 127.0.1.1 www www.example.test")
}
