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
	// timersRead is when the timers area was last read.
	timersRead float64
	// cpuTicks is the serve process's utime+stime (/proc/PID/stat), in
	// clock ticks; rssKB its VmRSS.
	cpuTicks, rssKB int64
	// space is the free space of the host's file systems in the steps the
	// mounts source reports (whole GB, whole percent), as df shows them.
	space string
}

// stockWindow is one window of checkIdle.
type stockWindow struct {
	when string
	idle time.Duration
	// fromStart: no event but the polls since hostdrift started, its own
	// first reading of the host included.
	fromStart bool
	// provoke, when set, makes hostdrift read the host again in the
	// window (a change only inotify reports) and returns how many inotify
	// events it may cause; the timers area must then have been read
	// again, over D-Bus, with no event from systemd.
	provoke func() float64
}

// checkIdle reads the event and evaluation counters at both ends of a
// window in which nothing happens on the host (but what w.provoke does):
// only the polls may have sent events, at most as often as their interval
// allows; any event from another source is hostdrift feeding on its own
// reads (or a change the stock host made, which the test then names).
func (a *stockAgent) checkIdle(t *testing.T, w stockWindow) {
	t.Helper()
	pid := a.host.Exec("systemctl", "show", "-P", "MainPID", "hostdrift-serve.service")
	if n, err := strconv.Atoi(pid); err != nil || n <= 0 {
		t.Fatalf("MainPID of hostdrift-serve.service: %q", pid)
	}
	// Let what came before settle: the first polls, the last change.
	time.Sleep(2 * stockServePoll)
	before := a.sample(t, pid)
	allowInotify := 0.0
	if w.provoke != nil {
		allowInotify = w.provoke()
	}
	time.Sleep(w.idle)
	after := a.sample(t, pid)
	window := after.at.Sub(before.at)

	if w.fromStart {
		for s, n := range before.events {
			if s != "poll" && n != 0 {
				t.Errorf("idle %s: %v events from %s since hostdrift started, on a host where nothing changed: hostdrift's own first reading of the host came back to it", w.when, n, s)
			}
		}
	}
	sources := map[string]bool{}
	for s := range before.events {
		sources[s] = true
	}
	for s := range after.events {
		sources[s] = true
	}
	var names, lines []string
	for s := range sources {
		names = append(names, s)
	}
	sort.Strings(names)
	var polls, others float64
	for _, s := range names {
		d := after.events[s] - before.events[s]
		lines = append(lines, s+"="+strconv.FormatFloat(d, 'f', -1, 64))
		switch {
		case s == "poll":
			polls = d
		case s == "inotify" && d <= allowInotify:
			others += d
		case s == "mounts" && d != 0 && before.space != after.space:
			// The shared disk's free space crossed a step: a change of the
			// host's, not hostdrift's own.
			t.Logf("idle %s: %v events from mounts, as the free space moved from %q to %q", w.when, d, before.space, after.space)
			others += d
		case d != 0:
			t.Errorf("idle %s: %v events from %s while nothing changed on the host (but %v inotify events allowed): hostdrift feeds on its own reads", w.when, d, s, allowInotify)
			others += d
		}
	}
	perSource := 2*window.Seconds()/stockServePoll.Seconds() + 2
	if limit := pollSources * perSource; polls > limit {
		t.Errorf("idle %s: %v poll events in %s, more than %v (%d poll sources, every %s)", w.when, polls, window.Round(time.Second), limit, pollSources, stockServePoll)
	}
	// An event counted just before the window may be judged in it: one
	// evaluation more than the window's events is that one.
	evals := after.evaluations - before.evaluations
	if evals > polls+others+1 {
		t.Errorf("idle %s: %v evaluations for %v events: evaluations without events", w.when, evals, polls+others)
	}
	if w.provoke != nil && after.timersRead <= before.timersRead {
		t.Errorf("idle %s: the timers area was not read again after the change (last read %v, before %v): the window proves nothing about systemd", w.when, after.timersRead, before.timersRead)
	}
	ticks := after.cpuTicks - before.cpuTicks
	t.Logf("idle %s, %s: events %s; evaluations %v; CPU %.2f s (/proc/%s/stat, 100 ticks/s); RSS %d KiB before, %d KiB after",
		w.when, window.Round(time.Millisecond), strings.Join(lines, " "), evals, float64(ticks)/100, pid, before.rssKB, after.rssKB)
	if w.fromStart {
		_, body, _ := a.get("/metrics")
		t.Logf("collector durations of the last readings:\n%s", grepLines(body, "^hostdrift_collector_duration_seconds"))
	}
	if code, body, _ := a.get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz after idle %s: %d %q, want 200", w.when, code, body)
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
		}
		switch name {
		case "hostdrift_evaluations_total":
			s.evaluations = v
		case `hostdrift_area_last_evaluation_timestamp_seconds{collector="timers"}`:
			s.timersRead = v
		}
	}
	if pid == "" {
		return s
	}
	// The host's disk is this machine's, shared with every other test:
	// its free space moves on its own, and crossing a step is a real event.
	s.space = a.host.Exec("sh", "-c", "df -P -B1 2>/dev/null | awk 'NR>1 {printf \"%s %d %s\\n\", $6, $4/1e9, $5}'")
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
