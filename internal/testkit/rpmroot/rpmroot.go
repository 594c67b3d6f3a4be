// Package rpmroot makes rpm databases for tests as rpm itself writes them:
// empty packages built with rpmbuild from small specs, installed into a
// root with rpm --root --justdb (the database only, no files).
package rpmroot

import (
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the SQLite driver, pure Go

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
	// Requires are dependencies ("openssl >= 3.0").
	Requires []string
	// Files are the files the package installs, by absolute path.
	Files map[string]File
}

// File is one file of a package.
type File struct {
	Content string
	// Mode is its permission bits (0644 when 0).
	Mode os.FileMode
	// Config marks a %config(noreplace) file, the administrator's to edit.
	Config bool
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
		for _, r := range p.Requires {
			fmt.Fprintf(&spec, "Requires: %s\n", r)
		}
		spec.WriteString("%description\nA package for hostdrift's tests.\n")
		var names []string
		for name := range p.Files {
			names = append(names, name)
		}
		sort.Strings(names)
		src := filepath.Join(top, "src-"+p.Name)
		for _, name := range names {
			full := filepath.Join(src, name)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(p.Files[name].Content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		spec.WriteString("%install\nmkdir -p %{buildroot}\n")
		if len(names) > 0 {
			fmt.Fprintf(&spec, "cp -a %s/. %%{buildroot}/\n", src)
		}
		spec.WriteString("%files\n")
		for _, name := range names {
			f := p.Files[name]
			mode := f.Mode.Perm()
			if mode == 0 {
				mode = 0o644
			}
			if f.Config {
				spec.WriteString("%config(noreplace) ")
			}
			fmt.Fprintf(&spec, "%%attr(%04o,root,root) %s\n", mode, name)
		}
		file := filepath.Join(top, p.Name+".spec")
		if err := os.WriteFile(file, []byte(spec.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"-bb", "--quiet", "--define", "_topdir " + top, "--define", "_rpmdir " + filepath.Join(top, "out"),
			"--define", "_build_id_links none", "--define", "__os_install_post %{nil}"}
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
	b.run(t, "-i", root, dbpath, backend)
}

// Upgrade replaces the packages of the same names in root's database at
// DBPath with these (rpm -U --justdb).
func (b Built) Upgrade(t testing.TB, root string) {
	t.Helper()
	b.run(t, "-U", root, "", "")
}

func (b Built) run(t testing.TB, op, root, dbpath, backend string) {
	t.Helper()
	nstest.RequireCommand(t, "rpm")
	if dbpath == "" {
		dbpath = DBPath
	}
	args := []string{"--root", root, "--dbpath", dbpath, "--justdb", "--nodeps", "--noscripts", "--ignorearch", "--quiet"}
	if backend != "" {
		args = append(args, "--define", "_db_backend "+backend)
	}
	if out, err := exec.Command("rpm", append(append(args, op), b.Files...)...).CombinedOutput(); err != nil {
		t.Fatalf("rpm %s --justdb into %s: %v: %s", op, root, err, out)
	}
}

// Satisfied asks rpm whether the packages in root's database at DBPath
// satisfy a dependency ("openssl >= 3.0"): it builds a package that
// requires it and tries (rpm --test) to install it there.
func Satisfied(t testing.TB, root, requirement string) bool {
	t.Helper()
	b := Build(t, Package{Name: "needs", Version: "1", Release: "1", Requires: []string{requirement}})
	var stderr strings.Builder
	cmd := exec.Command("rpm", "--root", root, "--dbpath", DBPath, "--test", "--justdb", "--noscripts", "-i", b.Files[0])
	cmd.Stderr = &stderr
	err := cmd.Run()
	switch {
	case err == nil:
		return true
	case strings.Contains(stderr.String(), "Failed dependencies"):
		return false
	}
	t.Fatalf("rpm --test -i: %v: %s", err, stderr.String())
	return false
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
	// Only standard output: rpm warns on standard error of the index files
	// a database made by rpmroot.BerkeleyDB lacks (-qa needs none).
	var stderr strings.Builder
	cmd := exec.Command("rpm", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rpm -qa in %s: %v: %s", root, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	sort.Strings(lines)
	return lines
}

// Blobs returns the header of every package in root's SQLite database at
// dbpath, by header number, as rpm stored them.
func Blobs(t testing.TB, root, dbpath string) (nums []uint32, blobs [][]byte) {
	t.Helper()
	if dbpath == "" {
		dbpath = DBPath
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(root, dbpath, "rpmdb.sqlite")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT hnum, blob FROM Packages ORDER BY hnum")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n uint32
		var b []byte
		if err := rows.Scan(&n, &b); err != nil {
			t.Fatal(err)
		}
		nums, blobs = append(nums, n), append(blobs, b)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return nums, blobs
}

// BerkeleyDB replaces root's SQLite database at dbpath with a Berkeley DB
// Packages file holding the same headers, as rpm up to 4.15 kept them
// (a hash keyed by header number, key 0 holding the next number), written
// by Berkeley DB's own db5.3_load with pages of pageSize bytes, and checks
// that rpm's read-only Berkeley DB backend reads back what rpm wrote.
// Debian's rpm 4.18 cannot write this format (its bdb backend is bdb_ro).
func BerkeleyDB(t testing.TB, root, dbpath string, pageSize int) {
	t.Helper()
	nstest.RequireCommand(t, "db5.3_load")
	if dbpath == "" {
		dbpath = DBPath
	}
	before := Query(t, root, dbpath, "")
	nums, blobs := Blobs(t, root, dbpath)
	var dump strings.Builder
	dump.WriteString("VERSION=3\nformat=bytevalue\ntype=hash\nHEADER=END\n")
	next := uint32(0)
	for i, n := range nums {
		fmt.Fprintf(&dump, " %s\n %s\n", hex.EncodeToString(binary.NativeEndian.AppendUint32(nil, n)), hex.EncodeToString(blobs[i]))
		next = max(next, n+1)
	}
	fmt.Fprintf(&dump, " %s\n %s\n", hex.EncodeToString(binary.NativeEndian.AppendUint32(nil, 0)), hex.EncodeToString(binary.NativeEndian.AppendUint32(nil, next)))
	dump.WriteString("DATA=END\n")
	dir := filepath.Join(root, dbpath)
	for _, f := range []string{"rpmdb.sqlite", "rpmdb.sqlite-wal", "rpmdb.sqlite-shm"} {
		os.Remove(filepath.Join(dir, f))
	}
	cmd := exec.Command("db5.3_load", "-c", fmt.Sprintf("db_pagesize=%d", pageSize), filepath.Join(dir, "Packages"))
	cmd.Stdin = strings.NewReader(dump.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("db5.3_load: %v: %s", err, out)
	}
	if after := Query(t, root, dbpath, "bdb_ro"); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Fatalf("rpm reads %q from the Berkeley DB, %q from the SQLite it was made from", after, before)
	}
}
