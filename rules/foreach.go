package rules

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// A check block with for_each is one check per element, as a Terraform
// resource with for_each is one resource per element: for_each is a map
// (each.key is the key, each.value the value) or a set of strings (each.key
// and each.value are the string). Each instance is named kind.name["key"];
// waiver and disable blocks name one instance so, or all of them as
// kind.name.

// instanceName is a check's name for one for_each key: name["key"].
func instanceName(name, key string) string {
	return name + "[" + strconv.Quote(key) + "]"
}

// checkRef is what a waiver or disable block names: a check, or one
// instance of a check with for_each.
type checkRef struct {
	block  string // kind.name
	key    string
	hasKey bool
}

func (r checkRef) String() string {
	if !r.hasKey {
		return r.block
	}
	return instanceName(r.block, r.key)
}

var refPattern = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9_.-]*)(?:\[(?:"((?:[^"\\]|\\.)*)"|([^\]"]+))\])?$`)

// parseCheckRef reads kind.name, kind.name["key"] or, for labels that
// would need escaped quotes, kind.name[key].
func parseCheckRef(s string) (checkRef, bool) {
	m := refPattern.FindStringSubmatch(s)
	if m == nil {
		return checkRef{}, false
	}
	r := checkRef{block: m[1]}
	switch {
	case m[2] != "" || (len(s) > len(m[1]) && m[3] == ""):
		key, err := strconv.Unquote(`"` + m[2] + `"`)
		if err != nil {
			return checkRef{}, false
		}
		r.key, r.hasKey = key, true
	case m[3] != "":
		r.key, r.hasKey = m[3], true
	}
	return r, true
}

// forEachKeys evaluates a block's for_each: the instances' keys, sorted, and
// each key's each.value. known is false when the collection depends on
// something not known yet (policy validate): the block is then checked once
// with an unknown each.
func forEachKeys(attr *hcl.Attribute, ctx *hcl.EvalContext) (keys []string, vals map[string]cty.Value, known bool, diags hcl.Diagnostics) {
	v, diags := attr.Expr.Value(ctx)
	if diags.HasErrors() {
		return nil, nil, true, diags
	}
	bad := func(detail string, args ...any) hcl.Diagnostics {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid for_each argument",
			Detail: fmt.Sprintf(detail, args...), Subject: attr.Expr.Range().Ptr(), Context: attr.Range.Ptr(), Expression: attr.Expr, EvalContext: ctx}}
	}
	ty := v.Type()
	if !v.IsKnown() && ty == cty.DynamicPseudoType {
		return nil, nil, false, nil
	}
	switch {
	case v.IsNull():
		return nil, nil, true, bad(`The given "for_each" argument value is null. A map, or a set of strings, is allowed.`)
	case ty.IsListType() || ty.IsTupleType():
		return nil, nil, true, bad(`The given "for_each" argument value is unsuitable: the "for_each" argument must be a map, or set of strings, and you have provided a value of type %s. Convert a list of strings with toset(...); each.key and each.value are then the string.`, ty.FriendlyName())
	case ty.IsSetType():
		if !ty.ElementType().Equals(cty.String) && ty.ElementType() != cty.DynamicPseudoType {
			return nil, nil, true, bad(`The given "for_each" argument value is unsuitable: the "for_each" argument must be a map, or set of strings, and you have provided a value of type %s.`, ty.FriendlyName())
		}
	case ty.IsMapType() || ty.IsObjectType():
	default:
		return nil, nil, true, bad(`The given "for_each" argument value is unsuitable: the "for_each" argument must be a map, or set of strings, and you have provided a value of type %s.`, ty.FriendlyName())
	}
	if !v.IsWhollyKnown() {
		return nil, nil, false, nil
	}
	vals = map[string]cty.Value{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if ty.IsSetType() {
			if e.IsNull() {
				return nil, nil, true, bad(`The given "for_each" argument value holds a null; every element of the set must be a string.`)
			}
			k = e
		}
		keys = append(keys, k.AsString())
		vals[k.AsString()] = e
	}
	sort.Strings(keys)
	return keys, vals, true, nil
}

// eachContext is the context of one instance: each.key and each.value.
func eachContext(ctx *hcl.EvalContext, key, val cty.Value) *hcl.EvalContext {
	child := ctx.NewChild()
	child.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": key, "value": val})}
	return child
}

// eachOutsideForEach reports references to each. among refs (a block's
// blockRefs) in a block without for_each, where HCL alone would only say
// there is no variable "each".
func eachOutsideForEach(refs []hcl.Traversal) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, tr := range refs {
		if tr.RootName() == "each" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: `Reference to "each" in a block without "for_each"`,
				Detail:  "each.key and each.value exist only in a check block that sets for_each = a map or a set of strings.",
				Subject: tr.SourceRange().Ptr()})
		}
	}
	sort.Slice(diags, func(i, j int) bool { return diags[i].Subject.Start.Byte < diags[j].Subject.Start.Byte })
	return diags
}

// keyLines maps the keys of a for_each written as an object literal to
// their lines, so each instance's findings cite the line of its own key.
func keyLines(expr hcl.Expression, ctx *hcl.EvalContext) map[string]int {
	obj, ok := expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil
	}
	out := map[string]int{}
	for _, item := range obj.Items {
		k, diags := item.KeyExpr.Value(ctx)
		if diags.HasErrors() || !k.IsKnown() || k.IsNull() || k.Type() != cty.String {
			continue
		}
		out[k.AsString()] = item.KeyExpr.Range().Start.Line
	}
	return out
}

// instanceDiags gathers the diagnostics of a block's instances: one
// problem found in several instances is reported once, naming the
// for_each keys it was found with.
type instanceDiags struct {
	order []*hcl.Diagnostic
	keys  map[*hcl.Diagnostic][]string
	index map[string]*hcl.Diagnostic
}

func (p *instanceDiags) add(key string, diags hcl.Diagnostics) {
	if p.index == nil {
		p.index, p.keys = map[string]*hcl.Diagnostic{}, map[*hcl.Diagnostic][]string{}
	}
	for _, d := range diags {
		id := fmt.Sprintf("%d|%s|%s|%v", d.Severity, d.Summary, d.Detail, d.Subject)
		first, seen := p.index[id]
		if !seen {
			first = d
			p.index[id] = d
			p.order = append(p.order, d)
		}
		p.keys[first] = append(p.keys[first], key)
	}
}

func (p *instanceDiags) list() hcl.Diagnostics {
	out := make(hcl.Diagnostics, 0, len(p.order))
	for _, d := range p.order {
		keys := p.keys[d]
		what := "for_each key " + strconv.Quote(keys[0])
		if len(keys) > 1 {
			what = "for_each keys " + quoteList(keys)
		}
		c := *d
		c.Detail = strings.TrimSpace(c.Detail + " (" + what + ")")
		out = append(out, &c)
	}
	return out
}
