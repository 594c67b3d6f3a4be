package serve

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/promtool"
)

func testReport(fail bool) *report.Report {
	st := finding.Pass
	if fail {
		st = finding.Fail
	}
	snap := &snapshot.Snapshot{Version: "1.2.3", Collectors: []snapshot.CollectorStatus{
		{Name: "listeners", Status: snapshot.StatusOK, DurationMS: 12.5},
		{Name: "firewall", Status: snapshot.StatusError, Reason: "no permission", DurationMS: 3},
	}}
	return report.New(snap, []finding.Finding{
		{Check: "listener.redis", Kind: "listener", Status: st, Severity: finding.Critical},
		{Check: "egress.smtp", Kind: "egress", Status: finding.Error, Severity: finding.Warning},
	}, []string{"p.hcl"}, time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC), 250*time.Millisecond)
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

func TestHealthz(t *testing.T) {
	s := New()
	h := s.Handler()
	if code, body := get(t, h, "/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no evaluation yet") {
		t.Errorf("before any state: %d %q", code, body)
	}
	s.Set(State{Report: testReport(false)})
	if code, body := get(t, h, "/healthz"); code != http.StatusOK || body != "hostdrift: 2 checks: 0 fail, 1 error, 1 pass, 0 waived, 0 skip\n" {
		t.Errorf("no fail (an error only): %d %q, want 200", code, body)
	}
	s.Set(State{Report: testReport(true), PolicyError: "site.hcl:3: bad"})
	if code, body := get(t, h, "/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "1 fail") || !strings.Contains(body, "policy reload failed") {
		t.Errorf("a fail: %d %q, want 503", code, body)
	}
}

func TestReportEndpoint(t *testing.T) {
	s := New()
	s.Set(State{Report: testReport(true)})
	code, body := get(t, s.Handler(), "/report")
	var want bytes.Buffer
	if err := report.Render(&want, "json", testReport(true), report.Options{}); err != nil {
		t.Fatal(err)
	}
	if code != http.StatusOK || body != want.String() {
		t.Errorf("/report %d:\n%s\nwant the json report:\n%s", code, body, want.String())
	}
}

// TestMetricsMatchTextfile: every family and series of --format prometheus
// is on /metrics with the same value, and the agent's own are there too.
func TestMetricsMatchTextfile(t *testing.T) {
	s := New()
	at := time.Date(2026, 11, 30, 14, 0, 5, 0, time.UTC)
	s.Set(State{Report: testReport(true), PolicyError: "bad",
		LastChange:     map[string]time.Time{"listeners": at},
		LastEvaluation: map[string]time.Time{"listeners": at, "firewall": at}})
	s.Event("nftables")
	s.Event("nftables")
	s.Evaluated()
	_, body := get(t, s.Handler(), "/metrics")
	parse := func(text string) map[string]map[string]float64 {
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
		if err != nil {
			t.Fatalf("%v\n%s", err, text)
		}
		out := map[string]map[string]float64{}
		for name, f := range fams {
			out[name] = map[string]float64{}
			for _, m := range f.Metric {
				var key []string
				for _, l := range m.Label {
					key = append(key, l.GetName()+"="+l.GetValue())
				}
				v := m.GetGauge().GetValue()
				if m.Counter != nil {
					v = m.GetCounter().GetValue()
				}
				sort.Strings(key) // the textfile writes status before severity
				out[name][strings.Join(key, ",")] = v
			}
		}
		return out
	}
	served := parse(body)
	var text bytes.Buffer
	if err := report.Render(&text, "prometheus", testReport(true), report.Options{}); err != nil {
		t.Fatal(err)
	}
	for name, series := range parse(text.String()) {
		for k, v := range series {
			if got, ok := served[name][k]; !ok || got != v {
				t.Errorf("%s{%s}: /metrics has %v (present %v), the textfile %v", name, k, got, ok, v)
			}
		}
		if len(served[name]) != len(series) {
			t.Errorf("%s: %d series on /metrics, %d in the textfile", name, len(served[name]), len(series))
		}
	}
	for name, want := range map[string]map[string]float64{
		"hostdrift_policy_load_error":                      {"": 1},
		"hostdrift_events_total":                           {"source=nftables": 2},
		"hostdrift_evaluations_total":                      {"": 1},
		"hostdrift_area_last_change_timestamp_seconds":     {"collector=listeners": float64(at.Unix())},
		"hostdrift_area_last_evaluation_timestamp_seconds": {"collector=firewall": float64(at.Unix())},
	} {
		for k, v := range want {
			if got := served[name][k]; got != v {
				t.Errorf("%s{%s} = %v, want %v", name, k, got, v)
			}
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := served[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// TestMetricsTypesAndLint: each family is a counter or a gauge as its
// meaning says (totals since the start grow; states are gauges), and
// promtool check metrics finds /metrics clean.
func TestMetricsTypesAndLint(t *testing.T) {
	s := New()
	at := time.Date(2026, 11, 30, 14, 0, 5, 0, time.UTC)
	s.Set(State{Report: testReport(true), LastChange: map[string]time.Time{"listeners": at}, LastEvaluation: map[string]time.Time{"listeners": at}})
	s.Event("inotify")
	s.Evaluated()
	_, body := get(t, s.Handler(), "/metrics")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range fams {
		if !strings.HasPrefix(name, "hostdrift_") {
			continue
		}
		want := dto.MetricType_GAUGE
		if strings.HasSuffix(name, "_total") {
			want = dto.MetricType_COUNTER
		}
		if f.GetType() != want {
			t.Errorf("%s is a %v, want a %v", name, f.GetType(), want)
		}
	}
	for _, name := range []string{"hostdrift_events_total", "hostdrift_evaluations_total", "hostdrift_last_run_timestamp_seconds", "hostdrift_policy_load_error", "hostdrift_finding_info"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	promtool.CheckMetrics(t, "/metrics", body)
}

func TestListenRefusesBadWebConfig(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(bad, []byte("tls_server_config:\n  cert_file: /nonexistent.crt\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Listen("127.0.0.1:0", bad)
	if err == nil {
		l.Close()
		t.Fatal("a web configuration without a key was accepted")
	}
	if !errors.Is(err, ErrWebConfig) || !strings.Contains(err.Error(), bad) {
		t.Errorf("error %v: want ErrWebConfig naming the file", err)
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8731": true, "[::1]:8731": true, "localhost:8731": true,
		":8731": false, "0.0.0.0:8731": false, "192.0.2.1:8731": false, "nonsense": false,
	} {
		if got := Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
