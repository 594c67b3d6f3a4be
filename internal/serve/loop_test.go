package serve

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	_ "github.com/hostdrift/hostdrift/agent/all"
	"github.com/hostdrift/hostdrift/agent/watch"
	"github.com/hostdrift/hostdrift/internal/audit"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
	"github.com/hostdrift/hostdrift/internal/testkit/syncbuf"
	"github.com/hostdrift/hostdrift/rules"
)

const loopPolicy = `
cron "programs-exist" {
  require = ["program"]
}
listener "no-redis" {
  port    = 6379
  address = "public"
  expect  = "absent"
}
`

// loadFile loads the policy file at path, as serve's --policy does.
func loadFile(path string) func() (*rules.Policy, *rules.Variables, error) {
	return func() (*rules.Policy, *rules.Variables, error) {
		text, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, err
		}
		pol, diags := rules.Load([]rules.Source{{Name: path, Text: text}})
		if diags.HasErrors() {
			return nil, nil, diags
		}
		return pol, nil, nil
	}
}

// loopFixture is an agent loop over a fixture root (cron) and a fresh
// network namespace (listeners), started with one full evaluation.
func loopFixture(t *testing.T) (*Loop, string, string, *syncbuf.Buffer, *syncbuf.Buffer) {
	t.Helper()
	ns := nstest.New(t)
	root := t.TempDir()
	for _, d := range []string{"etc/cron.d", "usr/local/bin"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "usr/local/bin/backup"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	pol := filepath.Join(t.TempDir(), "site.hcl")
	if err := os.WriteFile(pol, []byte(loopPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb syncbuf.Buffer
	a := &Loop{
		Host:   audit.Host{Options: agent.Options{Env: agent.Env{Root: root, NetNS: ns.Path()}, Deadline: 10 * time.Second}},
		Load:   loadFile(pol),
		Server: New(),
		Log:    NewLog(&out, &errb, false),
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatalf("start: %v\n%s", err, errb.String())
	}
	return a, root, pol, &out, &errb
}

func statusOf(a *Loop, check string) finding.Status {
	for _, f := range a.Server.State().Report.Findings {
		if f.Check == check {
			return f.Status
		}
	}
	return "absent"
}

// TestServeLoopTransitions feeds the loop events by hand: a cron job whose
// program is missing flips the cron check and logs the transition with the
// event; a bad policy is reported and the previous one kept.
func TestServeLoopTransitions(t *testing.T) {
	a, root, pol, out, errb := loopFixture(t)
	ctx := context.Background()
	if s := statusOf(a, "cron.programs-exist"); s != finding.Pass {
		t.Fatalf("cron check %s at start, want pass\n%s", s, out.String())
	}
	job := filepath.Join(root, "etc/cron.d/backup")
	cronEvent := func(detail string) []watch.Event {
		return []watch.Event{{Source: "inotify", Collectors: []string{snapshot.CollectorCron}, Detail: detail, At: time.Now()}}
	}
	if err := os.WriteFile(job, []byte("0 1 * * * root /usr/local/bin/missing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a.Handle(ctx, cronEvent("/etc/cron.d/backup written"))
	if s := statusOf(a, "cron.programs-exist"); s != finding.Fail {
		t.Fatalf("cron check %s after a job with a missing program, want fail", s)
	}
	if !strings.Contains(out.String(), "cron.programs-exist pass -> fail (inotify: /etc/cron.d/backup written)") {
		t.Errorf("no transition line for the cron check:\n%s", out.String())
	}
	// An event for an area that did not change judges nothing again.
	evals := a.Server.State().LastChange[snapshot.CollectorCron]
	a.Handle(ctx, cronEvent("/etc/cron.d/backup touched"))
	if got := a.Server.State().LastChange[snapshot.CollectorCron]; !got.Equal(evals) {
		t.Errorf("an unchanged cron reading moved the last-change time")
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Errorf("want exactly one transition line:\n%s", out.String())
	}

	// A bad policy keeps the old one, and says so.
	if err := os.WriteFile(pol, []byte(`cron "programs-exist" { require = [`), 0o644); err != nil {
		t.Fatal(err)
	}
	a.Handle(ctx, []watch.Event{{Source: "policy", Policy: true, Detail: pol + " written"}})
	st := a.Server.State()
	if st.PolicyError == "" || !strings.Contains(errb.String(), "policy reload failed") {
		t.Errorf("a bad policy was not reported: %q\n%s", st.PolicyError, errb.String())
	}
	if s := statusOf(a, "cron.programs-exist"); s != finding.Fail {
		t.Errorf("the old policy was dropped: cron check %s", s)
	}
	if err := os.WriteFile(job, []byte("0 1 * * * root /usr/local/bin/backup\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a.Handle(ctx, cronEvent("/etc/cron.d/backup written"))
	if s := statusOf(a, "cron.programs-exist"); s != finding.Pass {
		t.Errorf("the old policy no longer judges after a bad reload: cron check %s", s)
	}
	// A good policy again: the error clears, a removed check is logged.
	if err := os.WriteFile(pol, []byte(`cron "programs-exist" { require = ["program"] }`), 0o644); err != nil {
		t.Fatal(err)
	}
	a.Handle(ctx, []watch.Event{{Source: "policy", Policy: true, Detail: pol + " written"}})
	if st := a.Server.State(); st.PolicyError != "" {
		t.Errorf("policy error still set after a good reload: %s", st.PolicyError)
	}
	if !strings.Contains(out.String(), "listener.no-redis pass -> removed") {
		t.Errorf("no line for the removed check:\n%s", out.String())
	}
}

// TestServeLoopMemoryBounded (bound: 1 MB) runs thousands of events through the loop and
// compares the live heap before and after: the loop keeps the current
// state, never a history.
func TestServeLoopMemoryBounded(t *testing.T) {
	a, root, _, _, _ := loopFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	batches := make(chan []watch.Event)
	done := make(chan struct{})
	a.Batches = batches
	go func() { a.Run(ctx); close(done) }()
	job := filepath.Join(root, "etc/cron.d/backup")
	feed := func(n int) {
		for i := range n {
			prog := "/usr/local/bin/backup"
			if i%2 == 1 {
				prog = "/usr/local/bin/missing"
			}
			if i%10 < 2 { // a real change every few events: re-judged, a transition
				if err := os.WriteFile(job, []byte("0 1 * * * root "+prog+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			batches <- []watch.Event{
				{Source: "inotify", Collectors: []string{snapshot.CollectorCron}, Detail: "/etc/cron.d/backup written"},
				{Source: "poll", Collectors: []string{snapshot.CollectorListeners}, Detail: "listeners every 1s"},
				{Source: "docker", Collectors: []string{snapshot.CollectorDocker}, Detail: "not read by this policy"},
			}
		}
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	feed(200) // warm up: the maps and buffers reach their size
	before := heap()
	feed(3000)
	after := heap()
	cancel()
	<-done
	if evals := a.Server.State().Report; evals == nil {
		t.Fatal("no report")
	}
	t.Logf("heap %d bytes before, %d after 3000 batches (9000 events)", before, after)
	if after > before+1<<20 {
		t.Errorf("the heap grew from %d to %d bytes over 3000 batches: the loop keeps what it should drop", before, after)
	}
}
