package rules_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

// Builders for hand-made rulesets, as the collector records them.

func fwMatch(field string, vals ...string) snapshot.Match {
	return snapshot.Match{Field: field, Values: vals}
}

func fwRule(text string, v snapshot.Verdict, matches ...snapshot.Match) snapshot.Rule {
	return snapshot.Rule{Text: text, Verdict: v, Matches: matches}
}

func verdict(kind string) snapshot.Verdict { return snapshot.Verdict{Kind: kind} }

func jumpTo(chain string) snapshot.Verdict { return snapshot.Verdict{Kind: "jump", Chain: chain} }

func chain(name, hook, policy string, rules ...snapshot.Rule) snapshot.Chain {
	for i := range rules {
		rules[i].Position = i + 1
	}
	typ := ""
	if hook != "" {
		typ = "filter"
	}
	return snapshot.Chain{Name: name, Hook: hook, Type: typ, Policy: policy, Rules: rules}
}

func allBackends() []snapshot.Backend {
	return []snapshot.Backend{
		{Name: snapshot.BackendIptablesNft, Available: true, Tables: 1, Rules: 10},
		{Name: snapshot.BackendNftables, Available: true},
		{Name: snapshot.BackendIptablesLegacy, Available: true},
	}
}

var fwNetwork = []snapshot.LocalAddress{
	{Prefix: netip.MustParsePrefix("127.0.0.1/8"), Interface: "lo"},
	{Prefix: netip.MustParsePrefix("198.51.100.7/24"), Interface: "eth0"},
}

var fwRoutes = []snapshot.Route{
	{Dst: netip.MustParsePrefix("198.51.100.0/24"), Interface: "eth0"},
	{Dst: netip.MustParsePrefix("0.0.0.0/0"), Interface: "eth0", Gateway: netip.MustParseAddr("198.51.100.254")},
}

// ufwDenyOutgoing is UFW's shape after "default deny outgoing", "allow out
// 53", "allow out 443/tcp", "allow 22/tcp", "allow out to 203.0.113.9 port 5432".
func ufwDenyOutgoing() *snapshot.Firewall {
	return &snapshot.Firewall{Backends: allBackends(), LocalAddresses: fwNetwork, Routes: fwRoutes, Tables: []snapshot.Table{{
		Backend: snapshot.BackendIptablesNft, Family: "ip", Name: "filter", Chains: []snapshot.Chain{
			chain("INPUT", "input", "drop", fwRule("-A INPUT -j ufw-user-input", jumpTo("ufw-user-input"))),
			chain("OUTPUT", "output", "drop",
				fwRule("-A OUTPUT -j ufw-before-output", jumpTo("ufw-before-output")),
				fwRule("-A OUTPUT -j ufw-user-output", jumpTo("ufw-user-output"))),
			chain("ufw-before-output", "", "",
				fwRule("-A ufw-before-output -o lo -j ACCEPT", verdict("accept"), fwMatch("oif", "lo"))),
			chain("ufw-user-input", "", "",
				fwRule("-A ufw-user-input -p tcp -m tcp --dport 22 -j ACCEPT", verdict("accept"), fwMatch("l4proto", "tcp"), fwMatch("dport", "22"))),
			chain("ufw-user-output", "", "",
				fwRule("-A ufw-user-output -p tcp -m tcp --dport 53 -j ACCEPT", verdict("accept"), fwMatch("l4proto", "tcp"), fwMatch("dport", "53")),
				fwRule("-A ufw-user-output -p udp -m udp --dport 53 -j ACCEPT", verdict("accept"), fwMatch("l4proto", "udp"), fwMatch("dport", "53")),
				fwRule("-A ufw-user-output -p tcp -m tcp --dport 443 -j ACCEPT", verdict("accept"), fwMatch("l4proto", "tcp"), fwMatch("dport", "443")),
				fwRule("-A ufw-user-output -d 203.0.113.9/32 -p tcp -m tcp --dport 5432 -j ACCEPT", verdict("accept"),
					fwMatch("daddr", "203.0.113.9/32"), fwMatch("l4proto", "tcp"), fwMatch("dport", "5432"))),
		},
	}}}
}

func firewallSnapshot(fw *snapshot.Firewall) *snapshot.Snapshot {
	return &snapshot.Snapshot{
		Schema:     snapshot.Schema,
		Host:       *hostWith(),
		Collectors: []snapshot.CollectorStatus{{Name: "firewall", Status: snapshot.StatusOK}, {Name: "listeners", Status: snapshot.StatusOK}},
		Firewall:   fw,
		Listeners:  &snapshot.Listeners{Source: "sock_diag"},
	}
}

