package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/hostdrift/hostdrift/internal/schema"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

var update = flag.Bool("update", false, "rewrite golden files")

func fixtureHost() snapshot.Host {
	return snapshot.Host{
		Hostname: "web1",
		FQDN:     "web1.example.com",
		Interfaces: []snapshot.Interface{
			{Name: "lo", Index: 1, Up: true, Loopback: true, Addresses: []snapshot.Address{{IP: netip.MustParseAddr("127.0.0.1"), PrefixLen: 8, Family: snapshot.IPv4, Scope: "host"}}},
			{Name: "eth0", Index: 2, Up: true, Addresses: []snapshot.Address{{IP: netip.MustParseAddr("198.51.100.7"), PrefixLen: 24, Family: snapshot.IPv4, Scope: "global"}}},
		},
	}
}

func fixtureSocket(proto, addr string, port uint16, pid int, name, unit string) snapshot.Socket {
	a := netip.MustParseAddr(addr)
	return snapshot.Socket{Protocol: proto, Family: snapshot.FamilyOf(a), Address: a, Port: port, Inode: uint64(pid * 10), Backlog: 511,
		Process: &snapshot.Process{PID: pid, Name: name, Cmdline: name, Unit: unit}}
}

// fixtureDNS: the host's name resolves to its own address, and /etc/hosts
// pins it to loopback as Debian does.
func fixtureDNS() *snapshot.DNS {
	return &snapshot.DNS{
		Resolvers: []string{"192.0.2.53"}, TimeoutMS: 2000, Attempts: 2,
		Hosts: []snapshot.HostsEntry{
			{Line: 1, IP: netip.MustParseAddr("127.0.0.1"), Names: []string{"localhost"}},
			{Line: 2, IP: netip.MustParseAddr("127.0.1.1"), Names: []string{"web1.example.com", "web1"}},
		},
		Queries: []snapshot.DNSResult{
			{DNSQuery: snapshot.DNSQuery{Name: "web1.example.com", Type: "A"}, AnsweredBy: "192.0.2.53", Rcode: "NOERROR",
				Records: []snapshot.AddressRecord{{IP: netip.MustParseAddr("198.51.100.7"), TTL: 300}}, DurationMS: 1},
			{DNSQuery: snapshot.DNSQuery{Name: "web1.example.com", Type: "AAAA"}, AnsweredBy: "192.0.2.53", Rcode: "NOERROR", DurationMS: 1},
		},
	}
}

// fixtureFirewall: every backend read, no rules at all (a fresh VPS), and
// the addresses and routes of fixtureHost.
func fixtureFirewall() *snapshot.Firewall {
	return &snapshot.Firewall{
		Backends: []snapshot.Backend{
			{Name: snapshot.BackendIptablesNft, Available: true},
			{Name: snapshot.BackendNftables, Available: true},
			{Name: snapshot.BackendIptablesLegacy, Available: true},
		},
		Tables: []snapshot.Table{},
		LocalAddresses: []snapshot.LocalAddress{
			{Prefix: netip.MustParsePrefix("127.0.0.1/8"), Interface: "lo"},
			{Prefix: netip.MustParsePrefix("198.51.100.7/24"), Interface: "eth0"},
		},
		Routes: []snapshot.Route{
			{Dst: netip.MustParsePrefix("198.51.100.0/24"), Interface: "eth0"},
			{Dst: netip.MustParsePrefix("0.0.0.0/0"), Interface: "eth0", Gateway: netip.MustParseAddr("198.51.100.1")},
		},
	}
}

// fixtureJobs: a cron daemon with an MTA and no jobs of its own, and a
// systemd without timers.
func fixtureJobs() *snapshot.Jobs {
	return &snapshot.Jobs{
		Cron: &snapshot.Cron{Daemon: snapshot.DaemonRunning, DaemonPID: 511, MTA: "/usr/sbin/sendmail", LogSources: []string{"journal"},
			Jobs: []snapshot.CronJob{}, Ignored: []snapshot.IgnoredFile{}, Errors: []snapshot.FileError{}},
		Timers: &snapshot.Timers{Source: snapshot.TimersDBus, Timers: []snapshot.Timer{}, Errors: []snapshot.FileError{}},
	}
}

