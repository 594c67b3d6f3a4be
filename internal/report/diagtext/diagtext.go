// Package diagtext prints HCL diagnostics the way compilers do: file:line:col,
// the offending source line with the problem underlined, then what to do.
package diagtext

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Write prints each diagnostic. sources maps file names to their text.
func Write(w io.Writer, sources map[string][]byte, diags hcl.Diagnostics) {
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		if d.Subject == nil {
			fmt.Fprintf(w, "%s: %s\n", sev, d.Summary)
		} else {
			s := d.Subject
			fmt.Fprintf(w, "%s:%d:%d: %s: %s\n", s.Filename, s.Start.Line, s.Start.Column, sev, d.Summary)
			if line, ok := sourceLine(sources[s.Filename], s.Start.Line); ok {
				width := len(fmt.Sprint(s.Start.Line))
				fmt.Fprintf(w, "  %*d | %s\n", width, s.Start.Line, line)
				fmt.Fprintf(w, "  %*s | %s\n", width, "", underline(line, s))
			}
		}
		if d.Detail != "" {
			fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(d.Detail, "\n", "\n  "))
		}
		fmt.Fprintln(w)
	}
}

func sourceLine(src []byte, n int) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for i := 1; sc.Scan(); i++ {
		if i == n {
			return strings.ReplaceAll(sc.Text(), "\t", " "), true
		}
	}
	return "", false
}

// underline marks the subject's columns on its first line with carets.
func underline(line string, r *hcl.Range) string {
	start := r.Start.Column - 1
	end := len([]rune(line))
	if r.End.Line == r.Start.Line && r.End.Column-1 > start {
		end = min(r.End.Column-1, end)
	}
	if start < 0 || start >= end {
		return strings.Repeat(" ", max(start, 0)) + "^"
	}
	return strings.Repeat(" ", start) + strings.Repeat("^", end-start)
}