func TestEgressIngress(t *testing.T) {
	cases := []struct {
		name, src string
		status    finding.Status
		want      []string // in the explanation
		fix       string   // in the remediation
	}{
		{"smtp denied", `egress "smtp" {
  protocol = "tcp"
  port     = 587
  to       = "0.0.0.0/0"
}`, finding.Fail, []string{
			"outbound tcp to 198.51.100.1:587 is dropped: chain OUTPUT (table filter, iptables-nft) policy DROP, reached after ufw-user-output had no matching rule",
			"outbound allowed: tcp/53, udp/53, tcp/443",
			"addresses checked: 198.51.100.1 deny (an address on the internet), 203.0.113.9 deny (named by the rules)",
		}, "the chain belongs to UFW: allow it with `ufw allow out 587/tcp`"},
		{"dns allowed", `egress "dns" {
  protocol = "udp"
  port     = 53
}`, finding.Pass, []string{`outbound udp to 198.51.100.1:53 is allowed: rule "-A ufw-user-output -p udp -m udp --dport 53 -j ACCEPT" in chain ufw-user-output`}, ""},
		{"postgres to one address", `egress "db" {
  port = 5432
  to   = "203.0.113.9"
}`, finding.Pass, []string{"203.0.113.9:5432 is allowed"}, ""},
		{"postgres to the range: the rules allow one address of it", `egress "db" {
  port = 5432
  to   = "203.0.113.0/24"
}`, finding.Fail, []string{"outbound tcp to 203.0.113.1:5432 is dropped", "addresses checked: 203.0.113.1 deny (first address of 203.0.113.0/24), 203.0.113.254 deny (last address of 203.0.113.0/24), 203.0.113.9 allow (named by the rules)"}, "ufw allow out 5432/tcp"},
		{"smtp expected denied", `egress "no-smtp" {
  port   = 25
  expect = "deny"
}`, finding.Pass, []string{"198.51.100.1:25 is dropped"}, ""},
		{"https expected denied", `egress "no-https" {
  port   = 443
  expect = "deny"
}`, finding.Fail, []string{"198.51.100.1:443 is allowed"}, "ufw deny out 443/tcp"},
		{"ssh in", `ingress "ssh" {
  protocol = "tcp"
  port     = 22
  from     = "203.0.113.0/24"
}`, finding.Pass, []string{"inbound tcp to 198.51.100.7:22 is allowed", "203.0.113.1 allow (first address"}, ""},
		{"web in", `ingress "web" {
  port = 80
}`, finding.Fail, []string{"inbound tcp to 198.51.100.7:80 is dropped: chain INPUT (table filter, iptables-nft) policy DROP, reached after ufw-user-input had no matching rule", "inbound allowed: tcp/22"}, "`ufw allow 80/tcp`"},
		{"ping out", `egress "ping" {
  protocol = "icmp"
}`, finding.Fail, []string{"outbound icmp to 198.51.100.1 is dropped"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := one(t, c.src, firewallSnapshot(ufwDenyOutgoing()))
			if f.Status != c.status {
				t.Errorf("status %s, want %s: %s", f.Status, c.status, f.Explanation)
			}
			for _, w := range c.want {
				if !strings.Contains(f.Explanation, w) {
					t.Errorf("explanation lacks %q:\n%s", w, f.Explanation)
				}
			}
			if !strings.Contains(f.Remediation, c.fix) {
				t.Errorf("remediation lacks %q: %q", c.fix, f.Remediation)
			}
		})
	}
}

func TestEgressWithoutFirewallRules(t *testing.T) {
	fw := &snapshot.Firewall{Backends: allBackends(), LocalAddresses: fwNetwork, Routes: fwRoutes}
	fw.Backends[0].Rules = 0
	f := one(t, `egress "smtp" { port = 587 }`, firewallSnapshot(fw))
	if f.Status != finding.Pass || !strings.Contains(f.Explanation, "no chain drops it") {
		t.Errorf("%s: %s", f.Status, f.Explanation)
	}
}

