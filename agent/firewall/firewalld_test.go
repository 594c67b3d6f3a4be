package firewall

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
)

// writeTree writes files (path below root: contents) into a new folder.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, text := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// stockConfig is Debian's firewalld configuration, trimmed: the public
// zone with ssh and dhcpv6-client, overridden in /etc with http, a port,
// a port range and two rich rules.
var stockConfig = map[string]string{
	"etc/firewalld/firewalld.conf":                 "# comment\nDefaultZone=public\nFirewallBackend=nftables\n",
	"usr/lib/firewalld/zones/public.xml":           `<?xml version="1.0" encoding="utf-8"?><zone><short>Public</short><service name="ssh"/><service name="dhcpv6-client"/><forward/></zone>`,
	"usr/lib/firewalld/services/ssh.xml":           `<service><port protocol="tcp" port="22"/></service>`,
	"usr/lib/firewalld/services/http.xml":          `<service><port protocol="tcp" port="80"/></service>`,
	"usr/lib/firewalld/services/dhcpv6-client.xml": `<service><port protocol="udp" port="546"/><destination ipv6="fe80::/64"/></service>`,
	"etc/firewalld/zones/public.xml": `<?xml version="1.0" encoding="utf-8"?>
<zone>
  <service name="ssh"/><service name="dhcpv6-client"/><service name="http"/>
  <port port="8443" protocol="tcp"/><port port="80" protocol="tcp"/><port port="5000-5010" protocol="udp"/>
  <rule family="ipv4"><source address="192.0.2.7"/><reject/></rule>
  <rule family="ipv6"><source address="fd00::/64" invert="True"/><port port="3306" protocol="tcp"/><accept><limit value="30/m"/></accept></rule>
  <forward/>
</zone>`,
}

func rule(text, verdict string, m ...snapshot.Match) snapshot.Rule {
	return snapshot.Rule{Text: text, Matches: m, Verdict: snapshot.Verdict{Kind: verdict}}
}

func eq(field string, v ...string) snapshot.Match { return snapshot.Match{Field: field, Values: v} }

// stockTable is what the decoder reads of the ruleset firewalld makes
// from stockConfig.
func stockTable() snapshot.Table {
	ctNew := snapshot.Match{Field: "set", Set: "__set1", Keys: []string{"ct_state"}}
	return snapshot.Table{Backend: snapshot.BackendNftables, Family: "inet", Name: "firewalld", Chains: []snapshot.Chain{
		{Name: "filter_INPUT", Hook: "input", Policy: "accept", Rules: []snapshot.Rule{
			rule("jump filter_INPUT_ZONES", "jump"), rule("reject with icmpx admin-prohibited", snapshot.VerdictReject)}},
		{Name: "filter_INPUT_ZONES", Rules: []snapshot.Rule{rule("goto filter_IN_public", "goto")}},
		{Name: "filter_IN_public", Rules: []snapshot.Rule{rule("jump filter_IN_public_deny", "jump"), rule("jump filter_IN_public_allow", "jump"),
			rule("meta l4proto { icmp, ipv6-icmp } accept", snapshot.VerdictAccept, snapshot.Match{Field: "set", Set: "__set0", Keys: []string{"l4proto"}}),
			rule("reject with icmpx admin-prohibited", snapshot.VerdictReject)}},
		{Name: "filter_IN_public_pre"},
		{Name: "filter_IN_public_deny", Rules: []snapshot.Rule{
			rule("ip saddr 192.0.2.7 reject", snapshot.VerdictReject, eq("nfproto", "ipv4"), eq("saddr", "192.0.2.7")),
		}},
		{Name: "filter_IN_public_allow", Rules: []snapshot.Rule{
			rule("tcp dport 22 accept", snapshot.VerdictAccept, eq("l4proto", "tcp"), eq("dport", "22"), ctNew),
			rule("ip6 daddr fe80::/64 udp dport 546 accept", snapshot.VerdictAccept, eq("nfproto", "ipv6"), eq("daddr", "fe80::/64"), eq("l4proto", "udp"), eq("dport", "546")),
			rule("tcp dport 80 accept", snapshot.VerdictAccept, eq("l4proto", "tcp"), eq("dport", "80")),
			rule("tcp dport 8443 accept", snapshot.VerdictAccept, eq("l4proto", "tcp"), eq("dport", "8443")),
			rule("tcp dport 80 accept", snapshot.VerdictAccept, eq("l4proto", "tcp"), eq("dport", "80")),
			rule("udp dport 5000-5010 accept", snapshot.VerdictAccept, eq("l4proto", "udp"), snapshot.Match{Field: "dport", Op: "ge", Values: []string{"5000"}}, snapshot.Match{Field: "dport", Op: "le", Values: []string{"5010"}}),
			rule("meta nfproto ipv6 ip6 saddr != fd00::/64 tcp dport 3306 limit rate 30/minute accept", snapshot.VerdictAccept, eq("nfproto", "ipv6"),
				snapshot.Match{Field: "saddr", Negate: true, Values: []string{"fd00::/64"}}, eq("l4proto", "tcp"), eq("dport", "3306"), snapshot.Match{Field: snapshot.FieldAssume, Values: []string{"match"}}),
		}},
	}}
}

