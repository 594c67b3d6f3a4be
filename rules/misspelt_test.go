package rules_test

import (
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

// TestMisspeltRequiredArgument: "prot = 443" where port is required is one
// error, at the misspelling, with the suggestion and that port is
// required; before, "Missing required argument" at the brace came first.
func TestMisspeltRequiredArgument(t *testing.T) {
	p, diags := rules.Load([]rules.Source{{Name: "typo.hcl", Text: []byte("listener \"web\" {\n  prot = 443\n}\n")}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	_, diags = p.Compile(&snapshot.Host{Hostname: "h"}, nil)
	if len(diags) != 1 {
		t.Fatalf("%d diagnostics, want 1: %v", len(diags), diags)
	}
	d := diags[0]
	if d.Subject == nil || d.Subject.Start.Line != 2 || d.Summary != "Misspelt required argument" ||
		!strings.Contains(d.Detail, `An argument named "prot" is not expected here. Did you mean "port"? The argument "port" is required`) {
		t.Errorf("%s at %v: %s", d.Summary, d.Subject, d.Detail)
	}
	// A misspelling of an optional argument stays as HCL says it.
	p, _ = rules.Load([]rules.Source{{Name: "opt.hcl", Text: []byte("listener \"web\" {\n  port = 443\n  adress = \"0.0.0.0\"\n}\n")}})
	_, diags = p.Compile(&snapshot.Host{Hostname: "h"}, nil)
	if len(diags) != 1 || diags[0].Summary != "Unsupported argument" {
		t.Errorf("optional: %v", diags)
	}
}
