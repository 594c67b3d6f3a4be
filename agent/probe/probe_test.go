package probe_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/agent/listeners"
	"github.com/hostdrift/hostdrift/agent/probe"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
	"github.com/hostdrift/hostdrift/rules"
)

// Every server below listens on its own 127.0.0.x address, and every probe
// targets one of them: nothing leaves the machine. Names are resolved by a
// DNS server of the test's own (see nxdomainServer), never the host's.

// listen opens a TCP listener on addr:0.
func listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// serveHTTP serves h on addr until the test ends; with cert, over TLS.
func serveHTTP(t testing.TB, addr string, h http.HandlerFunc, cert *tls.Certificate) string {
	t.Helper()
	l := listen(t, addr)
	srv := &http.Server{Handler: h, ErrorLog: nil}
	if cert != nil {
		l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{*cert}})
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// selfSigned makes a certificate for name that expires after life.
func selfSigned(t testing.TB, name string, life time.Duration) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(life),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// bannerServer greets every connection with banner and holds it open.
func bannerServer(t testing.TB, addr, banner string) string {
	t.Helper()
	l := listen(t, addr)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte(banner))
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				c.Read(make([]byte, 1))
			}()
		}
	}()
	return l.Addr().String()
}

// stalledListener listens with a backlog of 1 and never accepts; the test
// fills its accept queue, so that the kernel drops further SYNs.
func stalledListener(t testing.TB, addr string) string {
	t.Helper()
	l := listen(t, addr)
	rc, err := l.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	// Go listens with somaxconn; listen(2) again shrinks the backlog to 1.
	rc.Control(func(fd uintptr) { err = unix.Listen(int(fd), 1) })
	if err != nil {
		t.Fatal(err)
	}
	target := l.Addr().String()
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", target, 200*time.Millisecond)
		if err != nil {
			break // the queue is full
		}
		t.Cleanup(func() { c.Close() })
		if i > 10 {
			t.Fatal("the accept queue never filled")
		}
	}
	return target
}

// closedPort returns an address:port nothing listens on.
func closedPort(t testing.TB, addr string) string {
	l := listen(t, addr)
	a := l.Addr().String()
	l.Close()
	return a
}

// nxdomainServer is a DNS server on addr that answers NXDOMAIN to every
// question; the returned resolver asks only it.
func nxdomainServer(t testing.TB, addr string) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			msg := append([]byte(nil), buf[:n]...)
			msg[2] |= 0x80                  // QR: a response
			msg[3] = msg[3]&0xf0 | 0x80 | 3 // RA, RCODE NXDOMAIN
			pc.WriteTo(msg, from)
		}
	}()
	server := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", server)
	}}
}

func loopbackHost() snapshot.Host {
	return snapshot.Host{Hostname: "test", Interfaces: []snapshot.Interface{{Name: "lo", Loopback: true, Up: true,
		Addresses: []snapshot.Address{{IP: netip.MustParseAddr("127.0.0.1"), PrefixLen: 8, Family: snapshot.IPv4, Scope: "host"}}}}}
}

