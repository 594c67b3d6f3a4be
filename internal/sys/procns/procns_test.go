package procns

import (
	"errors"
	"os"
	"os/exec"
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
