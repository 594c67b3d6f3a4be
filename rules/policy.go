package rules

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/hostdrift/hostdrift/internal/diff"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Source is one policy file: the name diagnostics and findings cite, and its text.
type Source struct {
	Name string
	Text []byte
}

// Policy is a set of parsed policy files, not yet bound to a host.
type Policy struct {
	// Files maps each file name to its parsed form, for printing diagnostics
	// with source snippets.
	Files   map[string]*hcl.File
	Sources []string
	vars    []*hcl.Block
	checks  []*hcl.Block
	waivers []*hcl.Block
	ignores []*hcl.Block
	drift   []*hcl.Block
}

var labelPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

func rootSchema() *hcl.BodySchema {
	s := &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "waiver", LabelNames: []string{"check"}},
		{Type: "ignore", LabelNames: []string{"name"}},
		{Type: "drift"},
	}}
	for _, k := range Kinds() {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: k.Name, LabelNames: []string{"name"}})
	}
	return s
}

// Load parses policy files. It only reads their text: nothing about the host
// is needed, so syntax and structure errors surface before anything runs.
func Load(sources []Source) (*Policy, hcl.Diagnostics) {
	p := &Policy{Files: map[string]*hcl.File{}}
	var diags hcl.Diagnostics
	schema := rootSchema()
	for _, src := range sources {
		p.Sources = append(p.Sources, src.Name)
		f, d := hclsyntax.ParseConfig(src.Text, src.Name, hcl.InitialPos)
		diags = append(diags, d...)
		if f == nil {
			continue
		}
		p.Files[src.Name] = f
		if d.HasErrors() {
			continue
		}
		content, d := f.Body.Content(schema)
		diags = append(diags, explainUnknownBlocks(d)...)
		for _, b := range content.Blocks {
			if b.Type == "drift" {
				p.drift = append(p.drift, b)
				continue
			}
			if !labelPattern.MatchString(b.Labels[0]) {
				rng := b.LabelRanges[0]
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid name",
					Detail:   fmt.Sprintf("%q is not a valid name: use letters, digits, '-', '_' and '.', starting with a letter or digit.", b.Labels[0]),
					Subject:  &rng,
				})
				continue
			}
			switch b.Type {
			case "variable":
				p.vars = append(p.vars, b)
			case "waiver":
				p.waivers = append(p.waivers, b)
			case "ignore":
				p.ignores = append(p.ignores, b)
			default:
				p.checks = append(p.checks, b)
			}
		}
	}
	return p, diags
}

// explainUnknownBlocks adds the list of known kinds to HCL's "Unsupported
// block type" diagnostics, which only suggest the closest one.
func explainUnknownBlocks(diags hcl.Diagnostics) hcl.Diagnostics {
	for _, d := range diags {
		if d.Summary == "Unsupported block type" {
			d.Detail += " Known check kinds: " + strings.Join(kindNames(), ", ") + "; and the blocks variable, waiver, ignore and drift."
		}
		if d.Summary == "Unsupported argument" && d.Subject != nil {
			d.Detail += " A policy file holds only blocks: checks, variable, waiver, ignore and drift."
		}
	}
	return diags
}

// Plan is a policy bound to one host's facts and variables: checks ready to
// judge snapshots.
type Plan struct {
	Checks  []*Compiled
	Sources []string
	// Ignores drop changes from comparisons with a baseline, and
	// DriftSeverity overrides DefaultDriftSeverity per area.
	Ignores       []diff.Ignore
	DriftSeverity map[string]finding.Severity
	waivers       map[string]*waiver
}

// Compiled is one check with its common attributes.
type Compiled struct {
	Kind        *Kind
	Name        string
	Description string
	Severity    finding.Severity
	Tags        []string
	Source      finding.Source
	Check       Check
}

// ID is the check's identity in reports and waivers: kind.name.
func (c *Compiled) ID() string { return c.Kind.Name + "." + c.Name }

type waiver struct {
	reason  string
	expires time.Time // first instant at which the waiver no longer holds
	date    string
	source  finding.Source
}

var commonAttributes = []hcl.AttributeSchema{
	{Name: "description"},
	{Name: "severity"},
	{Name: "tags"},
}