// collect runs the listeners collector and the probes collector with the
// plan's wants, and returns the snapshot they make.
func collect(t testing.TB, plan *rules.Plan, c *probe.Collector, netns string) *snapshot.Snapshot {
	t.Helper()
	s := &snapshot.Snapshot{Schema: snapshot.Schema, TakenAt: time.Now().UTC(), Host: loopbackHost()}
	env := &agent.Env{Root: "/", NetNS: netns, Wants: plan.Wants()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, nc := range []struct {
		name string
		col  agent.Collector
	}{{snapshot.CollectorListeners, &listeners.Collector{}}, {snapshot.CollectorProbes, c}} {
		sec, err := nc.col.Collect(ctx, env)
		st := snapshot.CollectorStatus{Name: nc.name, Status: snapshot.StatusOK}
		var partial *agent.PartialError
		switch {
		case errors.As(err, &partial):
			st.Status, st.Reason = snapshot.StatusPartial, err.Error()
		case err != nil:
			t.Fatalf("%s: %v", nc.name, err)
		}
		sec.Attach(s)
		s.Collectors = append(s.Collectors, st)
	}
	return s
}

func compile(t testing.TB, src string) *rules.Plan {
	t.Helper()
	p, diags := rules.Load([]rules.Source{{Name: "test.hcl", Text: []byte(src)}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	h := loopbackHost()
	plan, diags := p.Compile(&h, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return plan
}

// TestProbesExplained probes a server of each kind and checks what the
// rules make of it, explanation included.
func TestProbesExplained(t *testing.T) {
	ping := func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "pong") }
	plain := serveHTTP(t, "127.0.0.21", ping, nil)
	redirect := serveHTTP(t, "127.0.0.22", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://health.hostdrift.invalid"+r.URL.Path, http.StatusMovedPermanently)
	}, nil)
	secure := serveHTTP(t, "127.0.0.23", ping, selfSigned(t, "www.example.test", 48*time.Hour))
	smtp := bannerServer(t, "127.0.0.24", "220 mail.example.test ESMTP\r\n")
	stalled := stalledListener(t, "127.0.0.25")
	refused := closedPort(t, "127.0.0.26")
	resolver := nxdomainServer(t, "127.0.0.27")

	src := fmt.Sprintf(`
probe "health-http" {
  url    = "http://%s/ping"
  status = 200
}
probe "health-redirect" {
  url              = "http://%s/ping"
  status           = 200
  follow_redirects = false
}
probe "https" {
  url           = "https://%s/ping"
  server_name   = "www.example.test"
  cert_min_days = 14
}
probe "smtp" {
  tcp     = "%s"
  banner  = "^220 "
  timeout = "2s"
}
probe "smtp-is-ssh" {
  tcp    = "%s"
  banner = "^SSH-"
}
probe "stalled" {
  tcp     = "%s"
  timeout = "300ms"
}
probe "refused" {
  tcp = "%s"
}
probe "stalled-http" {
  url     = "http://%s/"
  timeout = "300ms"
}
probe "health-follow" {
  url              = "http://%s/ping"
  follow_redirects = true
}
`, plain, redirect, secure, smtp, smtp, stalled, refused, stalled, redirect)
	plan := compile(t, src)
	s := collect(t, plan, &probe.Collector{Resolver: resolver}, "")
	byID := map[string]finding.Finding{}
	for _, f := range plan.Evaluate(s, time.Now()) {
		byID[f.Check] = f
		t.Logf("%s: %s\n  observed: %s\n  explanation: %s", f.Check, f.Status, f.Observed, f.Explanation)
	}
	cases := []struct {
		id     string
		status finding.Status
		want   []string
	}{
		{"probe.health-http", finding.Pass, []string{"HTTP 200 in"}},
		{"probe.health-redirect", finding.Fail, []string{
			"answered HTTP 301 redirecting to https://health.hostdrift.invalid/ping",
			"health.hostdrift.invalid does not resolve from this host",
		}},
		{"probe.https", finding.Fail, []string{
			"HTTP 200",
			"CN=www.example.test [www.example.test]",
			"not trusted by this host",
			"expires on " + time.Now().Add(48*time.Hour).UTC().Format(time.DateOnly) + ", in 1 day: less than the 14 days asked",
		}},
		{"probe.smtp", finding.Pass, []string{`banner "220 mail.example.test ESMTP"`}},
		{"probe.smtp-is-ssh", finding.Fail, []string{`the banner "220 mail.example.test ESMTP" does not match "^SSH-"`}},
		{"probe.stalled", finding.Fail, []string{
			"no answer within 300ms",
			fmt.Sprintf("tcp/%s on 127.0.0.25 is listening but not accepting", port(stalled)),
		}},
		{"probe.refused", finding.Fail, []string{
			"connection to " + refused + " refused",
			fmt.Sprintf("nothing listens on tcp/%s at 127.0.0.26; listening: ", port(refused)),
			smtp, // the neighbourhood lists the listeners found
		}},
		// The full queue and its owner are on this host: that is the
		// evidence, not a firewall somewhere.
		{"probe.stalled-http", finding.Fail, []string{
			"no answer within 300ms",
			fmt.Sprintf("tcp/%s on 127.0.0.25 is listening but not accepting", port(stalled)),
		}},
		// The redirect's host is what does not resolve, not the target's.
		{"probe.health-follow", finding.Fail, []string{
			"the redirect's host health.hostdrift.invalid does not resolve from this host",
		}},
	}
	for _, c := range cases {
		f, ok := byID[c.id]
		if !ok {
			t.Errorf("%s: no finding", c.id)
			continue
		}
		if f.Status != c.status {
			t.Errorf("%s: status %s, want %s (%s)", c.id, f.Status, c.status, f.Explanation)
		}
		text := f.Observed + " | " + f.Explanation
		for _, w := range c.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: %q lacks %q", c.id, text, w)
			}
		}
	}
	if f := byID["probe.stalled-http"]; !strings.Contains(f.Remediation, "stopped calling accept") || strings.Contains(f.Remediation, "traceroute") {
		t.Errorf("probe.stalled-http: remediation %q; want the owner stopped calling accept", f.Remediation)
	}
	if f := byID["probe.health-follow"]; strings.Contains(f.Explanation, "127.0.0.22 does not resolve") {
		t.Errorf("probe.health-follow blames the target's host: %s", f.Explanation)
	}
	if r := s.Probes.Results[1]; r.HTTP == nil || r.HTTP.LocationHost == nil || !r.HTTP.LocationHost.NotFound {
		t.Errorf("redirect: the Location's host was not recorded as not found: %+v", r.HTTP)
	}
}

func port(hostport string) string {
	_, p, _ := net.SplitHostPort(hostport)
	return p
}

