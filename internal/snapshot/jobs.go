package snapshot

import (
	"strconv"
	"strings"
	"time"
)

// Jobs is what the host runs on a schedule: cron jobs and systemd timers,
// each read by its own collector.
type Jobs struct {
	Cron   *Cron   `json:"cron,omitempty"`
	Timers *Timers `json:"timers,omitempty"`
}

// Daemon states of Cron.Daemon.
const (
	DaemonRunning = "running"
	DaemonStopped = "stopped"
	// DaemonUnknown: another root without a procfs is read (--root), or
	// /proc could not be.
	DaemonUnknown = "unknown"
)

// Cron is what the cron collector saw: every job of every table cron and
// anacron read, and what decides whether they run and are heard.
type Cron struct {
	// Daemon says whether a cron daemon (cron, crond) runs in the host's
	// PID and mount namespaces.
	Daemon    string `json:"daemon"`
	DaemonPID int    `json:"daemon_pid,omitempty"`
	// DaemonError says why Daemon is unknown, when it is not simply that
	// another root without a procfs was read.
	DaemonError string `json:"daemon_error,omitempty"`
	// OtherDaemons are the PIDs of cron daemons that run in other PID or
	// mount namespaces (containers): they run other hosts' jobs, not these.
	OtherDaemons []int `json:"other_daemons,omitempty"`
	// DaemonProgram is the cron daemon's program (/usr/sbin/cron), empty
	// when no cron daemon is installed.
	DaemonProgram string `json:"daemon_program,omitempty"`
	// Flavour is the cron daemon installed, whose layout was read:
	// CronCronie or CronDebian; empty when neither or both are installed,
	// and both layouts were read.
	Flavour string `json:"flavour,omitempty"`
	// FlavourReason says which installed unit files or programs decided
	// Flavour.
	FlavourReason string `json:"flavour_reason,omitempty"`
	// Anacron says what starts anacron ("/etc/cron.hourly/0anacron, run
	// by run-parts"), empty when nothing does or anacron is not installed.
	Anacron string `json:"anacron,omitempty"`
	// SyslogOutput, when set, says why cron writes its jobs' output to
	// syslog instead of mailing it (cronie finds no sendmail); those
	// jobs' Output.Syslog is set.
	SyslogOutput string `json:"syslog_output,omitempty"`
	// MTA is the mail transfer agent cron hands output to
	// (/usr/sbin/sendmail), empty when none is installed.
	MTA string `json:"mta"`
	// Systemd says how the collector knows that systemd is the init
	// system ("/run/systemd/system exists"; for an offline image, "/sbin/init
	// is /lib/systemd/systemd ..."); empty when it is not, or cannot be
	// told. Jobs that test for systemd first are then Inert.
	Systemd string `json:"systemd,omitempty"`
	// PackageDB is the package database job files' owners were read from
	// ("dpkg" or "rpm"); empty when the host has none, and ownership is
	// unknown.
	PackageDB string `json:"package_db,omitempty"`
	// PackageDBError says what of the package database could not be read.
	PackageDBError string `json:"package_db_error,omitempty"`
	// LogSources are where last runs were looked up: "journal", "syslog".
	LogSources []string `json:"log_sources"`
	// LogError says why a log could not be read.
	LogError string    `json:"log_error,omitempty"`
	Jobs     []CronJob `json:"jobs"`
	// Ignored are files in cron's folders that cron or run-parts skips.
	Ignored []IgnoredFile `json:"ignored"`
	// Errors are tables and lines cron rejects or that could not be read.
	Errors []FileError `json:"errors"`
}

// Kinds of CronJob.
const (
	CronSystem   = "system"    // /etc/crontab and /etc/cron.d: a user field
	CronUser     = "user"      // a user's crontab in the spool
	CronRunParts = "run-parts" // a script of /etc/cron.{hourly,daily,weekly,monthly}
	CronAnacron  = "anacron"   // a line of /etc/anacrontab
)

// Flavours of Cron.Flavour.
const (
	// CronDebian is vixie cron as Debian patches it (cron.service,
	// /usr/sbin/cron): user crontabs in /var/spool/cron/crontabs.
	CronDebian = "debian-cron"
	// CronCronie is cronie (crond.service, /usr/sbin/crond), as RHEL,
	// Fedora and SUSE run it: user crontabs in /var/spool/cron.
	CronCronie = "cronie"
)

