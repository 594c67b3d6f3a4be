package serve

import (
	"bytes"
	"net/http"
	"sync"
	"time"

	"github.com/hostdrift/hostdrift/internal/report"
)

// historyWindow is how far back the page lists transitions.
const historyWindow = 24 * time.Hour

// historyMax bounds the transitions kept, whatever the window holds: a
// flapping check cannot make the history grow without end.
const historyMax = 500

// historyExplanation bounds one kept explanation, in bytes: the log line has
// it whole.
const historyExplanation = 2000

// history is the findings' transitions of the last historyWindow, at most
// historyMax of them, oldest first: the only past serve keeps.
type history struct {
	mu      sync.Mutex
	since   time.Time
	entries []report.Transition
}

// add keeps t, and drops what fell out of the window or the bound.
func (h *history) add(t report.Transition) {
	if len(t.Explanation) > historyExplanation {
		cut := historyExplanation
		for cut > 0 && t.Explanation[cut]&0xc0 == 0x80 {
			cut-- // not inside a UTF-8 sequence
		}
		t.Explanation = t.Explanation[:cut] + " … (cut here: the log line has it whole)"
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.entries = append(h.entries, t)
	h.prune(t.Time)
}

func (h *history) prune(now time.Time) {
	drop := 0
	for drop < len(h.entries) && (now.Sub(h.entries[drop].Time) > historyWindow || len(h.entries)-drop > historyMax) {
		drop++
	}
	if drop > 0 {
		h.entries = append([]report.Transition(nil), h.entries[drop:]...)
	}
}

// list returns the transitions of the window before now, oldest first.
func (h *history) list(now time.Time) []report.Transition {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.prune(now)
	return append([]report.Transition(nil), h.entries...)
}

// Transition records one transition for the page.
func (s *Server) Transition(t report.Transition) { s.history.add(t) }

// pageHeaders are the page's response headers: its Content-Security-Policy
// allows no script and no style but its own, and the browser must not guess
// another type than HTML.
var pageHeaders = map[string]string{
	"Content-Type":            "text/html; charset=utf-8",
	"Content-Security-Policy": report.PageCSP,
	"X-Content-Type-Options":  "nosniff",
	"Referrer-Policy":         "no-referrer",
	"Cache-Control":           "no-store",
}

// page serves the HTML page: the current report, when the host was last
// read, and the transitions of the last day.
func (s *Server) page(w http.ResponseWriter, _ *http.Request) {
	for k, v := range pageHeaders {
		w.Header().Set(k, v)
	}
	st := s.State()
	if st.Report == nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("hostdrift: no evaluation yet\n"))
		return
	}
	now := time.Now()
	var last time.Time
	for _, t := range st.LastEvaluation {
		if t.After(last) {
			last = t
		}
	}
	p := report.Page{Report: st.Report, Served: true, LastEvaluated: last, Transitions: s.history.list(now),
		Since: s.history.since, PolicyError: st.PolicyError, Now: now}
	var b bytes.Buffer
	if err := report.WritePage(&b, p); err != nil {
		http.Error(w, "hostdrift: "+err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(b.Bytes())
}
