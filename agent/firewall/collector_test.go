package firewall

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/audit"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
	"github.com/hostdrift/hostdrift/rules"
)

const collectNft = `table inet filter {
	set allowed {
		type ipv4_addr
		flags interval
		elements = { 10.0.0.0/8, 192.168.1.10-192.168.1.20, 203.0.113.7 }
	}
	map portv {
		type inet_service : verdict
		elements = { 22 : accept, 25 : drop, 8080 : jump web }
	}
	set svc {
		type ipv4_addr . inet_proto . inet_service
		elements = { 10.1.1.1 . tcp . 443 }
	}
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iifname "veth*" tcp dport 587 accept comment "smtp submission"
		ip saddr @allowed tcp dport { 80, 443 } accept
		tcp dport vmap @portv
		ip daddr . meta l4proto . th dport @svc accept
		meta l4proto udp socket transparent 1 accept
		meta l4proto tcp rt classid 0x10 drop
	}
	chain web {
		ip saddr 192.0.2.0/24 return
		accept
	}
}
`

func collect(t *testing.T, c *Collector, ns *nstest.NS) (*snapshot.Firewall, error) {
	t.Helper()
	sec, err := c.Collect(context.Background(), &agent.Env{NetNS: ns.Path()})
	if sec == nil {
		if err == nil {
			t.Fatal("no section and no error")
		}
		return nil, err
	}
	return sec.(*snapshot.Firewall), err
}

func rulesOf(t *testing.T, fw *snapshot.Firewall, backend, family, table, chain string) []snapshot.Rule {
	t.Helper()
	tb := fw.Table(backend, family, table)
	if tb == nil {
		t.Fatalf("no table %s %s %s in %+v", backend, family, table, fw.Tables)
	}
	c := tb.Chain(chain)
	if c == nil {
		t.Fatalf("no chain %s in table %s", chain, table)
	}
	return c.Rules
}

// TestCollectAllBackends loads native nftables, iptables-nft and
// iptables-legacy rules into one namespace and checks each lands once, with
// its origin, text, sets and what could not be decoded.
func TestCollectAllBackends(t *testing.T) {
	ns := nstest.New(t)
	nftLoad(t, ns, collectNft)
	ns.Run(t, "iptables-nft", "-A", "OUTPUT", "-p", "tcp", "--dport", "587", "-m", "comment", "--comment", "no mail", "-j", "DROP")
	ns.Run(t, "ip6tables-nft", "-A", "INPUT", "-p", "udp", "--dport", "546", "-j", "ACCEPT")
	ns.Run(t, "iptables-legacy", "-A", "INPUT", "-p", "udp", "-m", "multiport", "--dports", "53,123:124", "-j", "ACCEPT")

	fw, err := collect(t, &Collector{}, ns)
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	for _, want := range []struct {
		name   string
		tables int
		rules  int
	}{{snapshot.BackendNftables, 1, 9}, {snapshot.BackendIptablesNft, 2, 2}, {snapshot.BackendIptablesLegacy, 1, 1}} {
		b, ok := fw.Backend(want.name)
		if !ok || !b.Available || b.Tables != want.tables || b.Rules != want.rules {
			t.Errorf("backend %s = %+v, want available with %d tables, %d rules", want.name, b, want.tables, want.rules)
		}
	}
	// iptables-nft tables appear once, from iptables-nft-save, not again as native ones.
	if tb := fw.Table(snapshot.BackendNftables, "ip", "filter"); tb != nil {
		t.Errorf("iptables-nft table counted as native nftables too: %+v", tb)
	}
	out := rulesOf(t, fw, snapshot.BackendIptablesNft, "ip", "filter", "OUTPUT")
	if len(out) != 1 || out[0].Text != `-A OUTPUT -p tcp -m tcp --dport 587 -m comment --comment "no mail" -j DROP` || out[0].Comment != "no mail" || out[0].Verdict.Kind != "drop" {
		t.Errorf("iptables-nft OUTPUT = %+v", out)
	}
	leg := rulesOf(t, fw, snapshot.BackendIptablesLegacy, "ip", "filter", "INPUT")
	if len(leg) != 1 || !reflect.DeepEqual(leg[0].Matches[1].Values, []string{"53", "123-124"}) {
		t.Errorf("legacy INPUT = %+v", leg)
	}

	tb := fw.Table(snapshot.BackendNftables, "inet", "filter")
	in := tb.Chain("input")
	if in.Hook != "input" || in.Policy != "drop" || in.Priority != 0 || in.Type != "filter" {
		t.Errorf("input chain = %+v", in)
	}
	if got := tb.Set("allowed"); got == nil || !reflect.DeepEqual(got.Elements, []snapshot.SetElement{{Key: []string{"10.0.0.0/8"}}, {Key: []string{"192.168.1.10-192.168.1.20"}}, {Key: []string{"203.0.113.7"}}}) {
		t.Errorf("interval set rebuilt as %+v", got)
	}
	portv := tb.Set("portv")
	if portv == nil || !reflect.DeepEqual(portv.KeyType, []string{"inet_service"}) || portv.DataType != "verdict" {
		t.Fatalf("verdict map = %+v", portv)
	}
	vm := map[string]string{}
	for _, e := range portv.Elements {
		vm[e.Key[0]] = e.Value
	}
	if !reflect.DeepEqual(vm, map[string]string{"22": "accept", "25": "drop", "8080": "jump web"}) {
		t.Errorf("verdict map elements = %v", vm)
	}
	if svc := tb.Set("svc"); svc == nil || !reflect.DeepEqual(svc.Elements, []snapshot.SetElement{{Key: []string{"10.1.1.1", "tcp", "443"}}}) {
		t.Errorf("concatenated set = %+v", svc)
	}
	rules := in.Rules
	if r := rules[1]; r.Comment != "smtp submission" || r.Handle == 0 || r.Position != 2 ||
		r.Text != `iifname "veth*" tcp dport 587 accept comment "smtp submission"` {
		t.Errorf("rule 2 = %+v", r)
	}
	if r := rules[3]; r.Verdict.Kind != snapshot.VerdictMap || r.Verdict.Set != "portv" || !reflect.DeepEqual(r.Verdict.Keys, []string{"dport"}) {
		t.Errorf("vmap rule = %+v", r)
	}
	if r := rules[4]; len(r.Matches) != 2 || !reflect.DeepEqual(r.Matches[1].Keys, []string{"daddr", "l4proto", "dport"}) {
		t.Errorf("concatenated lookup = %+v", r.Matches)
	}
	// socket and rt are dropped silently by google/nftables; here they are
	// read from their attributes: the socket depends on the local process,
	// the route's class is not decoded and marks the rule.
	if r := rules[5]; len(r.Unsupported) != 0 || len(r.Matches) != 2 || r.Matches[1].Field != snapshot.FieldMayMatch || !strings.HasPrefix(r.Matches[1].Reason, snapshot.MayProcess+"socket") {
		t.Errorf("socket rule = %+v", r)
	}
	if r := rules[6]; len(r.Unsupported) == 0 || !strings.Contains(r.Unsupported[0], "rt key 0") {
		t.Errorf("rt classid rule not marked: %+v", r)
	}

	// The snapshot round-trips through JSON exactly.
	b, err := json.Marshal(fw)
	if err != nil {
		t.Fatal(err)
	}
	var back snapshot.Firewall
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, fw) {
		b2, _ := json.Marshal(&back)
		t.Errorf("JSON round trip changed the firewall:\n%s\n%s", b, b2)
	}
}

