package firewall

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/testkit/debroot"
	"github.com/hostdrift/hostdrift/internal/testkit/dockertest"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// firewalldPackages is the Debian root the firewalld differential test
// boots with systemd as PID 1: Debian's firewalld with D-Bus, and both
// iptables backends and ipset for its iptables backend. adduser and
// libpam-systemd are named because debootstrap does not resolve the
// alternatives polkitd (a firewalld dependency) depends on.
var firewalldPackages = []string{"adduser", "dbus", "firewalld", "ipset", "iproute2", "iptables", "libpam-systemd", "nftables", "systemd", "systemd-sysv"}

// firewalldCommands configure the permanent firewall: services and ports in
// the default zone (public, where vh lands), a rate-limited rich rule, an
// IPv6 rich rule, a reject rich rule, an ipset of sources sent to the drop
// zone, a zone bound to a source range, and a policy on the host's output.
var firewalldCommands = [][]string{
	{"--add-service=http"},
	{"--add-port=5000-5010/udp"},
	{"--add-port=8443/tcp"},
	{`--add-rich-rule=rule family="ipv4" source address="10.200.0.128/26" port port="3306" protocol="tcp" accept limit value="30/m"`},
	{`--add-rich-rule=rule family="ipv6" source address="fd00:201::/120" port port="8080" protocol="tcp" accept`},
	{`--add-rich-rule=rule family="ipv4" port port="587" protocol="tcp" reject`},
	{"--new-ipset=blocked", "--type=hash:net"},
	{"--ipset=blocked", "--add-entry=10.201.0.0/24"},
	{"--zone=drop", "--add-source=ipset:blocked"},
	{"--zone=work", "--add-source=10.200.0.192/27"},
	{"--zone=work", "--add-port=9000/tcp"},
	{"--new-policy=egress"},
	{"--policy=egress", "--add-ingress-zone=HOST"},
	{"--policy=egress", "--add-egress-zone=ANY"},
	{"--policy=egress", `--add-rich-rule=rule port port="25" protocol="tcp" reject`},
}

// firewalldCase is one FirewallBackend, and for the iptables one the
// xtables backend the root's alternatives point at.
type firewalldCase struct{ backend, xtables string }

