package rules_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

func hostWith() *snapshot.Host {
	return &snapshot.Host{
		Hostname: "web1",
		FQDN:     "web1.example.com",
		Interfaces: []snapshot.Interface{
			{Name: "lo", Loopback: true, Addresses: []snapshot.Address{{IP: netip.MustParseAddr("127.0.0.1"), Family: snapshot.IPv4, Scope: "host"}}},
			{Name: "eth0", Addresses: []snapshot.Address{
				{IP: netip.MustParseAddr("198.51.100.7"), PrefixLen: 24, Family: snapshot.IPv4, Scope: "global"},
				{IP: netip.MustParseAddr("2001:db8::7"), PrefixLen: 64, Family: snapshot.IPv6, Scope: "global"},
				{IP: netip.MustParseAddr("fe80::1"), PrefixLen: 64, Family: snapshot.IPv6, Scope: "link"},
			}},
		},
	}
}

func sock(proto, addr string, port uint16, p *snapshot.Process) snapshot.Socket {
	a := netip.MustParseAddr(addr)
	return snapshot.Socket{Protocol: proto, Family: snapshot.FamilyOf(a), Address: a, Port: port, Process: p, Backlog: 511}
}

var (
	nginx = &snapshot.Process{PID: 812, Name: "nginx", Cmdline: "nginx: master process /usr/sbin/nginx", Unit: "nginx.service"}
	exim  = &snapshot.Process{PID: 901, Name: "exim4", Cmdline: "/usr/sbin/exim4 -bd -q30m"}
	redis = &snapshot.Process{PID: 777, Name: "redis-server", Cmdline: "/usr/bin/redis-server 0.0.0.0:6379"}
	py    = &snapshot.Process{PID: 4121, Name: "python3", Cmdline: "python3 server.py"}
)

func listenerSnapshot(socks ...snapshot.Socket) *snapshot.Snapshot {
	return &snapshot.Snapshot{
		Schema:     snapshot.Schema,
		Host:       *hostWith(),
		Collectors: []snapshot.CollectorStatus{{Name: "listeners", Status: snapshot.StatusOK}},
		Listeners:  &snapshot.Listeners{Source: "sock_diag", Sockets: socks},
	}
}

