package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/mitchellh/go-wordwrap"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiGreen  = "\x1b[32m"
	ansiCyan   = "\x1b[36m"
	ansiBlue   = "\x1b[34m"
	ansiBold   = "\x1b[1m"
)

func paint(on bool, code, s string) string {
	if !on {
		return s
	}
	return code + s + ansiReset
}

func statusCell(s finding.Status, color bool) string {
	label := strings.ToUpper(string(s))
	switch s {
	case finding.Fail:
		return paint(color, ansiBold+ansiRed, label)
	case finding.Error:
		return paint(color, ansiYellow, label)
	case finding.Waived:
		return paint(color, ansiCyan, label)
	case finding.Skip:
		return paint(color, ansiBlue, label)
	default:
		return paint(color, ansiGreen, label)
	}
}

// renderTable prints the findings that need attention (and, when verbose,
// the passing checks and the skipped ones with why), then collectors that
// did not run cleanly, then a summary line. Skips are true but need no
// action: a host without Docker is not told three times that it has none.
func renderTable(w io.Writer, r *Report, o Options) error {
	width := o.Width
	if width <= 0 {
		width = 120
	}
	var shown []finding.Finding
	checkWidth := len("CHECK")
	for _, f := range r.Findings {
		if (f.Status == finding.Pass || f.Status == finding.Skip) && !o.Verbose {
			continue
		}
		shown = append(shown, f)
		checkWidth = max(checkWidth, min(len(f.Check), 40))
	}
	// STATUS and SEVERITY take 8 each; borders and padding 13.
	explWidth := max(width-checkWidth-8-8-13, 30)
	var rows [][]string
	for _, f := range shown {
		detail := wordwrap.WrapString(f.Explanation, uint(explWidth))
		if f.Remediation != "" && f.Status == finding.Fail {
			detail += "\n" + wordwrap.WrapString("→ "+f.Remediation, uint(explWidth))
		}
		if f.Attempts > 1 {
			detail += fmt.Sprintf("\n(judged %d times: --retry-timeout)", f.Attempts)
		}
		rows = append(rows, []string{statusCell(f.Status, o.Color), string(f.Severity),
			wordwrap.WrapString(f.Check, uint(checkWidth)), hardWrap(detail, explWidth)})
	}
	fmt.Fprintf(w, "hostdrift check on %s\n", hostName(r))
	if len(rows) > 0 {
		t := newTable(w)
		t.Header("STATUS", "SEVERITY", "CHECK", "EXPLANATION")
		if err := t.Bulk(rows); err != nil {
			return err
		}
		if err := t.Render(); err != nil {
			return err
		}
	} else if len(r.Findings) > 0 {
		if r.Summary.Skip > 0 {
			fmt.Fprintln(w, "every check that applies here passed")
		} else {
			fmt.Fprintln(w, "every check passed")
		}
	}
	for _, c := range r.Collectors {
		if c.Status == snapshot.StatusOK {
			continue
		}
		fmt.Fprintf(w, "collector %s: %s: %s\n", c.Name, c.Status, c.Reason)
	}
	for _, f := range r.Findings {
		if f.Status == finding.Pass && f.Attempts > 1 && !o.Verbose {
			fmt.Fprintf(w, "%s passed at attempt %d\n", f.Check, f.Attempts)
		}
	}
	s := r.Summary
	fmt.Fprintf(w, "%d checks: %s, %s, %s, %s, %s (%.0f ms)\n", s.Total,
		paint(o.Color && s.Fail > 0, ansiRed, fmt.Sprintf("%d fail", s.Fail)),
		paint(o.Color && s.Error > 0, ansiYellow, fmt.Sprintf("%d error", s.Error)),
		fmt.Sprintf("%d waived", s.Waived),
		fmt.Sprintf("%d skip", s.Skip),
		fmt.Sprintf("%d pass", s.Pass), r.DurationMS)
	if s.Skip > 0 && !o.Verbose {
		fmt.Fprintf(w, "%d checks do not apply to this host: --verbose says why\n", s.Skip)
	}
	return nil
}

// hardWrap breaks lines that word wrapping left too long (a long path or
// command line with no spaces), so the table never overflows its width.
func hardWrap(s string, width int) string {
	lines := strings.Split(s, "\n")
	var out []string
	for _, l := range lines {
		for len([]rune(l)) > width {
			r := []rune(l)
			out = append(out, string(r[:width]))
			l = string(r[width:])
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func hostName(r *Report) string {
	if r.Host.FQDN != "" && r.Host.FQDN != r.Host.Hostname {
		return r.Host.FQDN
	}
	return r.Host.Hostname
}

// newTable is the bordered table every table format draws: rows separated,
// cells left-aligned, wrapped by the caller.
func newTable(w io.Writer) *tablewriter.Table {
	return tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Settings: tw.Settings{Separators: tw.Separators{BetweenRows: tw.On}},
		})),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
	)
}
