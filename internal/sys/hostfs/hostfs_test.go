package hostfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// modes runs a test with the kernel's openat2 and with the user-space walk
// forced, so the fallback is as tested as the kernel path.
func modes(t *testing.T, test func(t *testing.T, fsys func(root string) *FS)) {
	t.Run("openat2", func(t *testing.T) {
		if !openat2Works() {
			t.Skip("this kernel has no openat2: the walk below is what runs")
		}
		test(t, New)
	})
	t.Run("walk", func(t *testing.T) {
		test(t, func(root string) *FS { f := New(root); f.noOpenat2 = true; return f })
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// outside makes a file outside the root with distinctive contents, as the
// auditing machine's own file would be.
func outside(t *testing.T, contents string) string {
	p := filepath.Join(t.TempDir(), "outside")
	must(t, os.WriteFile(p, []byte(contents), 0o644))
	return p
}

// A root whose links point at absolute paths, out of the root, and at a
// FIFO: every access stays inside the root, never blocks, and reads only
// regular files.
func TestAccessStaysInTheRoot(t *testing.T) {
	modes(t, func(t *testing.T, fsys func(string) *FS) {
		root := t.TempDir()
		secret := outside(t, "SECRET-OUTSIDE\n")
		must(t, os.MkdirAll(filepath.Join(root, "etc/sysctl.d"), 0o755))
		must(t, os.MkdirAll(filepath.Join(root, "real/dir"), 0o755))
		must(t, os.WriteFile(filepath.Join(root, "etc/sysctl.conf"), []byte("vm.swappiness = 10\n"), 0o644))
		must(t, os.WriteFile(filepath.Join(root, "real/dir/f.conf"), []byte("inside\n"), 0o644))
		must(t, os.Symlink("../sysctl.conf", filepath.Join(root, "etc/sysctl.d/99-sysctl.conf")))
		must(t, os.Symlink("/etc/sysctl.conf", filepath.Join(root, "etc/abs.conf")))
		must(t, os.Symlink(secret, filepath.Join(root, "etc/secret")))
		must(t, os.Symlink("../../../../../../../.."+secret, filepath.Join(root, "etc/escape")))
		must(t, os.Symlink(filepath.Dir(secret), filepath.Join(root, "etc/outdir")))
		must(t, os.Symlink("/real/dir", filepath.Join(root, "etc/indir")))
		must(t, os.Symlink("loop2", filepath.Join(root, "etc/loop1")))
		must(t, os.Symlink("loop1", filepath.Join(root, "etc/loop2")))
		must(t, os.WriteFile(filepath.Join(root, "etc/big"), make([]byte, 100), 0o644))
		must(t, syscall.Mkfifo(filepath.Join(root, "etc/fifo"), 0o644))
		h := fsys(root)

		for _, p := range []string{"/etc/sysctl.d/99-sysctl.conf", "/etc/abs.conf", "etc/../etc/./abs.conf", "/../../etc/abs.conf"} {
			b, err := h.ReadFile(p, 0)
			if err != nil || string(b) != "vm.swappiness = 10\n" {
				t.Errorf("%s: %q, %v", p, b, err)
			}
		}
		if b, err := h.ReadFile("/etc/indir/f.conf", 0); err != nil || string(b) != "inside\n" {
			t.Errorf("through a link to a folder inside: %q, %v", b, err)
		}
		// Links out of the root resolve inside it, where their target does
		// not exist: no access of any kind reaches the outside file.
		for _, p := range []string{"/etc/secret", "/etc/escape", "/etc/outdir/outside"} {
			if b, err := h.ReadFile(p, 0); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("ReadFile %s: %q, %v; want it not to exist below the root", p, b, err)
			}
			if _, err := h.Stat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Stat %s: %v", p, err)
			}
			if h.Exists(p) {
				t.Errorf("Exists %s", p)
			}
		}
		if _, err := h.ReadDir("/etc/outdir"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadDir through a link out of the root: %v", err)
		}
		if got, _ := h.Glob("/etc/outdir/*"); len(got) != 0 {
			t.Errorf("Glob through a link out of the root: %v", got)
		}
		if _, err := h.ReadFile("/etc/loop1", 0); !errors.Is(err, syscall.ELOOP) {
			t.Errorf("a link loop: %v; want ELOOP", err)
		}
		if _, err := h.ReadFile("/etc/fifo", 0); !IsNotRegular(err) || !strings.Contains(err.Error(), "a FIFO") {
			t.Errorf("fifo: %v", err)
		}
		if _, err := h.ReadFile("/etc/sysctl.d", 0); !IsNotRegular(err) || !strings.Contains(err.Error(), "a folder") {
			t.Errorf("folder: %v", err)
		}
		var tl *TooLargeError
		if _, err := h.ReadFile("/etc/big", 50); !errors.As(err, &tl) || !strings.Contains(err.Error(), "larger than 50 bytes") {
			t.Errorf("bound: %v", err)
		}
		if got, err := h.Readlink("/etc/abs.conf"); got != "/etc/sysctl.conf" || err != nil {
			t.Errorf("Readlink: %q %v", got, err)
		}
		if fi, err := h.Lstat("/etc/secret"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("Lstat of a link: %v %v", fi, err)
		}
		if fi, err := h.Stat("/etc/indir"); err != nil || !fi.IsDir() {
			t.Errorf("Stat of a link to a folder: %v %v", fi, err)
		}
		entries, err := h.ReadDir("/etc/sysctl.d")
		if err != nil || len(entries) != 1 || entries[0].Name() != "99-sysctl.conf" {
			t.Fatalf("ReadDir: %v %v", entries, err)
		}
		if fi, err := entries[0].Info(); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("an entry's Info describes the link itself: %v %v", fi, err)
		}
		if _, err := h.ReadDir("/no/such"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a missing folder: %v", err)
		}
		got, err := h.Glob("/etc/*.conf")
		if want := []string{"/etc/abs.conf", "/etc/sysctl.conf"}; err != nil || !slices.Equal(got, want) {
			t.Errorf("Glob: %v %v; want %v", got, err, want)
		}
		if got, _ := h.Glob("/etc/ind*/f.conf"); !slices.Equal(got, []string{"/etc/indir/f.conf"}) {
			t.Errorf("Glob through a link inside: %v", got)
		}
		if got, _ := h.Glob("/etc/sysctl.conf"); !slices.Equal(got, []string{"/etc/sysctl.conf"}) {
			t.Errorf("Glob of a plain name: %v", got)
		}
		if got, _ := h.Glob("/etc/none.conf"); len(got) != 0 {
			t.Errorf("Glob of a missing name: %v", got)
		}
		if _, err := h.Glob("/etc/[.conf"); err == nil {
			t.Error("a bad pattern must be an error")
		}
	})
}

