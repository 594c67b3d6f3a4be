// Package procns tells whether a process runs in the audited host's PID and
// mount namespaces: only such a process is evidence about the host. A cron
// daemon in a container runs the container's jobs, not the host's; a
// process in hostdrift's own container is not "another container".
//
// On the live host the reference is hostdrift's own process
// (/proc/self/ns/pid and ns/mnt). Below another root (--root), processes
// are read from ROOT/proc only when a procfs is mounted there, and the
// reference is that procfs's PID 1: the init of the host whose /proc it is.
// A fixture tree or an image without a procfs holds no processes to judge.
package procns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// ErrNoProcfs means there is no procfs to read processes from.
var ErrNoProcfs = errors.New("no procfs is mounted there")

// Host is the PID and mount namespaces of the audited host, as seen
// through one procfs.
type Host struct {
	proc     string
	pid, mnt string // link targets, as "pid:[4026531836]"
	// Ref is the process whose namespaces are the host's: "self" or "1".
	Ref string
}

// Live returns the namespaces hostdrift itself runs in, from /proc.
func Live() (*Host, error) { return at("/proc", "self") }

// For returns the host's namespaces for processes read from procRoot: on
// the live host (live true) hostdrift's own; else those of PID 1 of the
// procfs mounted at procRoot, or ErrNoProcfs when none is.
func For(procRoot string, live bool) (*Host, error) {
	if live {
		return at(procRoot, "self")
	}
	var st unix.Statfs_t
	if err := unix.Statfs(procRoot, &st); err != nil || st.Type != unix.PROC_SUPER_MAGIC {
		return nil, fmt.Errorf("%s: %w", procRoot, ErrNoProcfs)
	}
	return at(procRoot, "1")
}

func at(procRoot, ref string) (*Host, error) {
	h := &Host{proc: procRoot, Ref: ref}
	var err error
	if h.pid, h.mnt, err = links(filepath.Join(procRoot, ref)); err != nil {
		return nil, fmt.Errorf("read the namespaces of %s/%s: %w", procRoot, ref, err)
	}
	return h, nil
}

func links(dir string) (pid, mnt string, err error) {
	if pid, err = os.Readlink(filepath.Join(dir, "ns", "pid")); err != nil {
		return "", "", err
	}
	if mnt, err = os.Readlink(filepath.Join(dir, "ns", "mnt")); err != nil {
		return "", "", err
	}
	return pid, mnt, nil
}

// Has reports whether process pid runs in the host's PID and mount
// namespaces. An error means it cannot be told: the process exited, or its
// namespace links may not be read (they need CAP_SYS_PTRACE for another
// user's process).
func (h *Host) Has(pid int) (bool, error) {
	p, m, err := links(filepath.Join(h.proc, strconv.Itoa(pid)))
	if err != nil {
		return false, err
	}
	return p == h.pid && m == h.mnt, nil
}
