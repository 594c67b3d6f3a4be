package main

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/dockertest"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// hostAddr is the address the Docker tests give their namespace's uplink.
const hostAddr = "198.51.100.7"

// dockerHost starts an engine whose namespace has an uplink, eth0 with
// 198.51.100.7/24 and a default route, so that nat OUTPUT's DNAT applies to
// connections to a host address; its peer, ext, is left in the namespace
// for the test to move elsewhere or to bring up.
func dockerHost(t *testing.T) (*dockertest.Engine, string) {
	t.Helper()
	e := dockertest.Start(t)
	img := e.Busybox(t)
	ns := e.NS
	ns.Run(t, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "ext")
	ns.Run(t, "ip", "addr", "add", hostAddr+"/24", "dev", "eth0")
	ns.Run(t, "ip", "link", "set", "eth0", "up")
	return e, img
}

// runWeb runs container web, busybox httpd on port 80 published on every
// address as 8080, and waits until it answers through the published port.
func runWeb(t *testing.T, e *dockertest.Engine, img string) {
	t.Helper()
	e.Docker(t, "run", "-d", "--name", "web", "--label", dockertest.Label, "-p", "8080:80", img, "httpd", "-f", "-p", "80", "-h", "/var/www")
	deadline := time.Now().Add(20 * time.Second)
	for !fetches(t, e.NS, "127.0.0.1:8080") {
		if time.Now().After(deadline) {
			t.Fatal("container web does not answer on 127.0.0.1:8080")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// fetches reports whether an HTTP GET from inside the namespace gets the
// test page within 2 s. (Debian's static busybox wget crashes on lookups,
// so the request is made here, from a thread moved into the namespace.)
func fetches(t *testing.T, ns *nstest.NS, hostport string) bool {
	t.Helper()
	var page []byte
	ns.Do(t, func() {
		c, err := net.DialTimeout("tcp", hostport, 2*time.Second)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("GET / HTTP/1.0\r\n\r\n")); err != nil {
			return
		}
		page, _ = io.ReadAll(c)
	})
	return strings.Contains(string(page), "hostdrift test")
}

// checkDocker runs the binary against the engine's namespace and socket.
func checkDocker(t *testing.T, e *dockertest.Engine, policy string, extra ...string) (*report.Report, int) {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"check", "--policy", policyFile(t, policy), "--format", "json", "--netns", e.NS.Path()}, extra...)...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+e.Host)
	return runJSON(t, cmd)
}

const reachPolicy = `
reach "host-address" {
  to = "198.51.100.7:8080"
}
reach "loopback" {
  to = "127.0.0.1:8080"
}
reach "container" {
  container = "web"
  port      = 80
}
published_port "web" {
  container = "web"
  port      = 8080
}
docker_network "bridge" {
  name   = "bridge"
  driver = "bridge"
  subnet = "172.17.0.0/16"
}
`

