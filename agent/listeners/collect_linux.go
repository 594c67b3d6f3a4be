package listeners

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
	"github.com/hostdrift/hostdrift/internal/sys/procns"
	"github.com/hostdrift/hostdrift/internal/sys/setns"
	"golang.org/x/sys/unix"
)

// procNetFiles are the procfs tables read when sock_diag is unavailable.
var procNetFiles = []struct {
	name     string
	protocol string
	family   snapshot.Family
}{
	{"tcp", "tcp", snapshot.IPv4},
	{"tcp6", "tcp", snapshot.IPv6},
	{"udp", "udp", snapshot.IPv4},
	{"udp6", "udp", snapshot.IPv6},
}

func (c *Collector) collect(ctx context.Context, env *agent.Env) (*snapshot.Listeners, error) {
	switch c.Source {
	case "", SourceSockDiag, SourceProcfs:
	default:
		return nil, fmt.Errorf("listeners: unknown source %q (want %q or %q)", c.Source, SourceSockDiag, SourceProcfs)
	}
	// The kernel's tables, read through the root's /proc (links resolved
	// inside the root); procRoot names it on this machine, for messages
	// and for procns.
	h := env.FS()
	procRoot, rerr := h.Resolve("/proc")
	if rerr != nil {
		procRoot = h.Real("/proc")
	}
	l := &snapshot.Listeners{}
	var partial []string

	var diagErr error
	if c.Source != SourceProcfs {
		socks, notes, err := readSockDiag(ctx, env.NetNS)
		switch {
		case err == nil:
			l.Source, l.Sockets = SourceSockDiag, socks
			partial = append(partial, notes...)
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case c.Source == SourceSockDiag:
			return nil, fmt.Errorf("sock_diag: %w", err)
		default:
			diagErr = err
		}
	}

	// net.ipv6.bindv6only and the procfs tables belong to the namespace:
	// read them from a thread inside it.
	err := setns.Run(env.NetNS, func() error {
		var err error
		if l.BindV6Only, err = readBindV6Only(h); err != nil {
			return err
		}
		if l.Source != "" {
			return nil
		}
		netDir := "/proc/net"
		if env.NetNS != "" {
			netDir = "/proc/thread-self/net" // this thread's namespace
		}
		l.Source = SourceProcfs
		l.Sockets, err = readProcNet(h, netDir)
		return err
	})
	if err != nil {
		if diagErr != nil {
			return nil, fmt.Errorf("sock_diag: %v; procfs: %w", diagErr, err)
		}
		return nil, err
	}
	if l.Source == SourceProcfs {
		why := "procfs was asked for"
		if diagErr != nil {
			why = fmt.Sprintf("sock_diag is unavailable (%v)", diagErr)
		}
		partial = append(partial, fmt.Sprintf("read /proc/net because %s: it does not show listen backlogs, so full accept queues cannot be detected, nor IPV6_V6ONLY, so every IPv6 socket was assumed to have v6only=%t from net.ipv6.bindv6only", why, l.BindV6Only))
		for i := range l.Sockets {
			if l.Sockets[i].Family == snapshot.IPv6 {
				l.Sockets[i].V6Only = l.BindV6Only
			}
		}
	}
	sortSockets(l.Sockets)

	if reason, err := addOwners(ctx, h, procRoot, l); err != nil {
		return nil, err
	} else if reason != "" {
		partial = append(partial, reason)
	}
	if len(partial) > 0 {
		return l, agent.Partial("%s", strings.Join(partial, "; "))
	}
	return l, nil
}

// readBindV6Only reads net.ipv6.bindv6only; a host without IPv6 has none.
func readBindV6Only(h *hostfs.FS) (bool, error) {
	b, err := h.ReadFile("/proc/sys/net/ipv6/bindv6only", 64)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return string(bytes.TrimSpace(b)) == "1", nil
}

// readProcNet reads the four tables of dir; the IPv6 ones may be missing.
func readProcNet(h *hostfs.FS, dir string) ([]snapshot.Socket, error) {
	var out []snapshot.Socket
	for _, f := range procNetFiles {
		name := path.Join(dir, f.name)
		file, err := h.Open(name)
		if errors.Is(err, fs.ErrNotExist) && f.family == snapshot.IPv6 {
			continue // IPv6 disabled
		}
		if err != nil {
			return nil, err
		}
		socks, err := parseProcNet(file, f.protocol, f.family)
		file.Close()
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		out = append(out, socks...)
	}
	return out, nil
}

