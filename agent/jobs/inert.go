package jobs

import (
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

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
	if q, err := fsys.resolve("/sbin/init"); err == nil && path.Base(q) == "systemd" {
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
				if line, ok := scriptGuard(fsys, j.File); ok {
					j.Inert = fmt.Sprintf("exits at once when systemd runs (line %d tests %s; a systemd timer does this work)", line, crontab.SystemdDir)
				}
				continue
			}
			if crontab.SystemdGuarded(j.Command) {
				j.Inert = fmt.Sprintf("does nothing when systemd runs (the command tests %s first; a systemd timer does this work)", crontab.SystemdDir)
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
		scripts, active := 0, 0
		for _, s := range cr.Jobs {
			if s.Kind == snapshot.CronRunParts && slices.Contains(dirs, path.Dir(s.File)) {
				scripts++
				if s.Inert == "" {
					active++
				}
			}
		}
		switch {
		case active > 0:
		case scripts == 0:
			j.Inert = fmt.Sprintf("runs run-parts on %s, which holds no script", strings.Join(dirs, " and "))
		default:
			j.Inert = fmt.Sprintf("runs run-parts on %s, whose %d script(s) all do nothing here", strings.Join(dirs, " and "), scripts)
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

// scriptGuard reads the head of a run-parts script for a systemd guard.
func scriptGuard(fsys rootFS, p string) (int, bool) {
	f, err := fsys.open(p)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	return crontab.SystemdGuardedScript(io.LimitReader(f, 64<<10))
}
