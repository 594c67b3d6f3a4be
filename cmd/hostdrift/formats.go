package main

import (
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hostdrift/hostdrift/internal/report"
)

// reportOutput is one --format: a report format and the file it is written
// to, atomically ("" for standard output). bare says it was given without
// a file: it goes to standard output, or to --output's file instead.
type reportOutput struct {
	format, file string
	bare         bool
}

// defaultFormat is what check writes to standard output when no --format
// is given.
const defaultFormat = "table"

// formatUsage is --format's help.
func formatUsage() string {
	return "write the report as `FORMAT` (" + strings.Join(report.Formats(), ", ") + "; default " + defaultFormat +
		") to standard output, or as FORMAT:FILE to FILE (atomically); repeatable: one run writes every format asked for, " +
		"at most one of them to standard output (nagios there exits with the plugin states 0-3)"
}

// parseOutputs reads the --format values: FORMAT or FORMAT:FILE, at most one
// without a file. output is --output, where the one without a file goes
// instead of standard output; others are the other files the run writes,
// by the flag that names them, which no two outputs may share.
func parseOutputs(specs []string, output string, others map[string]string) ([]reportOutput, error) {
	if len(specs) == 0 {
		specs = []string{defaultFormat}
	}
	var outs []reportOutput
	var bare []string
	files := map[string]string{}
	claim := func(path, by string) error {
		if path == "" {
			return nil
		}
		key := filepath.Clean(path)
		if prev, ok := files[key]; ok {
			return fmt.Errorf("%s and %s both write %s: give each output a file of its own", prev, by, path)
		}
		files[key] = by
		return nil
	}
	for _, s := range specs {
		name, file, hasFile := strings.Cut(s, ":")
		if !slices.Contains(report.Formats(), name) {
			return nil, fmt.Errorf("--format %s: the format must be one of %s, not %q (FORMAT or FORMAT:FILE)", s, strings.Join(report.Formats(), ", "), name)
		}
		if hasFile && file == "" {
			return nil, fmt.Errorf("--format %s names no file: give FORMAT:FILE, or FORMAT alone for standard output", s)
		}
		if !hasFile {
			bare = append(bare, name)
		}
		if err := claim(file, "--format "+s); err != nil {
			return nil, err
		}
		outs = append(outs, reportOutput{format: name, file: file, bare: !hasFile})
	}
	if len(bare) > 1 {
		return nil, fmt.Errorf("--format %s and --format %s both write to standard output: give all but one a file (e.g. --format %s:report.%s)", bare[0], bare[1], bare[1], bare[1])
	}
	if output != "" {
		if len(bare) == 0 {
			return nil, fmt.Errorf("--output writes the format given without a file, and every --format names its own: give --format FORMAT:%s for the format to write there, or leave out --output", output)
		}
		if err := claim(output, "--output"); err != nil {
			return nil, err
		}
		for i := range outs {
			if outs[i].bare {
				outs[i].file = output
			}
		}
	}
	for _, flag := range slices.Sorted(maps.Keys(others)) {
		if err := claim(others[flag], flag); err != nil {
			return nil, err
		}
	}
	return outs, nil
}

// stdoutFormat is the format written to standard output (or to --output's
// file in its stead), "" when every format has a file of its own or when
// more than one claims standard output (a usage error).
func stdoutFormat(specs []string) string {
	if len(specs) == 0 {
		return defaultFormat
	}
	var bare []string
	for _, s := range specs {
		if !strings.Contains(s, ":") {
			bare = append(bare, s)
		}
	}
	if len(bare) != 1 {
		return ""
	}
	return bare[0]
}

// writeOutputs renders the report once per output, each file atomically,
// and goes on past a failure; it reports each failure on stderr and
// returns the last. opts are for the output given without a file (the
// terminal's); the others get neither colour nor the terminal's width.
func writeOutputs(outs []reportOutput, stdout, stderr io.Writer, rep *report.Report, opts report.Options) error {
	var failed error
	for _, o := range outs {
		op := opts
		if !o.bare {
			op.Color, op.Width = false, 0
		}
		err := emit(o.file, stdout, func(w io.Writer) error { return report.Render(w, o.format, rep, op) })
		if err != nil {
			err = o.failed(err)
			fmt.Fprintln(stderr, "hostdrift check:", err)
			failed = err
		}
	}
	return failed
}

// failed names the output in err, which writing it returned.
func (o reportOutput) failed(err error) error {
	if o.file == "" {
		return err
	}
	return fmt.Errorf("%s report %s: %w", o.format, o.file, err)
}
