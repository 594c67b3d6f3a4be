package dns

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// testServer is a DNS server on a loopback address, in this process, serving
// the test zone below example.test over UDP and TCP.
type testServer struct {
	Addr string // 127.0.0.x:port
	Port int
	// Delay is how long each answer waits, to stand for a resolver's latency.
	Delay time.Duration
	mu    sync.Mutex
	hits  map[string]int // "name TYPE" -> queries received
	// from counts the UDP queries received from each client address.
	from map[string]int
}

// Sockets returns how many client sockets (address:port) sent UDP queries.
func (s *testServer) Sockets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.from)
}

// Hits returns how many queries for name and type the server received.
func (s *testServer) Hits(name, qtype string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[mdns.Fqdn(name)+" "+qtype]
}

// startServer serves the test zone on ip, on a port both UDP and TCP have
// free, until the test ends.
func startServer(t testing.TB, ip string) *testServer {
	t.Helper()
	return startSlowServer(t, ip, 0)
}

// startSlowServer is startServer with every answer delayed.
func startSlowServer(t testing.TB, ip string, delay time.Duration) *testServer {
	t.Helper()
	s := &testServer{hits: map[string]int{}, from: map[string]int{}, Delay: delay}
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ; try++ {
		var err error
		pc, err = net.ListenPacket("udp", ip+":0")
		if err != nil {
			t.Fatalf("listen udp on %s: %v", ip, err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		if try == 10 {
			t.Fatalf("no port free for both udp and tcp on %s: %v", ip, err)
		}
	}
	s.Addr = pc.LocalAddr().String()
	s.Port = pc.LocalAddr().(*net.UDPAddr).Port
	for _, srv := range []*mdns.Server{{PacketConn: pc, Handler: s}, {Listener: ln, Handler: s}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return s
}

// The test zone. Every name not listed is NXDOMAIN.
//
//	www      A 198.51.100.7, AAAA 2001:db8::7 (TTL 300)
//	stale    A 203.0.113.10 (TTL 300): the address before a migration
//	alias    CNAME lb (TTL 60), lb CNAME www (TTL 120)
//	loop     CNAME loop2, loop2 CNAME loop
//	broken   SERVFAIL
//	slow     never answered
//	big      truncated over UDP; A 192.0.2.1 over TCP
//	stray    first a datagram with another ID and one answering another
//	         question (A 203.0.113.66), then the answer: A 192.0.2.66
//	nN       A 192.0.2.(N%250+1), for the benchmark
func (s *testServer) ServeDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	q := req.Question[0]
	qtype := mdns.TypeToString[q.Qtype]
	s.mu.Lock()
	s.hits[strings.ToLower(q.Name)+" "+qtype]++
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		s.from[w.RemoteAddr().String()]++
	}
	s.mu.Unlock()
	time.Sleep(s.Delay)
	m := new(mdns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	name := strings.TrimSuffix(strings.ToLower(q.Name), ".example.test.")
	cname := func(from, to string, ttl uint32) {
		m.Answer = append(m.Answer, &mdns.CNAME{Hdr: hdr(from, mdns.TypeCNAME, ttl), Target: to + ".example.test."})
	}
	addr := func(owner, ip string, ttl uint32) {
		a := netip.MustParseAddr(ip)
		switch {
		case a.Is4() && q.Qtype == mdns.TypeA:
			m.Answer = append(m.Answer, &mdns.A{Hdr: hdr(owner, mdns.TypeA, ttl), A: a.AsSlice()})
		case a.Is6() && q.Qtype == mdns.TypeAAAA:
			m.Answer = append(m.Answer, &mdns.AAAA{Hdr: hdr(owner, mdns.TypeAAAA, ttl), AAAA: a.AsSlice()})
		}
	}
	switch {
	case name == "www":
		addr("www", "198.51.100.7", 300)
		addr("www", "2001:db8::7", 300)
	case name == "stale":
		addr("stale", "203.0.113.10", 300)
	case name == "alias":
		cname("alias", "lb", 60)
		cname("lb", "www", 120)
		addr("www", "198.51.100.7", 300)
		addr("www", "2001:db8::7", 300)
	case name == "loop":
		cname("loop", "loop2", 60)
		cname("loop2", "loop", 60)
	case name == "broken":
		m.Rcode = mdns.RcodeServerFailure
		m.Authoritative = false
	case name == "slow":
		return
	case name == "stray":
		other := m.Copy()
		other.Id = req.Id + 1
		other.Answer = []mdns.RR{&mdns.A{Hdr: hdr("stray", mdns.TypeA, 60), A: netip.MustParseAddr("203.0.113.66").AsSlice()}}
		_ = w.WriteMsg(other)
		other.Id = req.Id
		other.Question[0].Name = "other.example.test."
		_ = w.WriteMsg(other)
		addr("stray", "192.0.2.66", 60)
	case name == "big":
		if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
			m.Truncated = true
		} else {
			addr("big", "192.0.2.1", 30)
		}
	case strings.HasPrefix(name, "n") && !strings.Contains(name, "."):
		var n int
		if _, err := fmt.Sscanf(name, "n%d", &n); err == nil {
			addr(name, fmt.Sprintf("192.0.2.%d", n%250+1), 60)
			break
		}
		fallthrough
	default:
		m.Rcode = mdns.RcodeNameError
	}
	_ = w.WriteMsg(m)
}

func hdr(owner string, t uint16, ttl uint32) mdns.RR_Header {
	return mdns.RR_Header{Name: owner + ".example.test.", Rrtype: t, Class: mdns.ClassINET, Ttl: ttl}
}

// fixtureRoot writes a root tree holding etc/resolv.conf and etc/hosts.
func fixtureRoot(t testing.TB, resolvConf, hosts string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"resolv.conf": resolvConf, "hosts": hosts} {
		if err := os.WriteFile(filepath.Join(root, "etc", name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}
