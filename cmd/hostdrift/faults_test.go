package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/testkit/fixture"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// silentDNS is a UDP and TCP endpoint on loopback that takes queries and
// never answers: the slowest honest collector there is.
func silentDNS(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return pc.LocalAddr().String()
}

func slowPolicy(t *testing.T, server string) string {
	return policyFile(t, `
dns "slow" {
  name   = "www.example.test"
  server = "`+server+`"
  expect = ["192.0.2.1"]
}
listener "anything" {
  port   = 1
  expect = "absent"
}
`)
}

// The global --timeout ends a run whose collector would take longer, with
// the check that waited on it reported as an error that says why.
func TestGlobalTimeoutEndsTheRun(t *testing.T) {
	bin := binary(t)
	policy := slowPolicy(t, silentDNS(t))
	start := time.Now()
	rep, code := runJSON(t, exec.Command(bin, "check", "--policy", policy, "--format", "json", "--collector-timeout", "60s", "--timeout", "1s"))
	took := time.Since(start)
	if code != exitIncomplete {
		t.Errorf("exit %d, want %d", code, exitIncomplete)
	}
	if took > 20*time.Second {
		t.Errorf("the run took %s despite --timeout 1s", took)
	}
	got := findingsByCheck(rep)
	if f := got["dns.slow"]; !strings.HasPrefix(f, "error") || !strings.Contains(f, "--timeout") {
		t.Errorf("dns.slow = %q, want an error naming --timeout", f)
	}
	if f := got["listener.anything"]; !strings.HasPrefix(f, "pass") {
		t.Errorf("listener.anything = %q: a collector that finished in time must still be judged", f)
	}
}

// SIGTERM during a run stops it at once and writes nothing: the previous
// report stays whole and no temporary file is left.
func TestSIGTERMWritesNothing(t *testing.T) {
	bin := binary(t)
	policy := slowPolicy(t, silentDNS(t))
	dir := t.TempDir()
	out := filepath.Join(dir, "report.json")
	previous := []byte(`{"schema":"hostdrift/report/v1","previous":true}` + "\n")
	if err := os.WriteFile(out, previous, 0o640); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "check", "--policy", policy, "--format", "json", "--output", out, "--collector-timeout", "60s")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatal("hostdrift did not stop within 15s of SIGTERM")
	}
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != exitIncomplete {
		t.Errorf("after SIGTERM: %v, want exit %d\n%s", err, exitIncomplete, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted by SIGTERM: nothing was written") {
		t.Errorf("stderr does not say the run was interrupted and nothing written:\n%s", stderr.String())
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, previous) {
		t.Errorf("the previous report changed:\n%s", got)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(m) > 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

// A full disk while writing the report: exit 4, the previous report whole,
// no temporary file left. The disk is a 64 KiB tmpfs filled to the brim.
func TestDiskFullKeepsThePreviousReport(t *testing.T) {
	nstest.RequireRoot(t)
	bin := binary(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "hd-full", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a small tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	policy := policyFile(t, `listener "a" {
  port   = 1
  expect = "absent"
}
`)
	out := filepath.Join(dir, "report.json")
	if _, stderr, code := runCapture(t, exec.Command(bin, "check", "--policy", policy, "--format", "json", "--output", out)); code != 0 {
		t.Fatalf("first report: exit %d: %s", code, stderr)
	}
	first, err := os.ReadFile(out)
	if err != nil || !json.Valid(first) {
		t.Fatalf("first report unreadable: %v", err)
	}
	// Fill the rest of the disk.
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := filler.Write(chunk); err != nil {
			break
		}
	}
	filler.Close()
	_, stderr, code := runCapture(t, exec.Command(bin, "check", "--policy", policy, "--format", "json", "--output", out))
	if code != exitOutput {
		t.Errorf("on a full disk: exit %d, want %d\n%s", code, exitOutput, stderr)
	}
	if !strings.Contains(string(stderr), "no space left on device") {
		t.Errorf("stderr does not name the cause:\n%s", stderr)
	}
	if again, _ := os.ReadFile(out); !bytes.Equal(again, first) {
		t.Error("the previous report changed on a full disk")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".report.json.tmp-*")); len(m) > 0 {
		t.Errorf("temporary files left: %v", m)
	}
	var r struct {
		Findings []finding.Finding `json:"findings"`
	}
	if json.Unmarshal(first, &r) != nil || len(r.Findings) != 1 {
		t.Errorf("the kept report is not the whole first report")
	}
}

// Hostile policies are refused with a clear error and exit 2, quickly and
// without reading them whole: a file of a million blocks (too big to read)
// and one of 200,000 small blocks (too many to parse).
func TestHugePoliciesAreRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, blocks int) string {
		var b strings.Builder
		for i := range blocks {
			b.WriteString(`listener "l` + strconv.Itoa(i) + `" { port = 1 }` + "\n")
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		file, want string
	}{
		{write("million.hcl", 1_000_000), "larger than 8 MB"},
		{write("many.hcl", 200_000), "blocks hostdrift reads"},
	} {
		var stdout, stderr bytes.Buffer
		start := time.Now()
		code := run([]string{"policy", "validate", c.file}, nil, &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", filepath.Base(c.file), code, stderr.String(), c.want)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("%s: refusing took %s", filepath.Base(c.file), took)
		}
	}
}

