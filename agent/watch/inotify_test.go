package watch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/agent"
)

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestInotify watches a fixture root: writes, an editor's rename-over, a
// delete, a folder that appears after the start, a file check's path, a
// symlinked resolv.conf and the policy folder.
func TestInotify(t *testing.T) {
	root := t.TempDir()
	write(t, root+"/etc/crontab", "")
	write(t, root+"/etc/hosts", "127.0.0.1 localhost\n")
	write(t, root+"/var/lib/dpkg/status", "")
	write(t, root+"/etc/systemd/system/timers.target.wants/.keep", "")
	write(t, root+"/run/systemd/resolve/stub-resolv.conf", "nameserver 127.0.0.53\n")
	if err := os.Symlink("/run/systemd/resolve/stub-resolv.conf", root+"/etc/resolv.conf"); err != nil {
		t.Fatal(err)
	}
	policies := t.TempDir()
	write(t, policies+"/main.hcl", "")
	ch := startSource(t, Options{
		Env:         agent.Env{Root: root},
		Files:       []string{"/srv/app/config.yml"},
		PolicyPaths: []string{policies},
	}, newInotify)

	write(t, root+"/etc/crontab", "* * * * * root true\n")
	waitEvent(t, ch, "crontab written", about("cron", "/etc/crontab written"))

	// An editor writes a temporary file and renames it over the original.
	write(t, root+"/etc/hosts.tmp", "10.0.0.1 db\n")
	if err := os.Rename(root+"/etc/hosts.tmp", root+"/etc/hosts"); err != nil {
		t.Fatal(err)
	}
	e, before := waitEvent(t, ch, "hosts renamed over", about("dns", "/etc/hosts replaced"))
	for _, b := range before {
		if b.Detail == "/etc/hosts.tmp written" {
			t.Errorf("an event for /etc/hosts.tmp, which nothing reads: %+v", b)
		}
	}
	if !about("host")(e) {
		t.Errorf("%+v: /etc/hosts is also the host collector's", e)
	}

	if err := os.Remove(root + "/etc/crontab"); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, ch, "crontab deleted", about("cron", "/etc/crontab deleted"))

	// /etc/cron.d does not exist at the start: the source watches /etc,
	// sees the folder appear, and then watches inside it.
	if err := os.Mkdir(root+"/etc/cron.d", 0o755); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, ch, "cron.d created", about("cron", "/etc/cron.d created"))
	write(t, root+"/etc/cron.d/backup", "0 1 * * * root backup\n")
	waitEvent(t, ch, "a file in the new cron.d", about("cron", "/etc/cron.d/backup written"))

	// The folder is replaced by another at the same path: the new one is
	// watched.
	if err := os.Rename(root+"/etc/cron.d", root+"/etc/cron.d.old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(root+"/etc/cron.d", 0o755); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, ch, "cron.d made again", about("cron", "/etc/cron.d created"))
	write(t, root+"/etc/cron.d/restore", "0 2 * * * root restore\n")
	waitEvent(t, ch, "a file in the new cron.d", about("cron", "/etc/cron.d/restore written"))
	write(t, root+"/etc/cron.d.old/stale", "")

	// Two levels missing: /srv/app/config.yml. Each event comes once the
	// source watches the new folder.
	if err := os.Mkdir(root+"/srv", 0o755); err != nil {
		t.Fatal(err)
	}
	_, before = waitEvent(t, ch, "/srv appears", about("files", "/srv created"))
	for _, b := range before {
		if strings.Contains(b.Detail, "cron.d.old") {
			t.Errorf("an event from the folder moved away, which nothing reads: %+v", b)
		}
	}
	if err := os.Mkdir(root+"/srv/app", 0o755); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, ch, "/srv/app appears", about("files", "/srv/app created"))
	write(t, root+"/srv/app/config.yml", "a: 2\n")
	waitEvent(t, ch, "the file check's file", about("files", "/srv/app/config.yml written"))

	write(t, root+"/etc/systemd/system/timers.target.wants/backup.timer", "")
	waitEvent(t, ch, "a unit enabled", about("timers", "/etc/systemd/system/timers.target.wants/backup.timer created"))

	// resolv.conf is a link: the file it points to is watched too.
	write(t, root+"/run/systemd/resolve/stub-resolv.conf", "nameserver 10.0.0.53\n")
	waitEvent(t, ch, "the link's target written", about("dns", "/run/systemd/resolve/stub-resolv.conf written"))

	// Areas beyond the ones named in the issue: accounts, packages,
	// sysctl configuration, fstab.
	write(t, root+"/etc/passwd", "root:x:0:0::/root:/bin/sh\n")
	e, _ = waitEvent(t, ch, "passwd", about("accounts", "/etc/passwd written"))
	if !about("files")(e) || !about("cron")(e) {
		t.Errorf("%+v: file owners and cron users are read by name from /etc/passwd", e)
	}
	write(t, root+"/var/lib/dpkg/status-new", "Package: x\n")
	if err := os.Rename(root+"/var/lib/dpkg/status-new", root+"/var/lib/dpkg/status"); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, ch, "dpkg status replaced", about("packages", "/var/lib/dpkg/status replaced"))
	write(t, root+"/etc/sysctl.d/99-net.conf", "net.ipv4.ip_forward = 1\n")
	waitEvent(t, ch, "sysctl.d", about("sysctl", "/etc/sysctl.d"))
	write(t, root+"/etc/fstab", "")
	waitEvent(t, ch, "fstab", about("mounts", "/etc/fstab written"))

	write(t, policies+"/notes.txt", "")
	write(t, policies+"/main.hcl", "check {}")
	e, before = waitEvent(t, ch, "the policy", func(e Event) bool { return e.Policy })
	if e.Detail != policies+"/main.hcl written" || len(e.Collectors) != 0 || e.Source != "policy" {
		t.Errorf("policy event %+v", e)
	}
	for _, b := range before {
		if b.Policy {
			t.Errorf("a policy event for a file that is no policy: %+v", b)
		}
	}
}

// TestInotifyCollectors starts no watch for collectors not asked for.
func TestInotifyCollectors(t *testing.T) {
	root := t.TempDir()
	write(t, root+"/etc/crontab", "")
	write(t, root+"/etc/hosts", "")
	ch := startSource(t, Options{Env: agent.Env{Root: root}, Collectors: []string{"dns"}}, newInotify)
	write(t, root+"/etc/crontab", "x")
	write(t, root+"/etc/hosts", "x")
	e, before := waitEvent(t, ch, "hosts", about("dns", "/etc/hosts written"))
	if len(before) != 0 || len(e.Collectors) != 1 {
		t.Errorf("events for collectors not asked for: %+v then %+v", before, e)
	}
}

// TestInotifyBounded: more folders than watches allowed is a source that
// watches the first ones, and an error that says how many are left out.
func TestInotifyBounded(t *testing.T) {
	root := t.TempDir()
	for i := range maxWatches + 20 {
		if err := os.MkdirAll(fmt.Sprintf("%s/etc/systemd/system/u%d.service.d", root, i), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s, err := newInotify(context.Background(), &Options{Env: agent.Env{Root: root}})
	if s.Source == nil || err == nil || !strings.Contains(err.Error(), "beyond the first 512 are not watched") {
		t.Fatalf("source %v, error %v: want a source and the error", s.Source, err)
	}
	src := s.Source.(*inotifySource)
	if len(src.byPath) != maxWatches {
		t.Errorf("%d watches, want %d", len(src.byPath), maxWatches)
	}
	src.f.Close()
}
