package snapshot_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/diff"
	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/policies"
	"github.com/hostdrift/hostdrift/rules"
)

// FuzzDecode feeds documents to snapshot.Decode, as check --snapshot and
// diff read them. A document that decodes must then survive everything
// downstream: its areas and objects, a diff against itself (which must find
// no change and compare exactly the usable areas), rendering that diff, and
// the built-in default policy judging it, compiled both for a fixed host
// and for the snapshot's own. A hostile snapshot may make checks errors;
// it must not make one panic (the engine turns a panic into an "internal
// error" finding, which this target refuses).
func FuzzDecode(f *testing.F) {
	for _, s := range seedSnapshots() {
		b, err := json.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"schema":"hostdrift/snapshot/v1"}`))
	f.Add([]byte(`{"schema":"hostdrift/snapshot/v0"}`))
	f.Add([]byte(`{"schema":"hostdrift/snapshot/v1","collectors":[{"name":"firewall","status":"ok"}],"firewall":{"tables":[{"chains":[{"rules":[{},{}]}]}]}}`))
	srcs, err := policies.Default()
	if err != nil {
		f.Fatal(err)
	}
	var sources []rules.Source
	for _, s := range srcs {
		sources = append(sources, rules.Source{Name: s.Name, Text: s.Text})
	}
	pol, diags := rules.Load(sources)
	if diags.HasErrors() {
		f.Fatal(diags)
	}
	fixed := seedSnapshots()[0].Host
	plan, diags := pol.Compile(&fixed, nil)
	if diags.HasErrors() {
		f.Fatal(diags)
	}
	now := time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, doc []byte) {
		s, err := snapshot.Decode(bytes.NewReader(doc))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("error without a message")
			}
			return
		}
		areas := s.Areas()
		d := diff.Compare(s, s, diff.Options{})
		if len(d.Changes) != 0 {
			t.Fatalf("a snapshot compared with itself changed: %v", summaries(d))
		}
		usable := map[string]bool{}
		for _, a := range areas {
			usable[a.Area] = a.Usable
		}
		// d.Areas leaves out the areas whose collector ran in neither
		// snapshot: match them by name, not position.
		for _, a := range d.Areas {
			if a.Compared != usable[a.Name] || a.OldObjects != a.NewObjects {
				t.Fatalf("area %s compared %v, usable %v, objects %d and %d", a.Name, a.Compared, usable[a.Name], a.OldObjects, a.NewObjects)
			}
		}
		for _, format := range report.DiffFormats() {
			if err := report.RenderDiff(io.Discard, format, d); err != nil && err.Error() == "" {
				t.Fatalf("%s: error without a message", format)
			}
		}
		judge(t, plan, s, now)
		if own, diags := pol.Compile(&s.Host, nil); !diags.HasErrors() {
			judge(t, own, s, now)
		}
	})
}

// judge evaluates the plan and refuses findings from a panicking check.
func judge(t *testing.T, plan *rules.Plan, s *snapshot.Snapshot, now time.Time) {
	t.Helper()
	fs := plan.Evaluate(s, now)
	if len(fs) != len(plan.Checks) {
		t.Fatalf("%d findings for %d checks", len(fs), len(plan.Checks))
	}
	for _, f := range fs {
		if strings.Contains(f.Explanation, "internal error while evaluating") {
			t.Fatalf("%s panicked: %s", f.Check, f.Explanation)
		}
	}
}

func summaries(d *diff.Diff) []string {
	var out []string
	for _, c := range d.Changes {
		out = append(out, c.Summary())
	}
	return out
}

// seedSnapshots are snapshots shaped like the collectors write them: a web
// host with listeners, an iptables-nft firewall (with a rule it could not
// parse, kept both in its chain and in the unparsed list, as ParseSave
// does), a native nftables table with sets, DNS answers and probes; then
// the same host with failed and skipped collectors.
func seedSnapshots() []*snapshot.Snapshot {
	addr := netip.MustParseAddr
	prefix := netip.MustParsePrefix
	host := snapshot.Host{Hostname: "web1", FQDN: "web1.example.com", Interfaces: []snapshot.Interface{
		{Name: "lo", Index: 1, Up: true, Loopback: true, Addresses: []snapshot.Address{{IP: addr("127.0.0.1"), PrefixLen: 8, Family: snapshot.IPv4, Scope: "host"}}},
		{Name: "eth0", Index: 2, Up: true, Addresses: []snapshot.Address{
			{IP: addr("198.51.100.7"), PrefixLen: 24, Family: snapshot.IPv4, Scope: "global"},
			{IP: addr("2001:db8::7"), PrefixLen: 64, Family: snapshot.IPv6, Scope: "global"},
		}},
	}}
	proc := func(pid int, name, unit string) *snapshot.Process {
		return &snapshot.Process{PID: pid, Name: name, Cmdline: "/usr/sbin/" + name, Unit: unit}
	}
	sock := func(proto, a string, port uint16, p *snapshot.Process) snapshot.Socket {
		ip := addr(a)
		return snapshot.Socket{Protocol: proto, Family: snapshot.FamilyOf(ip), Address: ip, Port: port, Inode: uint64(port) * 7, Backlog: 511, Process: p}
	}
	rule := func(pos int, text string, v snapshot.Verdict, ms ...snapshot.Match) snapshot.Rule {
		return snapshot.Rule{Position: pos, Text: text, Verdict: v, Matches: ms}
	}
	m := func(field string, vals ...string) snapshot.Match { return snapshot.Match{Field: field, Values: vals} }
	unparsed := `-A ufw-user-input -m comment --comment "unterminated -j DROP`
	fw := &snapshot.Firewall{
		Backends: []snapshot.Backend{
			{Name: snapshot.BackendIptablesNft, Available: true, Tables: 1, Rules: 4},
			{Name: snapshot.BackendNftables, Available: true, Tables: 1, Rules: 2},
			{Name: snapshot.BackendIptablesLegacy, Available: false, Reason: "iptables-legacy-save not installed"},
		},
		Tables: []snapshot.Table{
			{Backend: snapshot.BackendIptablesNft, Family: "ip", Name: "filter", Chains: []snapshot.Chain{
				{Name: "INPUT", Hook: "input", Type: "filter", Policy: "drop", Rules: []snapshot.Rule{
					rule(1, "-A INPUT -i lo -j ACCEPT", snapshot.Verdict{Kind: "accept"}, m("iif", "lo")),
					rule(2, "-A INPUT -j ufw-user-input", snapshot.Verdict{Kind: "jump", Chain: "ufw-user-input"}),
				}},
				{Name: "ufw-user-input", Rules: []snapshot.Rule{
					rule(1, "-A ufw-user-input -p tcp -m multiport --dports 80,443 -j ACCEPT", snapshot.Verdict{Kind: "accept"}, m("l4proto", "tcp"), m("dport", "80", "443")),
					{Position: 2, Text: unparsed, Unsupported: []string{"cannot split into arguments: unterminated quote"},
						Verdict: snapshot.Verdict{Kind: "unknown", Reason: "rule not parsed: cannot split into arguments: unterminated quote"}},
				}},
			}},
			{Backend: snapshot.BackendNftables, Family: "inet", Name: "fw", Sets: []snapshot.Set{
				{Name: "trusted", KeyType: []string{"ipv4_addr"}, Flags: []string{"interval"}, Elements: []snapshot.SetElement{{Key: []string{"198.51.100.0/28"}}}},
				{Name: "ports", KeyType: []string{"inet_service"}, Flags: []string{"map"}, DataType: "verdict", Elements: []snapshot.SetElement{{Key: []string{"22"}, Value: "accept"}}},
			}, Chains: []snapshot.Chain{
				{Name: "input", Hook: "input", Type: "filter", Priority: 10, Policy: "accept", Rules: []snapshot.Rule{
					{Position: 1, Handle: 4, Text: "ip saddr @trusted accept", Verdict: snapshot.Verdict{Kind: "accept"}, Matches: []snapshot.Match{{Field: "set", Set: "trusted", Keys: []string{"saddr"}}}},
					{Position: 2, Handle: 5, Text: "tcp dport vmap @ports", Verdict: snapshot.Verdict{Kind: "vmap", Set: "ports", Keys: []string{"dport"}}, Matches: []snapshot.Match{m("l4proto", "tcp")}},
				}},
			}},
		},
		Unparsed: []snapshot.UnparsedRule{{Backend: snapshot.BackendIptablesNft, Family: "ip", Table: "filter", Chain: "ufw-user-input", Text: unparsed,
			Reason: "cannot split into arguments: unterminated quote"}},
		LocalAddresses: []snapshot.LocalAddress{{Prefix: prefix("127.0.0.1/8"), Interface: "lo"}, {Prefix: prefix("198.51.100.7/24"), Interface: "eth0"}},
		Routes:         []snapshot.Route{{Dst: prefix("198.51.100.0/24"), Interface: "eth0"}, {Dst: prefix("0.0.0.0/0"), Interface: "eth0", Gateway: addr("198.51.100.1")}},
	}
	nginx := proc(812, "nginx", "nginx.service")
	full := &snapshot.Snapshot{
		Schema: snapshot.Schema, Version: "test", TakenAt: time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC), Host: host,
		Collectors: []snapshot.CollectorStatus{
			{Name: "host", Status: snapshot.StatusOK}, {Name: "dns", Status: snapshot.StatusOK, DurationMS: 3.5},
			{Name: "listeners", Status: snapshot.StatusOK}, {Name: "probes", Status: snapshot.StatusOK},
			{Name: "firewall", Status: snapshot.StatusPartial, Reason: "1 rule not parsed"},
		},
		Listeners: &snapshot.Listeners{Source: "sock_diag", Sockets: []snapshot.Socket{
			sock("tcp", "0.0.0.0", 443, nginx), sock("tcp", "::", 443, nginx), sock("tcp", "0.0.0.0", 6379, proc(777, "redis-server", "redis-server.service")),
			sock("udp", "127.0.0.53", 53, proc(400, "systemd-resolve", "systemd-resolved.service")), sock("tcp", "127.0.0.1", 41234, nil),
		}, Unowned: 1},
		Firewall: fw,
		DNS: &snapshot.DNS{Resolvers: []string{"127.0.0.53:53"}, TimeoutMS: 2000, Attempts: 2,
			Hosts: []snapshot.HostsEntry{{Line: 1, IP: addr("127.0.0.1"), Names: []string{"localhost"}}, {Line: 2, IP: addr("127.0.1.1"), Names: []string{"web1.example.com", "web1"}}},
			Queries: []snapshot.DNSResult{
				{DNSQuery: snapshot.DNSQuery{Name: "web1.example.com", Type: "A"}, AnsweredBy: "127.0.0.53:53", Rcode: "NOERROR",
					CNAMEs:  []snapshot.CNAME{{Name: "web1.example.com", Target: "lb.example.net", TTL: 60}},
					Records: []snapshot.AddressRecord{{IP: addr("203.0.113.9"), TTL: 300}}, DurationMS: 1},
				{DNSQuery: snapshot.DNSQuery{Name: "web1.example.com", Type: "AAAA"}, Error: "i/o timeout", Failed: []string{"127.0.0.53:53"}},
			}},
		Probes: &snapshot.Probes{Results: []snapshot.ProbeResult{
			{Target: snapshot.ProbeTarget{URL: "https://web1.example.com/", TimeoutMS: 2000}, Addr: "198.51.100.7:443", Resolved: []netip.Addr{addr("198.51.100.7")},
				Connected: true, ConnectMS: 0.4, DurationMS: 12, TLS: &snapshot.TLSState{Version: "TLS 1.3", VerifyError: "x509: certificate has expired"}},
		}, Listeners: []snapshot.ProbeResult{
			{Target: snapshot.ProbeTarget{TCP: "198.51.100.7:6379", Banner: true, TimeoutMS: 1000}, Socket: &snapshot.Socket{Protocol: "tcp", Port: 6379},
				Connected: true, BannerLine: "-NOAUTH Authentication required."},
		}},
	}
	failed := *full
	failed.Collectors = []snapshot.CollectorStatus{
		{Name: "host", Status: snapshot.StatusOK}, {Name: "firewall", Status: snapshot.StatusError, Reason: "permission denied: run as root or with CAP_NET_ADMIN"},
		{Name: "listeners", Status: snapshot.StatusSkipped, Reason: "not asked for"},
	}
	return []*snapshot.Snapshot{full, &failed}
}
