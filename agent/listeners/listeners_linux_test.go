package listeners

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/setns"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// childEnv, when set, makes the test binary act as the unprivileged child of
// TestUnprivileged instead of running tests.
const childEnv = "HOSTDRIFT_LISTENERS_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(unprivilegedChild())
	}
	os.Exit(m.Run())
}

// childResult is what the unprivileged child reports on its standard output.
type childResult struct {
	UID       int                 `json:"uid"`
	Listeners *snapshot.Listeners `json:"listeners"`
	Err       string              `json:"err"`
	Partial   bool                `json:"partial"`
	NetNSErr  string              `json:"netns_err"`
}

// unprivilegedChild drops to nobody (65534), then runs the collector in its
// own network namespace, and once more against the namespace file it is
// given, which it may not enter.
func unprivilegedChild() int {
	if err := syscall.Setgroups(nil); err != nil {
		return fail(err)
	}
	if err := syscall.Setgid(65534); err != nil {
		return fail(err)
	}
	if err := syscall.Setuid(65534); err != nil {
		return fail(err)
	}
	r := childResult{UID: os.Geteuid()}
	sec, err := (&Collector{}).Collect(context.Background(), &agent.Env{Root: "/"})
	if sec != nil {
		r.Listeners = sec.(*snapshot.Listeners)
	}
	if err != nil {
		r.Err = err.Error()
		var p *agent.PartialError
		r.Partial = errors.As(err, &p)
	}
	if _, err := (&Collector{}).Collect(context.Background(), &agent.Env{Root: "/", NetNS: os.Getenv(childEnv)}); err != nil {
		r.NetNSErr = err.Error()
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		return fail(err)
	}
	return 0
}

func fail(err error) int {
	os.Stderr.WriteString(err.Error() + "\n")
	return 2
}

// want is one expected socket.
type want struct {
	proto  string
	family snapshot.Family
	addr   string
	port   uint16
	v6only bool
}

// check asserts that the sockets are exactly want, in that order, all held
// by the process pid named name.
func check(t *testing.T, got []snapshot.Socket, wants []want, pid int, name string) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("got %d sockets, want %d:\n%+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		s := got[i]
		if s.Protocol != w.proto || s.Family != w.family || s.Address != netip.MustParseAddr(w.addr) || s.Port != w.port || s.V6Only != w.v6only {
			t.Errorf("socket %d = %s %s [%s]:%d v6only=%v, want %+v", i, s.Protocol, s.Family, s.Address, s.Port, s.V6Only, w)
		}
		if s.Inode == 0 || s.UID != 0 {
			t.Errorf("socket %d: inode %d uid %d, want an inode and uid 0", i, s.Inode, s.UID)
		}
		if s.Process == nil {
			t.Errorf("socket %d [%s]:%d: no owning process", i, s.Address, s.Port)
			continue
		}
		if s.Process.PID != pid || s.Process.Name != name || !strings.Contains(s.Process.Cmdline, name) {
			t.Errorf("socket %d owner = %+v, want pid %d named %s", i, s.Process, pid, name)
		}
	}
}

func TestCollectNetNS(t *testing.T) {
	ns := nstest.New(t)
	l := ns.Listen(t,
		"tcp4:127.0.0.1:8080", "tcp6:[::1]:8443", "dual:[::]:9000", "v6only:[::]:9001",
		"udp4:127.0.0.1:5353", "udp6:[::1]:5353",
	)
	for _, source := range []string{SourceSockDiag, SourceProcfs} {
		t.Run(source, func(t *testing.T) {
			sec, err := (&Collector{Source: source}).Collect(t.Context(), &agent.Env{NetNS: ns.Path(), Root: "/"})
			var partial *agent.PartialError
			switch {
			case source == SourceSockDiag && err != nil:
				t.Fatalf("sock_diag as root: %v", err)
			case source == SourceProcfs && !errors.As(err, &partial):
				t.Fatalf("procfs: err = %v, want Partial (v6only and backlog unseen)", err)
			}
			got := sec.(*snapshot.Listeners)
			if got.Source != source || got.BindV6Only || got.Unowned != 0 || got.OwnerError != "" {
				t.Errorf("Source %q BindV6Only %v Unowned %d OwnerError %q", got.Source, got.BindV6Only, got.Unowned, got.OwnerError)
			}
			// procfs cannot see IPV6_V6ONLY: every IPv6 socket gets the
			// namespace's bindv6only (0), right or wrong.
			real := source == SourceSockDiag
			check(t, got.Sockets, []want{
				{"tcp", snapshot.IPv4, "127.0.0.1", 8080, false},
				{"tcp", snapshot.IPv6, "::", 9000, false},
				{"tcp", snapshot.IPv6, "::", 9001, real},
				{"tcp", snapshot.IPv6, "::1", 8443, real},
				{"udp", snapshot.IPv4, "127.0.0.1", 5353, false},
				{"udp", snapshot.IPv6, "::1", 5353, real},
			}, l.PID, nstest.HelperName)
			dual := got.Sockets[1]
			if !dual.DualStack() || !dual.Accepts(netip.MustParseAddr("127.0.0.1")) {
				t.Errorf("[::]:9000 with V6ONLY=0 should be dual-stack: %+v", dual)
			}
		})
	}
}

