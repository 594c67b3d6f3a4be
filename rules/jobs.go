package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// requirements reads the require attribute: which of allowed the check
// asserts. Omitted, it is def, plus "ran" when max_age is set.
func requirements(d *Decoder, def []string, allowed ...string) []string {
	req := d.Strings("require")
	if !d.Has("require") {
		req = append([]string(nil), def...)
		if d.Has("max_age") {
			req = append(req, "ran")
		}
		return req
	}
	for _, r := range req {
		if !slices.Contains(allowed, r) {
			d.Errorf("require", "Invalid value for require", "%q is not something a %s check can require; allowed: %s.", r, d.Kind, quoteList(allowed))
		}
	}
	if slices.Contains(req, "ran") && !d.Has("max_age") {
		d.Errorf("require", "Missing max_age", "require = [\"ran\"] needs max_age: how long the job may go without running (\"25h\", \"8d\").")
	}
	return req
}

// stamp renders a time as an operator reads it in a report.
func stamp(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// every renders a period: "every 10m", "every 24h".
func every(seconds int64) string {
	if seconds <= 0 {
		return ""
	}
	return "due every " + formatAge(time.Duration(seconds)*time.Second)
}

// programProblems lists what is wrong with the programs a job runs:
// missing or not executable, guarded and unresolved ones left out.
func programProblems(ps []snapshot.Program) []string {
	var out []string
	for _, p := range ps {
		if p.Guarded || p.Unresolved || (p.Exists && p.Executable) {
			continue
		}
		what := "program"
		if p.Script {
			what = "script"
		}
		problem := p.Problem
		if problem == "" {
			problem = p.Word + " cannot be run"
		}
		out = append(out, fmt.Sprintf("its %s %s: %s", what, p.Word, problem))
	}
	return out
}

// joinProblems joins per-job problems, at most ten of them.
func joinProblems(ps []string) string {
	if len(ps) > 10 {
		return strings.Join(ps[:10], "; ") + fmt.Sprintf("; and %d more", len(ps)-10)
	}
	return strings.Join(ps, "; ")
}

// ranWithin judges the last run of a job or timer: "" when it ran within
// maxAge, else why not.
func ranWithin(last *time.Time, source string, period int64, maxAge time.Duration, now time.Time) string {
	due := every(period)
	if due != "" {
		due = "; " + due
	}
	if last == nil {
		return fmt.Sprintf("no run found%s (max_age %s)", due, formatAge(maxAge))
	}
	age := now.Sub(*last)
	if age <= maxAge {
		return ""
	}
	return fmt.Sprintf("last run %s per %s%s; %s without a run (max_age %s)", stamp(*last), source, due, formatAge(age), formatAge(maxAge))
}

// judged settles a jobs check that found problems: a fail when any
// requirement failed, else an error when any could not be told. It returns
// false when the check passes and the caller explains why.
func judged(r *Result, fails, unknown, fixes []string) bool {
	switch {
	case len(fails) > 0:
		r.Status, r.Explanation, r.Remediation = finding.Fail, joinProblems(fails), strings.Join(fixes, "; ")
	case len(unknown) > 0:
		*r = Result{Status: finding.Error, Expected: r.Expected, Observed: r.Observed, Explanation: joinProblems(unknown)}
	default:
		return false
	}
	return true
}
