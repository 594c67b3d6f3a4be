package listeners

import (
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
	"github.com/hostdrift/hostdrift/rules"
)

// TestQueuedConnections: a listener with a backlog of 5 that never accepts
// holds 3 connections; its queue is not full, yet accepting fails once they
// have waited longer than stalled_after. A listener that accepts passes.
func TestQueuedConnections(t *testing.T) {
	ns := nstest.New(t)
	ns.Listen(t, "queue:127.0.0.1:7002:3", "accept:127.0.0.1:7001", "dual:[::]:7003")
	p, diags := rules.Load([]rules.Source{{Name: "test.hcl", Text: []byte(`
accepting "all" {
  stalled_after = "1s"
}
accepting "web" {
  port          = 7001
  stalled_after = "1s"
}
`)}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	host := &snapshot.Host{Hostname: "test"}
	plan, diags := p.Compile(host, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}

	// Wait, without a deadline of our own beyond the test's, until the
	// kernel says the queued connections have gone 1s without a word.
	var l *snapshot.Listeners
	for {
		sec, err := (&Collector{}).Collect(t.Context(), &agent.Env{NetNS: ns.Path(), Root: "/"})
		if err != nil {
			t.Fatal(err)
		}
		l = sec.(*snapshot.Listeners)
		if q := find(l, 7002); q != nil && q.QueuedMS >= 1000 {
			break
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("the queued connections never reached 1s: %+v", l.Sockets)
		case <-time.After(200 * time.Millisecond):
		}
	}
	q, a, d := find(l, 7002), find(l, 7001), find(l, 7003)
	if q.Queued != 3 || q.AcceptQueue != 3 || q.Backlog != 5 || q.Stalled() {
		t.Errorf("queue listener: Queued %d AcceptQueue %d Backlog %d Stalled %v; want 3, 3, 5, false", q.Queued, q.AcceptQueue, q.Backlog, q.Stalled())
	}
	if a.Queued != 0 || a.QueuedMS != 0 || d.Queued != 0 {
		t.Errorf("accepting listeners: Queued %d (%d ms) and %d; want none", a.Queued, a.QueuedMS, d.Queued)
	}

	s := &snapshot.Snapshot{Schema: snapshot.Schema, Host: *host, Listeners: l,
		Collectors: []snapshot.CollectorStatus{{Name: "listeners", Status: snapshot.StatusOK}}}
	fs := plan.Evaluate(s, time.Now())
	all, web := fs[0], fs[1]
	t.Logf("%s: %s\n  %s", all.Status, all.Explanation, all.Remediation)
	if all.Status != finding.Fail ||
		!strings.Contains(all.Explanation, "tcp/7002 on 127.0.0.1: 3 connection(s) waiting to be accepted, the oldest for ") ||
		!strings.Contains(all.Explanation, "owner "+nstest.HelperName+" pid") ||
		!strings.Contains(all.Remediation, "stopped calling accept") {
		t.Errorf("accepting.all: %s: %s / %s", all.Status, all.Explanation, all.Remediation)
	}
	if web.Status != finding.Pass {
		t.Errorf("accepting.web: %s: %s", web.Status, web.Explanation)
	}
}

func find(l *snapshot.Listeners, port uint16) *snapshot.Socket {
	for i := range l.Sockets {
		if l.Sockets[i].Protocol == "tcp" && l.Sockets[i].Port == port {
			return &l.Sockets[i]
		}
	}
	return nil
}
