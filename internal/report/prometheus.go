package report

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

var (
	allStatuses          = []finding.Status{finding.Pass, finding.Fail, finding.Error, finding.Waived, finding.Skip}
	allCollectorStatuses = []snapshot.Status{snapshot.StatusOK, snapshot.StatusPartial, snapshot.StatusError, snapshot.StatusSkipped}
)

// MetricType says what a family's values mean to Prometheus.
type MetricType int

// Metric types: a gauge is a state, read as it is now (a status, a count of
// the current findings, a timestamp); a counter is a total since the
// process started, that only grows.
const (
	Gauge MetricType = iota
	Counter
)

// MetricFamily is one Prometheus metric family: its name, help, type,
// label names and samples. The textfile (--format prometheus) and
// hostdrift serve's /metrics both expose these through Collector and the
// client library's encoder, so the two cannot drift apart.
type MetricFamily struct {
	Name string
	Help string
	Type MetricType
	// Labels are the label names, in the order of each sample's values.
	Labels  []string
	Samples []MetricSample
}

// MetricSample is one series of a family.
type MetricSample struct {
	LabelValues []string
	Value       float64
}

// maxExplanation bounds the explanation label of hostdrift_finding_info, in
// bytes: an explanation quoting a host's file or ruleset can be long, and
// Prometheus servers may refuse long label values (label_value_length_limit).
const maxExplanation = 1024

// MetricFamilies lists the report's families, every one a gauge: they
// describe the findings of the last evaluation, which replace the ones
// before. Every status is there, zeros included, so alerts compare values
// instead of testing for absent series; and
// hostdrift_last_run_timestamp_seconds lets an alert fire when the auditor
// itself stops evaluating.
//
// The explanations are on hostdrift_finding_info only, one series of value 1
// per check that fails or cannot be evaluated: a label whose text changes
// makes a new series, so it never sits on a series whose value changes, and
// passing checks (most of them) add none.
func MetricFamilies(r *Report) []MetricFamily {
	var out []MetricFamily
	fam := func(name, help string, labels ...string) *MetricFamily {
		out = append(out, MetricFamily{Name: name, Help: help, Type: Gauge, Labels: labels})
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
	add(fam("hostdrift_last_run_timestamp_seconds", "When the evaluation that judged the current findings started, in seconds since the epoch (check: the run; serve: the last evaluation that judged checks, at least daily)."), float64(r.StartedAt.Unix()))
	add(fam("hostdrift_run_duration_seconds", "How long the evaluation that judged the current findings took."), r.DurationMS/1000)
	add(fam("hostdrift_build_info", "The hostdrift version that ran, as a label.", "version"), 1, r.Version)

	f := fam("hostdrift_findings", "Findings of the last evaluation by status and severity.", "status", "severity")
	counts := map[[2]string]int{}
	for _, fd := range r.Findings {
		counts[[2]string{string(fd.Status), string(fd.Severity)}]++
	}
	for _, st := range allStatuses {
		for _, sev := range finding.Severities {
			add(f, float64(counts[[2]string{string(st), string(sev)}]), string(st), string(sev))
		}
	}
	f = fam("hostdrift_check_status", "Each check's status in the last evaluation: 1 for its status, 0 for the others.", "check", "kind", "severity", "status")
	for _, fd := range r.Findings {
		for _, st := range allStatuses {
			add(f, one(fd.Status == st), fd.Check, fd.Kind, string(fd.Severity), string(st))
		}
	}
	f = fam("hostdrift_finding_info", "Each check that fails or cannot be evaluated, with the finding's explanation as a label (value 1): for alert annotations.", "check", "status", "explanation")
	for _, fd := range r.Findings {
		if fd.Status == finding.Fail || fd.Status == finding.Error {
			add(f, 1, fd.Check, string(fd.Status), labelText(fd.Explanation, maxExplanation))
		}
	}
	f = fam("hostdrift_collector_success", "Whether each collector produced usable data (ok or partial) in the last evaluation.", "collector")
	for _, c := range r.Collectors {
		add(f, one(c.Usable()), c.Name)
	}
	f = fam("hostdrift_collector_status", "Each collector's status in the last evaluation: 1 for its status, 0 for the others.", "collector", "status")
	for _, c := range r.Collectors {
		for _, st := range allCollectorStatuses {
			add(f, one(c.Status == st), c.Name, string(st))
		}
	}
	f = fam("hostdrift_collector_duration_seconds", "How long each collector took in the last evaluation.", "collector")
	for _, c := range r.Collectors {
		add(f, c.DurationMS/1000, c.Name)
	}
	return out
}

// labelText makes s a label value: valid UTF-8, at most max bytes (cut at a
// character, with an ellipsis).
func labelText(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= max {
		return s
	}
	const more = "…"
	cut := max - len(more)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + more
}

// Collector is a prometheus.Collector of the families Families returns on
// each collection. It is unchecked (it describes nothing): the families
// depend on the policy.
type Collector struct {
	Families func() []MetricFamily
}

// Describe sends nothing: the collector is unchecked.
func (Collector) Describe(chan<- *prometheus.Desc) {}

// Collect sends every sample of the families.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c.Families() {
		desc := prometheus.NewDesc(f.Name, f.Help, f.Labels, nil)
		vt := prometheus.GaugeValue
		if f.Type == Counter {
			vt = prometheus.CounterValue
		}
		for _, s := range f.Samples {
			lv := make([]string, len(s.LabelValues))
			for i, v := range s.LabelValues {
				lv[i] = strings.ToValidUTF8(v, "\uFFFD")
			}
			m, err := prometheus.NewConstMetric(desc, vt, s.Value, lv...)
			if err != nil {
				m = prometheus.NewInvalidMetric(desc, err)
			}
			ch <- m
		}
	}
}

// WriteMetrics writes what g gathers in the text exposition format, as
// /metrics serves it by default.
func WriteMetrics(w io.Writer, g prometheus.Gatherer) error {
	fams, err := g.Gather()
	if err != nil {
		return fmt.Errorf("gather metrics: %w", err)
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			return err
		}
	}
	return nil
}

// renderPrometheus writes the text exposition format for node_exporter's
// textfile collector: MetricFamilies, through the encoder /metrics uses.
func renderPrometheus(w io.Writer, r *Report, _ Options) error {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(Collector{Families: func() []MetricFamily { return MetricFamilies(r) }}); err != nil {
		return err
	}
	return WriteMetrics(w, reg)
}
