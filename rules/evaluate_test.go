package rules

import (
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// absentFails is a check that names something which must exist.
type absentFails struct{}

func (absentFails) Evaluate(*snapshot.Snapshot) Result { return Result{Status: finding.Pass} }
func (absentFails) Absent(collector, reason string) Result {
	return Result{Status: finding.Fail, Explanation: collector + " absent: " + reason}
}

type plainCheck struct{}

func (plainCheck) Evaluate(*snapshot.Snapshot) Result { return Result{Status: finding.Pass} }

// TestSkippedCollector: a check whose collector was skipped does not apply
// (skip, with the collector's reason), even when another collector it reads
// failed; one that names something which must exist judges the absence; an
// errored collector alone is still an error.
func TestSkippedCollector(t *testing.T) {
	kind := &Kind{Name: "t", Needs: []string{"docker", "firewall"}}
	snap := func(docker, firewall snapshot.Status) *snapshot.Snapshot {
		return &snapshot.Snapshot{Collectors: []snapshot.CollectorStatus{
			{Name: "docker", Status: docker, Reason: "docker reason"},
			{Name: "firewall", Status: firewall, Reason: "firewall reason"},
		}}
	}
	for _, c := range []struct {
		name        string
		check       Check
		s           *snapshot.Snapshot
		want        finding.Status
		explanation string
	}{
		{"skipped", plainCheck{}, snap(snapshot.StatusSkipped, snapshot.StatusOK), finding.Skip, "the docker collector was skipped: docker reason"},
		{"skipped and error", plainCheck{}, snap(snapshot.StatusError, snapshot.StatusSkipped), finding.Skip, "firewall collector was skipped: firewall reason"},
		{"must exist", absentFails{}, snap(snapshot.StatusSkipped, snapshot.StatusOK), finding.Fail, "docker absent: docker reason"},
		{"error", plainCheck{}, snap(snapshot.StatusOK, snapshot.StatusError), finding.Error, "firewall collector failed: firewall reason"},
		{"ok", plainCheck{}, snap(snapshot.StatusOK, snapshot.StatusOK), finding.Pass, ""},
	} {
		r := evaluateOne(&Compiled{Kind: kind, Name: "x", Check: c.check}, c.s)
		if r.Status != c.want || !strings.Contains(r.Explanation, c.explanation) {
			t.Errorf("%s: got %s %q, want %s containing %q", c.name, r.Status, r.Explanation, c.want, c.explanation)
		}
	}
}
