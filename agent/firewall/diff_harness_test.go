package firewall

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// recorder notes every probe that reached a receiver, by protocol and source port.
type recorder struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (r *recorder) add(proto string, sport int) {
	r.mu.Lock()
	r.seen[fmt.Sprintf("%s/%d", proto, sport)] = true
	r.mu.Unlock()
}

func (r *recorder) has(proto string, sport uint16) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[fmt.Sprintf("%s/%d", proto, sport)]
}

// listenAll opens TCP and UDP receivers on every port in ns, recording arrivals.
func listenAll(t *testing.T, ns *nstest.NS, ports []uint16, rec *recorder) {
	t.Helper()
	var lns []net.Listener
	var pcs []net.PacketConn
	ns.Do(t, func() {
		for _, p := range ports {
			for _, fam := range []struct{ n, any string }{{"4", "0.0.0.0"}, {"6", "[::]"}} {
				l, err := net.Listen("tcp"+fam.n, fmt.Sprintf("%s:%d", fam.any, p))
				if err != nil {
					t.Errorf("listen tcp%s %d in %s: %v", fam.n, p, ns.Name, err)
					continue
				}
				lns = append(lns, l)
				pc, err := net.ListenPacket("udp"+fam.n, fmt.Sprintf("%s:%d", fam.any, p))
				if err != nil {
					t.Errorf("listen udp%s %d in %s: %v", fam.n, p, ns.Name, err)
					continue
				}
				pcs = append(pcs, pc)
			}
		}
	})
	serve(t, lns, pcs, rec)
}

// serve accepts on the listeners and reads the packet sockets, recording
// every arrival, until cleanup closes them.
func serve(t *testing.T, lns []net.Listener, pcs []net.PacketConn, rec *recorder) {
	for _, l := range lns {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
					rec.add("tcp", a.Port)
				}
				c.Close()
			}
		}()
	}
	for _, pc := range pcs {
		go func() {
			buf := make([]byte, 64)
			for {
				_, a, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				if ua, ok := a.(*net.UDPAddr); ok {
					rec.add("udp", ua.Port)
				}
			}
		}()
	}
	t.Cleanup(func() {
		for _, l := range lns {
			l.Close()
		}
		for _, pc := range pcs {
			pc.Close()
		}
	})
}

// probe is one packet sent through the host and its simulated verdict.
type probe struct {
	dir      netfilter.Direction
	proto    string
	src, dst netip.Addr
	sport    uint16
	dport    uint16
	from     *nstest.NS
	sim      netfilter.Result
}

// sendAll opens a socket per probe in its sender's namespace and sends a TCP
// SYN (non-blocking connect) or a UDP datagram; the sockets are closed later.
func sendAll(t *testing.T, probes []*probe) {
	t.Helper()
	byNS := map[*nstest.NS][]*probe{}
	for _, p := range probes {
		byNS[p.from] = append(byNS[p.from], p)
	}
	var fds []int
	for ns, ps := range byNS {
		ns.Do(t, func() {
			for _, p := range ps {
				typ := unix.SOCK_STREAM
				if p.proto == "udp" {
					typ = unix.SOCK_DGRAM
				}
				af := unix.AF_INET
				if p.dst.Is6() {
					af = unix.AF_INET6
				}
				fd, err := unix.Socket(af, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
				if err != nil {
					t.Fatalf("socket: %v", err)
				}
				fds = append(fds, fd)
				_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
				if err := unix.Bind(fd, sockaddr(p.src, p.sport)); err != nil {
					t.Fatalf("bind %s:%d: %v", p.src, p.sport, err)
				}
				sa := sockaddr(p.dst, p.dport)
				if p.proto == "udp" {
					if err := unix.Sendto(fd, []byte("hostdrift"), 0, sa); err != nil && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.ECONNREFUSED) {
						t.Logf("sendto %s:%d: %v", p.dst, p.dport, err)
					}
					continue
				}
				if err := unix.Connect(fd, sa); err != nil && !errors.Is(err, unix.EINPROGRESS) && !errors.Is(err, unix.EPERM) {
					t.Logf("connect %s:%d: %v", p.dst, p.dport, err)
				}
			}
		})
	}
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
}

