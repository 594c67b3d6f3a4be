package rules_test

import (
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/rules"
)

const varPolicy = `
variable "who" { default = "default" }
variable "ports" { default = [1] }
listener "x" {
  description = var.who
  port        = var.ports[0]
}
`

// TestVariablePrecedence: as Terraform: default < environment < variable
// files in order < --var.
func TestVariablePrecedence(t *testing.T) {
	env := []string{"PATH=/bin", "HOSTDRIFT_VAR_who=env", "HOSTDRIFT_VAR_ports=[2]"}
	file1 := rules.Source{Name: "one.hcvars", Text: []byte("who = \"file1\"\nports = [3]\n")}
	file2 := rules.Source{Name: "two.hcvars", Text: []byte("who = \"file2\"\n")}
	for name, tc := range map[string]struct {
		in        rules.VariableInputs
		who, port string
	}{
		"default":                    {rules.VariableInputs{}, "default", "1"},
		"environment over default":   {rules.VariableInputs{Environ: env}, "env", "2"},
		"file over environment":      {rules.VariableInputs{Environ: env, Files: []rules.Source{file1}}, "file1", "3"},
		"later file over earlier":    {rules.VariableInputs{Environ: env, Files: []rules.Source{file1, file2}}, "file2", "3"},
		"earlier file when reversed": {rules.VariableInputs{Files: []rules.Source{file2, file1}}, "file1", "3"},
		"--var over files":           {rules.VariableInputs{Environ: env, Files: []rules.Source{file1, file2}, Flags: map[string]string{"who": "flag"}}, "flag", "3"},
		"--var list":                 {rules.VariableInputs{Files: []rules.Source{file1}, Flags: map[string]string{"ports": "[4, 5]"}}, "file1", "4"},
	} {
		t.Run(name, func(t *testing.T) {
			vars, diags := rules.ReadVariables(tc.in)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			plan, err := compileText(t, varPolicy, hostWith(), vars)
			if err != nil {
				t.Fatal(err)
			}
			c := plan.Checks[0]
			if c.Description != tc.who {
				t.Errorf("var.who = %q, want %q", c.Description, tc.who)
			}
			if got := strings.Join(checksOf(plan), ""); !strings.Contains(got, "listener.x") {
				t.Errorf("checks %s", got)
			}
			// The port is the listener's; it shows in the check's expectation.
			res := c.Check.Evaluate(listenerSnapshot())
			if !strings.Contains(res.Expected, "/"+tc.port+" ") && !strings.HasSuffix(res.Expected, "/"+tc.port) {
				t.Errorf("port: expected %q, want port %s", res.Expected, tc.port)
			}
		})
	}
}

// TestVariableFileErrors: a variable file holds constants, and values for
// undeclared variables are reported as Terraform reports them.
func TestVariableFileErrors(t *testing.T) {
	for text, want := range map[string]string{
		"who = var.other\n":          "Variables not allowed",
		"who = upper(\"x\")\n":       "Functions may not be called here",
		"variable \"who\" {}\n":      "A variable file holds only name = value lines",
		"who = \n":                   "Invalid expression",
		"who = \"a\"\nwho = \"b\"\n": "Attribute redefined",
	} {
		_, diags := rules.ReadVariables(rules.VariableInputs{Files: []rules.Source{{Name: "v.hcvars", Text: []byte(text)}}})
		if !diags.HasErrors() || !strings.Contains(diags.Error(), want) {
			t.Errorf("%q: want an error containing %q, got %v", text, want, diags)
		}
	}

	p, _ := rules.Load([]rules.Source{{Name: "p.hcl", Text: []byte(varPolicy)}})
	for name, tc := range map[string]struct {
		in      rules.VariableInputs
		warning string
		err     string
	}{
		"undeclared in a file warns": {in: rules.VariableInputs{Files: []rules.Source{{Name: "v.hcvars", Text: []byte("nope = 1\n")}}},
			warning: `the variable file v.hcvars sets "nope", which no policy declares`},
		"undeclared in the environment is ignored": {in: rules.VariableInputs{Environ: []string{"HOSTDRIFT_VAR_nope=1", "HOSTDRIFT_VAR_other=[unclosed"}}},
		"malformed in the environment": {in: rules.VariableInputs{Environ: []string{"HOSTDRIFT_VAR_ports=[1,"}},
			err: "HOSTDRIFT_VAR_ports"},
		"undeclared --var is an error": {in: rules.VariableInputs{Flags: map[string]string{"nope": "1"}},
			err: `no policy declares variable "nope"`},
		"wrong type from the environment": {in: rules.VariableInputs{Environ: []string{"HOSTDRIFT_VAR_ports=[\"http\"]"}},
			err: "port must be number"},
	} {
		t.Run(name, func(t *testing.T) {
			vars, diags := rules.ReadVariables(tc.in)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			_, diags = p.Compile(hostWith(), vars)
			switch {
			case tc.err != "":
				if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.err) {
					t.Errorf("want an error containing %q, got %v", tc.err, diags)
				}
			case tc.warning != "":
				if diags.HasErrors() || len(diags) != 1 || !strings.Contains(diags[0].Detail, tc.warning) || diags[0].Subject == nil {
					t.Errorf("want one warning at the file's line containing %q, got %v", tc.warning, diags)
				}
			default:
				if len(diags) > 0 {
					t.Errorf("want no diagnostics, got %v", diags)
				}
			}
		})
	}
}
