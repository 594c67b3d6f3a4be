package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/hostdrift/hostdrift/internal/finding"
)

// Nagios plugin states. They are the plugin protocol's own exit codes,
// distinct from hostdrift's: a Nagios or Icinga check reads the state from
// the exit code, so the state line and the exit code must agree.
const (
	NagiosOK       = 0
	NagiosWarning  = 1
	NagiosCritical = 2
	NagiosUnknown  = 3
)

var nagiosLabels = []string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}

// NagiosState maps a report to a plugin state, most urgent first: CRITICAL
// when a critical check fails, WARNING when a warning check fails, UNKNOWN
// when some check could not be evaluated, OK otherwise (a failing info
// check is listed but does not alert; a skipped check, one that does not
// apply to this host, never alerts).
func NagiosState(r *Report) int {
	var critical, warning, unknown bool
	for _, f := range r.Findings {
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
		return NagiosCritical
	case warning:
		return NagiosWarning
	case unknown:
		return NagiosUnknown
	default:
		return NagiosOK
	}
}

// renderNagios writes one status line with performance data, then one line
// per check that needs attention, as the plugin guidelines describe.
func renderNagios(w io.Writer, r *Report, _ Options) error {
	s := r.Summary
	state := NagiosState(r)
	var b strings.Builder
	fmt.Fprintf(&b, "HOSTDRIFT %s - %d fail, %d error, %d waived, %d skip, %d pass on %s", nagiosLabels[state], s.Fail, s.Error, s.Waived, s.Skip, s.Pass, hostName(r))
	fmt.Fprintf(&b, " | checks=%d;;;0 fail=%d;;;0 error=%d;;;0 waived=%d;;;0 skip=%d;;;0 pass=%d;;;0 duration=%.3fs;;;0\n",
		s.Total, s.Fail, s.Error, s.Waived, s.Skip, s.Pass, r.DurationMS/1000)
	for _, f := range r.Findings {
		if f.Status == finding.Fail || f.Status == finding.Error {
			fmt.Fprintf(&b, "%s %s (%s): %s\n", strings.ToUpper(string(f.Status)), f.Check, f.Severity, strings.ReplaceAll(f.Explanation, "|", "/"))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
