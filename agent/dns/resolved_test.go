package dns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func TestParseUpstreams(t *testing.T) {
	// As systemd-resolved writes it, with more servers than the C
	// library's three, a duplicate, a zone and lines that are not servers.
	const text = `# This is /run/systemd/resolve/resolv.conf managed by man:systemd-resolved(8).
# Do not edit.
nameserver 10.0.0.1
nameserver 10.0.0.2
nameserver 2001:db8::53
nameserver fe80::1%eth0
nameserver 10.0.0.1
nameserver not-an-address
nameserver 192.168.1.1 ; a comment
search example.test
options edns0 trust-ad
`
	got, err := parseUpstreams(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	var want []netip.Addr
	for _, s := range []string{"10.0.0.1", "10.0.0.2", "2001:db8::53", "fe80::1%eth0", "192.168.1.1"} {
		want = append(want, netip.MustParseAddr(s))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestLinkPath(t *testing.T) {
	// systemd's bus_label_escape: a leading digit is escaped, later ones not.
	for idx, want := range map[int]string{1: "_31", 2: "_32", 12: "_312", 305: "_3305"} {
		if got := linkPath(idx); string(got) != "/org/freedesktop/resolve1/link/"+want {
			t.Errorf("link %d: %s, want .../%s", idx, got, want)
		}
	}
}

func TestServerAddr(t *testing.T) {
	for _, c := range []struct {
		b    []byte
		port uint16
		want string
	}{
		{[]byte{10, 0, 0, 1}, 0, "10.0.0.1:53"},
		{[]byte{10, 0, 0, 1}, 5353, "10.0.0.1:5353"},
		{netip.MustParseAddr("2001:db8::53").AsSlice(), 0, "[2001:db8::53]:53"},
		{nil, 0, ""},
		{[]byte{0, 0, 0, 0}, 0, ""},
	} {
		if got := serverAddr(c.b, c.port); got != c.want {
			t.Errorf("serverAddr(%v, %d) = %q, want %q", c.b, c.port, got, c.want)
		}
	}
}

func TestMarkCurrent(t *testing.T) {
	scopes := func(global, link string) []scope {
		return []scope{
			{link: 0, servers: []string{"10.0.0.1:53", "10.0.0.2:53"}, current: global},
			{link: 2, servers: []string{"192.168.1.1:53"}, current: link},
			{link: 3}, // a link without servers: resolved does not ask it
		}
	}
	all := []string{"10.0.0.1:53", "10.0.0.2:53", "192.168.1.1:53"}
	for _, c := range []struct {
		name          string
		before, after []scope
		want          []string
		current       []string
	}{
		{"steady", scopes("10.0.0.2:53", "192.168.1.1:53"), scopes("10.0.0.2:53", "192.168.1.1:53"),
			[]string{"10.0.0.2:53", "192.168.1.1:53"}, []string{"10.0.0.2:53", "192.168.1.1:53"}},
		{"picked during the queries", scopes("", ""), scopes("10.0.0.1:53", "192.168.1.1:53"),
			[]string{"10.0.0.1:53", "192.168.1.1:53"}, []string{"10.0.0.1:53", "192.168.1.1:53"}},
		{"switched during the queries", scopes("10.0.0.1:53", "192.168.1.1:53"), scopes("10.0.0.2:53", "192.168.1.1:53"),
			all, []string{"192.168.1.1:53"}},
		{"none in use after", scopes("", ""), scopes("", "192.168.1.1:53"), all, []string{"192.168.1.1:53"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &snapshot.Resolved{Servers: serversOf(c.after, false)}
			got := markCurrent(r, c.before, c.after)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("upstreams %v, want %v", got, c.want)
			}
			var cur []string
			for _, s := range r.Servers {
				if s.Current {
					cur = append(cur, s.Address)
				}
			}
			if !reflect.DeepEqual(cur, c.current) {
				t.Errorf("current %v, want %v", cur, c.current)
			}
		})
	}
}

// stubRoot is a fixture root whose resolv.conf is systemd-resolved's stub
// file, with upstream, when not empty, as what resolved wrote to
// /run/systemd/resolve/resolv.conf.
func stubRoot(t *testing.T, upstream string) string {
	root := fixtureRoot(t, "# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n", "")
	if upstream != "" {
		dir := filepath.Join(root, "run/systemd/resolve")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte(upstream), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// Under --root, the stub on 127.0.0.53 is this machine's, not the audited
// host's: the collector names the upstreams the root's resolved wrote and
// asks them directly, so an answer is the upstream's own. It never asks
// D-Bus, whose resolved is this machine's too.
func TestCollectRootResolvedUpstreams(t *testing.T) {
	up := startServer(t, "127.0.0.71")
	root := stubRoot(t, "# managed by man:systemd-resolved(8)\nnameserver 127.0.0.71\nnameserver 127.0.0.72\n")
	c := &collector{port: up.Port, bus: func(context.Context) ([]scope, error) {
		t.Error("D-Bus was asked under --root")
		return nil, errors.New("not here")
	}}
	sec, err := c.Collect(context.Background(), &agent.Env{Root: root, Wants: snapshot.Wants{DNS: []snapshot.DNSQuery{{Name: "stale.example.test", Type: "A"}}}})
	if err != nil {
		t.Fatal(err)
	}
	d := sec.(*snapshot.DNS)
	if want := []string{fmt.Sprintf("127.0.0.53:%d", up.Port)}; !reflect.DeepEqual(d.Resolvers, want) {
		t.Errorf("resolvers %v, want %v: resolv.conf is what it is", d.Resolvers, want)
	}
	want := &snapshot.Resolved{Source: resolvedUpstreamPath, Servers: []snapshot.ResolvedServer{
		{Address: fmt.Sprintf("127.0.0.71:%d", up.Port)}, {Address: fmt.Sprintf("127.0.0.72:%d", up.Port)},
	}}
	if !reflect.DeepEqual(d.Resolved, want) {
		t.Errorf("resolved %+v, want %+v", d.Resolved, want)
	}
	r := result(t, d, "stale.example.test", "A", "")
	if r.AnsweredBy != up.Addr || len(r.Records) != 1 || r.Records[0].IP != netip.MustParseAddr("203.0.113.10") || r.Upstreams != nil {
		t.Errorf("answer %+v; want the upstream %s's own", r, up.Addr)
	}
	if up.Hits("stale.example.test", "A") != 1 {
		t.Errorf("the upstream got %d queries, want 1", up.Hits("stale.example.test", "A"))
	}
}

// Under --root without the file resolved writes (an image's /run is
// empty), the snapshot says the upstreams are unknown and why.
func TestCollectRootResolvedNoUpstreamFile(t *testing.T) {
	c := &collector{port: 53}
	sec, err := c.Collect(context.Background(), &agent.Env{Root: stubRoot(t, "")})
	if err != nil {
		t.Fatal(err)
	}
	d := sec.(*snapshot.DNS)
	if d.Resolved == nil || len(d.Resolved.Servers) != 0 || !strings.Contains(d.Resolved.Error, "resolve/resolv.conf does not exist") {
		t.Errorf("resolved %+v", d.Resolved)
	}
}

// A resolv.conf that does not name the stub has no resolved section.
func TestCollectNoStubNoResolved(t *testing.T) {
	c := &collector{port: 53}
	sec, err := c.Collect(context.Background(), &agent.Env{Root: fixtureRoot(t, "nameserver 192.0.2.53\n", "")})
	if err != nil {
		t.Fatal(err)
	}
	if d := sec.(*snapshot.DNS); d.Resolved != nil {
		t.Errorf("resolved %+v without the stub in resolv.conf", d.Resolved)
	}
}
