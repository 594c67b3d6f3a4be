package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// binary is the hostdrift command, built once per test run.
func binary(t testing.TB) string { return nstest.Hostdrift(t) }

// policyFile writes a policy any user may read.
func policyFile(t testing.TB, src string) string {
	t.Helper()
	f, err := os.CreateTemp(nstest.Dir(t), "policy-*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	path := f.Name()
	f.WriteString(src)
	f.Close()
	os.Chmod(path, 0o644)
	t.Cleanup(func() { os.Remove(path) })
	return path
}

// runCapture runs cmd and returns what it printed and its exit code; a
// command that could not run at all fails the test.
func runCapture(t *testing.T, cmd *exec.Cmd) (stdout, stderr []byte, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return out.Bytes(), errOut.Bytes(), code
}

// runJSON runs cmd, which must print a JSON report, and returns it with the exit code.
func runJSON(t *testing.T, cmd *exec.Cmd) (*report.Report, int) {
	t.Helper()
	stdout, stderr, code := runCapture(t, cmd)
	var r report.Report
	if err := json.Unmarshal(stdout, &r); err != nil {
		t.Fatalf("exit %d, not a JSON report: %v\nstdout: %s\nstderr: %s", code, err, stdout, stderr)
	}
	validate(t, compileSchema(t, "report.schema.json"), stdout)
	return &r, code
}

func findingsByCheck(r *report.Report) map[string]string {
	m := map[string]string{}
	for _, f := range r.Findings {
		m[f.Check] = string(f.Status) + ": " + f.Explanation
	}
	return m
}

const livePolicy = `
listener "web" {
  port    = 8080
  address = "loopback"
}
listener "web-by-helper" {
  port    = 8080
  process = "hd-listen"
}
listener "redis-not-public" {
  port    = 6379
  address = "public"
  expect  = "absent"
}
listener "dns" {
  port     = 5353
  protocol = "udp"
}
listener "https" {
  port = 9443
}
accepting "all" {}
`

// TestLiveCheck runs the real binary against real sockets in a fresh network
// namespace, both from inside it and from outside with --netns.
func TestLiveCheck(t *testing.T) {
	nstest.RequireRoot(t)
	bin := binary(t)
	ns := nstest.New(t)
	ns.Run(t, "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1")
	ns.Run(t, "ip", "addr", "add", "192.0.2.10/24", "dev", "d0")
	ns.Run(t, "ip", "link", "set", "d0", "up")
	l := ns.Listen(t, "tcp4:127.0.0.1:8080", "dual:[::]:6379", "udp4:127.0.0.1:5353", "stall:127.0.0.1:7000:2")
	policy := policyFile(t, livePolicy)

	for name, cmd := range map[string]*exec.Cmd{
		"inside":  ns.Command(bin, "check", "--policy", policy, "--format", "json"),
		"--netns": exec.Command(bin, "check", "--policy", policy, "--format", "json", "--netns", ns.Path()),
	} {
		t.Run(name, func(t *testing.T) {
			r, code := runJSON(t, cmd)
			if code != exitDrift {
				t.Errorf("exit %d, want 1", code)
			}
			got := findingsByCheck(r)
			pid := fmt.Sprintf("pid %d", l.PID)
			for check, want := range map[string][]string{
				"listener.web":              {"pass: 127.0.0.1:8080 (hd-listen, " + pid},
				"listener.web-by-helper":    {"pass:"},
				"listener.redis-not-public": {"fail: [::]:6379 (dual-stack) (hd-listen, " + pid, "listens on public addresses 192.0.2.10 (d0)"},
				"listener.dns":              {"pass: 127.0.0.1:5353"},
				"listener.https":            {"fail: nothing listens on tcp/9443", "listening: ", "127.0.0.1:8080 (hd-listen"},
				"accepting.all":             {"fail: tcp/7000 on 127.0.0.1 is listening but not accepting", "owner hd-listen " + pid},
			} {
				for _, w := range want {
					if !strings.Contains(got[check], w) {
						t.Errorf("%s: %q lacks %q", check, got[check], w)
					}
				}
			}
		})
	}
}

// TestUnprivilegedRun: as nobody, the sockets are visible but not their
// owners. The run must finish, say what it could not see, and exit 3 for a
// check that needs the owner.
func TestUnprivilegedRun(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "setpriv")
	bin := binary(t)
	ns := nstest.New(t)
	ns.Listen(t, "tcp4:127.0.0.1:8080")
	policy := policyFile(t, `listener "web-by-helper" {
  port    = 8080
  process = "hd-listen"
}
listener "web" {
  port = 8080
}`)
	cmd := ns.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--", bin, "check", "--policy", policy, "--format", "json")
	r, code := runJSON(t, cmd)
	if code != exitIncomplete {
		t.Errorf("exit %d, want 3", code)
	}
	got := findingsByCheck(r)
	if !strings.HasPrefix(got["listener.web-by-helper"], "error: ") || !strings.Contains(got["listener.web-by-helper"], "no known owner") {
		t.Errorf("web-by-helper: %q", got["listener.web-by-helper"])
	}
	if !strings.HasPrefix(got["listener.web"], "pass: ") {
		t.Errorf("web: the socket itself is visible unprivileged: %q", got["listener.web"])
	}
	var st snapshot.CollectorStatus
	for _, c := range r.Collectors {
		if c.Name == "listeners" {
			st = c
		}
	}
	if st.Status != snapshot.StatusPartial || !strings.Contains(st.Reason, "run as root") {
		t.Errorf("listeners collector: %+v; want partial, saying what to do", st)
	}
}

// TestSnapshotThenCheck: a snapshot taken on the host and judged later gives
// the same verdicts as judging the host directly, and validates against the
// shipped schema.
func TestSnapshotThenCheck(t *testing.T) {
	nstest.RequireRoot(t)
	bin := binary(t)
	ns := nstest.New(t)
	ns.Listen(t, "tcp4:127.0.0.1:8080", "stall:127.0.0.1:7000:2")
	snapFile := filepath.Join(t.TempDir(), "snap.json")
	out, err := exec.Command(bin, "snapshot", "--netns", ns.Path(), "--output", snapFile).CombinedOutput()
	if err != nil {
		t.Fatalf("snapshot: %v\n%s", err, out)
	}
	b, err := os.ReadFile(snapFile)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, compileSchema(t, "snapshot.schema.json"), b)
	policy := policyFile(t, livePolicy)
	live, liveCode := runJSON(t, exec.Command(bin, "check", "--policy", policy, "--format", "json", "--netns", ns.Path()))
	saved, savedCode := runJSON(t, exec.Command(bin, "check", "--policy", policy, "--format", "json", "--snapshot", snapFile))
	if liveCode != savedCode {
		t.Errorf("exit %d live, %d from the snapshot", liveCode, savedCode)
	}
	l, s := findingsByCheck(live), findingsByCheck(saved)
	for check, verdict := range l {
		if strings.SplitN(s[check], ":", 2)[0] != strings.SplitN(verdict, ":", 2)[0] {
			t.Errorf("%s: live %q, snapshot %q", check, verdict, s[check])
		}
	}
	if saved.Snapshot != snapFile {
		t.Errorf("the report should name the snapshot it judged, got %q", saved.Snapshot)
	}
}