// fixtureServices: a stock host's systemd, nothing failed.
func fixtureServices() *snapshot.Services {
	zero := uint32(0)
	return &snapshot.Services{Source: snapshot.ServicesDBus, Running: true, Errors: []snapshot.FileError{}, Units: []snapshot.Unit{
		{Name: "nginx.service", LoadState: "loaded", ActiveState: "active", SubState: "running", FileState: "enabled", File: "/lib/systemd/system/nginx.service", Restarts: &zero, Result: "success"},
		{Name: "ssh.service", LoadState: "loaded", ActiveState: "active", SubState: "running", FileState: "enabled", File: "/lib/systemd/system/ssh.service", Restarts: &zero, Result: "success"},
	}}
}

// fixtureAccounts: root alone at uid 0.
func fixtureAccounts() *snapshot.Accounts {
	locked := true
	return &snapshot.Accounts{Errors: []string{},
		Users:  []snapshot.User{{Name: "root", UID: 0, GID: 0, Group: "root", Home: "/root", Shell: "/bin/bash", Groups: []string{}, Locked: &locked}},
		Groups: []snapshot.Group{{Name: "root", GID: 0, Members: []string{}}},
	}
}

// fixtureSysctl: the boot configuration applied.
func fixtureSysctl() *snapshot.Sysctl {
	return &snapshot.Sysctl{Live: true, AppliedBy: "systemd-sysctl", Files: []string{"/usr/lib/sysctl.d/50-pid-max.conf"}, Errors: []string{},
		Params: []snapshot.SysctlParam{{Key: "kernel.pid_max", Value: "4194304", Exists: true, Configured: "4194304", Source: "/usr/lib/sysctl.d/50-pid-max.conf:1"}}}
}

// scenarios are saved snapshots that each exercise one exit code.
func scenarios() map[string]*snapshot.Snapshot {
	base := func(socks ...snapshot.Socket) *snapshot.Snapshot {
		return &snapshot.Snapshot{
			Schema: snapshot.Schema, Version: "test", TakenAt: time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC),
			Host: fixtureHost(),
			Collectors: []snapshot.CollectorStatus{
				{Name: "host", Status: snapshot.StatusOK, DurationMS: 1},
				{Name: "dns", Status: snapshot.StatusOK, DurationMS: 3},
				{Name: "listeners", Status: snapshot.StatusOK, DurationMS: 4},
				{Name: "probes", Status: snapshot.StatusOK, DurationMS: 2},
				{Name: "firewall", Status: snapshot.StatusOK, DurationMS: 5},
				{Name: "docker", Status: snapshot.StatusOK, DurationMS: 1},
				{Name: "cron", Status: snapshot.StatusOK, DurationMS: 2},
				{Name: "timers", Status: snapshot.StatusOK, DurationMS: 3},
				{Name: "mounts", Status: snapshot.StatusOK, DurationMS: 1},
				{Name: "services", Status: snapshot.StatusOK, DurationMS: 4},
				{Name: "accounts", Status: snapshot.StatusOK, DurationMS: 1},
				{Name: "sysctl", Status: snapshot.StatusOK, DurationMS: 1},
			},
			Listeners: &snapshot.Listeners{Source: "sock_diag", Sockets: socks},
			DNS:       fixtureDNS(),
			Probes:    &snapshot.Probes{Results: []snapshot.ProbeResult{}, Listeners: []snapshot.ProbeResult{}},
			Firewall:  fixtureFirewall(),
			Docker:    &snapshot.Docker{Absent: "no Docker engine on this host: DOCKER_HOST is not set, /var/run/docker.sock does not exist and no dockerd is installed in /usr/bin, /usr/sbin, /usr/local/bin"},
			Jobs:      fixtureJobs(),
			Mounts: &snapshot.Mounts{Live: true, Mounts: []snapshot.Mount{
				{MountPoint: "/", Source: "/dev/vda1", FSType: "ext4", Options: []string{"rw", "relatime"},
					TotalBytes: 20 << 30, AvailBytes: 12 << 30, UsedBytes: 8 << 30},
			}, Fstab: []snapshot.FstabEntry{}},
			Services: fixtureServices(),
			Accounts: fixtureAccounts(),
			Sysctl:   fixtureSysctl(),
		}
	}
	stalled := fixtureSocket("tcp", "0.0.0.0", 443, 4121, "python3", "web.service")
	stalled.AcceptQueue, stalled.Backlog = 129, 128
	broken := base()
	broken.Listeners = nil
	broken.Collectors[2] = snapshot.CollectorStatus{Name: "listeners", Status: snapshot.StatusError, Reason: "netlink sock_diag: operation not permitted; /proc/net/tcp: permission denied"}
	return map[string]*snapshot.Snapshot{
		"clean.exit0": base(
			fixtureSocket("tcp", "0.0.0.0", 80, 812, "nginx", "nginx.service"),
			fixtureSocket("tcp", "127.0.0.1", 6379, 777, "redis-server", "redis-server.service"),
		),
		"drift.exit1": base(
			fixtureSocket("tcp", "0.0.0.0", 80, 812, "nginx", "nginx.service"),
			fixtureSocket("tcp", "0.0.0.0", 6379, 777, "redis-server", "redis-server.service"),
			stalled,
		),
		"incomplete.exit3": broken,
	}
}

