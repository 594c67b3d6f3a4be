package docker

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/dockertest"
)

// TestAbsent: no DOCKER_HOST, no socket, no dockerd below the root is not an
// error: Docker is not installed.
func TestAbsent(t *testing.T) {
	sec, err := (&Collector{}).Collect(context.Background(), &agent.Env{Root: t.TempDir()})
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	d := sec.(*snapshot.Docker)
	if d.Engine != nil || !strings.Contains(d.Absent, "no Docker engine on this host") {
		t.Errorf("section = %+v, want absent", d)
	}
}

// installedRoot is a fixture root with a dockerd binary and the given
// symlinks below /etc/systemd/system (name -> target), as systemctl enable
// and mask leave them.
func installedRoot(t *testing.T, links map[string]string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "usr/sbin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/sbin/dockerd"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range links {
		p := filepath.Join(root, "etc/systemd/system", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestInstalledNotRunning: a dockerd binary without its socket is Docker not
// in use when docker.service and docker.socket are disabled (or masked), and
// an error naming the unit when one is enabled, read from the enablement
// symlinks below the root.
func TestInstalledNotRunning(t *testing.T) {
	const service = "/lib/systemd/system/docker.service"
	for _, c := range []struct {
		name      string
		links     map[string]string
		stale     bool
		nosystemd bool // the root's init is not systemd: no /run/systemd/system
		absent    string
		errWant   string
	}{
		{name: "disabled", absent: "Docker is installed but not in use: docker.service and docker.socket are disabled and not running (dockerd at "},
		{name: "disabled, stale socket", stale: true, absent: "accepts no connections (a stale socket)"},
		{name: "masked", links: map[string]string{"docker.service": "/dev/null", "multi-user.target.wants/docker.service": service},
			absent: "Docker is installed but not in use"},
		{name: "service enabled", links: map[string]string{"multi-user.target.wants/docker.service": service},
			errWant: "docker.service is enabled but not running (the socket "},
		{name: "socket enabled", links: map[string]string{"sockets.target.wants/docker.socket": "/lib/systemd/system/docker.socket"},
			errWant: "docker.socket is enabled but not running"},
		{name: "enabled, systemd not running", nosystemd: true, links: map[string]string{"multi-user.target.wants/docker.service": service},
			absent: "docker.service enabled, but systemd is not running here (no /run/systemd/system), so nothing starts it"},
		{name: "both enabled, stale socket", stale: true, links: map[string]string{"multi-user.target.wants/docker.service": service, "sockets.target.wants/docker.socket": "/lib/systemd/system/docker.socket"},
			errWant: "docker.service and docker.socket are enabled but not running (the socket "},
	} {
		root := installedRoot(t, c.links)
		if !c.nosystemd {
			if err := os.MkdirAll(filepath.Join(root, "run/systemd/system"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if c.stale {
			sock := filepath.Join(root, DefaultSocket)
			os.MkdirAll(filepath.Dir(sock), 0o755)
			l, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			l.(*net.UnixListener).SetUnlinkOnClose(false)
			l.Close()
		}
		sec, err := (&Collector{}).Collect(context.Background(), &agent.Env{Root: root})
		switch {
		case c.errWant != "":
			if err == nil || !strings.Contains(err.Error(), c.errWant) || !strings.Contains(err.Error(), "systemctl start docker") {
				t.Errorf("%s: err = %v, want %q", c.name, err, c.errWant)
			}
		case err != nil:
			t.Errorf("%s: err = %v, want Docker not in use", c.name, err)
		default:
			if d := sec.(*snapshot.Docker); d.Engine != nil || !strings.Contains(d.Absent, c.absent) || d.Installed != filepath.Join(root, "usr/sbin/dockerd") {
				t.Errorf("%s: section %+v, want absent with %q", c.name, d, c.absent)
			}
		}
	}
}

// TestBadSockets: a missing socket, a stale one, and one that accepts and
// never answers are errors that say which, within the deadline.
func TestBadSockets(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	silent := filepath.Join(dir, "silent.sock")
	sl, err := net.Listen("unix", silent)
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	go func() {
		var held []net.Conn // accept and never answer
		for {
			c, err := sl.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	for _, c := range []struct{ host, want string }{
		{"unix://" + filepath.Join(dir, "missing.sock"), "no Docker socket at"},
		{"unix://" + stale, "nothing accepts connections"},
		{"unix://" + silent, "accepted the connection but did not answer"},
	} {
		t.Run(filepath.Base(c.host), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			start := time.Now()
			_, err := (&Collector{Host: c.host}).Collect(ctx, &agent.Env{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %s, past the 2s deadline", d)
			}
		})
	}
}

// TestRealEngine collects a real Docker 20.10 engine's networks and
// containers: a bridge network with a named bridge, one internal network,
// a running container publishing on loopback and on every address, and a
// created one that publishes but never ran.
func TestRealEngine(t *testing.T) {
	e := dockertest.Start(t)
	img := e.Busybox(t)
	e.Docker(t, "network", "create", "--label", dockertest.Label, "--label", "team=web", "--subnet", "10.97.0.0/24", "--gateway", "10.97.0.1",
		"-o", "com.docker.network.bridge.name=hdt-app0", "hdt-app")
	e.Docker(t, "network", "create", "--label", dockertest.Label, "--internal", "--subnet", "10.97.1.0/24", "hdt-internal")
	e.Docker(t, "run", "-d", "--name", "hdt-web", "--label", dockertest.Label, "--network", "hdt-app",
		"-p", "127.0.0.1:8080:80", "-p", "0.0.0.0:8443:443/tcp", "-p", "5353:53/udp", img, "sleep", "600")
	e.Docker(t, "create", "--name", "hdt-idle", "--label", dockertest.Label, "--network", "hdt-internal", "-p", "9090:90", img, "sleep", "600")

	sec, err := (&Collector{Host: e.Host}).Collect(context.Background(), &agent.Env{})
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	d := sec.(*snapshot.Docker)
	if d.Engine == nil || !strings.HasPrefix(d.Engine.Version, "20.10") || d.Engine.APIVersion != "1.41" {
		t.Errorf("engine = %+v, want Docker 20.10 at API 1.41 (negotiated down)", d.Engine)
	}
	app := d.Network("hdt-app")
	if app == nil {
		t.Fatalf("network hdt-app missing: %+v", d.Networks)
	}
	if app.Driver != "bridge" || app.Scope != "local" || app.Internal || app.Bridge != "hdt-app0" || app.Labels["team"] != "web" || len(app.ID) != 64 ||
		len(app.Subnets) != 1 || app.Subnets[0].Subnet != netip.MustParsePrefix("10.97.0.0/24") || app.Subnets[0].Gateway != netip.MustParseAddr("10.97.0.1") ||
		app.Options[bridgeNameOption] != "hdt-app0" {
		t.Errorf("hdt-app = %+v", app)
	}
	internal := d.Network("hdt-internal")
	if internal == nil || !internal.Internal || internal.Bridge != "br-"+internal.ID[:12] {
		t.Errorf("hdt-internal = %+v, want internal with bridge br-<id12>", internal)
	}
	if def := d.Network("bridge"); def == nil || def.Bridge != "docker0" {
		t.Errorf("default network = %+v, want bridge docker0", def)
	}
	web := d.Container("hdt-web")
	if web == nil {
		t.Fatalf("container hdt-web missing: %+v", d.Containers)
	}
	if web.State != "running" || web.Image != img || web.NetworkMode != "hdt-app" || len(web.ID) != 64 ||
		len(web.Networks) != 1 || web.Networks[0].Network != "hdt-app" || !netip.MustParsePrefix("10.97.0.0/24").Contains(web.Networks[0].IPv4) {
		t.Errorf("hdt-web = %+v", web)
	}
	want := map[string]bool{"127.0.0.1:8080 -> 80/tcp": false, "0.0.0.0:8443 -> 443/tcp": false, "0.0.0.0:5353 -> 53/udp": false}
	for _, p := range web.Ports {
		if _, ok := want[p.String()]; ok {
			want[p.String()] = true
		}
	}
	for p, seen := range want {
		if !seen {
			t.Errorf("hdt-web does not publish %s: %v", p, web.Ports)
		}
	}
	idle := d.Container("hdt-idle")
	if idle == nil || idle.State != "created" || idle.Running() || len(idle.Ports) != 1 || idle.Ports[0].String() != "0.0.0.0:9090 -> 90/tcp" {
		t.Errorf("hdt-idle = %+v, want created, publishing 0.0.0.0:9090 -> 90/tcp", idle)
	}
}
