package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// cliFixture writes a saved snapshot and a policy for the flag tests, which
// judge files and so never read this machine.
func cliFixture(t *testing.T) (snapFile, policy string) {
	t.Helper()
	dir := t.TempDir()
	snapFile = filepath.Join(dir, "snap.json")
	b, _ := json.Marshal(scenarios()["drift.exit1"])
	if err := os.WriteFile(snapFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	policy = filepath.Join(dir, "site.hcl")
	if err := os.WriteFile(policy, []byte(`variable "port" { default = 80 }
listener "web" { port = var.port }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	return snapFile, policy
}

func runIn(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestFlagsAnywhere: every command reads its flags before, between and
// after its arguments, as --flag value, --flag=value and Go's -flag value.
// Before parseFlags read flags after the arguments, "diff OLD NEW --format
// json" failed with "name two snapshots".
func TestFlagsAnywhere(t *testing.T) {
	snapFile, policy := cliFixture(t)
	out := filepath.Join(t.TempDir(), "out")
	for _, c := range []struct {
		name     string
		args     []string
		wantCode int
		stdout   string // in stdout, or in the --output file
	}{
		{"diff flags after", []string{"diff", snapFile, snapFile, "--format", "json"}, exitOK, `"changes"`},
		{"diff flags between", []string{"diff", snapFile, "--format=json", snapFile, "--area", "listeners"}, exitOK, `"changes"`},
		{"diff flags before", []string{"diff", "--format", "json", snapFile, snapFile}, exitOK, `"changes"`},
		{"diff single dash", []string{"diff", snapFile, snapFile, "-format", "json"}, exitOK, `"changes"`},
		{"check equals", []string{"check", "--snapshot=" + snapFile, "--policy=" + policy, "--format=json", "--var=port=22"}, exitDrift, `"listener.web"`},
		{"check spaced", []string{"check", "--snapshot", snapFile, "--policy", policy, "--format", "json", "--var", "port=22"}, exitDrift, `"listener.web"`},
		{"check single dash", []string{"check", "-snapshot", snapFile, "-policy", policy, "-format", "json"}, exitOK, `"listener.web"`},
		{"check output", []string{"check", "--snapshot", snapFile, "--policy", policy, "--output=" + out + ".check", "--format", "json"}, exitOK, `"listener.web"`},
		{"validate flags after", []string{"policy", "validate", policy, "--var", "port=22", "--no-builtin"}, exitOK, "ok: 1 checks in 1 file(s)"},
		{"validate equals", []string{"policy", "validate", "--var=port=22", policy}, exitOK, "ok: 1 checks"},
		{"validate after --", []string{"policy", "validate", "--", policy}, exitOK, "ok: 1 checks"},
		{"kinds", []string{"policy", "kinds", "file"}, exitOK, "file: a file exists"},
		{"version", []string{"version"}, exitOK, "hostdrift "},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runIn(c.args...)
			if code != c.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, c.wantCode, stderr)
			}
			if i := slicesIndexPrefix(c.args, "--output="); i >= 0 {
				b, _ := os.ReadFile(strings.TrimPrefix(c.args[i], "--output="))
				stdout = string(b)
			}
			if !strings.Contains(stdout, c.stdout) {
				t.Errorf("output lacks %q:\n%s", c.stdout, stdout)
			}
		})
	}
	// policy kinds with a kind named: only that kind.
	if _, stdout, _ := runIn("policy", "kinds", "file"); strings.Contains(stdout, "listener:") {
		t.Errorf("policy kinds file lists other kinds:\n%s", stdout)
	}
}

func slicesIndexPrefix(args []string, prefix string) int {
	for i, a := range args {
		if strings.HasPrefix(a, prefix) {
			return i
		}
	}
	return -1
}

// TestFlagErrors: an unknown flag names the nearest one, a positional
// argument where none belongs is refused, and both are usage errors (2)
// that say where the flags are listed.
func TestFlagErrors(t *testing.T) {
	snapFile, policy := cliFixture(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"diff", snapFile, snapFile, "--formt", "json"}, "hostdrift diff: unknown flag --formt: did you mean --format?"},
		{[]string{"diff", snapFile, snapFile, "-formt=json"}, "unknown flag --formt: did you mean --format?"},
		{[]string{"check", "--snapshot", snapFile, "--polcy", policy}, "hostdrift check: unknown flag --polcy: did you mean --policy?"},
		{[]string{"check", "--retry-timout", "5s"}, "unknown flag --retry-timout: did you mean --retry-timeout?"},
		{[]string{"check", "--onyl", "listener"}, "unknown flag --onyl: did you mean --only?"},
		{[]string{"check", "--save"}, "unknown flag --save: did you mean --save-snapshot?"},
		{[]string{"snapshot", "--colectors", "host"}, "hostdrift snapshot: unknown flag --colectors: did you mean --collectors?"},
		{[]string{"snapshot", "extra.json"}, `hostdrift snapshot: unexpected argument "extra.json"`},
		{[]string{"explain", "out", "tcp", "587", "--too", "192.0.2.1"}, "hostdrift explain: unknown flag --too: did you mean --to?"},
		{[]string{"policy", "validate", policy, "--no-bultin"}, "hostdrift policy validate: unknown flag --no-bultin: did you mean --no-builtin?"},
		{[]string{"policy", "init", "--aera", "dns"}, "hostdrift policy init: unknown flag --aera: did you mean --area?"},
		{[]string{"policy", "init", "extra"}, `hostdrift policy init: unexpected argument "extra"`},
		{[]string{"policy", "kinds", "listner"}, `no check kind "listner": did you mean listener?`},
		{[]string{"policy", "valdate"}, `unknown subcommand "valdate": did you mean validate?`},
		{[]string{"version", "--verbose"}, "hostdrift version: unknown flag --verbose\n"},
		{[]string{"version", "now"}, `hostdrift version: unexpected argument "now"`},
		{[]string{"chek"}, `unknown command "chek": did you mean check?`},
		{[]string{"check", "--keep", "many"}, `invalid value "many" for flag --keep`},
		{[]string{"diff", snapFile, snapFile, "--format"}, "flag --format needs a value"},
	} {
		t.Run(c.want, func(t *testing.T) {
			code, stdout, stderr := runIn(c.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr lacks %q:\n%s", c.want, stderr)
			}
			if stdout != "" {
				t.Errorf("a usage error printed on stdout: %s", stdout)
			}
		})
	}
}

// TestHelp: COMMAND --help (and -h) exits 0 with the synopsis, the flags
// spelt --flag and two to four examples, whose flags are the command's own,
// on standard output (help asked for is output: "check --help | less").
func TestHelp(t *testing.T) {
	flagLine := regexp.MustCompile(`(?m)^  --([a-z-]+)`)
	exampleFlag := regexp.MustCompile(`--([a-z-]+)`)
	for _, cmd := range completionCommands {
		name := strings.Join(cmd, " ")
		for _, h := range []string{"--help", "-h"} {
			t.Run(name+" "+h, func(t *testing.T) {
				code, help, errOut := runIn(append(cmd, h)...)
				if code != exitOK {
					t.Fatalf("exit %d", code)
				}
				if errOut != "" {
					t.Errorf("help asked for wrote to standard error:\n%s", errOut)
				}
				if !strings.HasPrefix(help, "Usage: hostdrift "+name) {
					t.Errorf("no synopsis:\n%s", help)
				}
				head, examples, ok := strings.Cut(help, "\nExamples:\n")
				if !ok {
					t.Fatalf("no examples:\n%s", help)
				}
				flags := map[string]bool{}
				for _, m := range flagLine.FindAllStringSubmatch(head, -1) {
					flags[m[1]] = true
				}
				lines := strings.Split(strings.TrimSpace(examples), "\n")
				if n := len(lines); n < 1 || n > 4 || (n < 2 && name != "version") {
					t.Errorf("%d examples", n)
				}
				for _, l := range lines {
					l, _, _ = strings.Cut(l, "#")
					if !strings.HasPrefix(strings.TrimSpace(l), "hostdrift "+name) {
						t.Errorf("example %q is not of hostdrift %s", l, name)
					}
					for _, m := range exampleFlag.FindAllStringSubmatch(l, -1) {
						if !flags[m[1]] {
							t.Errorf("example %q uses --%s, which %s does not have", l, m[1], name)
						}
					}
				}
			})
		}
	}
}

// TestREADMEUsageErrors: the usage errors the README's Usage section shows
// are the ones hostdrift prints.
func TestREADMEUsageErrors(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	snapFile, _ := cliFixture(t)
	policy := filepath.Join(t.TempDir(), "select.hcl")
	os.WriteFile(policy, []byte(selectPolicy), 0o644)
	for _, args := range [][]string{
		{"diff", "before.json", "after.json", "--formt", "json"},
		{"check", "--snapshot", snapFile, "--policy", policy, "--only", "listner.ssh"},
	} {
		_, _, stderr := runIn(args...)
		for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
			if !strings.Contains(string(b), "    "+line+"\n") {
				t.Errorf("the README does not show the line %q", line)
			}
		}
	}
}

// TestCompletion: the bash script, sourced in a real bash, completes the
// commands, the policy subcommands and each command's flags (after the
// arguments too); the zsh one is valid zsh.
func TestCompletion(t *testing.T) {
	nstest.RequireCommand(t, "bash")
	code, script, stderr := runIn("completion", "bash")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	path := filepath.Join(t.TempDir(), "hostdrift.bash")
	os.WriteFile(path, []byte(script), 0o644)
	for _, c := range []struct {
		words string
		want  string
	}{
		{"hostdrift ch", "check"},
		{"hostdrift policy va", "validate"},
		{"hostdrift diff old.json new.json --for", "--format"},
		{"hostdrift check --retry", "--retry-timeout"},
		{"hostdrift policy validate --no", "--no-builtin"},
		{"hostdrift completion z", "zsh"},
	} {
		words := strings.Fields(c.words)
		sh := fmt.Sprintf(`source %q; COMP_WORDS=(%s); COMP_CWORD=%d; _hostdrift; echo "${COMPREPLY[*]}"`, path, c.words, len(words)-1)
		out, err := exec.Command("bash", "--norc", "-c", sh).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != c.want {
			t.Errorf("%s<TAB>: %q (%v), want %q", c.words, out, err, c.want)
		}
	}
	if _, err := exec.LookPath("zsh"); err != nil {
		if nstest.Strict() {
			t.Fatal("zsh is not installed (scripts/test-deps.sh installs it); HOSTDRIFT_TEST_STRICT=1 forbids skipping its check")
		}
		t.Log("zsh is not installed: its script is only generated, not checked")
		return
	}
	code, script, _ = runIn("completion", "zsh")
	zpath := filepath.Join(t.TempDir(), "_hostdrift")
	os.WriteFile(zpath, []byte(script), 0o644)
	if code != exitOK || !strings.Contains(script, `"diff") flags="--area --format`) {
		t.Errorf("zsh script (exit %d):\n%s", code, script)
	}
	if out, err := exec.Command("zsh", "-n", zpath).CombinedOutput(); err != nil {
		t.Errorf("zsh -n: %v\n%s", err, out)
	}
}
