package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/testkit/debroot"
	"github.com/hostdrift/hostdrift/internal/testkit/dockertest"
)

// BenchmarkStockCheck times the built-in check, and its services and
// timers collectors, on the stock Debian 12 server of the corpus booted
// with systemd as PID 1: the run users make most. The reference, run in
// the same container in the same iteration, is systemctl listing every
// unit and every timer (list-units --all, list-timers --all), which asks
// systemd what the two collectors ask. Times are taken inside the
// container (bash's time, the collectors' own durations), so docker
// exec's start-up is in neither side. Set HOSTDRIFT_STOCKBENCH_SNAPSHOTS
// to a folder to keep the host's services and timers snapshot there, to
// compare two versions' readings of the same host.
func BenchmarkStockCheck(b *testing.B) {
	e := dockertest.Start(b)
	bin := binary(b)
	root := rootBookworm
	img := "hostdrift-test/stock-bench:latest"
	e.Import(b, debroot.CachedSuite(b, root.suite, root.include...), img)
	host := e.BootSystemd(b, img, hostCaps...)
	e.Docker(b, "cp", bin, host.ID+":/usr/local/bin/hostdrift")
	// One run first: the page cache and systemd's own caches warm, as on a
	// host that has been up for a while.
	host.Exec("/usr/local/bin/hostdrift", "check", "--format", "json", "--output", "/dev/null")

	timed := func(cmd string) time.Duration {
		out := host.Exec("bash", "-c", "TIMEFORMAT=%R; { time "+cmd+" >/dev/null 2>&1; } 2>&1")
		s, err := strconv.ParseFloat(strings.TrimSpace(out[strings.LastIndex(out, "\n")+1:]), 64)
		if err != nil {
			b.Fatalf("time %s: %q", cmd, out)
		}
		return time.Duration(s * float64(time.Second))
	}
	var checks, refs, services, timers, others []time.Duration
	for b.Loop() {
		checks = append(checks, timed("/usr/local/bin/hostdrift check"))
		refs = append(refs, timed("sh -c 'systemctl list-units --all --no-pager; systemctl list-timers --all --no-pager'"))
		out := host.Exec("/usr/local/bin/hostdrift", "snapshot")
		var snap struct {
			Collectors []struct {
				Name       string
				Status     string
				DurationMS float64 `json:"duration_ms"`
			}
		}
		if err := json.Unmarshal([]byte(out), &snap); err != nil {
			b.Fatalf("hostdrift snapshot: %v\n%.2000s", err, out)
		}
		var other time.Duration
		slowest := ""
		for _, c := range snap.Collectors {
			d := time.Duration(c.DurationMS * float64(time.Millisecond))
			switch c.Name {
			case "services":
				services = append(services, d)
			case "timers":
				timers = append(timers, d)
			default:
				if d > other {
					other, slowest = d, c.Name
				}
			}
			if c.Status != "ok" && c.Status != "skipped" {
				b.Errorf("collector %s: %s", c.Name, c.Status)
			}
		}
		others = append(others, other)
		b.Logf("slowest other collector: %s, %s", slowest, other.Round(time.Millisecond))
	}
	if dir := os.Getenv("HOSTDRIFT_STOCKBENCH_SNAPSHOTS"); dir != "" {
		out := host.Exec("/usr/local/bin/hostdrift", "snapshot", "--collectors", "services,timers")
		if err := os.WriteFile(filepath.Join(dir, "stock-services-timers.json"), []byte(out), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	ref := median(refs)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(median(checks)), "ms/check")
	b.ReportMetric(ms(median(services)), "ms/services")
	b.ReportMetric(ms(median(timers)), "ms/timers")
	b.ReportMetric(ms(median(others)), "ms/slowest-other")
	b.ReportMetric(ms(ref), "ms/systemctl")
	b.ReportMetric(float64(median(checks))/float64(ref), "x-systemctl-check")
	b.ReportMetric(float64(median(services))/float64(ref), "x-systemctl-services")
	b.ReportMetric(float64(median(timers))/float64(ref), "x-systemctl-timers")
}
