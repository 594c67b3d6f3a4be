package probe_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/agent/probe"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// BenchmarkProbes200 runs 200 probes against local servers through the
// collector (16 in flight) and, in the same run, the same 200 requests made
// one after another with a bare http.Get or net.Dial: the reference. It
// reports both, per 200, and their ratio (collector / reference).
func BenchmarkProbes200(b *testing.B) {
	addr := serveHTTP(b, "127.0.0.31", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "pong\n") }, nil)
	tcpAddr := acceptServer(b, "127.0.0.32")
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

	b.Run("http", func(b *testing.B) {
		var targets []snapshot.ProbeTarget
		for i := range 200 {
			targets = append(targets, snapshot.ProbeTarget{URL: fmt.Sprintf("http://%s/ping?n=%d", addr, i), TimeoutMS: 3000})
		}
		benchProbes(b, targets, func(t snapshot.ProbeTarget) error {
			resp, err := client.Get(t.URL)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			return resp.Body.Close()
		})
	})
	b.Run("tcp", func(b *testing.B) {
		var targets []snapshot.ProbeTarget
		for i := range 200 {
			// Distinct targets (identical ones are probed once): vary the timeout.
			targets = append(targets, snapshot.ProbeTarget{TCP: tcpAddr, TimeoutMS: 3000 + i})
		}
		benchProbes(b, targets, func(t snapshot.ProbeTarget) error {
			c, err := net.Dial("tcp", t.TCP)
			if err != nil {
				return err
			}
			return c.Close()
		})
	})
}

func benchProbes(b *testing.B, targets []snapshot.ProbeTarget, reference func(snapshot.ProbeTarget) error) {
	env := &agent.Env{Root: "/", Wants: snapshot.Wants{Probes: snapshot.ProbeWants{Targets: targets}}}
	c := &probe.Collector{}
	var probes, ref time.Duration
	n := 0
	for b.Loop() {
		n++
		start := time.Now()
		sec, err := c.Collect(context.Background(), env)
		probes += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range sec.(*snapshot.Probes).Results {
			if r.Failure != "" {
				b.Fatalf("%+v: %s", r.Target, r.Error)
			}
		}
		start = time.Now()
		for _, t := range targets {
			if err := reference(t); err != nil {
				b.Fatal(err)
			}
		}
		ref += time.Since(start)
	}
	b.ReportMetric(float64(probes.Microseconds())/1000/float64(n), "ms/200-probes")
	b.ReportMetric(float64(ref.Microseconds())/1000/float64(n), "ms/200-sequential")
	b.ReportMetric(float64(probes)/float64(ref), "ratio")
}

// acceptServer accepts and closes every connection.
func acceptServer(t testing.TB, addr string) string {
	l := listen(t, addr)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().String()
}
