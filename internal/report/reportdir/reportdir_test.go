package reportdir

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 5, 20, 2, 30, 0, 0, time.UTC)

func write(t *testing.T, dir string, at time.Time, body string) string {
	t.Helper()
	path, err := Write(dir, at, 0o640, func(w io.Writer) error { _, err := io.WriteString(w, body); return err })
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func readLatest(t *testing.T, dir string) (target, body string) {
	t.Helper()
	target, err := os.Readlink(filepath.Join(dir, Latest))
	if err != nil {
		t.Fatalf("latest.json: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, Latest))
	if err != nil {
		t.Fatalf("latest.json: %v", err)
	}
	return target, string(b)
}

func TestName(t *testing.T) {
	local := time.FixedZone("CEST", 2*3600)
	if got, want := Name(time.Date(2025, 5, 20, 4, 30, 7, 999, local)), "report-20250520T023007Z.json"; got != want {
		t.Errorf("Name = %q, want %q (UTC)", got, want)
	}
	// Text order is time order, across a year boundary too.
	a, b := Name(time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC)), Name(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if a >= b {
		t.Errorf("%s sorts after %s", a, b)
	}
}

func TestRetentionAndLatest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "reports") // Write creates it
	// Files that are not reports stay, whatever their age.
	os.MkdirAll(dir, 0o750)
	keepers := []string{"notes.txt", "report-manual.txt", "old-report-1.json"}
	for _, k := range keepers {
		os.WriteFile(filepath.Join(dir, k), []byte("x"), 0o600)
	}
	os.Mkdir(filepath.Join(dir, "report-0-folder.json"), 0o750)

	for i := range 5 {
		path := write(t, dir, t0.Add(time.Duration(i)*24*time.Hour), "run "+string(rune('0'+i)))
		if err := Prune(dir, 3); err != nil {
			t.Fatal(err)
		}
		target, body := readLatest(t, dir)
		if target != filepath.Base(path) || body != "run "+string(rune('0'+i)) {
			t.Errorf("after run %d: latest.json -> %s (%q), want %s", i, target, body, filepath.Base(path))
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
			t.Errorf("report mode %v, want 0640", st.Mode().Perm())
		}
	}
	got, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"report-20250522T023000Z.json", "report-20250523T023000Z.json", "report-20250524T023000Z.json"}
	if !slices.Equal(got, want) {
		t.Errorf("reports kept: %v, want the newest three %v", got, want)
	}
	for _, k := range append(keepers, "report-0-folder.json") {
		if _, err := os.Stat(filepath.Join(dir, k)); err != nil {
			t.Errorf("%s was removed; only report-*.json files may be", k)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestPruneZeroKeepsAll(t *testing.T) {
	dir := t.TempDir()
	for i := range 4 {
		write(t, dir, t0.Add(time.Duration(i)*time.Hour), "x")
	}
	if err := Prune(dir, 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := List(dir); len(got) != 4 {
		t.Errorf("keep 0 kept %v, want all 4", got)
	}
}

// TestPruneSparesLatest: a report from the future (a clock set wrong once)
// sorts last; latest.json still names the newest run, which must survive.
func TestPruneSparesLatest(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, t0.Add(365*24*time.Hour), "future")
	newest := write(t, dir, t0, "now")
	if err := Prune(dir, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(newest); err != nil {
		t.Errorf("the report latest.json points at was pruned: %v", err)
	}
}

func TestFailedWriteLeavesPreviousIntact(t *testing.T) {
	dir := t.TempDir()
	first := write(t, dir, t0, "first")
	boom := errors.New("disk full")
	_, err := Write(dir, t0.Add(time.Hour), 0o640, func(w io.Writer) error {
		io.WriteString(w, "half a rep")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the fill error", err)
	}
	if got, _ := List(dir); !slices.Equal(got, []string{filepath.Base(first)}) {
		t.Errorf("reports after a failed write: %v, want only the first", got)
	}
	if target, body := readLatest(t, dir); target != filepath.Base(first) || body != "first" {
		t.Errorf("latest.json -> %s (%q) after a failed write, want the first report", target, body)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("folder holds %v, want the first report and latest.json", entries)
	}
}

// TestLatestReplacesAFile: a latest.json someone made by hand is replaced by
// the link, not written through.
func TestLatestReplacesAFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, Latest), []byte("hand-made"), 0o644)
	p := write(t, dir, t0, "new")
	if target, _ := readLatest(t, dir); target != filepath.Base(p) {
		t.Errorf("latest.json -> %q", target)
	}
}
