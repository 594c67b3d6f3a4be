// Package nstest gives tests real, throw-away Linux network namespaces and
// processes that listen inside them.
package nstest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Strict reports whether tests must fail instead of skip when they lack root
// or a command: HOSTDRIFT_TEST_STRICT=1, set by make test and CI.
func Strict() bool { return os.Getenv("HOSTDRIFT_TEST_STRICT") == "1" }

// RequireRoot skips the test unless it runs as root; under Strict it fails.
func RequireRoot(t TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	missing(t, "needs root (network namespaces); run as root, e.g. sudo make test")
}

// RequireCommand skips the test unless the named command is in PATH; under
// Strict it fails.
func RequireCommand(t TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return
	}
	missing(t, fmt.Sprintf("needs the %q command in PATH (Debian: apt-get install iproute2)", name))
}

func missing(t TB, reason string) {
	t.Helper()
	if Strict() {
		t.Fatal(reason + " (HOSTDRIFT_TEST_STRICT=1 forbids skipping)")
	}
	t.Skip(reason)
}

// NS is a named network namespace that lives as long as the test that made it.
type NS struct {
	// Name is the namespace's name for ip netns: hd-<random>.
	Name string

	mu   sync.Mutex
	cmds []*exec.Cmd // made by Command, killed at cleanup if started
	// attached: the namespace belongs to someone else's process (Attach);
	// cleanup removes only the name, and kills nothing inside.
	attached bool
}

// New creates a fresh network namespace with its loopback up. Cleanup kills
// every process still inside it and deletes it.
func New(t TB) *NS {
	t.Helper()
	RequireRoot(t)
	RequireCommand(t, "ip")
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	n := &NS{Name: "hd-" + hex.EncodeToString(b[:])}
	if out, err := exec.Command("ip", "netns", "add", n.Name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", n.Name, err, out)
	}
	t.Cleanup(func() { n.destroy(t) })
	n.Run(t, "ip", "link", "set", "lo", "up")
	return n
}

// Attach names the network namespace of a running process (a container's,
// say) so that the namespace helpers work in it. Cleanup removes the name
// only: the process and the namespace are its owner's to end.
func Attach(t TB, pid int) *NS {
	t.Helper()
	RequireRoot(t)
	RequireCommand(t, "ip")
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	n := &NS{Name: "hd-" + hex.EncodeToString(b[:]), attached: true}
	if out, err := exec.Command("ip", "netns", "attach", n.Name, strconv.Itoa(pid)).CombinedOutput(); err != nil {
		t.Fatalf("ip netns attach %s %d: %v: %s", n.Name, pid, err, out)
	}
	t.Cleanup(func() { n.destroy(t) })
	return n
}

// destroy kills what runs inside the namespace and deletes it.
func (n *NS) destroy(t TB) {
	t.Helper()
	if n.attached {
		if out, err := exec.Command("ip", "netns", "del", n.Name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n.Name, err, out)
		}
		return
	}
	// Kill what the test started first: a command may not have entered the
	// namespace yet, and ip netns pids would miss it.
	n.mu.Lock()
	for _, c := range n.cmds {
		if c.Process != nil {
			_ = c.Process.Kill()
		}
	}
	n.cmds = nil
	n.mu.Unlock()
	for range 50 {
		out, err := exec.Command("ip", "netns", "pids", n.Name).Output()
		if err != nil || len(strings.TrimSpace(string(out))) == 0 {
			break
		}
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if out, err := exec.Command("ip", "netns", "del", n.Name).CombinedOutput(); err != nil {
		t.Errorf("ip netns del %s: %v: %s", n.Name, err, out)
	}
}

// Path is the namespace's file, as agent.Env.NetNS wants it.
func (n *NS) Path() string { return "/run/netns/" + n.Name }

// Command returns a command that runs inside the namespace (through ip netns
// exec, which execs it: the started process's PID is the command's own). If
// the test starts it, the namespace's cleanup kills it.
func (n *NS) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
	n.mu.Lock()
	n.cmds = append(n.cmds, cmd)
	n.mu.Unlock()
	return cmd
}

// Run runs a command inside the namespace and returns its combined output;
// the test fails if it fails.
func (n *NS) Run(t TB, name string, args ...string) string {
	t.Helper()
	out, err := n.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("in netns %s: %s %s: %v\n%s", n.Name, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Do runs fn on the calling goroutine's thread moved into the namespace, and
// moves it back afterwards. fn must not start goroutines that expect to be in
// the namespace.
func (n *NS) Do(t TB, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("open own network namespace: %v", err)
	}
	defer unix.Close(orig)
	target, err := unix.Open(n.Path(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("open %s: %v", n.Path(), err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("enter %s: %v", n.Path(), err)
	}
	defer func() {
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: the runtime discards it with the goroutine.
			t.Fatalf("leave %s: %v", n.Path(), err)
		}
		runtime.UnlockOSThread()
	}()
	fn()
}

// Inode is the namespace's inode number, the number in net:[N] links.
func (n *NS) Inode(t TB) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(n.Path(), &st); err != nil {
		t.Fatalf("stat %s: %v", n.Path(), err)
	}
	return st.Ino
}

// tempRoot is where helper binaries are built; one directory per test process,
// named after its PID so that a later run can remove those of dead processes.
func tempRoot() string { return os.TempDir() }

const tempPrefix = "hostdrift-nstest-"

// sweepStale removes the build directories of test processes that are gone.
func sweepStale() {
	matches, _ := filepath.Glob(filepath.Join(tempRoot(), tempPrefix+"*"))
	for _, m := range matches {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(m), tempPrefix))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(m)
		}
	}
}

// TB is what nstest needs of its caller. testing.TB satisfies it, and so
// can a program that is not a test (the benchmark harness builds its big
// host with these helpers).
type TB interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Skip(args ...any)
	TempDir() string
}

// Address gives the namespace a non-loopback address, prefix in CIDR form,
// on a veth pair whose two ends both stay inside (hd0 holds the address,
// hd1 is its peer), so that "from anywhere" and "to this host" have
// somewhere to arrive. IPv6 duplicate address detection is off, so the
// links' state is settled when Address returns (no tentative addresses
// that turn final, and add routes, while the test watches).
func (n *NS) Address(t TB, prefix string) {
	t.Helper()
	n.Run(t, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0")
	n.Run(t, "ip", "link", "add", "hd0", "type", "veth", "peer", "name", "hd1")
	n.Run(t, "ip", "addr", "add", prefix, "dev", "hd0")
	n.Run(t, "ip", "link", "set", "hd0", "up")
	n.Run(t, "ip", "link", "set", "hd1", "up")
}
