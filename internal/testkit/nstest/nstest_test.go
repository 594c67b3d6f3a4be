package nstest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestNewAndCleanup(t *testing.T) {
	var name string
	var pid int
	t.Run("inner", func(t *testing.T) {
		ns := New(t)
		name = ns.Name
		if !strings.HasPrefix(ns.Name, "hd-") {
			t.Errorf("name %q lacks the hd- prefix", ns.Name)
		}
		if _, err := os.Stat(ns.Path()); err != nil {
			t.Fatalf("namespace file: %v", err)
		}
		if out := ns.Run(t, "ip", "-o", "link", "show", "lo"); !strings.Contains(out, "UP") {
			t.Errorf("lo is not up: %s", out)
		}
		if out := ns.Run(t, "ip", "-o", "link", "show"); strings.Count(out, "\n") != 1 {
			t.Errorf("a fresh namespace should hold only lo:\n%s", out)
		}
		// A process the test starts itself is killed by the cleanup too.
		cmd := ns.Command("sleep", "600")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pid = cmd.Process.Pid
		go cmd.Wait()
	})
	if name == "" {
		return // skipped
	}
	if _, err := os.Stat("/run/netns/" + name); !os.IsNotExist(err) {
		t.Errorf("namespace %s still exists after cleanup (%v)", name, err)
	}
	if alive(pid) {
		t.Errorf("process %d started in the namespace survived cleanup", pid)
	}
}

func TestDo(t *testing.T) {
	ns := New(t)
	var inside, outside uint64
	own := func() uint64 {
		var st unix.Stat_t
		if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	outside = own()
	ns.Do(t, func() { inside = own() })
	if inside != ns.Inode(t) {
		t.Errorf("inside Do the thread is in netns %d, want %d", inside, ns.Inode(t))
	}
	if own() != outside {
		t.Errorf("after Do the thread did not come back to netns %d", outside)
	}
}

func TestListen(t *testing.T) {
	RequireCommand(t, "ss")
	ns := New(t)
	l := ns.Listen(t,
		"tcp4:127.0.0.1:8080", "tcp6:[::1]:8443", "dual:[::]:9000", "v6only:[::]:9001",
		"udp4:127.0.0.1:5353", "udp6:[::1]:5353",
		"stall:127.0.0.1:7000:2", "accept:127.0.0.1:7001",
	)
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(l.PID) + "/comm")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(comm)); got != HelperName {
		t.Errorf("helper comm = %q, want %q", got, HelperName)
	}
	tcp := ns.Run(t, "ss", "-Htln")
	for _, want := range []string{"127.0.0.1:8080", "[::1]:8443", "*:9000", "[::]:9001", "127.0.0.1:7000", "127.0.0.1:7001"} {
		if !strings.Contains(tcp, want) {
			t.Errorf("ss -tln does not show %s:\n%s", want, tcp)
		}
	}
	udp := ns.Run(t, "ss", "-Huan")
	for _, want := range []string{"127.0.0.1:5353", "[::1]:5353"} {
		if !strings.Contains(udp, want) {
			t.Errorf("ss -uan does not show %s:\n%s", want, udp)
		}
	}
	// ss shows Recv-Q (queued connections) and Send-Q (backlog) of listeners.
	for _, line := range strings.Split(tcp, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		switch f[3] {
		case "127.0.0.1:7000":
			if f[1] != "3" || f[2] != "2" {
				t.Errorf("stalled listener: Recv-Q %s Send-Q %s, want 3 and 2", f[1], f[2])
			}
		case "127.0.0.1:7001":
			if f[1] != "0" {
				t.Errorf("accepting listener: Recv-Q %s, want 0", f[1])
			}
		}
	}
	l.Stop()
	if alive(l.PID) {
		t.Errorf("helper %d still alive after Stop", l.PID)
	}
	if out := ns.Run(t, "ss", "-Htln"); strings.TrimSpace(out) != "" {
		t.Errorf("listeners left after Stop:\n%s", out)
	}
}

func TestListenConns(t *testing.T) {
	RequireCommand(t, "ss")
	ns := New(t)
	ns.Listen(t, "conns:127.0.0.1:40000:6000")
	// Both ends of each connection, and the two listeners.
	est := strings.Count(ns.Run(t, "ss", "-Htn", "state", "established"), "\n")
	if est != 2*6000 {
		t.Errorf("ss shows %d established sockets, want %d (both ends of 6,000 connections)", est, 2*6000)
	}
	lst := ns.Run(t, "ss", "-Htln")
	for _, want := range []string{"127.0.0.1:40000", "127.0.0.1:40001"} {
		if !strings.Contains(lst, want) {
			t.Errorf("ss -tln does not show %s:\n%s", want, lst)
		}
	}
}

func TestListenServe(t *testing.T) {
	ns := New(t)
	ns.Listen(t, "serve:127.0.0.1:20000:3")
	ns.Do(t, func() {
		for port := 20000; port < 20003; port++ {
			c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
			if err != nil {
				t.Fatal(err)
			}
			// The server closes at once: the read sees the end.
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("port %d: read = %v, want EOF (accepted and closed)", port, err)
			}
			c.Close()
		}
	})
}

func TestListenBadSpec(t *testing.T) {
	ns := New(t)
	ft := &fakeTB{TB: t}
	func() {
		defer func() { recover() }()
		ns.Listen(ft, "tcp4:[::1]:80")
	}()
	if !ft.failed || !strings.Contains(ft.msg, "IPv4") {
		t.Errorf("a bad spec should fail the test with the helper's reason, got failed=%v %q", ft.failed, ft.msg)
	}
}

// fakeTB records Fatal instead of stopping the real test.
type fakeTB struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = true
	f.msg = fmt.Sprintf(format, args...)
	panic("fatal")
}

func (f *fakeTB) Helper() {}

// alive reports whether a process exists and is not a zombie waiting to be
// reaped.
func alive(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}
