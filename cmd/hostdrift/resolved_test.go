package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/debroot"
	"github.com/hostdrift/hostdrift/internal/testkit/dockertest"
)

// The stale record: the upstream still answers the address the name had
// before a migration, and the policy expects the new one.
const (
	staleName = "www.example.test"
	staleAddr = "192.0.2.99"
	newAddr   = "192.0.2.10"
)

const stalePolicy = `dns "www" {
  name   = "` + staleName + `"
  expect = "` + newAddr + `"
}
`

// TestResolvedStaleUpstream boots an Ubuntu-shaped host whose resolv.conf
// is systemd-resolved's stub and whose resolved forwards to a DNS server
// of the test's (resolved.conf's DNS=), which answers a name stale. The dns
// finding must name that upstream as the source of the stale answer, never
// the stub; the snapshot must list resolved's upstreams, read over D-Bus
// with the one in use marked, and, once the bus is gone, from
// /run/systemd/resolve/resolv.conf.
func TestResolvedStaleUpstream(t *testing.T) {
	e := dockertest.Start(t)
	bin := binary(t)
	root := debroot.CachedSuite(t, rootUbuntuShaped.suite, rootUbuntuShaped.include...)
	e.Import(t, root, "hostdrift-test/resolved-base:latest")
	gateway := bridgeGateway(t, e)
	up := serveStale(t, e, gateway)

	img := prepareImage(t, e, "hostdrift-test/resolved-base:latest", "resolved-stale", `
mkdir -p /etc/systemd/resolved.conf.d
printf '[Resolve]\nDNS=`+gateway+`\nDNSSEC=no\nLLMNR=no\nMulticastDNS=no\n' > /etc/systemd/resolved.conf.d/upstream.conf
systemctl enable systemd-resolved.service
`, nil)
	// Docker bind-mounts its own resolv.conf over the image's; --dns names
	// an address where nothing answers, so that no answer can come from
	// resolved reading docker's file as a foreign resolv.conf.
	args := append([]string{"--hostname", "resolved-stale", "--dns", "192.0.2.1", "--dns-search", "."}, hostCaps...)
	host := e.BootSystemd(t, img, args...)
	if out := host.Exec("sh", "-c", "umount /etc/resolv.conf 2>/dev/null; rm -f /etc/resolv.conf && ln -s ../run/systemd/resolve/stub-resolv.conf /etc/resolv.conf && systemctl restart systemd-resolved"); out != "" {
		t.Fatalf("make resolv.conf the stub: %s", out)
	}
	for cmd, want := range map[string]string{
		"readlink /etc/resolv.conf":                         "../run/systemd/resolve/stub-resolv.conf",
		"grep ^nameserver /etc/resolv.conf":                 "nameserver 127.0.0.53",
		"systemctl is-active systemd-resolved":              "active",
		"grep ^nameserver /run/systemd/resolve/resolv.conf": "nameserver " + gateway,
	} {
		if got := host.Exec("sh", "-c", cmd); got != want {
			t.Fatalf("fixture: %s says %q, want %q (resolvectl status:\n%s)", cmd, got, want, host.Exec("resolvectl", "status"))
		}
	}
	e.Docker(t, "cp", bin, host.ID+":/usr/local/bin/hostdrift")
	pol := filepath.Join(t.TempDir(), "resolved.hcl")
	if err := os.WriteFile(pol, []byte(stalePolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	e.Docker(t, "cp", pol, host.ID+":/root/resolved.hcl")

	// As printed: the table an operator reads.
	table, stderr, code := runOut(t, e.Command("exec", host.ID, "hostdrift", "check", "--policy", "/root/resolved.hcl", "--format", "table"))
	t.Logf("hostdrift check on the host (exit %d):\n%s", code, table)
	if code != exitDrift {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, exitDrift, stderr)
	}
	if up.hits() == 0 {
		t.Errorf("the upstream on %s was never asked: the answer did not come through resolved", gateway)
	}

	out, stderr, code := runOut(t, e.Command("exec", host.ID, "hostdrift", "check", "--policy", "/root/resolved.hcl", "--format", "json"))
	var rep struct{ Findings []finding.Finding }
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Findings) != 1 {
		t.Fatalf("exit %d, want one finding: %v\n%s\n%s", code, err, out, stderr)
	}
	f := rep.Findings[0]
	// The TTL counts down in resolved's cache: the second run's answer
	// came from it.
	says := regexp.MustCompile("^" + regexp.QuoteMeta(fmt.Sprintf("%s A %s (answered by upstream %s through systemd-resolved's stub 127.0.0.53, TTL ", staleName, staleAddr, gateway)) +
		`\d+` + regexp.QuoteMeta(") is not among the expected addresses: "+newAddr) + "$")
	if f.Status != finding.Fail || !says.MatchString(f.Explanation) {
		t.Errorf("%s: %s\nwant fail matching: %s", f.Status, f.Explanation, says)
	}
	if strings.Contains(f.Explanation, "answered by 127.0.0.53") || strings.Contains(f.Explanation, "from 127.0.0.53") {
		t.Errorf("the stub is blamed for the upstream's answer: %s", f.Explanation)
	}
	if want := "upstream " + gateway; !strings.Contains(f.Expected, want) {
		t.Errorf("expected %q does not name %s", f.Expected, want)
	}

	upstream := netip.AddrPortFrom(netip.MustParseAddr(gateway), 53).String()
	snap := resolvedSnapshot(t, e, host)
	r := snap.DNS.Resolved
	if r == nil || r.Source != "dbus" || r.Error != "" || len(r.Servers) != 1 || r.Servers[0] != (snapshot.ResolvedServer{Address: upstream, Current: true}) {
		t.Errorf("over D-Bus: resolved %+v, want %s, global and in use", r, upstream)
	}
	if q, ok := snap.DNS.Result(snapshot.DNSQuery{Name: staleName, Type: "A"}); !ok || q.AnsweredBy != "127.0.0.53:53" || len(q.Upstreams) != 1 || q.Upstreams[0] != upstream {
		t.Errorf("answer %+v: want it through the stub, from %s", q, upstream)
	}

	// Without a bus, the list resolved writes names the upstreams; it
	// cannot say which is in use, and here there is only one.
	host.Exec("systemctl", "stop", "dbus.socket", "dbus.service")
	snap = resolvedSnapshot(t, e, host)
	r = snap.DNS.Resolved
	if r == nil || r.Source != "/run/systemd/resolve/resolv.conf" || len(r.Servers) != 1 || r.Servers[0] != (snapshot.ResolvedServer{Address: upstream}) || !strings.Contains(r.Error, "D-Bus properties could not be read") {
		t.Errorf("without a bus: resolved %+v, want %s from the file", r, upstream)
	}
	if q, ok := snap.DNS.Result(snapshot.DNSQuery{Name: staleName, Type: "A"}); !ok || len(q.Upstreams) != 1 || q.Upstreams[0] != upstream {
		t.Errorf("without a bus: answer %+v, want it from %s", q, upstream)
	}
}

