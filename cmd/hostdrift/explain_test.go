package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// ufwDenyOutgoingNS is a namespace with an uplink and a default route, and
// UFW's "deny outgoing" with DNS and HTTPS let out: the incident where
// password-reset mail on 587 sat in a queue for 72 hours.
func ufwDenyOutgoingNS(t *testing.T) *nstest.NS {
	t.Helper()
	ns := nstest.New(t)
	ns.Run(t, "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1")
	ns.Run(t, "ip", "addr", "add", "192.0.2.10/24", "dev", "d0")
	ns.Run(t, "ip", "link", "set", "d0", "up")
	ns.Run(t, "ip", "link", "set", "d1", "up")
	ns.Run(t, "ip", "route", "add", "default", "via", "192.0.2.1")
	ns.UFW(t, "default deny incoming", "default deny outgoing", "allow out 53", "allow out 443/tcp", "allow 22/tcp")
	return ns
}

// runBinary runs cmd and returns everything it printed and its exit code.
func runBinary(t *testing.T, cmd *exec.Cmd) (string, int) {
	t.Helper()
	stdout, stderr, code := runCapture(t, cmd)
	return string(stdout) + string(stderr), code
}

const egressPolicy = `
egress "smtp-submission" {
  description = "Password-reset mail leaves through the relay"
  protocol    = "tcp"
  port        = 587
  to          = "0.0.0.0/0"
}
egress "dns" {
  protocol = "udp"
  port     = 53
}
ingress "ssh" {
  port = 22
  from = "203.0.113.0/24"
}
`

// TestExplainUFWDenyOutgoing loads UFW's "deny outgoing" into a namespace and
// runs the real binary on it: explain names the UFW chains, the policy and
// the fix; check fails the 587 egress check with the same explanation.
func TestExplainUFWDenyOutgoing(t *testing.T) {
	nstest.RequireRoot(t)
	bin := binary(t)
	ns := ufwDenyOutgoingNS(t)

	out, code := runBinary(t, exec.Command(bin, "explain", "out", "tcp", "587", "--netns", ns.Path()))
	if code != exitDrift {
		t.Errorf("explain out tcp 587: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{
		"outbound tcp from 192.0.2.10 to 198.51.100.1:587: DENY",
		"is dropped: chain OUTPUT (table filter, iptables-nft) policy DROP, reached after ufw-track-output had no matching rule",
		"[output] chain OUTPUT (table ip filter, iptables-nft, priority 0, policy drop)",
		"rule 1: -A OUTPUT -j ufw-before-logging-output  -> jump ufw-before-logging-output",
		"chain ufw-before-output",
		"chain ufw-user-output",
		"end of ufw-user-output: no rule matched",
		"policy DROP of chain OUTPUT decides",
		"Managed by: UFW; allow it with `ufw allow out 587/tcp`",
		"Allowed outbound to 198.51.100.1: tcp/53, udp/53, tcp/443",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
	// An allowed packet has nothing to fix: no manager's hint.
	if out, code := runBinary(t, exec.Command(bin, "explain", "out", "udp", "53", "--netns", ns.Path())); code != exitOK || !strings.Contains(out, "ALLOW") || strings.Contains(out, "Managed by") || strings.Contains(out, "ufw allow") {
		t.Errorf("explain out udp 53: exit %d, want ALLOW without a hint\n%s", code, out)
	}
	if out, code := runBinary(t, exec.Command(bin, "explain", "in", "tcp", "22", "--from", "203.0.113.5", "--netns", ns.Path())); code != exitOK || !strings.Contains(out, "inbound tcp from 203.0.113.5 to 192.0.2.10:22: ALLOW") {
		t.Errorf("explain in tcp 22: exit %d\n%s", code, out)
	}

	policy := policyFile(t, egressPolicy)
	r, code := runJSON(t, exec.Command(bin, "check", "--netns", ns.Path(), "--policy", policy, "--format", "json"))
	if code != exitDrift {
		t.Errorf("check: exit %d, want 1", code)
	}
	for _, f := range r.Findings {
		switch f.Check {
		case "egress.smtp-submission":
			if f.Status != "fail" ||
				!strings.Contains(f.Explanation, "outbound tcp to 198.51.100.1:587 is dropped: chain OUTPUT (table filter, iptables-nft) policy DROP, reached after ufw-track-output had no matching rule") ||
				!strings.Contains(f.Explanation, "outbound allowed: tcp/53, udp/53, tcp/443") ||
				!strings.Contains(f.Remediation, "`ufw allow out 587/tcp`") {
				t.Errorf("%s: %s: %s / %s", f.Check, f.Status, f.Explanation, f.Remediation)
			}
		case "egress.dns", "ingress.ssh":
			if f.Status != "pass" {
				t.Errorf("%s: %s: %s", f.Check, f.Status, f.Explanation)
			}
		default:
			t.Errorf("unexpected finding %s", f.Check)
		}
	}
}

// TestEgressUnprivileged: as nobody the firewall cannot be read; the
// collector says what is missing, egress checks are errors (never a pass),
// and the run exits 3.
func TestEgressUnprivileged(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "setpriv")
	bin := binary(t)
	ns := ufwDenyOutgoingNS(t)
	policy := policyFile(t, egressPolicy)
	nobody := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--"}
	r, code := runJSON(t, ns.Command(nobody[0], append(nobody[1:], bin, "check", "--policy", policy, "--format", "json")...))
	if code != exitIncomplete {
		t.Errorf("exit %d, want 3", code)
	}
	for _, f := range r.Findings {
		if f.Status != "error" || !strings.Contains(f.Explanation+f.Remediation, "CAP_NET_ADMIN") {
			t.Errorf("%s: %s: %s / %s", f.Check, f.Status, f.Explanation, f.Remediation)
		}
	}
	var st snapshot.CollectorStatus
	for _, c := range r.Collectors {
		if c.Name == "firewall" {
			st = c
		}
	}
	if st.Status == snapshot.StatusOK || !strings.Contains(st.Reason, "CAP_NET_ADMIN") {
		t.Errorf("firewall collector: %+v; want it to say what is missing and what to do", st)
	}
	out, code := runBinary(t, ns.Command(nobody[0], append(nobody[1:], bin, "explain", "out", "tcp", "587")...))
	if code != exitIncomplete || !strings.Contains(out, "UNKNOWN") || !strings.Contains(out, "CAP_NET_ADMIN") {
		t.Errorf("explain as nobody: exit %d, want 3:\n%s", code, out)
	}
}
