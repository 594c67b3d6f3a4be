package rules_test

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

var probeTime = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// probeSnapshot is a snapshot of hostWith whose probes collector recorded results.
func probeSnapshot(results ...snapshot.ProbeResult) *snapshot.Snapshot {
	s := listenerSnapshot(sock("tcp", "0.0.0.0", 22, nil), sock("tcp", "127.0.0.1", 8080, py))
	s.TakenAt = probeTime
	s.Collectors = append(s.Collectors, snapshot.CollectorStatus{Name: "probes", Status: snapshot.StatusOK})
	s.Probes = &snapshot.Probes{Results: results}
	return s
}

// plan compiles src against hostWith.
func plan(t *testing.T, src string) *rules.Plan {
	t.Helper()
	p, diags := rules.Load([]rules.Source{{Name: "test.hcl", Text: []byte(src)}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	pl, diags := p.Compile(hostWith(), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return pl
}

// dropOutput is a firewall whose output chain drops everything.
func dropOutput() *snapshot.Firewall {
	return &snapshot.Firewall{
		Backends: []snapshot.Backend{{Name: snapshot.BackendNftables, Available: true, Tables: 1}},
		Tables: []snapshot.Table{{Backend: snapshot.BackendNftables, Family: "inet", Name: "filter", Chains: []snapshot.Chain{
			{Name: "output", Hook: "output", Type: "filter", Policy: "drop", Rules: []snapshot.Rule{}},
		}}},
	}
}

func TestProbeExplanations(t *testing.T) {
	smtp := snapshot.ProbeTarget{TCP: "smtp.example.com:587", TimeoutMS: 3000}
	timedOut := snapshot.ProbeResult{Target: smtp, Addr: "198.51.100.25:587", Resolved: []netip.Addr{netip.MustParseAddr("198.51.100.25")},
		Failure: snapshot.ProbeTimeout, Error: "connect to smtp.example.com:587: no answer within 3s"}
	local := snapshot.ProbeTarget{URL: "http://127.0.0.1:9090/ping", TimeoutMS: 3000}
	refused := snapshot.ProbeResult{Target: local, Addr: "127.0.0.1:9090", Failure: snapshot.ProbeRefused, Error: "connect: connection refused"}
	web := snapshot.ProbeTarget{URL: "http://127.0.0.1/ping", TimeoutMS: 3000}
	redirected := snapshot.ProbeResult{Target: web, Addr: "127.0.0.1:80", Connected: true, HTTP: &snapshot.HTTPResult{
		Status: 301, Location: "https://www.example.com/ping",
		LocationHost: &snapshot.Resolution{Name: "www.example.com", Addrs: []netip.Addr{netip.MustParseAddr("203.0.113.5")}},
	}}
	remoteSrc := `probe "smtp-relay" {
  tcp = "smtp.example.com:587"
}`
	cases := []struct {
		name   string
		src    string
		result snapshot.ProbeResult
		setup  func(s *snapshot.Snapshot)
		status finding.Status
		want   []string
	}{
		{"timeout, firewall allows: upstream", remoteSrc, timedOut, func(s *snapshot.Snapshot) {
			s.Firewall = &snapshot.Firewall{}
			s.Collectors = append(s.Collectors, snapshot.CollectorStatus{Name: "firewall", Status: snapshot.StatusOK})
		}, finding.Fail, []string{"no answer within 3s", "the local firewall allows it", "so the block is likely upstream", "smtp.example.com resolved to 198.51.100.25"}},
		{"timeout, firewall drops", remoteSrc, timedOut, func(s *snapshot.Snapshot) {
			s.Firewall = dropOutput()
			s.Collectors = append(s.Collectors, snapshot.CollectorStatus{Name: "firewall", Status: snapshot.StatusOK})
		}, finding.Fail, []string{"outbound tcp to 198.51.100.25:587 is dropped", "chain output"}},
		{"timeout, no firewall data", remoteSrc, timedOut, nil, finding.Fail, []string{"by a firewall here or upstream, or the host is down"}},
		{"refused locally: what listens", `probe "metrics" {
  url = "http://127.0.0.1:9090/ping"
}`, refused, nil, finding.Fail, []string{
			"connection to 127.0.0.1:9090 refused",
			"nothing listens on tcp/9090 at 127.0.0.1; listening: 0.0.0.0:22 (owner unknown), 127.0.0.1:8080 (python3, pid 4121)",
		}},
		{"redirect: where it leads", `probe "health" {
  url = "http://127.0.0.1/ping"
}`, redirected, func(s *snapshot.Snapshot) {
			s.DNS = &snapshot.DNS{Resolvers: []string{"10.0.0.53:53"}, Hosts: []snapshot.HostsEntry{
				{Line: 3, IP: netip.MustParseAddr("203.0.113.5"), Names: []string{"www.example.com"}}}}
		}, finding.Fail, []string{
			"answered HTTP 301 redirecting to https://www.example.com/ping",
			"from this host www.example.com resolves to 203.0.113.5 (not this host)",
			"/etc/hosts line 3 pins it to 203.0.113.5; resolvers: 10.0.0.53:53",
		}},
		{"redirect expected", `probe "health" {
  url    = "http://127.0.0.1/ping"
  status = 301
}`, redirected, nil, finding.Pass, []string{"HTTP 301"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := probeSnapshot(c.result)
			if c.setup != nil {
				c.setup(s)
			}
			fs := plan(t, c.src).Evaluate(s, probeTime)
			f := fs[0]
			if f.Status != c.status {
				t.Errorf("status %s, want %s: %s", f.Status, c.status, f.Explanation)
			}
			for _, w := range c.want {
				if !strings.Contains(f.Explanation, w) && !strings.Contains(f.Observed, w) {
					t.Errorf("%q\nlacks %q", f.Explanation, w)
				}
			}
		})
	}
}

func TestProbeNotProbed(t *testing.T) {
	f := plan(t, `probe "x" {
  tcp = "127.0.0.1:25"
}`).Evaluate(probeSnapshot(), probeTime)[0]
	if f.Status != finding.Error || !strings.Contains(f.Explanation, "taken with another policy") {
		t.Errorf("%s: %s", f.Status, f.Explanation)
	}
}

func TestProbeDecodeErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`probe "a" {}`, "set exactly one"},
		{`probe "a" {
  url = "http://x"
  tcp = "x:1"
}`, "set exactly one"},
		{`probe "a" { url = "ftp://x/" }`, "is not an http:// or https:// URL"},
		{`probe "a" { tcp = "x" }`, "is not host:port"},
		{`probe "a" {
  tcp    = "x:25"
  banner = "("
}`, "is not a regular expression"},
		{`probe "a" {
  tcp    = "x:25"
  status = 200
}`, "status applies to url probes only"},
		{`probe "a" {
  url           = "http://x/"
  cert_min_days = 14
}`, "cert_min_days applies to https URLs"},
		{`probe "a" {
  url     = "http://x/"
  timeout = "2m"
}`, "at most 30s"},
		{`listeners_tls "a" { tls_ports = [443, "x"] }`, `"x" is not a port number`},
	} {
		p, diags := rules.Load([]rules.Source{{Name: "test.hcl", Text: []byte(c.src)}})
		if !diags.HasErrors() {
			_, diags = p.Compile(hostWith(), nil)
		}
		if !strings.Contains(diags.Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant %q", c.src, diags, c.want)
		}
	}
}

