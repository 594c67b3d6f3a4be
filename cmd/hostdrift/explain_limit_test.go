package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// TestExplainUFWLimit: UFW's `limit` and its IPv6 routing-header rule, as
// ufw writes them, give a verdict for the first connection of a new peer,
// and explain and the ingress check say what it assumes.
func TestExplainUFWLimit(t *testing.T) {
	nstest.RequireRoot(t)
	bin := binary(t)
	ns := dualStackNS(t)
	ns.Run(t, "ip", "route", "add", "default", "via", "192.0.2.1")
	ns.Run(t, "ip", "-6", "route", "add", "default", "via", "2001:db8::1")
	ns.UFW(t, "default deny incoming", "limit 2222/tcp")

	const cond = "the source opened fewer than 6 new connections within 30 s: UFW's `limit` rejects the 6th"
	for _, from := range []string{"203.0.113.5", "2001:db8:1::5"} {
		out, code := runBinary(t, exec.Command(bin, "explain", "in", "tcp", "2222", "--from", from, "--netns", ns.Path()))
		if code != exitOK {
			t.Errorf("explain in tcp 2222 from %s: exit %d, want 0\n%s", from, code, out)
		}
		for _, want := range []string{": ALLOW", "is allowed (assuming " + cond + ")", "Assumes (the first packet of a peer that sent nothing before, under normal load):\n  - " + cond} {
			if !strings.Contains(out, want) {
				t.Errorf("explain from %s lacks %q:\n%s", from, want, out)
			}
		}
	}

	policy := policyFile(t, `
ingress "limited-ssh" {
  protocol = "tcp"
  port     = 2222
  from     = "203.0.113.0/24"
}
ingress "limited-ssh-v6" {
  protocol = "tcp"
  port     = 2222
  from     = "2001:db8:1::/48"
}
`)
	r, code := runJSON(t, exec.Command(bin, "check", "--netns", ns.Path(), "--policy", policy, "--format", "json"))
	if code != exitOK {
		t.Errorf("check: exit %d, want 0", code)
	}
	if len(r.Findings) != 2 {
		t.Fatalf("findings: %+v", r.Findings)
	}
	for _, f := range r.Findings {
		if f.Status != "pass" || !strings.Contains(f.Explanation, "is allowed (assuming "+cond+")") {
			t.Errorf("%s: %s: %s", f.Check, f.Status, f.Explanation)
		}
	}
}
