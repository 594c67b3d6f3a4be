package dockertest

import (
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// SystemdRunArgs are the docker run flags that let systemd run as PID 1 in
// a container of a Debian root: it mounts /run and the cgroups itself, and
// knows it is in a container.
var SystemdRunArgs = []string{
	"--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined", "--cgroupns=host",
	"-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/run/lock",
	"-e", "container=docker",
}

// systemdArgs are systemd's own arguments, which it reads as its kernel
// command line when it runs in a container. A systemd from 256 on (Debian
// 13's) refuses cgroup v1, and the hybrid layout many hosts still have,
// unless told so; on a cgroup v2 host it needs nothing.
func systemdArgs() []string {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return nil
	}
	return []string{"systemd.unified_cgroup_hierarchy=0", "SYSTEMD_CGROUP_ENABLE_LEGACY_FORCE=1"}
}

// Booted is a container whose PID 1 is systemd.
type Booted struct {
	// ID is the container's id.
	ID string
	e  *Engine
}

// BootSystemd runs image (a Debian root with systemd installed) with
// systemd as PID 1, the flags in runArgs added to docker run, and waits
// until systemd reports the boot finished (running, or degraded when a unit
// failed). The container is labelled, so the engine's cleanup removes it.
func (e *Engine) BootSystemd(t nstest.TB, image string, runArgs ...string) *Booted {
	t.Helper()
	args := append([]string{"run", "-d", "--label", Label}, SystemdRunArgs...)
	args = append(args, runArgs...)
	args = append(append(args, image, "/lib/systemd/systemd"), systemdArgs()...)
	b := &Booted{ID: e.Docker(t, args...), e: e}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		s := b.Exec("systemctl", "is-system-running")
		if s == "running" || s == "degraded" {
			return b
		}
		if state := e.Docker(t, "inspect", "-f", "{{.State.Status}}", b.ID); state != "running" {
			logs, _ := e.Command("logs", "--tail", "40", b.ID).CombinedOutput()
			t.Fatalf("the container of %s is %s before systemd finished booting:\n%s", image, state, logs)
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemd in %s did not finish booting within 3m (is-system-running: %q); jobs still queued:\n%s",
				image, s, b.Exec("systemctl", "list-jobs", "--no-pager"))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Exec runs a command in the container and returns its trimmed standard
// output and error together; a command that fails is not an error here.
func (b *Booted) Exec(args ...string) string {
	out, _ := b.e.Command(append([]string{"exec", b.ID}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out))
}

// FailedUnits lists the units systemd counts as failed, for test logs.
func (b *Booted) FailedUnits() string {
	return b.Exec("systemctl", "list-units", "--failed", "--plain", "--no-legend", "--no-pager")
}