// missingTools points every dump tool at a path that does not exist, as on
// a host without the iptables package.
var missingTools = Tools{IptablesNftSave: "/nonexistent/iptables-nft-save", Ip6tablesNftSave: "/nonexistent/ip6tables-nft-save",
	IptablesLegacySave: "/nonexistent/iptables-legacy-save", Ip6tablesLegacySave: "/nonexistent/ip6tables-legacy-save"}

// TestCollectMissingTools: without the iptables tools, legacy rules (listed
// in /proc/net/ip_tables_names) are a real gap and the reason says what to
// do; nftables is still read, and iptables-nft, with no table of its own on
// netlink, holds nothing.
func TestCollectMissingTools(t *testing.T) {
	ns := nstest.New(t)
	nftLoad(t, ns, "table ip t { chain c { type filter hook output priority 0; policy accept; tcp dport 587 drop; }; }")
	c := &Collector{Tools: missingTools}
	// Load legacy rules so that the legacy tool is needed.
	ns.Run(t, "iptables-legacy", "-A", "INPUT", "-j", "ACCEPT")
	fw, err := collect(t, c, ns)
	var partial *agent.PartialError
	if !errors.As(err, &partial) {
		t.Fatalf("err = %v, want a Partial error", err)
	}
	if !strings.Contains(partial.Reason, "iptables-legacy: /nonexistent/iptables-legacy-save not found: install the iptables package") || strings.Contains(partial.Reason, "iptables-nft:") {
		t.Errorf("reason %q: want the legacy gap, and what to do, only", partial.Reason)
	}
	if b, _ := fw.Backend(snapshot.BackendIptablesLegacy); b.Available {
		t.Errorf("iptables-legacy marked available while it holds tables its tool would read: %+v", b)
	}
	if b, _ := fw.Backend(snapshot.BackendNftables); !b.Available || b.Rules != 1 {
		t.Errorf("nftables backend = %+v, want 1 rule", b)
	}
}

