// Package serve is hostdrift serve: the loop that keeps one judged reading
// of the host current as events arrive (Loop, through internal/audit, the
// pipeline check uses), the event sources it follows (Watcher), its log,
// and its HTTP side: /metrics (the report's gauges, as the textfile has
// them, plus the agent's own counters and timestamps), /healthz, /report
// and the HTML page at / (with the transitions of the last day), behind the Prometheus exporter toolkit's web configuration
// (TLS, basic auth).
package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/hostdrift/hostdrift/internal/report"
)

// State is what the agent knows after an evaluation. The server keeps the
// value it is given; the caller must not change it (nor its maps) later.
type State struct {
	// Report is the current judgement of the whole policy.
	Report *report.Report
	// LastChange says when each collector's reading last differed from the
	// one before; LastEvaluation when each was last read.
	LastChange, LastEvaluation map[string]time.Time
	// PolicyError is why the last policy reload failed ("" when it did
	// not): the previous policy is still the one judged.
	PolicyError string
}

// Server holds the current state and serves it.
type Server struct {
	mu    sync.RWMutex
	state State

	history history

	reg         *prometheus.Registry
	events      *prometheus.CounterVec
	evaluations prometheus.Counter
}

// New returns a server with no state yet: /healthz and /report answer 503
// until Set is called.
func New() *Server {
	s := &Server{
		history: history{since: time.Now()},
		reg:     prometheus.NewRegistry(),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hostdrift_events_total",
			Help: "Events received from each source (nftables, rtnetlink, inotify, systemd, docker, poll, policy).",
		}, []string{"source"}),
		evaluations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hostdrift_evaluations_total",
			Help: "Evaluations run: the first full one and one per batch of events.",
		}),
	}
	s.reg.MustRegister(s.events, s.evaluations, report.Collector{Families: s.families},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return s
}

// Set replaces the current state.
func (s *Server) Set(st State) {
	s.mu.Lock()
	s.state = st
	s.mu.Unlock()
}

// State returns the current state.
func (s *Server) State() State {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.state
}

// Event counts an event from source.
func (s *Server) Event(source string) { s.events.WithLabelValues(source).Inc() }

// Evaluated counts an evaluation.
func (s *Server) Evaluated() { s.evaluations.Inc() }

// Handler serves /metrics, /healthz, /report and the HTML page at /.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /report", s.report)
	mux.HandleFunc("GET /{$}", s.page)
	return mux
}

// Summary is the one-line summary /healthz answers with.
func Summary(r *report.Report) string {
	sm := r.Summary
	return fmt.Sprintf("hostdrift: %d checks: %d fail, %d error, %d pass, %d waived, %d skip", sm.Total, sm.Fail, sm.Error, sm.Pass, sm.Waived, sm.Skip)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	st := s.State()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if st.Report == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "hostdrift: no evaluation yet")
		return
	}
	line := Summary(st.Report)
	if st.PolicyError != "" {
		line += "; the last policy reload failed, the previous policy is judged"
	}
	if st.Report.Summary.Fail > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprintln(w, line)
}

func (s *Server) report(w http.ResponseWriter, _ *http.Request) {
	st := s.State()
	if st.Report == nil {
		http.Error(w, "hostdrift: no evaluation yet", http.StatusServiceUnavailable)
		return
	}
	var b bytes.Buffer
	if err := report.Render(&b, "json", st.Report, report.Options{}); err != nil {
		http.Error(w, "hostdrift: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b.Bytes())
}

// families are the current state's families: the report's, exactly as the
// textfile has them, and the agent's own gauges.
func (s *Server) families() []report.MetricFamily {
	st := s.State()
	perr := 0.0
	if st.PolicyError != "" {
		perr = 1
	}
	out := []report.MetricFamily{{Name: "hostdrift_policy_load_error", Type: report.Gauge,
		Help:    "1 when the last policy reload failed (the previous policy is still judged), 0 otherwise.",
		Samples: []report.MetricSample{{Value: perr}}}}
	if st.Report == nil {
		return out
	}
	out = append(out, report.MetricFamilies(st.Report)...)
	stamps := func(name, help string, m map[string]time.Time) {
		f := report.MetricFamily{Name: name, Help: help, Type: report.Gauge, Labels: []string{"collector"}}
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			f.Samples = append(f.Samples, report.MetricSample{LabelValues: []string{k}, Value: float64(m[k].UnixNano()) / 1e9})
		}
		out = append(out, f)
	}
	stamps("hostdrift_area_last_change_timestamp_seconds", "When each collector's reading last changed, in seconds since the epoch.", st.LastChange)
	stamps("hostdrift_area_last_evaluation_timestamp_seconds", "When each collector was last read and its checks judged, in seconds since the epoch.", st.LastEvaluation)
	return out
}

// ErrWebConfig marks Listen's errors about the web configuration file.
var ErrWebConfig = errors.New("bad web configuration")

// Listen binds addr (host:port), after validating the web configuration
// file when one is given, so both mistakes surface at startup. An error
// about the file wraps ErrWebConfig.
func Listen(addr, webConfig string) (net.Listener, error) {
	if webConfig != "" {
		if err := web.Validate(webConfig); err != nil {
			return nil, fmt.Errorf("--web-config %s: %w: %w", webConfig, ErrWebConfig, err)
		}
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", addr, err)
	}
	return l, nil
}

// Serve serves h on l, with TLS and basic auth from the exporter toolkit's
// webConfig file when given, until ctx ends.
func Serve(ctx context.Context, l net.Listener, h http.Handler, webConfig string, logger *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	no := false
	addrs := []string{l.Addr().String()}
	flags := &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &no, WebConfigFile: &webConfig}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		case <-done:
		}
	}()
	err := web.Serve(l, srv, flags, logger)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Loopback reports whether addr's host is a loopback address or localhost:
// anything else is reachable from the network.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
