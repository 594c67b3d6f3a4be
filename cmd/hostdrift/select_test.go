package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
	"github.com/hostdrift/hostdrift/rules"
)

const selectPolicy = `
listener "ssh" {
  port = 22
  tags = ["remote"]
}
listener "web" { port = 80 }
listener "db" {
  port = 5432
  tags = ["remote", "data"]
}
file "motd" { path = "/etc/motd" }
`

// TestSelectChecks: --only and --skip judge a subset of the policy's checks,
// by name, kind or tag, repeated or comma-separated; a selected check keeps
// its waiver, and a disabled one its skip; a selector that matches nothing
// is a usage error naming the nearest names.
func TestSelectChecks(t *testing.T) {
	snapFile, _ := cliFixture(t)
	dir := t.TempDir()
	policy := filepath.Join(dir, "select.hcl")
	os.WriteFile(policy, []byte(selectPolicy), 0o644)
	layered := filepath.Join(dir, "local.hcl")
	os.WriteFile(layered, []byte(`
disable "cron.output-not-lost" { reason = "jobs log to files" }
waiver "listener.not-public[redis]" {
  reason  = "moving to a private network, OPS-1"
  expires = "2099-12-31"
}
`), 0o644)
	for _, c := range []struct {
		name string
		args []string
		want []string // check: status
	}{
		{"one name", []string{"--policy", policy, "--only", "listener.ssh"}, []string{"listener.ssh: fail"}},
		{"a kind", []string{"--policy", policy, "--only", "file"}, []string{"file.motd: error"}},
		{"a tag", []string{"--policy", policy, "--only", "tag:remote"}, []string{"listener.db: fail", "listener.ssh: fail"}},
		{"comma and repeated", []string{"--policy", policy, "--only", "listener.ssh,listener.db", "--only=file.motd"}, []string{"file.motd: error", "listener.db: fail", "listener.ssh: fail"}},
		{"only and skip", []string{"--policy", policy, "--only", "listener", "--skip", "tag:data"}, []string{"listener.ssh: fail", "listener.web: pass"}},
		{"skip alone", []string{"--policy", policy, "--skip", "listener"}, []string{"file.motd: error"}},
		{"a waived check stays waived", []string{"--policy", "builtin:default", "--policy", layered, "--only", `listener.not-public["redis"]`}, []string{`listener.not-public["redis"]: waived`}},
		{"a disabled check stays disabled", []string{"--policy", "builtin:default", "--policy", layered, "--only", "cron.output-not-lost"}, []string{"cron.output-not-lost: skip"}},
		{"a disabled check not selected", []string{"--policy", "builtin:default", "--policy", layered, "--only", "cron", "--skip", "cron.output-not-lost"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runIn(append([]string{"check", "--snapshot", snapFile, "--format", "json"}, c.args...)...)
			if code == exitUsage {
				t.Fatalf("usage error: %s", stderr)
			}
			var r report.Report
			if err := json.Unmarshal([]byte(stdout), &r); err != nil {
				t.Fatalf("no report: %v\n%s", err, stderr)
			}
			var got []string
			for _, f := range r.Findings {
				got = append(got, f.Check+": "+string(f.Status))
			}
			slices.Sort(got)
			if c.want == nil {
				// Everything but the one disabled check: other cron checks.
				for _, g := range got {
					if !strings.HasPrefix(g, "cron.") || strings.HasPrefix(g, "cron.output-not-lost") {
						t.Errorf("unexpected finding %s", g)
					}
				}
				if len(got) == 0 {
					t.Error("no cron check was judged")
				}
				return
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("findings %v, want %v", got, c.want)
			}
		})
	}
}

