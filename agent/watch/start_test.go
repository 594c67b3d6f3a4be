package watch

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// burstSource sends n events at once and then waits for ctx.
type burstSource struct {
	n    int
	sent chan struct{}
}

func (s *burstSource) Name() string { return "burst" }

func (s *burstSource) Run(ctx context.Context, out chan<- Event) error {
	for i := range s.n {
		c := "firewall"
		if i == s.n-1 {
			c = "listeners"
		}
		if !emit(ctx, out, Event{Source: "burst", Collectors: []string{c}, Detail: fmt.Sprint(i)}) {
			return nil
		}
	}
	close(s.sent)
	<-ctx.Done()
	return nil
}

// TestOverflow has a source send far more events than the consumer reads:
// the source never blocks, what it sent beyond the queue comes out as one
// event naming all its collectors.
func TestOverflow(t *testing.T) {
	src := &burstSource{n: 1000, sent: make(chan struct{})}
	ch := startSource(t, Options{}, func(context.Context, *Options) (source, error) {
		return source{Source: src, collectors: []string{"firewall", "listeners"}}, nil
	})
	select {
	case <-src.sent: // all sent before anything was read: the source never waited
	case <-time.After(patience):
		t.Fatal("the source is blocked by a consumer that does not read")
	}
	var got []Event
	for len(got) == 0 || len(got[len(got)-1].Collectors) < 2 {
		got = append(got, <-ch)
	}
	last := got[len(got)-1]
	if len(got) > 2*queueLen+1 {
		t.Errorf("%d events came out: the queue is not bounded", len(got))
	}
	if !slices.Equal(last.Collectors, []string{"firewall", "listeners"}) || last.Source != "burst" {
		t.Errorf("overflow event %+v: want all the source's collectors", last)
	}
}

// TestStartFilters keeps only the collectors asked for, drops events left
// with none, reports sources that cannot watch, and ends every goroutine.
func TestStartFilters(t *testing.T) {
	src := &burstSource{n: 3, sent: make(chan struct{})}
	broken := errors.New("cannot watch")
	fs := []factory{
		func(context.Context, *Options) (source, error) { return source{}, broken },
		func(context.Context, *Options) (source, error) {
			return source{Source: src, collectors: []string{"firewall", "listeners"}}, nil
		},
		func(context.Context, *Options) (source, error) { return source{}, nil },
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := Options{Collectors: []string{"listeners"}}
	ch, errs := start(ctx, &opts, fs)
	if len(errs) != 1 || !errors.Is(errs[0], broken) {
		t.Errorf("errs %v, want the broken source's", errs)
	}
	e := <-ch
	if e.Detail != "2" || !slices.Equal(e.Collectors, []string{"listeners"}) {
		t.Errorf("first event %+v: want the listeners one only", e)
	}
	cancel()
	for range ch {
	}
}

// TestStart starts the real sources on a fixture root and a fresh network
// namespace: systemd cannot watch another root and says so, the others
// report a firewall change and a cron file, and every goroutine ends with
// ctx.
func TestStart(t *testing.T) {
	t.Setenv("DOCKER_HOST", "")
	ns := nstest.New(t)
	root := t.TempDir()
	write(t, root+"/etc/crontab", "")
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, errs := Start(ctx, Options{Env: agent.Env{Root: root, NetNS: ns.Path()}})
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "systemd: ") {
		t.Errorf("errs %v: want systemd's only", errs)
	}
	ns.Run(t, "nft", "add table inet t")
	waitEvent(t, ch, "nft", about("firewall", "table inet t: table added"))
	write(t, root+"/etc/cron.d/x", "")
	waitEvent(t, ch, "cron.d", about("cron", "/etc/cron.d created"))
	cancel()
	for range ch {
	}
	waitGoroutines(t, base)
}
