package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFactsCutShort: a run whose --timeout expires before the host's facts
// are read says so (which facts, the deadline, what to raise) and exits 3;
// before, the policy was compiled on an empty FQDN and the built-in
// dns.hcl was blamed with exit 2.
func TestFactsCutShort(t *testing.T) {
	for _, cmd := range [][]string{{"check"}, {"snapshot"}} {
		code, _, stderr := runIn(append(cmd, "--timeout", "1ns")...)
		if code != exitIncomplete {
			t.Errorf("%s: exit %d, want 3:\n%s", cmd[0], code, stderr)
		}
		for _, w := range []string{"the host's facts (hostname, FQDN, addresses) could not be read", "--timeout of 1ns expired", "raise --timeout"} {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", cmd[0], w, stderr)
			}
		}
		if strings.Contains(stderr, "dns.hcl") {
			t.Errorf("%s: the built-in policy is blamed:\n%s", cmd[0], stderr)
		}
	}
}

// TestNumericFlagRanges: every duration and count flag is checked the same
// way while the flags are parsed: exit 2, the flag's name and the range it
// accepts. Before, --timeout -5s and --collector-timeout 0 were accepted.
func TestNumericFlagRanges(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "--timeout", "-5s"}, `invalid value "-5s" for flag --timeout: it must be 0 (no limit) or more`},
		{[]string{"check", "--collector-timeout", "0"}, `invalid value "0" for flag --collector-timeout: it must be more than 0`},
		{[]string{"check", "--collector-timeout", "-1s"}, `for flag --collector-timeout: it must be more than 0`},
		{[]string{"check", "--retry-timeout", "-3s"}, `for flag --retry-timeout: it must be 0 (judge once) or more`},
		{[]string{"check", "--sleep", "-1s"}, `for flag --sleep: it must be more than 0`},
		{[]string{"check", "--keep", "-1"}, `for flag --keep: it must be 0 (keep all) or more`},
		{[]string{"check", "--timeout", "5"}, `invalid value "5" for flag --timeout: add a unit: 5s`},
		{[]string{"check", "--timeout", "soon"}, `for flag --timeout: not a duration (30s, 2m, 1h30m); it must be 0 (no limit) or more`},
		{[]string{"check", "--ssh-parallel", "0"}, `for flag --ssh-parallel: it must be 1 or more`},
		{[]string{"snapshot", "--timeout", "-1s"}, `for flag --timeout: it must be 0 (no limit) or more`},
		{[]string{"serve", "--collector-timeout", "0"}, `for flag --collector-timeout: it must be more than 0`},
		{[]string{"serve", "--listeners-every", "500ms"}, `for flag --listeners-every: it must be at least 1s`},
		{[]string{"serve", "--dns-min", "0"}, `for flag --dns-min: it must be more than 0`},
		{[]string{"serve", "--keep", "-2"}, `for flag --keep: it must be 0 (keep all) or more`},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, stdout, stderr := runIn(c.args...)
			if code != exitUsage || !strings.Contains(stderr, c.want) || stdout != "" {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, c.want)
			}
		})
	}
}

