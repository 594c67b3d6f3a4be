package dns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// collect runs the collector against root, with resolv.conf's resolvers on
// port, and returns its DNS section.
func collect(t *testing.T, ctx context.Context, root string, port int, wants ...snapshot.DNSQuery) (*snapshot.DNS, error) {
	t.Helper()
	c := &collector{port: port}
	sec, err := c.Collect(ctx, &agent.Env{Root: root, Wants: snapshot.Wants{DNS: wants}})
	if sec == nil {
		t.Fatalf("Collect returned no section: %v", err)
	}
	return sec.(*snapshot.DNS), err
}

func result(t *testing.T, d *snapshot.DNS, name, qtype, server string) *snapshot.DNSResult {
	t.Helper()
	r, ok := d.Result(snapshot.DNSQuery{Name: name, Type: qtype, Server: server})
	if !ok {
		t.Fatalf("no result for %s %s @%q in %+v", name, qtype, server, d.Queries)
	}
	return r
}

func TestCollectNoWantsAsksNothing(t *testing.T) {
	srv := startServer(t, "127.0.0.53")
	root := fixtureRoot(t, "nameserver 127.0.0.53\nnameserver 2001:db8::53\noptions timeout:3\n", "127.0.0.1 localhost\n10.9.9.9 www.example.test www\n")
	start := time.Now()
	d, err := collect(t, context.Background(), root, srv.Port)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("took %s without a query to make", el)
	}
	want := []string{fmt.Sprintf("127.0.0.53:%d", srv.Port), fmt.Sprintf("[2001:db8::53]:%d", srv.Port)}
	if !reflect.DeepEqual(d.Resolvers, want) || d.TimeoutMS != 3000 || d.Attempts != 2 {
		t.Errorf("resolvers %v timeout %d attempts %d; want %v 3000 2", d.Resolvers, d.TimeoutMS, d.Attempts, want)
	}
	if len(d.Hosts) != 2 || d.Hosts[1].IP != netip.MustParseAddr("10.9.9.9") || len(d.Queries) != 0 {
		t.Errorf("hosts %+v queries %+v", d.Hosts, d.Queries)
	}
	if n := srv.Hits("www.example.test", "A"); n != 0 {
		t.Errorf("server got %d queries", n)
	}
}

func TestCollectMissingFiles(t *testing.T) {
	d, err := collect(t, context.Background(), t.TempDir(), 53)
	if err != nil {
		t.Fatal(err)
	}
	if !d.ResolversDefault || !reflect.DeepEqual(d.Resolvers, []string{"127.0.0.1:53"}) || d.HostsError != "" || d.ResolvConfError != "" {
		t.Errorf("without resolv.conf and hosts: %+v", d)
	}
}

