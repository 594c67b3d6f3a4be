package rules

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
)

// The operator's policy files are layered over the built-in policy:
//
//   - a check, variable or ignore block (or the drift block) whose name is
//     the built-in one's replaces it, wherever either is read;
//   - disable "kind.name" { reason = "..." } turns one check off: it is not
//     evaluated, and its finding is a skip that says who turned it off and why;
//   - waiver "kind.name" { reason, expires } turns a fail, error or skip of any
//     check, built-in or not, into waived until it expires;
//   - hostdrift { builtin = false } turns the built-in policy off (the command
//     reads it before it decides which files to load).
//
// Two blocks of the same name in the same layer are an error citing both.

// Override is an operator's check that replaces a built-in one.
type Override struct {
	Check    string         // kind.name
	Source   finding.Source // the operator's block
	Replaced finding.Source // the built-in block it replaces
}

// Disabled is a check that a disable block turned off.
type Disabled struct {
	Check  *Compiled
	Reason string
	Source finding.Source // the disable block
}

// Waiver is a waiver as the policy declares it, for listing.
type Waiver struct {
	Check   string
	Reason  string
	Expires string
	Source  finding.Source
	until   time.Time
}

// Expired reports whether the waiver no longer holds at now.
func (w Waiver) Expired(now time.Time) bool { return !now.Before(w.until) }

// layered picks, among blocks named by key, the one that takes effect for
// each name, in the order the names first appear: an operator's block
// replaces a built-in one of the same name (replaced maps it to the block
// it replaces); two of the same name in one layer are an error, what
// naming the kind of block in it.
func (p *Policy) layered(blocks []*hcl.Block, key func(*hcl.Block) string, what string) ([]*hcl.Block, map[*hcl.Block]*hcl.Block, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var out []*hcl.Block
	index := map[string]int{}
	replaced := map[*hcl.Block]*hcl.Block{}
	for _, b := range blocks {
		k := key(b)
		i, seen := index[k]
		if !seen {
			index[k] = len(out)
			out = append(out, b)
			continue
		}
		prev := out[i]
		prevBuiltin, curBuiltin := p.isBuiltin(prev), p.isBuiltin(b)
		_, prevReplaces := replaced[prev]
		if prevBuiltin != curBuiltin && !prevReplaces {
			if curBuiltin { // named after the operator's file: theirs still wins
				replaced[prev] = b
				continue
			}
			out[i] = b
			replaced[b] = prev
			continue
		}
		detail := fmt.Sprintf("%s %q is already declared at %s; within your files (or within the built-in policy) a name is declared once. A block in your files replaces a built-in one of the same name.", what, k, prev.DefRange)
		if what == "check" {
			detail = fmt.Sprintf("%s is already declared at %s; give each check its own name. A check in your files replaces a built-in one of the same kind.name, but two of yours cannot share one.", k, prev.DefRange)
		}
		if k == "" {
			detail = fmt.Sprintf("a %s is already declared at %s; the policy holds at most one in your files (and one there replaces a built-in one).", what, prev.DefRange)
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate " + what, Detail: detail, Subject: b.DefRange.Ptr()})
	}
	return out, replaced, diags
}

func (p *Policy) isBuiltin(b *hcl.Block) bool { return p.builtin[b.DefRange.Filename] }

func sourceOf(b *hcl.Block) finding.Source {
	return finding.Source{File: b.DefRange.Filename, Line: b.DefRange.Start.Line}
}

func checkKey(b *hcl.Block) string { return b.Type + "." + b.Labels[0] }

// BuiltinOff reports whether a file of the policy turns the built-in policy
// off with hostdrift { builtin = false }, and where. Problems with the
// hostdrift block are reported by Compile.
func (p *Policy) BuiltinOff() (bool, hcl.Range) {
	for _, b := range p.settings {
		content, diags := b.Body.Content(settingsSchema)
		if diags.HasErrors() {
			continue
		}
		if a, ok := content.Attributes["builtin"]; ok {
			v, diags := a.Expr.Value(nil)
			if !diags.HasErrors() && v.IsKnown() && !v.IsNull() && v.Type().FriendlyName() == "bool" && v.False() {
				return true, a.Range
			}
		}
	}
	return false, hcl.Range{}
}

var settingsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "builtin"}}}

