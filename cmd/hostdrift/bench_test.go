package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/bench/rusage"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/fixture"
	"github.com/hostdrift/hostdrift/policies"
	"github.com/hostdrift/hostdrift/rules"
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

// jobsFixture writes a root with 1,000 cron entries (50 files in
// /etc/cron.d of 20 lines each, their programs half present) and 300
// timers with their services, plus a syslog of 3,000 CMD lines.
func jobsFixture(b *testing.B) string {
	root := b.TempDir()
	files := map[string]string{
		"etc/passwd":    "root:x:0:0:root:/root:/bin/sh\n",
		"usr/bin/true@": "",
	}
	var syslog strings.Builder
	for f := range 50 {
		var tab strings.Builder
		tab.WriteString("PATH=/usr/local/bin:/usr/bin:/bin\nMAILTO=ops\n")
		for l := range 20 {
			n := f*20 + l
			fmt.Fprintf(&tab, "%d */%d * * mon-fri root job-%d --flag >> /var/log/job-%d.log 2>&1\n", n%60, l%6+1, n, n)
			if n%2 == 0 {
				files[fmt.Sprintf("usr/local/bin/job-%d@", n)] = "#!/bin/sh\n"
			}
			for r := range 3 {
				fmt.Fprintf(&syslog, "2026-11-2%dT0%d:00:01.000000+00:00 web1 CRON[%d]: (root) CMD (job-%d --flag >> /var/log/job-%d.log 2>&1)\n", r, r, n, n, n)
			}
		}
		files[fmt.Sprintf("etc/cron.d/app-%02d", f)] = tab.String()
	}
	files["var/log/syslog"] = syslog.String()
	for i := range 300 {
		files[fmt.Sprintf("lib/systemd/system/t%03d.timer", i)] = fmt.Sprintf("[Timer]\nOnCalendar=*-*-* %02d:%02d:00\nPersistent=true\n[Install]\nWantedBy=timers.target\n", i%24, i%60)
		files[fmt.Sprintf("lib/systemd/system/t%03d.service", i)] = fmt.Sprintf("[Service]\nType=oneshot\nExecStart=/usr/local/bin/job-%d --timer\n", i)
		files[fmt.Sprintf("etc/systemd/system/timers.target.wants/t%03d.timer", i)] = fmt.Sprintf("-> /lib/systemd/system/t%03d.timer", i)
		files[fmt.Sprintf("var/lib/systemd/timers/stamp-t%03d.timer", i)] = ""
	}
	fixture.Write(b, root, files)
	return root
}

// BenchmarkJobs collects 1,000 cron entries and 300 timers from a fixture
// root (offline, as with --root) and judges them with the default policy's
// jobs.hcl, in process. The reference, measured in the same run, reads
// every file of the fixture with os.ReadFile: the I/O no collector can
// avoid. Reported: ms per collect-and-check (target < 200 ms) and the
// ratio to the reference.
func BenchmarkJobs(b *testing.B) {
	root := jobsFixture(b)
	src, err := policies.Default()
	if err != nil {
		b.Fatal(err)
	}
	var pol []rules.Source
	for _, f := range src {
		if strings.HasSuffix(f.Name, "/jobs.hcl") {
			pol = append(pol, rules.Source{Name: f.Name, Text: f.Text})
		}
	}
	p, diags := rules.Load(pol)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	plan, diags := p.Compile(&snapshot.Host{}, nil)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	var paths []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return nil
	})
	var checks, refs []time.Duration
	var jobs, timers int
	for b.Loop() {
		start := time.Now()
		snap := &snapshot.Snapshot{Schema: snapshot.Schema, TakenAt: time.Now()}
		agent.Run(context.Background(), snap, agent.Options{Env: agent.Env{Root: root}, Collectors: []string{"cron", "timers"}})
		findings := plan.Evaluate(snap, time.Now())
		checks = append(checks, time.Since(start))
		for _, c := range snap.Collectors {
			if c.Status != snapshot.StatusOK {
				b.Fatalf("%s: %s %s", c.Name, c.Status, c.Reason)
			}
		}
		if len(findings) == 0 {
			b.Fatal("no findings")
		}
		jobs, timers = len(snap.Jobs.Cron.Jobs), len(snap.Jobs.Timers.Timers)

		start = time.Now()
		for _, p := range paths {
			if _, err := os.ReadFile(p); err != nil {
				b.Fatal(err)
			}
		}
		refs = append(refs, time.Since(start))
	}
	if jobs != 1000 || timers != 300 {
		b.Fatalf("%d cron jobs and %d timers, want 1000 and 300", jobs, timers)
	}
	b.ReportMetric(float64(median(checks).Microseconds())/1000, "ms/check")
	b.ReportMetric(float64(median(refs).Microseconds())/1000, "ms/readfile-ref")
	b.ReportMetric(float64(median(checks))/float64(median(refs)), "x-readfile")
}