// TestEgressUnknownIsAnError: a rule whose outcome cannot be known decides
// the verdict, so the check is an error with the reason, never a pass.
func TestEgressUnknownIsAnError(t *testing.T) {
	fw := ufwDenyOutgoing()
	out := fw.Tables[0].Chain("ufw-user-output")
	out.Rules = append([]snapshot.Rule{{Position: 0, Text: "-A ufw-user-output -m statistic --mode random --probability 0.5 -j ACCEPT",
		Verdict: verdict("accept"), Matches: []snapshot.Match{{Field: snapshot.FieldMayMatch, Reason: "statistic: random"}}}}, out.Rules...)
	f := one(t, `egress "smtp" { port = 587 }`, firewallSnapshot(fw))
	if f.Status != finding.Error || !strings.Contains(f.Explanation, "unknown fate") || !strings.Contains(f.Explanation, "statistic: random") {
		t.Errorf("%s: %s", f.Status, f.Explanation)
	}
}

// TestEgressIncompleteFirewall: with a ruleset unreadable, an accept is not
// certain (error) while a drop is (a drop in any table wins).
func TestEgressIncompleteFirewall(t *testing.T) {
	fw := ufwDenyOutgoing()
	fw.Backends[2] = snapshot.Backend{Name: snapshot.BackendIptablesLegacy, Reason: "/usr/sbin/iptables-legacy-save: exit status 1: Permission denied: run hostdrift as root or with CAP_NET_ADMIN",
		Fix: []string{"run hostdrift as root or with CAP_NET_ADMIN and CAP_NET_RAW"}}
	s := firewallSnapshot(fw)
	s.Collectors[0] = snapshot.CollectorStatus{Name: "firewall", Status: snapshot.StatusPartial, Reason: "iptables-legacy: " + fw.Backends[2].Reason}
	f := one(t, `egress "https" { port = 443 }`, s)
	if f.Status != finding.Error || !strings.Contains(f.Explanation, "not read completely (iptables-legacy: ") || !strings.Contains(f.Remediation, "CAP_NET_ADMIN") {
		t.Errorf("allowed over an incomplete firewall: %s: %s / %s", f.Status, f.Explanation, f.Remediation)
	}
	if f := one(t, `egress "smtp" { port = 587 }`, s); f.Status != finding.Fail {
		t.Errorf("denied over an incomplete firewall: %s: %s", f.Status, f.Explanation)
	}
	// A gap whose fix the collector could not tell gets no guessed fix.
	fw.Backends[2].Fix = nil
	if f := one(t, `egress "https" { port = 443 }`, s); f.Status != finding.Error || f.Remediation != "" {
		t.Errorf("a gap without a known fix: %s, remediation %q, want an error and none", f.Status, f.Remediation)
	}
	if f := one(t, `egress "no-smtp" {
  port   = 587
  expect = "deny"
}`, s); f.Status != finding.Pass {
		t.Errorf("expected deny over an incomplete firewall: %s: %s", f.Status, f.Explanation)
	}
}

func TestEgressCollectorFailed(t *testing.T) {
	s := firewallSnapshot(nil)
	s.Collectors[0] = snapshot.CollectorStatus{Name: "firewall", Status: snapshot.StatusError,
		Reason: "no firewall backend could be read: nftables: netlink: operation not permitted: run hostdrift as root or with CAP_NET_ADMIN"}
	f := one(t, `egress "smtp" { port = 587 }`, s)
	if f.Status != finding.Error || !strings.Contains(f.Explanation, "the firewall collector failed") || !strings.Contains(f.Explanation, "CAP_NET_ADMIN") {
		t.Errorf("%s: %s", f.Status, f.Explanation)
	}
}

func TestFlowDecodeErrors(t *testing.T) {
	for src, want := range map[string]string{
		`egress "x" { protocol = "tcp" }`: "Missing port",
		`egress "x" {
  protocol = "icmp"
  port     = 1
}`: "No port for icmp",
		`egress "x" {
  port = 25
  to   = "not-an-address"
}`: "Invalid value for to",
		`ingress "x" {
  port   = 22
  expect = "open"
}`: "Invalid value for expect",
		`ingress "x" {
  port = 22
  to   = "10.0.0.1"
}`: "Unsupported argument",
	} {
		p := loadDiags(t, src)
		if !strings.Contains(p, want) {
			t.Errorf("%s: diagnostics lack %q: %s", src, want, p)
		}
	}
}

func loadDiags(t *testing.T, src string) string {
	t.Helper()
	p, diags := rulesLoad(src)
	if !diags.HasErrors() {
		_, diags = p.Compile(hostWith(), nil)
	}
	return diags.Error()
}

func rulesLoad(src string) (*rules.Policy, hcl.Diagnostics) {
	return rules.Load([]rules.Source{{Name: "test.hcl", Text: []byte(src)}})
}

