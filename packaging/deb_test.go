package packaging

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/internal/nstest"
)

// cacheDir keeps debootstrapped root filesystems between test runs, one per
// suite; each test works on a copy.
const cacheDir = "/var/cache/hostdrift-test"

// aptSource is one "deb" entry of the machine's apt sources.
type aptSource struct {
	URI, Suite, SignedBy string
}

// parseSourcesList reads one-line entries: deb [options] URI SUITE COMPONENT...
func parseSourcesList(r io.Reader) []aptSource {
	var out []aptSource
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		var signedBy string
		if strings.HasPrefix(f[0], "[") {
			for len(f) > 0 {
				opt := strings.Trim(f[0], "[]")
				if v, ok := strings.CutPrefix(opt, "signed-by="); ok {
					signedBy = v
				}
				end := strings.HasSuffix(f[0], "]")
				f = f[1:]
				if end {
					break
				}
			}
		}
		if len(f) >= 2 {
			out = append(out, aptSource{URI: f[0], Suite: f[1], SignedBy: signedBy})
		}
	}
	return out
}

// parseDeb822 reads *.sources stanzas (Types, URIs, Suites, Signed-By, Enabled).
func parseDeb822(r io.Reader) []aptSource {
	var out []aptSource
	flush := func(st map[string]string) {
		if !strings.Contains(" "+st["types"]+" ", " deb ") || strings.EqualFold(st["enabled"], "no") {
			return
		}
		for _, uri := range strings.Fields(st["uris"]) {
			for _, suite := range strings.Fields(st["suites"]) {
				out = append(out, aptSource{URI: uri, Suite: suite, SignedBy: st["signed-by"]})
			}
		}
	}
	st := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush(st)
			st = map[string]string{}
		case strings.HasPrefix(line, "#"), strings.HasPrefix(line, " "), strings.HasPrefix(line, "\t"):
			// a comment, or a continuation (an inline key): not needed here
		default:
			if k, v, ok := strings.Cut(line, ":"); ok {
				st[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
	}
	flush(st)
	return out
}

// hostMirror returns the machine's main Debian suite and its mirror, from
// /etc/apt/sources.list and /etc/apt/sources.list.d: the first deb entry
// whose suite is a release (not -updates, -security or -backports).
func hostMirror(t *testing.T) aptSource {
	t.Helper()
	var all []aptSource
	files := []string{"/etc/apt/sources.list"}
	lists, _ := filepath.Glob("/etc/apt/sources.list.d/*.list")
	sources, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, p := range append(append(files, lists...), sources...) {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if strings.HasSuffix(p, ".sources") {
			all = append(all, parseDeb822(bytes.NewReader(b))...)
		} else {
			all = append(all, parseSourcesList(bytes.NewReader(b))...)
		}
	}
	for _, s := range all {
		if !strings.ContainsAny(s.Suite, "-/") {
			return s
		}
	}
	t.Fatalf("no Debian release suite in the apt sources (%d deb entries); debootstrap needs a mirror", len(all))
	return aptSource{}
}

func TestParseAptSources(t *testing.T) {
	list := parseSourcesList(strings.NewReader(`# comment
deb [arch=amd64 signed-by=/k.gpg] http://mirror.invalid/debian bookworm main
deb-src http://mirror.invalid/debian bookworm main
deb http://mirror.invalid/debian-security bookworm-security main # trailing
`))
	if len(list) != 2 || list[0] != (aptSource{"http://mirror.invalid/debian", "bookworm", "/k.gpg"}) || list[1].Suite != "bookworm-security" {
		t.Errorf("sources.list: %+v", list)
	}
	deb822 := parseDeb822(strings.NewReader(`Types: deb deb-src
# http://snapshot.invalid/archive
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://other.invalid/debian
Suites: trixie
Enabled: no
`))
	if len(deb822) != 2 || deb822[0] != (aptSource{"http://mirror.invalid/debian", "bookworm", "/usr/share/keyrings/debian-archive-keyring.gpg"}) || deb822[1].Suite != "bookworm-updates" {
		t.Errorf("deb822: %+v", deb822)
	}
}

// cachedRoot returns a minbase root filesystem of the host's suite, made with
// debootstrap on first use and kept in cacheDir.
func cachedRoot(t *testing.T) string {
	t.Helper()
	src := hostMirror(t)
	root := filepath.Join(cacheDir, "debootstrap-"+src.Suite+"-minbase")
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(cacheDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	if _, err := os.Stat(filepath.Join(root, "usr/bin/dpkg")); err == nil {
		return root
	}
	tmp, err := os.MkdirTemp(cacheDir, ".debootstrap-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if m := mountsBelow(tmp); len(m) > 0 {
			t.Errorf("debootstrap left mounts %v; %s is not removed", m, tmp)
			return
		}
		os.RemoveAll(tmp)
	}()
	args := []string{"--variant=minbase"}
	if st, err := os.Stat(src.SignedBy); err == nil && st.Mode().IsRegular() {
		args = append(args, "--keyring="+src.SignedBy)
	}
	args = append(args, src.Suite, tmp, src.URI)
	t.Logf("debootstrap %s (cached in %s for later runs)", strings.Join(args, " "), root)
	if out, err := exec.Command("debootstrap", args...).CombinedOutput(); err != nil {
		t.Fatalf("debootstrap: %v\n%s", err, tail(out))
	}
	if err := os.Rename(tmp, root); err != nil {
		t.Fatal(err)
	}
	return root
}

func tail(b []byte) []byte {
	if len(b) > 4000 {
		return b[len(b)-4000:]
	}
	return b
}

// mountsBelow lists the mount points at or below dir.
func mountsBelow(dir string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}

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

	cached := cachedRoot(t)
	root, err := os.MkdirTemp(cacheDir, "run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if m := mountsBelow(root); len(m) > 0 {
			for i := len(m) - 1; i >= 0; i-- {
				exec.Command("umount", "-l", m[i]).Run()
			}
			t.Errorf("mounts left below the test root: %v", m)
			return // never remove a tree that may still hold a mount
		}
		os.RemoveAll(root)
	})
	if out, err := exec.Command("cp", "-a", cached+"/.", root).CombinedOutput(); err != nil {
		t.Fatalf("copy the cached root: %v\n%s", err, out)
	}
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
	for _, f := range []string{"usr/bin/hostdrift", "lib/systemd/system/hostdrift.service", "lib/systemd/system/hostdrift.timer",
		"usr/share/man/man1/hostdrift.1.gz", "etc/hostdrift/policies/README", "etc/default/hostdrift", "usr/share/hostdrift/examples/listeners.hcl.example"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("not installed: /%s", f)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(root, "etc/hostdrift/policies/*.hcl")); len(m) > 0 {
		t.Errorf("the package installs policies %v that would replace the built-in default", m)
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
	if m := mountsBelow(root); len(m) > 0 {
		t.Errorf("mounts leaked out of the private namespace: %v", m)
	}

	if out, err := inRoot("dpkg", "--purge", "hostdrift"); err != nil {
		t.Fatalf("dpkg --purge: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/bin/hostdrift")); err == nil {
		t.Error("/usr/bin/hostdrift is still there after purge")
	}
}
