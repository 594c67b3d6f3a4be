// Package rootfs reads configuration files of a host that may be mounted
// below another root (--root): links resolve inside that root, never on the
// machine's own /, only regular files are read, and never more than a bound.
package rootfs

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/internal/sys/regfile"
)

// MaxFile bounds every file read through this package: no passwd, dpkg
// status or sysctl.d file of a real host comes near it.
const MaxFile = 64 << 20

// live reports whether root is the machine's own root.
func live(root string) bool { return root == "" || root == "/" }

// Open opens the host path p below root for reading, resolving links
// inside root (openat2 RESOLVE_IN_ROOT): an absolute link target starts
// again at root.
func Open(root, p string) (*os.File, error) {
	p = path.Clean("/" + p)
	if live(root) {
		// Non-blocking, as below root: a FIFO opens at once, and the
		// caller's regular-file check refuses it before any read.
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: p, Err: err}
		}
		return os.NewFile(uintptr(fd), p), nil
	}
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(dir)
	rel := p[1:]
	if rel == "" {
		rel = "."
	}
	fd, err := unix.Openat2(dir, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: filepath.Join(root, p), Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(root, p)), nil
}

// ReadFile reads the regular file p below root, refusing one larger than
// max bytes (MaxFile when max is 0).
func ReadFile(root, p string, max int64) ([]byte, error) {
	if max <= 0 {
		max = MaxFile
	}
	f, err := Open(root, p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &regfile.NotRegularError{Path: p, Kind: regfile.Kind(fi.Mode())}
	}
	return regfile.ReadAll(f, max)
}

// ReadDir lists the folder p below root, sorted by name. A missing folder
// is an empty list.
func ReadDir(root, p string) ([]fs.DirEntry, error) {
	f, err := Open(root, p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}

// Readlink returns the target of the link p below root ("" when p is not
// a link), without following it.
func Readlink(root, p string) string {
	full := path.Clean("/" + p)
	if !live(root) {
		dir, base := path.Split(full)
		f, err := Open(root, dir)
		if err != nil {
			return ""
		}
		defer f.Close()
		buf := make([]byte, 4096)
		n, err := unix.Readlinkat(int(f.Fd()), base, buf)
		if err != nil {
			return ""
		}
		return string(buf[:n])
	}
	t, _ := os.Readlink(full)
	return t
}

// Exists reports whether p exists below root (links followed inside it).
func Exists(root, p string) bool {
	f, err := Open(root, p)
	if err != nil {
		return false
	}
	f.Close()
	return true
}
