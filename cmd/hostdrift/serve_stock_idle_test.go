package main

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pollSources are the poll sources that may send events on a host at rest
// (their Event.Source is "poll"): listening sockets, iptables-legacy rules,
// live kernel parameters, DNS answers.
const pollSources = 4

// idleSample is what the idle check reads at each end of its window.
type idleSample struct {
	at          time.Time
	events      map[string]float64
	evaluations float64
	// cpuTicks is the serve process's utime+stime (/proc/PID/stat), in
	// clock ticks; rssKB its VmRSS.
	cpuTicks, rssKB int64
}

// checkIdle reads the event and evaluation counters twice, stockIdle
// apart, with nothing happening on the host: only the polls may have sent
// events, at most as often as their interval allows; any event from
// another source is hostdrift feeding on its own reads (or a change the
// stock host made, which the test then names).
func (a *stockAgent) checkIdle(t *testing.T, when string, idle time.Duration) {
	t.Helper()
	pid := a.host.Exec("systemctl", "show", "-P", "MainPID", "hostdrift-serve.service")
	if n, err := strconv.Atoi(pid); err != nil || n <= 0 {
		t.Fatalf("MainPID of hostdrift-serve.service: %q", pid)
	}
	// Let the start settle: the first polls, the unit's own start.
	time.Sleep(2 * stockServePoll)
	before := a.sample(t, pid)
	time.Sleep(idle)
	after := a.sample(t, pid)
	window := after.at.Sub(before.at)

	var lines []string
	sources := map[string]bool{}
	for s := range before.events {
		sources[s] = true
	}
	for s := range after.events {
		sources[s] = true
	}
	var names []string
	for s := range sources {
		names = append(names, s)
	}
	sort.Strings(names)
	var polls float64
	for _, s := range names {
		d := after.events[s] - before.events[s]
		lines = append(lines, s+"="+strconv.FormatFloat(d, 'f', -1, 64))
		if s == "poll" {
			polls = d
			continue
		}
		if d != 0 {
			t.Errorf("idle %s: %v events from %s while nothing changed on the host: hostdrift feeds on its own reads", when, d, s)
		}
	}
	perSource := 2*window.Seconds()/stockServePoll.Seconds() + 2
	if limit := pollSources * perSource; polls > limit {
		t.Errorf("idle %s: %v poll events in %s, more than %v (%d poll sources, every %s)", when, polls, window.Round(time.Second), limit, pollSources, stockServePoll)
	}
	evals := after.evaluations - before.evaluations
	if evals > polls {
		t.Errorf("idle %s: %v evaluations for %v events: evaluations without events", when, evals, polls)
	}
	ticks := after.cpuTicks - before.cpuTicks
	t.Logf("idle %s, %s: events %s; evaluations %v; CPU %.2f s (/proc/%s/stat, 100 ticks/s); RSS %d KiB before, %d KiB after",
		when, window.Round(time.Millisecond), strings.Join(lines, " "), evals, float64(ticks)/100, pid, before.rssKB, after.rssKB)
	if when == "after the start" {
		_, body, _ := a.get("/metrics")
		t.Logf("collector durations of the last readings:\n%s", grepLines(body, "^hostdrift_collector_duration_seconds"))
	}
	if code, body, _ := a.get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz after idle %s: %d %q, want 200", when, code, body)
	}
}

// events are the event counters of /metrics, per source.
func (a *stockAgent) events(t *testing.T) map[string]float64 {
	t.Helper()
	return a.sample(t, "").events
}

// sample reads the counters of /metrics and the process's CPU time and RSS.
func (a *stockAgent) sample(t *testing.T, pid string) idleSample {
	t.Helper()
	s := idleSample{at: time.Now(), events: map[string]float64{}}
	code, body, err := a.get("/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("/metrics: %d %v", code, err)
	}
	for _, l := range strings.Split(body, "\n") {
		name, val, ok := strings.Cut(l, " ")
		if !ok || strings.HasPrefix(l, "#") {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		if src, ok := strings.CutPrefix(name, `hostdrift_events_total{source="`); ok {
			s.events[strings.TrimSuffix(src, `"}`)] = v
		} else if name == "hostdrift_evaluations_total" {
			s.evaluations = v
		}
	}
	if pid == "" {
		return s
	}
	stat := a.host.Exec("cat", "/proc/"+pid+"/stat")
	// The fields after the command name (which may hold spaces): state is
	// field 3, utime 14 and stime 15.
	if i := strings.LastIndexByte(stat, ')'); i >= 0 {
		f := strings.Fields(stat[i+1:])
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			st, _ := strconv.ParseInt(f[12], 10, 64)
			s.cpuTicks = u + st
		}
	}
	for _, l := range strings.Split(a.host.Exec("cat", "/proc/"+pid+"/status"), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			s.rssKB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return s
}
