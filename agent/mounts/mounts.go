// Package mounts collects the host's mounted file systems (from PID 1's
// mountinfo, with statfs for their space) and the ones
// /etc/fstab mounts at the next boot.
package mounts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
)

func init() { agent.Register(snapshot.CollectorMounts, func() agent.Collector { return collector{} }) }

type collector struct{}

// fstabPath is the table of the mounts made at boot.
const fstabPath = "/etc/fstab"

// Follows declares the news after which the mounts are read again: the
// kernel's mount table changed.
func (collector) Follows() []agent.Source { return []agent.Source{agent.Mounts} }

// Reads declares what the collector reads below the root: /etc/fstab. The
// mount table is the kernel's, watched through mountinfo.
func (collector) Reads() []agent.Path { return []agent.Path{agent.File(fstabPath)} }

// maxFileBytes bounds mountinfo and fstab.
const maxFileBytes = 8 << 20

// remoteFS are file systems whose statfs asks a server, and can hang for as
// long as the server is away: their space is not read.
var remoteFS = map[string]bool{"nfs": true, "nfs4": true, "cifs": true, "smb3": true, "smbfs": true, "ceph": true,
	"glusterfs": true, "9p": true, "afs": true, "fuse.sshfs": true, "fuse.s3fs": true, "fuse.rclone": true, "fuse.glusterfs": true}

// Collect reads the mounts on the live host and /etc/fstab below the root.
func (collector) Collect(_ context.Context, env *agent.Env) (snapshot.Section, error) {
	out := &snapshot.Mounts{Mounts: []snapshot.Mount{}, Fstab: []snapshot.FstabEntry{}}
	live := env.Root == "" || env.Root == "/"
	root := "/"
	if live {
		ms, at, err := hostMounts()
		if err != nil {
			return nil, err
		}
		root = at
		for i := range ms {
			spaceAt(&ms[i], filepath.Join(root, ms[i].MountPoint))
			ms[i].Device = device(ms[i].Source, root)
		}
		out.Mounts, out.Live = ms, true
	}
	fstab, err := readFstab(env.FS())
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		out.FstabError = err.Error()
	}
	for i := range fstab {
		if live {
			fstab[i].Device = device(fstab[i].Source, root)
		}
	}
	if fstab != nil {
		out.Fstab = fstab
	}
	return out, nil
}

// hostProc is the host's first process: its mount namespace is the
// host's. hostdrift may run in a namespace of its own (a systemd unit's
// ProtectSystem=, PrivateTmp= and PrivateDevices= make one), whose mounts
// are not the host's.
const hostProc = "/proc/1"

// hostMounts reads the host's mount table, and returns it with the path
// through which its mount points are reached (PID 1's root). Where PID 1
// cannot be looked into (no CAP_SYS_PTRACE), hostdrift's own table is
// read, reached from /.
func hostMounts() ([]snapshot.Mount, string, error) {
	ms, err := readMountinfo(hostProc + "/mountinfo")
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist) {
		ms, err = readMountinfo("/proc/self/mountinfo")
		return ms, "/", err
	}
	return ms, hostProc + "/root", err
}

func readMountinfo(p string) ([]snapshot.Mount, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("read the mounts: %w", err)
	}
	defer f.Close()
	return ParseMountinfo(io.LimitReader(f, maxFileBytes))
}

// readFstab reads the host's /etc/fstab: a regular file, bounded; a FIFO
// or device there is refused, not opened for a blocking read.
func readFstab(h *hostfs.FS) ([]snapshot.FstabEntry, error) {
	b, err := h.ReadFile("/etc/fstab", maxFileBytes)
	if err != nil {
		return nil, err
	}
	return ParseFstab(bytes.NewReader(b))
}

// spaceAt fills a mount's sizes from statfs asked of path, the mount point
// as seen from where the caller stands, except on remote file systems and
// automount points.
func spaceAt(m *snapshot.Mount, path string) {
	if remoteFS[m.FSType] {
		m.StatError = m.FSType + " is a network file system: its space is not read (statfs can hang while the server is away)"
		return
	}
	if m.FSType == "autofs" {
		// statfs of an automount point mounts what it stands for: hostdrift
		// would change the host it reads (and hear its own mount as an event).
		m.StatError = "autofs is an automount point: its space is not read, since reading it would mount it"
		return
	}
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		m.StatError = "statfs: " + err.Error()
		return
	}
	bs := uint64(st.Bsize)
	if st.Frsize > 0 {
		bs = uint64(st.Frsize)
	}
	m.TotalBytes = st.Blocks * bs
	m.AvailBytes = st.Bavail * bs
	if st.Blocks >= st.Bfree {
		m.UsedBytes = (st.Blocks - st.Bfree) * bs
	}
}

// device resolves UUID=, LABEL=, PARTUUID= and PARTLABEL= through
// /dev/disk/by-*, and a device path through its links, on the live host:
// in the /dev of root (PID 1's root, whose /dev is the host's).
func device(source, root string) string {
	dir := map[string]string{"UUID": "by-uuid", "LABEL": "by-label", "PARTUUID": "by-partuuid", "PARTLABEL": "by-partlabel"}
	p := source
	if k, v, ok := strings.Cut(source, "="); ok {
		d, known := dir[k]
		if !known || v == "" || strings.Contains(v, "/") {
			return ""
		}
		p = filepath.Join("/dev/disk", d, v)
	} else if !strings.HasPrefix(source, "/dev/") {
		return ""
	}
	r, err := linkTarget(root, p)
	if err != nil || r == source {
		return ""
	}
	return r
}

// linkTarget follows the links of p's last component in the tree at root
// (a /proc/PID/root link, which only the kernel follows whole: each link
// is read through it, and resolved as that tree sees it).
func linkTarget(root, p string) (string, error) {
	if root == "/" {
		return filepath.EvalSymlinks(p)
	}
	for range 40 {
		t, err := os.Readlink(filepath.Join(root, p))
		if errors.Is(err, unix.EINVAL) {
			return p, nil // not a link: resolved
		}
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(p), t)
		}
		p = filepath.Clean(t)
	}
	return "", fmt.Errorf("%s: too many links", p)
}

// SpaceSteps reads the mount table at mountinfo and each local mount's
// space, with statfs asked through root (a /proc/PID/root link into the
// table's mount namespace), and returns, per mount, how full it is in the
// steps a mount check's verdict can change at: whole percent used and whole
// gigabytes free. hostdrift serve compares them between polls, since the
// kernel announces no change of free space.
func SpaceSteps(mountinfo, root string) ([]string, error) {
	ms, err := readMountinfo(mountinfo)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ms))
	for i := range ms {
		m := &ms[i]
		spaceAt(m, filepath.Join(root, m.MountPoint))
		out = append(out, fmt.Sprintf("%s %d%% %dGB %s", m.MountPoint, m.UsedPercent(), m.AvailBytes/1e9, m.StatError))
	}
	return out, nil
}