// ruleset is one differential case.
type ruleset struct {
	name string
	// load installs the ruleset into the host namespace.
	load func(t *testing.T, tp *topo)
	// ports the probes aim at (receivers listen on all of them everywhere).
	ports []uint16
	// forward: also probe world -> container through the host.
	forward bool
	// v6: the ruleset has IPv6 rules; half the probes are IPv6.
	v6 bool
	// history: some verdicts depend on the peer's history or the load.
	history bool
	// extraTargets are more (direction, address, port) targets, e.g. service IPs.
	extraTargets []target
	pods         []netip.Addr
	// nativeNamedLikeIptables: nft wrote tables named as iptables' (ip
	// filter, ip nat...). Elsewhere every such table is iptables-nft's, and
	// one read as native is a misjudged owner.
	nativeNamedLikeIptables bool
}

type target struct {
	dir   netfilter.Direction
	proto string
	dst   netip.Addr
	port  uint16
}

type agreement struct {
	name                             string
	probes, allowOK, denyOK, unknown int
	wrong                            []string
	// why holds the reason of each unknown verdict.
	why []string
	// assumed counts the verdicts that named a condition on the peer's
	// history or the load (and agreed with the kernel or not, as counted).
	assumed int
}

// collectIn reads the firewall of ns: a collector that fails (not merely
// partial) ends the test, and every rule it could not read is an error.
func collectIn(t *testing.T, ns *nstest.NS) *snapshot.Firewall {
	t.Helper()
	sec, err := (&Collector{}).Collect(context.Background(), &agent.Env{NetNS: ns.Path()})
	var partial *agent.PartialError
	if err != nil && !errors.As(err, &partial) {
		t.Fatalf("collect: %v", err)
	}
	fw := sec.(*snapshot.Firewall)
	for _, u := range fw.Unparsed {
		t.Errorf("unparsed rule: %+v", u)
	}
	return fw
}

// runDifferential loads a ruleset, snapshots it, simulates n random probes and
// sends them for real; it returns the agreement counts for IPv4 and IPv6.
// Every probe is the first packet of a fresh peer: inbound and forwarded
// ones come from an address never used before, outbound ones go to the
// world's own address or to a fresh one.
func runDifferential(t *testing.T, rs ruleset, n int, seed int64) (v4, v6 agreement) {
	t.Helper()
	tp := newTopo(t, rs.pods)
	rs.load(t, tp)

	fw := collectIn(t, tp.host)
	if b, _ := fw.Backend(snapshot.BackendNftables); b.Note != "" && !rs.nativeNamedLikeIptables {
		t.Errorf("a table iptables-nft wrote was read as native nftables: %s", b.Note)
	}
	if rs.nativeNamedLikeIptables {
		for _, tb := range fw.Tables {
			if tb.Backend == snapshot.BackendIptablesNft {
				t.Errorf("table %s %s, which nft wrote or changed, is read as iptables-nft's", tb.Family, tb.Name)
			}
		}
	}
	prog := netfilter.Compile(fw)

	rec := &recorder{seen: map[string]bool{}}
	listenAll(t, tp.world, rs.ports, rec)
	listenAll(t, tp.host, rs.ports, rec)
	listenAll(t, tp.ctr, rs.ports, rec)

	rng := rand.New(rand.NewSource(seed))
	var fresh freshPeers
	var probes []*probe
	for i := 0; i < n; i++ {
		p := &probe{proto: []string{"tcp", "udp"}[rng.Intn(2)], sport: uint16(40000 + i)}
		p.dport = rs.ports[rng.Intn(len(rs.ports))]
		six := rs.v6 && rng.Intn(2) == 1
		host, world, ctr := hostAddr, worldAddr, containerAddr
		if six {
			host, world, ctr = hostAddr6, worldAddr6, containerAddr6
		}
		peer := func() netip.Addr { return fresh.next(six, rng.Intn(2) == 0) }
		choice := rng.Intn(10)
		switch {
		case len(rs.extraTargets) > 0 && choice >= 8 && !six:
			tg := rs.extraTargets[rng.Intn(len(rs.extraTargets))]
			p.dir, p.dst, p.dport = tg.dir, tg.dst, tg.port
			if tg.proto != "" {
				p.proto = tg.proto
			}
			if tg.dir == netfilter.Outbound {
				p.from, p.src = tp.host, host
			} else {
				p.from, p.src = tp.world, peer()
			}
		case rs.forward && choice >= 6:
			p.dir, p.from, p.src, p.dst = netfilter.Forward, tp.world, peer(), ctr
		case choice%2 == 0:
			p.dir, p.from, p.src, p.dst = netfilter.Outbound, tp.host, host, world
			if rng.Intn(2) == 0 {
				p.dst = peer()
			}
		default:
			p.dir, p.from, p.src, p.dst = netfilter.Inbound, tp.world, peer(), host
		}
		p.sim = prog.Simulate(netfilter.Packet{Direction: p.dir, Protocol: p.proto, Src: p.src, Dst: p.dst, SrcPort: p.sport, DstPort: p.dport})
		probes = append(probes, p)
	}
	v4, v6 = measure(t, rs.name, probes, rec)
	if len(v4.wrong)+len(v6.wrong) > 0 || os.Getenv("HOSTDRIFT_DIFF_DUMP") != "" {
		dumpRuleset(t, tp, rs.name)
	}
	return v4, v6
}

