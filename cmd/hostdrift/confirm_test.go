package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// TestEgressConfirm: the firewall verdict is followed by a real connection,
// which tells "allowed and reachable" from "allowed here, blocked further
// out". The far end is a second namespace whose own firewall drops all.
func TestEgressConfirm(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "nft")
	bin := binary(t)
	host, world := nstest.New(t), nstest.New(t)
	host.Run(t, "ip", "link", "add", "up0", "type", "veth", "peer", "name", "w0", "netns", world.Name)
	host.Run(t, "ip", "addr", "add", "192.0.2.1/24", "dev", "up0")
	host.Run(t, "ip", "link", "set", "up0", "up")
	world.Run(t, "ip", "addr", "add", "192.0.2.2/24", "dev", "w0")
	world.Run(t, "ip", "link", "set", "w0", "up")
	world.Run(t, "nft", "add table inet f; add chain inet f in { type filter hook input priority 0; policy drop; }")
	host.Listen(t, "tcp4:127.0.0.1:8080")
	policy := policyFile(t, `
egress "reachable" {
  port    = 8080
  to      = "127.0.0.1"
  confirm = true
}
egress "refused" {
  port    = 8081
  to      = "127.0.0.1"
  confirm = true
}
egress "blocked-upstream" {
  port    = 587
  to      = "192.0.2.2"
  confirm = true
  timeout = "500ms"
}
egress "not-confirmed" {
  port = 587
  to   = "192.0.2.2"
}
`)
	r, code := runJSON(t, exec.Command(bin, "check", "--policy", policy, "--format", "json", "--netns", host.Path()))
	if code != exitDrift {
		t.Errorf("exit %d, want 1", code)
	}
	got := findingsByCheck(r)
	for check, want := range map[string][]string{
		"egress.reachable":        {"pass:", "confirmed: connected to 127.0.0.1:8080"},
		"egress.refused":          {"fail:", "a real connection to 127.0.0.1:8081 was refused: the path is open but nothing accepts there"},
		"egress.blocked-upstream": {"fail:", "no answer within 500ms: the local firewall allows it, so the block is likely further out"},
		"egress.not-confirmed":    {"pass:"},
	} {
		for _, w := range want {
			if !strings.Contains(got[check], w) {
				t.Errorf("%s: %q lacks %q", check, got[check], w)
			}
		}
	}
}