// TestListenersRespond probes every listener of a fresh network namespace:
// one that accepts, one whose queue is full.
func TestListenersRespond(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "ip")
	ns := nstest.New(t)
	ns.Listen(t, "accept:127.0.0.1:7001", "stall:127.0.0.1:7000:2", "tcp6:[::1]:8443")
	plan := compile(t, `
listeners_respond "tcp" {
  timeout = "500ms"
}
listeners_tls "certificates" {
  timeout = "500ms"
}
`)
	s := collect(t, plan, &probe.Collector{}, ns.Path())
	fs := plan.Evaluate(s, time.Now())
	for _, f := range fs {
		t.Logf("%s: %s\n  observed: %s\n  explanation: %s", f.Check, f.Status, f.Observed, f.Explanation)
	}
	if len(s.Probes.Listeners) != 3 {
		t.Fatalf("want 3 listener probes, got %+v", s.Probes.Listeners)
	}
	tcp, certs := fs[0], fs[1]
	if tcp.Status != finding.Fail || tcp.Observed != "1 of 3 listener(s) failed" ||
		!strings.Contains(tcp.Explanation, "127.0.0.1:7000 (hd-listen, pid") ||
		!strings.Contains(tcp.Explanation, "did not accept a connection to 127.0.0.1:7000 within 500ms: it is stalled, 3 of 2 connections waiting") {
		t.Errorf("listeners_respond: %s: %s / %s", tcp.Status, tcp.Observed, tcp.Explanation)
	}
	// [::1]:8443 accepts but never answers a ClientHello: the handshake
	// times out, which only listeners_tls judges.
	if certs.Status != finding.Fail || !strings.Contains(certs.Explanation, "TLS handshake on [::1]:8443 failed") {
		t.Errorf("listeners_tls: %s: %s / %s", certs.Status, certs.Observed, certs.Explanation)
	}
}

// TestListenersTLSOnly: a policy that asks only for certificates shakes
// hands on the TLS ports and does not connect to any other listener.
func TestListenersTLSOnly(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "ip")
	ns := nstest.New(t)
	ns.Listen(t, "accept:127.0.0.1:7001", "stall:127.0.0.1:7000:2", "tcp6:[::1]:8443")
	plan := compile(t, `
listeners_tls "certificates" {
  timeout = "500ms"
}
`)
	s := collect(t, plan, &probe.Collector{}, ns.Path())
	if !s.Probes.ListenersTLSOnly || len(s.Probes.Listeners) != 1 || s.Probes.Listeners[0].Target.TCP != "[::1]:8443" {
		t.Fatalf("want one probe, of [::1]:8443, marked TLS only; got %v %+v", s.Probes.ListenersTLSOnly, s.Probes.Listeners)
	}
}

// TestListenersRespondWithoutIPv6: with IPv6 disabled by sysctl, a probe of
// [::1] cannot be made from here. A dual-stack socket is probed over IPv4
// instead; a v6only one is "not probed", never a failure of the listener.
func TestListenersRespondWithoutIPv6(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "ip")
	nstest.RequireCommand(t, "sysctl")
	ns := nstest.New(t)
	for _, k := range []string{"all", "default", "lo"} {
		ns.Run(t, "sysctl", "-w", "net.ipv6.conf."+k+".disable_ipv6=1")
	}
	ns.Listen(t, "dual:[::]:9053", "v6only:[::]:9054", "tcp4:127.0.0.1:9055")
	plan := compile(t, `
listeners_respond "tcp" {
  timeout = "2s"
}
listeners_respond "v6only" {
  port    = 9054
  timeout = "2s"
}
`)
	s := collect(t, plan, &probe.Collector{}, ns.Path())
	fs := plan.Evaluate(s, time.Now())
	for _, f := range fs {
		t.Logf("%s: %s\n  observed: %s\n  explanation: %s\n  remediation: %s", f.Check, f.Status, f.Observed, f.Explanation, f.Remediation)
	}
	all, v6only := fs[0], fs[1]
	if all.Status != finding.Pass || all.Observed != "2 listener(s) probed, all answered; 1 not probed" {
		t.Errorf("listeners_respond.tcp: %s: %s; want a pass of 2 listeners, 1 not probed", all.Status, all.Observed)
	}
	for _, w := range []string{
		"[::]:9053 (dual-stack) (hd-listen, pid",
		"probed at 127.0.0.1:9053: IPv6 is unusable here (connect to [::1]:9053 failed: cannot assign requested address)",
		"[::]:9054 (hd-listen, pid",
		"not probed: connect to [::1]:9054 failed: cannot assign requested address",
	} {
		if !strings.Contains(all.Explanation, w) {
			t.Errorf("listeners_respond.tcp: %q lacks %q", all.Explanation, w)
		}
	}
	if v6only.Status != finding.Skip || !strings.Contains(v6only.Explanation, "not probed: connect to [::1]:9054 failed") {
		t.Errorf("listeners_respond.v6only: %s: %s; want skip, not probed", v6only.Status, v6only.Explanation)
	}
}