// TestDockerReach is the incident: an OUTPUT rule that drops traffic to the
// container subnet makes the host's own connections to a published port
// hang. reach fails and names the DNAT (to a host address) or docker-proxy
// (to loopback) and the dropping rule; it passes once the rule is gone;
// real connections from the namespace agree each time.
func TestDockerReach(t *testing.T) {
	e, img := dockerHost(t)
	runWeb(t, e, img)
	dropRule := []string{"OUTPUT", "-d", "172.17.0.0/16", "-j", "DROP"}

	steps := []struct {
		name   string
		before func()
		code   int
		status string
	}{
		{"open", func() {}, exitOK, "pass"},
		{"dropped", func() { e.NS.Run(t, "iptables", append([]string{"-I"}, dropRule...)...) }, exitDrift, "fail"},
		{"reopened", func() { e.NS.Run(t, "iptables", append([]string{"-D"}, dropRule...)...) }, exitOK, "pass"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.before()
			r, code := checkDocker(t, e, reachPolicy)
			got := findingsByCheck(r)
			if code != st.code {
				t.Errorf("exit %d, want %d: %v", code, st.code, got)
			}
			for _, c := range []string{"reach.host-address", "reach.loopback", "reach.container"} {
				if !strings.HasPrefix(got[c], st.status+": ") {
					t.Errorf("%s = %q, want %s", c, got[c], st.status)
				}
			}
			for _, c := range []string{"published_port.web", "docker_network.bridge"} {
				if !strings.HasPrefix(got[c], "pass: ") {
					t.Errorf("%s = %q, want pass", c, got[c])
				}
			}
			if !strings.Contains(got["reach.host-address"], `Docker's DNAT rule "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80"`) {
				t.Errorf("host-address does not name the DNAT: %s", got["reach.host-address"])
			}
			if !strings.Contains(got["reach.loopback"], "docker-proxy (pid ") || !strings.Contains(got["reach.loopback"], "second connection from the host to 172.17.0.2:80 (container web)") {
				t.Errorf("loopback does not name docker-proxy's connection: %s", got["reach.loopback"])
			}
			if st.status == "fail" {
				for _, c := range []string{"reach.host-address", "reach.loopback", "reach.container"} {
					if !strings.Contains(got[c], `dropped: rule "-A OUTPUT -d 172.17.0.0/16 -j DROP" in chain OUTPUT`) {
						t.Errorf("%s does not name the dropping rule: %s", c, got[c])
					}
				}
			}
			// explain follows docker-proxy's second connection as reach
			// does, and gives a hint only for a denied packet.
			cmd := exec.Command(binary(t), "explain", "out", "tcp", "8080", "--to", "127.0.0.1", "--netns", e.NS.Path())
			cmd.Env = append(os.Environ(), "DOCKER_HOST="+e.Host)
			out, code := runBinary(t, cmd)
			wantVerdict, wantCode := "ALLOW", exitOK
			if st.status == "fail" {
				wantVerdict, wantCode = "DENY", exitDrift
			}
			if code != wantCode || !strings.Contains(out, "to 127.0.0.1:8080: "+wantVerdict+"\n") ||
				!strings.Contains(out, "second connection from the host to 172.17.0.2:80 (container web)") ||
				!strings.Contains(out, "Path of docker-proxy's connection, outbound tcp from ") {
				t.Errorf("explain out tcp 8080 --to 127.0.0.1: exit %d, want %d and %s through docker-proxy:\n%s", code, wantCode, wantVerdict, out)
			}
			if st.status == "fail" && !strings.Contains(out, `docker-proxy's connection: outbound tcp to 172.17.0.2:80 is dropped: rule "-A OUTPUT -d 172.17.0.0/16 -j DROP" in chain OUTPUT`) {
				t.Errorf("explain does not name the rule that drops docker-proxy's connection:\n%s", out)
			}
			if st.status == "pass" && strings.Contains(out, "Managed by") {
				t.Errorf("explain gives a hint for an allowed packet:\n%s", out)
			}
			open := st.status == "pass"
			for _, target := range []string{hostAddr + ":8080", "127.0.0.1:8080", "172.17.0.2:80"} {
				if fetches(t, e.NS, target) != open {
					t.Errorf("real GET of %s: got through = %t, hostdrift says %s", target, !open, st.status)
				}
			}
		})
	}
}

// TestDockerUFWBypass: with UFW denying everything but SSH, a port
// published on every address is still reached from another machine, and
// hostdrift says so in plain words.
func TestDockerUFWBypass(t *testing.T) {
	e, img := dockerHost(t)
	outside := nstest.New(t)
	e.NS.Run(t, "ip", "link", "set", "ext", "netns", outside.Name)
	outside.Run(t, "ip", "addr", "add", "198.51.100.1/24", "dev", "ext")
	outside.Run(t, "ip", "link", "set", "ext", "up")
	e.NS.Run(t, "ip", "route", "add", "default", "via", "198.51.100.1")
	runWeb(t, e, img)
	e.NS.UFW(t, "default deny incoming", "allow 22/tcp")

	r, code := checkDocker(t, e, `docker_firewall_bypass "published" {}
docker_stopped_ports "stopped" {}
docker_subnet_overlap "subnets" {}
`)
	got := findingsByCheck(r)
	if code != exitDrift {
		t.Errorf("exit %d, want 1: %v", code, got)
	}
	want := "fail: port 8080 of container web is reachable from anywhere: Docker's DNAT sends it through FORWARD, around UFW's input rules"
	if !strings.HasPrefix(got["docker_firewall_bypass.published"], want) {
		t.Errorf("bypass = %q\nwant prefix %q", got["docker_firewall_bypass.published"], want)
	}
	for _, c := range []string{"docker_stopped_ports.stopped", "docker_subnet_overlap.subnets"} {
		if !strings.HasPrefix(got[c], "pass: ") {
			t.Errorf("%s = %q, want pass", c, got[c])
		}
	}
	if !fetches(t, outside, hostAddr+":8080") {
		t.Error("another machine does not reach the published port through UFW: the finding would be wrong")
	}
	// A port the host itself serves is stopped by UFW, as the operator expects.
	e.NS.Listen(t, "tcp4:0.0.0.0:9090")
	outside.Do(t, func() {
		if c, err := net.DialTimeout("tcp", hostAddr+":9090", 2*time.Second); err == nil {
			c.Close()
			t.Error("UFW lets 9090 in too: the test setup is wrong")
		}
	})
}

