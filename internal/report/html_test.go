package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// payloads are host strings that would be markup if the page did not
// escape them: a cron line, a container name, a TXT record, a unit name.
var payloads = []string{
	`<script>alert(1)</script>`,
	`<img src=x onerror=alert(2)>`,
	`"><svg onload=alert(3)>`,
	`</style><script>alert(4)</script>`,
	`' onmouseover='alert(5)`,
	`]]><iframe src=javascript:alert(6)>`,
}

// hostileReport is a report whose every host string carries a payload.
func hostileReport() *Report {
	p := strings.Join(payloads, " ")
	s := &snapshot.Snapshot{Version: "1.2.3", Host: snapshot.Host{Hostname: "web1" + payloads[0], FQDN: "web1" + payloads[0]},
		Collectors: []snapshot.CollectorStatus{{Name: "docker", Status: snapshot.StatusError, Reason: "container " + p}}}
	return New(s, []finding.Finding{
		{Check: "cron.programs-exist", Kind: "cron", Status: finding.Fail, Severity: finding.Warning,
			Explanation: "/etc/cron.d/evil:1 (" + p + "): its program does not exist", Expected: "every job's program exists",
			Observed: "1 job(s) " + p, Remediation: "fix " + p, Description: p, Source: finding.Source{File: "/etc/hostdrift/" + payloads[1], Line: 3}},
		{Check: `published_port.web["` + payloads[1] + `"]`, Kind: "published_port", Status: finding.Error, Severity: finding.Critical, Explanation: "container " + p},
		{Check: "dns.txt", Kind: "dns", Status: finding.Waived, Severity: finding.Info, Explanation: "TXT " + p,
			Waiver: &finding.Waiver{Reason: p, Expires: "2027-01-01", Source: finding.Source{File: p, Line: 1}}},
		{Check: "unit.x", Kind: "unit", Status: finding.Skip, Severity: finding.Info, Explanation: "unit " + p + ".service is not installed"},
		{Check: "file.motd", Kind: "file", Status: finding.Pass, Severity: finding.Info, Explanation: "content " + p},
	}, []string{"/etc/hostdrift/" + payloads[2]}, time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC), time.Second)
}

func hostilePage() Page {
	p := strings.Join(payloads, " ")
	return Page{Report: hostileReport(), Served: true, PolicyError: "policy " + p,
		Now: time.Date(2026, 11, 21, 3, 5, 0, 0, time.UTC),
		Transitions: []Transition{{Time: time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC), Check: "cron.programs-exist",
			From: "pass", To: "fail", Cause: "inotify: /etc/cron.d/" + payloads[1], Explanation: "job " + p}}}
}

// TestPageEscapesHostStrings parses the page as a browser would (the HTML5
// parsing algorithm) and checks that every payload is text: no element
// but the page's own, no event handler attribute, no script, no image.
func TestPageEscapesHostStrings(t *testing.T) {
	var b bytes.Buffer
	if err := WritePage(&b, hostilePage()); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"html": true, "head": true, "body": true, "meta": true, "title": true, "style": true,
		"header": true, "h1": true, "h2": true, "h3": true, "p": true, "span": true, "time": true, "code": true, "nav": true,
		"a": true, "main": true, "section": true, "details": true, "summary": true, "article": true, "dl": true, "dt": true,
		"dd": true, "table": true, "thead": true, "tbody": true, "tr": true, "th": true, "td": true, "footer": true}
	var styles int
	var text strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if !allowed[n.Data] {
				t.Errorf("element <%s> on the page: a payload became markup", n.Data)
			}
			if n.Data == "style" {
				styles++
			}
			for _, a := range n.Attr {
				if strings.HasPrefix(a.Key, "on") || strings.Contains(a.Val, "javascript:") {
					t.Errorf("<%s %s=%q>: a payload became an attribute", n.Data, a.Key, a.Val)
				}
			}
			if n.Data == "a" {
				if h := attr(n, "href"); !strings.HasPrefix(h, "/") {
					t.Errorf("link to %q: the page links only serve's own endpoints", h)
				}
			}
		}
		if n.Type == html.TextNode && (n.Parent == nil || n.Parent.Data != "style") {
			text.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if styles != 1 {
		t.Errorf("%d style elements, want the page's one", styles)
	}
	shown := text.String()
	for _, p := range payloads {
		if !strings.Contains(shown, p) {
			t.Errorf("payload %q is not shown as text", p)
		}
	}
	for _, want := range []string{"cron.programs-exist", "/etc/cron.d/evil:1 (", "fix <script>", "Changes in the last 24 hours", "inotify: /etc/cron.d/<img", "The last policy reload failed"} {
		if !strings.Contains(shown, want) {
			t.Errorf("the page does not show %q", want)
		}
	}
}

// TestPageGroups: the sections come fail, error, waived, skip, pass, the
// passing checks collapsed; a file (check's page) has neither links nor
// transitions, and its CSP names the style sheet it holds.
func TestPageGroups(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, "html", fullReport(), Options{}); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	var sections []string
	var css, csp string
	var links, details int
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "section":
				sections = append(sections, attr(n, "id"))
			case "style":
				css = n.FirstChild.Data
			case "meta":
				if attr(n, "http-equiv") == "Content-Security-Policy" {
					csp = attr(n, "content")
				}
			case "a":
				links++
			case "details":
				details++
				if n.Parent == nil || attr(n.Parent, "id") != "pass" {
					t.Errorf("a collapsed section other than pass: %v", n.Parent)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if got := strings.Join(sections, ","); got != "fail,error,waived,skip,pass" {
		t.Errorf("sections %s, want fail,error,waived,skip,pass", got)
	}
	if details != 1 {
		t.Errorf("%d collapsed sections, want 1 (pass)", details)
	}
	if links != 0 {
		t.Errorf("%d links in check's page, which has no server to link to", links)
	}
	if css != pageCSS {
		t.Error("the style element's text differs from the style sheet its hash names")
	}
	if csp+"; frame-ancestors 'none'" != PageCSP || !strings.Contains(csp, "'"+styleHash()+"'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "script-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
