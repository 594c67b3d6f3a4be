package host

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

func TestFQDNFromHosts(t *testing.T) {
	hosts := `127.0.0.1 localhost
# 10.0.0.1 web1.old.example.com web1
127.0.1.1 web1.example.com web1
::1 localhost ip6-localhost
`
	for name, want := range map[string]string{"web1": "web1.example.com", "db1": "", "localhost": ""} {
		if got := fqdnFromHosts(strings.NewReader(hosts), name); got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
}

func TestDomainFromResolvConf(t *testing.T) {
	for conf, want := range map[string]string{
		"nameserver 10.0.0.2\nsearch corp.example.com example.com\n": "corp.example.com",
		"search a.example\ndomain b.example\n":                       "b.example",
		"nameserver 10.0.0.2\n":                                      "",
		// systemd-resolved's stub-resolv.conf on a host with no search
		// domain: the root, no domain (not "web1." or "web1..").
		"nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n": "",
		"search example.com.\n": "example.com",
	} {
		if got := domainFromResolvConf(strings.NewReader(conf)); got != want {
			t.Errorf("%q: got %q, want %q", conf, got, want)
		}
	}
}

// TestInterfacesInNamespace reads a real namespace's addresses over netlink.
func TestInterfacesInNamespace(t *testing.T) {
	nstest.RequireRoot(t)
	ns := nstest.New(t)
	ns.Run(t, "ip", "link", "add", "h0", "type", "veth", "peer", "name", "h1")
	ns.Run(t, "ip", "addr", "add", "192.0.2.20/24", "dev", "h0")
	ns.Run(t, "ip", "addr", "add", "2001:db8::20/64", "dev", "h0", "nodad")
	ns.Run(t, "ip", "link", "set", "h0", "up")
	sec, err := collector{}.Collect(context.Background(), &agent.Env{Root: "/", NetNS: ns.Path()})
	if err != nil {
		t.Fatal(err)
	}
	h := sec.(*snapshot.Host)
	got := map[string]string{}
	for _, a := range h.UnicastAddresses() {
		got[a.IP.String()] = a.Interface
	}
	if got["192.0.2.20"] != "h0" || got["2001:db8::20"] != "h0" || len(got) != 2 {
		t.Errorf("unicast addresses %v, want 192.0.2.20 and 2001:db8::20 on h0 only", got)
	}
	var lo *snapshot.Interface
	for i := range h.Interfaces {
		if h.Interfaces[i].Name == "lo" {
			lo = &h.Interfaces[i]
		}
	}
	if lo == nil || !lo.Loopback || len(lo.Addresses) == 0 || lo.Addresses[0].IP != netip.MustParseAddr("127.0.0.1") || lo.Addresses[0].Scope != "host" {
		t.Errorf("loopback: %+v", lo)
	}
}

// A FIFO or a folder where /etc/hosts and resolv.conf should be is not
// opened (a FIFO would block the collector until its deadline): the FQDN is
// told without them, and the reason names both.
func TestFQDNSkipsFilesThatAreNotRegular(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc", "resolv.conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(root, "etc", "hosts"), 0o644); err != nil {
		t.Fatal(err)
	}
	name, skipped := fqdn("web1", &agent.Env{Root: root})
	if name != "web1" {
		t.Errorf("fqdn %q, want web1", name)
	}
	all := strings.Join(skipped, "; ")
	if len(skipped) != 2 || !strings.Contains(all, "/etc/hosts is a FIFO") || !strings.Contains(all, "/etc/resolv.conf is a folder") {
		t.Errorf("skipped %q; want /etc/hosts named a FIFO and resolv.conf a folder", skipped)
	}
}
