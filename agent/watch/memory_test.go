package watch

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// countSource sends events with distinct details, as many as each round
// asks.
type countSource struct {
	rounds chan int
}

func (s *countSource) Name() string { return "count" }

func (s *countSource) Run(ctx context.Context, out chan<- Event) error {
	i := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case n := <-s.rounds:
			for range n {
				i++
				if !emit(ctx, out, Event{Source: "count", Collectors: []string{"firewall"}, Detail: fmt.Sprint("rule ", i)}) {
					return nil
				}
			}
		}
	}
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestMemoryBounded runs thousands of events through Start and Coalesce:
// the heap after them is about the heap after the first few hundred.
func TestMemoryBounded(t *testing.T) {
	src := &countSource{rounds: make(chan int)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, _ := start(ctx, &Options{}, []factory{func(context.Context, *Options) (source, error) {
		return source{Source: src, collectors: []string{"firewall"}}, nil
	}})
	batches := Coalesce(ch, time.Millisecond, 10*time.Millisecond)
	total := 0
	send := func(n int) {
		src.rounds <- n
		total += n
		want := fmt.Sprint("rule ", total)
		for {
			b := <-batches
			for _, e := range b {
				// The round's last event, or the overflow event that
				// stands for it.
				if e.Detail == want || strings.HasPrefix(e.Detail, "more than") {
					return
				}
			}
		}
	}
	for range 5 {
		send(100)
	}
	before := heap()
	for range 50 {
		send(100)
	}
	after := heap()
	t.Logf("heap %d before, %d after 5000 more events", before, after)
	if after > before+256<<10 {
		t.Errorf("heap grew from %d to %d bytes over 5000 events", before, after)
	}
}
