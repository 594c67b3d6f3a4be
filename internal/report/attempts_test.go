package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// TestTableSaysAttempts: with retries, the table says which checks passed
// only at a later attempt, and how often a shown check was judged.
func TestTableSaysAttempts(t *testing.T) {
	s := &snapshot.Snapshot{Version: "test"}
	r := New(s, []finding.Finding{
		{Check: "listener.web", Status: finding.Pass, Attempts: 3},
		{Check: "listener.db", Status: finding.Fail, Severity: finding.Warning, Explanation: "nothing listens", Attempts: 5},
		{Check: "file.motd", Status: finding.Pass, Attempts: 1},
	}, nil, time.Now(), time.Second)
	var b bytes.Buffer
	if err := Render(&b, "table", r, Options{Width: 100}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"listener.web passed at attempt 3", "(judged 5 times: --retry-timeout)"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "file.motd") {
		t.Errorf("a check that passed at once is listed:\n%s", out)
	}
}