// addOwners fills each socket's Process, and Unowned and OwnerError. It
// returns a reason for a Partial status when owners could not be read.
func addOwners(ctx context.Context, h *hostfs.FS, procRoot string, l *snapshot.Listeners) (partial string, err error) {
	want := make(map[uint64]struct{}, len(l.Sockets))
	for _, s := range l.Sockets {
		if s.Inode != 0 {
			want[s.Inode] = struct{}{}
		}
	}
	scan, err := findOwners(ctx, h, want)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		l.Unowned = len(l.Sockets)
		l.OwnerError = fmt.Sprintf("cannot list processes: %v", err)
		return fmt.Sprintf("owning process of %d sockets unknown: %s", l.Unowned, l.OwnerError), nil
	}
	procs := make(map[int]*snapshot.Process)
	// nil when the host's namespaces cannot be told (no procfs below --root).
	host, _ := procns.For(procRoot, procRoot == "/proc")
	for i := range l.Sockets {
		s := &l.Sockets[i]
		pid, ok := scan.pids[s.Inode]
		if ok {
			p, seen := procs[pid]
			if !seen {
				p = readProcess(h, pid, host) // nil if it exited meanwhile
				procs[pid] = p
			}
			if p != nil {
				cp := *p
				s.Process = &cp
			}
		}
		if s.Process == nil {
			l.Unowned++
		}
	}
	if l.Unowned == 0 {
		return "", nil
	}
	// Holding both capabilities, a refusal is not ours to fix by privilege:
	// a security module or the process's own protection hides its fds.
	if (scan.denied > 0 || scan.linkDenied > 0) && haveCaps(unix.CAP_SYS_PTRACE, unix.CAP_DAC_READ_SEARCH) {
		pid := scan.deniedPID
		if pid == 0 {
			pid = scan.linkDeniedPID
		}
		comm, _ := h.ReadFile(fmt.Sprintf("/proc/%d/comm", pid), 4096)
		l.OwnerError = fmt.Sprintf("the kernel refused to show the file descriptors of %d processes (%s/%d, %s) although hostdrift holds CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: a security module (Yama, AppArmor, SELinux) or the process's own protection hides them", scan.denied+scan.linkDenied, procRoot, pid, strings.TrimSpace(string(comm)))
		return fmt.Sprintf("owning process of %d sockets unknown: %s", l.Unowned, l.OwnerError), nil
	}
	switch {
	case scan.denied > 0:
		l.OwnerError = fmt.Sprintf("hostdrift could not read other processes' file descriptors (needs CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE): permission denied reading /proc/PID/fd of %d processes (%s/%d/fd, ...)", scan.denied+scan.linkDenied, procRoot, scan.deniedPID)
		return fmt.Sprintf("owning process of %d sockets unknown: permission denied reading /proc/PID/fd; run as root or with CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE", l.Unowned), nil
	case scan.linkDenied > 0:
		// The fd directories opened, but the kernel hides where their
		// links lead from a reader that may not ptrace the process.
		l.OwnerError = fmt.Sprintf("hostdrift could not read other processes' file descriptors (needs CAP_SYS_PTRACE): permission denied reading the links in /proc/PID/fd of %d processes (%s/%d/fd/*, ...)", scan.linkDenied, procRoot, scan.linkDeniedPID)
		return fmt.Sprintf("owning process of %d sockets unknown: permission denied reading the links in /proc/PID/fd of %d processes; run as root or with CAP_SYS_PTRACE", l.Unowned, scan.linkDenied), nil
	}
	l.OwnerError = fmt.Sprintf("no process in %s holds them: kernel sockets, or their owner exited", procRoot)
	return "", nil
}

// haveCaps reports whether hostdrift holds every capability given in its
// effective set.
func haveCaps(caps ...uintptr) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	for _, c := range caps {
		if data[c/32].Effective&(1<<(c%32)) == 0 {
			return false
		}
	}
	return true
}
