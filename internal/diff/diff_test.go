package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func ok(names ...string) []snapshot.CollectorStatus {
	var out []snapshot.CollectorStatus
	for _, n := range names {
		out = append(out, snapshot.CollectorStatus{Name: n, Status: snapshot.StatusOK})
	}
	return out
}

func rule(pos int, handle uint64, text string) snapshot.Rule {
	return snapshot.Rule{Position: pos, Handle: handle, Text: text}
}

func fw(rules ...snapshot.Rule) *snapshot.Firewall {
	return &snapshot.Firewall{Tables: []snapshot.Table{{
		Backend: snapshot.BackendIptablesNft, Family: "ip", Name: "filter",
		Chains: []snapshot.Chain{
			{Name: "INPUT", Hook: "input", Type: "filter", Policy: "accept", Rules: rules},
			{Name: "DOCKER-USER", Rules: []snapshot.Rule{rule(1, 90, "-A DOCKER-USER -j RETURN")}},
		},
	}}}
}

func sock(proto, addr string, port uint16, pid int, name string) snapshot.Socket {
	a := netip.MustParseAddr(addr)
	return snapshot.Socket{Protocol: proto, Family: snapshot.FamilyOf(a), Address: a, Port: port,
		Inode: uint64(pid * 7), Process: &snapshot.Process{PID: pid, Name: name, Cmdline: name + " -D"}}
}

func snap(taken time.Time, f *snapshot.Firewall, l *snapshot.Listeners, d *snapshot.DNS) *snapshot.Snapshot {
	return &snapshot.Snapshot{Schema: snapshot.Schema, TakenAt: taken, Host: snapshot.Host{Hostname: "web1"},
		Collectors: ok("dns", "firewall", "host", "listeners"), Firewall: f, Listeners: l, DNS: d}
}

func answer(name, server string, ips ...string) snapshot.DNSResult {
	r := snapshot.DNSResult{DNSQuery: snapshot.DNSQuery{Name: name, Type: "A", Server: server}, Rcode: "NOERROR", AnsweredBy: server, DurationMS: 1.5}
	for _, ip := range ips {
		r.Records = append(r.Records, snapshot.AddressRecord{IP: netip.MustParseAddr(ip), TTL: 300})
	}
	return r
}

func summaries(d *Diff) string {
	var out []string
	for _, c := range d.Changes {
		out = append(out, c.Summary())
	}
	return strings.Join(out, "\n")
}

// Noise (handles, counters, pids, inodes, TTLs, timings, which server
// answered) never shows as a change.
func TestNoiseIsNotAChange(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	old := snap(t0,
		fw(rule(1, 4, "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT"), rule(2, 5, "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT")),
		&snapshot.Listeners{Sockets: []snapshot.Socket{sock("tcp", "0.0.0.0", 22, 100, "sshd"), sock("udp", "0.0.0.0", 41000, 200, "rpc.statd")}},
		&snapshot.DNS{Resolvers: []string{"10.0.0.2:53"}, Queries: []snapshot.DNSResult{answer("www.example.test", "10.0.0.2:53", "192.0.2.1", "192.0.2.2")}})
	cur := snap(t0.Add(24*time.Hour),
		fw(rule(1, 40, "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT"), rule(2, 41, "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT")),
		&snapshot.Listeners{Sockets: []snapshot.Socket{sock("udp", "0.0.0.0", 52000, 201, "rpc.statd"), sock("tcp", "0.0.0.0", 22, 999, "sshd")}},
		&snapshot.DNS{Resolvers: []string{"10.0.0.2:53"}, Queries: []snapshot.DNSResult{answer("www.example.test", "10.0.0.2:53", "192.0.2.2", "192.0.2.1")}})
	cur.DNS.Queries[0].Records[0].TTL = 17
	cur.DNS.Queries[0].DurationMS = 80
	cur.Firewall.Tables[0].Chains[0].Rules[0].Text = "[17:1020] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT" // iptables-save -c
	d := Compare(old, cur, Options{})
	if len(d.Changes) != 0 {
		t.Errorf("noise reported as changes:\n%s", summaries(d))
	}
	for _, a := range d.Areas {
		if !a.Compared {
			t.Errorf("area %s not compared: %s", a.Name, a.NotCompared)
		}
	}
}

