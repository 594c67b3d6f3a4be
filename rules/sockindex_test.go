package rules_test

import (
	"testing"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

// TestListenerIndexFollowsReplacedSection: hostdrift serve keeps one plan
// and one snapshot, replaces the listeners section between evaluations
// (snapshot.CopyReading) and evaluates again; the next evaluation must see
// the new section, never an index of the old one. So must one after the
// section's sockets were changed in place.
func TestListenerIndexFollowsReplacedSection(t *testing.T) {
	src := `
listener "web" {
  port = 80
}
accepting "web" {
  port = 80
}
listener "dns" {
  port     = 53
  protocol = "udp"
  expect   = "absent"
}
`
	p, diags := rules.Load([]rules.Source{{Name: "test.hcl", Text: []byte(src)}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	s := listenerSnapshot(sock("tcp", "0.0.0.0", 80, nginx))
	plan, diags := p.Compile(&s.Host, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	statuses := func() []finding.Status {
		var out []finding.Status
		for _, f := range plan.Evaluate(s, s.TakenAt) {
			out = append(out, f.Status)
		}
		return out
	}
	want := func(step string, w ...finding.Status) {
		t.Helper()
		got := statuses()
		for i := range w {
			if got[i] != w[i] {
				t.Fatalf("%s: statuses %v, want %v", step, got, w)
			}
		}
	}
	want("first", finding.Pass, finding.Pass, finding.Pass)

	fresh := listenerSnapshot(sock("tcp", "0.0.0.0", 8080, nginx), sock("udp", "0.0.0.0", 53, nil))
	s.CopyReading(fresh, snapshot.CollectorListeners)
	want("after the section was replaced", finding.Fail, finding.Pass, finding.Fail)

	s.Listeners.Sockets[0].Port = 80
	s.Listeners.Sockets[1].Port = 5353
	want("after the sockets changed in place", finding.Pass, finding.Pass, finding.Pass)

	s.Listeners.Sockets = s.Listeners.Sockets[:0]
	want("after the sockets went", finding.Fail, finding.Pass, finding.Pass)
}
