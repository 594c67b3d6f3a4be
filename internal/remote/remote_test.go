package remote

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Target
		err  string
	}{
		{in: "web1", want: Target{Host: "web1"}},
		{in: "root@web1", want: Target{User: "root", Host: "web1"}},
		{in: "ops@10.0.0.5:2222", want: Target{User: "ops", Host: "10.0.0.5", Port: 2222}},
		{in: "[2001:db8::1]:22", want: Target{Host: "2001:db8::1", Port: 22}},
		{in: "2001:db8::1", want: Target{Host: "2001:db8::1"}},
		{in: "a@b@host", want: Target{User: "a@b", Host: "host"}},
		{in: "web1:0", err: "from 1 to 65535"},
		{in: "web1:ssh", err: "from 1 to 65535"},
		{in: "@web1", err: "user before @ is empty"},
		{in: "", err: "no host"},
		{in: "-oProxyCommand=x", err: "not a host"},
		{in: "[::1", err: "closing ]"},
		{in: "2001:db8::zz", err: "[address]:port"},
	} {
		got, err := ParseTarget(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseTarget(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if again, err := ParseTarget(got.String()); err != nil || again != got {
			t.Errorf("ParseTarget(%q.String() = %q) = %+v, %v", tc.in, got.String(), again, err)
		}
	}
}

// TestQuote runs sh to read the quoted words back.
func TestQuote(t *testing.T) {
	words := []string{"plain", "", "it's", "a b", `"$HOME"`, "`id`", "x;rm -rf /", "new\nline", "back\\slash", "ünï"}
	out, err := exec.Command("/bin/sh", "-c", `for w in `+QuoteAll(words)+`; do printf '%s\0' "$w"; done`).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if !slices.Equal(got, words) {
		t.Errorf("sh read back %q, want %q", got, words)
	}
}

func TestParseProbe(t *testing.T) {
	p, err := ParseProbe(strings.NewReader("Welcome to web1!\nhostdrift-probe\nLinux x86_64\nbin\t/usr/bin/hostdrift\thostdrift v1.2.0\tabc\nend\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.OS != "Linux" || p.Machine != "x86_64" || len(p.Installed) != 1 || p.Installed[0] != (Installed{"/usr/bin/hostdrift", "hostdrift v1.2.0", "abc"}) {
		t.Errorf("got %+v", p)
	}
	for _, bad := range []string{"", "hostdrift-probe\nLinux x86_64\n", "Linux x86_64\nend\n", "hostdrift-probe\nLinux\nend\n", "hostdrift-probe\nLinux x86_64\nbin\tonly\nend\n"} {
		if _, err := ParseProbe(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseProbe(%q) gave no error", bad)
		}
	}
}

func TestChoose(t *testing.T) {
	self := Self{Version: "v1.2.0", SHA256: "aaa", GOOS: "linux", GOARCH: "amd64"}
	dev := self
	dev.Version = "dev"
	dirty := self
	dirty.Version = "v1.2.0-3-gabc+dirty"
	linux := Probe{OS: "Linux", Machine: "x86_64"}
	with := func(p Probe, in ...Installed) Probe { p.Installed = in; return p }
	for _, tc := range []struct {
		name  string
		self  Self
		probe Probe
		path  string // "": copy
		err   string
	}{
		{name: "nothing installed: copy", self: self, probe: linux},
		{name: "same version", self: self, probe: with(linux, Installed{"/usr/bin/hostdrift", "hostdrift v1.2.0", "bbb"}), path: "/usr/bin/hostdrift"},
		{name: "other version: copy", self: self, probe: with(linux, Installed{"/usr/bin/hostdrift", "hostdrift v1.1.0", "bbb"})},
		{name: "second candidate matches", self: self, probe: with(linux, Installed{"/usr/bin/hostdrift", "hostdrift v1.1.0", "bbb"}, Installed{"/usr/local/bin/hostdrift", "hostdrift v1.2.0", "ccc"}), path: "/usr/local/bin/hostdrift"},
		{name: "dev builds are not a version", self: dev, probe: with(linux, Installed{"/usr/bin/hostdrift", "hostdrift dev", "bbb"})},
		{name: "dirty builds are not a version", self: dirty, probe: with(linux, Installed{"/usr/bin/hostdrift", "hostdrift " + dirty.Version, "bbb"})},
		{name: "the same bytes are", self: dev, probe: with(linux, Installed{"/usr/bin/hostdrift", "hostdrift dev", "aaa"}), path: "/usr/bin/hostdrift"},
		{name: "other architecture", self: self, probe: Probe{OS: "Linux", Machine: "aarch64"}, err: "aarch64 (uname -m)"},
		{name: "other architecture with the version installed", self: self, probe: with(Probe{OS: "Linux", Machine: "aarch64"}, Installed{"/usr/bin/hostdrift", "hostdrift v1.2.0", "bbb"}), path: "/usr/bin/hostdrift"},
		{name: "other kernel", self: self, probe: Probe{OS: "FreeBSD", Machine: "amd64"}, err: "runs FreeBSD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Choose(tc.self, tc.probe)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Choose = %+v, %v; want an error with %q", c, err, tc.err)
				}
				return
			}
			if err != nil || c.Path != tc.path {
				t.Fatalf("Choose = %+v, %v; want path %q", c, err, tc.path)
			}
		})
	}
}

