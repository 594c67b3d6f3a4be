package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// handWrittenFilter is the most common hand-written ruleset: a table named
// as iptables names its own, with nft's chain names. iptables-nft-save
// prints it as an empty iptables table accepting everything.
const handWrittenFilter = `table ip filter {
	chain input {
		type filter hook input priority filter; policy drop;
		tcp dport 22 accept
	}
}
table ip6 filter {
	chain input {
		type filter hook input priority filter; policy drop;
		tcp dport 22 accept
	}
}
`

// dualStackNS is a namespace whose veth d0 holds 192.0.2.10/24 and
// 2001:db8::10/64, up, without routes.
func dualStackNS(t *testing.T) *nstest.NS {
	t.Helper()
	ns := nstest.New(t)
	ns.Run(t, "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1")
	ns.Run(t, "ip", "addr", "add", "192.0.2.10/24", "dev", "d0")
	ns.Run(t, "ip", "addr", "add", "2001:db8::10/64", "dev", "d0", "nodad")
	ns.Run(t, "ip", "link", "set", "d0", "up")
	ns.Run(t, "ip", "link", "set", "d1", "up")
	return ns
}

// TestExplainTableNamedLikeIptables: "table ip filter" written with nft is
// native nftables, whatever its name. explain and an ingress check follow
// the kernel: tcp/80 denied, tcp/22 allowed, in both families, and explain
// says why the table is not iptables-nft's.
func TestExplainTableNamedLikeIptables(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "iptables-nft-save")
	bin := binary(t)
	ns := dualStackNS(t)
	cmd := ns.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(handWrittenFilter)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v\n%s", err, out)
	}
	if out := ns.Run(t, "iptables-nft-save"); !strings.Contains(out, "*filter") {
		t.Fatalf("iptables-nft-save no longer prints the nft table, the case this test is about:\n%s", out)
	}

	for _, to := range []string{"192.0.2.10", "2001:db8::10"} {
		out, code := runBinary(t, exec.Command(bin, "explain", "in", "tcp", "80", "--to", to, "--netns", ns.Path()))
		if code != exitDrift {
			t.Errorf("explain in tcp 80 --to %s: exit %d, want 1 (denied)\n%s", to, code, out)
		}
		for _, want := range []string{
			": DENY",
			"Decided by: policy drop in chain input (table ip",
			"nftables (2 tables, 2 rules)",
			"prints it, but the kernel holds base chain input on hook input, which iptables-nft does not make",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("explain in tcp 80 --to %s lacks %q:\n%s", to, want, out)
			}
		}
		out, code = runBinary(t, exec.Command(bin, "explain", "in", "tcp", "22", "--to", to, "--netns", ns.Path()))
		if code != exitOK || !strings.Contains(out, `rule "tcp dport 22 accept" in chain input`) {
			t.Errorf("explain in tcp 22 --to %s: exit %d, want 0 (allowed by the rule)\n%s", to, code, out)
		}
	}

	policy := policyFile(t, `
ingress "ssh" {
  port = 22
}
ingress "web" {
  port = 80
}
`)
	r, code := runJSON(t, exec.Command(bin, "check", "--netns", ns.Path(), "--policy", policy, "--format", "json"))
	if code != exitDrift {
		t.Errorf("check: exit %d, want 1", code)
	}
	want := map[string]string{"ingress.ssh": "pass", "ingress.web": "fail"}
	for _, f := range r.Findings {
		if w, ok := want[f.Check]; !ok || string(f.Status) != w {
			t.Errorf("%s: %s (want %q): %s", f.Check, f.Status, w, f.Explanation)
		}
		if f.Check == "ingress.web" && !strings.Contains(f.Explanation, "policy drop") {
			t.Errorf("ingress.web does not name the policy that drops it: %s", f.Explanation)
		}
		delete(want, f.Check)
	}
	if len(want) > 0 {
		t.Errorf("missing findings: %v", want)
	}
}
