package rules

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// cronScope is what a cron check judges once the jobs that do nothing on
// this host are left out.
type cronScope struct {
	jobs []snapshot.CronJob
	// leftOut says which jobs were left out and why ("" when none).
	leftOut string
	// notInstalled: no cron daemon is installed, and the jobs left are
	// the ones someone added (package ownership is known).
	notInstalled bool
	// done is the result when nothing is left to judge.
	done *Result
}

// cronInstalled reports whether a cron daemon can run the jobs: it runs,
// or its program is installed. Only snapshots that read package ownership
// record the program, so older ones count as installed.
func cronInstalled(cr *snapshot.Cron) bool {
	return cr.Daemon == snapshot.DaemonRunning || cr.DaemonProgram != "" || cr.PackageDB == ""
}

// scope leaves out the selected jobs that do nothing here: every job when
// cron is not installed and packages installed them all (a skip: cron's
// absence is no drift when nobody added a job), the packages' jobs when
// cron is not installed, and jobs the collector found inert (a package's
// job that exits at once under systemd, whose timer does the work).
func (c *cronCheck) scope(cr *snapshot.Cron, jobs []snapshot.CronJob) cronScope {
	var sc cronScope
	var left []string
	if !cronInstalled(cr) {
		sc.notInstalled = true
		var pkgs []string
		n := 0
		for _, j := range jobs {
			if j.Package == "" {
				sc.jobs = append(sc.jobs, j)
				continue
			}
			n++
			if !slices.Contains(pkgs, j.Package) {
				pkgs = append(pkgs, j.Package)
			}
		}
		sort.Strings(pkgs)
		if len(sc.jobs) == 0 {
			r := Skipf("cron is not installed; %d job(s) in /etc/cron.* were installed by packages (%s) and do nothing here", n, strings.Join(pkgs, ", "))
			r.Observed = "cron not installed"
			sc.done = &r
			return sc
		}
		if n > 0 {
			left = append(left, fmt.Sprintf("as they do nothing without cron, %d job(s) installed by packages (%s)", n, strings.Join(pkgs, ", ")))
		}
		jobs, sc.jobs = sc.jobs, nil
	}
	byReason := map[string][]string{}
	var reasons, inert []string
	for _, j := range jobs {
		if j.Inert == "" {
			sc.jobs = append(sc.jobs, j)
			continue
		}
		if byReason[j.Inert] == nil {
			reasons = append(reasons, j.Inert)
		}
		byReason[j.Inert] = append(byReason[j.Inert], j.Where())
	}
	for _, why := range reasons {
		where := byReason[why]
		inert = append(inert, fmt.Sprintf("%d job(s) because %s: %s", len(where), why, firstFew(where)))
	}
	if len(inert) > 0 {
		left = append(left, "as they do nothing here, "+strings.Join(inert, "; "))
	}
	if len(left) > 0 {
		sc.leftOut = " (left out: " + strings.Join(left, "; ") + ")"
	}
	if len(sc.jobs) == 0 {
		r := Result{Status: finding.Pass, Observed: "no job that runs here",
			Explanation: fmt.Sprintf("no cron job here does anything%s", sc.leftOut)}
		if slices.Contains(c.require, "ran") {
			r.Status = finding.Fail
			r.Explanation = fmt.Sprintf("the job(s) cannot have run: they do nothing here%s", sc.leftOut)
			r.Remediation = "check the job the check selects: it leaves its work to a systemd timer, which a timer check can watch"
		}
		sc.done = &r
	}
	return sc
}

// firstFew lists at most five items, and says how many more there are.
func firstFew(ss []string) string {
	if len(ss) > 5 {
		return strings.Join(ss[:5], ", ") + fmt.Sprintf(" and %d more", len(ss)-5)
	}
	return strings.Join(ss, ", ")
}
