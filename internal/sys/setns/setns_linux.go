// Package setns runs code inside another network namespace, on an OS thread
// of its own, so the rest of the program never leaves its namespace.
package setns

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// Handle is an open network namespace that code can run in repeatedly.
type Handle struct {
	path string
	fd   int
}

// Open opens the network namespace file at path (e.g. /run/netns/NAME).
func Open(path string) (*Handle, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	return &Handle{path: path, fd: fd}, nil
}

// Close releases the namespace.
func (h *Handle) Close() error { return unix.Close(h.fd) }

// Run runs fn on an OS thread moved into the namespace: sockets fn creates,
// files it reads below /proc/thread-self/net and programs it starts belong
// to the namespace. The thread is moved back afterwards; if that fails it
// stays locked and the runtime discards it with its goroutine. A panic in fn
// comes back as an error.
func (h *Handle) Run(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own network namespace: %w", err)
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(h.fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace %s: %w (another namespace needs root or CAP_SYS_ADMIN)", h.path, err)
			return
		}
		var ferr error
		defer func() {
			if p := recover(); p != nil {
				ferr = fmt.Errorf("panic in network namespace %s: %v", h.path, p)
			}
			if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
				errc <- fmt.Errorf("leave network namespace %s: %w", h.path, err)
				return
			}
			runtime.UnlockOSThread()
			errc <- ferr
		}()
		ferr = fn()
	}()
	return <-errc
}

// Run runs fn inside the namespace at path, or directly when path is empty.
func Run(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	h, err := Open(path)
	if err != nil {
		return err
	}
	defer h.Close()
	return h.Run(fn)
}
