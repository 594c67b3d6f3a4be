package packages

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	_ "modernc.org/sqlite" // the SQLite driver, pure Go

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/parse/rpmdb"
	"github.com/hostdrift/hostdrift/internal/parse/rpmversion"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
)

// rpmDirs are where rpm keeps its database: /usr/lib/sysimage/rpm since
// rpm 4.16 moved it (Fedora 36 on, openSUSE), /var/lib/rpm before and on
// RHEL (on the newer hosts, a link to the first).
var rpmDirs = []string{"/usr/lib/sysimage/rpm", "/var/lib/rpm"}

// rpmFormats are rpm's database files, the newest format first: where a
// conversion left an older file beside a newer one, rpm uses the newer.
var rpmFormats = []struct{ file, format string }{
	{"rpmdb.sqlite", "sqlite"}, // rpm 4.16 on: RHEL 9, Fedora 33 on
	{"Packages.db", "ndb"},     // SUSE since SLE 15 SP3
	{"Packages", "bdb"},        // Berkeley DB: RHEL 8 and before
}

// sqliteWAL is the suffix of SQLite's write-ahead log, which holds what
// rpm committed and SQLite has not yet copied into the database file.
const sqliteWAL = "-wal"

// maxRPMDB bounds the database read: a large Fedora host's rpmdb.sqlite
// is a few hundred MB.
const maxRPMDB = 2 << 30

// The package managers' programs, whose presence says which database is
// the host's where there are both.
var (
	dpkgBinaries = []string{"/usr/bin/dpkg", "/bin/dpkg"}
	rpmBinaries  = []string{"/usr/bin/rpm", "/bin/rpm"}
)

// rpmPaths are the rpm files the collector reads or looks for.
func rpmPaths() []agent.Path {
	var out []agent.Path
	for _, d := range rpmDirs {
		for _, f := range rpmFormats {
			out = append(out, agent.File(path.Join(d, f.file)))
			if f.format == "sqlite" {
				out = append(out, agent.File(path.Join(d, f.file+sqliteWAL)))
			}
		}
	}
	for _, b := range append(append([]string{}, dpkgBinaries...), rpmBinaries...) {
		out = append(out, agent.File(b))
	}
	return out
}

// rpmDB is an rpm database found on the host.
type rpmDB struct{ path, format string }

// findRPM returns the rpm database rpm would use, or nil when there is
// none.
func findRPM(fsys *hostfs.FS) (*rpmDB, error) {
	for _, d := range rpmDirs {
		for _, f := range rpmFormats {
			p := path.Join(d, f.file)
			_, err := fsys.Stat(p)
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("look for rpm's database: %w", err)
			}
			return &rpmDB{path: p, format: f.format}, nil
		}
	}
	return nil, nil
}

// anyExists returns the first of paths that exists on the host.
func anyExists(fsys *hostfs.FS, paths []string) string {
	for _, p := range paths {
		if fsys.Exists(p) {
			return p
		}
	}
	return ""
}

// readRPM reads every package in the rpm database db. A header that cannot
// be read is an error of its own; a database that cannot be read is one
// error for all.
func readRPM(ctx context.Context, fsys *hostfs.FS, db rpmDB) ([]snapshot.Package, []string, error) {
	var blobs [][]byte
	var err error
	if db.format == "sqlite" {
		blobs, err = readSQLite(ctx, fsys, db.path)
	} else {
		blobs, err = readPaged(fsys, db)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read rpm's %s database %s: %w", db.format, db.path, err)
	}
	pkgs := []snapshot.Package{}
	errs := []string{}
	for i, b := range blobs {
		h, err := rpmdb.ParseHeader(b)
		if err != nil {
			errs = append(errs, fmt.Sprintf("package %d of %s: %v", i+1, db.path, err))
			continue
		}
		arch := h.Arch
		if arch == "" {
			arch = "(none)"
		}
		pkgs = append(pkgs, snapshot.Package{Name: h.Name, Arch: arch, Version: h.EVR(), Want: "install", State: "installed"})
	}
	sort.SliceStable(pkgs, func(i, j int) bool {
		a, b := pkgs[i], pkgs[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Arch != b.Arch {
			return a.Arch < b.Arch
		}
		va, errA := rpmversion.Parse(a.Version)
		vb, errB := rpmversion.Parse(b.Version)
		if errA != nil || errB != nil {
			return a.Version < b.Version
		}
		return rpmversion.Compare(va, vb) < 0
	})
	return pkgs, errs, nil
}

// readPaged reads a Berkeley DB or NDB database in place.
func readPaged(fsys *hostfs.FS, db rpmDB) ([][]byte, error) {
	f, err := fsys.Open(db.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxRPMDB {
		return nil, &hostfs.TooLargeError{Path: f.Name(), Limit: maxRPMDB}
	}
	if db.format == "ndb" {
		return rpmdb.ReadNDB(f, fi.Size())
	}
	return rpmdb.ReadBDB(f, fi.Size())
}

// readSQLite reads the header of every package in rpm's SQLite database.
// The SQLite library opens files by name, and opening the host's file
// could write beside it (a WAL database makes its -shm index), so the
// database and its write-ahead log are copied, through the host's file
// tree, into a private folder of this machine's, and read there: the host
// is never written, and the log's committed transactions are read too.
func readSQLite(ctx context.Context, fsys *hostfs.FS, p string) ([][]byte, error) {
	dir, err := os.MkdirTemp("", "hostdrift-rpmdb-")
	if err != nil {
		return nil, fmt.Errorf("a folder for a copy of the database: %w", err)
	}
	defer os.RemoveAll(dir)
	local := filepath.Join(dir, "rpmdb.sqlite")
	if err := copyOut(fsys, p, local); err != nil {
		return nil, err
	}
	if err := copyOut(fsys, p+sqliteWAL, local+sqliteWAL); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+local)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT blob FROM Packages ORDER BY hnum")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var blobs [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		blobs = append(blobs, b)
	}
	return blobs, rows.Err()
}

// copyOut copies the host's file p to the local file dst, refusing one
// larger than maxRPMDB.
func copyOut(fsys *hostfs.FS, p, dst string) error {
	src, err := fsys.Open(p)
	if err != nil {
		return err
	}
	defer src.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, io.LimitReader(src, maxRPMDB+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > maxRPMDB {
		err = &hostfs.TooLargeError{Path: src.Name(), Limit: maxRPMDB}
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", src.Name(), err)
	}
	return nil
}
