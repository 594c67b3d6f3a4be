package dns

import (
	"fmt"
	"testing"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// TestDnsmasqRecords: the records mail and certificates depend on, from a
// real dnsmasq: MX, SPF in TXT, PTR with forward confirmation, SRV, CNAME
// and CAA, through the collector, a saved snapshot and the rules.
func TestDnsmasqRecords(t *testing.T) {
	t.Parallel()
	const ip = "127.0.0.65"
	srv := nstest.Dnsmasq(t, ip,
		"198.51.100.7 mail.example.test\n203.0.113.26 other.example.test\n",
		"--mx-host=example.test,mail.example.test,10",
		`--txt-record=example.test,v=spf1 ip4:198.51.100.0/24 include:_spf.provider.test ~all`,
		`--txt-record=nospf.example.test,google-site-verification=abc`,
		`--txt-record=elsewhere.example.test,v=spf1 ip4:192.0.2.0/24 include:_spf.provider.test -all`,
		"--ptr-record=7.100.51.198.in-addr.arpa,mail.example.test",
		"--ptr-record=26.2.0.192.in-addr.arpa,other.example.test",
		"--srv-host=_sip._udp.example.test,sip.example.test,5060,0,5",
		"--cname=www2.example.test,mail.example.test",
		"--dns-rr=example.test,257,000569737375656c657473656e63727970742e6f7267")
	server := fmt.Sprintf("%s:%d", ip, srv.Port)
	root := fixtureRoot(t, "nameserver "+ip+"\noptions timeout:1 attempts:2\n", "127.0.0.1 localhost\n")
	policy := `
dns_record "mx" {
  name   = "example.test"
  type   = "MX"
  expect = "10 mail.example.test."
}
dns_record "mx-wrong" {
  name   = "example.test"
  type   = "MX"
  expect = "10 mx.example.net"
}
dns_record "spf" {
  name = "example.test"
  type = "TXT"
  spf  = true
}
dns_record "no-spf" {
  name = "nospf.example.test"
  type = "TXT"
  spf  = true
}
dns_record "spf-elsewhere" {
  name = "elsewhere.example.test"
  type = "TXT"
  spf  = true
}
dns_record "spf-provider" {
  name        = "elsewhere.example.test"
  type        = "TXT"
  spf         = true
  spf_include = "_spf.provider.test"
}
dns_record "ptr" {
  type    = "PTR"
  address = "198.51.100.7"
  expect  = "mail.example.test"
  fcrdns  = true
}
dns_record "ptr-unconfirmed" {
  type    = "PTR"
  address = "192.0.2.26"
  fcrdns  = true
}
dns_record "srv" {
  name   = "_sip._udp.example.test"
  type   = "SRV"
  expect = "0 5 5060 sip.example.test"
}
dns_record "cname" {
  name   = "www2.example.test"
  type   = "CNAME"
  expect = "mail.example.test"
}
dns_record "caa" {
  name   = "example.test"
  type   = "CAA"
  expect = "0 issue \"letsencrypt.org\""
}
dns_record "no-caa" {
  name = "mail.example.test"
  type = "CAA"
}
`
	fs := judge(t, policy, root, srv.Port, testHost(), nil)
	expectFinding(t, fs, "dns_record.mx", finding.Pass, `example.test MX: "10 mail.example.test" (answered by `+server+`)`)
	expectFinding(t, fs, "dns_record.mx-wrong", finding.Fail, `example.test MX has no record "10 mx.example.net" (it has "10 mail.example.test", answered by `+server+`)`)
	expectFinding(t, fs, "dns_record.spf", finding.Pass, `example.test TXT: "v=spf1 ip4:198.51.100.0/24 include:_spf.provider.test ~all" (answered by `+server+`)`)
	expectFinding(t, fs, "dns_record.no-spf", finding.Fail, "nospf.example.test has no SPF record (no TXT record starts with v=spf1): receivers cannot tell this host may send its mail")
	expectFinding(t, fs, "dns_record.spf-elsewhere", finding.Fail, `the SPF record of elsewhere.example.test ("v=spf1 ip4:192.0.2.0/24 include:_spf.provider.test -all") authorizes none of this host's addresses (198.51.100.7, 2001:db8::7, 10.0.0.5); it includes _spf.provider.test, which hostdrift does not follow (name the provider with spf_include if that is how this host is authorized)`)
	expectFinding(t, fs, "dns_record.spf-provider", finding.Pass, `elsewhere.example.test TXT: "v=spf1 ip4:192.0.2.0/24 include:_spf.provider.test -all" (answered by `+server+`)`)
	expectFinding(t, fs, "dns_record.ptr", finding.Pass, `the PTR of 198.51.100.7 (7.100.51.198.in-addr.arpa): "mail.example.test" (answered by `+server+`)`)
	expectFinding(t, fs, "dns_record.ptr-unconfirmed", finding.Fail, "the PTR of 192.0.2.26 is not forward-confirmed: other.example.test resolves to 203.0.113.26, not 192.0.2.26; mail receivers that check reverse DNS reject or mark this host's mail")
	expectFinding(t, fs, "dns_record.srv", finding.Pass, `_sip._udp.example.test SRV: "0 5 5060 sip.example.test" (answered by `+server+`)`)
	expectFinding(t, fs, "dns_record.cname", finding.Pass, `www2.example.test CNAME: "mail.example.test" (answered by `+server+`)`)
	expectFinding(t, fs, "dns_record.caa", finding.Pass, `example.test CAA: "0 issue \"letsencrypt.org\"" (answered by `+server+`)`)
	expectFinding(t, fs, "dns_record.no-caa", finding.Fail, "mail.example.test has no CAA record (NOERROR, no data, answered by "+server+")")
}