// Compile binds the policy to a host and to variable values given as
// NAME=VALUE strings. With host nil (policy validate), host facts and
// variables without a value are unknown: expressions that use them are
// checked for structure only.
func (p *Policy) Compile(host *snapshot.Host, vars map[string]string) (*Plan, hcl.Diagnostics) {
	varVal, diags := p.variables(vars, host == nil)
	if diags.HasErrors() {
		return nil, diags
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"host": HostValue(host),
		"var":  varVal,
	}}
	plan := &Plan{Sources: p.Sources, waivers: map[string]*waiver{}, DriftSeverity: map[string]finding.Severity{}}
	seen := map[string]hcl.Range{}
	for _, b := range p.checks {
		c, d := compileCheck(b, ctx)
		diags = append(diags, d...)
		if c == nil {
			continue
		}
		if prev, dup := seen[c.ID()]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate check",
				Detail:   fmt.Sprintf("%s is already declared at %s; give each check its own name.", c.ID(), prev),
				Subject:  b.DefRange.Ptr(),
			})
			continue
		}
		seen[c.ID()] = b.DefRange
		plan.Checks = append(plan.Checks, c)
	}
	for _, b := range p.waivers {
		id := b.Labels[0]
		w, d := compileWaiver(b)
		diags = append(diags, d...)
		if _, ok := seen[id]; !ok {
			ids := make([]string, 0, len(seen))
			for k := range seen {
				ids = append(ids, k)
			}
			sort.Strings(ids)
			detail := fmt.Sprintf("No check is named %q; a waiver names a check as kind.name.", id)
			if s := suggest(id, ids); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Waiver for an unknown check", Detail: detail, Subject: b.LabelRanges[0].Ptr()})
			continue
		}
		if w != nil {
			plan.waivers[id] = w
		}
	}
	ignored := map[string]hcl.Range{}
	for _, b := range p.ignores {
		ig, d := compileIgnore(b, ctx)
		diags = append(diags, d...)
		if prev, dup := ignored[b.Labels[0]]; dup {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate ignore",
				Detail: fmt.Sprintf("ignore %q is already declared at %s.", b.Labels[0], prev), Subject: b.DefRange.Ptr()})
			continue
		}
		ignored[b.Labels[0]] = b.DefRange
		if ig != nil {
			plan.Ignores = append(plan.Ignores, *ig)
		}
	}
	for i, b := range p.drift {
		if i > 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate drift block",
				Detail: fmt.Sprintf("a drift block is already declared at %s; the policy holds at most one.", p.drift[0].DefRange), Subject: b.DefRange.Ptr()})
			continue
		}
		diags = append(diags, compileDrift(b, ctx, plan.DriftSeverity)...)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return plan, diags
}

func compileCheck(b *hcl.Block, ctx *hcl.EvalContext) (*Compiled, hcl.Diagnostics) {
	k := kindNamed(b.Type)
	schema := &hcl.BodySchema{Attributes: append(append([]hcl.AttributeSchema{}, commonAttributes...), k.Attributes...)}
	content, diags := b.Body.Content(schema)
	if diags.HasErrors() {
		return nil, diags
	}
	d := &Decoder{Kind: k.Name, Name: b.Labels[0], Block: b, content: content, ctx: ctx}
	c := &Compiled{
		Kind:        k,
		Name:        b.Labels[0],
		Description: d.String("description", ""),
		Severity:    finding.Severity(d.OneOf("severity", string(finding.Warning), "info", "warning", "critical")),
		Tags:        d.Strings("tags"),
		Source:      finding.Source{File: b.DefRange.Filename, Line: b.DefRange.Start.Line},
	}
	c.Check = k.Decode(d)
	diags = append(diags, d.diags...)
	if diags.HasErrors() {
		return nil, diags
	}
	return c, diags
}

