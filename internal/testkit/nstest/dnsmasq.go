package nstest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	mdns "github.com/miekg/dns"
)

// DNSServer is a running dnsmasq.
type DNSServer struct {
	Port int
	// Addr is the server's ip:port.
	Addr     string
	zoneFile string
	cmd      *exec.Cmd
}

// SetZone replaces the served hosts-format zone and tells dnsmasq to reread
// it (SIGHUP). Answers change once dnsmasq has handled the signal: poll.
func (s *DNSServer) SetZone(t TB, zone string) {
	t.Helper()
	if err := os.WriteFile(s.zoneFile, []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("reload dnsmasq: %v", err)
	}
}

// Dnsmasq runs Debian's dnsmasq on ip and a free port, serving zone (a
// hosts-format file) for example.test plus the extra records given as
// dnsmasq options, and nothing else: no upstream, no /etc/hosts, no config
// file. It is killed when the test ends.
//
// (It runs in the test's own network namespace: hostdrift's DNS collector
// asks from its own, whatever --netns says.)
func Dnsmasq(t TB, ip, zone string, records ...string) *DNSServer {
	t.Helper()
	RequireCommand(t, "dnsmasq")
	dir := t.TempDir()
	zoneFile := filepath.Join(dir, "zone.hosts")
	if err := os.WriteFile(zoneFile, []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t, ip)
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
			return &DNSServer{Port: port, Addr: addr, zoneFile: zoneFile, cmd: cmd}
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

// FreePort returns a port that is free on ip for both UDP and TCP now.
func FreePort(t TB, ip string) int {
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
