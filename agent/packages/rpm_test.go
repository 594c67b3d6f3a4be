package packages

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/rpmroot"
)

// testPackages cover what an rpm version may hold: an epoch, ~ (before the
// release it leads to), ^ (a snapshot after a release), an architecture.
var testPackages = []rpmroot.Package{
	{Name: "openssl", Epoch: "1", Version: "3.0.7", Release: "27.el9"},
	{Name: "bash", Version: "5.1.8", Release: "9.el9"},
	{Name: "tool", Version: "2.0~rc1", Release: "1"},
	{Name: "snap", Version: "1.0^git20240101", Release: "3.fc40"},
	{Name: "native", Version: "1.2", Release: "1", Arch: "x86_64"},
}

// wantRPM is testPackages as rpm's query prints them (%{epochnum} is 0
// where there is no epoch) and as the collector reads them (no epoch
// written where the package has none).
var wantRPM = []struct{ query, name, arch, version string }{
	{"bash 0:5.1.8-9.el9 noarch", "bash", "noarch", "5.1.8-9.el9"},
	{"native 0:1.2-1 x86_64", "native", "x86_64", "1.2-1"},
	{"openssl 1:3.0.7-27.el9 noarch", "openssl", "noarch", "1:3.0.7-27.el9"},
	{"snap 0:1.0^git20240101-3.fc40 noarch", "snap", "noarch", "1.0^git20240101-3.fc40"},
	{"tool 0:2.0~rc1-1 noarch", "tool", "noarch", "2.0~rc1-1"},
}

func collect(t *testing.T, root string) (*snapshot.Packages, error) {
	t.Helper()
	sec, err := collector{}.Collect(context.Background(), &agent.Env{Root: root})
	if sec == nil {
		return nil, err
	}
	return sec.(*snapshot.Packages), err
}

func checkRPM(t *testing.T, p *snapshot.Packages) {
	t.Helper()
	if p.Source != snapshot.SourceRPM || len(p.Packages) != len(wantRPM) {
		t.Fatalf("read %s %d packages %+v, want rpm's %d", p.Source, len(p.Packages), p.Packages, len(wantRPM))
	}
	for i, w := range wantRPM {
		got := p.Packages[i]
		if got.Name != w.name || got.Arch != w.arch || got.Version != w.version || !got.Installed() || got.Held() {
			t.Errorf("package %d: %+v, want %s %s %s installed", i, got, w.name, w.arch, w.version)
		}
	}
}

// TestRPMDatabases reads databases written by rpm itself (rpm --root
// --justdb) in each format Debian's rpm 4.18 writes, at both places rpm
// keeps them, and checks the collector reads what rpm -qa reads. Debian's
// rpm writes only SQLite: its Berkeley DB backend is bdb_ro (read-only),
// so that database is written by Berkeley DB's own tool, and it has no NDB
// backend (internal/parse/rpmdb tests the NDB reader).
func TestRPMDatabases(t *testing.T) {
	built := rpmroot.Build(t, testPackages...)
	for _, dbpath := range []string{"/var/lib/rpm", "/usr/lib/sysimage/rpm"} {
		t.Run(dbpath, func(t *testing.T) {
			root := t.TempDir()
			built.Install(t, root, dbpath, "sqlite")
			q := rpmroot.Query(t, root, dbpath, "sqlite")
			for i, w := range wantRPM {
				if i >= len(q) || q[i] != w.query {
					t.Fatalf("rpm -qa: %q, want %q at %d", q, w.query, i)
				}
			}
			p, err := collect(t, root)
			if err != nil {
				t.Fatal(err)
			}
			checkRPM(t, p)
			if p.Database != filepath.Join(dbpath, "rpmdb.sqlite") || p.Format != "sqlite" || p.Authority != "" || p.Absent != "" {
				t.Errorf("database %q format %q authority %q absent %q", p.Database, p.Format, p.Authority, p.Absent)
			}
		})
	}
	// Berkeley DB, as RHEL 8 and before keep it: written by Berkeley DB's
	// own tool from the headers rpm wrote, and read back by rpm's bdb_ro.
	t.Run("bdb", func(t *testing.T) {
		root := t.TempDir()
		built.Install(t, root, "", "")
		rpmroot.BerkeleyDB(t, root, "", 4096)
		p, err := collect(t, root)
		if err != nil {
			t.Fatal(err)
		}
		checkRPM(t, p)
		if p.Database != "/var/lib/rpm/Packages" || p.Format != "bdb" {
			t.Errorf("database %q format %q", p.Database, p.Format)
		}
	})
}

