package main

import (
	"testing"

	"github.com/hostdrift/hostdrift/internal/finding"
)

// TestNagiosState checks the plugin state for each mix of findings, most
// urgent first; a failing info check does not alert.
func TestNagiosState(t *testing.T) {
	base := func() []finding.Finding {
		return []finding.Finding{
			{Check: "listener.redis", Status: finding.Fail, Severity: finding.Warning},
			{Check: "egress.smtp", Status: finding.Error, Severity: finding.Critical},
			{Check: "listener.https", Status: finding.Pass, Severity: finding.Critical},
			{Check: "dns.fqdn", Status: finding.Skip, Severity: finding.Critical},
		}
	}
	for _, c := range []struct {
		name   string
		mutate func(fs []finding.Finding)
		want   int
	}{
		{"a warning fails", func([]finding.Finding) {}, nagiosWarning},
		{"a critical fails", func(fs []finding.Finding) { fs[0].Severity = finding.Critical }, nagiosCritical},
		{"an error, nothing fails", func(fs []finding.Finding) { fs[0].Status = finding.Pass }, nagiosUnknown},
		{"pass and skip", func(fs []finding.Finding) { fs[0].Status, fs[1].Status = finding.Pass, finding.Pass }, nagiosOK},
		{"an info fails", func(fs []finding.Finding) { fs[0].Severity, fs[1].Status = finding.Info, finding.Pass }, nagiosOK},
	} {
		fs := base()
		c.mutate(fs)
		if got := nagiosState(fs); got != c.want {
			t.Errorf("%s: state %d, want %d", c.name, got, c.want)
		}
	}
}