// compileSettings checks the hostdrift blocks: at most one, in an
// operator's file, with builtin a literal true or false.
func (p *Policy) compileSettings() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for i, b := range p.settings {
		if i > 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate hostdrift block",
				Detail: fmt.Sprintf("a hostdrift block is already declared at %s; the policy holds at most one.", p.settings[0].DefRange), Subject: b.DefRange.Ptr()})
			continue
		}
		content, d := b.Body.Content(settingsSchema)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		a, ok := content.Attributes["builtin"]
		if !ok {
			continue
		}
		v, d := a.Expr.Value(nil)
		if d.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type().FriendlyName() != "bool" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for builtin",
				Detail: "builtin must be true or false, written as such: it decides which files are read, before variables and host facts exist.", Subject: a.Expr.Range().Ptr()})
		}
	}
	return diags
}

// compileLayers compiles the checks that take effect, then applies the
// disable and waiver blocks to them. A disable or waiver block names one
// check, one instance of a check with for_each (kind.name["key"]), or every
// instance of one (kind.name).
func (p *Policy) compileLayers(ctx *hcl.EvalContext, plan *Plan) hcl.Diagnostics {
	blocks, replaced, diags := p.layered(p.checks, checkKey, "check")
	instances := map[string][]*Compiled{} // by kind.name
	open := map[string]bool{}             // blocks whose instances are not known here
	var ids []string                      // every kind.name and kind.name["key"]
	for _, b := range blocks {
		cs, unknown, d := compileBlock(b, ctx, p.isBuiltin(b))
		diags = append(diags, d...)
		id := checkKey(b)
		ids = append(ids, id)
		if unknown || d.HasErrors() {
			open[id] = true // nothing more to say about names of its instances
		}
		old, replacing := replaced[b]
		if replacing && len(cs) > 0 {
			src := sourceOf(old)
			plan.Overrides = append(plan.Overrides, Override{Check: id, Source: cs[0].Source, Replaced: src})
		}
		for _, c := range cs {
			if replacing {
				src := sourceOf(old)
				c.Replaces = &src
			}
			if c.Keyed && !unknown {
				ids = append(ids, c.ID())
			}
			instances[id] = append(instances[id], c)
			plan.Checks = append(plan.Checks, c)
		}
	}
	sort.Strings(ids)
	known := func(b *hcl.Block, what string) bool {
		id := b.Labels[0]
		r, _ := parseCheckRef(id)
		if sortedHas(ids, id) || (r.hasKey && open[r.block]) {
			return true
		}
		detail := fmt.Sprintf("No check is named %q; a %s names a check as kind.name (or one instance of a check with for_each as kind.name[\"key\"]).", id, what)
		if s := suggest(id, ids); s != "" {
			detail += fmt.Sprintf(" Did you mean %q?", s)
		}
		if r.hasKey && sortedHas(ids, r.block) {
			var keys []string
			for _, c := range instances[r.block] {
				if c.Keyed {
					keys = append(keys, c.Key)
				}
			}
			if len(keys) == 0 {
				detail = fmt.Sprintf("%s has no for_each, so it has no instance %q: name it %s.", r.block, r.key, r.block)
			} else {
				detail = fmt.Sprintf("%s has no instance %q; its for_each keys are %s.", r.block, r.key, quoteList(keys))
				if s := suggest(r.key, keys); s != "" {
					detail += fmt.Sprintf(" Did you mean %s?", instanceName(r.block, s))
				}
			}
		}
		if len(p.builtin) == 0 && !sortedHas(ids, r.block) {
			detail += " The built-in policy is not part of this run: if the check is one of its, read it too (drop --policy, or add --policy builtin:default)."
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: strings.ToUpper(what[:1]) + what[1:] + " for an unknown check", Detail: detail, Subject: b.LabelRanges[0].Ptr()})
		return false
	}
	// targets are the compiled checks a disable or waiver block names.
	targets := func(id string) []*Compiled {
		r, _ := parseCheckRef(id)
		if !r.hasKey {
			return instances[r.block]
		}
		for _, c := range instances[r.block] {
			if c.ID() == id {
				return []*Compiled{c}
			}
		}
		return nil
	}

	disables, _, d := p.layered(p.disables, func(b *hcl.Block) string { return b.Labels[0] }, "disable")
	diags = append(diags, d...)
	disabled := map[string]hcl.Range{}
	for _, b := range disables {
		reason, d := compileReason(b)
		diags = append(diags, d...)
		if !known(b, "disable") || d.HasErrors() {
			continue
		}
		for _, c := range targets(b.Labels[0]) {
			if c.Replaces != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Check both replaced and disabled",
					Detail: fmt.Sprintf("%s is replaced by the block at %s and disabled here: keep one of them.", c.BlockID(), c.Source), Subject: b.DefRange.Ptr()})
				break
			}
			if _, twice := disabled[c.ID()]; twice {
				continue // disabled both as a whole and as an instance
			}
			disabled[c.ID()] = b.DefRange
			plan.Disabled = append(plan.Disabled, Disabled{Check: c, Reason: reason, Source: sourceOf(b)})
			plan.Checks = removeCheck(plan.Checks, c)
		}
		disabled[b.Labels[0]] = b.DefRange
	}

	waivers, _, d := p.layered(p.waivers, func(b *hcl.Block) string { return b.Labels[0] }, "waiver")
	diags = append(diags, d...)
	for _, b := range waivers {
		w, d := compileWaiver(b)
		diags = append(diags, d...)
		if !known(b, "waiver") {
			continue
		}
		id := b.Labels[0]
		r, _ := parseCheckRef(id)
		at, off := disabled[id]
		if !off {
			at, off = disabled[r.block]
		}
		if off {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Waiver for a disabled check",
				Detail: fmt.Sprintf("%s is disabled at %s, so it is never evaluated and this waiver never applies: remove one of them.", id, at), Subject: b.LabelRanges[0].Ptr()})
			continue
		}
		if w != nil {
			plan.waivers[id] = w
		}
	}
	return diags
}

