package watch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/agent/listeners"
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

// TestListenersPoll drives the listeners poll's check in a fresh namespace,
// with an injected clock: one event at the first check, then none while
// nothing changes, one when a
// listener opens and when it closes, one each time while a connection
// waits in an accept queue, and one when the full re-read is due. Then it
// runs the poll and sees the event for a listener opened after it started.
func TestListenersPoll(t *testing.T) {
	ns := nstest.New(t)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &listenerCheck{ctx: context.Background(), netns: ns.Path(), now: func() time.Time { return clock }, read: listeners.ReadFingerprint}
	quiet := func(when string) {
		t.Helper()
		for i := range 5 {
			clock = clock.Add(15 * time.Second)
			if detail, ok := c.check(); ok {
				t.Fatalf("%s: check %d sent an event (%q) although nothing changed", when, i+1, detail)
			}
		}
	}
	event := func(when string, says ...string) {
		t.Helper()
		clock = clock.Add(15 * time.Second)
		detail, ok := c.check()
		if !ok {
			t.Fatalf("%s: no event", when)
		}
		for _, s := range says {
			if !strings.Contains(detail, s) {
				t.Fatalf("%s: event %q, want it to say %q", when, detail, s)
			}
		}
	}
	// Without a baseline, the first check reads once more.
	event("the first check", "first fingerprint taken")
	if !c.have {
		t.Fatal("no fingerprint of a fresh namespace")
	}
	quiet("an empty namespace")
	// With the baseline the source takes when it starts, nothing changed
	// is no event, and a socket opened since is one.
	b := &listenerCheck{ctx: context.Background(), netns: ns.Path(), now: func() time.Time { return clock }, read: listeners.ReadFingerprint}
	b.baseline()
	if detail, ok := b.check(); ok {
		t.Fatalf("after a baseline, nothing changed: event %q", detail)
	}
	early := ns.Listen(t, "tcp4:127.0.0.1:8081")
	if detail, ok := b.check(); !ok || !strings.Contains(detail, "1 new") {
		t.Fatalf("a socket opened after the baseline: %q, %v", detail, ok)
	}
	early.Stop()

	l := ns.Listen(t, "tcp4:127.0.0.1:8080", "udp6:[::1]:5353")
	event("two sockets opened", "listening sockets changed: 2 new, 0 gone")
	quiet("two sockets open")
	l.Stop()
	event("two sockets closed", "listening sockets changed: 0 new, 2 gone")
	quiet("the sockets closed")

	q := ns.Listen(t, "queue:127.0.0.1:7002:2")
	event("a listener with waiting connections opened", "changed: 1 new")
	for i := range 3 {
		event(fmt.Sprintf("connections still waiting (%d)", i+1), "accept queue")
	}
	q.Stop()
	event("the listener closed", "0 new, 1 gone")
	quiet("the listener closed")

	clock = clock.Add(FullReadEvery)
	event("five minutes later", "full re-read")
	quiet("after the full re-read")

	// A fingerprint that fails is an event that says why.
	c.read = func(context.Context, string) (listeners.Fingerprint, error) {
		return listeners.Fingerprint{}, errors.New("no sock_diag here")
	}
	event("the dump fails", "no sock_diag here")

	// The poll itself, with its real clock: an event once a listener opens.
	opts := Options{Env: agent.Env{NetNS: ns.Path()}, ListenersEvery: time.Millisecond, Collectors: []string{"listeners", "cron"}}
	src, _ := newListenersPoll(context.Background(), &opts)
	src.Source.(*pollSource).minPoll = 0
	ch := startSource(t, opts, func(context.Context, *Options) (source, error) { return src, nil })
	// The baseline was taken when the source was made: nothing until the
	// listener opens.
	ns.Listen(t, "tcp4:127.0.0.1:6379")
	e, before := waitEvent(t, ch, "the listener on 6379", about("listeners", "listening sockets changed: 1 new, 0 gone"))
	if !slices.Equal(e.Collectors, []string{"listeners"}) {
		t.Errorf("event %+v: want the listeners collector only (probes not asked for)", e)
	}
	if len(before) != 0 {
		t.Errorf("events before the listener opened, although nothing changed: %v", before)
	}
}

func TestPollCollectors(t *testing.T) {
	src, _ := newListenersPoll(context.Background(), &Options{})
	if !slices.Equal(src.collectors, []string{"listeners", "probes"}) {
		t.Errorf("all collectors: the listeners poll names %v", src.collectors)
	}
	src, _ = newProcessesPoll(context.Background(), &Options{})
	if !slices.Equal(src.collectors, []string{"processes"}) {
		t.Errorf("all collectors: the processes poll names %v", src.collectors)
	}
	if src, _ := newListenersPoll(context.Background(), &Options{Collectors: []string{"processes"}}); src.Source != nil {
		t.Error("a listeners poll although neither listeners nor probes are asked for")
	}
	if src, _ := newProcessesPoll(context.Background(), &Options{Collectors: []string{"listeners"}}); src.Source != nil {
		t.Error("a processes poll although processes are not asked for")
	}
}

// TestProcessesPoll checks that the processes poll sends its event every
// interval, unconditionally.
func TestProcessesPoll(t *testing.T) {
	opts := Options{ListenersEvery: time.Millisecond, Collectors: []string{"processes", "cron"}}
	src, _ := newProcessesPoll(context.Background(), &opts)
	src.Source.(*pollSource).minPoll = 0
	ch := startSource(t, opts, func(context.Context, *Options) (source, error) { return src, nil })
	for range 3 {
		if e := <-ch; !slices.Equal(e.Collectors, []string{"processes"}) {
			t.Errorf("event %+v: want processes", e)
		}
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
	// A root whose /proc shows a running kernel: the collector reads the
	// live values there, so they are polled there too.
	if err := os.MkdirAll(filepath.Join(opts.Env.Root, "proc/sys/kernel"), 0o755); err != nil {
		t.Fatal(err)
	}
	if src, _ := newSysctlPoll(context.Background(), &opts); src.Source == nil {
		t.Error("no sysctl poll for a root whose live values the collector reads")
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