func TestFirewallBackends(t *testing.T) {
	const src = `firewall_backends "single" {}`
	both := ufwDenyOutgoing()
	both.Backends[2].Rules, both.Backends[2].Tables = 3, 1
	f := one(t, src, firewallSnapshot(both))
	if f.Status != finding.Fail || !strings.Contains(f.Explanation, "iptables-legacy (3 rules in 1 tables) and iptables-nft (10 rules in 1 tables) are both active") ||
		!strings.Contains(f.Remediation, "iptables-legacy-save") {
		t.Errorf("both: %s: %s / %s", f.Status, f.Explanation, f.Remediation)
	}
	if f := one(t, src, firewallSnapshot(ufwDenyOutgoing())); f.Status != finding.Pass {
		t.Errorf("one: %s: %s", f.Status, f.Explanation)
	}
	missing := ufwDenyOutgoing()
	missing.Backends[2] = snapshot.Backend{Name: snapshot.BackendIptablesLegacy, Reason: "read /proc/net/ip_tables_names: permission denied"}
	if f := one(t, src, firewallSnapshot(missing)); f.Status != finding.Error || !strings.Contains(f.Explanation, "permission denied") {
		t.Errorf("legacy unreadable: %s: %s", f.Status, f.Explanation)
	}
}

func TestFirewallExposed(t *testing.T) {
	const src = `firewall_exposed "internal" {
  ports = [6379, 5432]
}`
	public := firewallSnapshot(ufwDenyOutgoing())
	public.Listeners.Sockets = []snapshot.Socket{sock("tcp", "0.0.0.0", 6379, redis), sock("tcp", "127.0.0.1", 5432, nil)}
	if f := one(t, src, public); f.Status != finding.Pass || !strings.Contains(f.Explanation, "the firewall drops them from the internet") {
		t.Errorf("dropped by INPUT: %s: %s", f.Status, f.Explanation)
	}
	open := ufwDenyOutgoing()
	in := open.Tables[0].Chain("ufw-user-input")
	in.Rules = append(in.Rules, snapshot.Rule{Position: 2, Text: "-A ufw-user-input -p tcp -m tcp --dport 6379 -j ACCEPT", Verdict: verdict("accept"),
		Matches: []snapshot.Match{fwMatch("l4proto", "tcp"), fwMatch("dport", "6379")}})
	s := firewallSnapshot(open)
	s.Listeners.Sockets = public.Listeners.Sockets
	f := one(t, src, s)
	if f.Status != finding.Fail ||
		!strings.Contains(f.Explanation, `port 6379 (redis-server, pid 777, on 0.0.0.0) is reachable from anywhere: inbound tcp to 198.51.100.7:6379 is allowed: rule "-A ufw-user-input -p tcp -m tcp --dport 6379 -j ACCEPT" in chain ufw-user-input`) ||
		!strings.Contains(f.Remediation, "ufw delete N") {
		t.Errorf("accepted: %s: %s / %s", f.Status, f.Explanation, f.Remediation)
	}
	local := firewallSnapshot(ufwDenyOutgoing())
	local.Listeners.Sockets = []snapshot.Socket{sock("tcp", "127.0.0.1", 6379, redis)}
	if f := one(t, src, local); f.Status != finding.Pass || !strings.Contains(f.Explanation, "no tcp listener on port 6379, 5432 at a public address") {
		t.Errorf("loopback only: %s: %s", f.Status, f.Explanation)
	}
}

// dockerOn is a Docker host (FORWARD policy DROP) that also routes for a
// WireGuard network on wg0.
func dockerOn(policy string) *snapshot.Firewall {
	fw := &snapshot.Firewall{Backends: allBackends(), Routes: fwRoutes, LocalAddresses: append(append([]snapshot.LocalAddress(nil), fwNetwork...),
		snapshot.LocalAddress{Prefix: netip.MustParsePrefix("172.17.0.1/16"), Interface: "docker0"},
		snapshot.LocalAddress{Prefix: netip.MustParsePrefix("10.8.0.1/24"), Interface: "wg0"}),
		Tables: []snapshot.Table{{Backend: snapshot.BackendIptablesNft, Family: "ip", Name: "filter", Chains: []snapshot.Chain{
			chain("FORWARD", "forward", policy,
				fwRule("-A FORWARD -j DOCKER-USER", jumpTo("DOCKER-USER")),
				fwRule("-A FORWARD -o docker0 -j DOCKER", jumpTo("DOCKER"), fwMatch("oif", "docker0"))),
			chain("DOCKER-USER", "", ""),
			chain("DOCKER", "", ""),
		}}}}
	return fw
}

