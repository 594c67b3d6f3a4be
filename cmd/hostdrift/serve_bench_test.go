package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/bench/bighost"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// Targets from issue 21.
const (
	targetIdleCPU  = 500 * time.Millisecond // CPU used over idleWindow
	targetRSSRatio = 1.10                   // RSS after benchEvents events over RSS after startup
	idleWindow     = 60 * time.Second
	benchEvents    = 1000
	benchChanges   = 20 // per source, half making a check fail, half making it pass
	// benchListenersEvery is the listener poll of the listener latency phase (the
	// default, 15 s, would make 20 changes take minutes; latency is about
	// half the interval plus an evaluation, whatever the interval).
	benchListenersEvery = 2 * time.Second
)

// BenchmarkServe measures hostdrift serve on a small host (an empty
// namespace and a fixture root) and on issue 10's big host (scale 1:
// 20,000 iptables-nft, 2,000 iptables-legacy and 2,000 nftables rules,
// 10,000 listeners and 20,000 connections, 1,000 cron entries and 300
// timers): the detection latency per source (median and worst of 20
// changes: an nftables rule, a cron.d file, a listener), the CPU the agent
// uses over 60 idle seconds (its default intervals), and its RSS after
// 1,000 events against its RSS after startup. Each runs once, whatever b.N.
func BenchmarkServe(b *testing.B) {
	b.Run("small", func(b *testing.B) {
		if serveBenchRan["small"] {
			return // make bench's -benchtime 5x calls it again: the figures are measured once
		}
		serveBenchRan["small"] = true
		nstest.RequireCommand(b, "nft")
		ns := nstest.New(b)
		root := b.TempDir()
		for _, d := range []string{"etc/cron.d", "usr/local/bin"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				b.Fatal(err)
			}
		}
		measureServe(b, "small host", ns, root)
	})
	b.Run("bighost", func(b *testing.B) {
		if serveBenchRan["bighost"] {
			return
		}
		serveBenchRan["bighost"] = true
		benchBigHost(b)
	})
}

