// Package hostfs is the one way collectors read the audited host's files:
// every path resolves inside the host's root (--root), only regular files
// are read, never in a way that can block, and never past a bound.
//
// Below another root, a symbolic link, absolute or relative, resolves the
// way the host itself would see it: an absolute target starts again at the
// root and ".." stops there, so a link in an image never leads to the
// auditing machine's own files. The kernel does this (openat2 with
// RESOLVE_IN_ROOT); where it lacks openat2, the same walk is done one
// component at a time with O_NOFOLLOW.
//
// A FIFO, a device, a socket or a folder where a file is read is refused
// before it is opened for reading (opening a FIFO blocks until a writer
// comes; reading /dev/urandom never ends), with a *NotRegularError that
// names what was found. The file is then opened with O_NONBLOCK and checked
// again, so a file swapped between the check and the open is refused too.
package hostfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// MaxFile bounds a file read with no bound of its own: no passwd, dpkg
// status, unit or sysctl.d file of a real host comes near it.
const MaxFile = 64 << 20

// maxLinks is how many symbolic links one path may pass through, as the
// kernel allows (ELOOP beyond).
const maxLinks = 40

// FS is the audited host's file tree, below its root.
type FS struct {
	root string
	// noOpenat2 forces the user-space walk (tests; kernels before 5.6).
	noOpenat2 bool
}

// New returns the host's file tree below root ("" or "/" is the machine's
// own).
func New(root string) *FS {
	if root == "" {
		root = "/"
	}
	return &FS{root: filepath.Clean(root)}
}

// Root is the folder the host's "/" is on this machine.
func (f *FS) Root() string { return f.root }

// Live reports whether the tree is the machine's own, not a root below it.
func (f *FS) Live() bool { return f.root == "/" }

// Real returns where the host path p is on this machine, without resolving
// any link: for messages and for watchers that name paths (inotify), never
// to read through.
func (f *FS) Real(p string) string { return filepath.Join(f.root, clean(p)) }

// Resolve returns the path on this machine that the host path p leads to,
// its links resolved inside the root, for what can only be named by path
// (a socket to connect to, a folder handed to a program). On the live host
// p is returned as it is.
func (f *FS) Resolve(p string) (string, error) {
	if f.Live() {
		return clean(p), nil
	}
	return f.realPath(p)
}

// Follow returns the host path that p leads to once its links are
// resolved (inside the root): /sbin/init → /lib/systemd/systemd.
func (f *FS) Follow(p string) (string, error) {
	real, err := f.realPath(p)
	if err != nil || f.Live() {
		return real, err
	}
	root, err := f.realPath("/")
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(root, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", &fs.PathError{Op: "resolve", Path: f.Real(p), Err: fmt.Errorf("leads to %s, outside the root %s", real, root)}
	}
	return clean(rel), nil
}

// realPath is where p leads on this machine, as the kernel names the file
// it opened.
func (f *FS) realPath(p string) (string, error) {
	file, err := f.file("resolve", p, unix.O_PATH)
	if err != nil {
		return "", err
	}
	defer file.Close()
	real, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", file.Fd()))
	if err != nil {
		return "", &fs.PathError{Op: "resolve", Path: f.Real(p), Err: err}
	}
	return real, nil
}

// clean makes p an absolute, clean host path.
func clean(p string) string { return path.Clean("/" + p) }

// openat2Works reports whether the kernel has openat2 and lets this process
// call it (a seccomp filter may refuse it with EPERM).
var openat2Works = sync.OnceValue(func() bool {
	fd, err := unix.Openat2(unix.AT_FDCWD, "/", &unix.OpenHow{
		Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT,
	})
	if err != nil {
		return !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EPERM)
	}
	unix.Close(fd)
	return true
})

