// Package jobs collects what the host runs on a schedule: cron jobs (with
// their tables, programs, output and last runs) and systemd timers.
package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/parse/calendar"
	"github.com/hostdrift/hostdrift/internal/parse/crontab"
	"github.com/hostdrift/hostdrift/internal/parse/redact"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
	"github.com/hostdrift/hostdrift/internal/sys/procns"
)

func init() {
	agent.Register(snapshot.CollectorCron, func() agent.Collector { return &CronCollector{} })
}

// CronCollector reads every table cron and anacron read below Env.Root,
// checks each job's programs, where its output goes, and when it last ran
// according to the journal or syslog. An absent cron is no error: it is an
// empty section.
type CronCollector struct {
	// Now is the time due times are computed from; time.Now when nil.
	Now func() time.Time
	// Journal reads cron's journal entries; readJournal when nil.
	Journal func(ctx context.Context, fsys rootFS) ([]logRun, error)
}

// Reads declares what the collector reads: the tables, the run-parts
// folders and both spools; the users' homes, the time zone and the
// package databases' file lists; which cron daemon is installed (its
// units and programs), what starts anacron, cronie's arguments, the
// run-parts installed (its jobs.deny and jobs.allow are in the run-parts
// folders), whether
// systemd and sendmail are there. Its journal, logs and anacron's stamps
// change as a matter of course and are left out.
func (*CronCollector) Reads() []agent.Path {
	ps := []agent.Path{agent.File(crontabPath), agent.File(anacrontabPath), agent.Folder(cronDDir),
		agent.File(agent.PasswdPath), agent.File(localtimePath), agent.File(crontab.SystemdDir), agent.File(crondSysconfig)}
	for _, db := range packageDBs {
		ps = append(ps, db.reads()...)
	}
	for _, d := range runPartsDirs {
		ps = append(ps, agent.Folder(d))
	}
	for _, d := range spools {
		ps = append(ps, agent.Folder(d))
	}
	for _, p := range slices.Concat(daemonPrograms, mtas, anacronPrograms, runPartsPrograms) {
		ps = append(ps, agent.File(p))
	}
	for _, u := range []string{debianCron.unit, cronie.unit, anacronTimer} {
		for _, d := range unitDirs {
			ps = append(ps, agent.File(path.Join(d, u)))
		}
	}
	return ps
}

// Paths cron reads.
const (
	crontabPath    = "/etc/crontab"
	cronDDir       = "/etc/cron.d"
	anacrontabPath = "/etc/anacrontab"
	anacronSpool   = "/var/spool/anacron"
	// debianSpool holds user crontabs on Debian; rhelSpool on RHEL.
	debianSpool = "/var/spool/cron/crontabs"
	rhelSpool   = "/var/spool/cron"
	// localtimePath is the host's time zone.
	localtimePath = "/etc/localtime"
	// defaultPath is cron's PATH when a table sets none.
	defaultPath = "/usr/bin:/bin"
)

// spools are the folders of user crontabs, the Debian one first.
var spools = []string{debianSpool, rhelSpool}

// runPartsDirs are the folders /etc/crontab or anacron run with run-parts.
var runPartsDirs = []string{"/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly", "/etc/cron.monthly"}

// mtas are where cron looks for sendmail.
var mtas = []string{"/usr/sbin/sendmail", "/usr/lib/sendmail"}

// table is a parsed table and where it came from.
type table struct {
	path string
	kind string
	tab  *crontab.Table
}