// On the live host (root "/") too, a FIFO is refused, never waited on, and
// links resolve as the machine's own do.
func TestLiveHost(t *testing.T) {
	dir := t.TempDir()
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	must(t, os.Symlink("/dev/urandom", filepath.Join(dir, "x.timer")))
	must(t, os.WriteFile(filepath.Join(dir, "f"), []byte("live\n"), 0o644))
	must(t, os.Symlink(filepath.Join(dir, "f"), filepath.Join(dir, "link")))
	h := New("/")
	if !h.Live() || New("").Root() != "/" {
		t.Fatal("New(\"/\") and New(\"\") are the machine's own tree")
	}
	for p, kind := range map[string]string{"fifo": "a FIFO", "x.timer": "a character device"} {
		_, err := h.ReadFile(filepath.Join(dir, p), 0)
		var nr *NotRegularError
		if !errors.As(err, &nr) || nr.Kind != kind || nr.Path != filepath.Join(dir, p) {
			t.Errorf("%s: %v; want it refused as %s", p, err, kind)
		}
	}
	if b, err := h.ReadFile(filepath.Join(dir, "link"), 0); err != nil || string(b) != "live\n" {
		t.Errorf("link on the live host: %q %v", b, err)
	}
}

// The walk without openat2 keeps a final link unfollowed when asked, and
// the root itself is reachable as "/".
func TestWalkEdges(t *testing.T) {
	modes(t, func(t *testing.T, fsys func(string) *FS) {
		root := t.TempDir()
		must(t, os.WriteFile(filepath.Join(root, "f"), []byte("x"), 0o644))
		must(t, os.Symlink("f", filepath.Join(root, "l")))
		h := fsys(root)
		if fi, err := h.Stat("/"); err != nil || !fi.IsDir() {
			t.Errorf("Stat /: %v %v", fi, err)
		}
		if fi, err := h.Stat("/f/.."); err == nil {
			t.Errorf("a file is not a folder: %v", fi)
		}
		if entries, err := h.ReadDir("/"); err != nil || len(entries) != 2 {
			t.Errorf("ReadDir /: %v %v", entries, err)
		}
		if got, _ := h.Readlink("/l"); got != "f" {
			t.Errorf("Readlink /l: %q", got)
		}
		if _, err := h.Readlink("/f"); err == nil {
			t.Error("Readlink of a regular file must fail")
		}
	})
}

// Follow and Resolve name where a path leads, its links resolved inside
// the root.
func TestFollow(t *testing.T) {
	modes(t, func(t *testing.T, fsys func(string) *FS) {
		root := t.TempDir()
		must(t, os.MkdirAll(filepath.Join(root, "lib/systemd"), 0o755))
		must(t, os.MkdirAll(filepath.Join(root, "sbin"), 0o755))
		must(t, os.WriteFile(filepath.Join(root, "lib/systemd/systemd"), nil, 0o755))
		must(t, os.Symlink("/lib/systemd/systemd", filepath.Join(root, "sbin/init")))
		h := fsys(root)
		if got, err := h.Follow("/sbin/init"); got != "/lib/systemd/systemd" || err != nil {
			t.Errorf("Follow: %q %v", got, err)
		}
		real, _ := filepath.EvalSymlinks(root)
		if got, err := h.Resolve("/sbin/init"); got != filepath.Join(real, "lib/systemd/systemd") || err != nil {
			t.Errorf("Resolve: %q %v", got, err)
		}
		if got, err := h.Follow("/"); got != "/" || err != nil {
			t.Errorf("Follow /: %q %v", got, err)
		}
	})
}
