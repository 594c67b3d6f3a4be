package agent

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFactsReadOncePerRun: the collectors of one run share one reading of
// /etc/passwd and of whether systemd runs, whoever asks first; a new run
// reads them again.
func TestFactsReadOncePerRun(t *testing.T) {
	root := t.TempDir()
	write := func(text string) {
		if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("root:x:0:0:root:/root:/bin/sh\n")
	run := Env{Root: root, facts: &facts{}}
	one, two := run, run // what runWave hands each collector
	if u, _, err := one.Users(); err != nil || len(u) != 1 || u[0].Name != "root" {
		t.Fatalf("users: %v %v", u, err)
	}
	if one.SystemdRuns() {
		t.Fatal("systemd runs in an empty root")
	}
	write("root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n")
	if err := os.MkdirAll(filepath.Join(root, SystemdDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if u, _, _ := two.Users(); len(u) != 1 {
		t.Errorf("a second collector of the run read /etc/passwd again: %v", u)
	}
	if two.SystemdRuns() {
		t.Error("a second collector of the run asked again whether systemd runs")
	}
	next := Env{Root: root, facts: &facts{}}
	if u, _, _ := next.Users(); len(u) != 2 || !next.SystemdRuns() {
		t.Errorf("the next run did not read the facts again: %v, systemd %v", u, next.SystemdRuns())
	}
}