// TestDockerUnreachable: a missing socket, one the user may not open, and
// one that accepts and never answers end within the collector deadline;
// the Docker checks are errors naming the cause, and the exit code is 3.
func TestDockerUnreachable(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "setpriv")
	bin := binary(t)
	dir, err := os.MkdirTemp(nstest.Dir(t), "docker-sock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	silent := listenSilently(t, filepath.Join(dir, "silent.sock"))
	private := listenSilently(t, filepath.Join(dir, "private.sock"))
	if err := os.Chmod(private, 0o600); err != nil {
		t.Fatal(err)
	}
	policy := policyFile(t, `docker_network "bridge" { name = "bridge" }
docker_firewall_bypass "published" {}
`)
	const timeout = 2 * time.Second
	for _, c := range []struct {
		name, socket, want string
		asNobody           bool
	}{
		{"missing", filepath.Join(dir, "missing.sock"), "no Docker socket at " + filepath.Join(dir, "missing.sock"), false},
		{"permission", private, "permission denied on the Docker socket " + private + ": run hostdrift as root", true},
		{"silent", silent, "accepted the connection but did not answer within", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{bin, "check", "--policy", policy, "--format", "json", "--collector-timeout", timeout.String()}
			if c.asNobody {
				args = append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--"}, args...)
			}
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+c.socket)
			start := time.Now()
			r, code := runJSON(t, cmd)
			if took := time.Since(start); took > timeout+3*time.Second {
				t.Errorf("took %s with a %s collector deadline", took, timeout)
			}
			if code != exitIncomplete {
				t.Errorf("exit %d, want 3", code)
			}
			var st snapshot.CollectorStatus
			for _, s := range r.Collectors {
				if s.Name == "docker" {
					st = s
				}
			}
			if st.Status != snapshot.StatusError || !strings.Contains(st.Reason, c.want) {
				t.Errorf("docker collector = %+v, want error with %q", st, c.want)
			}
			for check, f := range findingsByCheck(r) {
				if !strings.HasPrefix(f, "error: cannot evaluate: the docker collector failed: ") {
					t.Errorf("%s = %q, want an error naming the collector", check, f)
				}
			}
		})
	}
}

// listenSilently makes a unix socket that accepts connections and never
// answers, and returns its path.
func listenSilently(t *testing.T, path string) string {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	return path
}

// TestDockerAbsent: on a host without Docker, the default policy's Docker
// checks are skipped (they do not apply, and are never a pass) and a check
// that names a Docker network fails, saying why.
func TestDockerAbsent(t *testing.T) {
	nstest.RequireRoot(t) // the firewall collector reads the rules
	bin := binary(t)
	root := t.TempDir()
	policy := policyFile(t, `docker_network "app" { name = "appnet" }
docker_firewall_bypass "published" {}
docker_subnet_overlap "subnets" {}
docker_stopped_ports "stopped" {}
`)
	cmd := exec.Command(bin, "check", "--policy", policy, "--format", "json", "--root", root)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOCKER_HOST=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	r, code := runJSON(t, cmd)
	if code != exitDrift {
		t.Errorf("exit %d, want 1", code)
	}
	got := findingsByCheck(r)
	if !strings.HasPrefix(got["docker_network.app"], "fail: no Docker engine on this host") {
		t.Errorf("docker_network = %q", got["docker_network.app"])
	}
	for _, c := range []string{"docker_firewall_bypass.published", "docker_subnet_overlap.subnets", "docker_stopped_ports.stopped"} {
		if !strings.HasPrefix(got[c], "skip: no Docker engine on this host: ") {
			t.Errorf("%s = %q", c, got[c])
		}
	}
}