// A rule inserted above another is that one added rule (the one below
// keeps its order among the rules both sides hold); a changed chain policy
// and a changed answer show field by field; a vanished listener is removed.
func TestRealChanges(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	old := snap(t0,
		fw(rule(1, 4, "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT")),
		&snapshot.Listeners{Sockets: []snapshot.Socket{sock("tcp", "0.0.0.0", 22, 100, "sshd"), sock("tcp", "127.0.0.1", 6379, 300, "redis-server")}},
		&snapshot.DNS{Queries: []snapshot.DNSResult{answer("www.example.test", "", "192.0.2.1")}})
	cur := snap(t0.Add(time.Hour),
		fw(rule(1, 9, "-A INPUT -p tcp -m tcp --dport 8080 -j ACCEPT"), rule(2, 4, "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT")),
		&snapshot.Listeners{Sockets: []snapshot.Socket{sock("tcp", "0.0.0.0", 22, 100, "sshd")}},
		&snapshot.DNS{Queries: []snapshot.DNSResult{answer("www.example.test", "", "203.0.113.9")}})
	cur.Firewall.Tables[0].Chains[0].Policy = "drop"
	d := Compare(old, cur, Options{})
	want := strings.Join([]string{
		`firewall chain changed: iptables-nft ip filter INPUT (policy accept -> drop)`,
		`firewall rule added: iptables-nft ip filter INPUT: -A INPUT -p tcp -m tcp --dport 8080 -j ACCEPT`,
		`listeners listener removed: tcp 127.0.0.1:6379 redis-server`,
		`dns answer changed: www.example.test A @system resolvers (records 192.0.2.1 -> 203.0.113.9)`,
	}, "\n")
	if got := summaries(d); got != want {
		t.Errorf("changes:\n%s\nwant:\n%s", got, want)
	}
	if a, r, c := d.Counts(); a != 1 || r != 1 || c != 2 {
		t.Errorf("counts = %d added, %d removed, %d changed; want 1, 1, 2", a, r, c)
	}
}

func TestIgnore(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	old := snap(t0, fw(), &snapshot.Listeners{}, &snapshot.DNS{})
	cur := snap(t0, fw(rule(1, 1, "-A INPUT -s 203.0.113.5/32 -j DROP")), &snapshot.Listeners{}, &snapshot.DNS{})
	cur.Firewall.Tables[0].Chains[1].Rules = append(cur.Firewall.Tables[0].Chains[1].Rules, rule(2, 91, "-A DOCKER-USER -s 10.0.0.0/8 -j ACCEPT"))
	docker := Ignore{Name: "docker-chains", Area: "firewall", Match: map[string]string{"table": "filter", "chain": "DOCKER*"}}
	d := Compare(old, cur, Options{Ignore: []Ignore{docker}})
	if got := summaries(d); got != `firewall rule added: iptables-nft ip filter INPUT: -A INPUT -s 203.0.113.5/32 -j DROP` {
		t.Errorf("with the DOCKER* chains ignored, changes:\n%s", got)
	}
	if d.Ignored["docker-chains"] != 1 {
		t.Errorf("ignored = %v, want docker-chains: 1", d.Ignored)
	}
	// An ignore in another area, or on a field the object lacks, matches nothing.
	for _, ig := range []Ignore{
		{Name: "a", Area: "listeners", Match: map[string]string{"chain": "*"}},
		{Name: "b", Area: "firewall", Match: map[string]string{"no_such_field": "*"}},
		{Name: "c", Area: "firewall", Kind: "set"},
	} {
		if d := Compare(old, cur, Options{Ignore: []Ignore{ig}}); len(d.Changes) != 2 {
			t.Errorf("ignore %s hid changes it should not:\n%s", ig.Name, summaries(d))
		}
	}
	// id globs match the identity.
	byID := Ignore{Name: "blocklist", Area: "firewall", Kind: "rule", Match: map[string]string{"id": "*-j DROP"}}
	if d := Compare(old, cur, Options{Ignore: []Ignore{byID}}); len(d.Changes) != 1 {
		t.Errorf("id glob: changes:\n%s", summaries(d))
	}
}

// A collector that failed on either side is no evidence that its area
// changed: the area is not compared, and says why.
func TestFailedCollectorIsNotCompared(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	old := snap(t0, fw(rule(1, 1, "-A INPUT -j ACCEPT")), &snapshot.Listeners{}, &snapshot.DNS{})
	cur := snap(t0, nil, &snapshot.Listeners{}, &snapshot.DNS{})
	cur.Collectors[1] = snapshot.CollectorStatus{Name: "firewall", Status: snapshot.StatusError, Reason: "netlink: operation not permitted"}
	d := Compare(old, cur, Options{})
	if len(d.Changes) != 0 {
		t.Errorf("a failed collector produced changes:\n%s", summaries(d))
	}
	inc := d.Incomplete()
	if len(inc) != 1 || inc[0].Name != "firewall" || !strings.Contains(inc[0].NotCompared, "operation not permitted") {
		t.Errorf("incomplete = %+v, want firewall with the collector's reason", inc)
	}
}

// DNS answers exist because a policy asked: a question asked only on one
// side is not an added or removed answer.
func TestAnswersOnlyOnOneSideAreNotDrift(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	old := snap(t0, fw(), &snapshot.Listeners{}, &snapshot.DNS{Queries: []snapshot.DNSResult{answer("a.example.test", "", "192.0.2.1")}})
	cur := snap(t0, fw(), &snapshot.Listeners{}, &snapshot.DNS{Queries: []snapshot.DNSResult{answer("b.example.test", "", "192.0.2.1")}})
	if d := Compare(old, cur, Options{}); len(d.Changes) != 0 {
		t.Errorf("answers to different questions reported:\n%s", summaries(d))
	}
}

