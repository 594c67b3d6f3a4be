package regfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOpenRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "crontab")
	if err := os.WriteFile(regular, []byte("* * * * * root true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	urandom := filepath.Join(dir, "x.timer")
	if err := os.Symlink("/dev/urandom", urandom); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "hosts")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(regular, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		path     string
		noFollow bool
		kind     string // "" when it opens
	}{
		{"regular", regular, false, ""},
		{"link to a regular file", link, false, ""},
		{"FIFO (would block)", fifo, false, "a FIFO"},
		{"FIFO, no follow", fifo, true, "a FIFO"},
		{"link to /dev/urandom (never ends)", urandom, false, "a character device"},
		{"folder", folder, false, "a folder"},
		{"link, no follow", link, true, "a symbolic link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			open := Open
			if tc.noFollow {
				open = OpenNoFollow
			}
			f, err := open(tc.path)
			if tc.kind == "" {
				if err != nil {
					t.Fatalf("open %s: %v", tc.path, err)
				}
				f.Close()
				return
			}
			if err == nil {
				f.Close()
				t.Fatalf("%s opened; want it refused as %s", tc.path, tc.kind)
			}
			var nr *NotRegularError
			if !errors.As(err, &nr) || nr.Kind != tc.kind || nr.Path != tc.path || !IsNotRegular(err) {
				t.Fatalf("error %v (%T); want a NotRegularError naming %s as %s", err, err, tc.path, tc.kind)
			}
			if !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.kind) {
				t.Errorf("message %q does not name the file and what it is", err)
			}
		})
	}
}

func TestReadFileIsBounded(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(p, make([]byte, 101), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(p, 101); err != nil || len(b) != 101 {
		t.Fatalf("ReadFile at its limit: %d bytes, %v", len(b), err)
	}
	_, err := ReadFile(p, 100)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Limit != 100 {
		t.Fatalf("ReadFile over its limit: %v; want a TooLargeError", err)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "none"), 10); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v; want ErrNotExist", err)
	}
}