// TestServeChecksBeforeReading: serve validates its flags and binds its
// address before the first evaluation: a bad port, a port in use and a bad
// web configuration each end it at once, with nothing read or logged.
// Before, --listen 127.0.0.1:99999 judged the whole host first.
func TestServeChecksBeforeReading(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "p.hcl")
	if err := os.WriteFile(pol, []byte("file \"gone\" {\n  path = \"/nonexistent/hostdrift-first-hour\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	webcfg := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webcfg, []byte("tls_server_config: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--listen", "127.0.0.1:99999"}, exitUsage, `--listen 127.0.0.1:99999: the port "99999" is not a number from 0 to 65535`},
		{[]string{"--listen", "localhost"}, exitUsage, `--listen "localhost" is not HOST:PORT`},
		{[]string{"--listen", busy.Addr().String()}, exitOutput, "address already in use; nothing was read"},
		{[]string{"--listen", "127.0.0.1:0", "--web-config", webcfg}, exitUsage, "--web-config " + webcfg},
	} {
		code, stdout, stderr := runIn(append([]string{"serve", "--no-builtin", "--policy", pol}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant exit %d and %q", c.args, code, stderr, c.code, c.want)
		}
		if stdout != "" {
			t.Errorf("%v: the host was judged first:\n%s", c.args, stdout)
		}
	}
}

// TestExplainBadArguments: bad explain arguments print the line that was
// wrong and the synopsis on standard error, exit 2, not the whole help.
func TestExplainBadArguments(t *testing.T) {
	for _, args := range [][]string{{"explain"}, {"explain", "out", "tcp", "99999"}, {"explain", "sideways", "tcp", "22"}} {
		code, stdout, stderr := runIn(args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != exitUsage || stdout != "" || len(lines) != 3 || !strings.HasPrefix(lines[0], "hostdrift explain: ") ||
			!strings.HasPrefix(lines[1], "Usage: hostdrift explain out|in|fwd PROTOCOL [PORT]") {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s", args, code, stdout, stderr)
		}
	}
}

// TestDiffOfReport: diff given a report says it is a report and which
// command makes a snapshot; before, it said to take the snapshot again.
func TestDiffOfReport(t *testing.T) {
	snapFile, policy := cliFixture(t)
	rep := filepath.Join(t.TempDir(), "report.json")
	if code, _, stderr := runIn("check", "--snapshot", snapFile, "--policy", policy, "--format", "json", "--output", rep); code > exitIncomplete {
		t.Fatalf("check: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := runIn("diff", rep, snapFile)
	want := rep + `: this is a hostdrift report, not a snapshot (schema "hostdrift/report/v1")`
	if code != exitUsage || stdout != "" || !strings.Contains(stderr, want) || !strings.Contains(stderr, "hostdrift snapshot --output FILE") ||
		strings.Contains(stderr, "take the snapshot again") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

// TestREADMESetup: the README's set-up names exactly two commands for a
// fresh machine, the Go version go.mod asks for, the first compile, and
// what make test needs and does (root, apt, packages that
// scripts/test-deps.sh really installs, services, how long).
func TestREADMESetup(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	deps, err := os.ReadFile("../../scripts/test-deps.sh")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Two commands on a fresh Debian machine\n")
	if !ok {
		t.Fatal("no set-up section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var commands []string
	for _, l := range strings.Split(section, "\n") {
		if strings.HasPrefix(l, "    ") {
			commands = append(commands, strings.TrimSpace(l))
		}
	}
	if strings.Join(commands, "; ") != "go run ./cmd/hostdrift check; make test" {
		t.Errorf("set-up commands %q, want exactly go run ./cmd/hostdrift check and make test", commands)
	}
	var goVersion string
	for _, l := range strings.Split(string(gomod), "\n") {
		if v, ok := strings.CutPrefix(l, "go "); ok {
			goVersion = v
		}
		if strings.HasPrefix(l, "toolchain ") {
			t.Errorf("go.mod has %q: Debian 12's Go 1.19 stops at it (unknown directive) instead of at the go line, which names the version", l)
		}
	}
	for _, w := range []string{
		"Go " + goVersion + " or newer", "go: downloading go" + goVersion + " (linux/amd64)", "invalid go version '" + goVersion + "'",
		"compiles for about a minute", "needs root", "apt-get", "may start their services", "35-40 minutes", "11 to 18 minutes",
	} {
		if !strings.Contains(section, w) {
			t.Errorf("the set-up section does not say %q", w)
		}
	}
	for _, pkg := range []string{"nftables", "iptables", "docker.io", "openssh-server", "ansible-core", "debootstrap", "dnsmasq-base"} {
		if !strings.Contains(section, pkg) {
			t.Errorf("the set-up section does not name %s", pkg)
		}
		if !strings.Contains(string(deps), " "+pkg) {
			t.Errorf("the README names %s, which scripts/test-deps.sh does not install", pkg)
		}
	}
}
