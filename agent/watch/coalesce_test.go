package watch

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand; armed receives the duration
// of every timer the coalescer starts, so the test knows it is waiting.
type fakeClock struct {
	now   time.Time
	armed chan time.Duration
	fire  chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(1_000_000, 0), armed: make(chan time.Duration), fire: make(chan time.Time)}
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) After(d time.Duration) (<-chan time.Time, func()) {
	c.armed <- d
	return c.fire, func() {}
}

func ev(detail string) Event {
	return Event{Source: "test", Collectors: []string{"firewall"}, Detail: detail}
}

func TestBatchDue(t *testing.T) {
	t0 := time.Unix(0, 0)
	quiet, max := time.Second, 3*time.Second
	var b batch
	b.add(ev("a"), t0)
	if got := b.due(quiet, max); !got.Equal(t0.Add(quiet)) {
		t.Errorf("one event: due %v, want first+quiet", got.Sub(t0))
	}
	b.add(ev("b"), t0.Add(900*time.Millisecond))
	if got := b.due(quiet, max); !got.Equal(t0.Add(1900 * time.Millisecond)) {
		t.Errorf("a second event within quiet: due %v, want last+quiet", got.Sub(t0))
	}
	b.add(ev("c"), t0.Add(2500*time.Millisecond))
	if got := b.due(quiet, max); !got.Equal(t0.Add(max)) {
		t.Errorf("a burst longer than max: due %v, want first+max", got.Sub(t0))
	}
	b.add(ev("c"), t0.Add(2600*time.Millisecond))
	if evs := b.take(); len(evs) != 3 {
		t.Errorf("take: %d events, want 3 (the repeated one kept once)", len(evs))
	}
	if len(b.events) != 0 {
		t.Error("take left events behind")
	}
}

// TestCoalesceQuietAndMax drives the coalescer on a fake clock: a batch
// comes out when the quiet time passes, and a burst that never pauses comes
// out at max.
func TestCoalesceQuietAndMax(t *testing.T) {
	clk := newFakeClock()
	in := make(chan Event)
	out := make(chan []Event)
	go coalesce(in, out, time.Second, 3*time.Second, clk)

	in <- ev("a")
	if d := <-clk.armed; d != time.Second {
		t.Fatalf("first event: timer %v, want the quiet time", d)
	}
	clk.now = clk.now.Add(time.Second)
	clk.fire <- clk.now
	if b := <-out; len(b) != 1 || b[0].Detail != "a" {
		t.Fatalf("batch %v, want [a]", b)
	}

	// A burst: an event every 0.9 s never lets the quiet time pass; the
	// batch comes out 3 s after its first event.
	first := clk.now
	for i := range 4 {
		in <- ev(fmt.Sprint("burst", i))
		want := time.Second
		if left := first.Add(3 * time.Second).Sub(clk.now); left < want {
			want = left
		}
		if d := <-clk.armed; d != want {
			t.Fatalf("burst event %d: timer %v, want %v", i, d, want)
		}
		clk.now = clk.now.Add(900 * time.Millisecond)
	}
	clk.now = first.Add(3 * time.Second)
	clk.fire <- clk.now
	if b := <-out; len(b) != 4 {
		t.Fatalf("burst: batch of %d, want 4", len(b))
	}
	close(in)
	if b, ok := <-out; ok {
		t.Fatalf("after in closed: %v, want the channel closed", b)
	}
}

// TestCoalesceFlood sends more events than a batch holds one by one, then
// closes: one batch comes out, bounded, naming every collector.
func TestCoalesceFlood(t *testing.T) {
	in := make(chan Event)
	out := Coalesce(in, time.Hour, 2*time.Hour)
	go func() {
		for i := range 1000 {
			e := ev(fmt.Sprint("rule ", i))
			if i == 999 {
				e.Collectors = []string{"docker"}
			}
			in <- e
		}
		close(in)
	}()
	b := <-out
	if len(b) != maxBatch {
		t.Fatalf("batch of %d, want %d", len(b), maxBatch)
	}
	last := b[len(b)-1]
	if last.Detail != fmt.Sprintf("%d more events", 1000-maxBatch+1) || len(last.Collectors) != 2 {
		t.Errorf("folded event %+v: want the %d last events and both collectors", last, 1000-maxBatch+1)
	}
	if _, ok := <-out; ok {
		t.Error("the channel stayed open after in closed")
	}
}

// TestCoalesceRealClock only asserts that batches arrive on a real clock,
// never how fast.
func TestCoalesceRealClock(t *testing.T) {
	in := make(chan Event)
	out := Coalesce(in, time.Millisecond, 5*time.Millisecond)
	in <- ev("a")
	in <- ev("b")
	n := 0
	for n < 2 {
		n += len(<-out)
	}
	close(in)
	for range out {
	}
}

func TestAreas(t *testing.T) {
	cols, policy := Areas([]Event{
		{Collectors: []string{"firewall", "listeners"}},
		{Collectors: []string{"docker", "firewall"}},
		{Policy: true},
	})
	if !slices.Equal(cols, []string{"docker", "firewall", "listeners"}) || !policy {
		t.Errorf("Areas = %v, %v", cols, policy)
	}
	if cols, policy := Areas(nil); cols != nil || policy {
		t.Errorf("Areas(nil) = %v, %v", cols, policy)
	}
}
