package main

import (
	"slices"
	"testing"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

// TestKindsNeedRegisteredCollectors checks, in the binary's own wiring, that
// every collector a check kind reads is registered: a kind naming a
// collector that does not exist would be an error on every host.
func TestKindsNeedRegisteredCollectors(t *testing.T) {
	registered := agent.Names()
	if len(registered) < 9 {
		t.Fatalf("only %d collectors registered: %v", len(registered), registered)
	}
	for _, n := range registered {
		if !snapshot.KnowsCollector(n) {
			t.Errorf("collector %q is registered but snapshot.CopyReading cannot move its section: add it to internal/snapshot/collectors.go", n)
		}
	}
	for _, k := range rules.Kinds() {
		if len(k.Needs) == 0 {
			t.Errorf("kind %s reads no collector", k.Name)
		}
		for _, n := range k.Needs {
			if !slices.Contains(registered, n) {
				t.Errorf("kind %s needs collector %q, which is not registered (registered: %v)", k.Name, n, registered)
			}
		}
	}
	for area, c := range snapshot.AreaCollectors() {
		if !slices.Contains(registered, c) {
			t.Errorf("area %s is read by collector %q, which is not registered", area, c)
		}
	}
}
