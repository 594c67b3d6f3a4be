package watch

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/testkit/dockertest"
)

// TestDocker follows a real engine's events through a proxy the test can
// cut: a network is created, a container that publishes a port starts, the
// stream breaks and is reopened, and the container is removed.
func TestDocker(t *testing.T) {
	e := dockertest.Start(t)
	img := e.Busybox(t)
	p := newSocketProxy(t, e.Socket)
	ch := startSource(t, Options{DockerHost: "unix://" + p.path}, newDocker)

	e.Docker(t, "network", "create", "--label", dockertest.Label, "hdw-net")
	waitEvent(t, ch, "network created", about("docker", "network hdw-net create"))
	e.Docker(t, "run", "-d", "--name", "hdw-web", "--label", dockertest.Label, "--network", "hdw-net",
		"-p", "127.0.0.1:18080:80", img, "httpd", "-f", "-p", "80")
	ev, _ := waitEvent(t, ch, "container started", about("docker", "container hdw-web ("+img+") start"))
	for _, c := range []string{"docker", "listeners", "firewall"} {
		if !slices.Contains(ev.Collectors, c) {
			t.Errorf("event %+v does not name %s", ev, c)
		}
	}
	if ev.Source != "docker" {
		t.Errorf("source %q", ev.Source)
	}
	p.cut()
	waitEvent(t, ch, "the stream broke", about("docker", "broke"))
	waitEvent(t, ch, "the stream is back", about("docker", "is back"))
	e.Docker(t, "rm", "-f", "hdw-web")
	waitEvent(t, ch, "container destroyed", about("docker", "container hdw-web", "destroy"))
}

// TestDockerAbsent: no engine anywhere is no source and no error; an engine
// that does not answer is an error that says so.
func TestDockerAbsent(t *testing.T) {
	t.Setenv("DOCKER_HOST", "")
	opts := Options{}
	opts.Env.Root = t.TempDir()
	if s, err := newDocker(context.Background(), &opts); s.Source != nil || err != nil {
		t.Errorf("no Docker: %v, %v; want nothing", s, err)
	}
	opts.DockerHost = "unix://" + opts.Env.Root + "/nothing.sock"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := newDocker(ctx, &opts); err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Errorf("an engine that does not answer: %v", err)
	}
}

func TestDockerFilterLeavesOutExec(t *testing.T) {
	f := dockerFilter()
	if f["event"]["exec_start"] || !f["event"]["start"] || !f["type"]["network"] {
		t.Errorf("filter %v", f)
	}
}

// socketProxy forwards a unix socket to another, and can cut every
// connection it carries.
type socketProxy struct {
	path  string
	mu    sync.Mutex
	conns []net.Conn
}

func newSocketProxy(t *testing.T, target string) *socketProxy {
	p := &socketProxy{path: filepath.Join(t.TempDir(), "proxy.sock")}
	l, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); p.cut() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("unix", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	return p
}

func (p *socketProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