// evaluate compiles src against the snapshot's host and judges it at now.
func evaluate(t *testing.T, src string, s *snapshot.Snapshot, now time.Time) []finding.Finding {
	t.Helper()
	p, diags := rules.Load([]rules.Source{{Name: "test.hcl", Text: []byte(src)}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, diags := p.Compile(&s.Host, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return plan.Evaluate(s, now)
}

func one(t *testing.T, src string, s *snapshot.Snapshot) finding.Finding {
	t.Helper()
	fs := evaluate(t, src, s, time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	if len(fs) != 1 {
		t.Fatalf("want 1 finding, got %d", len(fs))
	}
	return fs[0]
}

func TestListener(t *testing.T) {
	stalled := sock("tcp", "0.0.0.0", 443, py)
	stalled.AcceptQueue, stalled.Backlog = 128, 128
	dual := sock("tcp", "::", 6379, redis)
	v6only := dual
	v6only.V6Only = true

	cases := []struct {
		name    string
		policy  string
		socks   []snapshot.Socket
		status  finding.Status
		explain []string
	}{
		{"present passes", `listener "https" { port = 443 }`,
			[]snapshot.Socket{sock("tcp", "0.0.0.0", 443, nginx)}, finding.Pass,
			[]string{"0.0.0.0:443 (nginx, pid 812, nginx.service) listens"}},
		{"missing lists what listens", `listener "https" { port = 443 }`,
			[]snapshot.Socket{sock("tcp", "0.0.0.0", 80, nginx), sock("tcp", "127.0.0.1", 25, exim)}, finding.Fail,
			[]string{"nothing listens on tcp/443 on any address", "listening: 0.0.0.0:80 (nginx, pid 812, nginx.service), 127.0.0.1:25 (exim4, pid 901)"}},
		{"udp is not tcp", `listener "dns" { port = 53 }`,
			[]snapshot.Socket{sock("udp", "127.0.0.53", 53, nil)}, finding.Fail,
			[]string{"no tcp sockets at all"}},
		{"udp present", `listener "dns" {
			port = 53
			protocol = "udp"
		}`, []snapshot.Socket{sock("udp", "127.0.0.53", 53, nil)}, finding.Pass, nil},
		{"wrong process", `listener "https" {
			port    = 443
			process = "nginx"
		}`, []snapshot.Socket{sock("tcp", "0.0.0.0", 443, py)}, finding.Fail,
			[]string{"nothing listens on tcp/443 on any address by nginx; on that port: 0.0.0.0:443 (python3, pid 4121)"}},
		{"process by program path", `listener "smtp" {
			port    = 25
			process = "exim4"
		}`, []snapshot.Socket{sock("tcp", "127.0.0.1", 25, &snapshot.Process{PID: 3, Name: "exim", Cmdline: "/usr/sbin/exim4 -bd"})}, finding.Pass, nil},
		{"unknown owner is an error, not a guess", `listener "https" {
			port    = 443
			process = "nginx"
		}`, []snapshot.Socket{sock("tcp", "0.0.0.0", 443, nil)}, finding.Error,
			[]string{"have no known owner"}},
		{"stalled listener fails", `listener "https" { port = 443 }`,
			[]snapshot.Socket{stalled}, finding.Fail,
			[]string{"tcp/443 on 0.0.0.0 is listening but not accepting: 128 of 128 connections waiting, owner python3 pid 4121"}},
		{"absent passes when only on loopback", `listener "redis" {
			port    = 6379
			address = "public"
			expect  = "absent"
		}`, []snapshot.Socket{sock("tcp", "127.0.0.1", 6379, redis)}, finding.Pass, nil},
		{"absent fails on a dual-stack socket and names the addresses", `listener "redis" {
			port    = 6379
			address = "198.51.100.7"
			expect  = "absent"
		}`, []snapshot.Socket{dual}, finding.Fail,
			[]string{"[::]:6379 (dual-stack) (redis-server, pid 777)", "public addresses 198.51.100.7 (eth0), 2001:db8::7 (eth0)"}},
		{"a v6only socket does not serve IPv4", `listener "redis" {
			port    = 6379
			address = "198.51.100.7"
			expect  = "absent"
		}`, []snapshot.Socket{v6only}, finding.Pass, nil},
		{"loopback scope sees a wildcard socket", `listener "admin" {
			port    = 8443
			address = "loopback"
		}`, []snapshot.Socket{sock("tcp", "0.0.0.0", 8443, nginx)}, finding.Pass, nil},
		{"loopback scope does not see a public-only socket", `listener "admin" {
			port    = 8443
			address = "loopback"
		}`, []snapshot.Socket{sock("tcp", "198.51.100.7", 8443, nginx)}, finding.Fail, nil},
		{"accepting fails on a full queue", `accepting "all" {}`,
			[]snapshot.Socket{sock("tcp", "0.0.0.0", 80, nginx), stalled}, finding.Fail,
			[]string{"128 of 128 connections waiting, owner python3 pid 4121"}},
		{"accepting passes", `accepting "all" {}`,
			[]snapshot.Socket{sock("tcp", "0.0.0.0", 80, nginx)}, finding.Pass, []string{"1 listener(s), none stalled"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := one(t, c.policy, listenerSnapshot(c.socks...))
			if f.Status != c.status {
				t.Errorf("status %s, want %s: %s", f.Status, c.status, f.Explanation)
			}
			for _, e := range c.explain {
				if !strings.Contains(f.Explanation, e) {
					t.Errorf("explanation %q lacks %q", f.Explanation, e)
				}
			}
			if f.Source.File != "test.hcl" || f.Source.Line != 1 {
				t.Errorf("source %v, want test.hcl:1", f.Source)
			}
		})
	}
}

func TestAcceptingWithoutBacklogIsAnError(t *testing.T) {
	s := listenerSnapshot(sock("tcp", "0.0.0.0", 80, nginx))
	s.Listeners.Source = "procfs"
	s.Listeners.Sockets[0].Backlog = 0
	if f := one(t, `accepting "all" {}`, s); f.Status != finding.Error || !strings.Contains(f.Explanation, "does not show the listen backlog") {
		t.Errorf("got %s %q", f.Status, f.Explanation)
	}
}

func TestCollectorFailureIsNeverAPass(t *testing.T) {
	for _, c := range []struct {
		st   snapshot.CollectorStatus
		want finding.Status
	}{
		{snapshot.CollectorStatus{Name: "listeners", Status: snapshot.StatusError, Reason: "netlink: permission denied"}, finding.Error},
		// Skipped: the area does not exist here, so the check does not apply.
		{snapshot.CollectorStatus{Name: "listeners", Status: snapshot.StatusSkipped, Reason: "no procfs"}, finding.Skip},
	} {
		s := listenerSnapshot()
		s.Listeners = nil
		s.Collectors = []snapshot.CollectorStatus{c.st}
		f := one(t, `listener "redis" {
			port   = 6379
			expect = "absent"
		}`, s)
		if f.Status != c.want || !strings.Contains(f.Explanation, c.st.Reason) {
			t.Errorf("%s collector: got %s %q, want %s", c.st.Status, f.Status, f.Explanation, c.want)
		}
	}
	s := listenerSnapshot()
	s.Collectors = nil
	if f := one(t, `listener "x" { port = 1 }`, s); f.Status != finding.Error || !strings.Contains(f.Explanation, "did not run") {
		t.Errorf("collector absent: got %s %q", f.Status, f.Explanation)
	}
}

func TestWaivers(t *testing.T) {
	policy := `
listener "redis" {
  port    = 6379
  address = "public"
  expect  = "absent"
}
waiver "listener.redis" {
  reason  = "Replica sync over the public address until the VPN is in, OPS-142"
  expires = "2026-12-31"
}`
	s := listenerSnapshot(sock("tcp", "0.0.0.0", 6379, redis))
	before := evaluate(t, policy, s, time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC))[0]
	if before.Status != finding.Waived || !strings.Contains(before.Explanation, "OPS-142") || before.Waiver == nil || before.Waiver.Expired {
		t.Errorf("before expiry: %s %q %+v", before.Status, before.Explanation, before.Waiver)
	}
	after := evaluate(t, policy, s, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))[0]
	if after.Status != finding.Fail || !strings.Contains(after.Explanation, "expired on 2026-12-31") || !after.Waiver.Expired {
		t.Errorf("after expiry: %s %q", after.Status, after.Explanation)
	}
	clean := evaluate(t, policy, listenerSnapshot(), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))[0]
	if clean.Status != finding.Pass {
		t.Errorf("a waiver must not change a pass: %s", clean.Status)
	}
}

func TestHostFactsInExpressions(t *testing.T) {
	s := listenerSnapshot(sock("tcp", "198.51.100.7", 22, nil))
	f := one(t, `listener "ssh" {
		port    = 22
		address = host.ipv4[0]
	}`, s)
	if f.Status != finding.Pass {
		t.Errorf("address = host.ipv4[0] should be 198.51.100.7: %s %s", f.Status, f.Explanation)
	}
	if got := rules.HostValue(hostWith()).GetAttr("addresses").LengthInt(); got != 2 {
		t.Errorf("host.addresses should hold the two global addresses, not loopback or link-local; got %d", got)
	}
}
