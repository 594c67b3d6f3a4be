package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

const retryPolicy = `
listener "web" {
  port    = 8080
  address = "loopback"
}
file "motd" { path = "/etc/motd" }
`

// TestRetryUntilTheListenerAppears: a service that starts listening 2 s
// after the check starts fails a plain check and passes one that retries.
// Only the failing check's collector is read again: the file the passing
// check looked at is removed meanwhile, and the snapshot judged still shows
// it, while it shows the listener that appeared.
//
// The retry time is generous (30 s, where 5 s would do on an idle machine):
// the run ends as soon as the check passes, and nothing here depends on how
// long anything takes, except that the first attempt is over within the 2 s
// before the listener starts (attempts >= 2 checks that).
func TestRetryUntilTheListenerAppears(t *testing.T) {
	nstest.RequireRoot(t)
	bin := binary(t)
	ns := nstest.New(t)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	motd := filepath.Join(root, "etc", "motd")
	os.WriteFile(motd, []byte("hi\n"), 0o644)
	policy := policyFile(t, retryPolicy)
	args := []string{"check", "--netns", ns.Path(), "--root", root, "--policy", policy, "--format", "json"}

	// Without --retry-timeout: judged once, the listener is not there.
	r, code := runJSON(t, exec.Command(bin, args...))
	web := findingOf(t, r, "listener.web")
	if code != exitDrift || web.Status != finding.Fail || web.Attempts != 0 {
		t.Errorf("without retries: exit %d, %s after %d attempts; want exit 1, fail, no attempts field", code, web.Status, web.Attempts)
	}

	saved := filepath.Join(t.TempDir(), "judged.json")
	cmd := exec.Command(bin, append(args, "--retry-timeout", "30s", "--sleep", "100ms", "--save-snapshot", saved)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	time.Sleep(2 * time.Second) // the service "starts" 2 s after the check
	os.Remove(motd)
	ns.Listen(t, "tcp4:127.0.0.1:8080")
	err := cmd.Wait()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var rr report.Report
	if err := json.Unmarshal(stdout.Bytes(), &rr); err != nil {
		t.Fatalf("exit %d, no report: %v\n%s", code, err, stderr.String())
	}
	validate(t, compileSchema(t, "report.schema.json"), stdout.Bytes())
	web, file := findingOf(t, &rr, "listener.web"), findingOf(t, &rr, "file.motd")
	if code != exitOK || web.Status != finding.Pass {
		t.Errorf("with retries: exit %d, web %s: %s", code, web.Status, web.Explanation)
	}
	if web.Attempts < 2 {
		t.Errorf("web passed after %d attempts; it was not listening at the first", web.Attempts)
	}
	if file.Status != finding.Pass || file.Attempts != 1 {
		t.Errorf("motd: %s after %d attempts, want a pass at the first", file.Status, file.Attempts)
	}
	b, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := snapshot.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := snap.Files.File("/etc/motd"); !ok || !st.Exists {
		t.Errorf("the files collector ran again although file.motd passed: %+v", st)
	}
	found := false
	for _, s := range snap.Listeners.Sockets {
		found = found || s.Port == 8080
	}
	if !found {
		t.Error("the judged snapshot lacks the listener that made the check pass")
	}
}

// TestRetryGivesUp: a listener that never appears still fails, once the
// retry time is up, and the finding says it was judged more than once.
func TestRetryGivesUp(t *testing.T) {
	nstest.RequireRoot(t)
	bin := binary(t)
	ns := nstest.New(t)
	policy := policyFile(t, `listener "web" { port = 8080 }`)
	r, code := runJSON(t, exec.Command(bin, "check", "--netns", ns.Path(), "--policy", policy, "--format", "json", "--retry-timeout", "1s", "--sleep", "10ms"))
	web := findingOf(t, r, "listener.web")
	if code != exitDrift || web.Status != finding.Fail || web.Attempts < 1 {
		t.Errorf("exit %d, %s after %d attempts; want exit 1 and a fail", code, web.Status, web.Attempts)
	}
}

func TestRetryFlags(t *testing.T) {
	snapFile, policy := cliFixture(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--retry-timeout", "5s", "--snapshot", snapFile}, "a saved --snapshot does not change"},
		{[]string{"--sleep", "1s"}, "--sleep is the wait between attempts of --retry-timeout, which is not given"},
		{[]string{"--retry-timeout", "5s", "--sleep", "0s"}, "for flag --sleep: it must be more than 0"},
		{[]string{"--retry-timeout", "-1s"}, "for flag --retry-timeout: it must be 0 (judge once) or more"},
		{[]string{"--retry-timeout", "5m", "--timeout", "1m"}, "--timeout 1m0s ends the run before --retry-timeout 5m0s is up"},
		{[]string{"--retry-timeout", "soon"}, `invalid value "soon" for flag --retry-timeout`},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, _, stderr := runIn(append([]string{"check", "--policy", policy}, c.args...)...)
			if code != exitUsage || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, c.want)
			}
		})
	}
}

func findingOf(t *testing.T, r *report.Report, check string) finding.Finding {
	t.Helper()
	for _, f := range r.Findings {
		if f.Check == check {
			return f
		}
	}
	t.Fatalf("no finding for %s in %v", check, findingsByCheck(r))
	return finding.Finding{}
}