func compileWaiver(b *hcl.Block) (*waiver, hcl.Diagnostics) {
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "reason", Required: true},
		{Name: "expires", Required: true},
	}})
	if diags.HasErrors() {
		return nil, diags
	}
	d := &Decoder{Kind: "waiver", Name: b.Labels[0], Block: b, content: content, ctx: nil}
	w := &waiver{
		reason: d.String("reason", ""),
		date:   d.String("expires", ""),
		source: finding.Source{File: b.DefRange.Filename, Line: b.DefRange.Start.Line},
	}
	if strings.TrimSpace(w.reason) == "" && !d.diags.HasErrors() {
		d.Errorf("reason", "Empty waiver reason", "Say why the drift is accepted and who owns it, e.g. a ticket number.")
	}
	if day, err := time.Parse("2006-01-02", w.date); err == nil {
		w.expires = day.AddDate(0, 0, 1) // valid through the named day (UTC)
	} else if t, err := time.Parse(time.RFC3339, w.date); err == nil {
		w.expires = t
	} else if !d.diags.HasErrors() {
		d.Errorf("expires", "Invalid expiry date", "%q is not a date; write it as YYYY-MM-DD (valid through that day, UTC) or an RFC 3339 time. Waivers must expire.", w.date)
	}
	diags = append(diags, d.diags...)
	if diags.HasErrors() {
		return nil, diags
	}
	return w, diags
}

// variables evaluates the variable blocks, overridden by vals.
func (p *Policy) variables(vals map[string]string, validating bool) (cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	out := map[string]cty.Value{}
	declared := map[string]bool{}
	for _, b := range p.vars {
		name := b.Labels[0]
		content, d := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "default"}, {Name: "description"}}})
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if declared[name] {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate variable", Detail: fmt.Sprintf("variable %q is declared twice.", name), Subject: b.DefRange.Ptr()})
			continue
		}
		declared[name] = true
		if raw, ok := vals[name]; ok {
			v, d := parseVarValue(name, raw)
			diags = append(diags, d...)
			out[name] = v
			continue
		}
		if a, ok := content.Attributes["default"]; ok {
			v, d := a.Expr.Value(nil)
			diags = append(diags, d...)
			out[name] = v
			continue
		}
		if validating {
			out[name] = cty.DynamicVal
			continue
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Variable without a value",
			Detail:   fmt.Sprintf("variable %q has no default; pass --var %s=VALUE or give it a default.", name, name),
			Subject:  b.DefRange.Ptr(),
		})
	}
	var undeclared []string
	for name := range vals {
		if !declared[name] {
			undeclared = append(undeclared, name)
		}
	}
	sort.Strings(undeclared)
	for _, name := range undeclared {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Undeclared variable",
			Detail:   fmt.Sprintf("--var %s is given but no policy declares variable %q; add a variable block or drop the flag.", name, name),
		})
	}
	return cty.ObjectVal(out), diags
}

// parseVarValue reads a --var value: a list or object when written as an HCL
// expression ("[\"a\", \"b\"]"), a plain string otherwise.
func parseVarValue(name, raw string) (cty.Value, hcl.Diagnostics) {
	t := strings.TrimSpace(raw)
	if strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{") {
		expr, diags := hclsyntax.ParseExpression([]byte(t), "--var "+name, hcl.InitialPos)
		if diags.HasErrors() {
			return cty.DynamicVal, diags
		}
		return expr.Value(nil)
	}
	return cty.StringVal(raw), nil
}

// HostType is the type of the host object policies refer to.
var HostType = cty.Object(map[string]cty.Type{
	"hostname":  cty.String,
	"fqdn":      cty.String,
	"addresses": cty.List(cty.String),
	"ipv4":      cty.List(cty.String),
	"ipv6":      cty.List(cty.String),
})

// HostValue is the host object: host.hostname, host.fqdn, host.addresses
// (every address another machine could reach this host at), host.ipv4 and
// host.ipv6. With h nil every fact is unknown.
func HostValue(h *snapshot.Host) cty.Value {
	if h == nil {
		return cty.UnknownVal(HostType)
	}
	var all, v4, v6 []cty.Value
	for _, a := range h.UnicastAddresses() {
		s := cty.StringVal(a.IP.String())
		all = append(all, s)
		if a.IP.Unmap().Is4() {
			v4 = append(v4, s)
		} else {
			v6 = append(v6, s)
		}
	}
	list := func(vs []cty.Value) cty.Value {
		if len(vs) == 0 {
			return cty.ListValEmpty(cty.String)
		}
		return cty.ListVal(vs)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"hostname":  cty.StringVal(h.Hostname),
		"fqdn":      cty.StringVal(h.FQDN),
		"addresses": list(all),
		"ipv4":      list(v4),
		"ipv6":      list(v6),
	})
}
