package rules

import (
	"fmt"

	"github.com/agext/levenshtein"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// local is one name = expression line of a locals block.
type local struct {
	attr *hcl.Attribute
	deps []hcl.Traversal // its references to local.NAME
}

// locals evaluates the locals blocks into the object policies refer to as
// local.NAME. A local may refer to var., host., functions and other locals,
// in any order; a cycle is an error that names it. As with other blocks, a
// local in the operator's files replaces a built-in one of the same name.
func (p *Policy) locals(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	defs := map[string]*local{}
	builtinDef := map[string]bool{}
	var order []string
	for _, b := range p.localBlocks {
		attrs, d := b.Body.JustAttributes()
		for _, dd := range d {
			if strings.HasPrefix(dd.Summary, "Unexpected ") {
				dd.Detail = "A locals block holds only name = expression lines."
			}
		}
		diags = append(diags, d...)
		list := make([]*hcl.Attribute, 0, len(attrs))
		for _, a := range attrs {
			list = append(list, a)
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Range.Start.Byte < list[j].Range.Start.Byte })
		builtin := p.isBuiltin(b)
		for _, a := range list {
			if prev, ok := defs[a.Name]; ok {
				if builtinDef[a.Name] && !builtin {
					defs[a.Name] = &local{attr: a}
					builtinDef[a.Name] = false
					continue
				}
				if !builtinDef[a.Name] && builtin {
					continue // the operator's, read earlier, still wins
				}
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate local value",
					Detail:  fmt.Sprintf("local.%s is already defined at %s; give each local its own name.", a.Name, prev.attr.NameRange),
					Subject: a.NameRange.Ptr()})
				continue
			}
			defs[a.Name] = &local{attr: a}
			builtinDef[a.Name] = builtin
			order = append(order, a.Name)
		}
	}
	bad := map[string]bool{} // locals that refer to what does not exist
	names := make([]string, 0, len(defs))
	for n := range defs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range order {
		l := defs[name]
		for _, tr := range l.attr.Expr.Variables() {
			if tr.RootName() != "local" {
				continue
			}
			at, ok := localName(tr)
			if !ok {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid reference",
					Detail: "Refer to a local value as local.NAME.", Subject: tr.SourceRange().Ptr()})
				bad[name] = true
				continue
			}
			if _, ok := defs[at]; !ok {
				diags = append(diags, undeclaredLocal(at, tr.SourceRange(), names))
				bad[name] = true
				continue
			}
			l.deps = append(l.deps, tr)
		}
	}
	vals := map[string]cty.Value{}
	state := map[string]int{} // 1 evaluating, 2 done
	var stack []string
	var eval func(name string) bool
	eval = func(name string) bool {
		switch state[name] {
		case 2:
			return true
		case 1:
			i := len(stack) - 1
			for stack[i] != name {
				i--
			}
			cycle := append(append([]string{}, stack[i:]...), name)
			for j := range cycle {
				cycle[j] = "local." + cycle[j]
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cycle in local values",
				Detail:  fmt.Sprintf("The local values refer to each other in a circle: %s. Break the circle: one of them must be computed without the others.", strings.Join(cycle, " -> ")),
				Subject: defs[name].attr.NameRange.Ptr()})
			return false
		}
		state[name] = 1
		stack = append(stack, name)
		ok := true
		for _, tr := range defs[name].deps {
			dep, _ := localName(tr)
			if !eval(dep) {
				ok = false
				break
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = 2
		if !ok || bad[name] {
			vals[name] = cty.DynamicVal // its error is reported already
			return false
		}
		child := ctx.NewChild()
		child.Variables = map[string]cty.Value{"local": cty.ObjectVal(copyVals(vals))}
		v, d := defs[name].attr.Expr.Value(child)
		diags = append(diags, d...)
		if d.HasErrors() {
			v = cty.DynamicVal
		}
		vals[name] = v
		return true
	}
	for _, name := range order {
		eval(name)
	}
	return cty.ObjectVal(vals), diags
}

func localName(tr hcl.Traversal) (string, bool) {
	if len(tr) < 2 {
		return "", false
	}
	at, ok := tr[1].(hcl.TraverseAttr)
	return at.Name, ok
}

func copyVals(m map[string]cty.Value) map[string]cty.Value {
	out := make(map[string]cty.Value, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func undeclaredLocal(name string, rng hcl.Range, names []string) *hcl.Diagnostic {
	detail := fmt.Sprintf("No local value named %q is defined in a locals block.", name)
	if s := nearName(name, names); s != "" {
		detail += fmt.Sprintf(" Did you mean %q?", s)
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Reference to undeclared local value", Detail: detail, Subject: rng.Ptr()}
}

// blockRefs lists the variables a block's attributes refer to, walking
// each expression once for the checks that read them.
func blockRefs(b *hcl.Block) []hcl.Traversal {
	body, ok := b.Body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	var refs []hcl.Traversal
	for _, a := range body.Attributes {
		refs = append(refs, a.Expr.Variables()...)
	}
	return refs
}

// undeclaredLocalRefs reports the references to local values no locals
// block defines, among refs (a block's blockRefs), with the nearest name
// (HCL alone only says the object has no such attribute).
func undeclaredLocalRefs(refs []hcl.Traversal, ctx *hcl.EvalContext) hcl.Diagnostics {
	locals := ctx.Variables["local"]
	if len(refs) == 0 || locals == cty.NilVal || !locals.Type().IsObjectType() {
		return nil
	}
	var names []string
	for n := range locals.Type().AttributeTypes() {
		names = append(names, n)
	}
	sort.Strings(names)
	var diags hcl.Diagnostics
	for _, tr := range refs {
		if n, ok := localName(tr); ok && tr.RootName() == "local" && !locals.Type().HasAttribute(n) {
			diags = append(diags, undeclaredLocal(n, tr.SourceRange(), names))
		}
	}
	sort.Slice(diags, func(i, j int) bool { return diags[i].Subject.Start.Byte < diags[j].Subject.Start.Byte })
	return diags
}

// nearName returns the name closest to s when it is a likely misspelling,
// by HCL's own measure (fewer than three edits), for short names too.
func nearName(s string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if d := levenshtein.Distance(s, n, nil); d < bestDist && d < len(s) {
			best, bestDist = n, d
		}
	}
	return best
}
