package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/hostdrift/hostdrift/internal/diff"
	"github.com/hostdrift/hostdrift/internal/jsonstream"
)

// DiffFormats are the diff's output formats.
func DiffFormats() []string { return []string{"table", "json"} }

// RenderDiff writes a comparison of two snapshots in the named format.
func RenderDiff(w io.Writer, format string, d *diff.Diff) error {
	switch format {
	case "json":
		return jsonstream.Encode(w, d, jsonstream.Options{EscapeHTML: true})
	case "table":
		return renderDiffTable(w, d)
	default:
		return fmt.Errorf("unknown diff format %q (known: %s)", format, strings.Join(DiffFormats(), ", "))
	}
}

func renderDiffTable(w io.Writer, d *diff.Diff) error {
	fmt.Fprintf(w, "hostdrift diff: %s (%s) -> %s (%s)\n", side(d.Old), d.Old.TakenAt.Format("2006-01-02 15:04 MST"),
		side(d.New), d.New.TakenAt.Format("2006-01-02 15:04 MST"))
	if len(d.Changes) > 0 {
		t := newTable(w)
		t.Header("CHANGE", "AREA", "OBJECT", "DETAIL")
		rows := make([][]string, 0, len(d.Changes))
		for _, c := range d.Changes {
			rows = append(rows, []string{c.Op, c.Area + " " + c.Kind, c.ID, detail(c)})
		}
		if err := t.Bulk(rows); err != nil {
			return err
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	for _, a := range d.Incomplete() {
		fmt.Fprintf(w, "%s not compared: %s\n", a.Name, a.NotCompared)
	}
	if len(d.Ignored) > 0 {
		names := make([]string, 0, len(d.Ignored))
		for n := range d.Ignored {
			names = append(names, n)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("%s %d", n, d.Ignored[n])
		}
		fmt.Fprintf(w, "ignored by policy: %s\n", strings.Join(parts, ", "))
	}
	added, removed, changed := d.Counts()
	fmt.Fprintf(w, "%d added, %d removed, %d changed\n", added, removed, changed)
	return nil
}

func side(s diff.Side) string {
	if s.Source != "" {
		return s.Source
	}
	return s.Host
}

// detail shows the fields that changed; for added and removed objects, the
// fields the identity does not already say.
func detail(c diff.Change) string {
	var lines []string
	for _, f := range c.Fields {
		switch c.Op {
		case diff.Changed:
			lines = append(lines, f.Name+": "+f.Transition())
		case diff.Added:
			if !strings.Contains(c.ID, f.New) {
				lines = append(lines, f.Name+": "+f.New)
			}
		case diff.Removed:
			if !strings.Contains(c.ID, f.Old) {
				lines = append(lines, f.Name+": "+f.Old)
			}
		}
	}
	return strings.Join(lines, "\n")
}