// TestCollectNftablesOnly: a host with nftables and no iptables package.
// Netlink shows every nf_tables table; none was made by iptables-nft (a
// native "ip nat" table with nftables' own chain names is not), and no
// legacy table exists, so both iptables backends hold no rules: the firewall
// is fully read.
func TestCollectNftablesOnly(t *testing.T) {
	ns := nstest.New(t)
	nftLoad(t, ns, `table inet filter { chain input { type filter hook input priority 0; policy drop; tcp dport 22 accept; }; }
table ip nat { chain postrouting { type nat hook postrouting priority 100; policy accept; oifname "eth0" masquerade; }; }`)
	fw, err := collect(t, &Collector{Tools: missingTools}, ns)
	if err != nil {
		t.Fatalf("collect: %v, want a full read", err)
	}
	nft, _ := fw.Backend(snapshot.BackendIptablesNft)
	if !nft.Available || nft.Reason != "" || nft.Rules != 0 ||
		nft.Note != "/nonexistent/iptables-nft-save not found: install the iptables package; /nonexistent/ip6tables-nft-save not found: install the iptables package; netlink shows no table that iptables-nft made in ip and ip6, so it holds no rules there" {
		t.Errorf("iptables-nft = %+v, want available, empty, with a note saying how that was judged", nft)
	}
	if b, _ := fw.Backend(snapshot.BackendIptablesLegacy); !b.Available || b.Reason != "" || b.Rules != 0 {
		t.Errorf("iptables-legacy = %+v, want available and empty (no legacy table loaded)", b)
	}
	if b, _ := fw.Backend(snapshot.BackendNftables); !b.Available || b.Rules != 2 {
		t.Errorf("nftables = %+v, want 2 rules", b)
	}
	// The checks that were errors on such a host now judge it.
	for id, f := range judgeFirewall(t, fw, `firewall_backends "one" {}
docker_forward "routing" {}`) {
		if f.Status != finding.Pass {
			t.Errorf("%s: %s %s, want pass", id, f.Status, f.Explanation)
		}
	}
}

