package probe

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// requestHeaders parses a target's "Name: value" lines; the Host header is
// returned apart, as net/http takes it.
func requestHeaders(lines string) (http.Header, string) {
	h := http.Header{}
	host := ""
	for _, l := range strings.Split(lines, "\n") {
		name, value, ok := strings.Cut(l, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" {
			continue
		}
		if strings.EqualFold(name, "Host") {
			host = value
			continue
		}
		h.Add(name, value)
	}
	return h, host
}

// MatchBody reports the first line of r (read up to MaxProbeBody bytes)
// that pattern matches.
func MatchBody(r io.Reader, pattern string) *snapshot.PatternMatch {
	m := &snapshot.PatternMatch{}
	re, err := regexp.Compile(pattern)
	if err != nil {
		m.Error = fmt.Sprintf("pattern %q: %v", pattern, err)
		return m
	}
	b, err := io.ReadAll(io.LimitReader(r, snapshot.MaxProbeBody+1))
	if err != nil {
		m.Error = "read the body: " + err.Error()
	}
	if len(b) > snapshot.MaxProbeBody {
		b, m.Truncated = b[:snapshot.MaxProbeBody], true
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(make([]byte, 0, 64<<10), snapshot.MaxProbeBody+1)
	for n := 1; sc.Scan(); n++ {
		if re.MatchString(strings.TrimSuffix(sc.Text(), "\r")) {
			m.Matched, m.Line = true, n
			return m
		}
	}
	return m
}

// MatchHeaders reports the first response header, in name order, whose
// "Name: value" line pattern matches.
func MatchHeaders(h http.Header, pattern string) *snapshot.PatternMatch {
	m := &snapshot.PatternMatch{}
	re, err := regexp.Compile(pattern)
	if err != nil {
		m.Error = fmt.Sprintf("pattern %q: %v", pattern, err)
		return m
	}
	names := make([]string, 0, len(h))
	for n := range h {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, v := range h[n] {
			if re.MatchString(n + ": " + v) {
				m.Matched, m.Header = true, n
				return m
			}
		}
	}
	return m
}
