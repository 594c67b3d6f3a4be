// Package regfile opens the files collectors read: regular files only,
// never in a way that can block, and read to a bound.
//
// A FIFO, a device, a socket or a folder where a configuration file is
// expected is refused before it is opened (opening a FIFO for reading
// blocks until a writer comes; reading /dev/urandom never ends), with a
// *NotRegularError that names what was found, so the collector can name the
// skipped file in its notes. The file is opened with O_NONBLOCK and checked
// again with fstat, so a file swapped between the check and the open is
// refused too.
package regfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// NotRegularError is a path that is not a regular file.
type NotRegularError struct {
	Path string
	// Kind is what the path is: "a FIFO", "a folder", "a character device"...
	Kind string
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file: not read", e.Path, e.Kind)
}

// TooLargeError is a file bigger than the reader's bound.
type TooLargeError struct {
	Path  string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %s: not read (no configuration file is that big)", e.Path, sizeText(e.Limit))
}

func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// IsNotRegular reports whether err says a path is not a regular file.
func IsNotRegular(err error) bool {
	var nr *NotRegularError
	return errors.As(err, &nr)
}

// Kind names what a file mode is, for messages: "a FIFO", "a folder"...
func Kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a folder"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	default:
		return "not a regular file"
	}
}

// Open opens a regular file for reading, following symbolic links. Any
// other kind of file is refused with a *NotRegularError before it is
// opened.
func Open(name string) (*os.File, error) { return open(name, false) }

// OpenNoFollow is Open for a path whose links were already resolved: a
// final component that is a symbolic link is refused.
func OpenNoFollow(name string) (*os.File, error) { return open(name, true) }

func open(name string, noFollow bool) (*os.File, error) {
	stat, flags := os.Stat, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC
	if noFollow {
		stat, flags = os.Lstat, flags|unix.O_NOFOLLOW
	}
	fi, err := stat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &NotRegularError{Path: name, Kind: Kind(fi.Mode())}
	}
	fd, err := unix.Open(name, flags, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) && noFollow {
			return nil, &NotRegularError{Path: name, Kind: "a symbolic link"}
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	// The path may have changed between the stat and the open.
	if fi, err = f.Stat(); err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &NotRegularError{Path: name, Kind: Kind(fi.Mode())}
	}
	return f, nil
}

// ReadFile reads a whole regular file (Open), refusing one larger than
// limit bytes with a *TooLargeError.
func ReadFile(name string, limit int64) ([]byte, error) {
	f, err := Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAll(f, limit)
}

// ReadAll reads f to its end, refusing more than limit bytes with a
// *TooLargeError.
func ReadAll(f *os.File, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{Path: f.Name(), Limit: limit}
	}
	return b, nil
}
