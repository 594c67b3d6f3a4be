// Package audit runs a policy end to end in a test: the collectors it needs
// read the real host (or a fixture root, or a namespace), and the rules judge
// what they saw. Tests of a collector import it to assert the findings an
// operator would read, not just the snapshot.
package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	// The host's facts, which every policy is compiled against, as check reads them.
	_ "github.com/hostdrift/hostdrift/agent/host"
	"github.com/hostdrift/hostdrift/internal/audit"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

// Run loads src, reads the host through the pipeline hostdrift check uses
// (internal/audit: the host facts, then the registered collectors the
// policy needs, asked what it wants), in env, and returns the findings and
// the snapshot. The test's package must import the collectors it uses
// (the host collector, for the facts, is imported here).
func Run(t testing.TB, src string, env agent.Env) ([]finding.Finding, *snapshot.Snapshot) {
	t.Helper()
	p, diags := rules.Load([]rules.Source{{Name: "test.hcl", Text: []byte(src)}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	run, diags := audit.Read(context.Background(), audit.Host{Options: agent.Options{Env: env}}, audit.Request{Policy: p})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if err := audit.UnreadFacts(run.Snap); err != nil {
		t.Fatal(err)
	}
	return run.Judge(run.Snap.TakenAt), run.Snap
}

// One is Run for a policy of one check: it returns that check's finding.
func One(t testing.TB, src string, env agent.Env) finding.Finding {
	t.Helper()
	fs, snap := Run(t, src, env)
	if len(fs) != 1 {
		t.Fatalf("want 1 finding, got %d (collectors %+v)", len(fs), snap.Collectors)
	}
	return fs[0]
}

// Saved judges snap with plan as check --snapshot does: the snapshot is
// written as JSON and read back first, so what the rules see is what a
// saved snapshot holds. It returns the findings by check.
func Saved(t testing.TB, plan *rules.Plan, snap *snapshot.Snapshot) map[string]finding.Finding {
	t.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(snap); err != nil {
		t.Fatal(err)
	}
	saved, err := snapshot.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]finding.Finding{}
	for _, f := range plan.Evaluate(saved, time.Now()) {
		out[f.Check] = f
	}
	return out
}
