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

// Addresses of the differential topology: a "host" namespace (the firewall
// under test), a "world" namespace on one side and a "container" namespace
// on the other, each joined to the host by a veth pair.
var (
	hostAddr      = netip.MustParseAddr("10.200.0.1")
	worldAddr     = netip.MustParseAddr("10.200.0.2")
	bridgeAddr    = netip.MustParseAddr("172.17.0.1")
	containerAddr = netip.MustParseAddr("172.17.0.2")
)

// topo is one set of namespaces for one ruleset.
type topo struct {
	host, world, ctr *nstest.NS
	// extra addresses held by the container (pod IPs for kube-proxy).
	podAddrs []netip.Addr
}

func newTopo(t *testing.T, podAddrs []netip.Addr) *topo {
	t.Helper()
	tp := &topo{host: nstest.New(t), world: nstest.New(t), ctr: nstest.New(t), podAddrs: podAddrs}
	h, w, c := tp.host, tp.world, tp.ctr
	h.Run(t, "ip", "link", "add", "vh", "type", "veth", "peer", "name", "vw", "netns", w.Name)
	h.Run(t, "ip", "link", "add", "docker0", "type", "veth", "peer", "name", "eth0", "netns", c.Name)
	h.Run(t, "ip", "addr", "add", hostAddr.String()+"/24", "dev", "vh")
	h.Run(t, "ip", "addr", "add", bridgeAddr.String()+"/16", "dev", "docker0")
	h.Run(t, "ip", "link", "set", "vh", "up")
	h.Run(t, "ip", "link", "set", "docker0", "up")
	h.Run(t, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	h.Run(t, "ip", "route", "add", "default", "via", worldAddr.String())
	w.Run(t, "ip", "addr", "add", worldAddr.String()+"/24", "dev", "vw")
	w.Run(t, "ip", "link", "set", "vw", "up")
	w.Run(t, "ip", "route", "add", "172.16.0.0/12", "via", hostAddr.String())
	w.Run(t, "ip", "route", "add", "10.244.0.0/16", "via", hostAddr.String())
	w.Run(t, "ip", "route", "add", "10.96.0.0/12", "via", hostAddr.String())
	c.Run(t, "ip", "addr", "add", containerAddr.String()+"/16", "dev", "eth0")
	for _, a := range podAddrs {
		c.Run(t, "ip", "addr", "add", a.String()+"/32", "dev", "eth0")
	}
	c.Run(t, "ip", "link", "set", "eth0", "up")
	c.Run(t, "ip", "route", "add", "default", "via", bridgeAddr.String())
	if len(podAddrs) > 0 {
		h.Run(t, "ip", "route", "add", "10.244.0.0/16", "dev", "docker0")
	}
	return tp
}

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
			l, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", p))
			if err != nil {
				t.Errorf("listen tcp %d in %s: %v", p, ns.Name, err)
				continue
			}
			lns = append(lns, l)
			pc, err := net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", p))
			if err != nil {
				t.Errorf("listen udp %d in %s: %v", p, ns.Name, err)
				continue
			}
			pcs = append(pcs, pc)
		}
	})
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
				fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
				if err != nil {
					t.Fatalf("socket: %v", err)
				}
				fds = append(fds, fd)
				_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
				if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: p.src.As4(), Port: int(p.sport)}); err != nil {
					t.Fatalf("bind %s:%d: %v", p.src, p.sport, err)
				}
				sa := &unix.SockaddrInet4{Addr: p.dst.As4(), Port: int(p.dport)}
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
	// extraTargets are more (direction, address, port) targets, e.g. service IPs.
	extraTargets []target
	pods         []netip.Addr
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
}

// runDifferential loads a ruleset, snapshots it, simulates n random probes and
// sends them for real; it returns the agreement counts.
func runDifferential(t *testing.T, rs ruleset, n int, seed int64) agreement {
	t.Helper()
	tp := newTopo(t, rs.pods)
	rs.load(t, tp)

	sec, err := (&Collector{}).Collect(context.Background(), &agent.Env{NetNS: tp.host.Path()})
	var partial *agent.PartialError
	if err != nil && !errors.As(err, &partial) {
		t.Fatalf("collect: %v", err)
	}
	fw := sec.(*snapshot.Firewall)
	if len(fw.Unparsed) > 0 {
		t.Errorf("unparsed rules: %+v", fw.Unparsed)
	}
	prog := netfilter.Compile(fw)

	rec := &recorder{seen: map[string]bool{}}
	listenAll(t, tp.world, rs.ports, rec)
	listenAll(t, tp.host, rs.ports, rec)
	listenAll(t, tp.ctr, rs.ports, rec)

	rng := rand.New(rand.NewSource(seed))
	var probes []*probe
	for i := 0; i < n; i++ {
		p := &probe{proto: []string{"tcp", "udp"}[rng.Intn(2)], sport: uint16(40000 + i)}
		p.dport = rs.ports[rng.Intn(len(rs.ports))]
		choice := rng.Intn(10)
		switch {
		case len(rs.extraTargets) > 0 && choice >= 8:
			tg := rs.extraTargets[rng.Intn(len(rs.extraTargets))]
			p.dir, p.dst, p.dport = tg.dir, tg.dst, tg.port
			if tg.proto != "" {
				p.proto = tg.proto
			}
			if tg.dir == netfilter.Outbound {
				p.from, p.src = tp.host, hostAddr
			} else {
				p.from, p.src = tp.world, worldAddr
			}
		case rs.forward && choice >= 6:
			p.dir, p.from, p.src, p.dst = netfilter.Forward, tp.world, worldAddr, containerAddr
		case choice%2 == 0:
			p.dir, p.from, p.src, p.dst = netfilter.Outbound, tp.host, hostAddr, worldAddr
		default:
			p.dir, p.from, p.src, p.dst = netfilter.Inbound, tp.world, worldAddr, hostAddr
		}
		p.sim = prog.Simulate(netfilter.Packet{Direction: p.dir, Protocol: p.proto, Src: p.src, Dst: p.dst, SrcPort: p.sport, DstPort: p.dport})
		probes = append(probes, p)
	}
	sendAll(t, probes)
	// Wait until arrivals stop changing (veth delivery takes microseconds).
	last := -1
	for i := 0; i < 20; i++ {
		time.Sleep(50 * time.Millisecond)
		rec.mu.Lock()
		cur := len(rec.seen)
		rec.mu.Unlock()
		if cur == last && i >= 3 {
			break
		}
		last = cur
	}
	ag := agreement{name: rs.name, probes: n}
	for _, p := range probes {
		got := rec.has(p.proto, p.sport)
		switch p.sim.Verdict {
		case netfilter.Unknown:
			ag.unknown++
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
	if len(ag.wrong) > 0 || os.Getenv("HOSTDRIFT_DIFF_DUMP") != "" {
		dumpRuleset(t, tp, rs.name)
	}
	return ag
}

func describeProbe(p *probe, delivered bool) string {
	pk := netfilter.Packet{Direction: p.dir, Protocol: p.proto, Src: p.src, Dst: p.dst, SrcPort: p.sport, DstPort: p.dport}
	return fmt.Sprintf("%s %s:%d -> %s:%d: simulator %s, kernel delivered=%v: %s", p.dir, p.src, p.sport, p.dst, p.dport, p.sim.Verdict, delivered, netfilter.Explain(p.sim, pk))
}

func dumpRuleset(t *testing.T, tp *topo, name string) {
	out, _ := tp.host.Command("nft", "list", "ruleset").CombinedOutput()
	t.Logf("ruleset %s as nft lists it:\n%s", name, out)
}