// resolvedSnapshot takes the dns collector's snapshot on host with the stale policy.
func resolvedSnapshot(t *testing.T, e *dockertest.Engine, host *dockertest.Booted) *snapshot.Snapshot {
	t.Helper()
	out, stderr, code := runOut(t, e.Command("exec", host.ID, "hostdrift", "snapshot", "--collectors", "dns", "--policy", "/root/resolved.hcl"))
	s, err := snapshot.Decode(strings.NewReader(string(out)))
	if err != nil || s.DNS == nil {
		t.Fatalf("hostdrift snapshot: exit %d: %v\n%s\n%s", code, err, out, stderr)
	}
	return s
}

// runOut runs cmd and returns its standard output, standard error and exit
// code; a command that could not run fails the test.
func runOut(t *testing.T, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", strings.Join(cmd.Args, " "), err)
	}
	return string(out), errb.String(), code
}

// staleServer is the upstream DNS server of the test, counting its queries.
type staleServer struct {
	mu sync.Mutex
	n  int
}

func (s *staleServer) hits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// serveStale runs a DNS server on the bridge's gateway port 53 (inside the
// test engine's namespace), answering staleName with staleAddr and every
// other name NXDOMAIN, until the test ends.
func serveStale(t *testing.T, e *dockertest.Engine, gateway string) *staleServer {
	t.Helper()
	s := &staleServer{}
	var pc net.PacketConn
	var err error
	e.NS.Do(t, func() { pc, err = net.ListenPacket("udp", net.JoinHostPort(gateway, "53")) })
	if err != nil {
		t.Fatalf("listen on %s:53 in the engine's namespace: %v", gateway, err)
	}
	h := mdns.HandlerFunc(func(w mdns.ResponseWriter, req *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		if len(req.Question) == 1 {
			q := req.Question[0]
			s.mu.Lock()
			s.n++
			s.mu.Unlock()
			switch {
			case strings.EqualFold(q.Name, mdns.Fqdn(staleName)) && q.Qtype == mdns.TypeA:
				m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 300}, A: net.ParseIP(staleAddr)})
			case strings.EqualFold(q.Name, mdns.Fqdn(staleName)):
			default:
				m.Rcode = mdns.RcodeNameError
			}
		}
		_ = w.WriteMsg(m)
	})
	srv := &mdns.Server{PacketConn: pc, Handler: h}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream DNS server did not start")
	}
	return s
}
