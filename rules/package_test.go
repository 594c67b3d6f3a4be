package rules_test

import (
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

// kindCase is one check of a kind's table test: the block, the status it
// must reach and what its explanation must say.
type kindCase struct {
	name, src string
	status    finding.Status
	want      []string
}

func runKindCases(t *testing.T, s *snapshot.Snapshot, cases []kindCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := evaluate(t, c.src, s, jobsNow)
			if len(fs) != 1 {
				t.Fatalf("%d findings", len(fs))
			}
			f := fs[0]
			if f.Status != c.status {
				t.Errorf("status %s, want %s: %s", f.Status, c.status, f.Explanation)
			}
			for _, w := range c.want {
				if !strings.Contains(f.Explanation+"\n"+f.Remediation, w) {
					t.Errorf("explanation lacks %q:\n%s\n%s", w, f.Explanation, f.Remediation)
				}
			}
		})
	}
}

func TestPackageChecks(t *testing.T) {
	s := saved(t, &snapshot.Snapshot{
		Schema: snapshot.Schema, TakenAt: jobsNow,
		Collectors: []snapshot.CollectorStatus{{Name: snapshot.CollectorPackages, Status: snapshot.StatusOK}},
		Packages: &snapshot.Packages{Source: "dpkg", Errors: []string{}, Packages: []snapshot.Package{
			{Name: "libc6", Arch: "amd64", Version: "2.36-9+deb12u9", Want: "hold", State: "installed"},
			{Name: "nginx", Arch: "amd64", Version: "1.22.1-9", Want: "deinstall", State: "config-files"},
			{Name: "openssl", Arch: "amd64", Version: "3.0.15-1~deb12u1", Want: "install", State: "installed"},
		}},
	})
	runKindCases(t, s, []kindCase{
		{"installed", `package "ssl" { name = "openssl" }`, finding.Pass, []string{"openssl is installed: openssl:amd64 3.0.15-1~deb12u1"}},
		{"constraint holds", `package "ssl" {
  name    = "openssl"
  version = ">= 3.0.11"
}`, finding.Pass, nil},
		{"constraint fails", `package "ssl" {
  name    = "openssl"
  version = ">= 3.0.16"
}`, finding.Fail, []string{"openssl:amd64 is at version 3.0.15-1~deb12u1, not >= 3.0.16", "apt-cache policy openssl"}},
		{"exact version", `package "ssl" {
  name    = "openssl"
  version = "3.0.15-1~deb12u2"
}`, finding.Fail, []string{"not = 3.0.15-1~deb12u2", "apt-get install openssl=3.0.15-1~deb12u2"}},
		{"config files only", `package "web" { name = "nginx" }`, finding.Fail, []string{"nginx is not fully installed: nginx:amd64 1.22.1-9 (config-files)", "apt-get install nginx"}},
		{"absent ok", `package "web" {
  name      = "nginx"
  installed = false
}`, finding.Pass, []string{"nginx is not installed: only nginx:amd64 1.22.1-9 (config-files)"}},
		{"absent fails", `package "ssl" {
  name      = "openssl"
  installed = false
}`, finding.Fail, []string{"openssl is installed", "apt-get purge openssl"}},
		{"missing", `package "x" { name = "unattended-upgrades" }`, finding.Fail, []string{"unattended-upgrades is not installed (3 packages in the dpkg database)"}},
		{"held", `package "libc" {
  name = "libc6"
  held = false
}`, finding.Fail, []string{"libc6:amd64 is on hold", "apt-mark unhold libc6"}},
		{"arch", `package "libc" {
  name = "libc6"
  arch = "i386"
}`, finding.Fail, []string{"libc6:i386 is not installed"}},
	})
}

func TestPackageDecodeErrors(t *testing.T) {
	for src, want := range map[string]string{
		`package "x" {
  name    = "a"
  version = ">= x1"
}`: "Invalid version",
		`package "x" {
  name      = "a"
  installed = false
  held      = true
}`: "Conflicting attributes",
	} {
		if err := compileErr(t, src); !strings.Contains(err, want) {
			t.Errorf("%s: error %q lacks %q", src, err, want)
		}
	}
}

// compileErr loads and compiles src and returns its diagnostics as text.
func compileErr(t *testing.T, src string) string {
	t.Helper()
	p, diags := rules.Load([]rules.Source{{Name: "test.hcl", Text: []byte(src)}})
	if diags.HasErrors() {
		return diags.Error()
	}
	_, diags = p.Compile(&snapshot.Host{}, nil)
	return diags.Error()
}

// A host without a dpkg database: package checks do not apply.
func TestPackageAbsentDatabase(t *testing.T) {
	s := saved(t, &snapshot.Snapshot{Schema: snapshot.Schema, TakenAt: jobsNow,
		Collectors: []snapshot.CollectorStatus{{Name: snapshot.CollectorPackages, Status: snapshot.StatusOK}},
		Packages:   &snapshot.Packages{Packages: []snapshot.Package{}, Errors: []string{}, Absent: "no dpkg database (/var/lib/dpkg/status)"}})
	runKindCases(t, s, []kindCase{{"absent db", `package "x" { name = "openssl" }`, finding.Skip, []string{"does not apply to this host: no dpkg database"}}})
}
