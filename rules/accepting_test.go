package rules_test

import (
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

// TestAcceptingWaitingConnections: a listener whose queue is not full but
// holds a connection for longer than stalled_after has stopped accepting.
func TestAcceptingWaitingConnections(t *testing.T) {
	web := sock("tcp", "0.0.0.0", 443, &snapshot.Process{PID: 4121, Name: "python3", Unit: "web-server.service"})
	web.Backlog, web.AcceptQueue = 5, 3
	waiting := func(ms uint32) snapshot.Socket {
		s := web
		s.Queued, s.QueuedMS = 3, ms
		return s
	}
	cases := []struct {
		name    string
		policy  string
		sock    snapshot.Socket
		status  finding.Status
		explain string
	}{
		{"42s over the default 10s", `accepting "all" {}`, waiting(42_300), finding.Fail,
			"tcp/443 on 0.0.0.0: 3 connection(s) waiting to be accepted, the oldest for 42s (stalled_after is 10s); owner python3 pid 4121 (web-server.service)"},
		{"3s under the default", `accepting "all" {}`, waiting(3_000), finding.Pass, "1 listener(s), none stalled"},
		{"3s over stalled_after", `accepting "all" {
  stalled_after = "2s"
}`, waiting(3_000), finding.Fail, "the oldest for 3s (stalled_after is 2s)"},
		{"queued, age unknown", `accepting "all" {}`, waiting(0), finding.Pass, "none stalled"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := one(t, c.policy, listenerSnapshot(c.sock))
			if f.Status != c.status || !strings.Contains(f.Explanation, c.explain) {
				t.Errorf("%s: %s\nwant %s: %s", f.Status, f.Explanation, c.status, c.explain)
			}
			if c.status == finding.Fail && !strings.Contains(f.Remediation, "python3 pid 4121 (web-server.service), stopped calling accept") {
				t.Errorf("remediation %q does not name the owner", f.Remediation)
			}
		})
	}
}

func TestAcceptingStalledAfterInvalid(t *testing.T) {
	for v, want := range map[string]string{"500ms": "at least 1s", "0s": "at least 1s", "soon": "Invalid duration"} {
		src := `accepting "all" {
  stalled_after = "` + v + `"
}`
		p, diags := rules.Load([]rules.Source{{Name: "test.hcl", Text: []byte(src)}})
		if !diags.HasErrors() {
			_, diags = p.Compile(hostWith(), nil)
		}
		if !strings.Contains(diags.Error(), want) {
			t.Errorf("stalled_after = %q: got %v, want %q", v, diags, want)
		}
	}
}
