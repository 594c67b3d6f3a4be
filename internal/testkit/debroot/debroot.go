// Package debroot gives tests Debian root filesystems: made with
// debootstrap from the machine's own apt mirror, cached between runs in
// /var/cache/hostdrift-test, and copied for each test that changes them.
package debroot

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// CacheDir keeps debootstrapped root filesystems between test runs, one per
// suite and package set; each test works on a copy.
const CacheDir = "/var/cache/hostdrift-test"

// Source is one "deb" entry of the machine's apt sources.
type Source struct {
	URI, Suite, SignedBy string
}

// parseSourcesList reads one-line entries: deb [options] URI SUITE COMPONENT...
func parseSourcesList(r io.Reader) []Source {
	var out []Source
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
			out = append(out, Source{URI: f[0], Suite: f[1], SignedBy: signedBy})
		}
	}
	return out
}

// parseDeb822 reads *.sources stanzas (Types, URIs, Suites, Signed-By, Enabled).
func parseDeb822(r io.Reader) []Source {
	var out []Source
	flush := func(st map[string]string) {
		if !strings.Contains(" "+st["types"]+" ", " deb ") || strings.EqualFold(st["enabled"], "no") {
			return
		}
		for _, uri := range strings.Fields(st["uris"]) {
			for _, suite := range strings.Fields(st["suites"]) {
				out = append(out, Source{URI: uri, Suite: suite, SignedBy: st["signed-by"]})
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

// HostMirror returns the machine's main Debian suite and its mirror, from
// /etc/apt/sources.list and /etc/apt/sources.list.d: the first deb entry
// whose suite is a release (not -updates, -security or -backports).
func HostMirror(t testing.TB) Source {
	t.Helper()
	var all []Source
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
	return Source{}
}

// Cached returns a minbase root filesystem of the host's suite with the
// packages in include added, made with debootstrap on first use and kept
// in CacheDir. Tests must not change it: Copy it first.
func Cached(t testing.TB, include ...string) string {
	t.Helper()
	return CachedSuite(t, "", include...)
}

// CachedSuite is Cached for another Debian suite (a codename such as
// trixie), taken from the same mirror URI as the host's own suite; "" is
// the host's suite. debootstrap must know the suite and the mirror must
// serve it: otherwise the test fails and says which.
func CachedSuite(t testing.TB, suite string, include ...string) string {
	t.Helper()
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "debootstrap")
	src := HostMirror(t)
	if suite != "" {
		if strings.ContainsAny(suite, "-/ ") {
			t.Fatalf("debroot: suite %q is not a release codename (such as bookworm or trixie)", suite)
		}
		if _, err := os.Stat(filepath.Join("/usr/share/debootstrap/scripts", suite)); err != nil {
			t.Fatalf("debroot: this debootstrap does not know suite %q (no /usr/share/debootstrap/scripts/%s): upgrade debootstrap", suite, suite)
		}
		src.Suite = suite
	}
	include = append([]string(nil), include...)
	sort.Strings(include)
	name := "debootstrap-" + src.Suite + "-minbase"
	if len(include) > 0 {
		name += "+" + strings.Join(include, ",")
	}
	root := filepath.Join(CacheDir, name)
	if err := os.MkdirAll(CacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(CacheDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
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
	tmp, err := os.MkdirTemp(CacheDir, ".debootstrap-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if m := MountsBelow(tmp); len(m) > 0 {
			t.Errorf("debootstrap left mounts %v; %s is not removed", m, tmp)
			return
		}
		os.RemoveAll(tmp)
	}()
	args := []string{"--variant=minbase"}
	if len(include) > 0 {
		args = append(args, "--include="+strings.Join(include, ","))
	}
	if st, err := os.Stat(src.SignedBy); err == nil && st.Mode().IsRegular() {
		args = append(args, "--keyring="+src.SignedBy)
	}
	args = append(args, src.Suite, tmp, src.URI)
	t.Logf("debootstrap %s (cached in %s for later runs)", strings.Join(args, " "), root)
	if out, err := exec.Command("debootstrap", args...).CombinedOutput(); err != nil {
		// Its output names the failing stage; its log, removed with tmp,
		// says why.
		log, _ := os.ReadFile(filepath.Join(tmp, "debootstrap/debootstrap.log"))
		t.Fatalf("debootstrap %s from the host's mirror: %v (does the mirror serve %s?)\n%s\nthe end of debootstrap.log:\n%s", src.Suite, err, src.Suite, Tail(out), Tail(log))
	}
	if err := os.Rename(tmp, root); err != nil {
		t.Fatal(err)
	}
	return root
}

// Copy makes a working copy of a cached root in CacheDir, removed at
// cleanup unless something is still mounted below it.
func Copy(t testing.TB, cached string) string {
	t.Helper()
	root, err := os.MkdirTemp(CacheDir, "run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if m := MountsBelow(root); len(m) > 0 {
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
	return root
}

// Tail is the end of a long command output, for failure messages.
func Tail(b []byte) []byte {
	if len(b) > 4000 {
		return b[len(b)-4000:]
	}
	return b
}

// MountsBelow lists the mount points at or below dir.
func MountsBelow(dir string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}
