package rules_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/policies"
	"github.com/hostdrift/hostdrift/rules"
)

func loadFile(t *testing.T, path string) (*rules.Policy, hcl.Diagnostics) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return rules.Load([]rules.Source{{Name: path, Text: b}})
}

// diagnose loads and compiles a policy as `policy validate` does.
func diagnose(t *testing.T, path string) hcl.Diagnostics {
	p, diags := loadFile(t, path)
	_, more := p.Compile(nil, nil)
	return append(diags, more...)
}

func TestValidPolicies(t *testing.T) {
	files, _ := filepath.Glob("testdata/policies/valid/*.hcl")
	if len(files) == 0 {
		t.Fatal("no valid policies found")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if diags := diagnose(t, f); len(diags) > 0 {
				t.Errorf("unexpected diagnostics: %s", diags.Error())
			}
		})
	}
}

var errorMarker = regexp.MustCompile(`# ERROR: (.*)$`)

// TestInvalidPolicies: each invalid file marks, on the offending line, a
// substring of the error expected there. Every marked error must be reported
// on its line, and nothing else may be.
func TestInvalidPolicies(t *testing.T) {
	files, _ := filepath.Glob("testdata/policies/invalid/*.hcl")
	if len(files) == 0 {
		t.Fatal("no invalid policies found")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, _ := os.ReadFile(f)
			want := map[int][]string{}
			for i, line := range strings.Split(string(b), "\n") {
				if m := errorMarker.FindStringSubmatch(line); m != nil {
					want[i+1] = append(want[i+1], strings.TrimSpace(m[1]))
				}
			}
			diags := diagnose(t, f)
			got := map[int][]string{}
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without a position: %s: %s", d.Summary, d.Detail)
					continue
				}
				got[d.Subject.Start.Line] = append(got[d.Subject.Start.Line], d.Summary+": "+d.Detail)
			}
			for line, subs := range want {
				for _, sub := range subs {
					if !containsAny(got[line], sub) {
						t.Errorf("line %d: want an error containing %q, got %q", line, sub, got[line])
					}
				}
			}
			for line, msgs := range got {
				if len(want[line]) == 0 {
					t.Errorf("line %d: unexpected diagnostics %q", line, msgs)
				}
			}
		})
	}
}

func containsAny(msgs []string, sub string) bool {
	for _, m := range msgs {
		if strings.Contains(m, sub) {
			return true
		}
	}
	return false
}

func TestDefaultPolicyIsValid(t *testing.T) {
	files, err := policies.Default()
	if err != nil || len(files) == 0 {
		t.Fatalf("default policy: %v (%d files)", err, len(files))
	}
	var srcs []rules.Source
	for _, f := range files {
		srcs = append(srcs, rules.Source{Name: f.Name, Text: f.Text})
	}
	p, diags := rules.Load(srcs)
	plan, more := p.Compile(nil, nil)
	if diags = append(diags, more...); len(diags) > 0 {
		t.Fatal(diags.Error())
	}
	if len(plan.Checks) < 10 {
		t.Errorf("default policy has only %d checks", len(plan.Checks))
	}
}

func TestVariables(t *testing.T) {
	src := []rules.Source{{Name: "v.hcl", Text: []byte(`
variable "port" {}
variable "ports" { default = [1, 2] }
listener "x" { port = var.port }
listener "y" { port = var.ports[1] }
`)}}
	p, diags := rules.Load(src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if _, diags := p.Compile(nil, nil); diags.HasErrors() {
		t.Errorf("validate without a value for var.port should pass: %s", diags)
	}
	host := hostWith()
	if _, diags := p.Compile(host, nil); !diags.HasErrors() || !strings.Contains(diags.Error(), "pass --var port=VALUE") {
		t.Errorf("a variable without a value must be an error naming --var: %v", diags)
	}
	if _, diags := p.Compile(host, flagVars(t, map[string]string{"port": "8080"})); diags.HasErrors() {
		t.Errorf("--var port=8080: %s", diags)
	}
	if _, diags := p.Compile(host, flagVars(t, map[string]string{"port": "http"})); !diags.HasErrors() {
		t.Error("--var port=http must fail: port is a number")
	}
	_, diags = p.Compile(host, flagVars(t, map[string]string{"port": "1", "prot": "2"}))
	if !diags.HasErrors() || !strings.Contains(fmt.Sprint(diags), `no policy declares variable "prot"`) {
		t.Errorf("an undeclared --var must be an error: %v", diags)
	}
}

// flagVars is what --var NAME=VALUE flags give.
func flagVars(t *testing.T, flags map[string]string) *rules.Variables {
	t.Helper()
	v, diags := rules.ReadVariables(rules.VariableInputs{Flags: flags})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return v
}
