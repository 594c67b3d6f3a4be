package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "cron",
		Summary: "cron jobs (all, or those matching command, regex, user or file) can run, are heard, and ran within max_age",
		Attributes: []hcl.AttributeSchema{
			{Name: "command"},
			{Name: "regex"},
			{Name: "user"},
			{Name: "file"},
			{Name: "max_age"},
			{Name: "require"},
		},
		AttributeDocs: map[string]string{
			"command": "select the jobs whose command contains this text (default: every job)",
			"regex":   "select the jobs whose command matches this regular expression, instead of command",
			"user":    "select the jobs that run as this user",
			"file":    "select the jobs of this table or run-parts script (\"/etc/cron.d/backup\")",
			"max_age": "the job must have run within this (\"25h\"), by log evidence; adds \"ran\" to require",
			"require": "what must hold, from program (each program exists and is executable), output (output sent to mail can be delivered), daemon (a cron daemon runs) and ran; default [\"program\", \"output\", \"daemon\"]",
		},
		Needs:  []string{snapshot.CollectorCron},
		Decode: decodeCron,
	})
}

// What a cron check can require of each job.
var cronRequirements = []string{"program", "output", "daemon", "ran"}

// cronCheck: every selected job's programs exist and are executable
// (program), its output can reach someone (output), a cron daemon runs to
// start it (daemon), and it ran within maxAge (ran). With a selector, at
// least one job must match.
type cronCheck struct {
	command, user, file string
	regex               *regexp.Regexp
	maxAge              time.Duration
	require             []string
}

func decodeCron(d *Decoder) Check {
	c := &cronCheck{
		command: d.String("command", ""),
		user:    d.String("user", ""),
		file:    d.String("file", ""),
		maxAge:  d.Duration("max_age", 0),
	}
	if re := d.String("regex", ""); re != "" {
		rx, err := regexp.Compile(re)
		if err != nil {
			d.Errorf("regex", "Invalid regex", "%s", err)
		}
		c.regex = rx
	}
	if d.Has("command") && d.Has("regex") {
		d.Errorf("regex", "Conflicting selectors", "give command (a substring) or regex, not both.")
	}
	c.require = requirements(d, []string{"program", "output", "daemon"}, cronRequirements...)
	return c
}

func (c *cronCheck) selector() string {
	var parts []string
	switch {
	case c.command != "":
		parts = append(parts, fmt.Sprintf("command containing %q", c.command))
	case c.regex != nil:
		parts = append(parts, fmt.Sprintf("command matching /%s/", c.regex))
	}
	if c.user != "" {
		parts = append(parts, "user "+c.user)
	}
	if c.file != "" {
		parts = append(parts, "in "+c.file)
	}
	if len(parts) == 0 {
		return "every cron job"
	}
	return "the cron job with " + strings.Join(parts, ", ")
}

func (c *cronCheck) selects(j snapshot.CronJob) bool {
	return (c.command == "" || strings.Contains(j.Command, c.command)) &&
		(c.regex == nil || c.regex.MatchString(j.Command)) &&
		(c.user == "" || j.User == c.user) &&
		(c.file == "" || j.File == c.file)
}

