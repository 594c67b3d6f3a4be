package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

func TestScopeUndoesLastFirst(t *testing.T) {
	sc := &scope{}
	var order []int
	err := sc.try(func() error {
		sc.Cleanup(func() { order = append(order, 1) })
		sc.Cleanup(func() { order = append(order, 2) })
		sc.Fatalf("broken: %d", 7)
		return nil
	})
	if err == nil || err.Error() != "broken: 7" || errors.Is(err, errSkipped) {
		t.Errorf("try after Fatalf = %v, want broken: 7", err)
	}
	if err := sc.try(func() error { sc.Skip("no dockerd"); return nil }); !errors.Is(err, errSkipped) {
		t.Errorf("try after Skip = %v, want errSkipped", err)
	}
	sc.close()
	sc.close()
	if len(order) != 2 || order[0] != 2 || order[1] != 1 {
		t.Errorf("cleanups ran %v, want [2 1] once", order)
	}
}

// TestPolicy checks the policy's size at 1x and that what hostdrift would
// reject never gets in: every block decodes.
func TestPolicy(t *testing.T) {
	h := &host{scale: 1, dnsServer: "127.0.0.1:5353"}
	var built []part
	for _, p := range parts {
		if p.name == "firewall" || p.name == "sockets" || p.name == "dns" {
			built = append(built, p)
		}
	}
	p := makePolicy(h, built)
	total := 0
	for _, n := range p.byKind {
		total += n
	}
	if total != policyChecks {
		t.Errorf("policy holds %d checks at 1x, want %d (%v)", total, policyChecks, p.byKind)
	}
	for _, text := range []string{p.text, p.direct} {
		pol, diags := rules.Load([]rules.Source{{Name: "bench.hcl", Text: []byte(text)}})
		if !diags.HasErrors() {
			_, diags = pol.Compile(&snapshot.Host{}, nil)
		}
		if diags.HasErrors() {
			t.Fatalf("the generated policy does not compile: %s", diags.Error())
		}
	}
	if strings.Contains(p.direct, `probe "`) || !strings.Contains(p.text, `probe "`) {
		t.Error("only the direct policy should leave out the kinds that probe")
	}
}
