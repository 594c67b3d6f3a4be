// Package rpmroot makes rpm databases for tests as rpm itself writes them:
// empty packages built with rpmbuild from small specs, installed into a
// root with rpm --root --justdb (the database only, no files).
package rpmroot

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// DBPath is where RHEL and Fedora releases keep the database (Debian's rpm
// defaults to ~/.rpmdb, so it is always named).
const DBPath = "/var/lib/rpm"

// Package is one package to build.
type Package struct {
	Name    string
	Epoch   string // "" for none
	Version string
	Release string
	// Arch is "" for noarch, or an architecture to build for ("x86_64").
	Arch string
}

// Built is packages made by Build, as .rpm files.
type Built struct{ Files []string }

// Build makes an .rpm file of each package with rpmbuild, in a folder of
// the test's. It needs the rpmbuild command (Debian: the rpm package).
func Build(t testing.TB, pkgs ...Package) Built {
	t.Helper()
	nstest.RequireCommand(t, "rpmbuild")
	top := t.TempDir()
	var out Built
	for _, p := range pkgs {
		var spec strings.Builder
		fmt.Fprintf(&spec, "Name: %s\nVersion: %s\nRelease: %s\nSummary: a test package\nLicense: MIT\n", p.Name, p.Version, p.Release)
		if p.Epoch != "" {
			fmt.Fprintf(&spec, "Epoch: %s\n", p.Epoch)
		}
		if p.Arch == "" {
			spec.WriteString("BuildArch: noarch\n")
		}
		spec.WriteString("%description\nA package that installs nothing, for hostdrift's tests.\n%files\n")
		file := filepath.Join(top, p.Name+".spec")
		if err := os.WriteFile(file, []byte(spec.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"-bb", "--quiet", "--define", "_topdir " + top, "--define", "_rpmdir " + filepath.Join(top, "out")}
		if p.Arch != "" {
			args = append(args, "--target", p.Arch)
		}
		if b, err := exec.Command("rpmbuild", append(args, file)...).CombinedOutput(); err != nil {
			t.Fatalf("rpmbuild %s: %v: %s", p.Name, err, b)
		}
		files, _ := filepath.Glob(filepath.Join(top, "out", "*", p.Name+"-"+p.Version+"-"+p.Release+".*.rpm"))
		if len(files) != 1 {
			t.Fatalf("rpmbuild %s made %v, not one package", p.Name, files)
		}
		out.Files = append(out.Files, files[0])
	}
	return out
}

// Install records the packages in root's database at dbpath (DBPath when
// ""), in the backend's format (rpm's %_db_backend: "" for its default,
// sqlite), with rpm --root --justdb: nothing but the database is written.
func (b Built) Install(t testing.TB, root, dbpath, backend string) {
	t.Helper()
	nstest.RequireCommand(t, "rpm")
	if dbpath == "" {
		dbpath = DBPath
	}
	args := []string{"--root", root, "--dbpath", dbpath, "--justdb", "--nodeps", "--noscripts", "--ignorearch", "--quiet"}
	if backend != "" {
		args = append(args, "--define", "_db_backend "+backend)
	}
	if out, err := exec.Command("rpm", append(append(args, "-i"), b.Files...)...).CombinedOutput(); err != nil {
		t.Fatalf("rpm -i --justdb into %s: %v: %s", root, err, out)
	}
}

// Query lists the packages rpm itself reads from root's database at
// dbpath, one "name epoch:version-release arch" line each, sorted.
func Query(t testing.TB, root, dbpath, backend string) []string {
	t.Helper()
	if dbpath == "" {
		dbpath = DBPath
	}
	args := []string{"--root", root, "--dbpath", dbpath, "-qa", "--qf", `%{name} %{epochnum}:%{version}-%{release} %{arch}\n`}
	if backend != "" {
		args = append(args, "--define", "_db_backend "+backend)
	}
	out, err := exec.Command("rpm", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("rpm -qa in %s: %v: %s", root, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	sort.Strings(lines)
	return lines
}
