package host_test

import (
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/agent"
	_ "github.com/hostdrift/hostdrift/agent/host"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/testkit/audit"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// TestInterfaceInNamespace: a veth pair with both ends up and another whose peer is
// down, in a network namespace of the test's own, judged by interface
// checks through the host collector.
func TestInterfaceInNamespace(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "ip")
	n := nstest.New(t)
	n.Run(t, "ip", "link", "add", "hdlan", "mtu", "1400", "type", "veth", "peer", "name", "hdlanpeer", "mtu", "1400")
	n.Run(t, "ip", "addr", "add", "192.0.2.10/24", "dev", "hdlan")
	n.Run(t, "ip", "link", "set", "hdlanpeer", "up")
	n.Run(t, "ip", "link", "set", "hdlan", "up")
	n.Run(t, "ip", "link", "add", "hdveth", "type", "veth", "peer", "name", "hdpeer")
	n.Run(t, "ip", "link", "set", "hdveth", "up") // its peer stays down: no carrier
	// veth's carrier follows its peer: wait until the kernel says so.
	n.Run(t, "ip", "link", "set", "hdlan", "up")
	waitUp(t, n, "hdlan")
	env := agent.Env{Root: "/", NetNS: n.Path()}
	for _, c := range []struct {
		name, src string
		status    finding.Status
		want      string
	}{
		{"as configured", `interface "d" {
  name      = "hdlan"
  addresses = ["192.0.2.10/24", "192.0.2.10"]
  mtu       = 1400
}`, finding.Pass, "hdlan: up (link up), MTU 1400, 192.0.2.10/24"},
		{"mtu and address differ", `interface "d" {
  name      = "hdlan"
  addresses = ["192.0.2.10/25", "198.51.100.1"]
  mtu       = 1500
}`, finding.Fail, "hdlan does not hold 192.0.2.10/25, 198.51.100.1; hdlan has MTU 1400, not 1500"},
		{"no carrier", `interface "v" {
  name = "hdveth"
}`, finding.Fail, "hdveth is up but its link is lower-layer-down: no carrier"},
		{"admin down", `interface "p" {
  name = "hdpeer"
}`, finding.Fail, "hdpeer is administratively down"},
		{"must be down", `interface "p" {
  name = "hdpeer"
  up   = false
}`, finding.Pass, ""},
		{"missing", `interface "w" {
  name = "wg0"
}`, finding.Fail, "there is no interface wg0 (the host has lo, "},
		{"must not exist", `interface "w" {
  name   = "wg0"
  exists = false
}`, finding.Pass, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := audit.One(t, c.src, env)
			if f.Status != c.status || !strings.Contains(f.Explanation, c.want) {
				t.Errorf("%s, want %s with %q:\n%s", f.Status, c.status, c.want, f.Explanation)
			}
			if f.Status == finding.Fail && f.Remediation == "" {
				t.Error("no remediation")
			}
		})
	}
}

// waitUp waits for the link's operational state to settle to up (veth
// carrier comes on asynchronously), bounded only by the test's deadline.
func waitUp(t *testing.T, n *nstest.NS, name string) {
	t.Helper()
	for !strings.Contains(n.Run(t, "ip", "-o", "link", "show", name), "state UP") {
		n.Run(t, "sleep", "0.05")
	}
}
