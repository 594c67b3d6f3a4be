package watch

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

func TestPollIntervals(t *testing.T) {
	if d := every(0, DefaultListenersEvery)(); d != 15*time.Second {
		t.Errorf("default listeners interval %v", d)
	}
	if d := every(5*time.Second, DefaultListenersEvery)(); d != 5*time.Second {
		t.Errorf("given interval %v", d)
	}
	s := &pollSource{next: func() time.Duration { return 0 }, minPoll: MinPoll}
	if d := s.interval(); d != MinPoll {
		t.Errorf("a zero interval became %v, want the floor %v", d, MinPoll)
	}
}

// TestDNSPollAsksAgain checks that the DNS poll asks DNSNext again after
// every event (the TTLs change with each answer); it asserts that events
// arrive, never how fast.
func TestDNSPollAsksAgain(t *testing.T) {
	var asked atomic.Int32
	opts := Options{DNSNext: func() time.Duration { asked.Add(1); return time.Millisecond }}
	src, err := newDNSPoll(context.Background(), &opts)
	if err != nil || src.Source == nil {
		t.Fatalf("newDNSPoll: %v, %v", src, err)
	}
	src.Source.(*pollSource).minPoll = 0
	ch := startSource(t, opts, func(context.Context, *Options) (source, error) { return src, nil })
	for i := range 3 {
		e := <-ch
		if !slices.Equal(e.Collectors, []string{"dns"}) || e.Source != "poll" {
			t.Fatalf("event %+v", e)
		}
		// Asked once before the first wait, then once after each event.
		if n := asked.Load(); n < int32(i+1) {
			t.Errorf("after %d events DNSNext was asked %d times", i+1, n)
		}
	}
	if src, _ := newDNSPoll(context.Background(), &Options{}); src.Source != nil {
		t.Error("a DNS poll without DNSNext")
	}
	if src, _ := newDNSPoll(context.Background(), &Options{DNSNext: opts.DNSNext, Collectors: []string{"cron"}}); src.Source != nil {
		t.Error("a DNS poll although dns is not among the collectors")
	}
}

func TestListenersPoll(t *testing.T) {
	opts := Options{ListenersEvery: time.Millisecond, Collectors: []string{"listeners", "cron"}}
	src, _ := newListenersPoll(context.Background(), &opts)
	src.Source.(*pollSource).minPoll = 0
	ch := startSource(t, opts, func(context.Context, *Options) (source, error) { return src, nil })
	if e := <-ch; !slices.Equal(e.Collectors, []string{"listeners"}) {
		t.Errorf("event %+v: want the listeners collector only (probes not asked for)", e)
	}
	src, _ = newListenersPoll(context.Background(), &Options{})
	if !slices.Equal(src.collectors, []string{"listeners", "probes", "processes"}) {
		t.Errorf("all collectors: the poll names %v", src.collectors)
	}
}

func TestSysctlPoll(t *testing.T) {
	opts := Options{LegacyEvery: time.Millisecond}
	src, _ := newSysctlPoll(context.Background(), &opts)
	src.Source.(*pollSource).minPoll = 0
	ch := startSource(t, opts, func(context.Context, *Options) (source, error) { return src, nil })
	if e := <-ch; !slices.Equal(e.Collectors, []string{"sysctl"}) {
		t.Errorf("event %+v: want sysctl", e)
	}
	opts.Env.Root = t.TempDir()
	if src, _ := newSysctlPoll(context.Background(), &opts); src.Source != nil {
		t.Error("a sysctl poll for another root, whose kernel is not this one")
	}
}

// TestLegacyPoll reads a fresh namespace's legacy tables: none, then the
// filter table once iptables-legacy adds a rule there; the poll then
// reports them, naming the firewall.
func TestLegacyPoll(t *testing.T) {
	nstest.RequireCommand(t, "iptables-legacy")
	ns := nstest.New(t)
	names, err := legacyTables(ns.Path())
	if err != nil || len(names) != 0 {
		t.Fatalf("a fresh namespace: legacy tables %v, %v; want none", names, err)
	}
	ns.Run(t, "iptables-legacy", "-A", "OUTPUT", "-p", "tcp", "--dport", "587", "-j", "DROP")
	names, err = legacyTables(ns.Path())
	if err != nil || !slices.Contains(names, "filter") {
		t.Fatalf("after iptables-legacy -A OUTPUT: %v, %v; want filter", names, err)
	}
	opts := Options{Env: agent.Env{NetNS: ns.Path()}, LegacyEvery: time.Millisecond}
	src, _ := newLegacyPoll(context.Background(), &opts)
	src.Source.(*pollSource).minPoll = 0
	ch := startSource(t, opts, func(context.Context, *Options) (source, error) { return src, nil })
	waitEvent(t, ch, "legacy tables", about("firewall", "iptables-legacy tables loaded (filter)"))
}