func TestIdenticalRulesKeepDistinctIdentities(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	r := "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT"
	old := snap(t0, fw(rule(1, 1, r)), &snapshot.Listeners{}, &snapshot.DNS{})
	cur := snap(t0, fw(rule(1, 1, r), rule(2, 2, r)), &snapshot.Listeners{}, &snapshot.DNS{})
	d := Compare(old, cur, Options{})
	if got := summaries(d); got != "firewall rule added: iptables-nft ip filter INPUT: "+r+" (#2)" {
		t.Errorf("a duplicated rule: changes:\n%s", got)
	}
}

// A snapshot compared with itself has no change, even when two objects
// would share an identity: a rule iptables-save printed but hostdrift could
// not parse (in its chain and in Unparsed), a rule or a process whose own
// name ends like a numbered identity.
func TestSelfCompareIsEmpty(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	bad := `-A INPUT -m comment --comment "unterminated -j DROP`
	f := fw(rule(1, 0, "-A INPUT -j ACCEPT"), rule(2, 0, "-A INPUT -j ACCEPT"), rule(3, 0, "-A INPUT -j ACCEPT (#2)"), rule(4, 0, bad))
	f.Unparsed = []snapshot.UnparsedRule{{Backend: snapshot.BackendIptablesNft, Family: "ip", Table: "filter", Chain: "INPUT", Text: bad, Reason: "unterminated quote"}}
	l := &snapshot.Listeners{Sockets: []snapshot.Socket{sock("tcp", "0.0.0.0", 40000, 1, "app"), sock("tcp", "0.0.0.0", 40001, 2, "app"), sock("tcp", "0.0.0.0", 40002, 3, "app (#2)")}}
	s := snap(t0, f, l, &snapshot.DNS{})
	if d := Compare(s, s, Options{}); len(d.Changes) != 0 {
		t.Errorf("changes:\n%s", summaries(d))
	}
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		pat, s string
		want   bool
	}{
		{"DOCKER*", "DOCKER-USER", true},
		{"DOCKER*", "INPUT", false},
		{"*-j DROP", "-A INPUT -s 203.0.113.5/32 -j DROP", true},
		{"KUBE-SEP-????", "KUBE-SEP-0042", true},
		{"br-[0-9a-f]*", "br-1a2b", true},
		{"br-[!0-9]*", "br-1a2b", false},
		{"a.b", "axb", false},
	} {
		if got := glob(c.pat, c.s); got != c.want {
			t.Errorf("glob(%q, %q) = %v, want %v", c.pat, c.s, got, c.want)
		}
	}
	if err := ValidatePattern("br-[0-9"); err == nil {
		t.Error("an unclosed class should be refused")
	}
}

// BenchmarkCompare20kRules diffs two snapshots of 20,000 firewall rules
// each (1% changed) and reports the ratio to decoding both snapshots'
// rules from JSON, the least any diff of saved snapshots does.
func BenchmarkCompare20kRules(b *testing.B) {
	mk := func(shift int) *snapshot.Snapshot {
		var rules []snapshot.Rule
		for i := range 20000 {
			port := i
			if i%100 == 0 {
				port = i + shift
			}
			rules = append(rules, rule(i+1, uint64(i+shift), fmt.Sprintf("-A KUBE-SVC-%04d -d 10.96.%d.%d/32 -p tcp -m tcp --dport %d -j KUBE-SEP-%04d", i/10, i/256, i%256, port, i)))
		}
		return snap(time.Now(), fw(rules...), &snapshot.Listeners{}, &snapshot.DNS{})
	}
	old, cur := mk(0), mk(70000)
	var changes int
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		changes = len(Compare(old, cur, Options{}).Changes)
	}
	per := time.Since(start) / time.Duration(b.N)
	b.StopTimer()
	if changes == 0 {
		b.Fatal("no changes found")
	}
	ref := jsonRoundTrip(b, old, cur)
	b.ReportMetric(float64(per.Microseconds())/1000, "ms/diff")
	b.ReportMetric(float64(per)/float64(ref), "x-json-decode")
}

// jsonRoundTrip times decoding the two snapshots from their JSON.
func jsonRoundTrip(b *testing.B, snaps ...*snapshot.Snapshot) time.Duration {
	var docs [][]byte
	for _, s := range snaps {
		doc, err := json.Marshal(s)
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, doc)
	}
	const rounds = 5
	start := time.Now()
	for range rounds {
		for _, doc := range docs {
			if _, err := snapshot.Decode(bytes.NewReader(doc)); err != nil {
				b.Fatal(err)
			}
		}
	}
	return time.Since(start) / rounds
}