func TestCollectNetNSThroughRegistry(t *testing.T) {
	ns := nstest.New(t)
	ns.Listen(t, "tcp4:0.0.0.0:6379")
	snap := &snapshot.Snapshot{}
	agent.Run(t.Context(), snap, agent.Options{Env: agent.Env{NetNS: ns.Path(), Root: "/"}, Collectors: []string{"listeners"}})
	st, _ := snap.Collector("listeners")
	if st.Status != snapshot.StatusOK || snap.Listeners == nil {
		t.Fatalf("status %+v, listeners %v", st, snap.Listeners)
	}
	if n := len(snap.Listeners.Sockets); n != 1 || snap.Listeners.Sockets[0].Port != 6379 || snap.Listeners.Source != SourceSockDiag {
		t.Errorf("got %+v, want one sock_diag socket on port 6379", snap.Listeners)
	}
}

func TestBindV6OnlyPerNamespace(t *testing.T) {
	ns := nstest.New(t)
	host, err := os.ReadFile("/proc/sys/net/ipv6/bindv6only")
	if err != nil {
		t.Skip("no IPv6 here")
	}
	ns.Run(t, "sh", "-c", "echo 1 > /proc/sys/net/ipv6/bindv6only")
	l := ns.Listen(t, "dual:[::]:9000")
	for _, source := range []string{SourceSockDiag, SourceProcfs} {
		t.Run(source, func(t *testing.T) {
			sec, err := (&Collector{Source: source}).Collect(t.Context(), &agent.Env{NetNS: ns.Path(), Root: "/"})
			if sec == nil {
				t.Fatal(err)
			}
			got := sec.(*snapshot.Listeners)
			if !got.BindV6Only {
				t.Errorf("BindV6Only = false, want the namespace's 1 (the host has %s)", strings.TrimSpace(string(host)))
			}
			// The socket set V6ONLY=0 itself: sock_diag sees it, procfs can
			// only assume the namespace default and says so.
			if source == SourceSockDiag {
				check(t, got.Sockets, []want{{"tcp", snapshot.IPv6, "::", 9000, false}}, l.PID, nstest.HelperName)
			} else {
				check(t, got.Sockets, []want{{"tcp", snapshot.IPv6, "::", 9000, true}}, l.PID, nstest.HelperName)
				if err == nil || !strings.Contains(err.Error(), "assumed to have v6only=true") {
					t.Errorf("procfs must say v6only was assumed: %v", err)
				}
			}
		})
	}
	if now, _ := os.ReadFile("/proc/sys/net/ipv6/bindv6only"); string(now) != string(host) {
		t.Errorf("the host's bindv6only changed from %q to %q", host, now)
	}
}

func TestStalled(t *testing.T) {
	ns := nstest.New(t)
	ns.Listen(t, "stall:127.0.0.1:7000:2", "accept:127.0.0.1:7001")
	for _, source := range []string{SourceSockDiag, SourceProcfs} {
		t.Run(source, func(t *testing.T) {
			sec, err := (&Collector{Source: source}).Collect(t.Context(), &agent.Env{NetNS: ns.Path(), Root: "/"})
			if sec == nil {
				t.Fatal(err)
			}
			socks := sec.(*snapshot.Listeners).Sockets
			if len(socks) != 2 {
				t.Fatalf("want the two listeners only (their clients are not listening), got %+v", socks)
			}
			stall, accept := socks[0], socks[1]
			if stall.Port != 7000 || accept.Port != 7001 {
				t.Fatalf("unexpected sockets %+v", socks)
			}
			// Linux queues backlog+1 connections before refusing: the full
			// queue holds 3 with backlog 2.
			if stall.AcceptQueue != 3 {
				t.Errorf("stalled listener: AcceptQueue %d, want 3", stall.AcceptQueue)
			}
			if accept.AcceptQueue != 0 || accept.Stalled() {
				t.Errorf("accepting listener: AcceptQueue %d, Stalled %v; want 0, false", accept.AcceptQueue, accept.Stalled())
			}
			if source == SourceSockDiag {
				if stall.Backlog != 2 || !stall.Stalled() {
					t.Errorf("stalled listener: Backlog %d, Stalled %v; want 2, true", stall.Backlog, stall.Stalled())
				}
				if accept.Backlog != 128 {
					t.Errorf("accepting listener: Backlog %d, want 128", accept.Backlog)
				}
			} else if stall.Backlog != 0 || stall.Stalled() {
				// procfs has no backlog: it cannot say a queue is full.
				t.Errorf("procfs: Backlog %d, Stalled %v; want 0 and false", stall.Backlog, stall.Stalled())
			}
		})
	}
}

func TestCollectCancelled(t *testing.T) {
	ns := nstest.New(t)
	ns.Listen(t, "tcp4:127.0.0.1:80")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, source := range []string{"", SourceProcfs} {
		if _, err := (&Collector{Source: source}).Collect(ctx, &agent.Env{NetNS: ns.Path()}); !errors.Is(err, context.Canceled) {
			t.Errorf("source %q: err = %v, want context.Canceled", source, err)
		}
	}
}

