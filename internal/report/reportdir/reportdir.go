// Package reportdir keeps a folder of timestamped reports: each run adds
// one, latest.json points at the newest, and only the newest few are kept.
package reportdir

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hostdrift/hostdrift/internal/sys/atomicfile"
)

// Latest is the name of the symlink to the newest report.
const Latest = "latest.json"

// pattern matches the reports Write makes, and nothing else in the folder
// is ever removed.
const pattern = "report-*.json"

// timeLayout sorts as text in time order, so the oldest report is the first name.
const timeLayout = "20060102T150405Z"

// Name is the file name of the report of a run started at t:
// report-20060102T150405Z.json (UTC).
func Name(t time.Time) string {
	return "report-" + t.UTC().Format(timeLayout) + ".json"
}

// Write creates dir if needed and writes the report of a run started at t
// with fill, atomically and with mode perm; then it points latest.json at
// it, atomically too. It returns the report's path. When it fails, the
// previous reports and latest.json are as they were, except that a report
// written before latest.json could be replaced stays in the folder.
func Write(dir string, t time.Time, perm os.FileMode, fill func(io.Writer) error) (string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("create the report folder: %w", err)
	}
	name := Name(t)
	path := filepath.Join(dir, name)
	if err := atomicfile.Write(path, perm, func(f *os.File) error { return fill(f) }); err != nil {
		return "", err
	}
	if err := link(dir, name); err != nil {
		return path, err
	}
	return path, nil
}

// link points dir/latest.json at name (a relative link, so the folder can
// move) by making the link under a temporary name and renaming it over
// latest.json: a reader sees the old link or the new one, never none.
func link(dir, name string) error {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+Latest+".tmp-"+hex.EncodeToString(b[:]))
	if err := os.Symlink(name, tmp); err != nil {
		return fmt.Errorf("link %s: %w", Latest, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, Latest)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put %s in place: %w", filepath.Join(dir, Latest), err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the rename durable; failure here loses nothing already written
		d.Close()
	}
	return nil
}

// List returns the names of the reports in dir, oldest first. Only regular
// files named report-*.json count.
func List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list the report folder: %w", err)
	}
	var names []string
	for _, e := range entries {
		if ok, _ := filepath.Match(pattern, e.Name()); ok && e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Prune removes the oldest reports in dir beyond the newest keep (keep 0
// keeps all), never the one latest.json points at. It removes only regular
// files named report-*.json.
func Prune(dir string, keep int) error {
	if keep <= 0 {
		return nil
	}
	names, err := List(dir)
	if err != nil {
		return err
	}
	latest, _ := os.Readlink(filepath.Join(dir, Latest))
	var failed []string
	for _, name := range names[:max(0, len(names)-keep)] {
		if name == latest {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
			failed = append(failed, err.Error())
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("remove old reports: %s", strings.Join(failed, "; "))
	}
	return nil
}
