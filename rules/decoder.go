package rules

import (
	"fmt"
	"math/big"
	"net/netip"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Decoder reads one check block's attributes. Every problem becomes a
// diagnostic anchored to the offending attribute, so a kind's Decode just
// reads values and never formats positions itself. A value that refers to
// something not yet known (host facts under `policy validate`) reads as the
// default and is not validated.
type Decoder struct {
	Kind  string
	Name  string
	Block *hcl.Block
	// Builtin marks a check of the built-in policy: one that asks about
	// whatever the host has, and so does not apply where that cannot run.
	Builtin bool
	content *hcl.BodyContent
	ctx     *hcl.EvalContext
	diags   hcl.Diagnostics
}

// Has reports whether the block sets the attribute.
func (d *Decoder) Has(name string) bool {
	_, ok := d.content.Attributes[name]
	return ok
}

// Range returns the attribute's expression range, or the block's label range.
func (d *Decoder) Range(name string) hcl.Range {
	if a, ok := d.content.Attributes[name]; ok {
		return a.Expr.Range()
	}
	return d.Block.DefRange
}

// Errorf records an error about the attribute (or the block, when the
// attribute is absent).
func (d *Decoder) Errorf(name, summary, detail string, args ...any) {
	rng := d.Range(name)
	diag := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(detail, args...),
		Subject:  &rng,
	}
	if a, ok := d.content.Attributes[name]; ok {
		ctx := a.Range
		diag.Context = &ctx
	}
	d.diags = append(d.diags, diag)
}

// value evaluates the attribute converted to want; ok is false when it is
// absent, wrong or not yet known.
func (d *Decoder) value(name string, want cty.Type) (cty.Value, bool) {
	a, ok := d.content.Attributes[name]
	if !ok {
		return cty.NilVal, false
	}
	v, diags := a.Expr.Value(d.ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	if v.IsNull() {
		d.Errorf(name, "Missing value", "%s.%s: %s is null; give it a value or leave it out.", d.Kind, d.Name, name)
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, want)
	if err != nil {
		d.Errorf(name, "Wrong type for "+name, "%s must be %s: %s.", name, want.FriendlyName(), err)
		return cty.NilVal, false
	}
	return cv, true
}

// String returns a string attribute, or def.
func (d *Decoder) String(name, def string) string {
	v, ok := d.value(name, cty.String)
	if !ok {
		return def
	}
	return v.AsString()
}

// OneOf returns a string attribute that must be one of allowed, or def.
func (d *Decoder) OneOf(name, def string, allowed ...string) string {
	s := d.String(name, def)
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	d.Errorf(name, "Invalid value for "+name, "%q is not a valid %s; allowed: %s.", s, name, quoteList(allowed))
	return def
}

// Bool returns a boolean attribute, or def.
func (d *Decoder) Bool(name string, def bool) bool {
	v, ok := d.value(name, cty.Bool)
	if !ok {
		return def
	}
	return v.True()
}

// Int returns a whole-number attribute within [min, max], or def.
func (d *Decoder) Int(name string, def, min, max int) int {
	v, ok := d.value(name, cty.Number)
	if !ok {
		return def
	}
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if acc != big.Exact || i < int64(min) || i > int64(max) {
		d.Errorf(name, "Invalid value for "+name, "%s must be a whole number from %d to %d, not %s.", name, min, max, bf.Text('g', 10))
		return def
	}
	return int(i)
}

// Port returns a port number attribute (1 to 65535), or 0.
func (d *Decoder) Port(name string) uint16 {
	return uint16(d.Int(name, 0, 1, 65535))
}

// Strings returns an attribute that may be one string or a list of strings.
func (d *Decoder) Strings(name string) []string {
	a, ok := d.content.Attributes[name]
	if !ok {
		return nil
	}
	v, diags := a.Expr.Value(d.ctx)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		d.diags = append(d.diags, diags...)
		return nil
	}
	if v.Type() == cty.String {
		return []string{v.AsString()}
	}
	lv, ok := d.value(name, cty.List(cty.String))
	if !ok {
		return nil
	}
	var out []string
	for _, e := range lv.AsValueSlice() {
		out = append(out, e.AsString())
	}
	return out
}

// Duration returns a duration attribute ("90s", "26h", "8d", "2w"), or def.
func (d *Decoder) Duration(name string, def time.Duration) time.Duration {
	s := d.String(name, "")
	if s == "" {
		return def
	}
	dur, err := parseDuration(s)
	if err != nil {
		d.Errorf(name, "Invalid duration for "+name, "%s; write it like \"90s\", \"26h\", \"8d\" or \"2w\".", err)
		return def
	}
	return dur
}

// Address returns an IP address attribute, or the zero Addr.
func (d *Decoder) Address(name string) netip.Addr {
	s := d.String(name, "")
	if s == "" {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		d.Errorf(name, "Invalid address for "+name, "%q is not an IP address.", s)
		return netip.Addr{}
	}
	return a
}

// Known reports whether the attribute's value can be read now: false when it
// depends on host facts or variables that are not known (policy validate).
func (d *Decoder) Known(name string) bool {
	a, ok := d.content.Attributes[name]
	if !ok {
		return true
	}
	v, diags := a.Expr.Value(d.ctx)
	return !diags.HasErrors() && v.IsWhollyKnown()
}

func quoteList(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%q", s)
	}
	return out
}

// StringMap returns an attribute that is an object or map of strings.
func (d *Decoder) StringMap(name string) map[string]string {
	v, ok := d.value(name, cty.Map(cty.String))
	if !ok {
		return nil
	}
	out := map[string]string{}
	for k, e := range v.AsValueMap() {
		out[k] = e.AsString()
	}
	return out
}

// Variables lists the policy variables (var.NAME) the attribute's expression
// refers to, in order and without duplicates, so a remediation can name the
// variable the policy really declared.
func (d *Decoder) Variables(name string) []string {
	a, ok := d.content.Attributes[name]
	if !ok {
		return nil
	}
	var out []string
	for _, tr := range a.Expr.Variables() {
		if tr.RootName() != "var" || len(tr) < 2 {
			continue
		}
		if at, ok := tr[1].(hcl.TraverseAttr); ok && !slices.Contains(out, at.Name) {
			out = append(out, at.Name)
		}
	}
	return out
}
