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
  version = ">= 1.0 beta"
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

// TestPackageChecksOnRPM: on an rpm host, versions are compared by rpm's
// rules, remediations are dnf's, and held cannot be judged.
func TestPackageChecksOnRPM(t *testing.T) {
	s := saved(t, &snapshot.Snapshot{
		Schema: snapshot.Schema, TakenAt: jobsNow,
		Collectors: []snapshot.CollectorStatus{{Name: snapshot.CollectorPackages, Status: snapshot.StatusOK}},
		Packages: &snapshot.Packages{Source: "rpm", Database: "/var/lib/rpm/rpmdb.sqlite", Format: "sqlite", Errors: []string{}, Packages: []snapshot.Package{
			{Name: "openssl", Arch: "x86_64", Version: "1:3.0.7-27.el9", Want: "install", State: "installed"},
			{Name: "tool", Arch: "noarch", Version: "2.0~rc1-1", Want: "install", State: "installed"},
			{Name: "snap", Arch: "noarch", Version: "1.0^git20240101-3.fc40", Want: "install", State: "installed"},
		}},
	})
	pkg := func(name, version string) string {
		return `package "p" {
  name    = "` + name + `"
  version = "` + version + `"
}`
	}
	runKindCases(t, s, []kindCase{
		{"epoch wins", pkg("openssl", ">= 3.1"), finding.Pass, []string{"openssl is installed: openssl:x86_64 1:3.0.7-27.el9"}},
		{"no release named: any release", pkg("openssl", "1:3.0.7"), finding.Pass, nil},
		{"release named", pkg("openssl", "1:3.0.7-28.el9"), finding.Fail, []string{"not = 1:3.0.7-28.el9", "dnf install openssl-1:3.0.7-28.el9"}},
		{"missing epoch is 0", pkg("openssl", "= 3.0.7"), finding.Fail, []string{"openssl:x86_64 is at version 1:3.0.7-27.el9, not = 3.0.7"}},
		{"~ before the release", pkg("tool", ">= 2.0"), finding.Fail, []string{"not >= 2.0", "dnf list --showduplicates tool"}},
		{"~ after the previous", pkg("tool", "> 1.9"), finding.Pass, nil},
		{"^ after the base", pkg("snap", "> 1.0"), finding.Pass, nil},
		{"^ before the next", pkg("snap", "< 1.0.1"), finding.Pass, nil},
		{"not a Debian version, but rpm's", pkg("snap", ">= 1.0^git2024"), finding.Pass, nil},
		{"missing", `package "x" { name = "nginx" }`, finding.Fail, []string{"nginx is not installed (3 packages in the rpm database)", "dnf install nginx"}},
		{"absent fails", `package "x" {
  name      = "openssl"
  installed = false
}`, finding.Fail, []string{"dnf remove openssl"}},
		{"held", `package "x" {
  name = "openssl"
  held = false
}`, finding.Error, []string{"rpm's database records no holds"}},
	})
}

// A host with both databases: the finding says which was read, and why.
func TestPackageAuthority(t *testing.T) {
	s := saved(t, &snapshot.Snapshot{
		Schema: snapshot.Schema, TakenAt: jobsNow,
		Collectors: []snapshot.CollectorStatus{{Name: snapshot.CollectorPackages, Status: snapshot.StatusOK}},
		Packages: &snapshot.Packages{Source: "dpkg", Database: "/var/lib/dpkg/status", Errors: []string{},
			Authority: "dpkg's database is the host's: rpm is one of its packages",
			Packages:  []snapshot.Package{{Name: "openssl", Arch: "amd64", Version: "3.0.15-1~deb12u1", Want: "install", State: "installed"}}},
	})
	runKindCases(t, s, []kindCase{
		{"authority", `package "ssl" { name = "openssl" }`, finding.Pass, []string{"(dpkg's database is the host's: rpm is one of its packages)"}},
		{"an rpm-only version on dpkg", `package "ssl" {
  name    = "openssl"
  version = ">= 3.0^git1"
}`, finding.Error, []string{`version ">= 3.0^git1" is not a Debian version`}},
	})
}