var volatile = regexp.MustCompile(`\(\d+ ms\)|"duration_ms": [0-9.]+|"started_at": "[^"]+"`)

func normalize(b []byte) []byte {
	return volatile.ReplaceAllFunc(b, func(m []byte) []byte {
		switch {
		case bytes.HasPrefix(m, []byte("(")):
			return []byte("(N ms)")
		case bytes.HasPrefix(m, []byte(`"duration_ms"`)):
			return []byte(`"duration_ms": 0`)
		default:
			return []byte(`"started_at": "2026-11-21T03:00:00Z"`)
		}
	})
}

func compileSchema(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	b, err := schema.File(name)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(name, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, b []byte) {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if err := s.Validate(doc); err != nil {
		t.Errorf("does not validate against the schema: %v", err)
	}
}

// TestGoldenReports judges saved snapshots with the built-in policy and
// compares table and JSON output, and the exit code named in the file name.
func TestGoldenReports(t *testing.T) {
	reportSchema := compileSchema(t, "report.schema.json")
	snapSchema := compileSchema(t, "snapshot.schema.json")
	for name, snap := range scenarios() {
		snapFile := filepath.Join(t.TempDir(), "snap.json")
		b, _ := json.MarshalIndent(snap, "", "  ")
		validate(t, snapSchema, b)
		if err := os.WriteFile(snapFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
		var wantCode int
		fmt.Sscanf(name[strings.LastIndex(name, ".exit")+5:], "%d", &wantCode)
		for _, format := range []string{"table", "json"} {
			t.Run(name+"."+format, func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				code := run([]string{"check", "--snapshot", snapFile, "--policy", "builtin:default", "--format", format, "--color", "never"}, nil, &stdout, &stderr)
				if code != wantCode {
					t.Errorf("exit %d, want %d; stderr: %s", code, wantCode, stderr.String())
				}
				out := bytes.ReplaceAll(normalize(stdout.Bytes()), []byte(snapFile), []byte("SNAPSHOT"))
				if format == "json" {
					validate(t, reportSchema, out)
				}
				compareGolden(t, filepath.Join("testdata", "golden", name+"."+format), out)
			})
		}
	}
}

// compareGolden checks out against the golden file, or with -update writes
// it there.
func compareGolden(t *testing.T, golden string, out []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/hostdrift -run Golden -update)", err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("output differs from %s (run with -update and review the diff):\n%s", golden, out)
	}
}

