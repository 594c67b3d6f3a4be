package dns

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// The same classes against a real resolver daemon: dnsmasq serving a zone
// from a hosts-format file, with an alias chain and an IPv6-only name.
func TestDnsmasq(t *testing.T) {
	t.Parallel()
	const ip = "127.0.0.63"
	srv := nstest.Dnsmasq(t, ip,
		"198.51.100.7 www.example.test\n2001:db8::7 www.example.test\n203.0.113.10 stale.example.test\n",
		"--cname=alias.example.test,lb.example.test", "--cname=lb.example.test,www.example.test",
		"--host-record=v6only.example.test,2001:db8::99")
	port := srv.Port
	root := fixtureRoot(t, "nameserver "+ip+"\noptions timeout:1 attempts:2\n", "127.0.0.1 localhost\n10.9.9.9 www.example.test\n")
	policy := `
dns "www"   {
  name   = "www.example.test"
  type   = ["A", "AAAA"]
  expect = host.addresses
}
dns "stale" {
  name   = "stale.example.test"
  server = "` + ip + `:` + strconv.Itoa(port) + `"
  expect = host.addresses
}
dns "nx" {
  name   = "gone.example.test"
}
dns "cname" {
  name   = "alias.example.test"
  expect = host.ipv4
}
dns "v6only-a" {
  name = "v6only.example.test"
}
dns "v6only" {
  name   = "v6only.example.test"
  type   = "AAAA"
  expect = ["2001:db8::99"]
}
hosts_entry "shadow" {
  name = "www.example.test"
}
`
	fs := judge(t, policy, root, port, testHost(), nil)
	by := fmt.Sprintf("%s:%d", ip, port)
	expectFinding(t, fs, "dns.www", finding.Pass,
		"www.example.test A 198.51.100.7 (answered by "+by+", TTL 300) and www.example.test AAAA 2001:db8::7 (answered by "+by+", TTL 300); note: /etc/hosts line 2 pins www.example.test to 10.9.9.9, so programs on this host get that address instead")
	expectFinding(t, fs, "dns.stale", finding.Fail,
		"stale.example.test A 203.0.113.10 (answered by "+by+", TTL 300) is not an address of this host; this host has 198.51.100.7 (eth0), 2001:db8::7 (eth0) and 10.0.0.5 (eth1)")
	expectFinding(t, fs, "dns.nx", finding.Fail, "gone.example.test does not exist: NXDOMAIN from "+by)
	expectFinding(t, fs, "dns.cname", finding.Pass,
		"alias.example.test → lb.example.test → www.example.test A 198.51.100.7 (answered by "+by+", TTL 300)")
	expectFinding(t, fs, "dns.v6only-a", finding.Fail, "v6only.example.test has no A record (NOERROR, no data, answered by "+by+")")
	expectFinding(t, fs, "dns.v6only", finding.Pass, "v6only.example.test AAAA 2001:db8::99 (answered by "+by+", TTL 300)")
	expectFinding(t, fs, "hosts_entry.shadow", finding.Fail,
		"/etc/hosts line 2 pins www.example.test to 10.9.9.9, but DNS answers www.example.test A 198.51.100.7 (answered by "+by+", TTL 300): programs on this host reach 10.9.9.9, every other machine the address DNS gives")
}

// TestDnsmasqRefusedAAAA: a resolver that answers A but refuses AAAA (dnsmasq
// answers A from its hosts file and, with no upstream server, refuses the
// rest for a domain it is not local for). The stale A answer is judged and
// fails; the refusal is named too, and never hides it.
func TestDnsmasqRefusedAAAA(t *testing.T) {
	t.Parallel()
	const ip = "127.0.0.64"
	srv := nstest.Dnsmasq(t, ip, "203.0.113.10 www.refusing.test\n198.51.100.7 ok.refusing.test\n")
	root := fixtureRoot(t, "nameserver "+ip+"\noptions timeout:1 attempts:2\n", "127.0.0.1 localhost\n")
	host := testHost()
	host.Hostname, host.FQDN = "www", "www.refusing.test"
	policy := `
dns "fqdn-resolves-to-host" {
  name       = host.fqdn
  type       = ["A", "AAAA"]
  expect     = host.addresses
  unresolved = "error"
}
dns "right-a" {
  name       = "ok.refusing.test"
  type       = ["A", "AAAA"]
  expect     = host.addresses
}
`
	fs := judge(t, policy, root, srv.Port, host, nil)
	by := fmt.Sprintf("%s:%d", ip, srv.Port)
	refused := func(name string) string {
		return name + " AAAA: no usable answer: " + by + ": answered REFUSED (2 tries)"
	}
	expectFinding(t, fs, "dns.fqdn-resolves-to-host", finding.Fail,
		"www.refusing.test A 203.0.113.10 (answered by "+by+", TTL 300) is not an address of this host; this host has 198.51.100.7 (eth0), 2001:db8::7 (eth0) and 10.0.0.5 (eth1); the other query could not be judged: "+refused("www.refusing.test"))
	expectFinding(t, fs, "dns.right-a", finding.Error,
		refused("ok.refusing.test")+"; the answers that did come back are as expected: ok.refusing.test A 198.51.100.7 (answered by "+by+", TTL 300)")
}
