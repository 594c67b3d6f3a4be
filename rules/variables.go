package rules

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// EnvPrefix starts the environment variables that give policy variables
// values: HOSTDRIFT_VAR_port=8080 sets var.port, as TF_VAR_port does in
// Terraform.
const EnvPrefix = "HOSTDRIFT_VAR_"

// VariableInputs are the places outside the policy that give its variables
// values, each overriding the ones before it, as in Terraform: a variable's
// default, then Environ, then Files in order, then Flags.
type VariableInputs struct {
	// Environ is the process environment (os.Environ()); only
	// HOSTDRIFT_VAR_name=value entries are read.
	Environ []string
	// Files are --var-file files: HCL name = value lines, like .tfvars.
	Files []Source
	// Flags are --var NAME=VALUE values.
	Flags map[string]string
}

// Variables are the values given to policy variables from outside the
// policy, merged in precedence order by ReadVariables. The zero value (or
// nil) gives none.
type Variables struct {
	values map[string]givenValue
	// Files are the parsed variable files, so diagnostics about them can be
	// printed with their lines.
	Files map[string]*hcl.File
}

// givenValue is one value and where it came from.
type givenValue struct {
	value cty.Value
	// raw is an environment variable's text, read only when a policy
	// declares the variable: the environment is shared, and one that
	// nobody declares is ignored, whatever it holds.
	raw  string
	from origin
	rng  *hcl.Range // the line of a variable file
}

type origin int

const (
	fromEnv origin = iota
	fromFile
	fromFlag
)

// describe names where a value came from, for messages.
func (g givenValue) describe(name string) string {
	switch g.from {
	case fromEnv:
		return "the environment variable " + EnvPrefix + name
	case fromFile:
		return "the variable file " + g.rng.Filename
	default:
		return "--var " + name
	}
}

// ReadVariables merges the inputs into the values they give, the later kind
// winning: environment, then the variable files in order, then --var. A
// value from the environment or --var is a string unless written as an HCL
// list or object ("[\"a\", \"b\"]"); a variable file holds HCL values.
func ReadVariables(in VariableInputs) (*Variables, hcl.Diagnostics) {
	v := &Variables{values: map[string]givenValue{}, Files: map[string]*hcl.File{}}
	var diags hcl.Diagnostics
	env := append([]string{}, in.Environ...)
	sort.Strings(env)
	for _, kv := range env {
		name, raw, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || len(name) == len(EnvPrefix) {
			continue
		}
		name = strings.TrimPrefix(name, EnvPrefix)
		v.values[name] = givenValue{raw: raw, from: fromEnv}
	}
	for _, src := range in.Files {
		diags = append(diags, v.readFile(src)...)
	}
	names := make([]string, 0, len(in.Flags))
	for name := range in.Flags {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		val, d := parseVarValue("--var "+name, in.Flags[name])
		diags = append(diags, d...)
		v.values[name] = givenValue{value: val, from: fromFlag}
	}
	return v, diags
}

// readFile reads one variable file: only name = value attributes whose
// values are constants (no references, no function calls), as a .tfvars.
func (v *Variables) readFile(src Source) hcl.Diagnostics {
	f, diags := hclsyntax.ParseConfig(src.Text, src.Name, hcl.InitialPos)
	if f == nil {
		return diags
	}
	v.Files[src.Name] = f
	if diags.HasErrors() {
		return diags
	}
	attrs, d := f.Body.JustAttributes()
	for _, dd := range d {
		if strings.HasPrefix(dd.Summary, "Unexpected ") && strings.HasSuffix(dd.Summary, " block") {
			dd.Detail = "A variable file holds only name = value lines, like a Terraform .tfvars file; blocks belong in policy files."
		}
	}
	diags = append(diags, d...)
	list := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		list = append(list, a)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Range.Start.Byte < list[j].Range.Start.Byte })
	for _, a := range list {
		val, d := a.Expr.Value(nil)
		if d.HasErrors() {
			for _, dd := range d {
				dd.Detail += " A variable file holds constant values: no references to variables or host facts, no function calls."
			}
			diags = append(diags, d...)
			continue
		}
		rng := a.NameRange
		v.values[a.Name] = givenValue{value: val, from: fromFile, rng: &rng}
	}
	return diags
}

// variables evaluates the variable blocks: their defaults, overridden by
// the values given from outside the policy.
func (p *Policy) variables(given *Variables, validating bool) (cty.Value, hcl.Diagnostics) {
	vals := map[string]givenValue{}
	if given != nil {
		vals = given.values
	}
	out := map[string]cty.Value{}
	declared := map[string]bool{}
	vars, _, diags := p.layered(p.vars, func(b *hcl.Block) string { return b.Labels[0] }, "variable")
	for _, b := range vars {
		name := b.Labels[0]
		content, d := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "default"}, {Name: "description"}}})
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		declared[name] = true
		if g, ok := vals[name]; ok {
			if g.from == fromEnv {
				v, d := parseVarValue(EnvPrefix+name, g.raw)
				diags = append(diags, d...)
				out[name] = v
				continue
			}
			out[name] = g.value
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
			Detail:   fmt.Sprintf("variable %q has no default; pass --var %s=VALUE (or set it in a --var-file or %s%s), or give it a default.", name, name, EnvPrefix, name),
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
		g := vals[name]
		switch g.from {
		case fromFlag:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Undeclared variable",
				Detail:   fmt.Sprintf("--var %s is given but no policy declares variable %q; add a variable block or drop the flag.", name, name),
			})
		case fromFile:
			// As Terraform: a shared variable file may serve several
			// policies, so a value nobody declares is only a warning.
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Value for undeclared variable",
				Detail:   fmt.Sprintf("%s sets %q, which no policy declares; the value is not used. Add a variable block or remove the line.", g.describe(name), name),
				Subject:  g.rng,
			})
		}
		// An environment variable nobody declares is ignored, as
		// Terraform ignores TF_VAR_ variables: the environment is shared.
	}
	return cty.ObjectVal(out), diags
}

// parseVarValue reads a value given as text: a list or object when written
// as an HCL expression ("[\"a\", \"b\"]"), a plain string otherwise.
func parseVarValue(name, raw string) (cty.Value, hcl.Diagnostics) {
	t := strings.TrimSpace(raw)
	if strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{") {
		expr, diags := hclsyntax.ParseExpression([]byte(t), name, hcl.InitialPos)
		if diags.HasErrors() {
			return cty.DynamicVal, diags
		}
		return expr.Value(nil)
	}
	return cty.StringVal(raw), nil
}

// Flags renders the values that variable files and --var gave as --var
// NAME=VALUE arguments, for a hostdrift that judges elsewhere (check --ssh)
// with the values resolved here: a string as itself, any other value as the
// HCL expression --var reads back. Environment values are left out: they
// belong to the environment hostdrift runs in.
func (v *Variables) Flags() map[string]string {
	out := map[string]string{}
	if v == nil {
		return out
	}
	for name, g := range v.values {
		if g.from == fromEnv || g.value == cty.NilVal || !g.value.IsWhollyKnown() {
			continue
		}
		if g.value.Type() == cty.String && !g.value.IsNull() {
			out[name] = g.value.AsString()
			continue
		}
		out[name] = string(hclwrite.TokensForValue(g.value).Bytes())
	}
	return out
}
