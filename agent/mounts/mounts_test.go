package mounts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/agent"
	_ "github.com/hostdrift/hostdrift/agent/mounts"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/testkit/audit"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// childEnv marks the copy of the test binary that runs inside a private
// mount namespace.
const childEnv = "HOSTDRIFT_MOUNTNS_CHILD"

// sandboxEnv marks TestMountSandbox's process, in a mount namespace of its
// own below the child's, as a systemd unit's sandbox is below the host's.
const sandboxEnv = "HOSTDRIFT_MOUNTNS_SANDBOX"

// TestMountInNamespace runs TestMountChild as the first process of a PID
// namespace with a private mount namespace (unshare -m -p), a host of its
// own: it mounts a small tmpfs and a fixture fstab without touching the
// machine's own mounts.
func TestMountInNamespace(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "unshare")
	nstest.RequireCommand(t, "mksquashfs")
	cmd := exec.Command("unshare", "--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private", os.Args[0], "-test.run", "^TestMountChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+t.TempDir())
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	if err != nil {
		t.Fatalf("the child in a private mount namespace failed: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestMountChild") {
		t.Fatal("the child test did not run to a pass")
	}
}

func TestMountChild(t *testing.T) {
	dir := os.Getenv(childEnv)
	if dir == "" {
		t.Skip("runs only inside TestMountInNamespace's private mount namespace")
	}
	mnt := filepath.Join(dir, "my data") // a blank, escaped as \040 in mountinfo
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("hdtest", mnt, "tmpfs", unix.MS_NOEXEC|unix.MS_NOSUID, "size=1m"); err != nil {
		t.Fatal(err)
	}
	// 900 KB of the 1 MB: 88% full.
	if err := os.WriteFile(filepath.Join(mnt, "fill"), make([]byte, 900<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	fstab := filepath.Join(dir, "fstab")
	esc := strings.ReplaceAll(mnt, " ", `\040`)
	if err := os.WriteFile(fstab, []byte("# fixture\nhdtest "+esc+" tmpfs noexec,size=1m 0 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(fstab, "/etc/fstab", "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	env := agent.Env{Root: "/"}
	for _, c := range []struct {
		name, src string
		status    finding.Status
		want      string
	}{
		{"type and options", `mount "m" {
  path    = "` + mnt + `"
  fstype  = "tmpfs"
  options = ["noexec", "nosuid"]
}`, finding.Pass, "tmpfs hdtest, rw,nosuid,noexec"},
		{"nodev missing", `mount "m" {
  path    = "` + mnt + `"
  options = ["noexec", "nodev"]
}`, finding.Fail, mnt + " is mounted without nodev"},
		{"full", `mount "m" {
  path             = "` + mnt + `"
  min_free_percent = 20
}`, finding.Fail, mnt + " is 88% full"},
		{"fstab lacks nosuid", `mount "m" {
  path  = "` + mnt + `"
  fstab = true
}`, finding.Fail, mnt + " is mounted nosuid now, but line 2 of /etc/fstab does not say so: the next boot drops it"},
		{"not a mount point", `mount "m" {
  path = "` + dir + `"
}`, finding.Fail, dir + " is not a mount point: it is part of"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := audit.One(t, c.src, env)
			if f.Status != c.status || !strings.Contains(f.Explanation+f.Observed, c.want) {
				t.Errorf("%s, want %s with %q:\n%s\n%s", f.Status, c.status, c.want, f.Explanation, f.Observed)
			}
			if f.Status == finding.Fail && f.Remediation == "" {
				t.Error("no remediation")
			}
		})
	}
	// A snap: a squashfs image on a loop device, 100% full by construction.
	snap := filepath.Join(dir, "snap")
	img := filepath.Join(dir, "snap.img")
	if err := os.MkdirAll(filepath.Join(dir, "snapsrc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "snapsrc", "meta"), []byte("name: hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mksquashfs", filepath.Join(dir, "snapsrc"), img, "-quiet", "-noappend").CombinedOutput(); err != nil {
		t.Fatalf("mksquashfs: %v\n%s", err, out)
	}
	if err := os.MkdirAll(snap, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "squashfs", "-o", "loop,ro,nodev", img, snap).CombinedOutput(); err != nil {
		t.Fatalf("mounting a squashfs image as snapd does: %v\n%s", err, out)
	}
	defer exec.Command("umount", snap).Run()
	f := audit.One(t, `mount "space" {
  path             = "*"
  min_free_percent = 5
}`, env)
	if f.Status != finding.Pass || strings.Contains(f.Explanation, mnt) || strings.Contains(f.Explanation, snap) {
		t.Errorf("neither tmpfs nor a squashfs image is a disk file system for path = \"*\": %s %s", f.Status, f.Explanation)
	}
	if f := audit.One(t, `mount "snap" {
  path   = "`+snap+`"
  fstype = "squashfs"
}`, env); f.Status != finding.Pass {
		t.Errorf("the squashfs image is a mount point of its own, judged like any other: %s %s", f.Status, f.Explanation)
	}

	// hostdrift in a mount namespace of its own (serve's unit: ProtectSystem=,
	// PrivateTmp=) still judges the host's mounts, PID 1's, not its own.
	sandbox := exec.Command("unshare", "--mount", "--propagation", "private", os.Args[0], "-test.run", "^TestMountSandbox$", "-test.v", "-test.count=1")
	sandbox.Env = append(os.Environ(), sandboxEnv+"="+dir)
	out, err := sandbox.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestMountSandbox") {
		t.Errorf("in a mount namespace of its own: %v\n%s", err, out)
	}
}

// TestMountSandbox mounts a tmpfs in its own mount namespace, which the
// host (PID 1 of TestMountChild's PID namespace) does not have, and reads
// the mounts: the host's tmpfs is there, its own is not.
func TestMountSandbox(t *testing.T) {
	dir := os.Getenv(sandboxEnv)
	if dir == "" {
		t.Skip("runs only inside TestMountChild's sandbox")
	}
	own := filepath.Join(dir, "sandbox only")
	if err := os.MkdirAll(own, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("hdsandbox", own, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	env := agent.Env{Root: "/"}
	if f := audit.One(t, `mount "m" {
  path = "`+own+`"
}`, env); f.Status != finding.Fail || !strings.Contains(f.Explanation, "is not a mount point") {
		t.Errorf("the sandbox's own mount was judged as the host's: %s: %s", f.Status, f.Explanation)
	}
	if f := audit.One(t, `mount "m" {
  path   = "`+filepath.Join(dir, "my data")+`"
  fstype = "tmpfs"
}`, env); f.Status != finding.Pass {
		t.Errorf("the host's mount was not seen from the sandbox: %s: %s", f.Status, f.Explanation)
	}
}

// TestFstabBelowRoot: below --root only fstab is read, and mount checks
// skip with the reason.
func TestFstabBelowRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/fstab"), []byte("/dev/sdb1 /var xfs nodev 0 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fs, snap := audit.Run(t, `mount "var" {
  path = "/var"
}`, agent.Env{Root: root})
	if fs[0].Status != finding.Skip || !strings.Contains(fs[0].Explanation, "only on the live host") {
		t.Errorf("%s: %s", fs[0].Status, fs[0].Explanation)
	}
	if snap.Mounts == nil || len(snap.Mounts.Fstab) != 1 || snap.Mounts.Fstab[0].MountPoint != "/var" {
		t.Errorf("fstab: %+v", snap.Mounts)
	}
}
