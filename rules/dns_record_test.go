package rules_test

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

func TestParseSPF(t *testing.T) {
	for _, c := range []struct {
		in       string
		ok       bool
		allowed  []string
		includes []string
		redirect string
	}{
		{"v=spf1 ip4:198.51.100.0/24 ip6:2001:db8::/32 include:_spf.Google.com. ~all", true,
			[]string{"198.51.100.0/24", "2001:db8::/32"}, []string{"_spf.google.com"}, ""},
		{"V=SPF1 +ip4:192.0.2.1 -ip4:192.0.2.2 ~include:x.test ?ip4:192.0.2.3 redirect=_spf.example.test", true,
			[]string{"192.0.2.1/32"}, nil, "_spf.example.test"},
		{"v=spf1 ip4:192.0.2.7/24 a mx exists:%{i}.x ip4:bogus", true, []string{"192.0.2.0/24"}, nil, ""},
		{"google-site-verification=abc", false, nil, nil, ""},
		{"", false, nil, nil, ""},
	} {
		spf, ok := rules.ParseSPF(c.in)
		var allowed []string
		for _, p := range spf.Allowed {
			allowed = append(allowed, p.String())
		}
		if ok != c.ok || !reflect.DeepEqual(allowed, c.allowed) || !reflect.DeepEqual(spf.Includes, c.includes) || spf.Redirect != c.redirect {
			t.Errorf("%q: %v %+v", c.in, ok, spf)
		}
	}
	spf, _ := rules.ParseSPF("v=spf1 ip4:198.51.100.0/24 -all")
	if a, _, ok := spf.Authorizes([]netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("::ffff:198.51.100.9")}); !ok || a.Unmap().String() != "198.51.100.9" {
		t.Errorf("authorizes %v %v", a, ok)
	}
}

func FuzzParseSPF(f *testing.F) {
	f.Add("v=spf1 ip4:198.51.100.0/24 include:x.test -all")
	f.Add("v=spf1 + - ~ ip6: redirect=")
	f.Fuzz(func(t *testing.T, in string) {
		spf, ok := rules.ParseSPF(in)
		if !ok && (len(spf.Allowed) > 0 || len(spf.Includes) > 0) {
			t.Fatal("mechanisms from a record that is not SPF")
		}
		for _, p := range spf.Allowed {
			if !p.IsValid() {
				t.Fatalf("invalid prefix from %q", in)
			}
		}
	})
}

func TestDNSRecordDecode(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`dns_record "x" {
  type = "NS"
  name = "example.test"
}`, "not a valid type"},
		{`dns_record "x" {
  type = "PTR"
  name = "example.test"
}`, "PTR takes an address"},
		{`dns_record "x" {
  type   = "MX"
  name   = "example.test"
  fcrdns = true
}`, "fcrdns is for PTR"},
		{`dns_record "x" {
  type = "MX"
  name = "example.test"
  spf  = true
}`, "spf is for TXT"},
		{`dns_record "x" {
  type = "TXT"
}`, "Missing name"},
	} {
		p, diags := loadOnly(c.src)
		if !diags.HasErrors() {
			_, diags = p.Compile(&snapshot.Host{}, nil)
		}
		if !strings.Contains(diags.Error(), c.want) {
			t.Errorf("%s\n: %v, want %q", c.src, diags, c.want)
		}
	}
	// The reverse names of both families.
	for addr, want := range map[string]string{"198.51.100.7": "7.100.51.198.in-addr.arpa",
		"2001:db8::1": "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"} {
		p, _ := loadOnly(`dns_record "x" {
  type    = "PTR"
  address = "` + addr + `"
}`)
		plan, diags := p.Compile(&snapshot.Host{}, nil)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if w := plan.Wants(); len(w.DNS) != 1 || w.DNS[0].Name != want || w.DNS[0].Type != "PTR" {
			t.Errorf("%s: %+v", addr, w.DNS)
		}
	}
}