// Collect reads the tables, the programs, the logs and the daemon.
func (c *CronCollector) Collect(ctx context.Context, env *agent.Env) (snapshot.Section, error) {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	fsys := newRootFS(env.FS())
	loc := zone(fsys)
	cr := &snapshot.Cron{Jobs: []snapshot.CronJob{}, Ignored: []snapshot.IgnoredFile{}, Errors: []snapshot.FileError{}, LogSources: []string{}}
	cronDaemon(fsys, cr)
	var layouts []cronFlavour
	cr.Flavour, cr.FlavourReason, layouts = detectCron(fsys)
	programs := daemonPrograms
	if len(layouts) == 1 {
		programs = slices.Concat(layouts[0].programs, daemonPrograms)
	}
	for _, p := range programs {
		if fi, err := fsys.stat(p); err == nil && executable(fi) {
			cr.DaemonProgram = p
			break
		}
	}
	for _, m := range mtas {
		if fi, err := fsys.stat(m); err == nil && executable(fi) {
			cr.MTA = m
			break
		}
	}

	var tables []table
	read := func(p, kind string, opts crontab.Options) {
		b, err := fsys.readFile(p)
		if err != nil {
			switch {
			case hostfs.IsNotRegular(err):
				cr.Ignored = append(cr.Ignored, snapshot.IgnoredFile{Path: p, Reason: err.Error() + "; cron reads only regular files"})
			case !errors.Is(err, fs.ErrNotExist):
				cr.Errors = append(cr.Errors, snapshot.FileError{Path: p, Error: err.Error()})
			}
			return
		}
		opts.Location = loc
		tab, err := crontab.Parse(bytes.NewReader(b), opts)
		if err != nil {
			cr.Errors = append(cr.Errors, snapshot.FileError{Path: p, Error: err.Error()})
		}
		for _, le := range tab.Errors {
			cr.Errors = append(cr.Errors, snapshot.FileError{Path: p, Line: le.Line, Error: le.Error})
		}
		tables = append(tables, table{p, kind, tab})
	}
	read(crontabPath, snapshot.CronSystem, crontab.Options{System: true})
	for _, name := range c.dir(fsys, cr, cronDDir) {
		readBy := slices.ContainsFunc(layouts, func(f cronFlavour) bool { return f.cronDName(name) })
		if !readBy {
			reasons := make([]string, len(layouts))
			for i, f := range layouts {
				reasons[i] = f.cronDSkipped
			}
			cr.Ignored = append(cr.Ignored, snapshot.IgnoredFile{Path: path.Join(cronDDir, name), Reason: strings.Join(reasons, "; ")})
			continue
		}
		read(path.Join(cronDDir, name), snapshot.CronSystem, crontab.Options{System: true})
	}
	for _, f := range flavours {
		if !slices.ContainsFunc(layouts, func(l cronFlavour) bool { return l.name == f.name }) {
			for _, name := range c.dir(fsys, cr, f.spool) {
				cr.Ignored = append(cr.Ignored, snapshot.IgnoredFile{Path: path.Join(f.spool, name), Reason: f.foreignSpool})
			}
			continue
		}
		for _, name := range c.dir(fsys, cr, f.spool) {
			if !f.tableName(name) {
				if f.spoolSkipped != "" && !strings.HasPrefix(name, ".") {
					cr.Ignored = append(cr.Ignored, snapshot.IgnoredFile{Path: path.Join(f.spool, name), Reason: f.spoolSkipped})
				}
				continue
			}
			read(path.Join(f.spool, name), snapshot.CronUser, crontab.Options{Owner: name})
		}
	}

	accounts, _, _ := env.Users()
	homes := make(map[string]string, len(accounts))
	for _, u := range accounts {
		homes[u.Name] = u.Home
	}
	for _, t := range tables {
		for _, e := range t.tab.Entries {
			j := c.job(fsys, t.path, t.kind, e.Line, e.User, e.Command, e.Env, homes)
			j.Schedule, j.Reboot = e.Schedule, e.Reboot
			if !e.Reboot {
				setDue(&j, e.Spec, now)
			}
			cr.Jobs = append(cr.Jobs, j)
		}
	}
	syslogOutput(fsys, cr)
	anacron := c.anacron(fsys, cr, homes)
	cr.Jobs = append(cr.Jobs, anacron...)
	cr.Jobs = append(cr.Jobs, c.runParts(fsys, cr)...)
	anacronTrigger(fsys, cr)
	cr.Systemd = systemdInit(fsys)
	markInert(fsys, cr)
	packageOwners(ctx, fsys, cr, packageDBs)

	c.lastRuns(ctx, fsys, cr, now)
	// Commands go into snapshots and reports: their secrets (passwords,
	// tokens, credentials in URLs) do not. Last runs were matched first,
	// against the commands as cron logs them.
	for i := range cr.Jobs {
		cr.Jobs[i].Command = redact.Cmdline(cr.Jobs[i].Command)
	}
	return cr, nil
}

// dir lists the regular files (and links) of a folder, sorted; a missing
// folder holds none.
func (c *CronCollector) dir(fsys rootFS, cr *snapshot.Cron, dir string) []string {
	entries, err := fsys.readDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			cr.Errors = append(cr.Errors, snapshot.FileError{Path: dir, Error: err.Error()})
		}
		return nil
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// zone is the host's time zone: /etc/localtime below the root.
func zone(fsys rootFS) *time.Location {
	if fsys.live() {
		return time.Local
	}
	if b, err := fsys.readFile(localtimePath); err == nil {
		if loc, err := time.LoadLocationFromTZData("Local", b); err == nil {
			return loc
		}
	}
	return time.UTC
}

// cronEnv are the variables a job records.
var cronEnv = []string{"MAILTO", "PATH", "SHELL", "CRON_TZ", "HOME"}

