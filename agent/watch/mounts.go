package watch

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/agent/mounts"
)

// mountsSource watches the mount table. The kernel marks mountinfo with
// POLLPRI when a file system is mounted or unmounted, but not reliably on
// every kernel (6.18 drops most unmounts), so the source also reads the
// table every interval, and reports a change only when its content
// differs from the last reading.
type mountsSource struct {
	f     *os.File
	wake  [2]int // a pipe that ends the poll when ctx ends
	every time.Duration
	last  uint64 // the FNV-64a hash of the table last read
	buf   []byte
	// proc is the /proc folder of a thread in the table's mount
	// namespace, whose root statfs reaches the mounts through; space is
	// the space steps last read, a hash like last.
	proc  string
	space uint64
	// collectors are those that follow agent.Mounts.
	collectors []string
}

func (s *mountsSource) Name() string { return "mounts" }

// mountinfo is the mount table the source watches: the calling thread's
// mount namespace, the process's own unless a test moved the thread.
const mountinfo = "/proc/thread-self/mountinfo"

func newMounts(ctx context.Context, opts *Options) (source, error) {
	// The mount table is this machine's: the collector reads it only on
	// the live host (fstab below another root is watched by inotify).
	cols := agent.Following(agent.Mounts)
	if !wanted(opts, cols...) || !opts.Env.FS().Live() {
		return source{}, nil
	}
	f, err := os.Open(mountinfo)
	if err != nil {
		return source{}, fmt.Errorf("mounts: %v: mounts and unmounts are seen only when another event asks", err)
	}
	s := &mountsSource{f: f, every: max(every(opts.ListenersEvery, DefaultListenersEvery)(), MinPoll), buf: make([]byte, 32<<10),
		proc: procDir()}
	if err := unix.Pipe2(s.wake[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		f.Close()
		return source{}, fmt.Errorf("mounts: pipe: %v", err)
	}
	if _, err := s.changed(); err != nil {
		s.close()
		return source{}, fmt.Errorf("mounts: %v: mounts and unmounts are seen only when another event asks", err)
	}
	s.spaceChanged()
	s.collectors = cols
	return source{Source: s, collectors: cols}, nil
}

// procDir is /proc/self, or the calling thread's own /proc folder when it
// is in another mount namespace than the process (a test moved it): the
// source reads space from its goroutine, on any thread.
func procDir() string {
	var self, thread unix.Stat_t
	if unix.Stat("/proc/self/ns/mnt", &self) == nil && unix.Stat("/proc/thread-self/ns/mnt", &thread) == nil && self.Ino != thread.Ino {
		return fmt.Sprintf("/proc/%d/task/%d", os.Getpid(), unix.Gettid())
	}
	return "/proc/self"
}

func (s *mountsSource) close() {
	s.f.Close()
	unix.Close(s.wake[0])
	unix.Close(s.wake[1])
}

// changed reads the table and reports whether it differs from the last
// reading.
func (s *mountsSource) changed() (bool, error) {
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return false, fmt.Errorf("rewind %s: %w", mountinfo, err)
	}
	h := fnv.New64a()
	for {
		n, err := s.f.Read(s.buf)
		h.Write(s.buf[:n])
		if err == io.EOF || n == 0 {
			break
		}
		if err != nil {
			return false, fmt.Errorf("read %s: %w", mountinfo, err)
		}
	}
	sum := h.Sum64()
	changed := sum != s.last
	s.last = sum
	return changed, nil
}

// spaceChanged reads how full each mount is, in the steps a verdict can
// change at, and reports whether that differs from the last reading. A
// reading that fails counts as a change: the collector then says why.
func (s *mountsSource) spaceChanged() bool {
	steps, err := mounts.SpaceSteps(s.proc+"/mountinfo", s.proc+"/root")
	h := fnv.New64a()
	if err != nil {
		h.Write([]byte(err.Error()))
	}
	for _, st := range steps {
		h.Write([]byte(st))
		h.Write([]byte{0})
	}
	sum := h.Sum64()
	changed := sum != s.space
	s.space = sum
	return changed
}

// Run waits for the kernel's mark or the interval, in a poll that ctx's
// end interrupts through the pipe, and sends an event when the table
// changed.
func (s *mountsSource) Run(ctx context.Context, out chan<- Event) error {
	defer s.close()
	stop := context.AfterFunc(ctx, func() { _, _ = unix.Write(s.wake[1], []byte{0}) })
	defer stop()
	fds := []unix.PollFd{
		{Fd: int32(s.f.Fd()), Events: unix.POLLPRI},
		{Fd: int32(s.wake[0]), Events: unix.POLLIN},
	}
	for {
		_, err := unix.Poll(fds, int(s.every/time.Millisecond))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("poll %s: %w", mountinfo, err)
		}
		if ctx.Err() != nil || fds[1].Revents != 0 {
			return nil
		}
		changed, err := s.changed()
		if err != nil {
			return err
		}
		detail := "a file system was mounted or unmounted"
		if filled := s.spaceChanged(); filled && !changed {
			changed, detail = true, "a file system's free space crossed a step of 1% or 1 GB"
		}
		if changed && !emit(ctx, out, Event{Source: "mounts", Collectors: s.collectors, Detail: detail}) {
			return nil
		}
	}
}
