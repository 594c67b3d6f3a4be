package procns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// A process started in new PID and mount namespaces (as a container's are)
// is not the host's; hostdrift's own process is.
func TestHasTellsOtherNamespaces(t *testing.T) {
	nstest.RequireRoot(t)
	h, err := Live()
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := h.Has(os.Getpid()); !ok || err != nil {
		t.Fatalf("own process: %t, %v; want it in the host's namespaces", ok, err)
	}
	for _, c := range []struct {
		name  string
		flags uintptr
	}{
		{"pid", syscall.CLONE_NEWPID},
		{"mnt", syscall.CLONE_NEWNS},
		{"pid+mnt", syscall.CLONE_NEWPID | syscall.CLONE_NEWNS},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command("sleep", "1000")
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: c.flags}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			if ok, err := h.Has(cmd.Process.Pid); ok || err != nil {
				t.Errorf("process in a new %s namespace: %t, %v; want not the host's", c.name, ok, err)
			}
		})
	}
	if _, err := h.Has(1 << 30); err == nil {
		t.Error("a PID that does not exist: no error")
	}
}

func TestForNeedsAProcfsBelowARoot(t *testing.T) {
	if _, err := For(t.TempDir(), false); !errors.Is(err, ErrNoProcfs) {
		t.Errorf("a folder that is not a procfs: %v; want ErrNoProcfs", err)
	}
	h, err := For("/proc", false)
	if errors.Is(err, ErrNoProcfs) {
		t.Fatalf("/proc: %v; it is a procfs", err)
	}
	if err != nil {
		// PID 1 may be closed to its readers (a sandbox's init): then
		// nothing can be told, and the error says so.
		t.Logf("PID 1's namespaces: %v", err)
		return
	}
	if h.Ref != "1" {
		t.Errorf("reference %q; want PID 1 of the procfs", h.Ref)
	}
}

// sandboxPeer, when set, makes the test binary the helper of
// TestLiveInASystemdSandbox (see TestMain): the PID of a process in PID
// 1's mount namespace.
const sandboxPeer = "HOSTDRIFT_PROCNS_SANDBOX_PEER"

// hostdrift run by systemd with ProtectSystem= or PrivateTmp= has a mount
// namespace of its own, a copy of PID 1's: a process in PID 1's mount
// namespace (a cron daemon) is still the host's, or hostdrift.service
// would report that no cron daemon runs on every host. Here, in a new PID
// namespace whose PID 1 is a shell, a helper runs in a mount namespace of
// its own (as systemd's sandbox does) and judges the shell's sleep.
func TestLiveInASystemdSandbox(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "unshare")
	script := `sleep 1000 & export ` + sandboxPeer + `=$!
unshare --mount "$0"; rc=$?
kill $!; exit $rc`
	out, err := exec.Command("unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script, os.Args[0]).CombinedOutput()
	if err != nil {
		t.Fatalf("the helper in a sandbox: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "sandbox helper: ok") {
		t.Fatalf("the helper did not run:\n%s", out)
	}
}

// TestMain runs the sandbox helper instead of the tests when sandboxPeer
// is set.
func TestMain(m *testing.M) {
	if peer := os.Getenv(sandboxPeer); peer != "" {
		if err := sandboxHelper(peer); err != nil {
			fmt.Println("sandbox helper:", err)
			os.Exit(1)
		}
		fmt.Println("sandbox helper: ok")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// sandboxHelper judges, from a mount namespace of its own, the process
// peer in PID 1's mount namespace, itself, and a process in a third mount
// namespace.
func sandboxHelper(peer string) error {
	pid, err := strconv.Atoi(peer)
	if err != nil {
		return err
	}
	h, err := Live()
	if err != nil {
		return err
	}
	if ok, err := h.Has(pid); !ok || err != nil {
		return fmt.Errorf("a process in PID 1's mount namespace, seen from a sandbox of it: %t, %v; want the host's", ok, err)
	}
	if ok, err := h.Has(os.Getpid()); !ok || err != nil {
		return fmt.Errorf("own process in the sandbox: %t, %v; want the host's", ok, err)
	}
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if ok, err := h.Has(cmd.Process.Pid); ok || err != nil {
		return fmt.Errorf("a process in a third mount namespace: %t, %v; want not the host's", ok, err)
	}
	return nil
}