func TestProbeWants(t *testing.T) {
	w := plan(t, `
probe "a" {
  url     = "https://127.0.0.1/ping"
  server_name = "www.example.com"
  timeout = "2s"
}
listeners_respond "tcp" { timeout = "5s" }
listeners_tls "certs" { tls_ports = [8443, 443] }
`).Wants()
	want := snapshot.ProbeTarget{URL: "https://127.0.0.1/ping", ServerName: "www.example.com", TimeoutMS: 2000}
	if len(w.Probes.Targets) != 1 || w.Probes.Targets[0] != want {
		t.Errorf("targets %+v", w.Probes.Targets)
	}
	if lp := w.Probes.Listeners; lp == nil || lp.Timeout != 5*time.Second || !slices.Equal(lp.TLSPorts, []uint16{443, 8443}) || !lp.Every {
		t.Errorf("listeners %+v", lp)
	}
	// Certificates alone: a handshake on the TLS ports, no connect to
	// every other listener.
	w = plan(t, `listeners_tls "certs" {}`).Wants()
	if lp := w.Probes.Listeners; lp == nil || lp.Every || !slices.Equal(lp.TLSPorts, rules.DefaultTLSPorts) {
		t.Errorf("listeners_tls alone: listeners %+v, want the TLS ports only", lp)
	}
}

// TestListenersRespondTLSOnly: a snapshot that probed only the TLS ports is
// no evidence that every listener answers.
func TestListenersRespondTLSOnly(t *testing.T) {
	web := sock("tcp", "0.0.0.0", 443, nginx)
	s := probeSnapshot()
	s.Probes.ListenersTLSOnly = true
	s.Probes.Listeners = []snapshot.ProbeResult{
		{Target: snapshot.ProbeTarget{TCP: "127.0.0.1:443", TLS: true, TimeoutMS: 3000}, Socket: &web, Addr: "127.0.0.1:443", Connected: true},
	}
	fs := plan(t, `listeners_respond "tcp" {}`).Evaluate(s, probeTime)
	if fs[0].Status != finding.Error || !strings.Contains(fs[0].Observed+fs[0].Explanation, "only the listeners on TLS ports were probed") {
		t.Errorf("listeners_respond on a TLS-only snapshot: %s %s %s", fs[0].Status, fs[0].Observed, fs[0].Explanation)
	}
}

