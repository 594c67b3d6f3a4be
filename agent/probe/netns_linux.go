package probe

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// netNS is an open network namespace that sockets can be created in.
type netNS struct {
	path string
	fd   int
}

func openNetNS(path string) (*netNS, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	return &netNS{path: path, fd: fd}, nil
}

func (n *netNS) close() { unix.Close(n.fd) }

// do runs fn on an OS thread moved into the namespace, so that the sockets fn
// creates belong to it (a socket keeps its namespace once created). The
// thread is moved back afterwards; if that fails it stays locked, and the
// runtime discards it with the goroutine.
func (n *netNS) do(fn func() error) error {
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
		if err := unix.Setns(n.fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace %s: %w (probing in another namespace needs root or CAP_SYS_ADMIN)", n.path, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("leave network namespace %s: %w", n.path, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
