package rules

import (
	"fmt"
	"net/textproto"
	"regexp"
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// httpMethods are the methods a probe may send.
var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"}

// decodeHTTP reads the request's method and headers and the response
// patterns of a url probe.
func (c *probeCheck) decodeHTTP(d *Decoder) {
	if d.Has("method") {
		c.target.Method = strings.ToUpper(d.OneOf("method", "GET", httpMethods...))
		if c.target.Method == "GET" {
			c.target.Method = ""
		}
	}
	var lines []string
	for _, h := range d.Strings("headers") {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") || strings.ContainsAny(value, "\r\n") {
			d.Errorf("headers", "Invalid header", "%q is not a header line; write \"Name: value\" (\"Host: www.example.com\").", h)
			continue
		}
		lines = append(lines, textproto.CanonicalMIMEHeaderKey(name)+": "+strings.TrimSpace(value))
	}
	c.target.Headers = strings.Join(lines, "\n")
	for attr, dst := range map[string]*string{"body": &c.target.BodyPattern, "header": &c.target.HeaderPattern} {
		re := d.String(attr, "")
		if re == "" {
			continue
		}
		if _, err := regexp.Compile(re); err != nil {
			d.Errorf(attr, "Invalid pattern", "%q is not a regular expression: %s.", re, err)
			continue
		}
		*dst = re
	}
	if c.target.BodyPattern != "" && c.target.Method == "HEAD" {
		d.Errorf("body", "No body to match", "a HEAD request gets no body; use GET to match the body.")
	}
}

// requestText names the request: "POST http://127.0.0.1/ (Host: www.example.com)".
func (c *probeCheck) requestText() string {
	m := c.target.Method
	if m == "" {
		m = "GET"
	}
	s := m + " " + c.target.URL
	if c.target.Headers != "" {
		var shown []string
		for _, line := range strings.Split(c.target.Headers, "\n") {
			shown = append(shown, headerText(line))
		}
		s += " (" + strings.Join(shown, ", ") + ")"
	}
	return s
}

// headerText shows a request header line in a report, with the value of a
// header that carries credentials left out: reports travel further than
// policy files.
func headerText(line string) string {
	name, _, _ := strings.Cut(line, ":")
	n := strings.ToLower(strings.TrimSpace(name))
	for _, secret := range []string{"authorization", "cookie", "token", "secret", "key", "password", "auth"} {
		if strings.Contains(n, secret) {
			return strings.TrimSpace(name) + ": [redacted]"
		}
	}
	return line
}

// expectedHTTP says what the response patterns ask.
func (c *probeCheck) expectedHTTP() []string {
	var out []string
	if c.target.HeaderPattern != "" {
		out = append(out, fmt.Sprintf("a response header matching %q", c.target.HeaderPattern))
	}
	if c.target.BodyPattern != "" {
		out = append(out, fmt.Sprintf("a body line matching %q", c.target.BodyPattern))
	}
	return out
}

// judgeHTTP judges the response patterns; blind is set when a pattern was
// not matched at all (the snapshot predates it, or the body could not be
// read), which is no evidence either way.
func (c *probeCheck) judgeHTTP(h *snapshot.HTTPResult) (problems, observed []string, blind string) {
	for _, p := range []struct {
		what, pattern string
		m             *snapshot.PatternMatch
	}{{"response header", c.target.HeaderPattern, h.HeaderMatch}, {"body line", c.target.BodyPattern, h.BodyMatch}} {
		switch {
		case p.pattern == "":
		case p.m == nil:
			return nil, nil, fmt.Sprintf("the %s pattern %q was not matched when this snapshot was taken; take it again with this policy", p.what, p.pattern)
		case p.m.Error != "" && !p.m.Matched:
			return nil, nil, fmt.Sprintf("the %s pattern %q could not be matched: %s", p.what, p.pattern, p.m.Error)
		case p.m.Matched && p.m.Header != "":
			observed = append(observed, fmt.Sprintf("header %s matches %q", p.m.Header, p.pattern))
		case p.m.Matched:
			observed = append(observed, fmt.Sprintf("body line %d matches %q", p.m.Line, p.pattern))
		default:
			msg := fmt.Sprintf("no %s matches %q", p.what, p.pattern)
			if p.m.Truncated {
				msg += fmt.Sprintf(" in the first %d MB of the body", snapshot.MaxProbeBody>>20)
			}
			problems = append(problems, msg)
		}
	}
	return problems, observed, ""
}