func attributed(t *testing.T, files map[string]string, table snapshot.Table) *snapshot.Firewall {
	t.Helper()
	fw := &snapshot.Firewall{Tables: []snapshot.Table{table}}
	attributeFirewalld(fw, hostfs.New(writeTree(t, files)))
	return fw
}

func TestFirewalldAttribution(t *testing.T) {
	fw := attributed(t, stockConfig, stockTable())
	if f := fw.Firewalld; f == nil || f.DefaultZone != "public" || f.Backend != "nftables" || len(f.Notes) > 0 || strings.Join(f.Zones, ",") != "public" {
		t.Fatalf("firewalld section %+v", f)
	}
	tb := &fw.Tables[0]
	want := map[string][]string{
		"filter_IN_public_deny": {`firewalld zone public, rich rule 'rule family="ipv4" source address="192.0.2.7" reject'`},
		"filter_IN_public_allow": {
			"firewalld zone public, service ssh",
			"firewalld zone public, service dhcpv6-client",
			"firewalld zone public, service http and port 80/tcp",
			"firewalld zone public, port 8443/tcp",
			"firewalld zone public, service http and port 80/tcp",
			"firewalld zone public, port 5000-5010/udp",
			`firewalld zone public, rich rule 'rule family="ipv6" source NOT address="fd00::/64" port port="3306" protocol="tcp" accept limit value="30/m"'`,
		},
		"filter_INPUT":     {"", ""},
		"filter_IN_public": {"", "", "firewalld zone public", "firewalld zone public, target default (what no service, port or rich rule of the zone accepts)"},
	}
	for chain, origins := range want {
		c := tb.Chain(chain)
		for i, o := range origins {
			if c.Rules[i].Origin != o {
				t.Errorf("%s rule %d (%s): origin %q, want %q", chain, i+1, c.Rules[i].Text, c.Rules[i].Origin, o)
			}
		}
	}
	if o := tb.Chain("filter_IN_public").Origin; o != "firewalld zone public" {
		t.Errorf("chain filter_IN_public origin %q", o)
	}
}

// TestFirewalldZoneOnly: where the kernel's rules are not what the
// configuration makes, or the configuration cannot be read, the rules are
// named by their zone only, and the reason is noted.
func TestFirewalldZoneOnly(t *testing.T) {
	for _, c := range []struct {
		name  string
		edit  func(files map[string]string, tb *snapshot.Table)
		chain string
		note  string
	}{
		{"runtime port", func(_ map[string]string, tb *snapshot.Table) {
			c := tb.Chain("filter_IN_public_allow")
			c.Rules = append(c.Rules, rule("tcp dport 9090 accept", snapshot.VerdictAccept, eq("l4proto", "tcp"), eq("dport", "9090")))
		}, "filter_IN_public_allow", "no service, port or rich rule of the zone makes rule"},
		{"runtime removal", func(_ map[string]string, tb *snapshot.Table) {
			c := tb.Chain("filter_IN_public_allow")
			c.Rules = c.Rules[1:]
		}, "filter_IN_public_allow", "the chain holds 0 rules made by service ssh"},
		{"service file missing", func(files map[string]string, _ *snapshot.Table) {
			delete(files, "usr/lib/firewalld/services/http.xml")
		}, "filter_IN_public_allow", "service http has no file"},
		{"bad zone file", func(files map[string]string, _ *snapshot.Table) {
			files["etc/firewalld/zones/public.xml"] = "<zone><service"
		}, "filter_IN_public_allow", "its configuration was not read"},
		{"unpredicted rich rule", func(files map[string]string, tb *snapshot.Table) {
			files["etc/firewalld/zones/public.xml"] = strings.Replace(files["etc/firewalld/zones/public.xml"], "<forward/>", `<rule><source address="192.0.2.9"/><log prefix="x"/><drop/></rule><forward/>`, 1)
		}, "filter_IN_public_deny", "logs, which is not predicted here"},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range stockConfig {
				files[k] = v
			}
			tb := stockTable()
			c.edit(files, &tb)
			fw := attributed(t, files, tb)
			for _, r := range fw.Tables[0].Chain(c.chain).Rules {
				if r.Origin != "firewalld zone public" {
					t.Errorf("rule %q: origin %q, want the zone only", r.Text, r.Origin)
				}
			}
			if notes := strings.Join(fw.Firewalld.Notes, "\n"); !strings.Contains(notes, c.note) {
				t.Errorf("notes %q do not say %q", notes, c.note)
			}
		})
	}
}

func TestZoneOfChain(t *testing.T) {
	for chain, want := range map[string]string{
		"filter_IN_public":         "firewalld zone public",
		"filter_IN_public_allow":   "firewalld zone public",
		"filter_IN_my_allow":       "firewalld zone my_allow",
		"filter_FWD_internal_deny": "firewalld zone internal",
		"filter_IN_policy_eg_pre":  "firewalld policy eg",
		"filter_OUT_policy_egress": "firewalld policy egress",
		"filter_INPUT":             "",
		"filter_OUT_public":        "",
	} {
		if got, _, _ := zoneOfChain(chain, []string{"public", "internal", "my_allow"}); got != want {
			t.Errorf("zoneOfChain(%s) = %q, want %q", chain, got, want)
		}
	}
}
