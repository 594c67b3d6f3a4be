package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// stockHostWithAJob is the clean fixture host plus one job an admin added,
// whose output goes to mail on a host with no MTA: the built-in policy's
// cron.output-not-lost fails there, truly, and the operator accepts it.
func stockHostWithAJob(t *testing.T) string {
	t.Helper()
	s := scenarios()["clean.exit0"]
	s.Jobs.Cron.MTA = ""
	s.Jobs.Cron.Jobs = []snapshot.CronJob{{
		File: "/etc/cron.d/backup", Line: 2, Kind: snapshot.CronSystem, Schedule: "0 3 * * *", User: "root",
		Command:  "/usr/local/bin/backup",
		Programs: []snapshot.Program{{Word: "/usr/local/bin/backup", Path: "/usr/local/bin/backup", Exists: true, Executable: true}},
		Output:   snapshot.JobOutput{ToCron: []string{"stdout", "stderr"}, MailTo: "root"},
	}}
	path := filepath.Join(t.TempDir(), "stock.json")
	b, _ := json.Marshal(s)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// operatorDir points the system policy folder at a fresh folder holding the
// given files (name, text, ...), for the test's duration.
func operatorDir(t *testing.T, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for i := 0; i+1 < len(files); i += 2 {
		if err := os.WriteFile(filepath.Join(dir, files[i]), []byte(files[i+1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := systemPolicyDir
	systemPolicyDir = dir
	t.Cleanup(func() { systemPolicyDir = old })
	return dir
}

func checkJSON(t *testing.T, args ...string) (int, *report.Report, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"check", "--format", "json"}, args...), nil, &stdout, &stderr)
	var rep report.Report
	if stdout.Len() > 0 {
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			t.Fatalf("report is not JSON: %v\n%s", err, stdout.String())
		}
	}
	return code, &rep, stderr.String()
}

func findingNamed(rep *report.Report, id string) *finding.Finding {
	for i := range rep.Findings {
		if rep.Findings[i].Check == id {
			return &rep.Findings[i]
		}
	}
	return nil
}

const waiverFile = `waiver "cron.output-not-lost" {
  reason  = "backup writes its own log; its mail is not read, OPS-7"
  expires = "2099-12-31"
}
`

// TestStockHostPlusAWaiverFileExitsZero: with no --policy, the built-in
// policy runs with the operator's folder layered over it, so a short waiver
// file for a built-in check is all it takes to reach exit 0.
func TestStockHostPlusAWaiverFileExitsZero(t *testing.T) {
	snap := stockHostWithAJob(t)
	dir := operatorDir(t)
	code, rep, stderr := checkJSON(t, "--snapshot", snap)
	if code != exitDrift || findingNamed(rep, "cron.output-not-lost").Status != finding.Fail {
		t.Fatalf("without a waiver the fixture must fail cron.output-not-lost: exit %d %s", code, stderr)
	}
	builtinChecks := len(rep.Findings)

	if err := os.WriteFile(filepath.Join(dir, "waivers.hcl"), []byte(waiverFile), 0o644); err != nil {
		t.Fatal(err)
	}
	code, rep, stderr = checkJSON(t, "--snapshot", snap)
	if code != exitOK {
		t.Fatalf("with the waiver file: exit %d, want 0; stderr: %s", code, stderr)
	}
	f := findingNamed(rep, "cron.output-not-lost")
	if f.Status != finding.Waived || f.Waiver == nil || f.Waiver.Source.File != filepath.Join(dir, "waivers.hcl") {
		t.Errorf("finding %+v", f)
	}
	if len(rep.Findings) != builtinChecks {
		t.Errorf("%d findings, want the built-in policy's %d", len(rep.Findings), builtinChecks)
	}
	if !slices.Contains(rep.Policies, filepath.Join(dir, "waivers.hcl")) || !slices.Contains(rep.Policies, "builtin:default/jobs.hcl") {
		t.Errorf("the report must name both layers' files: %v", rep.Policies)
	}

	var stdout, errb bytes.Buffer
	if code := run([]string{"policy", "validate"}, nil, &stdout, &errb); code != exitOK || !strings.Contains(stdout.String(), "waived: cron.output-not-lost until 2099-12-31 by "+dir) {
		t.Errorf("policy validate with no file validates the default layering and lists the waiver: exit %d\n%s%s", code, stdout.String(), errb.String())
	}
}

// TestDisableShowsAsSkip: a disabled built-in check is not evaluated, and
// the report says who disabled it and why.
func TestDisableShowsAsSkip(t *testing.T) {
	snap := stockHostWithAJob(t)
	dir := operatorDir(t, "local.hcl", `disable "cron.output-not-lost" {
  reason = "jobs here log to files; cron mail is not used (OPS-8)"
}
`)
	code, rep, stderr := checkJSON(t, "--snapshot", snap)
	if code != exitOK {
		t.Fatalf("exit %d, want 0: %s", code, stderr)
	}
	f := findingNamed(rep, "cron.output-not-lost")
	if f == nil || f.Status != finding.Skip || !strings.Contains(f.Explanation, "Disabled by "+filepath.Join(dir, "local.hcl")+":1") || !strings.Contains(f.Explanation, "OPS-8") {
		t.Errorf("finding %+v", f)
	}
}

// TestOverrideReplacesTheBuiltinCheck: a check with a built-in check's
// kind.name replaces it, and says so.
func TestOverrideReplacesTheBuiltinCheck(t *testing.T) {
	snap := stockHostWithAJob(t)
	dir := operatorDir(t, "local.hcl", `cron "output-not-lost" {
  description = "Every job's program exists: here output is not mailed, so only that is checked"
  require     = ["program"]
}
`)
	code, rep, stderr := checkJSON(t, "--snapshot", snap)
	if code != exitOK {
		t.Fatalf("exit %d, want 0 (the override asks for less): %s", code, stderr)
	}
	f := findingNamed(rep, "cron.output-not-lost")
	if f == nil || f.Source.File != filepath.Join(dir, "local.hcl") || !strings.Contains(f.Explanation, "replaces the built-in one at builtin:default/jobs.hcl:") {
		t.Errorf("finding %+v", f)
	}
	var stdout, errb bytes.Buffer
	if code := run([]string{"policy", "validate"}, nil, &stdout, &errb); code != exitOK || !strings.Contains(stdout.String(), "replaced: cron.output-not-lost by "+dir) {
		t.Errorf("policy validate must list the replaced check: exit %d\n%s%s", code, stdout.String(), errb.String())
	}
}

// TestTurningTheBuiltinOff: hostdrift { builtin = false } in the operator's
// folder, or --no-builtin, leaves only the operator's checks.
func TestTurningTheBuiltinOff(t *testing.T) {
	snap := stockHostWithAJob(t)
	const own = `listener "http" { port = 80 }
`
	operatorDir(t, "own.hcl", own, "settings.hcl", "hostdrift {\n  builtin = false\n}\n")
	code, rep, stderr := checkJSON(t, "--snapshot", snap)
	if code != exitOK || len(rep.Findings) != 1 || rep.Findings[0].Check != "listener.http" {
		t.Errorf("builtin = false: exit %d, findings %d, want only listener.http; %s", code, len(rep.Findings), stderr)
	}
	operatorDir(t, "own.hcl", own)
	code, rep, stderr = checkJSON(t, "--snapshot", snap, "--no-builtin")
	if code != exitOK || len(rep.Findings) != 1 {
		t.Errorf("--no-builtin: exit %d, findings %d; %s", code, len(rep.Findings), stderr)
	}
	operatorDir(t)
	if code, _, stderr := checkJSON(t, "--snapshot", snap, "--no-builtin"); code != exitUsage || !strings.Contains(stderr, "leaves nothing to check") {
		t.Errorf("--no-builtin with no files: exit %d, %s", code, stderr)
	}
	if code, _, stderr := checkJSON(t, "--snapshot", snap, "--no-builtin", "--policy", "builtin:default"); code != exitUsage || !strings.Contains(stderr, "contradict") {
		t.Errorf("--no-builtin with --policy builtin:default: exit %d, %s", code, stderr)
	}
}

// TestExplicitPolicyIsExactlyWhatIsNamed: --policy FILE reads that file and
// nothing else (an Ansible task asserting its own checks gets just those);
// naming builtin:default too layers the file over the built-in policy.
func TestExplicitPolicyIsExactlyWhatIsNamed(t *testing.T) {
	snap := stockHostWithAJob(t)
	dir := operatorDir(t, "waivers.hcl", waiverFile)
	own := filepath.Join(t.TempDir(), "own.hcl")
	if err := os.WriteFile(own, []byte(`listener "http" { port = 80 }`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, rep, stderr := checkJSON(t, "--snapshot", snap, "--policy", own)
	if code != exitOK || len(rep.Findings) != 1 || len(rep.Policies) != 1 {
		t.Errorf("--policy FILE: exit %d, %d findings from %v; want only its own check; %s", code, len(rep.Findings), rep.Policies, stderr)
	}
	code, _, stderr = checkJSON(t, "--snapshot", snap, "--policy", dir)
	if code != exitUsage || !strings.Contains(stderr, "add --policy builtin:default") {
		t.Errorf("a waiver for a built-in check without the built-in policy: exit %d, want 2 with a hint; %s", code, stderr)
	}
	code, rep, stderr = checkJSON(t, "--snapshot", snap, "--policy", "builtin:default", "--policy", dir)
	if code != exitOK || findingNamed(rep, "cron.output-not-lost").Status != finding.Waived {
		t.Errorf("--policy builtin:default --policy DIR: exit %d; %s", code, stderr)
	}
}

// TestSnapshotOfHostFactsOnly: --collectors host runs the host collector
// and nothing else (it used to run every collector, probes included).
func TestSnapshotOfHostFactsOnly(t *testing.T) {
	operatorDir(t)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"snapshot", "--collectors", "host"}, nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var s snapshot.Snapshot
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	for _, c := range s.Collectors {
		if c.Name != "host" {
			t.Errorf("collector %s ran; only host was asked for", c.Name)
		}
	}
}

// TestREADMELayeringExample: the README's example policy validates over the
// built-in one, and policy validate prints what the README says it does.
func TestREADMELayeringExample(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "A complete `/etc/hostdrift/policies/local.hcl`")
	if i < 0 {
		t.Fatal("the README lost its layering example")
	}
	start := strings.Index(readme[i:], "```hcl\n") + i + len("```hcl\n")
	end := strings.Index(readme[start:], "```\n") + start
	dir := operatorDir(t, "local.hcl", readme[start:end])
	var stdout, stderr bytes.Buffer
	if code := run([]string{"policy", "validate"}, nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		shown := "    " + strings.ReplaceAll(line, dir, "/etc/hostdrift/policies") + "\n"
		if !strings.Contains(readme, shown) {
			t.Errorf("the README does not show the line %q", shown)
		}
	}
}