func (c *cronCheck) Evaluate(s *snapshot.Snapshot) Result {
	if s.Jobs == nil || s.Jobs.Cron == nil {
		return Errorf("the snapshot holds no cron section")
	}
	cr := s.Jobs.Cron
	r := Result{Expected: c.selector() + ": " + c.expectation()}
	var jobs []snapshot.CronJob
	for _, j := range cr.Jobs {
		if c.selects(j) {
			jobs = append(jobs, j)
		}
	}
	selective := c.command != "" || c.regex != nil || c.user != "" || c.file != ""
	if len(jobs) == 0 {
		if selective {
			r.Status, r.Observed = finding.Fail, "no such job"
			r.Explanation = fmt.Sprintf("no cron job matches (%d jobs read from the crontabs, /etc/cron.d, the user spool, anacrontab and the run-parts folders)", len(cr.Jobs))
			r.Remediation = "install the job, or fix the check's selector"
			return r
		}
		r.Status, r.Observed, r.Explanation = finding.Pass, "no cron jobs", "no cron jobs on this host"
		return r
	}
	sc := c.scope(cr, jobs)
	if sc.done != nil {
		sc.done.Expected = r.Expected
		return *sc.done
	}
	jobs = sc.jobs
	r.Observed = fmt.Sprintf("%d job(s)", len(jobs))
	// Below --root nothing runs: whether a daemon runs is no fact of an
	// image (whether cron is installed is), and never a pass.
	image := s.Root != "" && s.Root != "/" && cr.Daemon == snapshot.DaemonUnknown && cr.DaemonError == "" &&
		slices.Contains(c.require, "daemon") && !sc.notInstalled
	imageSkip := func() Result {
		return Skipf("does not apply below --root (%s): whether a cron daemon runs is a fact of a running system, and the root read is not one (its /proc is not there)", s.Root)
	}
	if image && len(c.require) == 1 {
		return imageSkip()
	}
	var fails, unknown, fixes, lost []string
	if slices.Contains(c.require, "daemon") {
		switch {
		case sc.notInstalled:
			where := make([]string, len(jobs))
			for i, j := range jobs {
				where[i] = j.Where()
			}
			fails = append(fails, fmt.Sprintf("cron is not installed (no cron or crond program%s), so the %d job(s) someone added never run: %s", otherDaemons(cr), len(jobs), joinProblems(where)))
			fixes = append(fixes, "install cron (apt install cron), or move the jobs to systemd timers")
		case cr.Daemon == snapshot.DaemonStopped:
			fails = append(fails, fmt.Sprintf("no cron daemon runs (no cron or crond process in the host's namespaces%s), so none of the %d job(s) runs, first %s", otherDaemons(cr), len(jobs), jobs[0].Where()))
			unit := "cron"
			if cr.Flavour == snapshot.CronCronie {
				unit = "crond"
			}
			fixes = append(fixes, "install and start cron (systemctl enable --now "+unit+"), or move the jobs to systemd timers")
		case cr.Daemon == snapshot.DaemonUnknown && !image:
			why := " when reading another root without its /proc"
			if cr.DaemonError != "" {
				why = ": " + cr.DaemonError
			}
			unknown = append(unknown, "whether a cron daemon runs cannot be told"+why)
		}
	}
	for _, j := range jobs {
		where := j.Where()
		if slices.Contains(c.require, "program") {
			if j.Error != "" {
				fails = append(fails, where+": "+j.Error)
			}
			if ps := programProblems(j.Programs); len(ps) > 0 {
				fails = append(fails, fmt.Sprintf("%s (%s): %s", where, j.Command, strings.Join(ps, "; ")))
				fixes = appendOnce(fixes, "fix the path in the job or install what it runs: a job whose program is missing fails at every run, and nobody hears of it")
			}
		}
		if slices.Contains(c.require, "output") && len(j.Output.ToCron) > 0 && j.Output.MailTo != "" && !j.Output.Syslog && cr.MTA == "" {
			lost = append(lost, fmt.Sprintf("%s (%s to %s)", where, strings.Join(j.Output.ToCron, "+"), j.Output.MailTo))
		}
		if slices.Contains(c.require, "ran") {
			switch {
			case j.Reboot:
				unknown = append(unknown, where+" runs @reboot: it has no period to judge max_age by")
			case len(cr.LogSources) == 0 && j.LastRun == nil:
				why := "no journal or syslog to read"
				if cr.LogError != "" {
					why = cr.LogError
				}
				unknown = append(unknown, fmt.Sprintf("%s: whether it ran cannot be told: %s", where, why))
			default:
				if why := ranWithin(j.LastRun, j.LastRunSource, j.PeriodSeconds, c.maxAge, s.TakenAt); why != "" {
					if j.LastRun == nil {
						why = fmt.Sprintf("no run in %s%s", strings.Join(cr.LogSources, " or "), strings.TrimPrefix(why, "no run found"))
					}
					fails = append(fails, fmt.Sprintf("%s (%s): %s", where, j.Command, why))
					fixes = appendOnce(fixes, "find out why the job stopped (is cron running, does its program still work? run it by hand as its user); log its output and exit code so the next failure is seen")
				}
			}
		}
	}
	if len(lost) > 0 {
		fails = append(fails, fmt.Sprintf("no mail transfer agent is installed (no /usr/sbin/sendmail), so cron throws away the output, error messages included, of %d job(s) that send it to mail: %s", len(lost), joinProblems(lost)))
		fixes = appendOnce(fixes, "redirect each job's output to a log file (>> /var/log/JOB.log 2>&1) and watch it, or install an MTA that delivers to someone who reads it")
	}
	if judged(&r, fails, unknown, fixes) {
		r.Explanation += sc.leftOut
		return r
	}
	if image {
		sk := imageSkip()
		sk.Explanation += fmt.Sprintf("; the rest (%s) holds for %d job(s)", strings.Join(slices.DeleteFunc(slices.Clone(c.require), func(s string) bool { return s == "daemon" }), ", "), len(jobs))
		return sk
	}
	r.Status = finding.Pass
	r.Explanation = fmt.Sprintf("%d job(s) meet %s", len(jobs), strings.Join(c.require, ", "))
	if slices.Contains(c.require, "daemon") && cr.Daemon == snapshot.DaemonRunning {
		r.Explanation = fmt.Sprintf("a cron daemon runs (pid %d) for %d job(s)", cr.DaemonPID, len(jobs))
	}
	if len(jobs) == 1 && len(c.require) > 0 && c.require[0] != "daemon" {
		r.Explanation = jobs[0].Where() + ": " + c.passNote(jobs[0], s.TakenAt)
	}
	r.Explanation += sc.leftOut
	return r
}

func (c *cronCheck) expectation() string {
	var parts []string
	for _, req := range c.require {
		switch req {
		case "program":
			parts = append(parts, "its programs exist and are executable")
		case "output":
			parts = append(parts, "its output can reach someone")
		case "daemon":
			parts = append(parts, "a cron daemon runs")
		case "ran":
			parts = append(parts, "ran within "+formatAge(c.maxAge))
		}
	}
	return strings.Join(parts, "; ")
}

func (c *cronCheck) passNote(j snapshot.CronJob, now time.Time) string {
	if j.LastRun != nil {
		return fmt.Sprintf("last run %s per %s, %s ago", stamp(*j.LastRun), j.LastRunSource, formatAge(now.Sub(*j.LastRun)))
	}
	return "meets " + strings.Join(c.require, ", ")
}

func appendOnce(ss []string, s string) []string {
	if slices.Contains(ss, s) {
		return ss
	}
	return append(ss, s)
}

// otherDaemons names the cron daemons that run in other namespaces than
// the audited host's, which do not run its jobs.
func otherDaemons(cr *snapshot.Cron) string {
	if len(cr.OtherDaemons) == 0 {
		return ""
	}
	pids := make([]string, len(cr.OtherDaemons))
	for i, p := range cr.OtherDaemons {
		pids[i] = fmt.Sprint(p)
	}
	return "; cron pid " + strings.Join(pids, ", ") + " runs in another PID or mount namespace (a container's, or the machine's outside hostdrift's container), and does not run these jobs"
}