// TestRPMNeverWritesTheHost reads an rpm root and checks nothing appeared
// beside the database (SQLite makes a -shm index and a -wal log when it
// opens a WAL database in place).
func TestRPMNeverWritesTheHost(t *testing.T) {
	root := t.TempDir()
	rpmroot.Build(t, testPackages...).Install(t, root, "", "")
	dir := filepath.Join(root, rpmroot.DBPath)
	for _, f := range []string{"rpmdb.sqlite-shm", "rpmdb.sqlite-wal", ".rpm.lock"} {
		os.Remove(filepath.Join(dir, f))
	}
	before, _ := os.ReadDir(dir)
	p, err := collect(t, root)
	if err != nil {
		t.Fatal(err)
	}
	checkRPM(t, p)
	after, _ := os.ReadDir(dir)
	if fmt.Sprint(names(before)) != fmt.Sprint(names(after)) {
		t.Errorf("reading changed %s: %v, then %v", dir, names(before), names(after))
	}
}

// TestRPMReadsTheWAL: what a writer committed to the write-ahead log and
// SQLite has not yet copied into the database file is read: a package
// removed by a transaction still in the log is gone.
func TestRPMReadsTheWAL(t *testing.T) {
	root := t.TempDir()
	rpmroot.Build(t, testPackages...).Install(t, root, "", "")
	file := filepath.Join(root, rpmroot.DBPath, "rpmdb.sqlite")
	db, err := sql.Open("sqlite", "file:"+file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	for _, q := range []string{"PRAGMA journal_mode", "PRAGMA wal_autocheckpoint = 0", "DELETE FROM Packages WHERE hnum = (SELECT MIN(hnum) FROM Packages)"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	wal, err := os.Stat(file + "-wal")
	if err != nil || wal.Size() == 0 {
		t.Fatalf("the deletion is not in the log: %v %v", wal, err)
	}
	p, err := collect(t, root)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Packages) != len(wantRPM)-1 {
		t.Errorf("read %d packages, want %d: the log's deletion was not read", len(p.Packages), len(wantRPM)-1)
	}
}

func names(es []os.DirEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// TestBothDatabases: a root with dpkg's and rpm's databases reads the one
// of the host's package manager, and says why.
func TestBothDatabases(t *testing.T) {
	built := rpmroot.Build(t, testPackages...)
	const dpkgStatus = "Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4+deb12u9\n\n"
	const rpmTool = "Package: rpm\nStatus: install ok installed\nArchitecture: amd64\nVersion: 4.18.0+dfsg-1+deb12u1\n\n"
	for _, c := range []struct {
		name, status string
		binaries     []string
		source, why  string
	}{
		{"Debian with the rpm tool", dpkgStatus + rpmTool, []string{"/usr/bin/dpkg", "/usr/bin/rpm"}, "dpkg", "rpm is one of its packages (rpm 4.18.0+dfsg-1+deb12u1)"},
		{"dpkg program only", dpkgStatus, []string{"/usr/bin/dpkg"}, "dpkg", "/usr/bin/dpkg is installed, no rpm program is"},
		{"rpm program only", dpkgStatus, []string{"/usr/bin/rpm"}, "rpm", "/usr/bin/rpm is installed, no dpkg program is"},
		{"both programs", dpkgStatus, []string{"/usr/bin/rpm", "/usr/bin/dpkg"}, "", "cannot tell which is the host's"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			built.Install(t, root, "", "")
			mkfile(t, root, StatusFile, c.status)
			for _, b := range c.binaries {
				mkfile(t, root, b, "")
			}
			p, err := collect(t, root)
			if c.source == "" {
				if err == nil || !strings.Contains(err.Error(), c.why) {
					t.Fatalf("got %+v, %v; want an error saying %q", p, err, c.why)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Source != c.source || !strings.Contains(p.Authority, c.why) {
				t.Errorf("read %s, authority %q; want %s's, saying %q", p.Source, p.Authority, c.source, c.why)
			}
			if c.source == "rpm" {
				checkRPM(t, p)
			}
		})
	}
	// A Fedora host with the dpkg tool: the rpm database lists dpkg.
	root := t.TempDir()
	rpmroot.Build(t, append(testPackages, rpmroot.Package{Name: "dpkg", Version: "1.22.11", Release: "1.fc41"})...).Install(t, root, "", "")
	mkfile(t, root, StatusFile, dpkgStatus)
	mkfile(t, root, "/usr/bin/dpkg", "")
	mkfile(t, root, "/usr/bin/rpm", "")
	p, err := collect(t, root)
	if err != nil || p.Source != "rpm" || !strings.Contains(p.Authority, "dpkg is one of its packages (dpkg 1.22.11-1.fc41)") {
		t.Errorf("Fedora with the dpkg tool: %v, source %s, authority %q", err, p.Source, p.Authority)
	}
}

func mkfile(t *testing.T, root, name, content string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}
