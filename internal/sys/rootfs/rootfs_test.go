package rootfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A root whose links point at absolute paths, out of the root, and at a
// FIFO: reads stay inside the root and never block or read what is not a
// regular file.
func TestReadsStayInTheRoot(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "etc/sysctl.d"), 0o755))
	must(os.WriteFile(filepath.Join(root, "etc/sysctl.conf"), []byte("vm.swappiness = 10\n"), 0o644))
	must(os.Symlink("../sysctl.conf", filepath.Join(root, "etc/sysctl.d/99-sysctl.conf")))
	must(os.Symlink("/etc/sysctl.conf", filepath.Join(root, "etc/abs.conf")))
	must(os.Symlink("../../../../../../../../etc/hostname", filepath.Join(root, "etc/escape")))
	must(os.WriteFile(filepath.Join(root, "etc/big"), make([]byte, 100), 0o644))
	must(syscall.Mkfifo(filepath.Join(root, "etc/fifo"), 0o644))

	for _, p := range []string{"/etc/sysctl.d/99-sysctl.conf", "/etc/abs.conf"} {
		b, err := ReadFile(root, p, 0)
		if err != nil || string(b) != "vm.swappiness = 10\n" {
			t.Errorf("%s: %q, %v", p, b, err)
		}
	}
	if _, err := ReadFile(root, "/etc/escape", 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a link out of the root must resolve inside it (and not exist there): %v", err)
	}
	if _, err := ReadFile(root, "/etc/fifo", 0); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("fifo: %v", err)
	}
	// On the live host (root "/") too: a FIFO is refused, never waited on.
	if _, err := ReadFile("/", filepath.Join(root, "etc/fifo"), 0); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("live fifo: %v", err)
	}
	if _, err := ReadFile(root, "/etc/big", 50); err == nil || !strings.Contains(err.Error(), "larger than 50 bytes") {
		t.Errorf("bound: %v", err)
	}
	if got := Readlink(root, "/etc/abs.conf"); got != "/etc/sysctl.conf" {
		t.Errorf("Readlink: %q", got)
	}
	entries, err := ReadDir(root, "/etc/sysctl.d")
	if err != nil || len(entries) != 1 {
		t.Errorf("ReadDir: %v %v", entries, err)
	}
	if entries, err := ReadDir(root, "/no/such"); err != nil || entries != nil {
		t.Errorf("a missing folder is empty: %v %v", entries, err)
	}
	if !Exists(root, "/etc/abs.conf") || Exists(root, "/etc/escape") {
		t.Error("Exists")
	}
}