// compileReason reads a disable block: a reason, required and not empty.
func compileReason(b *hcl.Block) (string, hcl.Diagnostics) {
	content, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "reason", Required: true}}})
	if diags.HasErrors() {
		return "", diags
	}
	d := &Decoder{Kind: "disable", Name: b.Labels[0], Block: b, content: content}
	reason := d.String("reason", "")
	if strings.TrimSpace(reason) == "" && !d.diags.HasErrors() {
		d.Errorf("reason", "Empty reason", "Say why the check does not apply to this host, and who decided it; reports show it.")
	}
	return reason, append(diags, d.diags...)
}

func removeCheck(cs []*Compiled, c *Compiled) []*Compiled {
	for i, x := range cs {
		if x == c {
			return append(cs[:i:i], cs[i+1:]...)
		}
	}
	return cs
}

func sortedHas(ss []string, s string) bool {
	i := sort.SearchStrings(ss, s)
	return i < len(ss) && ss[i] == s
}

// Waivers lists the policy's waivers, sorted by check.
func (p *Plan) Waivers() []Waiver {
	out := make([]Waiver, 0, len(p.waivers))
	for id, w := range p.waivers {
		out = append(out, Waiver{Check: id, Reason: w.reason, Expires: w.date, Source: w.source, until: w.expires})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Check < out[j].Check })
	return out
}

// disabledFinding is the finding of a check a disable block turned off: a
// skip that says so, never a pass.
func disabledFinding(d Disabled) finding.Finding {
	c := d.Check
	return finding.Finding{
		Check:       c.ID(),
		Kind:        c.Kind.Name,
		Name:        c.Name,
		Description: c.Description,
		Status:      finding.Skip,
		Severity:    c.Severity,
		Tags:        c.Tags,
		Explanation: fmt.Sprintf("Disabled by %s, not evaluated: %s", d.Source, d.Reason),
		Source:      c.Source,
	}
}