func TestArgs(t *testing.T) {
	c := Client{Config: "/etc/cfg", Options: []string{"ConnectTimeout=3", "ProxyJump=bastion"}}
	got := c.args(Target{User: "ops", Host: "web1", Port: 2222}, "echo hi")
	want := []string{"-T", "-a", "-x", "-o", "BatchMode=yes", "-F", "/etc/cfg", "-o", "ConnectTimeout=3", "-o", "ProxyJump=bastion",
		"-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3", "-o", "ClearAllForwardings=yes",
		"-l", "ops", "-p", "2222", "--", "web1", "sh -c 'echo hi'"}
	if !slices.Equal(got, want) {
		t.Errorf("args =\n%q\nwant\n%q", got, want)
	}
	if got := (Client{ConnectTimeout: 1500 * time.Millisecond}).args(Target{Host: "h"}, "x"); !slices.Contains(got, "ConnectTimeout=2") {
		t.Errorf("a timeout of 1.5s should round up to 2: %q", got)
	}
	for _, o := range []string{"BatchMode=no", "batchmode=no", "ConnectTimeout", "=x", "Bad Key=1"} {
		if CheckOption(o) == nil {
			t.Errorf("CheckOption(%q) accepted it", o)
		}
	}
	if err := CheckOption("ConnectTimeout=5"); err != nil {
		t.Error(err)
	}
}

// TestScripts runs the copy and run scripts with this machine's sh, as the
// remote's would: the copy is private, a changed copy is not run, and the
// copy is gone afterwards however the run ends.
func TestScripts(t *testing.T) {
	tmp := t.TempDir()
	sh := func(script string, stdin string) (string, string, int) {
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	prog := "#!/bin/sh\necho \"ran with $# args: $*\"; read line; echo \"stdin: $line\"; exit 3\n"
	sum := sha256.Sum256([]byte(prog))
	sha := hex.EncodeToString(sum[:])
	copyOnce := func() string {
		out, errOut, code := sh(copyScript, prog)
		path, ok := strings.CutPrefix(strings.TrimSpace(out), "file\t")
		if code != 0 || !ok || filepath.Dir(path) != tmp {
			t.Fatalf("copy: exit %d, %q %q", code, out, errOut)
		}
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != 0o700 {
			t.Fatalf("the copy %s: %v %v, want mode 0700", path, st.Mode(), err)
		}
		return path
	}

	path := copyOnce()
	out, errOut, code := sh(runScript(path, sha, false, []string{"check", "--var", "a=it's"}), "policy\n")
	if code != 3 || out != "ran with 3 args: check --var a=it's\nstdin: policy\n" {
		t.Errorf("run: exit %d, %q %q", code, out, errOut)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the copy %s is still there after the run: %v", path, err)
	}

	path = copyOnce()
	out, errOut, code = sh(runScript(path, strings.Repeat("0", 64), false, []string{"check"}), "")
	if code != exitMismatch || out != "" || !strings.Contains(errOut, "SHA-256 differs") {
		t.Errorf("a changed copy: exit %d, %q %q; want %d, not run", code, out, errOut, exitMismatch)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the changed copy %s is still there: %v", path, err)
	}

	// An installed hostdrift is run in place and never removed.
	installed := filepath.Join(tmp, "installed")
	if err := os.WriteFile(installed, []byte(prog), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, code = sh(runScript(installed, "", false, []string{"check"}), "x\n"); code != 3 {
		t.Errorf("installed: exit %d", code)
	}
	if _, err := os.Stat(installed); err != nil {
		t.Errorf("the installed hostdrift was touched: %v", err)
	}
	if got := runScript("/usr/bin/hostdrift", "", true, []string{"check"}); got != "exec sudo -n -- /usr/bin/hostdrift check" {
		t.Errorf("sudo: %q", got)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "hostdrift.*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestProbeScript runs the probe with this machine's sh and a hostdrift on
// PATH: what it prints is what ParseProbe reads.
func TestProbeScript(t *testing.T) {
	dir := t.TempDir()
	prog := "#!/bin/sh\n[ \"$1\" = version ] && echo 'hostdrift v9.9.9'\n"
	if err := os.WriteFile(filepath.Join(dir, "hostdrift"), []byte(prog), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", probeScript)
	cmd.Env = []string{"PATH=" + dir + ":/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseProbe(strings.NewReader(string(out)))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	sum := sha256.Sum256([]byte(prog))
	want := Installed{Path: filepath.Join(dir, "hostdrift"), Version: "hostdrift v9.9.9", SHA256: hex.EncodeToString(sum[:])}
	if p.OS != "Linux" || p.Machine == "" || len(p.Installed) == 0 || p.Installed[0] != want {
		t.Errorf("probe %+v, want first %+v\n%s", p, want, out)
	}
}
