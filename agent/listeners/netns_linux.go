package listeners

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// inNetNS runs fn on an OS thread moved into the network namespace at path,
// or directly when path is empty. The thread is moved back afterwards; if
// that fails it stays locked, and the runtime discards it with the goroutine.
// A panic in fn comes back as an error.
func inNetNS(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
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
		target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open network namespace %s: %w", path, err)
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace %s: %w (reading another namespace needs root or CAP_SYS_ADMIN)", path, err)
			return
		}
		var ferr error
		defer func() {
			if p := recover(); p != nil {
				ferr = fmt.Errorf("panic in network namespace %s: %v", path, p)
			}
			if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
				errc <- fmt.Errorf("leave network namespace %s: %w", path, err)
				return
			}
			runtime.UnlockOSThread()
			errc <- ferr
		}()
		ferr = fn()
	}()
	return <-errc
}
