package jobs

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/fixture"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// oddRoot is a tree whose cron and systemd folders hold files that are not
// regular: FIFOs (opening one for reading blocks until a writer comes), a
// link to /dev/urandom (reading it never ends) and folders named like files.
// cron, run-parts and systemd skip them; so must the collectors, and say so.
func oddRoot(t *testing.T) string {
	root := t.TempDir()
	fixture.Write(t, root, map[string]string{
		"etc/passwd":                                 "root:x:0:0:root:/root:/bin/sh\n",
		"etc/cron.d/good":                            "0 1 * * * root /bin/true\n",
		"etc/cron.d/folder":                          "-> /srv/somewhere",
		"srv/somewhere/x":                            "",
		"etc/cron.daily/random":                      "-> /dev/urandom",
		"etc/cron.daily/ok@":                         "#!/bin/sh\n",
		"bin/true@":                                  "",
		"etc/systemd/system/rand.timer":              "-> /dev/urandom",
		"etc/systemd/system/good.timer":              "[Timer]\nOnCalendar=daily\n",
		"etc/systemd/system/good.service":            "[Service]\nExecStart=/bin/true\n",
		"etc/systemd/system/pipe.timer":              "[Timer]\nOnCalendar=daily\n",
		"etc/systemd/system/folder.timer/x":          "",
		"etc/systemd/system/good.timer.d/odd.conf/x": "",
	})
	for _, p := range []string{"etc/cron.d/pipe", "etc/crontab", "etc/cron.daily/fifo", "etc/systemd/system/pipe.service", "var/log/syslog"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mkfifo(filepath.Join(root, p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The links to /dev/urandom resolve below the root, as on the host.
	dev := filepath.Join(root, "dev", "urandom")
	if err := os.MkdirAll(filepath.Dir(dev), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(dev, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 9))); err != nil {
		if !nstest.Strict() && os.Geteuid() != 0 {
			t.Skipf("mknod %s: %v (run as root)", dev, err)
		}
		t.Fatalf("mknod %s: %v", dev, err)
	}
	return root
}

func TestOddFilesAreSkippedAndNamed(t *testing.T) {
	root := oddRoot(t)
	// A collector that blocks on a FIFO never returns: the runner's
	// deadline turns that into an error, which this test rejects.
	snap := &snapshot.Snapshot{}
	agent.Run(context.Background(), snap, agent.Options{Env: agent.Env{Root: root}, Collectors: []string{snapshot.CollectorCron, snapshot.CollectorTimers}, Deadline: time.Minute})
	for _, st := range snap.Collectors {
		if st.Status != snapshot.StatusOK {
			t.Fatalf("collector %s: %s: %s", st.Name, st.Status, st.Reason)
		}
	}
	cr := snap.Jobs.Cron
	var jobs []string
	for _, j := range cr.Jobs {
		jobs = append(jobs, j.Where())
	}
	if !slices.Equal(jobs, []string{"/etc/cron.d/good:1", "/etc/cron.daily/ok"}) {
		t.Errorf("jobs %v; want the good table line and the good script only", jobs)
	}
	ignored := map[string]string{}
	for _, ig := range cr.Ignored {
		ignored[ig.Path] = ig.Reason
	}
	for p, kind := range map[string]string{
		"/etc/crontab":           "a FIFO",
		"/etc/cron.d/pipe":       "a FIFO",
		"/etc/cron.d/folder":     "a folder",
		"/etc/cron.daily/fifo":   "a FIFO",
		"/etc/cron.daily/rand":   "",
		"/etc/cron.daily/random": "a character device",
	} {
		if !strings.Contains(ignored[p], kind) {
			t.Errorf("%s: ignored as %q; want a reason naming it %s", p, ignored[p], kind)
		}
	}
	if !strings.Contains(cr.LogError, "/var/log/syslog is a FIFO") {
		t.Errorf("log error %q; want the FIFO syslog named", cr.LogError)
	}

	tm := snap.Jobs.Timers
	var units []string
	for _, u := range tm.Timers {
		units = append(units, u.Unit)
		if u.Unit == "pipe.timer" && !strings.Contains(u.ServiceError, "a FIFO") {
			t.Errorf("pipe.timer's service error %q; want its FIFO unit file named", u.ServiceError)
		}
	}
	if !slices.Equal(units, []string{"good.timer", "pipe.timer"}) {
		t.Errorf("timers %v; want good.timer and pipe.timer, not the link to /dev/urandom nor the folder", units)
	}
	errs := map[string]string{}
	for _, e := range tm.Errors {
		errs[e.Path] = e.Error
	}
	if !strings.Contains(errs["/etc/systemd/system/good.timer"], "odd.conf is a folder") {
		t.Errorf("timers errors %v; want good.timer's folder drop-in named", errs)
	}
	if !strings.Contains(errs["/etc/systemd/system/rand.timer"], "a character device") {
		t.Errorf("timers errors %v; want rand.timer named as a character device", errs)
	}
}
