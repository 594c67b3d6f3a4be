package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Hostname  string      `xml:"hostname,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// renderJUnit writes JUnit XML for CI systems: one suite per run, one test
// case per check; a fail is a failure, an error an error, a waived or a
// skipped check a skipped case (its message says which and why).
func renderJUnit(w io.Writer, r *Report, _ Options) error {
	return WriteJUnit(w, []JUnitHost{{Report: r}})
}

// JUnitHost is one host's part of a JUnit document: its report, or why it
// has none.
type JUnitHost struct {
	// Name names the host's suite ("hostdrift NAME"); "" takes the
	// report's host name.
	Name   string
	Report *Report
	// Error says why the host has no report: its suite is one case in
	// error, so CI shows the host as not audited; At is when that run
	// started.
	Error string
	At    time.Time
}

// WriteJUnit writes one JUnit document with a test suite per host, as
// renderJUnit describes each; the totals count them all.
func WriteJUnit(w io.Writer, hosts []JUnitHost) error {
	doc := junitSuites{Name: "hostdrift"}
	var secs float64
	for _, h := range hosts {
		suite := junitSuiteOf(h)
		doc.Tests += suite.Tests
		doc.Failures += suite.Failures
		doc.Errors += suite.Errors
		doc.Skipped += suite.Skipped
		if h.Report != nil {
			secs += h.Report.DurationMS / 1000
		}
		doc.Suites = append(doc.Suites, suite)
	}
	doc.Time = fmt.Sprintf("%.3f", secs)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// junitSuiteOf is one host's suite.
func junitSuiteOf(h JUnitHost) junitSuite {
	r := h.Report
	if r == nil {
		return junitSuite{Name: "hostdrift " + h.Name, Tests: 1, Errors: 1, Time: "0", Hostname: h.Name,
			Timestamp: h.At.UTC().Format("2006-01-02T15:04:05"),
			Cases: []junitCase{{Name: "audit", Classname: "hostdrift", Time: "0",
				Error: &junitProblem{Message: "not audited: " + h.Error, Type: "not-audited", Text: h.Error}}}}
	}
	name := h.Name
	if name == "" {
		name = hostName(r)
	}
	suite := junitSuite{
		Name: "hostdrift " + name, Tests: r.Summary.Total, Failures: r.Summary.Fail,
		Errors: r.Summary.Error, Skipped: r.Summary.Waived + r.Summary.Skip, Time: fmt.Sprintf("%.3f", r.DurationMS/1000),
		Timestamp: r.StartedAt.UTC().Format("2006-01-02T15:04:05"), Hostname: hostName(r),
	}
	for _, f := range r.Findings {
		c := junitCase{Name: f.Check, Classname: "hostdrift." + f.Kind, Time: "0"}
		detail := func() string {
			parts := []string{f.Explanation, "expected: " + f.Expected, "observed: " + f.Observed}
			if f.Remediation != "" {
				parts = append(parts, "remediation: "+f.Remediation)
			}
			return strings.Join(append(parts, "source: "+f.Source.String()), "\n")
		}
		switch f.Status {
		case finding.Fail:
			c.Failure = &junitProblem{Message: f.Explanation, Type: string(f.Severity), Text: detail()}
		case finding.Error:
			c.Error = &junitProblem{Message: f.Explanation, Type: "cannot-evaluate", Text: detail()}
		case finding.Waived:
			c.Skipped = &junitSkipped{Message: "waived: " + f.Explanation}
		case finding.Skip:
			c.Skipped = &junitSkipped{Message: "does not apply: " + f.Explanation}
		}
		suite.Cases = append(suite.Cases, c)
	}
	return suite
}
