package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hostdrift/hostdrift/internal/diff"
	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// runDiff compares two saved snapshots. Exit codes follow check: 0 nothing
// changed, 1 something changed, 2 bad input, 3 some area could not be
// compared (and nothing else changed).
func runDiff(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("diff", "diff [--format table|json] [--output FILE] [--policy FILE|DIR|-]... [--area a,b] OLD NEW", stdout, stderr)
	format := fs.String("format", "table", "output format: "+strings.Join(report.DiffFormats(), ", "))
	output := fs.String("output", "", "write the diff to `FILE` (atomically) instead of standard output")
	var pf policyFlags
	pf.register(fs, "take ignore blocks from the policy `FILE` or folder (repeatable; default: as check)")
	vo := newVarOptions()
	vo.register(fs)
	areaList := fs.String("area", "", "compare only these comma-separated `AREAS` ("+strings.Join(snapshot.AreaNames(), ", ")+")")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 2 {
		fmt.Fprintln(stderr, "hostdrift diff: name two snapshots, OLD and NEW (take them with hostdrift snapshot --output FILE)")
		return exitUsage
	}
	if !slices.Contains(report.DiffFormats(), *format) {
		fmt.Fprintf(stderr, "hostdrift diff: --format must be one of %v, not %q\n", report.DiffFormats(), *format)
		return exitUsage
	}
	var areas []string
	if *areaList != "" {
		for _, a := range strings.Split(*areaList, ",") {
			if !slices.Contains(snapshot.AreaNames(), a) {
				fmt.Fprintf(stderr, "hostdrift diff: --area: no area %q; the areas are %s\n", a, strings.Join(snapshot.AreaNames(), ", "))
				return exitUsage
			}
			areas = append(areas, a)
		}
	}
	old, err := readSnapshot(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "hostdrift diff:", err)
		return exitUsage
	}
	cur, err := readSnapshot(fs.Arg(1))
	if err != nil {
		fmt.Fprintln(stderr, "hostdrift diff:", err)
		return exitUsage
	}
	pol, vars := loadPolicy(pf, vo, stdin, stderr)
	if pol == nil {
		return exitUsage
	}
	plan, diags := pol.Compile(&cur.Host, vars)
	if diags.HasErrors() {
		printDiagnostics(stderr, pol, diags)
		return exitUsage
	}
	d := diff.Compare(old, cur, diff.Options{Ignore: plan.Ignores, Areas: areas, OldSource: fs.Arg(0), NewSource: fs.Arg(1)})
	if err := emit(*output, stdout, func(w io.Writer) error { return report.RenderDiff(w, *format, d) }); err != nil {
		fmt.Fprintln(stderr, "hostdrift diff:", err)
		return exitOutput
	}
	switch {
	case len(d.Changes) > 0:
		return exitDrift
	case len(d.Incomplete()) > 0:
		return exitIncomplete
	}
	return exitOK
}