// open opens the host path p with flags (O_CLOEXEC added; O_NOFOLLOW leaves
// a final link unfollowed), resolving it inside the root. p is not
// cleaned first: "link/.." goes where the link leads, as on the host. The
// error is the bare errno.
func (f *FS) open(p string, flags int) (int, error) {
	p = "/" + strings.TrimLeft(p, "/")
	flags |= unix.O_CLOEXEC
	if f.Live() {
		for {
			fd, err := unix.Open(p, flags, 0)
			if !errors.Is(err, unix.EINTR) {
				return fd, err
			}
		}
	}
	root, err := unix.Open(f.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(root)
	if f.noOpenat2 || !openat2Works() {
		return walk(root, p, flags)
	}
	rel := p[1:]
	if rel == "" {
		rel = "."
	}
	how := &unix.OpenHow{Flags: uint64(flags), Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for range 16 {
		// EAGAIN: a rename raced the lookup; the kernel asks to retry.
		fd, err := unix.Openat2(root, rel, how)
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
	return -1, unix.EAGAIN
}

// file opens p with flags as an *os.File named by its path on this machine.
func (f *FS) file(op, p string, flags int) (*os.File, error) {
	fd, err := f.open(p, flags)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: f.Real(p), Err: err}
	}
	return os.NewFile(uintptr(fd), f.Real(p)), nil
}

// stat is fstat of what p leads to, or of p itself when flags hold
// O_NOFOLLOW.
func (f *FS) stat(p string, flags int) (fs.FileInfo, error) {
	file, err := f.file("stat", p, unix.O_PATH|flags)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return file.Stat()
}

// Stat describes what the host path p leads to.
func (f *FS) Stat(p string) (fs.FileInfo, error) { return f.stat(p, 0) }

// Lstat describes the host path p itself: a link is not followed.
func (f *FS) Lstat(p string) (fs.FileInfo, error) { return f.stat(p, unix.O_NOFOLLOW) }

// Exists reports whether the host path p leads somewhere.
func (f *FS) Exists(p string) bool {
	_, err := f.Stat(p)
	return err == nil
}

// Readlink returns the target of the link p, without following it.
func (f *FS) Readlink(p string) (string, error) {
	file, err := f.file("readlink", p, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return "", err
	}
	defer file.Close()
	t, err := readlinkFD(int(file.Fd()))
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: f.Real(p), Err: err}
	}
	return t, nil
}

// Open opens the regular file the host path p leads to, for reading. Any
// other kind of file is refused with a *NotRegularError before it is
// opened for reading.
func (f *FS) Open(p string) (*os.File, error) {
	fi, err := f.Stat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &NotRegularError{Path: f.Real(p), Kind: Kind(fi.Mode())}
	}
	file, err := f.file("open", p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return nil, err
	}
	// The path may have changed between the stat and the open.
	if fi, err = file.Stat(); err != nil || !fi.Mode().IsRegular() {
		file.Close()
		if err != nil {
			return nil, err
		}
		return nil, &NotRegularError{Path: f.Real(p), Kind: Kind(fi.Mode())}
	}
	return file, nil
}

// ReadFile reads the whole regular file p, refusing one larger than limit
// bytes (MaxFile when limit is 0) with a *TooLargeError.
func (f *FS) ReadFile(p string, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = MaxFile
	}
	file, err := f.Open(p)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return ReadAll(file, limit)
}

// ReadDir lists the folder p leads to, sorted by name. An entry's Info
// describes it below the root too.
func (f *FS) ReadDir(p string) ([]fs.DirEntry, error) {
	dir, err := f.OpenDir(p)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	entries, err := dir.ReadDir(-1)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for i, e := range entries {
		entries[i] = dirEntry{e, f, path.Join(clean(p), e.Name())}
	}
	return entries, err
}

// OpenDir opens the folder p leads to, for listing it and for *at calls
// on the single names listed in it (as readlinkat of /proc/PID/fd/N).
func (f *FS) OpenDir(p string) (*os.File, error) {
	return f.file("open", p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NONBLOCK)
}

// dirEntry is an entry whose Info is read below the root, not at the
// machine path os would join.
type dirEntry struct {
	fs.DirEntry
	fsys *FS
	path string
}

func (d dirEntry) Info() (fs.FileInfo, error) { return d.fsys.Lstat(d.path) }

// Glob returns the host paths that match pattern (path.Match syntax in
// each component), sorted, as filepath.Glob does below the root. Folders
// that cannot be read match nothing.
func (f *FS) Glob(pattern string) ([]string, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, err
	}
	paths := []string{"/"}
	parts := components(clean(pattern))
	for i, part := range parts {
		var next []string
		meta := hasMeta(part)
		for _, dir := range paths {
			if !meta {
				next = append(next, path.Join(dir, part))
				continue
			}
			entries, err := f.ReadDir(dir)
			if err != nil {
				continue
			}
			for _, e := range entries {
				if ok, _ := path.Match(part, e.Name()); ok {
					next = append(next, path.Join(dir, e.Name()))
				}
			}
		}
		paths = next
		if i == len(parts)-1 && !meta {
			// A fixed last name matches only when it exists.
			kept := paths[:0]
			for _, p := range paths {
				if _, err := f.Lstat(p); err == nil {
					kept = append(kept, p)
				}
			}
			paths = kept
		}
	}
	if len(parts) == 0 {
		return paths, nil
	}
	sort.Strings(paths)
	return paths, nil
}

func hasMeta(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', '\\':
			return true
		}
	}
	return false
}

// ReadAll reads r to its end, refusing more than limit bytes with a
// *TooLargeError.
func ReadAll(r *os.File, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{Path: r.Name(), Limit: limit}
	}
	return b, nil
}
