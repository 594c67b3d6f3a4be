package firewall

import (
	"fmt"
	"math/rand"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/testkit/dockertest"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// dockerUFWCommands are the UFW rules next to the real Docker engine: the
// usual host policy, a rate-limited port, an IPv6-only allow, and a route
// rule for a container port that Docker does not publish (Docker's own
// FORWARD rules come first, UFW's route rules decide what they leave).
var dockerUFWCommands = []string{
	"default deny incoming", "default allow outgoing",
	"allow 22/tcp", "limit 2222/tcp", "allow 80,443/tcp",
	"deny out 587/tcp", "reject 3306", "allow 5000:5010/udp",
	"allow from fd00:201::/120 to any port 8443 proto tcp",
	"route allow proto tcp from any to 172.17.0.0/16 port 5432",
}

// xtablesPath makes a folder whose iptables, ip6tables and their save and
// restore commands are the given backend's (nft or legacy), for the front
// of dockerd's PATH: the engine then writes through that backend whatever
// the machine's alternatives say, and nothing outside the test changes.
func xtablesPath(t *testing.T, backend string) string {
	t.Helper()
	multi := "/usr/sbin/xtables-" + backend + "-multi"
	if _, err := os.Stat(multi); err != nil {
		t.Fatalf("iptables backend %s: %v (Debian: apt-get install iptables)", backend, err)
	}
	dir := t.TempDir()
	for _, n := range []string{"iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore"} {
		if err := os.Symlink(multi, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// dockerCtr is one container of the Docker ruleset, with its address.
type dockerCtr struct {
	name string
	addr netip.Addr
	ns   *nstest.NS
}

// dockerPorts are what the probes aim at: the common ports and the ones
// the containers publish (5353/udp; 8080, 8443 and 9000 are common).
var dockerPorts = append([]uint16{5353}, commonPorts...)

// runDockerUFW starts a real dockerd writing through the backend, enables
// real UFW in its namespace, starts containers publishing ports on every
// address, on 127.0.0.1 and on the host's own address, on the default
// bridge, a user-defined network and an internal one, then sends n probes
// from the world: to the host, to the containers through it, and out.
func runDockerUFW(t *testing.T, backend string, n int, seed int64) (v4, v6 agreement) {
	t.Helper()
	env := []string{"PATH=" + xtablesPath(t, backend) + ":" + os.Getenv("PATH")}
	// No userland proxy: published ports are iptables rules only, so the
	// receivers can listen on every port of the host.
	e := dockertest.StartEnv(t, env, "--userland-proxy=false", "--bip", bridgeAddr.String()+"/16")
	t.Logf("docker %s, %s", e.Docker(t, "version", "--format", "{{.Server.Version}}"), strings.SplitN(e.NS.Run(t, "ufw", "version"), "\n", 2)[0])
	host := e.NS
	world := linkWorld(t, host)
	host.UFWBackend(t, backend, dockerUFWCommands...)

	img := e.Busybox(t)
	e.Docker(t, "network", "create", "--label", dockertest.Label, "--subnet", "172.20.0.0/16", "appnet")
	e.Docker(t, "network", "create", "--label", dockertest.Label, "--internal", "--subnet", "172.21.0.0/16", "backend")
	run := func(name string, args ...string) dockerCtr {
		a := append([]string{"run", "-d", "--label", dockertest.Label, "--name", name}, args...)
		id := e.Docker(t, append(a, img, "sleep", "3600")...)
		f := strings.Fields(e.Docker(t, "inspect", "-f", "{{.State.Pid}} {{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", id))
		if len(f) != 2 {
			t.Fatalf("container %s: want a pid and one address, got %q", name, f)
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatal(err)
		}
		return dockerCtr{name: name, addr: netip.MustParseAddr(f[1]), ns: nstest.Attach(t, pid)}
	}
	ctrs := []dockerCtr{
		run("web", "-p", "8080:80", "-p", "5353:53/udp"),
		run("app", "--network", "appnet", "-p", "127.0.0.1:9000:9000", "-p", hostAddr.String()+":8443:443"),
		run("db", "--network", "backend"),
	}

	// What an administrator adds to Docker's hook for their own rules.
	host.Run(t, "iptables-"+backend, "-I", "DOCKER-USER", "-s", "10.200.0.0/24", "-p", "tcp", "--dport", "443", "-j", "DROP")

	wrote := host.Run(t, "iptables-"+backend+"-save")
	for _, want := range []string{"-A DOCKER ", "-A ufw-user-input", "DNAT --to-destination"} {
		if !strings.Contains(wrote, want) {
			t.Fatalf("docker and ufw wrote no %q through iptables-%s:\n%s", want, backend, wrote)
		}
	}
	other := map[string]string{"nft": "legacy", "legacy": "nft"}[backend]
	if out := host.Run(t, "iptables-"+other+"-save"); strings.Contains(out, "DOCKER") {
		t.Fatalf("docker wrote through iptables-%s too:\n%s", other, out)
	}

	prog := collectProgram(t, host)

	rec := &recorder{seen: map[string]bool{}}
	listenAll(t, world, dockerPorts, rec)
	held := listenBeside(t, host, dockerPorts, rec)
	for _, c := range ctrs {
		listenAll(t, c.ns, dockerPorts, rec)
	}

	var fwd []netip.Addr
	for _, c := range ctrs {
		fwd = append(fwd, c.addr)
	}
	// Docker 20.10 writes no IPv6 rules (ip6tables is experimental
	// there): IPv6 probes test UFW's IPv6 chains, to and from the host.
	probes := firstPackets(prog, n, seed, dockerPorts, host, world, fwd)
	name := "docker+ufw " + backend
	v4, v6 = measure(t, name, probes, rec)
	// The probes took the paths the ruleset is about: published ports
	// reached through DNAT, containers reached and refused through the
	// host, the internal network refused.
	paths := map[string]int{}
	for _, p := range probes {
		key := string(p.dir) + " " + map[bool]string{true: "delivered", false: "dropped"}[rec.has(p.proto, p.sport)]
		if p.dir == netfilter.Inbound && p.proto == "tcp" && p.dport == 8080 && p.dst.Is4() {
			key = "inbound to published 8080 " + key[len("inbound "):]
		}
		if p.dir == netfilter.Forward && p.dst == ctrs[2].addr {
			key = "forward to internal " + key[len("forward "):]
		}
		paths[key]++
	}
	t.Logf("paths: %v", paths)
	for _, want := range []string{"inbound to published 8080 delivered", "forward delivered", "forward dropped", "forward to internal dropped", "inbound dropped", "outbound delivered"} {
		if paths[want] == 0 {
			t.Errorf("no probe was %s: the ruleset does not test that path", want)
		}
	}
	// Docker's own sockets on the published ports count nothing: none of
	// them may have received a probe, or the count above would miss it.
	for _, l := range strings.Split(strings.TrimSpace(host.Run(t, "ss", "-Hlntu")), "\n") {
		if f := strings.Fields(l); len(f) >= 5 && f[2] != "0" {
			t.Errorf("a socket the test does not watch received probes (%v held by docker): %s", held, l)
		}
	}
	if len(v4.wrong)+len(v6.wrong) > 0 || os.Getenv("HOSTDRIFT_DIFF_DUMP") != "" {
		out, _ := host.Command("iptables-" + backend + "-save").CombinedOutput()
		t.Logf("ruleset %s as iptables-%s-save lists it:\n%s", name, backend, out)
	}
	return v4, v6
}

// TestDifferentialDockerUFW is the differential test on what a real Docker
// engine and real UFW write together, through each iptables backend.
func TestDifferentialDockerUFW(t *testing.T) {
	nstest.RequireRoot(t)
	for _, c := range []string{"dockerd", "ufw", "unshare", "iptables-nft-save", "iptables-legacy-save"} {
		nstest.RequireCommand(t, c)
	}
	var results []agreement
	for i, backend := range []string{"nft", "legacy"} {
		t.Run("docker_ufw_"+backend, func(t *testing.T) {
			v4, v6 := runDockerUFW(t, backend, 640, int64(3000+i))
			rs := ruleset{name: "docker+ufw " + backend, v6: true, history: true}
			results = append(results, checkAgreement(t, rs, v4, v6)...)
		})
	}
	t.Log(agreementTable(results))
}

// listenBeside is listenAll for a namespace where Docker holds some ports
// of the published mappings itself (libnetwork binds them even without the
// userland proxy): where the wildcard address is taken it listens on the
// host's own address instead, and where that is taken too it returns the
// port as held; the caller then checks that Docker's socket got nothing.
func listenBeside(t *testing.T, ns *nstest.NS, ports []uint16, rec *recorder) (held []string) {
	t.Helper()
	var lns []net.Listener
	var pcs []net.PacketConn
	ns.Do(t, func() {
		for _, p := range ports {
			for _, fam := range []struct {
				n   string
				any netip.Addr
				own netip.Addr
			}{{"4", netip.IPv4Unspecified(), hostAddr}, {"6", netip.IPv6Unspecified(), hostAddr6}} {
				for _, proto := range []string{"tcp", "udp"} {
					var err error
					for _, a := range []netip.Addr{fam.any, fam.own} {
						addr := netip.AddrPortFrom(a, p).String()
						if proto == "tcp" {
							var l net.Listener
							if l, err = net.Listen("tcp"+fam.n, addr); err == nil {
								lns = append(lns, l)
							}
						} else {
							var pc net.PacketConn
							if pc, err = net.ListenPacket("udp"+fam.n, addr); err == nil {
								pcs = append(pcs, pc)
							}
						}
						if err == nil {
							break
						}
					}
					if err != nil {
						held = append(held, fmt.Sprintf("%s%s/%d", proto, fam.n, p))
					}
				}
			}
		}
	})
	t.Cleanup(func() {
		for _, l := range lns {
			l.Close()
		}
		for _, pc := range pcs {
			pc.Close()
		}
	})
	serve(t, lns, pcs, rec)
	return held
}

// collectProgram collects the firewall of the namespace as hostdrift does
// and compiles it for the simulator; unparsed rules fail the test.
func collectProgram(t *testing.T, ns *nstest.NS) *netfilter.Program {
	t.Helper()
	fw := collectIn(t, ns)
	return netfilter.Compile(fw)
}

// firstPackets makes n first packets of fresh peers, half of them IPv6,
// each simulated: out of host to the world, from the world into host, and
// (IPv4) from the world through host to the fwd addresses, if any.
func firstPackets(prog *netfilter.Program, n int, seed int64, ports []uint16, host, world *nstest.NS, fwd []netip.Addr) []*probe {
	rng := rand.New(rand.NewSource(seed))
	var fresh freshPeers
	var probes []*probe
	for i := 0; i < n; i++ {
		p := &probe{proto: []string{"tcp", "udp"}[rng.Intn(2)], sport: uint16(40000 + i)}
		p.dport = ports[rng.Intn(len(ports))]
		six := rng.Intn(2) == 1
		hostA, worldA := hostAddr, worldAddr
		if six {
			hostA, worldA = hostAddr6, worldAddr6
		}
		choice := rng.Intn(10)
		switch {
		case choice < 3:
			p.dir, p.from, p.src, p.dst = netfilter.Outbound, host, hostA, worldA
			if rng.Intn(2) == 0 {
				p.dst = fresh.next(six, rng.Intn(2) == 0)
			}
		case choice < 6 || six || len(fwd) == 0:
			p.dir, p.from, p.src, p.dst = netfilter.Inbound, world, fresh.next(six, rng.Intn(2) == 0), hostA
		default:
			p.dir, p.from, p.src, p.dst = netfilter.Forward, world, fresh.next(false, rng.Intn(2) == 0), fwd[rng.Intn(len(fwd))]
		}
		p.sim = prog.Simulate(netfilter.Packet{Direction: p.dir, Protocol: p.proto, Src: p.src, Dst: p.dst, SrcPort: p.sport, DstPort: p.dport})
		probes = append(probes, p)
	}
	return probes
}
