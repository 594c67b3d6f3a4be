package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// withEnviron makes the command see env as its environment.
func withEnviron(t *testing.T, env ...string) {
	t.Helper()
	old := environ
	environ = func() []string { return env }
	t.Cleanup(func() { environ = old })
}

func writeVarsFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestVariableSources: --var-file, HOSTDRIFT_VAR_ and --var reach the
// policy in Terraform's order, through every command that reads a policy.
func TestVariableSources(t *testing.T) {
	dir := t.TempDir()
	policy := writeVarsFile(t, dir, "p.hcl", `
variable "who" { default = "default" }
listener "web" {
  description = var.who
  port        = 80
}
`)
	one := writeVarsFile(t, dir, "one.hcvars", "who = \"file1\"\n")
	two := writeVarsFile(t, dir, "two.hcvars", "who = \"file2\"\n")
	snapFile := filepath.Join(dir, "snap.json")
	b, _ := json.Marshal(scenarios()["drift.exit1"])
	if err := os.WriteFile(snapFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		env  []string
		args []string
		want string
	}{
		"default":                  {nil, nil, "default"},
		"environment":              {[]string{"HOSTDRIFT_VAR_who=env"}, nil, "env"},
		"file over environment":    {[]string{"HOSTDRIFT_VAR_who=env"}, []string{"--var-file", one}, "file1"},
		"later file wins":          {nil, []string{"--var-file", one, "--var-file", two}, "file2"},
		"--var wins over files":    {nil, []string{"--var", "who=flag", "--var-file", two}, "flag"},
		"--var wins over env":      {[]string{"HOSTDRIFT_VAR_who=env"}, []string{"--var", "who=flag"}, "flag"},
		"--var-file=FILE spelling": {nil, []string{"--var-file=" + two}, "file2"},
	} {
		t.Run(name, func(t *testing.T) {
			withEnviron(t, tc.env...)
			var stdout, stderr bytes.Buffer
			args := append([]string{"check", "--snapshot", snapFile, "--policy", policy, "--format", "json"}, tc.args...)
			if code := run(args, nil, &stdout, &stderr); code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if !strings.Contains(stdout.String(), `"description": "`+tc.want+`"`) {
				t.Errorf("var.who is not %q:\n%s", tc.want, stdout.String())
			}
		})
	}

	withEnviron(t)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"policy", "validate", "--var-file", two, policy}, nil, &stdout, &stderr); code != exitOK {
		t.Errorf("policy validate --var-file: exit %d: %s", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"diff", "--var-file", filepath.Join(dir, "missing.hcvars"), "--policy", policy, snapFile, snapFile}, nil, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "missing.hcvars: no such file") {
		t.Errorf("a missing variable file: exit %d: %s", code, stderr.String())
	}
}

// TestPolicyFunctions: policy functions lists every function, one line of
// description under each.
func TestPolicyFunctions(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"policy", "functions"}, nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"cidrhost(prefix, hostnum)\n  Returns the IP address", "toset(v)\n", "format(format, args...)\n"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("policy functions lacks %q", want)
		}
	}
}

// TestGoldenDiagnostics: what an operator reads for the new language's
// mistakes: the position, the source line, and what to do.
func TestGoldenDiagnostics(t *testing.T) {
	withEnviron(t)
	dir := "../../rules/testdata/policies/invalid/"
	var stdout, stderr bytes.Buffer
	code := run([]string{"policy", "validate", dir + "functions.hcl", dir + "for-each.hcl", dir + "locals.hcl"}, nil, &stdout, &stderr)
	if code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	out := stderr.Bytes()
	compareGolden(t, filepath.Join("testdata", "golden", "diagnostics-hcl.txt"), out)
}

// TestREADMELanguageExample: the README's example of functions, for_each,
// locals and variables runs, with the values it says.
func TestREADMELanguageExample(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "### Functions, for_each, locals and variables")
	if i < 0 {
		t.Fatal("the README lost its language section")
	}
	block := func(fence string) string {
		start := strings.Index(readme[i:], fence) + i + len(fence)
		end := strings.Index(readme[start:], "```\n") + start
		i = end + len("```\n")
		return readme[start:end]
	}
	policy := block("```hcl\n")
	shell := block("```\n")
	vars := strings.SplitN(strings.SplitN(shell, "$ cat web.hcvars\n", 2)[1], "$ ", 2)[0]
	dir := t.TempDir()
	pf := writeVarsFile(t, dir, "lang.hcl", policy)
	vf := writeVarsFile(t, dir, "web.hcvars", vars)
	snapFile := filepath.Join(dir, "snap.json")
	sb, _ := json.Marshal(scenarios()["drift.exit1"])
	if err := os.WriteFile(snapFile, sb, 0o644); err != nil {
		t.Fatal(err)
	}
	withEnviron(t, "HOSTDRIFT_VAR_private_net=10.40.0.0/16")
	var stdout, stderr bytes.Buffer
	code := run([]string{"check", "--snapshot", snapFile, "--policy", pf, "--var-file", vf, "--var", "private_net=10.50.0.0/16", "--format", "json"}, nil, &stdout, &stderr)
	if code != exitOK && code != exitDrift {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{`"check": "listener.up[\"admin\"]"`, `"description": "HTTPS must listen"`, "10.50.2.1", `"check": "listener.private[\"metrics\"]"`} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the report lacks %s:\n%s", want, stdout.String())
		}
	}
}
