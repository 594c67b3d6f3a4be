// Package audit runs a policy end to end in a test: the collectors it needs
// read the real host (or a fixture root, or a namespace), and the rules judge
// what they saw. Tests of a collector import it to assert the findings an
// operator would read, not just the snapshot.
package audit

import (
	"context"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

// Run loads src, collects what it asks with the registered collectors the
// policy needs (plus the host facts), in env, and returns the findings and
// the snapshot. The test's package must import the collectors it uses.
func Run(t testing.TB, src string, env agent.Env) ([]finding.Finding, *snapshot.Snapshot) {
	t.Helper()
	p, diags := rules.Load([]rules.Source{{Name: "test.hcl", Text: []byte(src)}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	// Host facts first: policies may refer to them.
	snap := &snapshot.Snapshot{Schema: snapshot.Schema, TakenAt: time.Now().UTC()}
	hostEnv := env
	if _, ok := agent.New(snapshot.CollectorHost); ok {
		agent.Run(context.Background(), snap, agent.Options{Env: hostEnv, Collectors: []string{snapshot.CollectorHost}})
	}
	plan, diags := p.Compile(&snap.Host, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	env.Wants = plan.Wants()
	var names []string
	for _, n := range plan.Needs() {
		if n != snapshot.CollectorHost {
			names = append(names, n)
		}
	}
	if len(names) > 0 {
		agent.Run(context.Background(), snap, agent.Options{Env: env, Collectors: names})
	}
	return plan.Evaluate(snap, snap.TakenAt), snap
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
