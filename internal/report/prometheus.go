package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

var (
	allStatuses          = []finding.Status{finding.Pass, finding.Fail, finding.Error, finding.Waived, finding.Skip}
	allCollectorStatuses = []snapshot.Status{snapshot.StatusOK, snapshot.StatusPartial, snapshot.StatusError, snapshot.StatusSkipped}
)

// renderPrometheus writes the text exposition format for node_exporter's
// textfile collector. Every status is written, zeros included, so alerts
// can compare values instead of testing for absent series; and
// hostdrift_last_run_timestamp_seconds lets an alert fire when the auditor
// itself stops running.
func renderPrometheus(w io.Writer, r *Report, _ Options) error {
	b := &strings.Builder{}
	metric := func(name, typ, help string) {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	metric("hostdrift_last_run_timestamp_seconds", "gauge", "When the last hostdrift check started, in seconds since the epoch.")
	fmt.Fprintf(b, "hostdrift_last_run_timestamp_seconds %d\n", r.StartedAt.Unix())
	metric("hostdrift_run_duration_seconds", "gauge", "How long the last hostdrift check took.")
	fmt.Fprintf(b, "hostdrift_run_duration_seconds %g\n", r.DurationMS/1000)
	metric("hostdrift_build_info", "gauge", "The hostdrift version that ran, as a label.")
	fmt.Fprintf(b, "hostdrift_build_info{version=%s} 1\n", quoteLabel(r.Version))

	metric("hostdrift_findings", "gauge", "Findings of the last check by status and severity.")
	counts := map[[2]string]int{}
	for _, f := range r.Findings {
		counts[[2]string{string(f.Status), string(f.Severity)}]++
	}
	for _, st := range allStatuses {
		for _, sev := range finding.Severities {
			fmt.Fprintf(b, "hostdrift_findings{status=%s,severity=%s} %d\n", quoteLabel(string(st)), quoteLabel(string(sev)), counts[[2]string{string(st), string(sev)}])
		}
	}
	metric("hostdrift_check_status", "gauge", "Each check's status in the last run: 1 for its status, 0 for the others.")
	for _, f := range r.Findings {
		for _, st := range allStatuses {
			v := 0
			if f.Status == st {
				v = 1
			}
			fmt.Fprintf(b, "hostdrift_check_status{check=%s,kind=%s,severity=%s,status=%s} %d\n",
				quoteLabel(f.Check), quoteLabel(f.Kind), quoteLabel(string(f.Severity)), quoteLabel(string(st)), v)
		}
	}
	metric("hostdrift_collector_success", "gauge", "Whether each collector produced usable data (ok or partial) in the last run.")
	for _, c := range r.Collectors {
		v := 0
		if c.Usable() {
			v = 1
		}
		fmt.Fprintf(b, "hostdrift_collector_success{collector=%s} %d\n", quoteLabel(c.Name), v)
	}
	metric("hostdrift_collector_status", "gauge", "Each collector's status in the last run: 1 for its status, 0 for the others.")
	for _, c := range r.Collectors {
		for _, st := range allCollectorStatuses {
			v := 0
			if c.Status == st {
				v = 1
			}
			fmt.Fprintf(b, "hostdrift_collector_status{collector=%s,status=%s} %d\n", quoteLabel(c.Name), quoteLabel(string(st)), v)
		}
	}
	metric("hostdrift_collector_duration_seconds", "gauge", "How long each collector took in the last run.")
	for _, c := range r.Collectors {
		fmt.Fprintf(b, "hostdrift_collector_duration_seconds{collector=%s} %g\n", quoteLabel(c.Name), c.DurationMS/1000)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// quoteLabel quotes a label value as the exposition format requires.
func quoteLabel(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
