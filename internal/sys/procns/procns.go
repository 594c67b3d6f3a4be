// Package procns tells whether a process runs in the audited host's PID and
// mount namespaces: only such a process is evidence about the host. A cron
// daemon in a container runs the container's jobs, not the host's; a
// process in hostdrift's own container is not "another container".
//
// On the live host the reference is hostdrift's own process
// (/proc/self/ns/pid and ns/mnt), and PID 1's mount namespace too when
// hostdrift runs in a sandbox of the host: under systemd (hostdrift.service
// and hostdrift-serve.service, whose ProtectSystem= and PrivateTmp= give the
// service a mount namespace of its own) hostdrift's mount namespace is the
// sandbox's, which no other process shares, yet PID 1 is in the same PID
// namespace and has the same root. Then processes in PID 1's mount
// namespace (a cron daemon) are the host's as well. Below another root (--root), processes
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
	// initMnt is PID 1's mount namespace when hostdrift runs in a sandbox
	// of the host (see the package doc); "" otherwise.
	initMnt string
	// Ref is the process whose namespaces are the host's: "self" or "1".
	Ref string
}

// Live returns the live host's namespaces, from /proc: hostdrift's own (and
// PID 1's mount namespace when hostdrift runs in a sandbox of it).
func Live() (*Host, error) { return For("/proc", true) }

// For returns the host's namespaces for processes read from procRoot: on
// the live host (live true) hostdrift's own; else those of PID 1 of the
// procfs mounted at procRoot, or ErrNoProcfs when none is.
func For(procRoot string, live bool) (*Host, error) {
	if live {
		h, err := at(procRoot, "self")
		if err == nil {
			h.initMnt = sandboxedIn(procRoot, h)
		}
		return h, err
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

// sandboxedIn returns PID 1's mount namespace when it is not hostdrift's
// own but hostdrift shares PID 1's PID namespace and root directory (a
// systemd sandbox of the host, not a container: a container has a root of
// its own). "" when it is not so, or cannot be told (PID 1 closed to
// hostdrift): then only hostdrift's own namespaces are the host's.
func sandboxedIn(procRoot string, self *Host) string {
	pid, mnt, err := links(filepath.Join(procRoot, "1"))
	if err != nil || pid != self.pid || mnt == self.mnt {
		return ""
	}
	var own, init unix.Stat_t
	if unix.Stat(filepath.Join(procRoot, "self", "root"), &own) != nil ||
		unix.Stat(filepath.Join(procRoot, "1", "root"), &init) != nil ||
		own.Dev != init.Dev || own.Ino != init.Ino {
		return ""
	}
	return mnt
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
	return p == h.pid && (m == h.mnt || h.initMnt != "" && m == h.initMnt), nil
}
