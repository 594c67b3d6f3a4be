package serve

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/hostdrift/hostdrift/internal/report"
)

// Log writes serve's lines: transitions on stdout (the journal under
// systemd), everything else on stderr, as text or JSON lines.
type Log struct {
	mu     sync.Mutex
	out    io.Writer
	err    io.Writer
	asJSON bool
	// Slog writes the agent's own messages (and the HTTP server's) to
	// stderr, in the log's format.
	Slog *slog.Logger
}

// NewLog returns a log writing transitions to stdout and messages to
// stderr, as JSON lines when asJSON is set.
func NewLog(stdout, stderr io.Writer, asJSON bool) *Log {
	l := &Log{out: stdout, err: stderr, asJSON: asJSON}
	var h slog.Handler = slog.NewTextHandler(lockedWriter{l}, nil)
	if asJSON {
		h = slog.NewJSONHandler(lockedWriter{l}, nil)
	}
	l.Slog = slog.New(h)
	return l
}

// lockedWriter writes to the log's stderr under its lock.
type lockedWriter struct{ l *Log }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	return w.l.err.Write(p)
}

// transitionLine is one transition, as JSON lines have it.
type transitionLine struct {
	Time        string `json:"time"`
	Check       string `json:"check"`
	From        string `json:"from"`
	To          string `json:"to"`
	Event       string `json:"event"`
	Explanation string `json:"explanation"`
}

// Transition writes one transition of a finding on stdout.
func (l *Log) Transition(tr report.Transition) {
	t := tr.Time.UTC().Format(time.RFC3339Nano)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.asJSON {
		b, _ := json.Marshal(transitionLine{t, tr.Check, tr.From, tr.To, tr.Cause, tr.Explanation})
		fmt.Fprintf(l.out, "%s\n", b)
		return
	}
	fmt.Fprintf(l.out, "%s %s %s -> %s (%s) %s\n", t, tr.Check, tr.From, tr.To, tr.Cause, oneLine(tr.Explanation))
}

// Message writes a line about the agent itself on stderr.
func (l *Log) Message(format string, args ...any) {
	l.Slog.Info(fmt.Sprintf(format, args...))
}

// oneLine keeps a log line one line.
func oneLine(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\n' || c == '\r' {
			b[i] = ' '
		}
	}
	return string(b)
}