func TestCollectAnswers(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "127.0.0.53")
	other := startServer(t, "127.0.0.54")
	root := fixtureRoot(t, "nameserver 127.0.0.53\noptions timeout:1 attempts:2\n", "")
	q := func(name, qtype, server string) snapshot.DNSQuery {
		return snapshot.DNSQuery{Name: name, Type: qtype, Server: server}
	}
	start := time.Now()
	d, err := collect(t, context.Background(), root, srv.Port,
		q("WWW.example.test.", "A", ""), q("www.example.test", "AAAA", ""),
		q("www.example.test", "A", ""), // a duplicate, asked once
		q("stale.example.test", "A", other.Addr),
		q("alias.example.test", "A", ""), q("loop.example.test", "A", ""),
		q("nx.example.test", "A", ""), q("broken.example.test", "A", ""),
		q("slow.example.test", "A", ""), q("big.example.test", "A", ""),
		q("bad..name", "A", ""))
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("took %s; the slowest query is bounded by 2 tries of 1 s", el)
	}
	if len(d.Queries) != 10 || srv.Hits("www.example.test", "A") != 1 {
		t.Errorf("%d queries recorded, www A asked %d times; want 10 and 1", len(d.Queries), srv.Hits("www.example.test", "A"))
	}

	www := result(t, d, "www.example.test", "A", "")
	if www.AnsweredBy != srv.Addr || www.Rcode != "NOERROR" || !www.Authoritative || www.Error != "" ||
		!reflect.DeepEqual(www.Records, []snapshot.AddressRecord{rec("198.51.100.7", 300)}) {
		t.Errorf("www A: %+v", www)
	}
	if v6 := result(t, d, "www.example.test", "AAAA", ""); !reflect.DeepEqual(v6.Records, []snapshot.AddressRecord{rec("2001:db8::7", 300)}) {
		t.Errorf("www AAAA: %+v", v6)
	}
	if st := result(t, d, "stale.example.test", "A", other.Addr); st.AnsweredBy != other.Addr || srv.Hits("stale.example.test", "A") != 0 ||
		!reflect.DeepEqual(st.Records, []snapshot.AddressRecord{rec("203.0.113.10", 300)}) {
		t.Errorf("stale A from the named server: %+v", st)
	}
	alias := result(t, d, "alias.example.test", "A", "")
	wantChain := []snapshot.CNAME{{Name: "alias.example.test", Target: "lb.example.test", TTL: 60}, {Name: "lb.example.test", Target: "www.example.test", TTL: 120}}
	if !reflect.DeepEqual(alias.CNAMEs, wantChain) || !reflect.DeepEqual(alias.Records, []snapshot.AddressRecord{rec("198.51.100.7", 300)}) {
		t.Errorf("alias: %+v", alias)
	}
	if loop := result(t, d, "loop.example.test", "A", ""); len(loop.CNAMEs) != 2 || len(loop.Records) != 0 || loop.Error != "" {
		t.Errorf("loop: %+v", loop)
	}
	if nx := result(t, d, "nx.example.test", "A", ""); nx.Rcode != "NXDOMAIN" || nx.Error != "" || len(nx.Records) != 0 {
		t.Errorf("nx: %+v", nx)
	}
	broken := result(t, d, "broken.example.test", "A", "")
	if broken.Rcode != "SERVFAIL" || broken.AnsweredBy != srv.Addr || !strings.Contains(broken.Error, srv.Addr+": answered SERVFAIL (2 tries)") {
		t.Errorf("broken: %+v", broken)
	}
	slow := result(t, d, "slow.example.test", "A", "")
	if slow.Rcode != "" || slow.Error != "no usable answer: "+srv.Addr+": no answer within 1s (2 tries)" || slow.DurationMS < 1900 {
		t.Errorf("slow: %+v", slow)
	}
	if n := srv.Hits("slow.example.test", "A"); n != 2 {
		t.Errorf("slow asked %d times, want 2 (attempts:2)", n)
	}
	if big := result(t, d, "big.example.test", "A", ""); !reflect.DeepEqual(big.Records, []snapshot.AddressRecord{rec("192.0.2.1", 30)}) {
		t.Errorf("big (truncated over UDP, retried over TCP): %+v", big)
	}
	if bad := result(t, d, "bad..name", "A", ""); !strings.Contains(bad.Error, "not a valid DNS name") {
		t.Errorf("bad name: %+v", bad)
	}
}

// A resolver that refuses is passed over for the next one, as the C library
// does, and the answer says so.
func TestCollectFallsBackToNextResolver(t *testing.T) {
	srv := startServer(t, "127.0.0.53")
	root := fixtureRoot(t, "nameserver 127.0.0.57\nnameserver 127.0.0.53\noptions timeout:1\n", "")
	d, err := collect(t, context.Background(), root, srv.Port, snapshot.DNSQuery{Name: "www.example.test", Type: "A"})
	if err != nil {
		t.Fatal(err)
	}
	r := result(t, d, "www.example.test", "A", "")
	want := []string{fmt.Sprintf("127.0.0.57:%d: connection refused: no DNS server listens there (1 try)", srv.Port)}
	if r.AnsweredBy != srv.Addr || len(r.Records) != 1 || !reflect.DeepEqual(r.Failed, want) {
		t.Errorf("got %+v; want an answer from %s after %v", r, srv.Addr, want)
	}
}

