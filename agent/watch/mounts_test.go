package watch

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// TestMounts mounts a tmpfs in a mount namespace of the test's own (on a
// thread that never comes back to the process's namespace) and watches
// that namespace's table: the mount and the unmount are events, whether
// the kernel marks them or the reading every interval finds them.
func TestMounts(t *testing.T) {
	nstest.RequireRoot(t)
	dir := t.TempDir()
	type made struct {
		src source
		err error
	}
	ready := make(chan made)
	do := make(chan func() error)
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			ready <- made{err: err}
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			ready <- made{err: err}
			return
		}
		s, err := newMounts(context.Background(), &Options{})
		ready <- made{s, err}
		for fn := range do {
			done <- fn()
		}
	}()
	m := <-ready
	if m.err != nil || m.src.Source == nil {
		t.Fatalf("a mount namespace and a source in it: %v, %v", m.src, m.err)
	}
	t.Cleanup(func() { close(do) })
	ms := m.src.Source.(*mountsSource)
	if c, err := ms.changed(); c || err != nil {
		t.Fatalf("nothing mounted yet: changed %v, %v", c, err)
	}
	ms.every = 10 * time.Millisecond
	ch := startSource(t, Options{}, func(context.Context, *Options) (source, error) { return m.src, nil })
	run := func(fn func() error) {
		do <- fn
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	run(func() error { return unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m") })
	e, _ := waitEvent(t, ch, "the mount", about("mounts", "mounted or unmounted"))
	if e.Source != "mounts" {
		t.Errorf("source %q", e.Source)
	}
	// Filling it a quarter is a change of space the kernel announces
	// nowhere: the source's reading of the steps finds it.
	run(func() error { return os.WriteFile(filepath.Join(dir, "fill"), make([]byte, 256<<10), 0o600) })
	waitEvent(t, ch, "the tmpfs filled", about("mounts", "free space crossed"))
	run(func() error { return unix.Unmount(dir, 0) })
	waitEvent(t, ch, "the unmount", about("mounts", "mounted or unmounted"))
}

func TestMountsOnlyLive(t *testing.T) {
	opts := Options{}
	opts.Env.Root = t.TempDir()
	if s, err := newMounts(context.Background(), &opts); s.Source != nil || err != nil {
		t.Errorf("another root: %v, %v; want no source", s, err)
	}
}
