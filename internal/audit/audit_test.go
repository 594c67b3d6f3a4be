package audit_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	_ "github.com/hostdrift/hostdrift/agent/all"
	"github.com/hostdrift/hostdrift/internal/audit"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

const policy = `
cron "programs-exist" {
  require = ["program"]
}
file "motd" {
  path     = "/etc/motd"
  contains = "hello"
}
`

func write(t *testing.T, root, rel, text string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
}

func status(fs []finding.Finding, check string) finding.Status {
	for _, f := range fs {
		if f.Check == check {
			return f.Status
		}
	}
	return "absent"
}

// TestReadRereadRejudge runs a policy over a fixture root through the
// pipeline: the first reading judges both checks; after a change, reading
// cron again and judging what reads it flips that check alone, and the
// reading lands in the run's snapshot.
func TestReadRereadRejudge(t *testing.T) {
	root := t.TempDir()
	write(t, root, "usr/local/bin/backup", "#!/bin/sh\n", 0o755)
	write(t, root, "etc/cron.d/backup", "0 1 * * * root /usr/local/bin/backup\n", 0o644)
	write(t, root, "etc/motd", "hello\n", 0o644)
	pol, diags := rules.Load([]rules.Source{{Name: "test.hcl", Text: []byte(policy)}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	h := audit.Host{Options: agent.Options{Env: agent.Env{Root: root}}, Version: "test"}
	ctx := context.Background()
	run, diags := audit.Read(ctx, h, audit.Request{Policy: pol})
	if diags.HasErrors() || run.Plan == nil {
		t.Fatalf("read: %v (facts: %v)", diags, audit.UnreadFacts(run.Snap))
	}
	if run.Snap.Root != root || run.Snap.Version != "test" {
		t.Errorf("snapshot stamp: root %q version %q", run.Snap.Root, run.Snap.Version)
	}
	fs := run.Judge(time.Now())
	if status(fs, "cron.programs-exist") != finding.Pass || status(fs, "file.motd") != finding.Pass {
		t.Fatalf("first judgement: %+v", fs)
	}

	write(t, root, "etc/cron.d/backup", "0 1 * * * root /usr/local/bin/missing\n", 0o644)
	write(t, root, "etc/motd", "goodbye\n", 0o644)
	fresh, read := run.Reread(ctx, h, []string{snapshot.CollectorCron})
	if fresh == nil || len(read) != 1 || read[0] != snapshot.CollectorCron {
		t.Fatalf("reread: %v", read)
	}
	if _, ran := fresh.Collector(snapshot.CollectorHost); !ran || fresh.Host.Hostname != run.Snap.Host.Hostname {
		t.Error("the fresh reading does not carry the run's facts")
	}
	run.Merge(fresh, read)
	fs = run.Rejudge(fs, read, time.Now())
	if status(fs, "cron.programs-exist") != finding.Fail {
		t.Errorf("cron after the job's program went missing: %s", status(fs, "cron.programs-exist"))
	}
	if status(fs, "file.motd") != finding.Pass {
		t.Error("a check that reads nothing read again was judged again")
	}
	if len(fs) != 2 {
		t.Errorf("findings: %d, want 2", len(fs))
	}
}

// TestRetry judges a failing check again until it passes: the change made
// between attempts is seen, and the finding counts its attempts.
func TestRetry(t *testing.T) {
	root := t.TempDir()
	write(t, root, "etc/motd", "goodbye\n", 0o644)
	pol, _ := rules.Load([]rules.Source{{Name: "test.hcl", Text: []byte(`file "motd" {
  path     = "/etc/motd"
  contains = "hello"
}
`)}})
	h := audit.Host{Options: agent.Options{Env: agent.Env{Root: root}}}
	ctx := context.Background()
	run, _ := audit.Read(ctx, h, audit.Request{Policy: pol})
	started := time.Now()
	fs := run.Judge(started)
	if fs[0].Status != finding.Fail {
		t.Fatalf("before: %s", fs[0].Status)
	}
	go func() {
		time.Sleep(150 * time.Millisecond)
		write(t, root, "etc/motd", "hello\n", 0o644)
	}()
	fs = audit.Retry{Timeout: 10 * time.Second, Sleep: 50 * time.Millisecond}.Run(ctx, h, run, fs, started)
	if fs[0].Status != finding.Pass || fs[0].Attempts < 2 {
		t.Errorf("after the retries: %s after %d attempts", fs[0].Status, fs[0].Attempts)
	}
	if run.Snap.Files == nil || len(run.Snap.Files.Files) != 1 {
		t.Errorf("the last reading did not land in the run's snapshot: %+v", run.Snap.Files)
	}
}