// job builds a job from a command: its programs and its output.
func (c *CronCollector) job(fsys rootFS, file, kind string, line int, user, command string, env map[string]string, homes map[string]string) snapshot.CronJob {
	j := snapshot.CronJob{File: file, Line: line, Kind: kind, User: user, Command: command}
	for _, k := range cronEnv {
		if v, ok := env[k]; ok {
			if j.Env == nil {
				j.Env = map[string]string{}
			}
			j.Env[k] = v
		}
	}
	home, known := homes[user]
	if h, ok := env["HOME"]; ok {
		home = h
	}
	if !known && len(homes) > 0 {
		j.Error = fmt.Sprintf("user %q does not exist in /etc/passwd: cron cannot run this job", user)
	}
	pathEnv := defaultPath
	if p, ok := env["PATH"]; ok {
		pathEnv = p
	}
	an := crontab.Analyze(command, home)
	j.Programs = resolvePrograms(fsys, an.Programs, pathEnv, home)
	j.Output = snapshot.JobOutput{ToCron: an.ToCron, Files: an.Files, MailTo: user}
	if j.Output.ToCron == nil {
		j.Output.ToCron = []string{}
	}
	if m, ok := env["MAILTO"]; ok {
		j.Output.MailTo = m
	}
	return j
}

// resolvePrograms finds each program below the root.
func resolvePrograms(fsys rootFS, progs []crontab.Program, pathEnv, home string) []snapshot.Program {
	out := []snapshot.Program{}
	for _, p := range progs {
		sp := snapshot.Program{Word: p.Word, Script: p.Script, Guarded: p.Guarded, Unresolved: p.Unresolved}
		switch {
		case p.Unresolved:
		case path.IsAbs(p.Word):
			fsys.check(&sp, path.Clean(p.Word))
		case strings.Contains(p.Word, "/") || p.Script:
			dir := p.Dir
			if dir == "" {
				dir = home
			}
			if dir == "" {
				sp.Unresolved = true
				break
			}
			fsys.check(&sp, path.Join(dir, p.Word))
		default:
			fsys.lookPath(&sp, p.Word, pathEnv)
		}
		out = append(out, sp)
	}
	return out
}

func setDue(j *snapshot.CronJob, spec calendar.Spec, now time.Time) {
	if prev, ok := spec.Prev(now); ok {
		p := prev.UTC()
		j.PrevDue = &p
	}
	if next, ok := spec.Next(now); ok {
		n := next.UTC()
		j.NextDue = &n
	}
	j.PeriodSeconds = int64(spec.Period(now) / time.Second)
}

// runParts lists the scripts of the run-parts folders, each scheduled by
// the table line that runs its folder.
func (c *CronCollector) runParts(fsys rootFS, cr *snapshot.Cron) []snapshot.CronJob {
	var out []snapshot.CronJob
	rp := installedRunParts(fsys)
	for _, dir := range runPartsDirs {
		names := c.dir(fsys, cr, dir)
		if len(names) == 0 {
			continue
		}
		trigger := triggerOf(cr.Jobs, dir)
		runs := rp.runs(fsys, dir)
		for _, name := range names {
			p := path.Join(dir, name)
			if why := runs(name); why != "" {
				if name != ".placeholder" {
					cr.Ignored = append(cr.Ignored, snapshot.IgnoredFile{Path: p, Reason: why})
				}
				continue
			}
			if fi, err := fsys.stat(p); err == nil && !fi.Mode().IsRegular() {
				cr.Ignored = append(cr.Ignored, snapshot.IgnoredFile{Path: p,
					Reason: fmt.Sprintf("%s is %s: run-parts runs only regular files; this one never runs", p, hostfs.Kind(fi.Mode()))})
				continue
			}
			j := snapshot.CronJob{File: p, Kind: snapshot.CronRunParts, User: "root", Command: p, Output: snapshot.JobOutput{ToCron: []string{"stdout", "stderr"}, MailTo: "root"}}
			prog := snapshot.Program{Word: p}
			fsys.check(&prog, p)
			j.Programs = []snapshot.Program{prog}
			if trigger != nil {
				j.Trigger, j.Schedule, j.User = trigger.Where(), trigger.Schedule, trigger.User
				j.PrevDue, j.NextDue, j.PeriodSeconds = trigger.PrevDue, trigger.NextDue, trigger.PeriodSeconds
				j.Output.MailTo, j.Output.Syslog = trigger.Output.MailTo, trigger.Output.Syslog
				j.Env = trigger.Env
			}
			out = append(out, j)
		}
	}
	return out
}

// triggerOf finds the table line that runs a run-parts folder; anacron's
// line wins, since Debian's /etc/crontab defers to anacron when installed.
func triggerOf(jobs []snapshot.CronJob, dir string) *snapshot.CronJob {
	var found *snapshot.CronJob
	for i := range jobs {
		j := &jobs[i]
		if !strings.Contains(j.Command, "run-parts") || !mentions(j.Command, dir) {
			continue
		}
		if found == nil || j.Kind == snapshot.CronAnacron {
			found = j
		}
	}
	return found
}