func TestPolicyTypoExits2WithPosition(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"attr.hcl": "listener \"https\" {\n  prot = 443\n}\n",
		"kind.hcl": "listner \"x\" {}\n",
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(src), 0o644)
		var stdout, stderr bytes.Buffer
		code := run([]string{"check", "--policy", path}, nil, &stdout, &stderr)
		if code != exitUsage || stdout.Len() != 0 {
			t.Errorf("%s: exit %d with stdout %q; want 2 and no report", name, code, stdout.String())
		}
		msg := stderr.String()
		for _, want := range map[string][]string{
			"attr.hcl": {path + ":2:3: error: Misspelt required argument", "  prot = 443", `Did you mean "port"? The argument "port" is required`},
			"kind.hcl": {path + ":1:1: error: Unsupported block type", `listner "x" {}`, `Did you mean "listener"?`, "Known check kinds:"},
		}[name] {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", name, want, msg)
			}
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"policy", "validate", "builtin:default", "../../rules/testdata/policies/valid"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "ok: ") {
		t.Errorf("stdout %q", stdout.String())
	}
	stdout.Reset()
	if code := run([]string{"policy", "validate", "../../rules/testdata/policies/invalid"}, nil, &stdout, &stderr); code != exitUsage {
		t.Errorf("invalid policies: exit %d, want 2", code)
	}
}

func TestPolicyFromStdin(t *testing.T) {
	snapFile := filepath.Join(t.TempDir(), "snap.json")
	b, _ := json.Marshal(scenarios()["drift.exit1"])
	os.WriteFile(snapFile, b, 0o644)
	var stdout, stderr bytes.Buffer
	code := run([]string{"check", "--snapshot", snapFile, "--policy", "-", "--format", "json"},
		strings.NewReader(`listener "web" { port = 80 }`), &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), `"check": "listener.web"`) {
		t.Errorf("exit %d, stdout %s, stderr %s", code, stdout.String(), stderr.String())
	}
}

func TestOutputIsAtomicAndKeepsThePreviousReportOnFailure(t *testing.T) {
	dir := t.TempDir()
	snapFile := filepath.Join(dir, "snap.json")
	b, _ := json.Marshal(scenarios()["clean.exit0"])
	os.WriteFile(snapFile, b, 0o644)
	out := filepath.Join(dir, "report.json")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check", "--snapshot", snapFile, "--policy", "builtin:default", "--format", "json", "--output", out}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	st, err := os.Stat(out)
	if err != nil || st.Mode().Perm() != 0o640 {
		t.Fatalf("report: %v, mode %v; want 0640", err, st.Mode().Perm())
	}
	first, _ := os.ReadFile(out)
	// A folder that cannot take the temporary file: the report stays as it was.
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	if os.Geteuid() == 0 {
		t.Log("running as root: the read-only folder does not stop root; using a missing folder instead")
		out = filepath.Join(dir, "missing", "report.json")
	}
	code := run([]string{"check", "--snapshot", snapFile, "--policy", "builtin:default", "--format", "json", "--output", out}, nil, &stdout, &stderr)
	if code != exitOutput {
		t.Errorf("exit %d, want %d when the report cannot be written", code, exitOutput)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "report.json")); !bytes.Equal(first, again) {
		t.Error("the previous report changed")
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, ".report.json.tmp-*")); len(matches) > 0 {
		t.Errorf("temporary files left behind: %v", matches)
	}
}

// TestNagiosExitCodes: with --format nagios the exit code is the plugin
// state, and a policy error is UNKNOWN (3), never CRITICAL (2).
func TestNagiosExitCodes(t *testing.T) {
	dir := t.TempDir()
	for name, want := range map[string]int{"clean.exit0": 0, "drift.exit1": 2, "incomplete.exit3": 3} {
		path := filepath.Join(dir, name+".json")
		b, _ := json.Marshal(scenarios()[name])
		os.WriteFile(path, b, 0o644)
		var stdout, stderr bytes.Buffer
		if code := run([]string{"check", "--snapshot", path, "--policy", "builtin:default", "--format", "nagios"}, nil, &stdout, &stderr); code != want {
			t.Errorf("%s: exit %d, want %d\n%s", name, code, want, stdout.String())
		}
		if !strings.HasPrefix(stdout.String(), "HOSTDRIFT ") {
			t.Errorf("%s: %q", name, stdout.String())
		}
	}
	typo := filepath.Join(dir, "typo.hcl")
	os.WriteFile(typo, []byte("listner \"x\" {}\n"), 0o644)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check", "--policy", typo, "--format", "nagios"}, nil, &stdout, &stderr); code != 3 || !strings.HasPrefix(stdout.String(), "HOSTDRIFT UNKNOWN") {
		t.Errorf("policy error: exit %d, stdout %q; want 3 and UNKNOWN", code, stdout.String())
	}
}
