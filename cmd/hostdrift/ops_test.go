package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/report/reportdir"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// opsPolicy fails on the drift scenario's public redis, whatever the
// built-in default policy says.
const opsPolicy = `
listener "web" {
  port = 80
}
listener "redis-private" {
  port    = 6379
  address = "public"
  expect  = "absent"
}
`

func writeScenario(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".json")
	b, _ := json.Marshal(scenarios()[name])
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestNightlyOutputs: one run writes the table to stdout, the JSON report
// into the report folder with latest.json pointing at it, the snapshot and
// the Prometheus textfile; old reports beyond --keep go, other files stay.
func TestNightlyOutputs(t *testing.T) {
	snapFile := writeScenario(t, "drift.exit1")
	policy := policyFile(t, opsPolicy)
	state := t.TempDir()
	reports := filepath.Join(state, "reports")
	os.MkdirAll(reports, 0o750)
	for _, old := range []string{"report-20200101T023000Z.json", "report-20200102T023000Z.json", "report-20200103T023000Z.json", "notes.txt"} {
		os.WriteFile(filepath.Join(reports, old), []byte("{}"), 0o640)
	}
	savedSnap := filepath.Join(state, "snapshot-latest.json")
	prom := filepath.Join(state, "hostdrift.prom")

	var stdout, stderr bytes.Buffer
	code := run([]string{"check", "--snapshot", snapFile, "--policy", policy, "--color", "never",
		"--report-dir", reports, "--keep", "2", "--save-snapshot", savedSnap, "--prometheus-file", prom}, nil, &stdout, &stderr)
	if code != exitDrift {
		t.Fatalf("exit %d, want 1; stderr: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "listener.redis-private") || !strings.Contains(stdout.String(), "FAIL") {
		t.Errorf("stdout should hold the table:\n%s", stdout.String())
	}

	names, err := reportdir.List(reports)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 || names[0] != "report-20200103T023000Z.json" {
		t.Errorf("reports kept: %v, want the newest old one and this run's", names)
	}
	if _, err := os.Stat(filepath.Join(reports, "notes.txt")); err != nil {
		t.Errorf("a file that is not a report was removed: %v", err)
	}
	target, err := os.Readlink(filepath.Join(reports, reportdir.Latest))
	if err != nil || target != names[len(names)-1] {
		t.Fatalf("latest.json -> %q (%v), want %s", target, err, names[len(names)-1])
	}
	b, err := os.ReadFile(filepath.Join(reports, reportdir.Latest))
	if err != nil {
		t.Fatal(err)
	}
	validate(t, compileSchema(t, "report.schema.json"), b)
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Fail != 1 || target != reportdir.Name(rep.StartedAt) {
		t.Errorf("latest report: %+v, named %s", rep.Summary, target)
	}
	if st, _ := os.Stat(filepath.Join(reports, target)); st.Mode().Perm() != 0o640 {
		t.Errorf("report mode %v, want 0640", st.Mode().Perm())
	}

	b, err = os.ReadFile(savedSnap)
	if err != nil {
		t.Fatal(err)
	}
	saved, err := snapshot.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("saved snapshot: %v", err)
	}
	judged, _ := json.Marshal(scenarios()["drift.exit1"])
	if again, _ := json.Marshal(saved); !bytes.Equal(again, judged) {
		t.Errorf("the saved snapshot is not the one judged:\n%s\nwant\n%s", again, judged)
	}

	b, err = os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `hostdrift_findings{severity="warning",status="fail"} 1`) || !strings.Contains(string(b), "hostdrift_last_run_timestamp_seconds ") {
		t.Errorf("prometheus textfile:\n%s", b)
	}
	if st, _ := os.Stat(prom); st.Mode().Perm() != 0o644 {
		t.Errorf("textfile mode %v, want 0644 (node_exporter runs as another user)", st.Mode().Perm())
	}
}

// TestExtraOutputFailureExits4: an output that cannot be written is exit 4,
// and it does not stop the other outputs.
func TestExtraOutputFailureExits4(t *testing.T) {
	snapFile := writeScenario(t, "clean.exit0")
	state := t.TempDir()
	reports := filepath.Join(state, "reports")
	var stdout, stderr bytes.Buffer
	code := run([]string{"check", "--snapshot", snapFile, "--policy", policyFile(t, opsPolicy), "--format", "json",
		"--prometheus-file", filepath.Join(state, "missing", "hostdrift.prom"), "--report-dir", reports}, nil, &stdout, &stderr)
	if code != exitOutput {
		t.Errorf("exit %d, want 4; stderr: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "prometheus textfile") {
		t.Errorf("stderr should say which output failed: %s", stderr.String())
	}
	if names, _ := reportdir.List(reports); len(names) != 1 {
		t.Errorf("the report folder holds %v; the other outputs must still be written", names)
	}
	if !json.Valid(stdout.Bytes()) {
		t.Errorf("stdout should still hold the report: %s", stdout.String())
	}

	stdout.Reset()
	if code := run([]string{"check", "--snapshot", snapFile, "--policy", "-", "--format", "nagios",
		"--prometheus-file", filepath.Join(state, "missing", "x.prom")}, strings.NewReader(opsPolicy), &stdout, &stderr); code != nagiosUnknown {
		t.Errorf("nagios: exit %d, want UNKNOWN (3) when an output cannot be written", code)
	}
}

func TestKeepMustNotBeNegative(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"check", "--snapshot", writeScenario(t, "clean.exit0"), "--report-dir", t.TempDir(), "--keep", "-1"}, nil, &stdout, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "--keep") {
		t.Errorf("exit %d, stderr %q; want 2 naming --keep", code, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("nothing should be printed on stdout: %q", stdout.String())
	}
}