// runFirewalld boots the firewalld root with systemd, without a network of
// Docker's, joins the world to it by veth, configures firewalld with
// firewall-cmd --permanent and restarts it on the backend, then collects
// its namespace from outside and sends n first packets in and out.
func runFirewalld(t *testing.T, e *dockertest.Engine, img string, c firewalldCase, n int, seed int64) (v4, v6 agreement) {
	t.Helper()
	// Docker turns IPv6 off in the namespaces it makes; the probes need it.
	b := e.BootSystemd(t, img, "--network", "none", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW",
		"--sysctl", "net.ipv6.conf.all.disable_ipv6=0", "--sysctl", "net.ipv6.conf.default.disable_ipv6=0")
	pid, err := strconv.Atoi(e.Docker(t, "inspect", "-f", "{{.State.Pid}}", b.ID))
	if err != nil {
		t.Fatal(err)
	}
	host := nstest.Attach(t, pid)
	world := linkWorld(t, host)
	exec := func(args ...string) string {
		t.Helper()
		return e.Docker(t, append([]string{"exec", b.ID}, args...)...)
	}
	exec("sed", "-i", "s/^FirewallBackend=.*/FirewallBackend="+c.backend+"/", "/etc/firewalld/firewalld.conf")
	if c.xtables != "" {
		for _, tool := range []string{"iptables", "ip6tables"} {
			exec("update-alternatives", "--set", tool, "/usr/sbin/"+tool+"-"+c.xtables)
		}
	}
	waitFirewalld(t, b)
	for _, cmd := range firewalldCommands {
		exec(append([]string{"firewall-cmd", "--permanent"}, cmd...)...)
	}
	exec("systemctl", "restart", "firewalld")
	waitFirewalld(t, b)
	t.Logf("firewalld %s, FirewallBackend=%s %s", exec("firewall-cmd", "--version"), c.backend, c.xtables)

	var want, dump []string
	if c.backend == "nftables" {
		want, dump = []string{"table inet firewalld", "limit rate 30/minute", "@blocked"}, []string{"nft", "list", "ruleset"}
	} else {
		want, dump = []string{"-A INPUT_ZONES", "--match-set blocked src", "-m limit --limit 30/min"}, []string{"iptables-" + c.xtables + "-save"}
	}
	wrote := host.Run(t, dump[0], dump[1:]...)
	for _, w := range want {
		if !strings.Contains(wrote, w) {
			t.Fatalf("firewalld wrote no %q (%s):\n%s", w, strings.Join(dump, " "), wrote)
		}
	}

	prog := collectProgram(t, host)
	rec := &recorder{seen: map[string]bool{}}
	listenAll(t, world, commonPorts, rec)
	listenAll(t, host, commonPorts, rec)
	probes := firstPackets(prog, n, seed, commonPorts, host, world, nil)
	// One more, certain to reach the rate-limited rich rule: a fresh peer
	// of its source range to its port. The random ones reach it a few
	// times at most, within the limit's burst.
	used := map[netip.Addr]bool{}
	for _, p := range probes {
		used[p.src] = true
	}
	for a := netip.MustParseAddr("10.200.0.190"); ; a = a.Prev() {
		if !used[a] {
			p := &probe{dir: netfilter.Inbound, proto: "tcp", from: world, src: a, dst: hostAddr, sport: uint16(40000 + n), dport: 3306}
			p.sim = prog.Simulate(netfilter.Packet{Direction: p.dir, Protocol: p.proto, Src: p.src, Dst: p.dst, SrcPort: p.sport, DstPort: p.dport})
			probes = append(probes, p)
			break
		}
	}
	name := "firewalld " + c.backend
	if c.xtables != "" {
		name += "-" + c.xtables
	}
	v4, v6 = measure(t, name, probes, rec)
	// The probes reached the zones by source: the ipset sent to the drop
	// zone and the range bound to the work zone.
	blocked, work := netip.MustParsePrefix("10.201.0.0/24"), netip.MustParsePrefix("10.200.0.192/27")
	var nBlocked, nWork int
	for _, p := range probes {
		if p.dir == netfilter.Inbound && blocked.Contains(p.src) {
			nBlocked++
		}
		if p.dir == netfilter.Inbound && work.Contains(p.src) {
			nWork++
		}
	}
	if nBlocked == 0 || nWork == 0 {
		t.Errorf("inbound probes from the blocked ipset: %d, from the work zone: %d; want some of each", nBlocked, nWork)
	}
	if len(v4.wrong)+len(v6.wrong) > 0 {
		t.Logf("ruleset %s (%s):\n%s", name, strings.Join(dump, " "), host.Run(t, dump[0], dump[1:]...))
	}
	return v4, v6
}

// waitFirewalld waits until firewall-cmd --state says running.
func waitFirewalld(t *testing.T, b *dockertest.Booted) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s := b.Exec("firewall-cmd", "--state")
		if s == "running" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("firewalld not running within 2m (%q); failed units: %s\n%s", s, b.FailedUnits(), b.Exec("journalctl", "-u", "firewalld", "--no-pager", "-n", "30"))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestDifferentialFirewalld is the differential test on what Debian's
// firewalld writes, run by systemd with D-Bus in a container, on its
// nftables backend and on its iptables backend through both xtables.
func TestDifferentialFirewalld(t *testing.T) {
	nstest.RequireRoot(t)
	root := debroot.Cached(t, firewalldPackages...)
	e := dockertest.Start(t)
	const img = "hostdrift-test/firewalld:latest"
	e.Import(t, root, img)
	var results []agreement
	for i, c := range []firewalldCase{{"nftables", ""}, {"iptables", "nft"}, {"iptables", "legacy"}} {
		t.Run(c.backend+"_"+c.xtables, func(t *testing.T) {
			v4, v6 := runFirewalld(t, e, img, c, 640, int64(4000+i))
			rs := ruleset{name: "firewalld", v6: true, history: true}
			results = append(results, checkAgreement(t, rs, v4, v6)...)
		})
	}
	t.Log(agreementTable(results))
}