// mentions reports whether command names dir as a whole word.
func mentions(command, dir string) bool {
	for i := strings.Index(command, dir); i >= 0; {
		end := i + len(dir)
		if end == len(command) || strings.ContainsRune(" \t;)/'\"", rune(command[end])) {
			return true
		}
		next := strings.Index(command[end:], dir)
		if next < 0 {
			return false
		}
		i = end + next
	}
	return false
}

// daemonPrograms are where a cron daemon's program is installed.
var daemonPrograms = []string{"/usr/sbin/cron", "/usr/sbin/crond", "/sbin/crond", "/usr/bin/crond"}

// cronDaemon looks for a cron daemon that runs in the host's PID and mount
// namespaces, in /proc on the live host and, below another root, in
// ROOT/proc when a procfs is mounted there (see procns). A cron in a
// container runs the container's jobs, not the host's: it is recorded in
// OtherDaemons and does not count.
func cronDaemon(fsys rootFS, cr *snapshot.Cron) {
	cr.Daemon = snapshot.DaemonUnknown
	// The /proc the root's own links lead to (a link out of the root is
	// not followed out of it).
	procRoot, err := fsys.Resolve("/proc")
	if err != nil {
		procRoot = fsys.Real("/proc")
	}
	host, err := procns.For(procRoot, fsys.live())
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrPermission):
			cr.DaemonError = err.Error() + " (reading another process's namespaces needs root with CAP_SYS_PTRACE, and an init that allows it)"
		case !errors.Is(err, procns.ErrNoProcfs):
			cr.DaemonError = err.Error()
		}
		return
	}
	procs, err := fsys.Glob("/proc/[0-9]*/comm")
	if err != nil || len(procs) == 0 {
		return
	}
	var unknown []string
	for _, p := range procs {
		b, err := fsys.ReadFile(p, 4096)
		if err != nil {
			continue
		}
		if name := strings.TrimSpace(string(b)); name != "cron" && name != "crond" {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		same, err := host.Has(pid)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// exited meanwhile
		case err != nil:
			unknown = append(unknown, fmt.Sprintf("pid %d: %v", pid, err))
		case same:
			cr.Daemon, cr.DaemonPID = snapshot.DaemonRunning, pid
			return
		default:
			cr.OtherDaemons = append(cr.OtherDaemons, pid)
		}
	}
	if len(unknown) > 0 {
		cr.DaemonError = "cannot tell whether these cron processes run in the host's namespaces (run as root, with CAP_SYS_PTRACE): " + strings.Join(unknown, "; ")
		return
	}
	cr.Daemon = snapshot.DaemonStopped
}

// lastRuns fills each job's last run from the journal and syslog.
func (c *CronCollector) lastRuns(ctx context.Context, fsys rootFS, cr *snapshot.Cron, now time.Time) {
	journal := c.Journal
	if journal == nil {
		journal = readJournal
	}
	var runs []logRun
	var problems []string
	if jr, err := journal(ctx, fsys); err != nil {
		problems = append(problems, err.Error())
	} else if jr != nil {
		cr.LogSources = append(cr.LogSources, "journal")
		runs = append(runs, jr...)
	}
	for _, p := range syslogFiles {
		f, err := fsys.open(p) // logs may be large: streamed, never read whole
		if err != nil {
			if hostfs.IsNotRegular(err) {
				problems = append(problems, err.Error())
			} else if !errors.Is(err, fs.ErrNotExist) {
				problems = append(problems, fmt.Sprintf("read %s: %v", p, err))
			}
			continue
		}
		if !slices.Contains(cr.LogSources, "syslog") {
			cr.LogSources = append(cr.LogSources, "syslog")
		}
		runs = append(runs, parseSyslog(f, now, zone(fsys))...)
		f.Close()
	}
	cr.LogError = strings.Join(problems, "; ")
	latest := map[string]logRun{}
	for _, r := range runs {
		k := r.user + "\x00" + r.command
		if cur, ok := latest[k]; !ok || r.at.After(cur.at) {
			latest[k] = r
		}
	}
	for i := range cr.Jobs {
		j := &cr.Jobs[i]
		if j.Kind == snapshot.CronRunParts || j.Kind == snapshot.CronAnacron {
			continue
		}
		if r, ok := latest[j.User+"\x00"+j.Command]; ok {
			at := r.at.UTC()
			j.LastRun, j.LastRunSource = &at, r.source
		}
	}
	// A run-parts script last ran when its folder last did.
	for i := range cr.Jobs {
		j := &cr.Jobs[i]
		if j.Kind != snapshot.CronRunParts || j.Trigger == "" {
			continue
		}
		for _, t := range cr.Jobs {
			if t.Where() == j.Trigger && t.LastRun != nil {
				j.LastRun, j.LastRunSource = t.LastRun, t.LastRunSource+" ("+t.Where()+")"
			}
		}
	}
}