// CronJob is one job: a table line, or a script run-parts runs.
type CronJob struct {
	File string `json:"file"`
	// Line is the job's line in File; 0 for a run-parts script.
	Line int    `json:"line"`
	Kind string `json:"kind"`
	// Schedule is as written ("*/10 * * * *", "@daily"); for a run-parts
	// script, the schedule of the line that runs its folder.
	Schedule string `json:"schedule"`
	// Reboot marks @reboot jobs, which run when cron starts.
	Reboot bool   `json:"reboot,omitempty"`
	User   string `json:"user"`
	// Command is as cron logs it; for a run-parts script, its path.
	Command string `json:"command"`
	// Trigger is where a run-parts script's folder is run from
	// ("/etc/crontab:17"); empty when nothing runs the folder.
	Trigger string `json:"trigger,omitempty"`
	// Env holds the table's MAILTO, PATH, SHELL and CRON_TZ, when set.
	Env      map[string]string `json:"env,omitempty"`
	Programs []Program         `json:"programs"`
	Output   JobOutput         `json:"output"`
	// PeriodSeconds is the longest gap between two due times: how long
	// the job may go without running.
	PeriodSeconds int64      `json:"period_seconds,omitempty"`
	PrevDue       *time.Time `json:"prev_due,omitempty"`
	NextDue       *time.Time `json:"next_due,omitempty"`
	// LastRun is the latest start found in LastRunSource ("journal",
	// "syslog", "anacron stamp"); nil when none was found.
	LastRun       *time.Time `json:"last_run,omitempty"`
	LastRunSource string     `json:"last_run_source,omitempty"`
	// Error says why the job cannot be judged (an unknown user, say).
	Error string `json:"error,omitempty"`
	// Package is the package that installed the job's file (its table, or
	// its run-parts script), per PackageDB; empty for a file someone added.
	Package string `json:"package,omitempty"`
	// Anacron is the job's anacrontab timing, for a CronAnacron job.
	Anacron *AnacronTiming `json:"anacron,omitempty"`
	// Inert says why the job does nothing on this host, when it does
	// nothing: a package's job that exits at once under systemd, whose
	// timer does the work; a run-parts line whose folder holds nothing
	// that runs. Empty for a job that runs.
	Inert string `json:"inert,omitempty"`
}

// AnacronTiming is when anacron starts a job of /etc/anacrontab, besides
// its period (CronJob.PeriodSeconds).
type AnacronTiming struct {
	// ID is the job identifier, which names its stamp in /var/spool/anacron.
	ID string `json:"id"`
	// DelayMinutes is how long anacron waits before starting the job.
	DelayMinutes int `json:"delay_minutes"`
	// RandomDelay is the table's RANDOM_DELAY: at most that many minutes
	// more, as written.
	RandomDelay string `json:"random_delay,omitempty"`
	// StartHoursRange is the table's START_HOURS_RANGE ("3-22"), the
	// hours in which anacron starts jobs, as written.
	StartHoursRange string `json:"start_hours_range,omitempty"`
}

// Reasons of CronJob.Inert.
const (
	// InertUnderSystemd: a table line or run-parts script that tests
	// /run/systemd/system first and exits, as packages' jobs do.
	InertUnderSystemd = "systemd runs, and the job tests /run/systemd/system first and leaves the work to a systemd timer"
	// InertNothingToRun: a table line that only runs run-parts on folders
	// holding no script, or only inert ones.
	InertNothingToRun = "the job only runs run-parts on folders that hold nothing that runs here"
)

// Where reports the job's file and line as "FILE:LINE" (or FILE).
func (j CronJob) Where() string {
	if j.Line == 0 {
		return j.File
	}
	return j.File + ":" + strconv.Itoa(j.Line)
}

