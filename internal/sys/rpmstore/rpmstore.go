// Package rpmstore finds a host's rpm database and reads the header of
// every installed package from it, through the host's file tree (hostfs),
// without rpm and without writing anything on the host: Berkeley DB and
// NDB files are read in place, an SQLite database is copied out first.
// internal/parse/rpmdb parses what it returns.
package rpmstore

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

	_ "modernc.org/sqlite" // the SQLite driver, pure Go

	"github.com/hostdrift/hostdrift/internal/parse/rpmdb"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
)

// Dirs are where rpm keeps its database: /usr/lib/sysimage/rpm since
// rpm 4.16 moved it (Fedora 36 on, openSUSE), /var/lib/rpm before and on
// RHEL (on the newer hosts, a link to the first).
var Dirs = []string{"/usr/lib/sysimage/rpm", "/var/lib/rpm"}

// formats are rpm's database files, the newest format first: where a
// conversion left an older file beside a newer one, rpm uses the newer.
var formats = []struct{ file, format string }{
	{"rpmdb.sqlite", "sqlite"}, // rpm 4.16 on: RHEL 9, Fedora 33 on
	{"Packages.db", "ndb"},     // SUSE since SLE 15 SP3
	{"Packages", "bdb"},        // Berkeley DB: RHEL 8 and before
}

// sqliteWAL is the suffix of SQLite's write-ahead log, which holds what
// rpm committed and SQLite has not yet copied into the database file.
const sqliteWAL = "-wal"

// maxDB bounds the database read: a large Fedora host's rpmdb.sqlite
// is a few hundred MB.
const maxDB = 2 << 30

// Paths are the files Find looks for and Headers reads, for a collector's
// Reads.
func Paths() []string {
	var out []string
	for _, d := range Dirs {
		for _, f := range formats {
			out = append(out, path.Join(d, f.file))
			if f.format == "sqlite" {
				out = append(out, path.Join(d, f.file+sqliteWAL))
			}
		}
	}
	return out
}

// DB is an rpm database found on the host.
type DB struct {
	// Path is its file on the host; Format "sqlite", "ndb" or "bdb".
	Path, Format string
}

// Find returns the rpm database rpm would use, or nil when there is none.
func Find(fsys *hostfs.FS) (*DB, error) {
	for _, d := range Dirs {
		for _, f := range formats {
			p := path.Join(d, f.file)
			_, err := fsys.Stat(p)
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("look for rpm's database: %w", err)
			}
			return &DB{Path: p, Format: f.format}, nil
		}
	}
	return nil, nil
}

// Headers reads the header blob of every package in the database, in
// rpm's order.
func (db DB) Headers(ctx context.Context, fsys *hostfs.FS) ([][]byte, error) {
	if db.Format == "sqlite" {
		return readSQLite(ctx, fsys, db.Path)
	}
	return readPaged(fsys, db)
}

// readPaged reads a Berkeley DB or NDB database in place.
func readPaged(fsys *hostfs.FS, db DB) ([][]byte, error) {
	f, err := fsys.Open(db.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxDB {
		return nil, &hostfs.TooLargeError{Path: f.Name(), Limit: maxDB}
	}
	if db.Format == "ndb" {
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
// larger than maxDB.
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
	n, err := io.Copy(out, io.LimitReader(src, maxDB+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > maxDB {
		err = &hostfs.TooLargeError{Path: src.Name(), Limit: maxDB}
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", src.Name(), err)
	}
	return nil
}