// Odd files where configuration is read (a FIFO in /etc/cron.d, a FIFO
// /etc/hosts, a timer unit linked to a character device, a folder named
// like a crontab) are skipped and named, and blind nothing: before, the
// FIFO held the cron collector until its deadline, so every cron check was
// an error, and the device link was judged as a timer.
func TestOddFilesDoNotBlindAnArea(t *testing.T) {
	nstest.RequireRoot(t)
	root := t.TempDir()
	fixture.Write(t, root, map[string]string{
		"etc/passwd":                    "root:x:0:0:root:/root:/bin/sh\n",
		"etc/cron.d/good":               "0 1 * * * root /bin/true >/dev/null 2>&1\n",
		"etc/cron.d/folder/x":           "",
		"etc/cron.d/linked":             "-> /etc/cron.d/folder",
		"bin/true@":                     "",
		"etc/systemd/system/rand.timer": "-> /dev/urandom",
		"etc/resolv.conf":               "nameserver 127.0.0.1\n",
	})
	for _, p := range []string{"etc/cron.d/pipe", "etc/hosts"} {
		if err := syscall.Mkfifo(filepath.Join(root, p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mknod(filepath.Join(root, "dev", "urandom"), syscall.S_IFCHR|0o666, 1<<8|9); err != nil {
		t.Fatal(err)
	}
	policy := policyFile(t, `
cron "programs" {
  require = ["program"]
}
timer "programs" {
  require = ["program"]
}
`)
	snapPath := filepath.Join(t.TempDir(), "snap.json")
	rep, _ := runJSON(t, exec.Command(binary(t), "check", "--root", root, "--policy", policy, "--format", "json", "--collector-timeout", "20s", "--save-snapshot", snapPath))
	for _, c := range rep.Collectors {
		if (c.Name == "cron" || c.Name == "timers") && c.Status != "ok" {
			t.Errorf("collector %s: %s: %s", c.Name, c.Status, c.Reason)
		}
	}
	got := findingsByCheck(rep)
	for _, check := range []string{"cron.programs", "timer.programs"} {
		if !strings.HasPrefix(got[check], "pass") {
			t.Errorf("%s: %s", check, got[check])
		}
	}
	b, err := os.ReadFile(snapPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/etc/cron.d/pipe is a FIFO", "/etc/cron.d/linked is a folder", "/etc/systemd/system/rand.timer is a character device"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("the snapshot does not name the skipped file: %q", want)
		}
	}
}
