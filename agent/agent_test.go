package agent

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

type fake struct {
	name string
	run  func(ctx context.Context) (snapshot.Section, error)
}

func (f fake) Collect(ctx context.Context, _ *Env) (snapshot.Section, error) {
	return f.run(ctx)
}

func register(name string, run func(ctx context.Context) (snapshot.Section, error)) {
	Register(name, func() Collector { return fake{name, run} })
}

func init() {
	register("test-ok", func(context.Context) (snapshot.Section, error) {
		return &snapshot.Listeners{Source: "fake"}, nil
	})
	register("test-panic", func(context.Context) (snapshot.Section, error) { panic("boom") })
	register("test-slow", func(ctx context.Context) (snapshot.Section, error) {
		time.Sleep(2 * time.Second) // ignores its context, as a stuck syscall would
		return &snapshot.Host{Hostname: "late"}, nil
	})
	register("test-error", func(context.Context) (snapshot.Section, error) {
		return nil, errors.New("netlink: permission denied")
	})
	register("test-skip", func(context.Context) (snapshot.Section, error) {
		return nil, Skip("docker is not installed")
	})
	register("test-partial", func(context.Context) (snapshot.Section, error) {
		return &snapshot.Host{Hostname: "partial"}, Partial("owners of 3 sockets unknown")
	})
}

func TestRunIsolatesCollectors(t *testing.T) {
	s := &snapshot.Snapshot{}
	start := time.Now()
	Run(context.Background(), s, Options{
		Collectors: []string{"test-ok", "test-panic", "test-slow", "test-error", "test-skip", "test-partial", "test-missing"},
		Deadline:   200 * time.Millisecond,
	})
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("Run waited %s for a collector past its deadline", took)
	}
	got := map[string]snapshot.CollectorStatus{}
	for _, c := range s.Collectors {
		got[c.Name] = c
	}
	for name, want := range map[string]struct {
		status snapshot.Status
		reason string
	}{
		"test-ok":      {snapshot.StatusOK, ""},
		"test-panic":   {snapshot.StatusError, "collector panicked: boom"},
		"test-slow":    {snapshot.StatusError, "did not finish within 200ms"},
		"test-error":   {snapshot.StatusError, "netlink: permission denied"},
		"test-skip":    {snapshot.StatusSkipped, "docker is not installed"},
		"test-partial": {snapshot.StatusPartial, "owners of 3 sockets unknown"},
		"test-missing": {snapshot.StatusError, `no collector named "test-missing"`},
	} {
		c, ok := got[name]
		if !ok || c.Status != want.status || !strings.Contains(c.Reason, want.reason) {
			t.Errorf("%s: %+v, want %s %q", name, c, want.status, want.reason)
		}
	}
	if s.Listeners == nil || s.Listeners.Source != "fake" {
		t.Error("the ok collector's section was not attached")
	}
	if s.Host.Hostname != "partial" {
		t.Errorf("host %q: the partial collector's data must be kept, the late one's dropped", s.Host.Hostname)
	}
	time.Sleep(2 * time.Second) // the abandoned collector finishes now...
	if s.Host.Hostname != "partial" {
		t.Error("...and must not write into the snapshot")
	}
}

// reader is a collector that reports what an earlier collector found.
type reader struct{}

func (reader) Collect(_ context.Context, env *Env) (snapshot.Section, error) {
	if env.Earlier == nil || env.Earlier.Listeners == nil {
		return nil, errors.New("the listeners were not there to read")
	}
	return &snapshot.Host{Hostname: "read " + env.Earlier.Listeners.Source}, nil
}

func init() {
	Register("test-reader", func() Collector { return reader{} }, "test-ok")
}

// TestRunAfter checks that a collector registered to run after another
// waits for it, whatever the order asked, and reads its section instead of
// reading the host again.
func TestRunAfter(t *testing.T) {
	for _, order := range [][]string{{"test-reader", "test-ok"}, {"test-ok", "test-reader"}} {
		s := &snapshot.Snapshot{}
		Run(context.Background(), s, Options{Collectors: order})
		for _, c := range s.Collectors {
			if c.Status != snapshot.StatusOK {
				t.Errorf("%v: %s: %s %s", order, c.Name, c.Status, c.Reason)
			}
		}
		if s.Host.Hostname != "read fake" {
			t.Errorf("%v: the reader found %q, want %q", order, s.Host.Hostname, "read fake")
		}
	}
	if w := waves([]string{"test-reader", "test-ok", "test-error"}); len(w) != 2 || len(w[1]) != 1 || w[1][0] != "test-reader" {
		t.Errorf("waves = %v, want the reader alone in the second", w)
	}
}

// through declares that its reading holds only with test-error's.
type through struct{ fake }

func (through) DependsOn() []string { return []string{"test-error"} }

func init() {
	Register("test-through", func() Collector {
		return through{fake{"test-through", func(context.Context) (snapshot.Section, error) { return nil, nil }}}
	})
}

// TestDependents checks that a re-read of a collector brings along, among
// those asked about, every collector whose reading holds only with it:
// declared with a DependsOn method, or reading its section (after),
// transitively.
func TestDependents(t *testing.T) {
	among := []string{"test-ok", "test-reader", "test-through", "test-skip"}
	for _, c := range []struct {
		names, want []string
	}{
		{[]string{"test-error"}, []string{"test-error", "test-through"}},
		{[]string{"test-ok"}, []string{"test-ok", "test-reader"}},
		{[]string{"test-skip"}, []string{"test-skip"}},
	} {
		if got := Dependents(c.names, among); !slices.Equal(got, c.want) {
			t.Errorf("Dependents(%v) = %v, want %v", c.names, got, c.want)
		}
	}
	if got := Dependents([]string{"test-error"}, []string{"test-ok"}); !slices.Equal(got, []string{"test-error"}) {
		t.Errorf("Dependents outside among = %v, want only the names", got)
	}
	s := &snapshot.Snapshot{}
	before := time.Now()
	Run(context.Background(), s, Options{Collectors: []string{"test-ok"}})
	if st, _ := s.Collector("test-ok"); st.StartedAt.Before(before.Add(-time.Second)) || st.StartedAt.After(time.Now()) {
		t.Errorf("StartedAt %v, want the time of the run (%v)", st.StartedAt, before)
	}
}
