package main

import (
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/rusage"
)

// measure runs the command and returns its wall time and peak RSS in bytes
// (under GNU time: the test binary's own peak would hide the command's, see
// package rusage).
func measure(b *testing.B, name string, args ...string) (time.Duration, int64) {
	b.Helper()
	argv := rusage.Wrap(append([]string{name}, args...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	wall := time.Since(start)
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() <= 3 {
		err = nil // drift or incomplete are results, not failures
	}
	if err != nil {
		b.Fatalf("%s: %v\n%s%s", name, err, out, rusage.StripReport(stderr.String()))
	}
	_, rss, err := rusage.Of(cmd.ProcessState, stderr.String())
	if err != nil {
		b.Fatal(err)
	}
	return wall, rss
}

func median(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

// BenchmarkCheck runs `hostdrift check` with a small policy on this host, as
// an operator would over SSH, and compares it with the kernel's own tool for
// the same facts, `ss -Htlunp`, measured in the same run. Reported: median
// wall per check (target < 50 ms), peak RSS (target < 30 MB) and the ratio to ss.
func BenchmarkCheck(b *testing.B) {
	bin := binary(b)
	policy := policyFile(b, `
listener "ssh" {
  port = 22
}
listener "redis-not-public" {
  port    = 6379
  address = "public"
  expect  = "absent"
}
accepting "all" {}
`)
	ss, err := exec.LookPath("ss")
	if err != nil {
		b.Skip("ss not installed: no reference")
	}
	var checks, refs []time.Duration
	var peak int64
	for b.Loop() {
		wall, rss := measure(b, bin, "check", "--policy", policy, "--format", "json", "--output", "/dev/null")
		checks = append(checks, wall)
		peak = max(peak, rss)
		ref, _ := measure(b, ss, "-Htlunp")
		refs = append(refs, ref)
	}
	b.ReportMetric(float64(median(checks).Microseconds())/1000, "ms/check")
	b.ReportMetric(float64(peak)/(1<<20), "MB-peak-rss")
	b.ReportMetric(float64(median(checks))/float64(median(refs)), "x-ss")
}
