package report

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Page is what the HTML page shows: a report and, when hostdrift serve
// shows it, what serve knows besides (the transitions of the last day, a
// failed policy reload, links to its other endpoints).
type Page struct {
	Report *Report
	// Served says serve shows the page: it links /report and /metrics and
	// lists the transitions.
	Served bool
	// LastEvaluated is when the host was last read and judged (zero: the
	// report's start).
	LastEvaluated time.Time
	// Transitions are the findings' changes of status to list, oldest
	// first; Since is when the history starts (serve's start), shown when
	// there are none.
	Transitions []Transition
	Since       time.Time
	// PolicyError is why the last policy reload failed, "" when it did not.
	PolicyError string
	// Now is when the page is made (zero: now).
	Now time.Time
}

// Transition is one change of a finding's status, as serve logs it.
type Transition struct {
	Time        time.Time `json:"time"`
	Check       string    `json:"check"`
	From        string    `json:"from"`
	To          string    `json:"to"`
	Cause       string    `json:"event"`
	Explanation string    `json:"explanation"`
}

var (
	//go:embed page.css
	pageCSS string
	//go:embed page.html.tmpl
	pageTemplate string

	pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
		"stamp": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"when":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	}).Parse(pageTemplate))
)

// PageCSP is the page's Content-Security-Policy, as serve sends it: nothing
// may load or run but the page's own inline style sheet, named by its hash
// (so no injected style either), and it may not be framed. The page
// carries the same in a meta element, for the file check writes, less
// frame-ancestors, which browsers ignore there.
var PageCSP = metaCSP + "; frame-ancestors 'none'"

var metaCSP = "default-src 'none'; style-src '" + styleHash() + "'; img-src 'none'; script-src 'none'; base-uri 'none'; form-action 'none'"

func styleHash() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// pageGroup is one status's findings, as the page lists them.
type pageGroup struct {
	Status    finding.Status
	Title     string
	Collapsed bool
	Findings  []finding.Finding
}

// pageView is the template's data: the page, its groups and whatever the
// template cannot compute.
type pageView struct {
	Page
	Host       string
	Summary    finding.Summary
	Groups     []pageGroup
	Collectors []snapshot.CollectorStatus
	CSS        template.CSS
	CSP        string
}

// pageGroups are the page's sections in order: what needs action first,
// passing checks last and collapsed.
var pageGroups = []pageGroup{
	{Status: finding.Fail, Title: "Failing"},
	{Status: finding.Error, Title: "Cannot be evaluated"},
	{Status: finding.Waived, Title: "Waived"},
	{Status: finding.Skip, Title: "Do not apply to this host"},
	{Status: finding.Pass, Title: "Passing", Collapsed: true},
}

// WritePage writes p as one self-contained HTML document: inline style, no
// script, no external resource. Every string from the host or the policy
// is escaped by html/template.
func WritePage(w io.Writer, p Page) error {
	if p.Now.IsZero() {
		p.Now = time.Now()
	}
	if p.LastEvaluated.IsZero() {
		p.LastEvaluated = p.Report.StartedAt
	}
	v := pageView{Page: p, Host: hostName(p.Report), Summary: p.Report.Summary, CSS: template.CSS(pageCSS), CSP: metaCSP}
	for _, g := range pageGroups {
		for _, f := range p.Report.Findings {
			if f.Status == g.Status {
				g.Findings = append(g.Findings, f)
			}
		}
		if len(g.Findings) > 0 {
			v.Groups = append(v.Groups, g)
		}
	}
	for _, c := range p.Report.Collectors {
		if c.Status != snapshot.StatusOK {
			v.Collectors = append(v.Collectors, c)
		}
	}
	return pageTmpl.Execute(w, v)
}

// renderHTML is the html format: the page of one run, as check writes it.
func renderHTML(w io.Writer, r *Report, _ Options) error {
	return WritePage(w, Page{Report: r})
}

// Ago says roughly how long before the page was made t was.
func (v pageView) Ago(t time.Time) string {
	d := v.Now.Sub(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	default:
		return fmt.Sprintf("%.1f h ago", d.Hours())
	}
}
