package firewall

import (
	"fmt"
	"strings"
)

// splitArgs splits a rule line like a shell would for iptables-save output:
// on blanks, with double-quoted words and backslash escapes inside them. A
// word without quotes or escapes is a substring of line, not a copy: the
// rule keeps line as its text, and its match values then share that memory.
func splitArgs(line string) ([]string, error) {
	var out []string
	var b strings.Builder
	in, quoted, esc := false, false, false
	start, plain := 0, true // where the current word starts; it has no quote or escape
	unplain := func(i int) {
		if plain {
			b.Reset()
			b.WriteString(line[start:i])
			plain = false
		}
	}
	for i, r := range line {
		switch {
		case esc:
			b.WriteRune(r)
			esc = false
		case r == '\\' && quoted:
			esc = true
		case r == '"':
			if !in {
				start, plain, in = i, true, true
			}
			unplain(i)
			quoted = !quoted
		case (r == ' ' || r == '\t') && !quoted:
			if in {
				if plain {
					out = append(out, line[start:i])
				} else {
					out = append(out, b.String())
				}
				in = false
			}
		default:
			if !in {
				start, plain, in = i, true, true
			}
			if !plain {
				b.WriteRune(r)
			}
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote")
	}
	if in {
		if plain {
			out = append(out, line[start:])
		} else {
			out = append(out, b.String())
		}
	}
	return out, nil
}