// benchBigHost builds the big host and measures serve on it.
func benchBigHost(b *testing.B) {
	nstest.RequireCommand(b, "nft")
	nstest.RequireCommand(b, "iptables-nft-restore")
	nstest.RequireCommand(b, "iptables-legacy-restore")
	ns := nstest.New(b)
	root := b.TempDir()
	load := func(text string, argv ...string) {
		cmd := ns.Command(argv[0], argv[1:]...)
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%.2000s", argv, err, out)
		}
	}
	started := time.Now()
	load(bighost.IptablesNft(1), "iptables-nft-restore")
	load(bighost.IptablesLegacy(1), "iptables-legacy-restore")
	load(bighost.Nft(1), "nft", "-f", "-")
	for _, specs := range bighost.SocketSpecs(1) {
		ns.Listen(b, specs...)
	}
	for _, w := range []func(string) error{bighost.WriteBase, func(d string) error { return bighost.WriteCron(d, 1) }, func(d string) error { return bighost.WriteTimers(d, 1) }} {
		if err := w(root); err != nil {
			b.Fatal(err)
		}
	}
	// The big host's jobs name some programs that do not exist (check's
	// bench wants that fail); here the cron check starts passing, so that
	// a job added with a missing program flips it.
	jobs, _ := filepath.Glob(filepath.Join(root, "etc/cron.d/*"))
	prog := regexp.MustCompile(`/usr/local/bin/bench-job-[0-9]+`)
	for _, j := range jobs {
		raw, err := os.ReadFile(j)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range prog.FindAllString(string(raw), -1) {
			if _, err := os.Stat(filepath.Join(root, p)); err != nil {
				if err := os.WriteFile(filepath.Join(root, p), []byte("#!/bin/sh\n"), 0o755); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	fmt.Printf("serve bench: big host (scale 1) built in %s\n", time.Since(started).Round(time.Second))
	measureServe(b, "big host", ns, root)
}

// measureServe runs hostdrift serve on the host (ns and root) and prints
// the figures.
func measureServe(b *testing.B, host string, ns *nstest.NS, root string) {
	pol := filepath.Join(b.TempDir(), "bench.hcl")
	if err := os.WriteFile(pol, []byte(servePolicy), 0o644); err != nil {
		b.Fatal(err)
	}
	base := []string{"--no-builtin", "--policy", pol, "--root", root}

	job := filepath.Join(root, "etc/cron.d/zz-serve-bench")
	var l *nstest.Listener
	type source struct {
		name, check, deadline string
		fail, pass            func()
	}
	nftSrc := source{"nftables rule", "egress.smtp", "2s",
		func() {
			ns.Run(b, "nft", "add table inet hdbench; add chain inet hdbench out { type filter hook output priority 0; }; add rule inet hdbench out tcp dport 587 drop")
		},
		func() { ns.Run(b, "nft", "delete table inet hdbench") }}
	cronSrc := source{"cron.d file", "cron.programs-exist", "2s",
		func() {
			if err := os.WriteFile(job, []byte("0 1 * * * root /usr/local/bin/serve-bench-missing\n"), 0o644); err != nil {
				b.Fatal(err)
			}
		},
		func() {
			if err := os.Remove(job); err != nil {
				b.Fatal(err)
			}
		}}
	listenerSrc := source{"listener (poll " + benchListenersEvery.String() + ")", "listener.no-redis", (benchListenersEvery + 2*time.Second).String(),
		func() { l = ns.Listen(b, "tcp4:0.0.0.0:6379") },
		func() { l.Stop() }}
	type figure struct {
		source, deadline string
		median, worst    time.Duration
	}
	var figs []figure
	// latency makes benchChanges changes of src, each time polling
	// /metrics until the check flips.
	latency := func(s *servedAgent, src source) {
		var lat []time.Duration
		for i := range benchChanges {
			change, want := src.fail, "fail"
			if i%2 == 1 {
				change, want = src.pass, "pass"
			}
			t0 := time.Now()
			change()
			lat = append(lat, s.flipLatency(b, checkStatusRE(src.check, want), t0, time.Minute))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		figs = append(figs, figure{src.name, src.deadline, lat[len(lat)/2], lat[len(lat)-1]})
	}

	// With the default intervals: RSS after startup, idle CPU, the latency
	// of the event sources, RSS after benchEvents events. With
	// HOSTDRIFT_SERVE_BENCH_PROFILE=DIR, this process's CPU and allocation
	// profiles are written there.
	var env []string
	if dir := os.Getenv("HOSTDRIFT_SERVE_BENCH_PROFILE"); dir != "" {
		env = []string{"HOSTDRIFT_CPUPROFILE=" + filepath.Join(dir, "serve.cpu"), "HOSTDRIFT_MEMPROFILE=" + filepath.Join(dir, "serve.mem")}
	}
	s := startServe(b, ns, env, base...)
	for _, c := range []string{"egress.smtp", "cron.programs-exist", "listener.no-redis"} {
		s.waitMetric(b, c+" at start", checkStatusRE(c, "pass"), time.Now(), time.Minute)
	}
	time.Sleep(5 * time.Second) // let startup's garbage be collected
	rss0 := procRSS(b, s.pid)
	cpu0 := procCPU(b, s.pid)
	time.Sleep(idleWindow)
	idle := procCPU(b, s.pid) - cpu0
	latency(s, nftSrc)
	latency(s, cronSrc)
	// benchEvents events: bursts of ten cron.d files written, each burst
	// one evaluation.
	for i := range benchEvents / 10 {
		for k := range 10 {
			f := filepath.Join(root, fmt.Sprintf("etc/cron.d/zz-serve-bench-%d", k))
			if err := os.WriteFile(f, []byte(fmt.Sprintf("%d 1 * * * root /usr/local/bin/bench-job-0000\n", i%60)), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	s.waitMetric(b, "events counted", regexp.MustCompile(`(?m)^hostdrift_events_total\{source="inotify"\} ([0-9]{4,}|[0-9]+e\+0[3-9])$`), time.Now(), time.Minute)
	time.Sleep(3 * time.Second)
	rss1 := procRSS(b, s.pid)
	_, metrics, _ := s.get("/metrics")
	evals := regexp.MustCompile(`(?m)^hostdrift_evaluations_total (\S+)$`).FindStringSubmatch(metrics)
	s.stop()

	// The listener poll's latency, with a short interval (the default,
	// 15 s, would make 20 changes take minutes).
	s = startServe(b, ns, nil, append(base, "--listeners-every", benchListenersEvery.String())...)
	s.waitMetric(b, "listener.no-redis at start", checkStatusRE("listener.no-redis", "pass"), time.Now(), time.Minute)
	latency(s, listenerSrc)
	s.stop()

	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Printf("serve bench, %s: detection latency, %d changes per source (change to /metrics flipped)\n", host, benchChanges)
	for _, f := range figs {
		d, _ := time.ParseDuration(f.deadline)
		fmt.Printf("  %-24s median %6s  worst %6s  (deadline %s: %s)\n", f.source, f.median.Round(time.Millisecond), f.worst.Round(time.Millisecond), f.deadline, met(f.worst <= d))
		b.ReportMetric(float64(f.median.Milliseconds()), strings.Fields(f.source)[0]+"-median-ms")
		b.ReportMetric(float64(f.worst.Milliseconds()), strings.Fields(f.source)[0]+"-worst-ms")
	}
	fmt.Printf("  idle CPU over %s: %.3f s (target < %.1f s: %s)\n", idleWindow, idle.Seconds(), targetIdleCPU.Seconds(), met(idle < targetIdleCPU))
	ratio := float64(rss1) / float64(rss0)
	fmt.Printf("  RSS after startup %.1f MB, after %d events (%s evaluations) %.1f MB: x%.2f (target <= x%.2f: %s)\n",
		float64(rss0)/(1<<20), benchEvents, evals[1], float64(rss1)/(1<<20), ratio, targetRSSRatio, met(ratio <= targetRSSRatio))
	for _, c := range []string{"firewall", "listeners", "cron"} {
		if m := regexp.MustCompile(`(?m)^hostdrift_collector_duration_seconds\{collector="` + c + `"\} (\S+)$`).FindStringSubmatch(metrics); m != nil {
			fmt.Printf("  last %s reading took %s s\n", c, m[1])
		}
	}
	b.ReportMetric(idle.Seconds(), "idle-cpu-s")
	b.ReportMetric(ratio, "rss-ratio")
}

// serveBenchRan records which of BenchmarkServe's hosts were measured.
var serveBenchRan = map[string]bool{}

// flipLatency polls /metrics until re matches and returns the time since t0.
func (s *servedAgent) flipLatency(b testing.TB, re *regexp.Regexp, t0 time.Time, limit time.Duration) time.Duration {
	b.Helper()
	for {
		_, body, err := s.get("/metrics")
		if err == nil && re.MatchString(body) {
			return time.Since(t0)
		}
		if time.Since(t0) > limit {
			b.Fatalf("/metrics did not show %s within %s", re, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// procCPU is the process's user and system CPU time, from /proc/PID/stat.
func procCPU(b testing.TB, pid int) time.Duration {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 14th and 15th fields of the line.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, raw)
	}
	hz := clockTicks(b)
	return time.Duration(ut+st) * time.Second / time.Duration(hz)
}

// clockTicks is the kernel's USER_HZ, as getconf reports it.
func clockTicks(b testing.TB) int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		return 100
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || n <= 0 {
		return 100
	}
	return n
}

// procRSS is the process's resident set, from /proc/PID/status, in bytes.
func procRSS(b testing.TB, pid int) int64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatalf("/proc/%d/status has no VmRSS", pid)
	return 0
}