// measure sends the probes, waits until arrivals settle and counts where
// the simulator's verdicts agree with what the kernel delivered.
func measure(t *testing.T, name string, probes []*probe, rec *recorder) (v4, v6 agreement) {
	t.Helper()
	sendAll(t, probes)
	// Wait until arrivals stop changing. Veth delivery takes microseconds,
	// but on a loaded machine the receiving goroutines may wait their turn
	// for a while: once as many probes as the simulator lets through have
	// arrived, two quiet samples settle it; otherwise five (250 ms), and 3 s
	// at the most.
	allowed := 0
	for _, p := range probes {
		if p.sim.Verdict == netfilter.Allow {
			allowed++
		}
	}
	last, quiet := -1, 0
	for i := 0; i < 60; i++ {
		time.Sleep(50 * time.Millisecond)
		rec.mu.Lock()
		cur := len(rec.seen)
		rec.mu.Unlock()
		if cur == last {
			quiet++
		} else {
			quiet = 0
		}
		last = cur
		if quiet >= 5 || (quiet >= 2 && cur >= allowed) {
			break
		}
	}
	v4, v6 = agreement{name: name + " (IPv4)"}, agreement{name: name + " (IPv6)"}
	for _, p := range probes {
		ag := &v4
		if p.dst.Is6() {
			ag = &v6
		}
		ag.probes++
		if len(p.sim.Conditions) > 0 {
			ag.assumed++
		}
		got := rec.has(p.proto, p.sport)
		switch p.sim.Verdict {
		case netfilter.Unknown:
			ag.unknown++
			ag.why = append(ag.why, p.sim.Reason)
		case netfilter.Allow:
			if got {
				ag.allowOK++
			} else {
				ag.wrong = append(ag.wrong, describeProbe(p, got))
			}
		case netfilter.Deny:
			if !got {
				ag.denyOK++
			} else {
				ag.wrong = append(ag.wrong, describeProbe(p, got))
			}
		}
	}
	return v4, v6
}

func describeProbe(p *probe, delivered bool) string {
	pk := netfilter.Packet{Direction: p.dir, Protocol: p.proto, Src: p.src, Dst: p.dst, SrcPort: p.sport, DstPort: p.dport}
	return fmt.Sprintf("%s %s:%d -> %s:%d: simulator %s, kernel delivered=%v: %s", p.dir, p.src, p.sport, p.dst, p.dport, p.sim.Verdict, delivered, netfilter.Explain(p.sim, pk))
}

func dumpRuleset(t *testing.T, tp *topo, name string) {
	out, _ := tp.host.Command("nft", "list", "ruleset").CombinedOutput()
	t.Logf("ruleset %s as nft lists it:\n%s", name, out)
}