// Many queries in flight on the one socket to a resolver that refuses: every
// one of them hears the refusal and moves on, none waits out its timeout
// (the kernel keeps one pending error per socket, not one per datagram).
func TestCollectRefusalReachesEveryQueryInFlight(t *testing.T) {
	srv := startServer(t, "127.0.0.53")
	root := fixtureRoot(t, "nameserver 127.0.0.59\nnameserver 127.0.0.53\noptions timeout:5\n", "")
	var wants []snapshot.DNSQuery
	for i := range 100 {
		wants = append(wants, snapshot.DNSQuery{Name: fmt.Sprintf("n%d.example.test", i), Type: "A"})
	}
	d, err := collect(t, context.Background(), root, srv.Port, wants...)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf("127.0.0.59:%d: connection refused: no DNS server listens there (1 try)", srv.Port)}
	for _, q := range wants {
		if r := result(t, d, q.Name, "A", ""); r.AnsweredBy != srv.Addr || len(r.Records) != 1 || !reflect.DeepEqual(r.Failed, want) {
			t.Errorf("got %+v; want an answer from %s after %v", r, srv.Addr, want)
		}
	}
}

// An unreadable resolv.conf is recorded, and queries to the system resolvers
// say why they were not asked; the collector does not fail.
func TestCollectUnreadableResolvConf(t *testing.T) {
	root := fixtureRoot(t, "", "")
	d, err := collect(t, context.Background(), root+"/etc/resolv.conf", 53, snapshot.DNSQuery{Name: "www.example.test", Type: "A"})
	if err != nil {
		t.Fatal(err)
	}
	r := result(t, d, "www.example.test", "A", "")
	if d.ResolvConfError == "" || !strings.HasPrefix(r.Error, "no resolver to ask: ") {
		t.Errorf("resolv.conf error %q, query %+v", d.ResolvConfError, r)
	}
}

// The collector returns what it has, marked partial, before the runner's
// deadline instead of being abandoned with nothing.
func TestCollectStopsBeforeDeadline(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "127.0.0.53")
	root := fixtureRoot(t, "nameserver 127.0.0.53\noptions timeout:1 attempts:3\n", "")
	var wants []snapshot.DNSQuery
	for i := range 40 {
		wants = append(wants, snapshot.DNSQuery{Name: fmt.Sprintf("slow%d.example.test", i), Type: "A"})
	}
	wants = append(wants, snapshot.DNSQuery{Name: "slow.example.test", Type: "A"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	d, err := collect(t, ctx, root, srv.Port, wants...)
	var partial *agent.PartialError
	if !errors.As(err, &partial) || !strings.Contains(partial.Reason, "--collector-timeout") {
		t.Fatalf("want a partial error, got %v", err)
	}
	cut := 0
	for _, r := range d.Queries {
		if r.Error == errCutShort.Error() {
			cut++
		}
	}
	if cut == 0 || len(d.Queries) != 41 {
		t.Errorf("%d of %d queries cut short", cut, len(d.Queries))
	}
}

// TestCollectReusesSockets: queries to one server share one UDP socket, many
// in flight at once; a datagram that answers another ID or another question
// is passed over for the answer.
func TestCollectReusesSockets(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "127.0.0.58")
	root := fixtureRoot(t, "nameserver 127.0.0.58\noptions timeout:1\n", "")
	wants := []snapshot.DNSQuery{{Name: "stray.example.test", Type: "A"}}
	for i := range 200 {
		wants = append(wants, snapshot.DNSQuery{Name: fmt.Sprintf("n%d.example.test", i), Type: "A"})
	}
	d, err := collect(t, context.Background(), root, srv.Port, wants...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		name := fmt.Sprintf("n%d.example.test", i)
		r := result(t, d, name, "A", "")
		if want := []snapshot.AddressRecord{rec(fmt.Sprintf("192.0.2.%d", i%250+1), 60)}; r.Error != "" || !reflect.DeepEqual(r.Records, want) {
			t.Errorf("%s: %+v, want %v", name, r, want)
		}
	}
	if r := result(t, d, "stray.example.test", "A", ""); r.Error != "" || !reflect.DeepEqual(r.Records, []snapshot.AddressRecord{rec("192.0.2.66", 60)}) {
		t.Errorf("stray: %+v, want the answer to its own ID and question", r)
	}
	if n := srv.Sockets(); n != 1 {
		t.Errorf("201 queries came from %d sockets, want 1", n)
	}
}

func rec(ip string, ttl uint32) snapshot.AddressRecord {
	return snapshot.AddressRecord{IP: netip.MustParseAddr(ip), TTL: ttl}
}
