package survey

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

type collector func() snapshot.Section

func (c collector) Collect(context.Context, *agent.Env) (snapshot.Section, error) { return c(), nil }

var listenerRuns atomic.Int32

func init() {
	agent.Register(snapshot.CollectorHost, func() agent.Collector {
		return collector(func() snapshot.Section { return &snapshot.Host{Hostname: "web1"} })
	})
	agent.Register(snapshot.CollectorListeners, func() agent.Collector {
		return collector(func() snapshot.Section {
			listenerRuns.Add(1)
			return &snapshot.Listeners{Source: "test"}
		})
	})
}

// TestRun checks the order of a survey: the host's facts before the first
// step is planned, each collector once however many steps ask for it, and a
// step that cannot be planned ending it.
func TestRun(t *testing.T) {
	snap := &snapshot.Snapshot{}
	var sawHost string
	ok := Run(context.Background(), snap, agent.Options{},
		func(s *snapshot.Snapshot) (Step, bool) {
			sawHost = s.Host.Hostname
			return Step{Collectors: []string{snapshot.CollectorListeners, snapshot.CollectorHost}}, true
		},
		Fixed(Step{Collectors: []string{snapshot.CollectorListeners}}),
	)
	if !ok || sawHost != "web1" {
		t.Errorf("Run = %v, the first step saw host %q; want true and web1", ok, sawHost)
	}
	if n := listenerRuns.Load(); n != 1 || snap.Listeners == nil {
		t.Errorf("listeners ran %d times (section %v), want once", n, snap.Listeners)
	}
	if len(snap.Collectors) != 2 {
		t.Errorf("collectors %+v, want host and listeners once each", snap.Collectors)
	}
	stopped := Run(context.Background(), &snapshot.Snapshot{}, agent.Options{},
		func(*snapshot.Snapshot) (Step, bool) { return Step{}, false },
		Fixed(Step{Collectors: []string{snapshot.CollectorListeners}}))
	if stopped || listenerRuns.Load() != 1 {
		t.Errorf("a failed plan must end the survey: Run = %v, listeners ran %d times", stopped, listenerRuns.Load())
	}
}
