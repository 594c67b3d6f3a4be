package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
)

// TestWaiverAppliesToEveryStatusButPass: a waiver turns a fail, an error or
// a skip into waived while it holds; a pass stays a pass.
func TestWaiverAppliesToEveryStatusButPass(t *testing.T) {
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	w := &waiver{reason: "OPS-1", date: "2026-12-31", expires: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	for st, want := range map[finding.Status]finding.Status{
		finding.Fail: finding.Waived, finding.Error: finding.Waived, finding.Skip: finding.Waived, finding.Pass: finding.Pass,
	} {
		f := finding.Finding{Status: st, Explanation: "x."}
		applyWaiver(&f, w, now)
		if f.Status != want || f.Waiver == nil {
			t.Errorf("%s: status %s (waiver %v), want %s", st, f.Status, f.Waiver, want)
		}
		if st == finding.Skip && !strings.Contains(f.Explanation, "own status: skip") {
			t.Errorf("a waived skip must keep its own status in the explanation: %q", f.Explanation)
		}
	}
}