func TestDockerForward(t *testing.T) {
	const src = `docker_forward "routing" {}`
	f := one(t, src, firewallSnapshot(dockerOn("drop")))
	if f.Status != finding.Fail ||
		!strings.Contains(f.Explanation, "Docker set FORWARD policy DROP (table filter, iptables-nft)") ||
		!strings.Contains(f.Explanation, "from 10.8.0.2 (in on wg0): forwarded tcp from 10.8.0.2 to 198.51.100.1:443 is dropped: chain FORWARD (table filter, iptables-nft) policy DROP") ||
		!strings.Contains(f.Remediation, "iptables -I DOCKER-USER -i wg0 -o eth0 -j ACCEPT") {
		t.Errorf("drop: %s: %s / %s", f.Status, f.Explanation, f.Remediation)
	}
	if f := one(t, src, firewallSnapshot(dockerOn("accept"))); f.Status != finding.Pass || !strings.Contains(f.Explanation, "unpublished ports") {
		t.Errorf("accept: %s: %s", f.Status, f.Explanation)
	}
	noVPN := dockerOn("drop")
	noVPN.LocalAddresses = noVPN.LocalAddresses[:3]
	if f := one(t, src, firewallSnapshot(noVPN)); f.Status != finding.Pass || !strings.Contains(f.Explanation, "no other interface") {
		t.Errorf("no other network: %s: %s", f.Status, f.Explanation)
	}
	if f := one(t, src, firewallSnapshot(ufwDenyOutgoing())); f.Status != finding.Pass || f.Explanation != "no Docker chains in the firewall" {
		t.Errorf("no Docker: %s: %s", f.Status, f.Explanation)
	}
}

// TestIngressNamesFirewalldOrigin: on firewalld's table, as the collector
// annotates it, an ingress finding names the zone and the service or rich
// rule that decides, and the zone a closed port went through.
func TestIngressNamesFirewalldOrigin(t *testing.T) {
	ssh := fwRule("tcp dport 22 accept", verdict("accept"), fwMatch("l4proto", "tcp"), fwMatch("dport", "22"))
	ssh.Origin = "firewalld zone public, service ssh"
	rich := fwRule("meta nfproto ipv4 ip saddr 203.0.113.7 reject", verdict("reject"), fwMatch("nfproto", "ipv4"), fwMatch("saddr", "203.0.113.7"))
	rich.Origin = `firewalld zone public, rich rule 'rule family="ipv4" source address="203.0.113.7" reject'`
	target := fwRule("reject with icmpx admin-prohibited", verdict("reject"))
	target.Origin = "firewalld zone public, target default (what no service, port or rich rule of the zone accepts)"
	zone := func(c snapshot.Chain) snapshot.Chain { c.Origin = "firewalld zone public"; return c }
	fw := &snapshot.Firewall{Backends: allBackends(), LocalAddresses: fwNetwork, Routes: fwRoutes, Tables: []snapshot.Table{{
		Backend: snapshot.BackendNftables, Family: "inet", Name: "firewalld", Chains: []snapshot.Chain{
			chain("filter_INPUT", "input", "accept", fwRule("jump filter_IN_public", jumpTo("filter_IN_public"))),
			zone(chain("filter_IN_public", "", "", fwRule("jump filter_IN_public_deny", jumpTo("filter_IN_public_deny")), fwRule("jump filter_IN_public_allow", jumpTo("filter_IN_public_allow")), target)),
			zone(chain("filter_IN_public_deny", "", "", rich)),
			zone(chain("filter_IN_public_allow", "", "", ssh)),
		}}}}
	for _, c := range []struct{ src, want, fix string }{
		{`ingress "no-ssh" {
  port   = 22
  expect = "deny"
}`, "set by firewalld zone public, service ssh", "firewall-cmd"},
		{`ingress "ssh-from-the-blocked" {
  port = 22
  from = "203.0.113.7"
}`, `set by firewalld zone public, rich rule 'rule family="ipv4" source address="203.0.113.7" reject'`, "--list-rich-rules"},
		{`ingress "closed" {
  port = 9999
}`, "set by firewalld zone public, target default (what no service, port or rich rule of the zone accepts)", "firewall-cmd --add-port=9999/tcp"},
	} {
		f := one(t, c.src, firewallSnapshot(fw))
		if f.Status != finding.Fail || !strings.Contains(f.Explanation, c.want) || !strings.Contains(f.Remediation, c.fix) {
			t.Errorf("%s: %s: %s\n→ %s\nwant it to name %s, and the fix %s", f.Check, f.Status, f.Explanation, f.Remediation, c.want, c.fix)
		}
	}
}
