package hostfs

import (
	"path"

	"golang.org/x/sys/unix"
)

// walk resolves the absolute path p below the folder root one component
// at a time, as RESOLVE_IN_ROOT does: no component is followed by the
// kernel (O_NOFOLLOW), a link's target is read and walked in its place, an
// absolute target restarts at root, and ".." never climbs above it.
func walk(root int, p string, flags int) (int, error) {
	follow := flags&unix.O_NOFOLLOW == 0
	stack := []int{root} // the folders walked through; root is the caller's
	defer func() {
		for _, fd := range stack[1:] {
			unix.Close(fd)
		}
	}()
	pop := func() {
		if len(stack) > 1 {
			unix.Close(stack[len(stack)-1])
			stack = stack[:len(stack)-1]
		}
	}
	rest := components(p)
	links := 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		if name == ".." {
			pop()
			continue
		}
		top := stack[len(stack)-1]
		last := len(rest) == 0
		fd, err := unix.Openat(top, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, err
		}
		switch {
		case st.Mode&unix.S_IFMT == unix.S_IFLNK && (!last || follow):
			target, err := readlinkFD(fd)
			unix.Close(fd)
			if err != nil {
				return -1, err
			}
			if links++; links > maxLinks {
				return -1, unix.ELOOP
			}
			if path.IsAbs(target) {
				for len(stack) > 1 {
					pop()
				}
			}
			rest = append(components(target), rest...)
		case last:
			unix.Close(fd)
			// Not a link to follow: open it itself, never through a link
			// swapped in since.
			return unix.Openat(top, name, flags|unix.O_NOFOLLOW, 0)
		case st.Mode&unix.S_IFMT != unix.S_IFDIR:
			unix.Close(fd)
			return -1, unix.ENOTDIR
		default:
			stack = append(stack, fd)
		}
	}
	// p was the root itself, or a walk that ended on a folder ("..", a
	// link to a folder).
	return unix.Openat(stack[len(stack)-1], ".", flags, 0)
}

// components splits a path into its names, without "" and ".".
func components(p string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			if c := p[start:i]; c != "" && c != "." {
				out = append(out, c)
			}
			start = i + 1
		}
	}
	return out
}

func readlinkFD(fd int) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}
