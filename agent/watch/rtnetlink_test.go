package watch

import (
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// TestRTNetlink adds a veth pair, an address and a route in a fresh
// namespace, and a link in another one that must stay unseen.
func TestRTNetlink(t *testing.T) {
	watched, other := nstest.New(t), nstest.New(t)
	ch := startSource(t, Options{Env: agent.Env{NetNS: watched.Path()}}, newRTNetlink)

	other.Run(t, "ip", "link", "add", "elsewhere0", "type", "veth", "peer", "name", "elsewhere1")
	watched.Run(t, "ip", "link", "add", "hd0", "type", "veth", "peer", "name", "hd1")
	e, before := waitEvent(t, ch, "the veth link", about("host", "link hd0 added"))
	for _, b := range append(before, e) {
		if strings.Contains(b.Detail, "elsewhere0") {
			t.Errorf("an event from another namespace: %+v", b)
		}
	}
	if e.Source != "rtnetlink" {
		t.Errorf("source %q", e.Source)
	}
	watched.Run(t, "ip", "addr", "add", "10.77.0.1/24", "dev", "hd0")
	waitEvent(t, ch, "the address", about("host", "address 10.77.0.1/24 added on hd0"))
	watched.Run(t, "ip", "link", "set", "hd0", "up")
	waitEvent(t, ch, "the prefix route", about("host", "route 10.77.0.0/24 added (table main)"))
	watched.Run(t, "ip", "route", "add", "10.88.0.0/16", "via", "10.77.0.2")
	waitEvent(t, ch, "a route", about("host", "route 10.88.0.0/16 added (table main)"))
	watched.Run(t, "ip", "addr", "del", "10.77.0.1/24", "dev", "hd0")
	waitEvent(t, ch, "the address deleted", about("host", "address 10.77.0.1/24 deleted on hd0"))
	watched.Run(t, "ip", "link", "del", "hd0")
	waitEvent(t, ch, "the link deleted", about("host", "link hd0 deleted"))
}
