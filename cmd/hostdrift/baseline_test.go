package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/hostdrift/hostdrift/internal/diff"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// TestBaselineSeesExactlyTheRealChanges takes a snapshot of real state (a
// namespace's listeners and iptables rules, a dnsmasq's answer, the cron
// jobs of a fixture root), changes
// each for real, takes another, and expects diff and check --baseline to
// report exactly those changes: nothing missed, no noise.
func TestBaselineSeesExactlyTheRealChanges(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "iptables")
	bin := binary(t)
	ns := nstest.New(t)
	ns.Listen(t, "tcp4:0.0.0.0:8080", "udp4:0.0.0.0:5353")
	metrics := ns.Listen(t, "tcp4:127.0.0.1:9100")
	ns.Run(t, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "8080", "-j", "ACCEPT")
	ns.Run(t, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT")

	const ip = "127.0.0.71"
	dns := nstest.Dnsmasq(t, ip, "192.0.2.10 www.example.test\n")
	policy := policyFile(t, `
dns "www" {
  name   = "www.example.test"
  server = "`+dns.Addr+`"
  expect = ["192.0.2.10"]
}
`)
	dir := nstest.Dir(t)
	// Files are read below a fixture root: cron jobs, /etc/hosts.
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc/crontab"), "SHELL=/bin/sh\nPATH=/usr/sbin:/usr/bin:/sbin:/bin\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n")
	writeFile(t, filepath.Join(root, "etc/hosts"), "127.0.0.1 localhost\n")
	base := filepath.Join(dir, "base-"+strconv.Itoa(os.Getpid())+".json")
	now := filepath.Join(dir, "now-"+strconv.Itoa(os.Getpid())+".json")
	t.Cleanup(func() { os.Remove(base); os.Remove(now) })
	snapshotTo := func(path string) {
		t.Helper()
		_, stderr, code := runCapture(t, exec.Command(bin, "snapshot", "--netns", ns.Path(), "--root", root, "--policy", policy, "--output", path))
		if code != 0 {
			t.Fatalf("snapshot exit %d: %s", code, stderr)
		}
	}
	snapshotTo(base)
	if st, err := os.Stat(base); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("snapshot file: %v, mode %v; want 0640 (it names the host's jobs and rules)", err, st.Mode().Perm())
	}

	// Nothing changed: nothing to report, although pids, inodes, timings
	// and the snapshot times differ.
	snapshotTo(now)
	stdout, stderr, code := runCapture(t, exec.Command(bin, "diff", base, now))
	if code != 0 {
		t.Fatalf("diff of two snapshots of an unchanged host: exit %d, want 0\n%s%s", code, stdout, stderr)
	}

	// The real changes.
	ns.Run(t, "iptables", "-I", "INPUT", "1", "-s", "203.0.113.0/24", "-j", "DROP")
	metrics.Stop()
	dns.SetZone(t, "192.0.2.99 www.example.test\n")
	waitForAnswer(t, dns.Addr, "www.example.test.", "192.0.2.99")
	writeFile(t, filepath.Join(root, "etc/cron.d/backup"), "30 2 * * * root /usr/local/bin/backup --all\n")
	snapshotTo(now)

	stdout, stderr, code = runCapture(t, exec.Command(bin, "diff", "--format", "json", base, now))
	if code != 1 {
		t.Fatalf("diff after changes: exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	validate(t, compileSchema(t, "diff.schema.json"), stdout)
	var d diff.Diff
	if err := json.Unmarshal(stdout, &d); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range d.Changes {
		got = append(got, c.Summary())
	}
	want := []string{
		// The inserted rule, and only it: the rule that used to be first
		// keeps its order among the rules both snapshots hold.
		"firewall rule added: iptables-nft ip filter INPUT: -A INPUT -s 203.0.113.0/24 -j DROP",
		// Owners come from /proc below --root, which the fixture root lacks.
		"listeners listener removed: tcp 127.0.0.1:9100 (owner unknown)",
		"dns answer changed: www.example.test A @" + dns.Addr + " (records 192.0.2.10 -> 192.0.2.99)",
		"cron cron added: /etc/cron.d/backup: /usr/local/bin/backup --all",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("diff reported:\n  %s\nwant exactly:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, a := range d.Areas {
		if !a.Compared {
			t.Errorf("area %s not compared: %s", a.Name, a.NotCompared)
		}
	}

	// The same drift from a live check against the baseline, as findings
	// next to the policy's own (the dns check now fails too).
	rep, code := runJSON(t, exec.Command(bin, "check", "--netns", ns.Path(), "--root", root, "--policy", policy, "--baseline", base, "--format", "json"))
	if code != exitDrift {
		t.Errorf("check --baseline: exit %d, want %d", code, exitDrift)
	}
	drift := map[string]finding.Finding{}
	for _, f := range rep.Findings {
		if f.Kind == "drift" {
			drift[f.Check] = f
		}
	}
	if len(drift) != len(want) {
		var ids []string
		for id := range drift {
			ids = append(ids, id)
		}
		t.Errorf("check --baseline: %d drift findings %v, want %d", len(drift), ids, len(want))
	}
	added := drift["drift.firewall.rule:iptables-nft ip filter INPUT: -A INPUT -s 203.0.113.0/24 -j DROP"]
	if added.Status != finding.Fail || added.Severity != finding.Critical || !strings.Contains(added.Explanation, base) {
		t.Errorf("the added rule's drift finding = %+v; want a critical fail naming the baseline", added)
	}
	if f := findingsByCheck(rep)["dns.www"]; !strings.HasPrefix(f, "fail") {
		t.Errorf("dns.www = %q, want fail (the answer changed)", f)
	}

	// An ignore block in the policy hides the firewall changes.
	ignoring := policyFile(t, `
ignore "blocklist" {
  area  = "firewall"
  match = { chain = "INPUT" }
}
`)
	stdout, _, code = runCapture(t, exec.Command(bin, "diff", "--policy", ignoring, base, now))
	if code != 1 || strings.Contains(string(stdout), "203.0.113.0/24") || !strings.Contains(string(stdout), "ignored by policy: blocklist 1") {
		t.Errorf("diff with an ignore block: exit %d\n%s", code, stdout)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitForAnswer polls the server until name resolves to ip.
func waitForAnswer(t *testing.T, server, name, ip string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m := new(mdns.Msg)
		m.SetQuestion(name, mdns.TypeA)
		if r, _, err := (&mdns.Client{Timeout: 500 * time.Millisecond}).Exchange(m, server); err == nil {
			for _, rr := range r.Answer {
				if a, ok := rr.(*mdns.A); ok && a.A.Equal(net.ParseIP(ip)) {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered %s with %s", server, name, ip)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSnapshotRoundTrips decodes a real snapshot and encodes it again: the
// bytes must not change, or a baseline would drift by being read.
func TestSnapshotRoundTrips(t *testing.T) {
	nstest.RequireRoot(t)
	bin := binary(t)
	ns := nstest.New(t)
	ns.Listen(t, "tcp4:127.0.0.1:8080", "dual:[::]:9000", "udp4:0.0.0.0:5353")
	ns.Run(t, "iptables", "-A", "OUTPUT", "-p", "tcp", "--dport", "25", "-j", "REJECT")
	ns.Run(t, "nft", "add table inet hd; add chain inet hd in { type filter hook input priority 0; policy accept; }; add set inet hd bad { type ipv4_addr; elements = { 192.0.2.1, 192.0.2.2 } }; add rule inet hd in ip saddr @bad drop")
	stdout, stderr, code := runCapture(t, exec.Command(bin, "snapshot", "--netns", ns.Path()))
	if code != 0 {
		t.Fatalf("snapshot: exit %d: %s", code, stderr)
	}
	s, err := snapshot.Decode(bytes.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	enc := json.NewEncoder(&again)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stdout, again.Bytes()) {
		a, b := strings.Split(string(stdout), "\n"), strings.Split(again.String(), "\n")
		for i := range min(len(a), len(b)) {
			if a[i] != b[i] {
				t.Fatalf("re-encoded snapshot differs at line %d:\n  was %s\n  now %s", i+1, a[i], b[i])
			}
		}
		t.Fatalf("re-encoded snapshot differs in length: %d lines, was %d", len(b), len(a))
	}
	if s.Firewall == nil || s.Listeners == nil || len(s.Listeners.Sockets) != 3 {
		t.Errorf("the snapshot lacks what the namespace holds: %+v", s.Collectors)
	}
}

// TestPolicyInitThenCheckPasses writes a policy from a real namespace (a
// firewall that admits one of two public listeners and rejects outgoing
// mail), validates it, and checks the same namespace with it: no drift.
func TestPolicyInitThenCheckPasses(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "iptables")
	bin := binary(t)
	ns := nstest.New(t)
	ns.Address(t, "10.77.0.1/24")
	ns.Listen(t, "tcp4:0.0.0.0:8080", "tcp4:0.0.0.0:8443", "tcp4:127.0.0.1:9100")
	ns.Run(t, "iptables", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT")
	ns.Run(t, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "8080", "-j", "ACCEPT")
	ns.Run(t, "iptables", "-P", "INPUT", "DROP")
	ns.Run(t, "iptables", "-A", "OUTPUT", "-p", "tcp", "--dport", "25", "-j", "REJECT")
	out := filepath.Join(nstest.Dir(t), "init-"+strconv.Itoa(os.Getpid())+".hcl")
	t.Cleanup(func() { os.Remove(out) })
	_, stderr, code := runCapture(t, exec.Command(bin, "policy", "init", "--netns", ns.Path(), "--output", out))
	if code != 0 {
		t.Fatalf("policy init: exit %d: %s", code, stderr)
	}
	text, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"listener \"tcp-8080-" + nstest.HelperName + "\"",
		"address  = \"127.0.0.1\"",
		"ingress \"tcp-8080\" {\n  protocol = \"tcp\"\n  port     = 8080\n  expect   = \"allow\"",
		"ingress \"tcp-8443\" {\n  protocol = \"tcp\"\n  port     = 8443\n  expect   = \"deny\"",
		"egress \"tcp-25\" {\n  protocol = \"tcp\"\n  port     = 25\n  expect   = \"deny\"",
		"egress \"tcp-443\" {\n  protocol = \"tcp\"\n  port     = 443\n  expect   = \"allow\"",
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the written policy lacks\n%s\n---\n%s", want, text)
		}
	}
	if strings.Contains(string(text), "ingress \"tcp-9100\"") {
		t.Error("a loopback-only listener got an ingress check")
	}
	if stdout, stderr, code := runCapture(t, exec.Command(bin, "policy", "validate", out)); code != 0 {
		t.Fatalf("policy validate on the written policy: exit %d\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code := runCapture(t, exec.Command(bin, "check", "--netns", ns.Path(), "--policy", out))
	if code != 0 {
		t.Errorf("check right after policy init: exit %d, want 0\n%s%s", code, stdout, stderr)
	}
	if _, stderr, code := runCapture(t, exec.Command(bin, "policy", "init", "--area", "routing")); code != exitUsage || !strings.Contains(string(stderr), "the areas are") {
		t.Errorf("policy init --area routing: exit %d, %s", code, stderr)
	}
}