// judgeFirewall evaluates a policy against a snapshot holding fw, saved as
// JSON and read back as check --snapshot reads it.
func judgeFirewall(t *testing.T, fw *snapshot.Firewall, policy string) map[string]finding.Finding {
	t.Helper()
	pol, diags := rules.Load([]rules.Source{{Name: "test.hcl", Text: []byte(policy)}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	snap := &snapshot.Snapshot{Schema: snapshot.Schema, Firewall: fw,
		Collectors: []snapshot.CollectorStatus{{Name: "host", Status: snapshot.StatusOK}, {Name: "firewall", Status: snapshot.StatusOK}}}
	plan, diags := pol.Compile(&snap.Host, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return audit.Saved(t, plan, snap)
}

// TestCollectIptablesNftWithoutTool: rules made by iptables-nft (in ip, with
// its builtin chain names; in ip6, with an xt match) while its save tool is
// missing: a real gap, naming the tables only that tool reads whole.
func TestCollectIptablesNftWithoutTool(t *testing.T) {
	nstest.RequireCommand(t, "iptables-nft")
	ns := nstest.New(t)
	ns.Run(t, "iptables-nft", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT")
	ns.Run(t, "ip6tables-nft", "-t", "mangle", "-N", "mark")
	ns.Run(t, "ip6tables-nft", "-t", "mangle", "-A", "mark", "-p", "tcp", "-m", "multiport", "--dports", "80,443", "-j", "ACCEPT")
	fw, err := collect(t, &Collector{Tools: missingTools}, ns)
	var partial *agent.PartialError
	if !errors.As(err, &partial) {
		t.Fatalf("err = %v, want a Partial error", err)
	}
	nft, _ := fw.Backend(snapshot.BackendIptablesNft)
	if nft.Available || !strings.Contains(nft.Reason, "install the iptables package; netlink shows tables iptables-nft made (ip filter, ip6 mangle), which only it reads whole") {
		t.Errorf("iptables-nft = %+v, want unavailable, naming its tables", nft)
	}
	if !strings.Contains(partial.Reason, "iptables-nft: ") {
		t.Errorf("reason %q does not name the iptables-nft gap", partial.Reason)
	}
	if f := judgeFirewall(t, fw, `firewall_backends "one" {}`)["firewall_backends.one"]; f.Status != finding.Error || !strings.Contains(f.Explanation, "ip filter, ip6 mangle") {
		t.Errorf("firewall_backends: %s %s, want an error naming the unread tables", f.Status, f.Explanation)
	} else if f.Remediation != installIptables {
		// Root is reading here: the fix is the package, not a privilege.
		t.Errorf("firewall_backends: remediation %q, want %q", f.Remediation, installIptables)
	}
}

// TestXtCompatTables: what marks a table as iptables-nft's.
func TestXtCompatTables(t *testing.T) {
	table := func(family, name string, chains ...string) snapshot.Table {
		tb := snapshot.Table{Family: family, Name: name}
		for _, c := range chains {
			tb.Chains = append(tb.Chains, snapshot.Chain{Name: c})
		}
		return tb
	}
	tables := []snapshot.Table{
		table("ip", "filter", "INPUT"),          // builtin name and chain: iptables-nft
		table("ip", "nat", "postrouting"),       // native names
		table("ip6", "raw", "mine"),             // xt match below: iptables-nft
		table("inet", "filter", "INPUT"),        // inet is never iptables-nft
		table("ip", "docker-like", "FORWARD"),   // not a builtin table, no xt
		table("ip6", "security", "OUTPUT", "x"), // builtin chain name
	}
	xt := map[string]bool{"ip6/raw": true}
	got := xtCompatTables(tables, xt, []string{"ip", "ip6"})
	if want := []string{"ip filter", "ip6 raw", "ip6 security"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := xtCompatTables(tables, xt, []string{"ip6"}); !slices.Equal(got, []string{"ip6 raw", "ip6 security"}) {
		t.Errorf("ip6 only: got %v", got)
	}
}

// TestCollectEmptyNamespace: a namespace without rules is fully readable and
// no backend holds rules; iptables-legacy is not even started.
func TestCollectEmptyNamespace(t *testing.T) {
	ns := nstest.New(t)
	fw, err := collect(t, &Collector{}, ns)
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	for _, b := range fw.Backends {
		if !b.Available || b.HoldsRules() {
			t.Errorf("backend %+v: want available and empty", b)
		}
	}
	if !slices.ContainsFunc(fw.LocalAddresses, func(a snapshot.LocalAddress) bool { return a.Interface == "lo" }) {
		t.Errorf("local addresses %+v lack lo", fw.LocalAddresses)
	}
}

func TestCollectBadNamespace(t *testing.T) {
	_, err := (&Collector{}).Collect(context.Background(), &agent.Env{NetNS: "/nonexistent/netns"})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/netns") {
		t.Errorf("err = %v, want one naming the namespace", err)
	}
}

func TestRegistered(t *testing.T) {
	if c, ok := agent.New(snapshot.CollectorFirewall); !ok {
		t.Errorf("firewall collector not registered")
	} else if _, ok := c.(*Collector); !ok {
		t.Errorf("firewall collector not registered")
	}
}

// TestCollectAsNobody: without privileges nothing can be read, and the error
// says what to do. The collector runs in a child process as nobody, inside a
// test namespace.
func TestCollectAsNobody(t *testing.T) {
	ns := nstest.New(t)
	nstest.RequireCommand(t, "setpriv")
	dir, err := os.MkdirTemp("", "hostdrift-fw-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "firewall.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := ns.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin, "-test.run=^TestNobodyHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "HOSTDRIFT_FW_NOBODY=1")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "NOBODY-RESULT") {
		t.Fatalf("helper did not run:\n%s", out)
	}
	if !strings.Contains(string(out), needPriv) {
		t.Errorf("collecting as nobody did not say what to do:\n%s", out)
	}
}

// TestNobodyHelper is the child of TestCollectAsNobody; it does nothing
// unless started by it.
func TestNobodyHelper(t *testing.T) {
	if os.Getenv("HOSTDRIFT_FW_NOBODY") != "1" {
		return
	}
	_, err := (&Collector{}).Collect(context.Background(), &agent.Env{})
	fmt.Printf("NOBODY-RESULT uid=%d err=%v\n", os.Getuid(), err)
}

// The host's iptables command is described by go-iptables' reading of its
// version, which must match what the command itself prints.
func TestIptablesCommand(t *testing.T) {
	nstest.RequireCommand(t, "iptables")
	out, err := exec.Command(iptablesPath, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	cmd := iptablesCommand()
	if cmd == nil || cmd.Version == "" || !strings.Contains(string(out), "v"+cmd.Version) {
		t.Fatalf("iptablesCommand() = %+v; iptables --version says %q", cmd, out)
	}
	wantMode := "legacy"
	if strings.Contains(string(out), "nf_tables") {
		wantMode = "nf_tables"
	}
	if cmd.Mode != wantMode {
		t.Errorf("mode %q, but iptables --version says %q", cmd.Mode, out)
	}
}

// TestPrivilegeFix: only a refusal for want of privilege is fixed by one.
func TestPrivilegeFix(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("netlink: %w", unix.EPERM), needPriv},
		{errors.New("iptables-legacy-save: Permission denied (you must be root)"), needPriv},
		{&toolMissingError{"/usr/sbin/iptables-nft-save"}, ""},
		{fmt.Errorf("netlink: %w", unix.EPROTONOSUPPORT), ""},
	} {
		if got := privilegeFix(c.err, needPriv); got != c.want {
			t.Errorf("privilegeFix(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
