package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/debroot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// TestDebInstallsAndRuns builds the package as make deb does, installs it
// with dpkg into a fresh Debian root filesystem, and runs hostdrift there.
func TestDebInstallsAndRuns(t *testing.T) {
	nstest.RequireRoot(t)
	for _, c := range []string{"debootstrap", "dpkg-deb", "dpkg", "unshare", "chroot"} {
		nstest.RequireCommand(t, c)
	}
	bin := binary(t)
	arch, err := exec.Command("dpkg", "--print-architecture").Output()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "deb/build.sh", bin, "v0.9.0-test", strings.TrimSpace(string(arch)), t.TempDir()).CombinedOutput()
	if err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	deb := strings.TrimSpace(string(out))
	if filepath.Base(deb) != "hostdrift_0.9.0+test_"+strings.TrimSpace(string(arch))+".deb" {
		t.Errorf("package file %s", deb)
	}

	root := debroot.Copy(t, debroot.Cached(t))
	if out, err := exec.Command("cp", deb, filepath.Join(root, "tmp", "hostdrift.deb")).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	inRoot := func(args ...string) (string, error) {
		cmd := exec.Command("chroot", append([]string{root}, args...)...)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive"}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := inRoot("dpkg", "-i", "/tmp/hostdrift.deb"); err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}
	for _, f := range []string{"usr/bin/hostdrift", "lib/systemd/system/hostdrift.service", "lib/systemd/system/hostdrift.timer", "lib/systemd/system/hostdrift-serve.service",
		"usr/share/man/man1/hostdrift.1.gz", "etc/hostdrift/policies/README", "etc/default/hostdrift", "usr/share/hostdrift/examples/listeners.hcl.example", "usr/share/hostdrift/hostdrift.rules.yml"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("not installed: /%s", f)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(root, "etc/systemd/system/*.wants/hostdrift*")); len(m) > 0 {
		t.Errorf("the package enables units %v: the operator chooses the timer or the agent", m)
	}
	if m, _ := filepath.Glob(filepath.Join(root, "etc/hostdrift/policies/*.hcl")); len(m) > 0 {
		t.Errorf("the package installs policies %v that would replace the built-in checks", m)
	}

	// Run it with /proc mounted in a private mount namespace: the mount
	// disappears with the namespace when the command ends.
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--fork", "sh", "-c",
		`mount -t proc proc "$1/proc" && exec chroot "$1" /usr/bin/hostdrift check --color never`, "sh", root)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != 0 && code != 1 && code != 3 {
		t.Errorf("hostdrift check in the Debian root: exit %d, want 0, 1 or 3\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "hostdrift check on ") || !strings.Contains(stdout.String(), " checks: ") {
		t.Errorf("no table on stdout:\n%s\nstderr: %s", stdout.String(), stderr.String())
	}
	if m := debroot.MountsBelow(root); len(m) > 0 {
		t.Errorf("mounts leaked out of the private namespace: %v", m)
	}

	if out, err := inRoot("dpkg", "--purge", "hostdrift"); err != nil {
		t.Fatalf("dpkg --purge: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/bin/hostdrift")); err == nil {
		t.Error("/usr/bin/hostdrift is still there after purge")
	}
}