func TestCollectBadNetNS(t *testing.T) {
	nstest.RequireRoot(t)
	_, err := (&Collector{}).Collect(t.Context(), &agent.Env{NetNS: "/run/netns/hd-does-not-exist"})
	if err == nil || !strings.Contains(err.Error(), "hd-does-not-exist") {
		t.Errorf("err = %v, want one naming the missing namespace", err)
	}
	if _, err := (&Collector{Source: "magic"}).Collect(t.Context(), &agent.Env{}); err == nil {
		t.Errorf("unknown source: want an error")
	}
}

func TestUnprivileged(t *testing.T) {
	ns := nstest.New(t)
	ns.Listen(t, "tcp4:0.0.0.0:5432", "dual:[::]:6379", "udp4:0.0.0.0:11211")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := ns.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+ns.Path())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	var r childResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("child output %q: %v", out, err)
	}
	if r.UID != 65534 {
		t.Fatalf("child ran as uid %d, want 65534", r.UID)
	}
	if !r.Partial || !strings.Contains(r.Err, "permission denied") || !strings.Contains(r.Err, "CAP_DAC_READ_SEARCH") {
		t.Errorf("err = %q (partial %v), want a Partial about permission", r.Err, r.Partial)
	}
	l := r.Listeners
	if l == nil {
		t.Fatal("no listeners returned")
	}
	if len(l.Sockets) != 3 || l.Source != SourceSockDiag {
		t.Errorf("got %d sockets from %q, want 3 from sock_diag: %+v", len(l.Sockets), l.Source, l.Sockets)
	}
	if l.Unowned != 3 || !strings.Contains(l.OwnerError, "permission denied") {
		t.Errorf("Unowned %d OwnerError %q, want 3 and permission denied", l.Unowned, l.OwnerError)
	}
	for _, s := range l.Sockets {
		if s.Process != nil {
			t.Errorf("socket %d has an owner %+v the child could not have seen", s.Port, s.Process)
		}
	}
	if !strings.Contains(r.NetNSErr, "operation not permitted") || !strings.Contains(r.NetNSErr, ns.Name) {
		t.Errorf("entering a namespace unprivileged: err %q, want operation not permitted naming it", r.NetNSErr)
	}
}

func TestFallbackToProcfs(t *testing.T) {
	ns := nstest.New(t)
	l := ns.Listen(t, "tcp4:127.0.0.1:8080", "v6only:[::]:9001")
	orig := openDiag
	openDiag = func(string) (*nl.NetlinkSocket, error) {
		return nil, fmt.Errorf("open sock_diag netlink socket: %w", unix.EPROTONOSUPPORT)
	}
	t.Cleanup(func() { openDiag = orig })

	sec, err := (&Collector{}).Collect(t.Context(), &agent.Env{NetNS: ns.Path(), Root: "/"})
	var partial *agent.PartialError
	if !errors.As(err, &partial) || !strings.Contains(partial.Reason, "sock_diag is unavailable") || !strings.Contains(partial.Reason, "protocol not supported") {
		t.Fatalf("err = %v, want Partial saying sock_diag is unavailable and why", err)
	}
	got := sec.(*snapshot.Listeners)
	if got.Source != SourceProcfs {
		t.Errorf("Source = %q, want procfs", got.Source)
	}
	check(t, got.Sockets, []want{
		{"tcp", snapshot.IPv4, "127.0.0.1", 8080, false},
		{"tcp", snapshot.IPv6, "::", 9001, false}, // assumed from bindv6only=0: wrong, and said so
	}, l.PID, nstest.HelperName)

	if _, err := (&Collector{Source: SourceSockDiag}).Collect(t.Context(), &agent.Env{NetNS: ns.Path()}); err == nil || !strings.Contains(err.Error(), "protocol not supported") {
		t.Errorf("forced sock_diag must not fall back: err = %v", err)
	}
}

func TestInNetNS(t *testing.T) {
	ns := nstest.New(t)
	self := func() uint64 {
		var st unix.Stat_t
		if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
			t.Error(err)
		}
		return st.Ino
	}
	var inside uint64
	if err := setns.Run(ns.Path(), func() error { inside = self(); return nil }); err != nil {
		t.Fatal(err)
	}
	if inside != ns.Inode(t) {
		t.Errorf("fn ran in netns %d, want %d", inside, ns.Inode(t))
	}
	err := setns.Run(ns.Path(), func() error { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("a panic in fn: err = %v, want it reported", err)
	}
	errFn := errors.New("fn failed")
	if err := setns.Run(ns.Path(), func() error { return errFn }); !errors.Is(err, errFn) {
		t.Errorf("err = %v, want fn's error", err)
	}
}

// TestHaveCaps reads the effective capability set: root holds
// CAP_SYS_PTRACE, and a test run without it says so through the same call.
func TestHaveCaps(t *testing.T) {
	nstest.RequireRoot(t)
	if !haveCaps(unix.CAP_SYS_PTRACE, unix.CAP_DAC_READ_SEARCH) {
		t.Error("root without CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH in its effective set?")
	}
}
