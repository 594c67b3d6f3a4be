package dns

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// A FIFO resolv.conf and a /etc/hosts that links to /dev/zero (the root's
// own: links resolve inside it) are not opened (one blocks, the other never
// ends): each is named in the section's errors and the collector returns.
func TestCollectSkipsFilesThatAreNotRegular(t *testing.T) {
	nstest.RequireRoot(t) // to make the root's /dev/zero
	root := t.TempDir()
	for _, d := range []string{"etc", "dev"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mknod(filepath.Join(root, "dev", "zero"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(root, "etc", "resolv.conf"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(root, "etc", "hosts")); err != nil {
		t.Fatal(err)
	}
	d, err := collect(t, context.Background(), root, 53)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.ResolvConfError, "resolv.conf is a FIFO") {
		t.Errorf("resolv.conf error %q; want it named a FIFO", d.ResolvConfError)
	}
	if !strings.Contains(d.HostsError, "hosts is a character device") {
		t.Errorf("hosts error %q; want it named a character device", d.HostsError)
	}
}
