package files

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// inRoot opens paths of the audited host. Below another root (--root) it
// resolves every symbolic link, absolute ones included, inside that root
// (openat2 RESOLVE_IN_ROOT), so that a link in an image never leads to the
// auditing machine's own files; on the live host paths open as they are.
type inRoot struct {
	fd int // the root folder, or -1 on the live host
}

func openRoot(root string) (inRoot, error) {
	if root == "" || root == "/" {
		return inRoot{fd: -1}, nil
	}
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return inRoot{}, &os.PathError{Op: "open", Path: root, Err: err}
	}
	return inRoot{fd: fd}, nil
}

func (r inRoot) close() {
	if r.fd >= 0 {
		unix.Close(r.fd)
	}
}

// open opens p, a path on the host, with flags (O_CLOEXEC added).
func (r inRoot) open(p string, flags int) (int, error) {
	if r.fd < 0 {
		return unix.Open(p, flags|unix.O_CLOEXEC, 0)
	}
	return unix.Openat2(r.fd, filepath.Clean("/"+p), &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// stat is fstat of what p leads to (follow) or of p itself.
func (r inRoot) stat(p string, follow bool) (unix.Stat_t, error) {
	flags := unix.O_PATH
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	var st unix.Stat_t
	fd, err := r.open(p, flags)
	if err != nil {
		return st, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Fstat(fd, &st); err != nil {
		return st, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	return st, nil
}

// readlink reads the link p itself.
func (r inRoot) readlink(p string) (string, error) {
	fd, err := r.open(p, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
