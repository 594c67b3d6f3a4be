package jobs

import (
	"io"
	"path"
	"slices"

	"github.com/hostdrift/hostdrift/internal/parse/crontab"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// systemdInit tells whether systemd is the host's init system, and how it
// was told. On the live host, and below a root whose /run is the host's,
// /run/systemd/system exists exactly when systemd runs (sd_booted(3)), and
// that is the test the jobs make themselves. An offline image has an empty
// /run: there its /sbin/init tells what it boots. Empty when neither says
// systemd.
func systemdInit(fsys rootFS) string {
	if fi, err := fsys.stat(crontab.SystemdDir); err == nil && fi.IsDir() {
		return crontab.SystemdDir + " exists"
	}
	if fsys.live() {
		return ""
	}
	if q, err := fsys.Follow("/sbin/init"); err == nil && path.Base(q) == "systemd" {
		return "/sbin/init is " + q + " (an offline image that boots systemd)"
	}
	return ""
}

// markInert records, for each job, why it does nothing on this host: under
// systemd, a table line or run-parts script that tests for systemd first
// and leaves the work to a timer; and a table line that only runs
// run-parts on folders whose scripts all do nothing (or that hold none).
// It reads the commands as written, before redaction.
func markInert(fsys rootFS, cr *snapshot.Cron) {
	if cr.Systemd != "" {
		for i := range cr.Jobs {
			j := &cr.Jobs[i]
			if j.Kind == snapshot.CronRunParts {
				if scriptGuard(fsys, j.File) {
					j.Inert = snapshot.InertUnderSystemd
				}
				continue
			}
			if crontab.SystemdGuarded(j.Command) {
				j.Inert = snapshot.InertUnderSystemd
			}
		}
	}
	for i := range cr.Jobs {
		j := &cr.Jobs[i]
		if j.Kind == snapshot.CronRunParts || j.Inert != "" {
			continue
		}
		dirs := runsOnlyFolders(j.Command)
		if len(dirs) == 0 {
			continue
		}
		active := false
		for _, s := range cr.Jobs {
			if s.Kind == snapshot.CronRunParts && s.Inert == "" && slices.Contains(dirs, path.Dir(s.File)) {
				active = true
			}
		}
		if !active {
			j.Inert = snapshot.InertNothingToRun
		}
	}
}

// runsOnlyFolders returns the run-parts folders a command runs, when
// run-parts is all it starts.
func runsOnlyFolders(command string) []string {
	an := crontab.Analyze(command, "/")
	if len(an.Programs) == 0 {
		return nil
	}
	for _, p := range an.Programs {
		if path.Base(p.Word) != "run-parts" {
			return nil
		}
	}
	var dirs []string
	for _, d := range runPartsDirs {
		if mentions(command, d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// scriptGuard reports whether a run-parts script starts with a systemd
// guard, reading only its head.
func scriptGuard(fsys rootFS, p string) bool {
	f, err := fsys.open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	_, ok := crontab.SystemdGuardedScript(io.LimitReader(f, 64<<10))
	return ok
}
