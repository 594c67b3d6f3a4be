package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
	"github.com/hostdrift/hostdrift/internal/testkit/rpmroot"
)

// TestRPMRoot audits a root whose packages are in an rpm database written
// by rpm itself (rpm --root --justdb): package checks pass and fail on
// version by rpm's rules, the snapshot says which database it read, and a
// baseline diff shows a package rpm installed afterwards.
func TestRPMRoot(t *testing.T) {
	bin := binary(t)
	root := t.TempDir()
	rpmroot.Build(t,
		rpmroot.Package{Name: "openssl", Epoch: "1", Version: "3.0.7", Release: "27.el9"},
		rpmroot.Package{Name: "tool", Version: "2.0~rc1", Release: "1"},
		rpmroot.Package{Name: "snap", Version: "1.0^git20240101", Release: "3.fc40"},
	).Install(t, root, "", "")
	writeFile(t, filepath.Join(root, "usr/bin/rpm"), "")

	check := func(policy string) (int, string, []map[string]any) {
		t.Helper()
		out, stderr, code := runCapture(t, exec.Command(bin, "check", "--root", root, "--policy", policyFile(t, policy), "--format", "json"))
		var rep struct {
			Findings []map[string]any `json:"findings"`
		}
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatalf("check exit %d: %v: %s %s", code, err, out, stderr)
		}
		return code, string(stderr), rep.Findings
	}
	pass := `
package "ssl" {
  name    = "openssl"
  version = ">= 3.1"          # the epoch 1 wins over any version of epoch 0
}
package "snap" {
  name    = "snap"
  version = "> 1.0"           # ^: after the base version
}
`
	code, stderr, fs := check(pass)
	if code != exitOK || len(fs) != 2 {
		t.Fatalf("exit %d, %d findings, want 0 and 2: %v %s", code, len(fs), fs, stderr)
	}
	for _, f := range fs {
		if f["status"] != "pass" {
			t.Errorf("finding %v, want pass", f)
		}
	}
	code, stderr, fs = check(pass + `
package "tool" {
  name    = "tool"
  version = ">= 2.0"          # ~: 2.0~rc1 comes before 2.0
}
`)
	if code != exitDrift || len(fs) != 3 {
		t.Fatalf("exit %d, %d findings, want 1 and 3: %v %s", code, len(fs), fs, stderr)
	}
	failed := fs[2]
	for _, f := range fs {
		if f["status"] == "fail" {
			failed = f
		}
	}
	if expl, _ := failed["explanation"].(string); failed["status"] != "fail" || !strings.Contains(expl, "tool:noarch is at version 2.0~rc1-1, not >= 2.0") {
		t.Errorf("the failing finding: %v", failed)
	}
	t.Logf("failing finding: %v", failed["explanation"])

	// The snapshot says which database it read; a package rpm installs
	// later shows in a diff against it.
	dir := t.TempDir()
	snap := func(name string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if _, stderr, code := runCapture(t, exec.Command(bin, "snapshot", "--root", root, "--output", p)); code != 0 {
			t.Fatalf("snapshot exit %d: %s", code, stderr)
		}
		return p
	}
	base := snap("base.json")
	var s struct {
		Packages struct {
			Source, Database, Format string
			Packages                 []struct{ Name, Version string }
		}
	}
	b, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Packages.Source != "rpm" || s.Packages.Database != "/var/lib/rpm/rpmdb.sqlite" || s.Packages.Format != "sqlite" || len(s.Packages.Packages) != 3 {
		t.Errorf("snapshot's packages: %+v", s.Packages)
	}
	rpmroot.Build(t, rpmroot.Package{Name: "chrony", Version: "4.5", Release: "1.el9"}).Install(t, root, "", "")
	out, errOut, code := runCapture(t, exec.Command(bin, "diff", "--area", "packages", base, snap("now.json")))
	if !strings.Contains(string(out), "chrony:noarch") || strings.Contains(string(out), "openssl") {
		t.Errorf("diff exit %d: want chrony added and nothing else:\n%s%s", code, out, errOut)
	}
	t.Logf("diff:\n%s", out)
}

// TestServeFollowsTheRPMDatabase runs hostdrift serve over a root whose
// packages are in rpm's database and upgrades a package there with rpm:
// the package check flips on /metrics within the event deadline, to what
// `hostdrift check` of the same state says.
func TestServeFollowsTheRPMDatabase(t *testing.T) {
	ns := nstest.New(t)
	root := t.TempDir()
	rpmroot.Build(t, rpmroot.Package{Name: "openssl", Epoch: "1", Version: "3.0.7", Release: "27.el9"}).Install(t, root, "", "")
	writeFile(t, filepath.Join(root, "usr/bin/rpm"), "")
	pol := policyFile(t, `
package "ssl" {
  name    = "openssl"
  version = ">= 1:3.0.8"
}
`)
	s := startServe(t, ns, nil, "--no-builtin", "--policy", pol, "--root", root, "--log-format", "json")
	agree := func(what, want string, since time.Time) {
		t.Helper()
		rep, _ := runJSON(t, exec.Command(binary(t), "check", "--no-builtin", "--policy", pol, "--root", root, "--format", "json"))
		if got := findingsByCheck(rep)["package.ssl"]; !strings.HasPrefix(got, want+":") {
			t.Fatalf("%s: hostdrift check says package.ssl %q, want %s", what, got, want)
		}
		s.waitMetric(t, what, checkStatusRE("package.ssl", want), since, eventDeadline)
	}
	agree("at start", "fail", time.Now())
	upgrade := rpmroot.Build(t, rpmroot.Package{Name: "openssl", Epoch: "1", Version: "3.0.8", Release: "1.el9"})
	start := time.Now()
	upgrade.Upgrade(t, root)
	agree("after rpm -U", "pass", start)
}
