package report

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

var (
	allStatuses          = []finding.Status{finding.Pass, finding.Fail, finding.Error, finding.Waived, finding.Skip}
	allCollectorStatuses = []snapshot.Status{snapshot.StatusOK, snapshot.StatusPartial, snapshot.StatusError, snapshot.StatusSkipped}
)

// MetricFamily is one Prometheus metric family of a report: a gauge, its
// help, its label names and its samples. The textfile format and hostdrift
// serve's /metrics both expose these, so the two cannot drift apart.
type MetricFamily struct {
	Name   string
	Help   string
	Labels []string
	// Samples hold one value each, with label values in the order of Labels.
	Samples []MetricSample
}

// MetricSample is one series of a family.
type MetricSample struct {
	LabelValues []string
	Value       float64
}

// MetricFamilies lists the report's gauges, in the order the textfile
// writes them. Every status is there, zeros included, so alerts can compare
// values instead of testing for absent series; and
// hostdrift_last_run_timestamp_seconds lets an alert fire when the auditor
// itself stops running.
func MetricFamilies(r *Report) []MetricFamily {
	var out []MetricFamily
	fam := func(name, help string, labels ...string) *MetricFamily {
		out = append(out, MetricFamily{Name: name, Help: help, Labels: labels})
		return &out[len(out)-1]
	}
	add := func(f *MetricFamily, v float64, lv ...string) {
		f.Samples = append(f.Samples, MetricSample{LabelValues: lv, Value: v})
	}
	one := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	add(fam("hostdrift_last_run_timestamp_seconds", "When the last hostdrift check started, in seconds since the epoch."), float64(r.StartedAt.Unix()))
	add(fam("hostdrift_run_duration_seconds", "How long the last hostdrift check took."), r.DurationMS/1000)
	add(fam("hostdrift_build_info", "The hostdrift version that ran, as a label.", "version"), 1, r.Version)

	f := fam("hostdrift_findings", "Findings of the last check by status and severity.", "status", "severity")
	counts := map[[2]string]int{}
	for _, fd := range r.Findings {
		counts[[2]string{string(fd.Status), string(fd.Severity)}]++
	}
	for _, st := range allStatuses {
		for _, sev := range finding.Severities {
			add(f, float64(counts[[2]string{string(st), string(sev)}]), string(st), string(sev))
		}
	}
	f = fam("hostdrift_check_status", "Each check's status in the last run: 1 for its status, 0 for the others.", "check", "kind", "severity", "status")
	for _, fd := range r.Findings {
		for _, st := range allStatuses {
			add(f, one(fd.Status == st), fd.Check, fd.Kind, string(fd.Severity), string(st))
		}
	}
	f = fam("hostdrift_collector_success", "Whether each collector produced usable data (ok or partial) in the last run.", "collector")
	for _, c := range r.Collectors {
		add(f, one(c.Usable()), c.Name)
	}
	f = fam("hostdrift_collector_status", "Each collector's status in the last run: 1 for its status, 0 for the others.", "collector", "status")
	for _, c := range r.Collectors {
		for _, st := range allCollectorStatuses {
			add(f, one(c.Status == st), c.Name, string(st))
		}
	}
	f = fam("hostdrift_collector_duration_seconds", "How long each collector took in the last run.", "collector")
	for _, c := range r.Collectors {
		add(f, c.DurationMS/1000, c.Name)
	}
	return out
}

// renderPrometheus writes the text exposition format for node_exporter's
// textfile collector: MetricFamilies, every one a gauge.
func renderPrometheus(w io.Writer, r *Report, _ Options) error {
	b := &strings.Builder{}
	for _, f := range MetricFamilies(r) {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s gauge\n", f.Name, f.Help, f.Name)
		for _, s := range f.Samples {
			b.WriteString(f.Name)
			if len(f.Labels) > 0 {
				b.WriteByte('{')
				for i, l := range f.Labels {
					if i > 0 {
						b.WriteByte(',')
					}
					b.WriteString(l + "=" + quoteLabel(s.LabelValues[i]))
				}
				b.WriteByte('}')
			}
			b.WriteString(" " + formatValue(s.Value) + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// formatValue writes whole numbers (counts, timestamps) as integers and the
// rest (durations) in the shortest form.
func formatValue(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%g", v)
}

// quoteLabel quotes a label value as the exposition format requires.
func quoteLabel(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
