package probe

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func TestMatchBody(t *testing.T) {
	for _, c := range []struct {
		body, re  string
		matched   bool
		line      int
		truncated bool
	}{
		{"a\r\nok\r\n", "^ok$", true, 2, false},
		{"", "x", false, 0, false},
		{strings.Repeat("y", snapshot.MaxProbeBody) + "ok", "ok", false, 0, true},
	} {
		m := MatchBody(strings.NewReader(c.body), c.re)
		if m.Matched != c.matched || m.Line != c.line || m.Truncated != c.truncated || m.Error != "" {
			t.Errorf("%q %q: %+v", c.body[:min(len(c.body), 20)], c.re, m)
		}
	}
	if m := MatchBody(strings.NewReader(""), "("); m.Error == "" {
		t.Error("a bad pattern matched")
	}
}

func TestRequestHeaders(t *testing.T) {
	h, host := requestHeaders("Host: www.example.test\nX-Token: t1\nbad line\n: empty")
	if host != "www.example.test" || h.Get("X-Token") != "t1" || len(h) != 1 {
		t.Errorf("%v %q", h, host)
	}
	m := MatchHeaders(http.Header{"B": {"2"}, "A": {"1", "x"}}, "^[AB]: [12x]$")
	if !m.Matched || m.Header != "A" {
		t.Errorf("%+v", m)
	}
}

func FuzzMatchBody(f *testing.F) {
	f.Add("a\nb\n", "^b$")
	f.Fuzz(func(t *testing.T, body, re string) {
		m := MatchBody(strings.NewReader(body), re)
		if m.Matched && m.Line < 1 {
			t.Fatalf("%+v", m)
		}
	})
}