func TestListenersTLS(t *testing.T) {
	web := sock("tcp", "0.0.0.0", 443, nginx)
	ssh := sock("tcp", "0.0.0.0", 22, nil)
	s := probeSnapshot()
	s.Probes.Listeners = []snapshot.ProbeResult{
		{Target: snapshot.ProbeTarget{TCP: "127.0.0.1:22", TimeoutMS: 3000}, Socket: &ssh, Addr: "127.0.0.1:22", Connected: true},
		{Target: snapshot.ProbeTarget{TCP: "127.0.0.1:443", TLS: true, TimeoutMS: 3000}, Socket: &web, Addr: "127.0.0.1:443", Connected: true,
			TLS: &snapshot.TLSState{Version: "TLS 1.3", Chain: []snapshot.Certificate{
				{Subject: "CN=www.example.com", DNSNames: []string{"www.example.com"}, NotAfter: probeTime.Add(5 * 24 * time.Hour)}}}},
	}
	fs := plan(t, `
listeners_respond "tcp" {}
listeners_tls "certs" {}
`).Evaluate(s, probeTime)
	if fs[0].Status != finding.Pass || fs[0].Observed != "2 listener(s) probed, all answered" {
		t.Errorf("listeners_respond: %s %s", fs[0].Status, fs[0].Observed)
	}
	want := "0.0.0.0:443 (nginx, pid 812, nginx.service): the certificate CN=www.example.com expires on 2026-11-26, in 5 days: less than the 14 days asked"
	if fs[1].Status != finding.Fail || fs[1].Explanation != want {
		t.Errorf("listeners_tls: %s\n got %s\nwant %s", fs[1].Status, fs[1].Explanation, want)
	}
}

// TestListenersTLSNoAnswer: a TLS port that does not answer at all says so,
// with the connect error; its certificate is unknown, so renewing it is no
// remedy.
func TestListenersTLSNoAnswer(t *testing.T) {
	web := sock("tcp", "0.0.0.0", 443, nginx)
	s := probeSnapshot()
	s.Probes.Listeners = []snapshot.ProbeResult{
		{Target: snapshot.ProbeTarget{TCP: "127.0.0.1:443", TLS: true, TimeoutMS: 3000}, Socket: &web, Addr: "127.0.0.1:443",
			Failure: snapshot.ProbeTimeout, Error: "connect to 127.0.0.1:443: no answer within 3s"},
	}
	f := plan(t, `listeners_tls "certs" {}`).Evaluate(s, probeTime)[0]
	if f.Status != finding.Fail || !strings.Contains(f.Explanation, "0.0.0.0:443 (nginx, pid 812, nginx.service) did not accept a connection to 127.0.0.1:443 within 3s") {
		t.Errorf("%s: %s", f.Status, f.Explanation)
	}
	if strings.Contains(f.Remediation, "renew") || !strings.Contains(f.Remediation, "stopped accepting") {
		t.Errorf("remediation %q: want the listener stopped accepting, not a renewal", f.Remediation)
	}

	s.Probes.Listeners[0].Failure, s.Probes.Listeners[0].Error = snapshot.ProbeReset, "read: connection reset by peer"
	f = plan(t, `listeners_tls "certs" {}`).Evaluate(s, probeTime)[0]
	if f.Status != finding.Fail || !strings.Contains(f.Explanation, "did not answer: connect to 127.0.0.1:443 failed: read: connection reset by peer") || strings.Contains(f.Remediation, "renew") {
		t.Errorf("%s: %s / %s", f.Status, f.Explanation, f.Remediation)
	}
}

// TestListenersTLSQueued: seed 000. The HTTPS thread died; the kernel still
// completes handshakes, so the probe connects and its TLS handshake times
// out, while connections wait unaccepted. The queue and its owner are the
// evidence; the certificate is not.
func TestListenersTLSQueued(t *testing.T) {
	web := sock("tcp", "0.0.0.0", 443, py)
	web.Backlog, web.AcceptQueue, web.Queued, web.QueuedMS = 5, 3, 3, 42_000
	s := probeSnapshot()
	s.Probes.Listeners = []snapshot.ProbeResult{
		{Target: snapshot.ProbeTarget{TCP: "127.0.0.1:443", TLS: true, TimeoutMS: 3000}, Socket: &web, Addr: "127.0.0.1:443", Connected: true,
			Failure: snapshot.ProbeTimeout, Error: "TLS handshake: no answer within 3s"},
	}
	f := plan(t, `listeners_tls "certs" {}`).Evaluate(s, probeTime)[0]
	if f.Status != finding.Fail || !strings.Contains(f.Explanation, "tcp/443 on 0.0.0.0: 3 connection(s) waiting to be accepted, the oldest for 42s") {
		t.Errorf("%s: %s", f.Status, f.Explanation)
	}
	if f.Remediation != "the owner, python3 pid 4121, stopped calling accept (a dead thread or a deadlock): restart it and find out why it stopped" {
		t.Errorf("remediation %q", f.Remediation)
	}
}
