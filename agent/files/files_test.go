package files_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hostdrift/hostdrift/agent"
	_ "github.com/hostdrift/hostdrift/agent/files"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/testkit/audit"
)

const sshdConfig = "# managed\nPermitRootLogin yes\nPasswordAuthentication no\nX11Forwarding yes\n"

// fixtureRoot builds a root with an sshd_config, a link, a folder, a FIFO
// and passwd/group files naming uid and gid 4242.
func fixtureRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write := func(p, s string, mode os.FileMode) {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(s), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(full, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\ndeploy:x:4242:4242::/home/deploy:/usr/sbin/nologin\n", 0o644)
	write("etc/group", "root:x:0:\ndeploy:x:4242:\n", 0o644)
	write("etc/ssh/sshd_config", sshdConfig, 0o600)
	if err := os.Symlink("sshd_config", filepath.Join(root, "etc/ssh/current")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/ssh/gone", filepath.Join(root, "etc/ssh/dangling")); err != nil {
		t.Fatal(err)
	}
	// An absolute link: below --root it must lead to the root's passwd,
	// never the auditing machine's.
	if err := os.Symlink("/etc/passwd", filepath.Join(root, "etc/ssh/users")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "etc/ssh/fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(filepath.Join(root, "etc/ssh/sshd_config"), 4242, 4242); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestFileChecksInFixtureRoot(t *testing.T) {
	root := fixtureRoot(t)
	sum := sha256.Sum256([]byte(sshdConfig))
	digest := hex.EncodeToString(sum[:])
	env := agent.Env{Root: root}
	cases := []struct {
		name, src string
		status    finding.Status
		want      []string // in the explanation
		never     string   // must not appear anywhere in the finding
	}{
		{"all good", `file "sshd" {
  path     = "/etc/ssh/sshd_config"
  type     = "file"
  mode     = "0600"
  size     = ` + itoa(len(sshdConfig)) + `
  sha256   = "` + digest + `"
  contains = "^PasswordAuthentication no$"
}`, finding.Pass, []string{"/etc/ssh/sshd_config modified"}, ""},
		{"mode and secret match", `file "sshd" {
  path         = "/etc/ssh/sshd_config"
  mode         = "0644"
  not_contains = "^PermitRootLogin yes"
}`, finding.Fail, []string{"has mode 0600, not 0644", "line 2 of /etc/ssh/sshd_config matches /^PermitRootLogin yes/"}, "PermitRootLogin yes\""},
		{"not secret quotes the line", `file "sshd" {
  path         = "/etc/ssh/sshd_config"
  not_contains = "^X11Forwarding"
  secret       = false
}`, finding.Fail, []string{`line 4 of /etc/ssh/sshd_config matches /^X11Forwarding/: "X11Forwarding yes"`}, ""},
		{"missing line", `file "sshd" {
  path     = "/etc/ssh/sshd_config"
  contains = ["^PasswordAuthentication no$", "^MaxAuthTries [1-3]$"]
}`, finding.Fail, []string{"no line of /etc/ssh/sshd_config matches /^MaxAuthTries [1-3]$/"}, ""},
		{"digest changed", `file "sshd" {
  path   = "/etc/ssh/sshd_config"
  sha256 = "` + strings.Repeat("0", 64) + `"
}`, finding.Fail, []string{"the content of /etc/ssh/sshd_config changed: sha256 " + digest}, ""},
		{"symlink target", `file "cur" {
  path   = "/etc/ssh/current"
  type   = "symlink"
  target = "sshd_config"
}`, finding.Pass, nil, ""},
		{"symlink is not a file", `file "cur" {
  path = "/etc/ssh/current"
  type = "file"
}`, finding.Fail, []string{"/etc/ssh/current is a symbolic link, not a regular file"}, ""},
		{"dangling", `file "d" {
  path = "/etc/ssh/dangling"
}`, finding.Fail, []string{"/etc/ssh/dangling is a symbolic link to /etc/ssh/gone, which does not exist"}, ""},
		{"absolute link stays in the root", `file "users" {
  path     = "/etc/ssh/users"
  type     = "symlink"
  target   = "/etc/passwd"
  contains = "^deploy:x:4242:"
}`, finding.Pass, nil, ""},
		{"folder", `file "d" {
  path = "/etc/ssh"
  type = "dir"
}`, finding.Pass, nil, ""},
		{"must be absent", `file "d" {
  path   = "/etc/ssh/sshd_config"
  exists = false
}`, finding.Fail, []string{"/etc/ssh/sshd_config exists, and the policy says it must not"}, ""},
		{"absent", `file "d" {
  path   = "/etc/nologin"
  exists = false
}`, finding.Pass, nil, ""},
		{"fifo content is not read", `file "f" {
  path     = "/etc/ssh/fifo"
  contains = "x"
}`, finding.Error, []string{"not a regular file"}, ""},
	}
	if os.Geteuid() == 0 {
		cases = append(cases, struct {
			name, src string
			status    finding.Status
			want      []string
			never     string
		}{"owner by name and id", `file "sshd" {
  path  = "/etc/ssh/sshd_config"
  owner = "root"
  group = "4242"
}`, finding.Fail, []string{"/etc/ssh/sshd_config is owned by deploy:deploy, not root:4242"}, ""})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := audit.One(t, c.src, env)
			if f.Status != c.status {
				t.Fatalf("status %s, want %s: %s", f.Status, c.status, f.Explanation)
			}
			for _, w := range c.want {
				if !strings.Contains(f.Explanation, w) {
					t.Errorf("explanation lacks %q:\n%s", w, f.Explanation)
				}
			}
			if c.never != "" && strings.Contains(f.Explanation+f.Observed+f.Remediation, c.never) {
				t.Errorf("the finding quotes a secret line: %+v", f)
			}
			if f.Status == finding.Fail && f.Remediation == "" {
				t.Errorf("no remediation: %+v", f)
			}
		})
	}
}

// TestFileLive: a real file on the live host, and /proc refused for content.
func TestFileLive(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.conf")
	if err := os.WriteFile(p, []byte("listen 8080\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	env := agent.Env{Root: "/"}
	f := audit.One(t, `file "app" {
  path     = "`+p+`"
  mode     = "0640"
  owner    = "`+itoa(os.Geteuid())+`"
  contains = "^listen 8080$"
}`, env)
	if f.Status != finding.Pass {
		t.Fatalf("%s: %s", f.Status, f.Explanation)
	}
	f = audit.One(t, `file "proc" {
  path     = "/proc/self/status"
  contains = "^Name:"
}`, env)
	if f.Status != finding.Error || !strings.Contains(f.Explanation, "procfs") {
		t.Fatalf("reading /proc: %s: %s", f.Status, f.Explanation)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
