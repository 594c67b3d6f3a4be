package listeners

import (
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
	"github.com/hostdrift/hostdrift/internal/sys/procns"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// An owner in the host's PID and mount namespaces is the host's, and never
// labelled a container; one started in new namespaces (as a container's
// processes are) is marked as another's, which rules do not take as
// evidence about the host (a docker-proxy there is not the host's).
func TestReadProcessTellsNamespaces(t *testing.T) {
	nstest.RequireRoot(t)
	host, err := procns.Live()
	if err != nil {
		t.Fatal(err)
	}
	own := readProcess(hostfs.New("/"), os.Getpid(), host)
	if own == nil || own.Namespaces != snapshot.NamespacesHost || own.ContainerID != "" || own.OtherNamespaces() {
		t.Errorf("own process %+v; want the host's namespaces and no container", own)
	}
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	other := readProcess(hostfs.New("/"), cmd.Process.Pid, host)
	if other == nil || other.Namespaces != snapshot.NamespacesOther || !other.OtherNamespaces() {
		t.Errorf("process in new namespaces %+v; want it marked as another's", other)
	}
	if p := readProcess(hostfs.New("/"), os.Getpid(), nil); p == nil || p.Namespaces != "" {
		t.Errorf("without the host's namespaces: %+v; want them left unknown", p)
	}
}
