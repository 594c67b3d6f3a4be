package watch

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/agent"
	_ "github.com/hostdrift/hostdrift/agent/all"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// readsNoHostFile are the collectors that read nothing below Env.Root that
// a change could be seen in: sockets over sock_diag and /proc, and the
// probes they make. (The firewall collector reads firewalld's
// configuration.)
var readsNoHostFile = map[string]string{
	snapshot.CollectorListeners: "sock_diag and /proc",
	snapshot.CollectorProbes:    "connections it makes",
}

// TestEveryDeclaredPathWatched: over a fixture root holding every path a
// registered collector declares it reads, the inotify source watches each
// declared folder (and the sub-folders it declares) and each declared
// file's folder, and a change to any of them is an event naming that
// collector. A collector that reads host files and declares none fails it
// too, as does a watch list that leaves out a declared path.
func TestEveryDeclaredPathWatched(t *testing.T) {
	root := t.TempDir()
	names := agent.Names()
	if len(names) < 10 {
		t.Fatalf("only %v registered: agent/all is not linked in", names)
	}
	dirs := map[string]bool{} // declared paths that are folders
	for _, name := range names {
		for _, p := range agent.Reads(name) {
			if p.Dir {
				dirs[p.Name] = true
			}
		}
	}
	type decl struct {
		collector string
		agent.Path
		sub string // a sub-folder made for the first of p.Subs
	}
	var decls []decl
	for _, name := range names {
		reads := agent.Reads(name)
		if _, none := readsNoHostFile[name]; none != (len(reads) == 0) {
			t.Errorf("collector %s declares %d paths; want some exactly when it reads host files (it is %v in readsNoHostFile)", name, len(reads), none)
		}
		for _, p := range reads {
			if !filepath.IsAbs(p.Name) || filepath.Clean(p.Name) != p.Name {
				t.Errorf("%s declares %q: not a clean absolute path", name, p.Name)
			}
			d := decl{collector: name, Path: p}
			real := filepath.Join(root, p.Name)
			switch {
			case dirs[p.Name]:
				mkdir(t, real)
			default:
				write(t, real, "")
			}
			if len(p.Subs) > 0 {
				d.sub = "hdtest" + p.Subs[0]
				mkdir(t, filepath.Join(real, d.sub))
			}
			decls = append(decls, d)
		}
	}

	s, err := newInotify(context.Background(), &Options{Env: agent.Env{Root: root}})
	if err != nil {
		t.Fatal(err)
	}
	src := s.Source.(*inotifySource)
	t.Cleanup(func() { src.f.Close() })
	for _, d := range decls {
		real := filepath.Join(root, d.Name)
		watched := real
		if !d.Dir {
			watched = filepath.Dir(real)
		}
		if _, ok := src.byPath[watched]; !ok {
			t.Errorf("%s declares %s, but %s is not watched", d.collector, d.Name, watched)
		}
		if !slices.Contains(s.collectors, d.collector) {
			t.Errorf("the source does not name %s among its collectors %v", d.collector, s.collectors)
		}
		changed := real
		if d.Dir {
			changed = filepath.Join(real, "hdtest-entry")
		}
		evs := src.match(changed, unix.IN_CLOSE_WRITE, nil)
		if !eventFor(evs, d.collector) {
			t.Errorf("%s declares %s, but a change to %s is no event for it", d.collector, d.Name, changed)
		}
		if len(evs) > 1 {
			t.Errorf("one change to %s is %d events, want one naming every collector that reads it: %+v", changed, len(evs), evs)
		}
		if d.sub == "" {
			continue
		}
		if _, ok := src.byPath[filepath.Join(real, d.sub)]; !ok {
			t.Errorf("%s declares the %v sub-folders of %s, but %s is not watched", d.collector, d.Subs, d.Name, d.sub)
		}
		changed = filepath.Join(real, d.sub, "hdtest-entry")
		if !eventFor(src.match(changed, unix.IN_CLOSE_WRITE, nil), d.collector) {
			t.Errorf("%s declares the %v sub-folders of %s, but a change to %s is no event for it", d.collector, d.Subs, d.Name, changed)
		}
	}
}

// eventFor reports whether one of evs names collector.
func eventFor(evs []Event, collector string) bool {
	return slices.ContainsFunc(evs, func(e Event) bool { return slices.Contains(e.Collectors, collector) })
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestInotifySeesEveryUnitFolderAndSpool writes, through real inotify, a
// unit file and a drop-in in each of systemd's five unit folders and a
// crontab in each of the two spools (Debian's and RHEL's): each is an event
// for the collectors that read it. The folders the issue found unwatched,
// /usr/local/lib/systemd/system and /var/spool/cron, are among them.
func TestInotifySeesEveryUnitFolderAndSpool(t *testing.T) {
	root := t.TempDir()
	unitFolders := []string{"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"}
	for _, d := range unitFolders {
		mkdir(t, root+d+"/backup.service.d")
	}
	mkdir(t, root+"/var/spool/cron/crontabs")
	ch := startSource(t, Options{Env: agent.Env{Root: root}}, newInotify)

	for _, d := range unitFolders {
		write(t, root+d+"/backup.timer", "[Timer]\nOnCalendar=daily\n")
		e, _ := waitEvent(t, ch, "a timer in "+d, about(snapshot.CollectorTimers, d+"/backup.timer written"))
		if !about(snapshot.CollectorServices)(e) {
			t.Errorf("%+v: a unit file is the services collector's too", e)
		}
		write(t, root+d+"/backup.service.d/override.conf", "[Service]\nExecStart=\n")
		waitEvent(t, ch, "a drop-in in "+d, about(snapshot.CollectorTimers, d+"/backup.service.d/override.conf written"))
	}
	for _, spool := range []string{"/var/spool/cron", "/var/spool/cron/crontabs"} {
		write(t, root+spool+"/alice", "0 1 * * * /usr/local/bin/report\n")
		waitEvent(t, ch, "a crontab in "+spool, about(snapshot.CollectorCron, spool+"/alice written"))
	}
	// The RHEL spool's own entries only: a crontab's temporary file
	// renamed into place, as crontab(1) does.
	write(t, root+"/var/spool/cron/tmp.123", "0 2 * * * /usr/local/bin/report\n")
	if err := os.Rename(root+"/var/spool/cron/tmp.123", root+"/var/spool/cron/bob"); err != nil {
		t.Fatal(err)
	}
	e, _ := waitEvent(t, ch, "a crontab renamed into the RHEL spool", about(snapshot.CollectorCron, "/var/spool/cron/bob replaced"))
	if strings.Contains(e.Detail, "crontabs") {
		t.Errorf("%+v", e)
	}
}
