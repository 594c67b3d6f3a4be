// Package report renders what hostdrift found for people and machines: a
// run's findings as a table, JSON, JUnit XML, a Nagios plugin status, a
// Prometheus textfile or an HTML page, and a comparison of two snapshots as a table or JSON.
// It renders only; exit codes belong to the command.
package report

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Schema names the version of the report document.
const Schema = "hostdrift/report/v1"

// Report is the outcome of one check run.
type Report struct {
	Schema     string                     `json:"schema"`
	Version    string                     `json:"hostdrift_version"`
	Host       Host                       `json:"host"`
	StartedAt  time.Time                  `json:"started_at"`
	DurationMS float64                    `json:"duration_ms"`
	Snapshot   string                     `json:"snapshot,omitempty"` // the saved snapshot judged, when not the live host
	Policies   []string                   `json:"policies"`
	Collectors []snapshot.CollectorStatus `json:"collectors"`
	Findings   []finding.Finding          `json:"findings"`
	Summary    finding.Summary            `json:"summary"`
}

// Host identifies the audited host in a report.
type Host struct {
	Hostname string `json:"hostname"`
	FQDN     string `json:"fqdn"`
}

// New assembles a report from a judged snapshot. Findings are ordered so the
// most urgent come first: fails by severity, then errors, waived, skipped
// and passes.
func New(s *snapshot.Snapshot, fs []finding.Finding, policies []string, started time.Time, took time.Duration) *Report {
	sorted := append([]finding.Finding(nil), fs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if statusRank(a.Status) != statusRank(b.Status) {
			return statusRank(a.Status) < statusRank(b.Status)
		}
		return severityRank(a.Severity) > severityRank(b.Severity)
	})
	if sorted == nil {
		sorted = []finding.Finding{}
	}
	if policies == nil {
		policies = []string{}
	}
	return &Report{
		Schema:     Schema,
		Version:    s.Version,
		Host:       Host{Hostname: s.Host.Hostname, FQDN: s.Host.FQDN},
		StartedAt:  started.UTC(),
		DurationMS: float64(took.Microseconds()) / 1000,
		Policies:   policies,
		Collectors: s.Collectors,
		Findings:   sorted,
		Summary:    finding.Summarize(sorted),
	}
}

func statusRank(s finding.Status) int {
	switch s {
	case finding.Fail:
		return 0
	case finding.Error:
		return 1
	case finding.Waived:
		return 2
	case finding.Skip:
		return 3
	default:
		return 4
	}
}

func severityRank(s finding.Severity) int {
	for i, v := range finding.Severities {
		if v == s {
			return i
		}
	}
	return -1
}

// Options tune rendering.
type Options struct {
	Color bool
	// Width is the terminal width the table may use; 0 means 120.
	Width int
	// Verbose lists passing checks in the table too.
	Verbose bool
	// NagiosState is the plugin state (0 OK, 1 WARNING, 2 CRITICAL, 3
	// UNKNOWN) the nagios format prints: the caller decides it, because it
	// is also the exit code.
	NagiosState int
}

// Renderer writes a report in one format.
type Renderer func(w io.Writer, r *Report, o Options) error

var renderers = map[string]Renderer{
	"table":      renderTable,
	"json":       renderJSON,
	"prometheus": renderPrometheus,
	"junit":      renderJUnit,
	"nagios":     renderNagios,
	"html":       renderHTML,
}

// Formats lists the known formats, sorted.
func Formats() []string {
	out := make([]string, 0, len(renderers))
	for f := range renderers {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Render writes the report in the named format.
func Render(w io.Writer, format string, r *Report, o Options) error {
	fn, ok := renderers[format]
	if !ok {
		return fmt.Errorf("unknown format %q; known: %v", format, Formats())
	}
	return fn(w, r, o)
}