// Program is a program or script a job runs, and what was found at its path.
type Program struct {
	// Word is as written in the command or ExecStart=.
	Word string `json:"word"`
	// Path is where Word resolves below the root (through PATH, the
	// folder of a preceding cd, or the home folder); empty when it does not.
	Path string `json:"path,omitempty"`
	// Script marks a file an interpreter reads: it must be readable, and
	// need not be executable.
	Script bool `json:"script,omitempty"`
	// Guarded marks a program the command tests for before running it.
	Guarded bool `json:"guarded,omitempty"`
	// Unresolved marks a word with a variable that reading cannot know.
	Unresolved bool `json:"unresolved,omitempty"`
	Exists     bool `json:"exists"`
	// Executable is set when the file is a regular file with an execute
	// bit (for a script: readable).
	Executable bool `json:"executable"`
	// Problem says what is wrong, when something is: "not found in PATH
	// /usr/bin:/bin", "not executable (mode 0644)".
	Problem string `json:"problem,omitempty"`
}

// JobOutput is where a job's output goes.
type JobOutput struct {
	// ToCron lists the streams ("stdout", "stderr") that are not
	// redirected: cron mails them to MailTo, or drops them.
	ToCron []string `json:"to_cron"`
	// Files are the files the command redirects output to.
	Files []string `json:"files,omitempty"`
	// MailTo is whom cron mails output to: MAILTO, else the job's user.
	// Empty when MAILTO="" turns mail off (output is dropped).
	MailTo string `json:"mail_to"`
	// Syslog marks output cron writes to syslog instead of mailing it
	// (see Cron.SyslogOutput): it is not lost for want of an MTA.
	Syslog bool `json:"syslog,omitempty"`
}

// IgnoredFile is a file in a cron folder that is never run or read.
type IgnoredFile struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// FileError is a file or line that could not be read or is rejected.
type FileError struct {
	Path  string `json:"path"`
	Line  int    `json:"line,omitempty"`
	Error string `json:"error"`
}

// Sources of Timers.
const (
	TimersDBus  = "dbus"  // the running systemd, over D-Bus
	TimersFiles = "files" // unit files and stamps, without systemd
)

// Why timers were read from files (Timers.Offline): what the unit files
// cannot tell, since only the running systemd knows last results and
// triggers.
const (
	// TimersNoSystemd: systemd is not the init system here (a container,
	// WSL, a chroot): no timer fires.
	TimersNoSystemd = "no-systemd"
	// TimersOtherRoot: another root was read (--root): its timers run
	// only when it boots.
	TimersOtherRoot = "other-root"
	// TimersNoAnswer: systemd runs but did not answer over D-Bus.
	TimersNoAnswer = "no-answer"
)

// Timers is what the timers collector saw: every systemd timer unit.
type Timers struct {
	Source string `json:"source"`
	// Offline says why Source is files (TimersNoSystemd, TimersOtherRoot,
	// TimersNoAnswer); empty when it is dbus, or in snapshots older than
	// this field.
	Offline string `json:"offline,omitempty"`
	// BootedAt is when systemd started (dbus only): monotonic triggers
	// count from it.
	BootedAt *time.Time  `json:"booted_at,omitempty"`
	Timers   []Timer     `json:"timers"`
	Errors   []FileError `json:"errors"`
}

// Timer is one systemd timer unit and the service it triggers.
type Timer struct {
	Unit string `json:"unit"`
	// File is the unit file; DropIns are its drop-in files, in order.
	File    string   `json:"file"`
	DropIns []string `json:"drop_ins,omitempty"`
	// Enabled is the unit file state: enabled, disabled, static, masked...
	Enabled string `json:"enabled"`
	// Active is the timer's ActiveState (dbus only): active, inactive, failed.
	Active string `json:"active,omitempty"`
	// Calendar are the OnCalendar= expressions; Monotonic the other
	// triggers as written ("OnBootSec=15min").
	Calendar   []string `json:"calendar,omitempty"`
	Monotonic  []string `json:"monotonic,omitempty"`
	Persistent bool     `json:"persistent,omitempty"`
	// PeriodSeconds is the longest gap between two elapses, when it can
	// be told (calendar triggers, OnUnitActiveSec=).
	PeriodSeconds int64 `json:"period_seconds,omitempty"`
	// LastTrigger is when the timer last fired (dbus: LastTriggerUSec;
	// offline: the stamp of a Persistent timer). Nil: never, or unknown
	// offline (LastTriggerKnown false).
	LastTrigger      *time.Time `json:"last_trigger,omitempty"`
	LastTriggerKnown bool       `json:"last_trigger_known"`
	// NextElapse is when it fires next (dbus: NextElapseUSecRealtime;
	// offline: computed from OnCalendar=).
	NextElapse *time.Time `json:"next_elapse,omitempty"`
	// DueSince is the first time the timer was due since it was armed
	// (since it became active, or boot): a timer that never fired although
	// this has passed is stuck. Nil when not due yet or unknown.
	DueSince *time.Time `json:"due_since,omitempty"`
	// Service is the unit the timer triggers.
	Service string `json:"service"`
	// ServiceFile is that unit's file, empty when it does not exist.
	ServiceFile string `json:"service_file,omitempty"`
	// ServiceError says why the service's unit file could not be loaded
	// although it is there (it is a FIFO, a device, a folder).
	ServiceError string `json:"service_error,omitempty"`
	// Result is the service's last Result (dbus only): success,
	// exit-code, signal, timeout, core-dump...
	Result string `json:"result,omitempty"`
	// ExitStatus is ExecMainStatus: the exit code, or the signal number.
	ExitStatus int `json:"exit_status"`
	// ExitedAt is ExecMainExitTimestamp: when the main process last ended.
	ExitedAt *time.Time `json:"exited_at,omitempty"`
	// Programs are the programs of the service's ExecStart= lines.
	Programs []Program `json:"programs"`
	// Error says what could not be read about this timer.
	Error string `json:"error,omitempty"`
}

