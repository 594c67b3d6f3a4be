package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/hostdrift/hostdrift/internal/finding"
)

// nagiosLabels name the Nagios plugin states 0-3, which the caller decides
// (it is also the exit code) and passes in Options.NagiosState.
var nagiosLabels = []string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}

// renderNagios writes one status line with performance data, then one line
// per check that needs attention, as the plugin guidelines describe.
func renderNagios(w io.Writer, r *Report, o Options) error {
	s := r.Summary
	state := o.NagiosState
	if state < 0 || state >= len(nagiosLabels) {
		return fmt.Errorf("nagios: no plugin state %d", state)
	}
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
