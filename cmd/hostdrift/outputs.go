package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hostdrift/hostdrift/internal/cli"
	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/report/reportdir"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/atomicfile"
)

// defaultKeep is how many reports --report-dir keeps: a month of nightly runs.
const defaultKeep = 30

// extraOutputs are the files check writes besides its report, in the same
// run: what a nightly service keeps (a report history, the snapshot, a
// Prometheus textfile) while the table goes to the journal.
type extraOutputs struct {
	reportDir string
	keep      int
	snapshot  string
	promFile  string
}

func (x *extraOutputs) register(fs *flag.FlagSet) {
	fs.StringVar(&x.reportDir, "report-dir", "", "also write the JSON report to `DIR`/report-<UTC time>.json, point DIR/latest.json at it and keep the newest --keep")
	cli.Count(fs, &x.keep, "keep", defaultKeep, 1, "keep all", "how many reports --report-dir keeps (`N`; 0 keeps all)")
	fs.StringVar(&x.snapshot, "save-snapshot", "", "also write the snapshot that was judged to `FILE` (atomically), for a later --snapshot")
	fs.StringVar(&x.promFile, "prometheus-file", "", "also write the Prometheus textfile to `FILE` (atomically, mode 0644), for node_exporter's textfile collector")
}

// write writes every extra output that was asked for, even when one fails,
// reports each failure on stderr and returns an error if any failed. Failing
// to remove old reports is only a warning: this run's report is written.
func (x *extraOutputs) write(snap *snapshot.Snapshot, rep *report.Report, stderr io.Writer) error {
	var failed bool
	fail := func(err error) {
		fmt.Fprintln(stderr, "hostdrift check:", err)
		failed = true
	}
	if x.snapshot != "" {
		err := atomicfile.Write(x.snapshot, 0o640, func(f *os.File) error {
			return encodeSnapshot(f, snap)
		})
		if err != nil {
			fail(fmt.Errorf("save the snapshot: %w", err))
		}
	}
	if x.reportDir != "" {
		_, err := reportdir.Write(x.reportDir, rep.StartedAt, 0o640, func(w io.Writer) error {
			return report.Render(w, "json", rep, report.Options{})
		})
		if err != nil {
			fail(fmt.Errorf("report folder %s: %w", x.reportDir, err))
		} else if err := reportdir.Prune(x.reportDir, x.keep); err != nil {
			fmt.Fprintf(stderr, "hostdrift check: warning: report folder %s: %v\n", x.reportDir, err)
		}
	}
	if x.promFile != "" {
		// 0644: node_exporter runs as its own user, and it publishes these
		// metrics over HTTP anyway.
		err := atomicfile.Write(x.promFile, 0o644, func(f *os.File) error {
			return report.Render(f, "prometheus", rep, report.Options{})
		})
		if err != nil {
			fail(fmt.Errorf("prometheus textfile: %w", err))
		}
	}
	if failed {
		return errors.New("some outputs could not be written")
	}
	return nil
}
