package firewall

import (
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// Addresses of the differential topology: a "host" namespace (the firewall
// under test), a "world" namespace on one side and a "container" namespace
// on the other, each joined to the host by a veth pair, in both families.
var (
	hostAddr       = netip.MustParseAddr("10.200.0.1")
	worldAddr      = netip.MustParseAddr("10.200.0.2")
	bridgeAddr     = netip.MustParseAddr("172.17.0.1")
	containerAddr  = netip.MustParseAddr("172.17.0.2")
	hostAddr6      = netip.MustParseAddr("fd00:200::1")
	worldAddr6     = netip.MustParseAddr("fd00:200::2")
	bridgeAddr6    = netip.MustParseAddr("fd00:17::1")
	containerAddr6 = netip.MustParseAddr("fd00:17::2")
)

// Fresh peers: the world owns whole ranges (local routes, as AnyIP), so that
// every probe comes from, or goes to, a peer that sent nothing before, the
// packet hostdrift's verdicts are about. The on-link range sits inside the
// host's 10.200.0.0/24, the routed ones behind the world.
var (
	freshOnLink = netip.MustParsePrefix("10.200.0.128/25")
	freshRouted = netip.MustParsePrefix("10.201.0.0/16")
	fresh6      = netip.MustParsePrefix("fd00:201::/64")
)

// topo is one set of namespaces for one ruleset.
type topo struct {
	host, world, ctr *nstest.NS
	// extra addresses held by the container (pod IPs for kube-proxy).
	podAddrs []netip.Addr
}

// ipBatch runs ip commands in the namespace in one process.
func ipBatch(t *testing.T, ns *nstest.NS, cmds ...string) {
	t.Helper()
	cmd := ns.Command("ip", "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip -batch in %s: %v\n%s\ninput:\n%s", ns.Name, err, out, strings.Join(cmds, "\n"))
	}
}

func newTopo(t *testing.T, podAddrs []netip.Addr) *topo {
	t.Helper()
	tp := &topo{host: nstest.New(t), ctr: nstest.New(t), podAddrs: podAddrs}
	tp.world = linkWorld(t, tp.host)
	h, c := tp.host, tp.ctr
	const macDk, macEth0 = "02:00:00:00:00:11", "02:00:00:00:00:12"
	ipBatch(t, h,
		"link add docker0 address "+macDk+" type veth peer name eth0 address "+macEth0+" netns "+c.Name,
		"addr add "+bridgeAddr.String()+"/16 dev docker0",
		"addr add "+bridgeAddr6.String()+"/64 dev docker0 nodad",
		"link set docker0 up",
		"neigh replace "+containerAddr6.String()+" lladdr "+macEth0+" dev docker0 nud permanent",
	)
	cmds := []string{
		"addr add " + containerAddr.String() + "/16 dev eth0",
		"addr add " + containerAddr6.String() + "/64 dev eth0 nodad",
	}
	for _, a := range podAddrs {
		cmds = append(cmds, "addr add "+a.String()+"/32 dev eth0")
	}
	cmds = append(cmds, "link set eth0 up",
		"route add default via "+bridgeAddr.String(),
		"route add default via "+bridgeAddr6.String(),
		"neigh replace "+bridgeAddr6.String()+" lladdr "+macDk+" dev eth0 nud permanent")
	ipBatch(t, c, cmds...)
	if len(podAddrs) > 0 {
		h.Run(t, "ip", "route", "add", "10.244.0.0/16", "dev", "docker0")
	}
	return tp
}

// linkWorld makes the world namespace, joins it to host by the veth pair
// vh (host side) / vw, with both families' addresses, the host's default
// routes through the world, and the world's routes to the container ranges
// and to its fresh peers; forwarding is turned on in host.
func linkWorld(t *testing.T, h *nstest.NS) *nstest.NS {
	t.Helper()
	w := nstest.New(t)
	// Fixed MACs and permanent neighbours: IPv6 neighbour discovery is ICMPv6
	// that the rulesets under test may drop; the probes must not depend on it.
	const macVH, macVW = "02:00:00:00:00:01", "02:00:00:00:00:02"
	ipBatch(t, h,
		"link add vh address "+macVH+" type veth peer name vw address "+macVW+" netns "+w.Name,
		"addr add "+hostAddr.String()+"/24 dev vh",
		"addr add "+hostAddr6.String()+"/64 dev vh nodad",
		"link set vh up",
		"route add default via "+worldAddr.String(),
		"route add default via "+worldAddr6.String(),
		"neigh replace "+worldAddr6.String()+" lladdr "+macVW+" dev vh nud permanent",
	)
	h.Run(t, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	ipBatch(t, w,
		"addr add "+worldAddr.String()+"/24 dev vw",
		"addr add "+worldAddr6.String()+"/64 dev vw nodad",
		"link set vw up",
		"link set lo up",
		"route add 172.16.0.0/12 via "+hostAddr.String(),
		"route add 10.244.0.0/16 via "+hostAddr.String(),
		"route add 10.96.0.0/12 via "+hostAddr.String(),
		"route add fd00:17::/64 via "+hostAddr6.String(),
		"neigh replace "+hostAddr6.String()+" lladdr "+macVH+" dev vw nud permanent",
		"route add local "+freshOnLink.String()+" dev lo",
		"route add local "+freshRouted.String()+" dev lo",
		"route add local "+fresh6.String()+" dev lo",
	)
	w.Run(t, "sysctl", "-q", "-w", "net.ipv4.ip_nonlocal_bind=1", "net.ipv6.ip_nonlocal_bind=1")
	return w
}

// freshPeers hands out addresses no probe used before.
type freshPeers struct{ onLink, routed, v6 uint32 }

// next returns a fresh peer of the family; on-link ones first now and then,
// while they last, so that rules on 10.200.0.0/24 see them.
func (f *freshPeers) next(v6, onLink bool) netip.Addr {
	if v6 {
		f.v6++
		b := fresh6.Addr().As16()
		b[12], b[13], b[14], b[15] = byte(f.v6>>24), byte(f.v6>>16), byte(f.v6>>8), byte(f.v6)
		return netip.AddrFrom16(b)
	}
	if onLink && f.onLink < 126 {
		f.onLink++
		b := freshOnLink.Addr().As4()
		b[3] += byte(f.onLink)
		return netip.AddrFrom4(b)
	}
	f.routed++
	b := freshRouted.Addr().As4()
	b[2], b[3] = byte(f.routed>>8), byte(f.routed)
	return netip.AddrFrom4(b)
}

func sockaddr(a netip.Addr, port uint16) unix.Sockaddr {
	if a.Is4() {
		return &unix.SockaddrInet4{Addr: a.As4(), Port: int(port)}
	}
	return &unix.SockaddrInet6{Addr: a.As16(), Port: int(port)}
}