func TestSelectNothingIsAUsageError(t *testing.T) {
	snapFile, _ := cliFixture(t)
	policy := filepath.Join(t.TempDir(), "select.hcl")
	os.WriteFile(policy, []byte(selectPolicy), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--only", "listner.ssh"}, "--only listner.ssh: no check of the policy is named so or of that kind (a selector is kind.name, kind or tag:TAG); nearest: listener.ssh"},
		{[]string{"--only", "listener.ssh", "--skip", "file.mtod"}, "--skip file.mtod: no check of the policy is named so or of that kind (a selector is kind.name, kind or tag:TAG); nearest: file.motd"},
		{[]string{"--only", "tag:remot"}, "--only tag:remot: no check of the policy has that tag (a selector is kind.name, kind or tag:TAG); nearest: tag:remote"},
		{[]string{"--only", "dns"}, "--only dns: no check of the policy is named so or of that kind"},
		{[]string{"--only", "listener.ssh,"}, `invalid value "listener.ssh," for flag --only: empty item`},
	} {
		t.Run(c.args[len(c.args)-1], func(t *testing.T) {
			code, stdout, stderr := runIn(append([]string{"check", "--snapshot", snapFile, "--policy", policy, "--format", "json"}, c.args...)...)
			if code != exitUsage {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr lacks %q:\n%s", c.want, stderr)
			}
			if stdout != "" {
				t.Errorf("printed a report: %s", stdout)
			}
		})
	}
}

// TestSelectorsNameInstances: kind.name names every for_each instance of a
// check, kind.name["key"] one of them.
func TestSelectorsNameInstances(t *testing.T) {
	listener := &rules.Kind{Name: "listener"}
	https := &rules.Compiled{Kind: listener, Name: `web["https"]`, Tags: []string{"edge"}}
	http := &rules.Compiled{Kind: listener, Name: `web["http"]`}
	webapp := &rules.Compiled{Kind: listener, Name: "webapp"}
	for _, c := range []struct {
		sel  string
		want []*rules.Compiled
	}{
		{"listener.web", []*rules.Compiled{https, http}},
		{`listener.web["https"]`, []*rules.Compiled{https}},
		{"listener.webapp", []*rules.Compiled{webapp}},
		{"listener", []*rules.Compiled{https, http, webapp}},
		{"tag:edge", []*rules.Compiled{https}},
		{"listener.we", nil},
		{"web", nil},
	} {
		var got []*rules.Compiled
		for _, ch := range []*rules.Compiled{https, http, webapp} {
			if selects(c.sel, ch) {
				got = append(got, ch)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s selects %d checks, want %d", c.sel, len(got), len(c.want))
		}
	}
}

// TestSelectionRunsOnlyItsCollectors: collectors that only unselected checks
// need do not run; the report's collectors list says which ran.
func TestSelectionRunsOnlyItsCollectors(t *testing.T) {
	nstest.RequireRoot(t)
	bin := binary(t)
	ns := nstest.New(t)
	ns.Listen(t, "tcp4:127.0.0.1:8080")
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc", "motd"), []byte("hi\n"), 0o644)
	policy := policyFile(t, `
listener "web" {
  port    = 8080
  address = "loopback"
}
file "motd" { path = "/etc/motd" }
`)
	for _, c := range []struct {
		sel        []string
		collectors []string
		checks     []string
	}{
		{nil, []string{"files", "host", "listeners"}, []string{"file.motd", "listener.web"}},
		{[]string{"--only", "listener"}, []string{"host", "listeners"}, []string{"listener.web"}},
		{[]string{"--skip", "listener.web"}, []string{"files", "host"}, []string{"file.motd"}},
	} {
		t.Run(strings.Join(c.sel, " "), func(t *testing.T) {
			args := append([]string{"check", "--netns", ns.Path(), "--root", root, "--policy", policy, "--format", "json"}, c.sel...)
			r, code := runJSON(t, exec.Command(bin, args...))
			if code != exitOK {
				t.Errorf("exit %d, want 0: %v", code, findingsByCheck(r))
			}
			var ran, checks []string
			for _, st := range r.Collectors {
				ran = append(ran, st.Name)
			}
			for _, f := range r.Findings {
				checks = append(checks, f.Check)
			}
			slices.Sort(ran)
			slices.Sort(checks)
			if !slices.Equal(ran, c.collectors) {
				t.Errorf("collectors %v ran, want %v", ran, c.collectors)
			}
			if !slices.Equal(checks, c.checks) {
				t.Errorf("checks %v, want %v", checks, c.checks)
			}
		})
	}
}