// TestDockerInstalledNotInUse: dockerd installed, docker.service and
// docker.socket disabled and not running (a fixture root): Docker is not in
// use, the default policy's Docker checks are skipped with that reason and
// the run is not incomplete. Enabled where systemd is not the init, it is
// still not in use. Once docker.service is enabled under a running systemd
// and still not running, that is a real finding: errors naming it.
func TestDockerInstalledNotInUse(t *testing.T) {
	nstest.RequireRoot(t) // the firewall collector reads the rules
	bin := binary(t)
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "usr/bin/dockerd"), "")
	policy := policyFile(t, `docker_firewall_bypass "published" {}
docker_subnet_overlap "subnets" {}
docker_stopped_ports "stopped" {}
`)
	check := func() (*report.Report, int) {
		cmd := exec.Command(bin, "check", "--policy", policy, "--format", "json", "--root", root)
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "DOCKER_HOST=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		return runJSON(t, cmd)
	}
	r, code := check()
	if code != exitOK {
		t.Errorf("disabled: exit %d, want 0", code)
	}
	for c, got := range findingsByCheck(r) {
		if !strings.HasPrefix(got, "skip: Docker is installed but not in use: docker.service and docker.socket are disabled and not running") {
			t.Errorf("disabled: %s = %q", c, got)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "etc/systemd/system/multi-user.target.wants"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/lib/systemd/system/docker.service", filepath.Join(root, "etc/systemd/system/multi-user.target.wants/docker.service")); err != nil {
		t.Fatal(err)
	}
	// Enabled where systemd is not the init (a container): nothing starts it.
	r, code = check()
	if code != exitOK {
		t.Errorf("enabled without systemd: exit %d, want 0", code)
	}
	for c, got := range findingsByCheck(r) {
		if !strings.HasPrefix(got, "skip: ") || !strings.Contains(got, "systemd is not running here") {
			t.Errorf("enabled without systemd: %s = %q", c, got)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "run/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	r, code = check()
	if code != exitIncomplete {
		t.Errorf("enabled: exit %d, want 3", code)
	}
	for c, got := range findingsByCheck(r) {
		if !strings.HasPrefix(got, "error: ") || !strings.Contains(got, "docker.service is enabled but not running") {
			t.Errorf("enabled: %s = %q", c, got)
		}
	}
}

// TestDockerPolicyInitAndDrift: policy init writes the engine's networks and
// published ports and a check right after passes; a network created after
// the baseline is drift, by name, and nothing else is.
func TestDockerPolicyInitAndDrift(t *testing.T) {
	e, img := dockerHost(t)
	e.Docker(t, "network", "create", "--label", dockertest.Label, "--subnet", "10.99.0.0/24", "appnet")
	runWeb(t, e, img)
	withEngine := func(args ...string) *exec.Cmd {
		cmd := exec.Command(binary(t), append(args, "--netns", e.NS.Path())...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+e.Host)
		return cmd
	}
	dir := t.TempDir()
	policy := filepath.Join(dir, "init.hcl")
	if _, stderr, code := runCapture(t, withEngine("policy", "init", "--area", "docker", "--output", policy)); code != 0 {
		t.Fatalf("policy init: exit %d: %s", code, stderr)
	}
	text, _ := os.ReadFile(policy)
	for _, want := range []string{`docker_network "net-appnet"`, `subnet   = "10.99.0.0/24"`, `published_port "web-tcp-8080"`} {
		if !strings.Contains(string(text), want) {
			t.Errorf("policy init lacks %q:\n%s", want, text)
		}
	}
	if stdout, stderr, code := runCapture(t, withEngine("check", "--policy", policy)); code != 0 {
		t.Errorf("check right after policy init: exit %d\n%s%s", code, stdout, stderr)
	}
	base := filepath.Join(dir, "base.json")
	if _, stderr, code := runCapture(t, withEngine("snapshot", "--collectors", "docker", "--output", base)); code != 0 {
		t.Fatalf("snapshot: exit %d: %s", code, stderr)
	}
	e.Docker(t, "network", "create", "--label", dockertest.Label, "--subnet", "10.98.0.0/24", "late")
	rep, _ := runJSON(t, withEngine("check", "--policy", policy, "--baseline", base, "--format", "json"))
	var drift []string
	for _, f := range rep.Findings {
		if f.Kind == "drift" {
			drift = append(drift, f.Check+" "+string(f.Status))
		}
	}
	if len(drift) != 1 || drift[0] != "drift.docker.network:late fail" {
		t.Errorf("drift after creating network late: %v, want exactly the new network", drift)
	}
}
