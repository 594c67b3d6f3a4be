package packaging

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// binary is the hostdrift command, built once per test run.
func binary(t testing.TB) string { return nstest.Hostdrift(t) }

// TestBinaryIsStatic: the binary copied to a host over scp must run there
// whatever its libc: no program interpreter, no shared libraries.
func TestBinaryIsStatic(t *testing.T) {
	f, err := elf.Open(binary(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %v program header: it is dynamically linked (build with CGO_ENABLED=0)", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
}

// unitDirectives reads a unit file into key -> values, joining continued lines.
func unitDirectives(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	var line string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		s := strings.TrimSpace(sc.Text())
		if strings.HasSuffix(s, `\`) {
			line += strings.TrimSuffix(s, `\`) + " "
			continue
		}
		line += s
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			out[k] = append(out[k], v)
		}
		line = ""
	}
	return out
}

// TestSystemdUnits verifies the units with systemd-analyze verify, which
// works without systemd as PID 1. verify insists that ExecStart's binary
// exists, and --root would need a whole systemd tree, so the test verifies
// a copy of the service whose only change is /usr/bin/hostdrift replaced by
// the binary just built; the timer is verified as shipped. The man page the
// units name is this tree's.
func TestSystemdUnits(t *testing.T) {
	nstest.RequireCommand(t, "systemd-analyze")
	nstest.RequireCommand(t, "man")
	bin := binary(t)
	dir := t.TempDir()
	svc, err := os.ReadFile("systemd/hostdrift.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(svc), "ExecStart=/usr/bin/hostdrift check ") {
		t.Fatal("ExecStart does not run /usr/bin/hostdrift check")
	}
	os.WriteFile(filepath.Join(dir, "hostdrift.service"), []byte(strings.ReplaceAll(string(svc), "/usr/bin/hostdrift", bin)), 0o644)
	timer, err := os.ReadFile("systemd/hostdrift.timer")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "hostdrift.timer"), timer, 0o644)
	man := filepath.Join(dir, "man", "man1")
	os.MkdirAll(man, 0o755)
	page, err := os.ReadFile("man/hostdrift.1")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(man, "hostdrift.1"), page, 0o644)

	agent, err := os.ReadFile("systemd/hostdrift-serve.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(agent), "ExecStart=/usr/bin/hostdrift serve ") {
		t.Fatal("hostdrift-serve.service's ExecStart does not run /usr/bin/hostdrift serve")
	}
	os.WriteFile(filepath.Join(dir, "hostdrift-serve.service"), []byte(strings.ReplaceAll(string(agent), "/usr/bin/hostdrift", bin)), 0o644)

	cmd := exec.Command("systemd-analyze", "verify", filepath.Join(dir, "hostdrift.service"), filepath.Join(dir, "hostdrift.timer"), filepath.Join(dir, "hostdrift-serve.service"))
	cmd.Env = append(os.Environ(), "MANPATH="+filepath.Join(dir, "man"), "SYSTEMD_LOG_LEVEL=notice")
	out, err := cmd.CombinedOutput()
	// verify exits 0 on some mistakes (an unknown key is only "ignoring"),
	// so any message at all fails the test.
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	// What the service promises.
	d := unitDirectives(t, "systemd/hostdrift.service")
	for key, want := range map[string]string{
		"Type":                  "oneshot",
		"SuccessExitStatus":     "1 3",
		"ProtectSystem":         "strict",
		"StateDirectory":        "hostdrift",
		"NoNewPrivileges":       "yes",
		"PrivateTmp":            "yes",
		"ProtectHome":           "yes",
		"CapabilityBoundingSet": "CAP_NET_ADMIN CAP_NET_RAW CAP_DAC_READ_SEARCH CAP_SYS_PTRACE",
	} {
		if got := strings.Join(d[key], "|"); got != want {
			t.Errorf("hostdrift.service: %s=%q, want %q", key, got, want)
		}
	}
	// The agent: hardened as the audit is, restarted when it fails.
	a := unitDirectives(t, "systemd/hostdrift-serve.service")
	for _, key := range []string{"CapabilityBoundingSet", "ProtectSystem", "StateDirectory", "NoNewPrivileges", "PrivateTmp",
		"ProtectHome", "PrivateDevices", "RestrictAddressFamilies", "SystemCallFilter", "MemoryDenyWriteExecute", "EnvironmentFile"} {
		if got, want := strings.Join(a[key], "|"), strings.Join(d[key], "|"); got != want {
			t.Errorf("hostdrift-serve.service: %s=%q, hostdrift.service has %q", key, got, want)
		}
	}
	for key, want := range map[string]string{"Restart": "on-failure", "Environment": "HOSTDRIFT_LISTEN=127.0.0.1:8731", "WantedBy": "multi-user.target"} {
		if got := strings.Join(a[key], "|"); got != want {
			t.Errorf("hostdrift-serve.service: %s=%q, want %q", key, got, want)
		}
	}

	d = unitDirectives(t, "systemd/hostdrift.timer")
	for key, want := range map[string]string{"Persistent": "true", "WantedBy": "timers.target"} {
		if got := strings.Join(d[key], "|"); got != want {
			t.Errorf("hostdrift.timer: %s=%q, want %q", key, got, want)
		}
	}
	if len(d["OnCalendar"]) != 1 || len(d["RandomizedDelaySec"]) != 1 {
		t.Errorf("hostdrift.timer: OnCalendar %v, RandomizedDelaySec %v", d["OnCalendar"], d["RandomizedDelaySec"])
	}
}

// TestServiceCommandLine runs the service's ExecStart as written (its state
// folder moved to a temporary one, HOSTDRIFT_OPTS empty) so that a flag the
// CLI does not know fails here rather than on the first night.
func TestServiceCommandLine(t *testing.T) {
	bin := binary(t)
	state := t.TempDir()
	args := strings.Fields(unitDirectives(t, "systemd/hostdrift.service")["ExecStart"][0])
	if args[0] != "/usr/bin/hostdrift" || args[len(args)-1] != "$HOSTDRIFT_OPTS" {
		t.Fatalf("ExecStart %v: want /usr/bin/hostdrift ... $HOSTDRIFT_OPTS", args)
	}
	args = args[1 : len(args)-1]
	for i, a := range args {
		args[i] = strings.Replace(a, "/var/lib/hostdrift", state, 1)
	}
	// A policy that holds on any host: nothing listens on tcp/1.
	policy := filepath.Join(state, "p.hcl")
	os.WriteFile(policy, []byte("listener \"tcpmux\" {\n  port   = 1\n  expect = \"absent\"\n}\n"), 0o644)
	out, err := exec.Command(bin, append(args, "--policy", policy)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v %v: %v\n%s", bin, args, err, out)
	}
	for _, f := range []string{"reports/latest.json", "snapshot-latest.json"} {
		if _, err := os.Stat(filepath.Join(state, f)); err != nil {
			t.Errorf("the service run did not write %s: %v", f, err)
		}
	}
	if !strings.Contains(string(out), "listener.tcpmux") && !strings.Contains(string(out), "1 check") {
		t.Errorf("the journal would not show the table:\n%s", out)
	}
}

// TestServeCommandLine parses the agent's ExecStart as written (the default
// listen address, HOSTDRIFT_SERVE_ARGS empty) with one flag added that
// makes serve stop after reading its flags: an error about that flag, not
// about one of the unit's, shows the unit's flags are all known.
func TestServeCommandLine(t *testing.T) {
	bin := binary(t)
	args := strings.Fields(unitDirectives(t, "systemd/hostdrift-serve.service")["ExecStart"][0])
	if args[0] != "/usr/bin/hostdrift" || args[1] != "serve" || args[len(args)-1] != "$HOSTDRIFT_SERVE_ARGS" {
		t.Fatalf("ExecStart %v: want /usr/bin/hostdrift serve ... $HOSTDRIFT_SERVE_ARGS", args)
	}
	args = args[1 : len(args)-1]
	for i, a := range args {
		args[i] = strings.Replace(a, "${HOSTDRIFT_LISTEN}", "127.0.0.1:8731", 1)
	}
	out, err := exec.Command(bin, append(args, "--dns-min", "0")...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("%v: %v, want exit 2\n%s", args, err, out)
	}
	if !strings.Contains(string(out), "for flag --dns-min: it must be more than 0") {
		t.Errorf("the unit's flags were not all accepted:\n%s", out)
	}
}
