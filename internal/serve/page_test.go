package serve

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/report"
)

// TestPage: / is the HTML page, with its security headers, the current
// report, the transitions kept and links to the other endpoints; 503
// before the first evaluation.
func TestPage(t *testing.T) {
	s := New()
	h := s.Handler()
	if code, body := get(t, h, "/"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no evaluation yet") {
		t.Errorf("before any state: %d %q", code, body)
	}
	s.Set(State{Report: testReport(true), PolicyError: "site.hcl:3: <b>bad</b>"})
	s.Transition(report.Transition{Time: time.Now().UTC(), Check: "listener.redis", From: "pass", To: "fail", Cause: "poll: listeners", Explanation: "0.0.0.0:6379 <listens>"})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("/ %d", rec.Code)
	}
	for k, want := range map[string]string{"Content-Type": "text/html; charset=utf-8", "X-Content-Type-Options": "nosniff", "Content-Security-Policy": report.PageCSP} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src 'unsafe") {
		t.Errorf("CSP %q", csp)
	}
	for _, want := range []string{`<a href="/report">`, `<a href="/metrics">`, "listener.redis", "poll: listeners", "0.0.0.0:6379 &lt;listens&gt;", "site.hcl:3: &lt;b&gt;bad&lt;/b&gt;", `<section id="fail">`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if code, _ := get(t, h, "/nothing"); code != http.StatusNotFound {
		t.Errorf("/nothing %d, want 404", code)
	}
}

// TestHistoryBounded: the history keeps the last day and at most
// historyMax transitions, and cuts long explanations.
func TestHistoryBounded(t *testing.T) {
	var h history
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	h.add(report.Transition{Time: t0, Check: "old"})
	h.add(report.Transition{Time: t0.Add(time.Hour), Check: "kept", Explanation: strings.Repeat("é", historyExplanation)})
	got := h.list(t0.Add(historyWindow + time.Minute))
	if len(got) != 1 || got[0].Check != "kept" {
		t.Fatalf("after a day: %v, want only the transition within the window", got)
	}
	if e := got[0].Explanation; len(e) > historyExplanation+100 || !strings.HasPrefix(e, "é") || !strings.Contains(e, "cut here") || strings.ContainsRune(e, '\uFFFD') {
		t.Errorf("a long explanation kept as %d bytes: %.40q", len(e), e)
	}
	for i := range historyMax + 50 {
		h.add(report.Transition{Time: t0.Add(2*time.Hour + time.Duration(i)*time.Second), Check: fmt.Sprint(i)})
	}
	got = h.list(t0.Add(3 * time.Hour))
	if len(got) != historyMax || got[0].Check != "50" || got[len(got)-1].Check != fmt.Sprint(historyMax+49) {
		t.Errorf("%d kept, first %s: want the newest %d", len(got), got[0].Check, historyMax)
	}
}