// Attach puts the cron jobs into the snapshot.
func (c *Cron) Attach(s *Snapshot) {
	if s.Jobs == nil {
		s.Jobs = &Jobs{}
	}
	s.Jobs.Cron = c
}

// Attach puts the timers into the snapshot.
func (t *Timers) Attach(s *Snapshot) {
	if s.Jobs == nil {
		s.Jobs = &Jobs{}
	}
	s.Jobs.Timers = t
}

// Objects lists every cron job (by file and command) and every timer (by
// unit). Last runs, due times, pids and results are left out: they change
// with every run without anything having changed.
func (j *Jobs) Objects() []Object {
	var out []Object
	if j.Cron != nil {
		out = append(out, j.Cron.Objects()...)
	}
	if j.Timers != nil {
		out = append(out, j.Timers.Objects()...)
	}
	return out
}

// Objects lists the cron jobs by file and command.
func (c *Cron) Objects() []Object {
	out := make([]Object, 0, len(c.Jobs))
	seen := map[string]int{}
	for _, job := range c.Jobs {
		out = append(out, Object{Area: AreaCron, Kind: "cron", ID: uniqueID(seen, job.File+": "+job.Command), Fields: map[string]string{
			"file":     job.File,
			"schedule": job.Schedule,
			"user":     job.User,
			"programs": programsField(job.Programs),
			"output":   outputField(job.Output),
			"trigger":  job.Trigger,
		}})
	}
	return out
}

// Objects lists the timers by unit.
func (t *Timers) Objects() []Object {
	out := make([]Object, 0, len(t.Timers))
	for _, tm := range t.Timers {
		out = append(out, Object{Area: AreaTimers, Kind: "timer", ID: tm.Unit, Fields: map[string]string{
			"file":       tm.File,
			"enabled":    tm.Enabled,
			"calendar":   strings.Join(tm.Calendar, "; "),
			"monotonic":  strings.Join(tm.Monotonic, "; "),
			"persistent": strconv.FormatBool(tm.Persistent),
			"service":    tm.Service,
			"programs":   programsField(tm.Programs),
		}})
	}
	return out
}

func programsField(ps []Program) string {
	var parts []string
	for _, p := range ps {
		s := p.Word
		switch {
		case p.Unresolved:
			s += " (unresolved)"
		case !p.Exists:
			s += " (missing)"
		case !p.Executable:
			s += " (not executable)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func outputField(o JobOutput) string {
	var parts []string
	if len(o.ToCron) > 0 {
		to := "mail to " + o.MailTo
		switch {
		case o.Syslog:
			to = "syslog"
		case o.MailTo == "":
			to = "dropped (MAILTO=\"\")"
		}
		parts = append(parts, strings.Join(o.ToCron, "+")+": "+to)
	}
	if len(o.Files) > 0 {
		parts = append(parts, "files "+strings.Join(o.Files, ", "))
	}
	return strings.Join(parts, "; ")
}
