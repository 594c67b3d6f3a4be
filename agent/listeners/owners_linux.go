package listeners

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/internal/parse/redact"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
	"github.com/hostdrift/hostdrift/internal/sys/procns"
)

// maxCmdline caps the recorded command line, after redaction.
const maxCmdline = 4096

// ownerScan is what a walk of /proc/*/fd found.
type ownerScan struct {
	// pids maps socket inodes to the process holding them (the lowest PID,
	// when several share a socket).
	pids map[uint64]int
	// denied counts processes whose fd directory could not be opened or
	// listed (file permissions: CAP_DAC_READ_SEARCH reads them all).
	denied int
	// deniedPID is one of them, for the message.
	deniedPID int
	// linkDenied counts processes whose fd directory was listed but whose
	// fd links could not be read: the kernel allows that only to a reader
	// that may ptrace the process (CAP_SYS_PTRACE reads them all).
	linkDenied int
	// linkDeniedPID is one of them, for the message.
	linkDeniedPID int
}

// findOwners walks /proc/*/fd once and maps the wanted socket inodes to
// the processes that hold them. It stops as soon as all are found. Processes
// that exit during the walk are skipped; directories it may not read are
// counted in denied.
func findOwners(ctx context.Context, h *hostfs.FS, want map[uint64]struct{}) (ownerScan, error) {
	scan := ownerScan{pids: make(map[uint64]int, len(want))}
	if len(want) == 0 {
		return scan, nil
	}
	dir, err := h.OpenDir("/proc")
	if err != nil {
		return scan, err
	}
	names, err := dir.Readdirnames(-1)
	dir.Close()
	if err != nil {
		return scan, err
	}
	// In PID order, so that a socket shared by a parent and its children
	// (nginx master and workers) goes to the parent.
	pids := make([]int, 0, len(names))
	for _, name := range names {
		if pid, err := strconv.Atoi(name); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	buf := make([]byte, 64)
	remaining := len(want)
	for i, pid := range pids {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return scan, err
			}
		}
		f, err := h.OpenDir("/proc/" + strconv.Itoa(pid) + "/fd")
		if err != nil {
			if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
				scan.denied++
				if scan.deniedPID == 0 {
					scan.deniedPID = pid
				}
			}
			continue // gone, or not a process
		}
		fd := int(f.Fd())
		fds, err := f.Readdirnames(-1)
		if err != nil && errors.Is(err, fs.ErrPermission) {
			scan.denied++
			if scan.deniedPID == 0 {
				scan.deniedPID = pid
			}
		}
		linkDenied := false
		for _, fdName := range fds {
			ln, err := unix.Readlinkat(fd, fdName, buf)
			if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
				linkDenied = true
				break // the same for every fd of this process
			}
			if err != nil || ln >= len(buf) {
				continue
			}
			inode, ok := socketInode(buf[:ln])
			if !ok {
				continue
			}
			if _, ok := want[inode]; !ok {
				continue
			}
			if _, seen := scan.pids[inode]; seen {
				continue
			}
			scan.pids[inode] = pid
			remaining--
		}
		f.Close()
		if linkDenied {
			scan.linkDenied++
			if scan.linkDeniedPID == 0 {
				scan.linkDeniedPID = pid
			}
		}
		if remaining == 0 {
			break
		}
	}
	return scan, nil
}

// socketInode parses the target of a /proc/PID/fd link: socket:[INODE].
func socketInode(link []byte) (uint64, bool) {
	rest, ok := bytes.CutPrefix(link, []byte("socket:["))
	if !ok || len(rest) < 2 || rest[len(rest)-1] != ']' {
		return 0, false
	}
	var v uint64
	for _, c := range rest[:len(rest)-1] {
		if c < '0' || c > '9' || v > (math.MaxUint64-uint64(c-'0'))/10 {
			return 0, false // not a digit, or more than an inode holds
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// readProcess reads what the snapshot records about a process: its name,
// redacted command line, systemd unit, container and whether it runs in the
// host's namespaces (host nil: cannot be told). A process in the host's
// own PID and mount namespaces is never labelled a container, even when
// hostdrift runs in one. It returns nil if the process is gone.
func readProcess(h *hostfs.FS, pid int, host *procns.Host) *snapshot.Process {
	dir := "/proc/" + strconv.Itoa(pid)
	comm, err := h.ReadFile(dir+"/comm", 4096)
	if err != nil {
		return nil
	}
	p := &snapshot.Process{PID: pid, Name: strings.TrimSuffix(string(comm), "\n")}
	if raw, err := readLimited(h, dir+"/cmdline", 64*1024); err == nil {
		p.Cmdline = cmdline(raw)
	}
	if cg, err := readLimited(h, dir+"/cgroup", 64*1024); err == nil {
		p.Unit, p.ContainerID = parseCgroup(string(cg))
	}
	if host != nil {
		if same, err := host.Has(pid); err == nil && same {
			p.Namespaces, p.ContainerID = snapshot.NamespacesHost, ""
		} else if err == nil {
			p.Namespaces = snapshot.NamespacesOther
		}
	}
	return p
}

// cmdline turns the NUL-separated /proc/PID/cmdline into one redacted,
// capped line.
func cmdline(raw []byte) string {
	raw = bytes.TrimRight(raw, "\x00")
	if len(raw) == 0 {
		return ""
	}
	args := strings.Split(string(raw), "\x00")
	s := strings.Join(redact.Args(args), " ")
	if len(s) > maxCmdline {
		cut := maxCmdline
		for cut > 0 && s[cut]&0xc0 == 0x80 {
			cut-- // do not split a UTF-8 sequence
		}
		s = s[:cut] + "…"
	}
	return s
}

// readLimited reads at most limit bytes of path: a longer command line is
// cut, not refused.
func readLimited(h *hostfs.FS, path string, limit int64) ([]byte, error) {
	f, err := h.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}
