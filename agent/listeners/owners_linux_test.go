package listeners

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
)

// fixture writes files and symlinks (targets prefixed "->") below dir.
func fixture(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(content, "->"); ok {
			err = os.Symlink(target, p)
		} else {
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

const dockerID = "3f5e1c0b2a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f"

// procFixture is a host with nginx (pid 1) on two sockets, a container app
// (pid 22) with a password on its command line, and a socket nobody holds.
func procFixture(t *testing.T) string {
	root := t.TempDir()
	fixture(t, root, map[string]string{
		"proc/sys/net/ipv6/bindv6only": "1\n",
		"proc/net/tcp":                 procTCP,
		"proc/net/tcp6":                procTCP6,
		"proc/net/udp":                 procUDP,
		// no udp6: a kernel without IPv6 UDP support is fine
		"proc/1/comm":    "nginx\n",
		"proc/1/cmdline": "nginx: master process /usr/sbin/nginx -g daemon on;\x00",
		"proc/1/cgroup":  "0::/system.slice/nginx.service\n",
		"proc/1/fd/0":    "->/dev/null",
		"proc/1/fd/6":    "->socket:[1065]",
		"proc/1/fd/7":    "->socket:[7001]",
		"proc/1/fd/8":    "->pipe:[55]",
		"proc/22/comm":   "app\n",
		"proc/22/cmdline": "/app/bin/app\x00--db-password\x00s3cret\x00" +
			"--dsn=postgres://app:pw@db/app\x00",
		"proc/22/cgroup": "0::/system.slice/docker-" + dockerID + ".scope\n",
		"proc/22/fd/3":   "->socket:[52311]",
		"proc/22/fd/4":   "->socket:[7002]",
		"proc/22/fd/5":   "->socket:[7003]",
		"proc/22/fd/9":   "->socket:[8001]",
		"proc/22/fd/10":  "->socket:[8003]",
		"proc/44/comm":   "gone\n", // no fd directory: exited
		"proc/self":      "->1",
		"proc/version":   "Linux",
	})
	return root
}

func TestCollectProcfsFixture(t *testing.T) {
	requireLittleEndian(t)
	root := procFixture(t)
	sec, err := (&Collector{Source: SourceProcfs}).Collect(context.Background(), &agent.Env{Root: root})
	var partial *agent.PartialError
	if !errors.As(err, &partial) {
		t.Fatalf("err = %v, want a Partial error", err)
	}
	for _, want := range []string{"procfs was asked for", "backlog", "v6only=true"} {
		if !strings.Contains(partial.Reason, want) {
			t.Errorf("partial reason %q lacks %q", partial.Reason, want)
		}
	}
	l := sec.(*snapshot.Listeners)
	if l.Source != SourceProcfs || !l.BindV6Only {
		t.Errorf("Source %q BindV6Only %v, want procfs and true", l.Source, l.BindV6Only)
	}
	type row struct {
		proto string
		addr  string
		port  uint16
		pid   int
		v6    bool
	}
	want := []row{
		{"tcp", "0.0.0.0", 2024, 1, false},
		{"tcp", "127.0.0.1", 7000, 22, false},
		{"tcp", "::", 9000, 1, true},
		{"tcp", "::1", 8443, 22, true},
		{"tcp", "::ffff:127.0.0.1", 22, 22, true},
		{"tcp", "fe80::5254:ff:ab34:12", 80, 0, true},
		{"udp", "0.0.0.0", 68, 22, false},
		{"udp", "127.0.0.1", 5353, 22, false},
	}
	if len(l.Sockets) != len(want) {
		t.Fatalf("got %d sockets, want %d: %+v", len(l.Sockets), len(want), l.Sockets)
	}
	for i, w := range want {
		s := l.Sockets[i]
		pid := 0
		if s.Process != nil {
			pid = s.Process.PID
		}
		if s.Protocol != w.proto || s.Address != netip.MustParseAddr(w.addr) || s.Port != w.port || pid != w.pid || s.V6Only != w.v6 {
			t.Errorf("socket %d = %s %s:%d pid %d v6only %v, want %+v", i, s.Protocol, s.Address, s.Port, pid, s.V6Only, w)
		}
	}
	if l.Unowned != 1 || !strings.Contains(l.OwnerError, "no process") {
		t.Errorf("Unowned %d OwnerError %q, want 1 and no process", l.Unowned, l.OwnerError)
	}
	nginx := l.Sockets[0].Process
	if nginx.Name != "nginx" || nginx.Unit != "nginx.service" || nginx.ContainerID != "" ||
		nginx.Cmdline != "nginx: master process /usr/sbin/nginx -g daemon on;" {
		t.Errorf("nginx = %+v", nginx)
	}
	app := l.Sockets[1].Process
	if app.Name != "app" || app.ContainerID != dockerID || app.Unit != "docker-"+dockerID+".scope" {
		t.Errorf("app = %+v", app)
	}
	if app.Cmdline != "/app/bin/app --db-password REDACTED --dsn=postgres://app:REDACTED@db/app" {
		t.Errorf("app cmdline not redacted: %q", app.Cmdline)
	}
	if l.Sockets[1].Process == l.Sockets[3].Process {
		t.Errorf("sockets share one *Process: a change to one would change the other")
	}
}

func TestFindOwners(t *testing.T) {
	root := t.TempDir()
	fixture(t, root, map[string]string{
		"proc/100/fd/3": "->socket:[10]", // a worker sharing its parent's socket
		"proc/9/fd/3":   "->socket:[10]",
		"proc/9/fd/4":   "->socket:[11]",
		"proc/12/fd/1":  "->socket:[99]", // not wanted
		"proc/13/fd":    "->/nonexistent",
		"proc/abc/fd/1": "->socket:[11]",
	})
	proc := hostfs.New(root)
	scan, err := findOwners(context.Background(), proc, map[uint64]struct{}{10: {}, 11: {}, 12: {}})
	if err != nil {
		t.Fatal(err)
	}
	if len(scan.pids) != 2 || scan.pids[10] != 9 || scan.pids[11] != 9 || scan.denied != 0 {
		t.Errorf("scan = %+v, want sockets 10 and 11 owned by pid 9 (the lowest), nothing denied", scan)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := findOwners(ctx, proc, map[uint64]struct{}{10: {}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled walk: err = %v, want context.Canceled", err)
	}
	if _, err := findOwners(context.Background(), hostfs.New(filepath.Join(root, "nope")), map[uint64]struct{}{10: {}}); err == nil {
		t.Errorf("missing proc root: want an error")
	}
}

func TestSocketInode(t *testing.T) {
	tests := []struct {
		link  string
		inode uint64
		ok    bool
	}{
		{"socket:[12345]", 12345, true},
		{"socket:[0]", 0, true},
		{"socket:[]", 0, false},
		{"socket:[12a]", 0, false},
		{"socket:[123", 0, false},
		{"pipe:[123]", 0, false},
		{"/dev/null", 0, false},
	}
	for _, tt := range tests {
		inode, ok := socketInode([]byte(tt.link))
		if inode != tt.inode || ok != tt.ok {
			t.Errorf("socketInode(%q) = %d, %v; want %d, %v", tt.link, inode, ok, tt.inode, tt.ok)
		}
	}
}

func TestCmdlineCap(t *testing.T) {
	long := "app\x00" + strings.Repeat("é", maxCmdline) + "\x00"
	got := cmdline([]byte(long))
	if len(got) > maxCmdline+len("…") || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
		t.Errorf("capped cmdline: %d bytes, valid UTF-8 %v, ends %q", len(got), utf8.ValidString(got), got[len(got)-8:])
	}
	if got := cmdline([]byte("a\x00b c\x00\x00")); got != "a b c" {
		t.Errorf("cmdline = %q, want %q", got, "a b c")
	}
	if got := cmdline(nil); got != "" {
		t.Errorf("empty cmdline = %q", got)
	}
}

// Processes that come and go while /proc is walked (here: a stream of
// short-lived children, each holding a socket) never make the walk fail,
// and a socket held by a process that stays is always found.
func TestFindOwnersWhileProcessesExit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	inode := ownSocketInode(t, ln)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			cmd := exec.Command("sh", "-c", "exec 3<>/dev/null; :")
			_ = cmd.Run()
		}
	}()
	for range 10 {
		scan, err := findOwners(context.Background(), hostfs.New("/"), map[uint64]struct{}{inode: {}})
		if err != nil {
			t.Fatalf("walk while processes exit: %v", err)
		}
		if scan.pids[inode] != os.Getpid() {
			t.Fatalf("own socket owner = %d, want %d", scan.pids[inode], os.Getpid())
		}
	}
	close(stop)
	<-done
}

// ownSocketInode is the inode of a listener of this process.
func ownSocketInode(t *testing.T, ln net.Listener) uint64 {
	t.Helper()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}
