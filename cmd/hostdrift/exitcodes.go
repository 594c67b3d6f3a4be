package main

import (
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/report"
)

// hostdrift's exit codes; the README documents them.
const (
	exitOK         = 0 // no drift
	exitDrift      = 1 // at least one check failed
	exitUsage      = 2 // usage or policy error: nothing was evaluated
	exitIncomplete = 3 // no fail, but some check could not be evaluated
	exitOutput     = 4 // the report or snapshot could not be written
)

// Nagios plugin states. With --format nagios they are the exit code instead
// of hostdrift's own: a Nagios or Icinga check reads the state from the exit
// code, so the state line the report prints and the exit code must agree.
const (
	nagiosOK       = 0
	nagiosWarning  = 1
	nagiosCritical = 2
	nagiosUnknown  = 3
)

// exitCode maps a summary to the documented exit codes. Skipped checks (they
// do not apply to this host) and waived ones never make a run incomplete:
// only a fail (1) or an error, real blindness (3), leave 0.
func exitCode(s finding.Summary) int {
	switch {
	case s.Fail > 0:
		return exitDrift
	case s.Error > 0:
		return exitIncomplete
	default:
		return exitOK
	}
}

// nagiosState maps findings to a plugin state, most urgent first: CRITICAL
// when a critical check fails, WARNING when a warning check fails, UNKNOWN
// when some check could not be evaluated, OK otherwise (a failing info
// check is listed but does not alert; a skipped check, one that does not
// apply to this host, never alerts).
func nagiosState(findings []finding.Finding) int {
	var critical, warning, unknown bool
	for _, f := range findings {
		switch {
		case f.Status == finding.Fail && f.Severity == finding.Critical:
			critical = true
		case f.Status == finding.Fail && f.Severity == finding.Warning:
			warning = true
		case f.Status == finding.Error:
			unknown = true
		}
	}
	switch {
	case critical:
		return nagiosCritical
	case warning:
		return nagiosWarning
	case unknown:
		return nagiosUnknown
	default:
		return nagiosOK
	}
}

// checkExit is check's exit code for a report that was evaluated, given
// whether writing it failed.
func checkExit(format string, rep *report.Report, writeErr error) int {
	nagios := format == "nagios"
	switch {
	case writeErr != nil && nagios:
		return nagiosUnknown
	case writeErr != nil:
		return exitOutput
	case nagios:
		return nagiosState(rep.Findings)
	default:
		return exitCode(rep.Summary)
	}
}
