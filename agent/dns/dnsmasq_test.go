package dns

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/nstest"
)

// startDnsmasq runs Debian's dnsmasq on ip and a free port, serving zone (a
// hosts-format file) for example.test plus the extra records given as
// dnsmasq options, and nothing else: no upstream, no /etc/hosts, no config
// file. It is killed when the test ends.
func startDnsmasq(t *testing.T, ip, zone string, records ...string) int {
	t.Helper()
	nstest.RequireCommand(t, "dnsmasq")
	dir := t.TempDir()
	zoneFile := filepath.Join(dir, "zone.hosts")
	if err := os.WriteFile(zoneFile, []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t, ip)
	args := append([]string{
		"--keep-in-foreground", "--conf-file=/dev/null", "--no-hosts", "--no-resolv", "--no-poll",
		"--addn-hosts=" + zoneFile, "--local=/example.test/", "--local-ttl=300",
		"--listen-address=" + ip, "--bind-interfaces", "--port=" + strconv.Itoa(port),
		"--pid-file=" + filepath.Join(dir, "dnsmasq.pid"), "--log-facility=-",
	}, records...)
	if os.Geteuid() == 0 {
		// As root dnsmasq drops to nobody, who cannot read the test's
		// private temp dir; stay who we are.
		args = append(args, "--user=root")
	}
	cmd := exec.Command("dnsmasq", args...)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dnsmasq: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	// Ready when it answers.
	addr := net.JoinHostPort(ip, strconv.Itoa(port))
	for deadline := time.Now().Add(5 * time.Second); ; {
		m := new(mdns.Msg)
		m.SetQuestion("ready.example.test.", mdns.TypeA)
		if _, _, err := (&mdns.Client{Timeout: 200 * time.Millisecond}).Exchange(m, addr); err == nil {
			return port
		}
		select {
		case err := <-exited:
			t.Fatalf("dnsmasq exited: %v\n%s", err, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dnsmasq does not answer on %s:\n%s", addr, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a port that is free on ip for both UDP and TCP now.
func freePort(t *testing.T, ip string) int {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		pc.Close()
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatalf("no free port on %s", ip)
	return 0
}

// The same classes against a real resolver daemon: dnsmasq serving a zone
// from a hosts-format file, with an alias chain and an IPv6-only name.
func TestDnsmasq(t *testing.T) {
	t.Parallel()
	const ip = "127.0.0.63"
	port := startDnsmasq(t, ip,
		"198.51.100.7 www.example.test\n2001:db8::7 www.example.test\n203.0.113.10 stale.example.test\n",
		"--cname=alias.example.test,lb.example.test", "--cname=lb.example.test,www.example.test",
		"--host-record=v6only.example.test,2001:db8::99")
	root := fixtureRoot(t, "nameserver "+ip+"\noptions timeout:1 attempts:2\n", "127.0.0.1 localhost\n10.9.9.9 www.example.test\n")
	policy := `
dns "www"   {
  name   = "www.example.test"
  type   = ["A", "AAAA"]
  expect = host.addresses
}
dns "stale" {
  name   = "stale.example.test"
  server = "` + ip + `:` + strconv.Itoa(port) + `"
  expect = host.addresses
}
dns "nx" {
  name   = "gone.example.test"
}
dns "cname" {
  name   = "alias.example.test"
  expect = host.ipv4
}
dns "v6only-a" {
  name = "v6only.example.test"
}
dns "v6only" {
  name   = "v6only.example.test"
  type   = "AAAA"
  expect = ["2001:db8::99"]
}
hosts_entry "shadow" {
  name = "www.example.test"
}
`
	fs := judge(t, policy, root, port, testHost(), nil)
	by := fmt.Sprintf("%s:%d", ip, port)
	expectFinding(t, fs, "dns.www", finding.Pass,
		"www.example.test A 198.51.100.7 (answered by "+by+", TTL 300) and www.example.test AAAA 2001:db8::7 (answered by "+by+", TTL 300); note: /etc/hosts line 2 pins www.example.test to 10.9.9.9, so programs on this host get that address instead")
	expectFinding(t, fs, "dns.stale", finding.Fail,
		"stale.example.test A 203.0.113.10 (answered by "+by+", TTL 300) is not an address of this host; this host has 198.51.100.7 (eth0), 2001:db8::7 (eth0) and 10.0.0.5 (eth1)")
	expectFinding(t, fs, "dns.nx", finding.Fail, "gone.example.test does not exist: NXDOMAIN from "+by)
	expectFinding(t, fs, "dns.cname", finding.Pass,
		"alias.example.test → lb.example.test → www.example.test A 198.51.100.7 (answered by "+by+", TTL 300)")
	expectFinding(t, fs, "dns.v6only-a", finding.Fail, "v6only.example.test has no A record (NOERROR, no data, answered by "+by+")")
	expectFinding(t, fs, "dns.v6only", finding.Pass, "v6only.example.test AAAA 2001:db8::99 (answered by "+by+", TTL 300)")
	expectFinding(t, fs, "hosts_entry.shadow", finding.Fail,
		"/etc/hosts line 2 pins www.example.test to 10.9.9.9, but DNS answers www.example.test A 198.51.100.7 (answered by "+by+", TTL 300): programs on this host reach 10.9.9.9, every other machine the address DNS gives")
}
