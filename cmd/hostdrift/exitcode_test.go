package main

import (
	"testing"

	"github.com/hostdrift/hostdrift/internal/finding"
)

// TestExitCodeSkipIsNotIncomplete: a run whose checks all pass, are waived or
// do not apply here exits 0; an error still makes it incomplete and a fail
// still wins.
func TestExitCodeSkipIsNotIncomplete(t *testing.T) {
	for _, c := range []struct {
		name string
		st   []finding.Status
		want int
	}{
		{"pass, waived and skip", []finding.Status{finding.Pass, finding.Waived, finding.Skip}, exitOK},
		{"only skip", []finding.Status{finding.Skip}, exitOK},
		{"skip and error", []finding.Status{finding.Skip, finding.Error}, exitIncomplete},
		{"skip, error and fail", []finding.Status{finding.Skip, finding.Error, finding.Fail}, exitDrift},
	} {
		var fs []finding.Finding
		for _, s := range c.st {
			fs = append(fs, finding.Finding{Status: s})
		}
		if got := exitCode(finding.Summarize(fs)); got != c.want {
			t.Errorf("%s: exit %d, want %d", c.name, got, c.want)
		}
	}
}
