package rules

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/diff"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// A policy judges drift against a baseline with two kinds of block:
//
//	ignore "docker-chains" {
//	  area   = "firewall"
//	  kind   = "rule"                                   # optional glob
//	  match  = { table = "filter", chain = "DOCKER*" }  # field globs; "id" is the identity
//	  reason = "Docker rewrites its chains on every restart"
//	}
//
//	drift {
//	  severity = { firewall = "critical", dns = "warning" }
//	}

// DefaultDriftSeverity is the severity of a drift finding per area when no
// drift block says otherwise: a changed firewall decides what reaches the
// host, so it is critical; the rest is worth a look.
var DefaultDriftSeverity = map[string]finding.Severity{
	snapshot.AreaFirewall:  finding.Critical,
	snapshot.AreaListeners: finding.Warning,
	snapshot.AreaDNS:       finding.Warning,
	snapshot.AreaDocker:    finding.Warning,
	snapshot.AreaCron:      finding.Warning,
	snapshot.AreaTimers:    finding.Warning,
}

func compileIgnore(b *hcl.Block, ctx *hcl.EvalContext) (*diff.Ignore, hcl.Diagnostics) {
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "area", Required: true},
		{Name: "kind"},
		{Name: "match"},
		{Name: "reason"},
	}})
	if diags.HasErrors() {
		return nil, diags
	}
	d := &Decoder{Kind: "ignore", Name: b.Labels[0], Block: b, content: content, ctx: ctx}
	ig := &diff.Ignore{
		Name:  b.Labels[0],
		Area:  d.OneOf("area", "", snapshot.AreaNames()...),
		Kind:  d.String("kind", ""),
		Match: d.StringMap("match"),
	}
	if err := diff.ValidatePattern(ig.Kind); err != nil {
		d.Errorf("kind", "Invalid pattern", "%q is not a valid glob: %v.", ig.Kind, err)
	}
	for k, p := range ig.Match {
		if err := diff.ValidatePattern(p); err != nil {
			d.Errorf("match", "Invalid pattern", "match.%s = %q is not a valid glob: %v.", k, p, err)
		}
	}
	if !d.Has("kind") && !d.Has("match") && !d.diags.HasErrors() {
		d.Errorf("area", "Ignore of a whole area", "ignore %q names no kind and no match, so it would hide every change in %s; narrow it with kind or match, or leave the area out of the baseline.", ig.Name, ig.Area)
	}
	diags = append(diags, d.diags...)
	if diags.HasErrors() {
		return nil, diags
	}
	return ig, diags
}

func compileDrift(b *hcl.Block, ctx *hcl.EvalContext, into map[string]finding.Severity) hcl.Diagnostics {
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "severity"}}})
	if diags.HasErrors() {
		return diags
	}
	d := &Decoder{Kind: "drift", Name: "drift", Block: b, content: content, ctx: ctx}
	areas := snapshot.AreaCollectors()
	for area, sev := range d.StringMap("severity") {
		if _, ok := areas[area]; !ok {
			d.Errorf("severity", "Unknown area", "severity names %q; the areas are %s.", area, strings.Join(snapshot.AreaNames(), ", "))
			continue
		}
		switch finding.Severity(sev) {
		case finding.Info, finding.Warning, finding.Critical:
			into[area] = finding.Severity(sev)
		default:
			d.Errorf("severity", "Invalid severity", "severity.%s = %q; use info, warning or critical.", area, sev)
		}
	}
	return append(diags, d.diags...)
}

// DriftFindings turns a comparison with a baseline into findings of kind
// drift: one fail per change, and one error per area that could not be
// compared, so a baseline run is never silently partial.
func (p *Plan) DriftFindings(d *diff.Diff, baseline string) []finding.Finding {
	src := finding.Source{File: baseline}
	since := fmt.Sprintf("since the baseline %s (taken %s)", baseline, d.Old.TakenAt.Format("2006-01-02 15:04 MST"))
	var out []finding.Finding
	for _, a := range d.Incomplete() {
		out = append(out, finding.Finding{
			Check: "drift." + a.Name, Kind: "drift", Name: a.Name,
			Status: finding.Error, Severity: p.driftSeverity(a.Name), Source: src,
			Expected:    a.Name + " compared with the baseline",
			Observed:    "not compared",
			Explanation: fmt.Sprintf("%s could not be compared with the baseline: %s.", a.Name, a.NotCompared),
		})
	}
	for _, c := range d.Changes {
		f := finding.Finding{
			Check: "drift." + c.Area + "." + c.Kind + ":" + c.ID, Kind: "drift", Name: c.Area + "." + c.Kind + ":" + c.ID,
			Status: finding.Fail, Severity: p.driftSeverity(c.Area), Source: src,
			Tags: []string{"drift", c.Area},
		}
		switch c.Op {
		case diff.Added:
			f.Expected, f.Observed = "absent, as in the baseline", "present"
			f.Explanation = fmt.Sprintf("New %s %s %s: %s.", c.Area, c.Kind, since, c.ID)
		case diff.Removed:
			f.Expected, f.Observed = "present, as in the baseline", "absent"
			f.Explanation = fmt.Sprintf("The %s %s %s is gone %s.", c.Area, c.Kind, c.ID, since)
		default:
			var was, now []string
			for _, fc := range c.Fields {
				was = append(was, fc.Name+"="+fc.Old)
				now = append(now, fc.Name+"="+fc.New)
			}
			f.Expected, f.Observed = strings.Join(was, ", "), strings.Join(now, ", ")
			f.Explanation = fmt.Sprintf("The %s %s %s changed %s: %s.", c.Area, c.Kind, c.ID, since, strings.TrimPrefix(c.Summary(), c.Area+" "+c.Kind+" changed: "+c.ID+" "))
		}
		f.Remediation = "If the change is intended, take a new baseline (hostdrift snapshot --output FILE) or add an ignore block; otherwise undo it."
		out = append(out, f)
	}
	return out
}

func (p *Plan) driftSeverity(area string) finding.Severity {
	if s, ok := p.DriftSeverity[area]; ok {
		return s
	}
	if s, ok := DefaultDriftSeverity[area]; ok {
		return s
	}
	return finding.Warning
}
