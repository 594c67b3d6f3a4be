package rules

import (
	"sort"
	"strings"

	"github.com/hashicorp/go-cty-funcs/cidr"
	"github.com/hashicorp/go-cty-funcs/collection"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// functions are the functions policy expressions may call: Terraform's
// library, under Terraform's names, from the packages Terraform's own
// functions come from (cty's stdlib, go-cty-funcs for the CIDR ones, HCL's
// try and can). None reads the host or the file system: a policy is judged
// by the snapshot, never by what the machine evaluating it holds.
var functions = map[string]function.Function{
	"abs":             stdlib.AbsoluteFunc,
	"can":             tryfunc.CanFunc,
	"ceil":            stdlib.CeilFunc,
	"chomp":           stdlib.ChompFunc,
	"chunklist":       stdlib.ChunklistFunc,
	"cidrhost":        cidr.HostFunc,
	"cidrnetmask":     cidr.NetmaskFunc,
	"cidrsubnet":      cidr.SubnetFunc,
	"cidrsubnets":     cidr.SubnetsFunc,
	"coalesce":        collection.CoalesceFunc, // Terraform's: skips "" too
	"coalescelist":    stdlib.CoalesceListFunc,
	"compact":         stdlib.CompactFunc,
	"concat":          stdlib.ConcatFunc,
	"contains":        stdlib.ContainsFunc,
	"csvdecode":       stdlib.CSVDecodeFunc,
	"distinct":        stdlib.DistinctFunc,
	"element":         stdlib.ElementFunc,
	"flatten":         stdlib.FlattenFunc,
	"floor":           stdlib.FloorFunc,
	"format":          stdlib.FormatFunc,
	"formatdate":      stdlib.FormatDateFunc,
	"formatlist":      stdlib.FormatListFunc,
	"indent":          stdlib.IndentFunc,
	"join":            stdlib.JoinFunc,
	"jsondecode":      stdlib.JSONDecodeFunc,
	"jsonencode":      stdlib.JSONEncodeFunc,
	"keys":            stdlib.KeysFunc,
	"length":          stdlib.LengthFunc,
	"log":             stdlib.LogFunc,
	"lookup":          stdlib.LookupFunc,
	"lower":           stdlib.LowerFunc,
	"max":             stdlib.MaxFunc,
	"merge":           stdlib.MergeFunc,
	"min":             stdlib.MinFunc,
	"parseint":        stdlib.ParseIntFunc,
	"pow":             stdlib.PowFunc,
	"range":           stdlib.RangeFunc,
	"regex":           stdlib.RegexFunc,
	"regexall":        stdlib.RegexAllFunc,
	"replace":         stdlib.ReplaceFunc,
	"reverse":         stdlib.ReverseListFunc,
	"setintersection": stdlib.SetIntersectionFunc,
	"setproduct":      stdlib.SetProductFunc,
	"setsubtract":     stdlib.SetSubtractFunc,
	"setunion":        stdlib.SetUnionFunc,
	"signum":          stdlib.SignumFunc,
	"slice":           stdlib.SliceFunc,
	"sort":            stdlib.SortFunc,
	"split":           stdlib.SplitFunc,
	"strrev":          stdlib.ReverseFunc,
	"substr":          stdlib.SubstrFunc,
	"timeadd":         stdlib.TimeAddFunc,
	"title":           stdlib.TitleFunc,
	"tobool":          stdlib.MakeToFunc(cty.Bool),
	"tolist":          stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
	"tomap":           stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
	"tonumber":        stdlib.MakeToFunc(cty.Number),
	"toset":           stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
	"tostring":        stdlib.MakeToFunc(cty.String),
	"trim":            stdlib.TrimFunc,
	"trimprefix":      stdlib.TrimPrefixFunc,
	"trimspace":       stdlib.TrimSpaceFunc,
	"trimsuffix":      stdlib.TrimSuffixFunc,
	"try":             tryfunc.TryFunc,
	"upper":           stdlib.UpperFunc,
	"values":          stdlib.ValuesFunc,
	"zipmap":          stdlib.ZipmapFunc,
}

// functionDocs describe the functions whose packages give no description,
// or whose description says less than an operator needs.
var functionDocs = map[string]string{
	"can":         "Evaluates the given expression and returns true if it has no errors, false otherwise.",
	"try":         "Returns the first of the given expressions that evaluates without errors.",
	"coalesce":    "Returns the first of the arguments that is neither null nor an empty string.",
	"cidrhost":    "Returns the IP address of host number hostnum within the network prefix, e.g. cidrhost(\"10.0.0.0/24\", 5) is \"10.0.0.5\".",
	"cidrnetmask": "Returns the netmask of an IPv4 prefix in dotted-decimal form, e.g. cidrnetmask(\"10.0.0.0/16\") is \"255.255.0.0\".",
	"cidrsubnet":  "Returns subnet number netnum of the prefix extended by newbits bits, e.g. cidrsubnet(\"10.0.0.0/16\", 8, 2) is \"10.0.2.0/24\".",
	"cidrsubnets": "Returns consecutive subnets of the prefix, one per newbits argument, e.g. cidrsubnets(\"10.0.0.0/16\", 8, 8) is [\"10.0.0.0/24\", \"10.0.1.0/24\"].",
	"tobool":      "Converts the argument to a bool (true, false, \"true\" or \"false\").",
	"tolist":      "Converts the argument to a list.",
	"tomap":       "Converts the argument to a map.",
	"tonumber":    "Converts the argument to a number.",
	"toset":       "Converts the argument to a set: for_each over a list takes toset(list).",
	"tostring":    "Converts the argument to a string.",
	"replace":     "Replaces every occurrence of substring in str with replace (plain text; see regexall for patterns).",
}

// Functions returns the functions policy expressions may call, by name.
func Functions() map[string]function.Function {
	out := make(map[string]function.Function, len(functions))
	for k, v := range functions {
		out[k] = v
	}
	return out
}

// FunctionDoc is one function as `hostdrift policy functions` lists it.
type FunctionDoc struct {
	Name        string
	Signature   string // name(param, ...)
	Description string // one line
}

// FunctionDocs lists the functions, sorted by name, each with its
// signature and a one-line description.
func FunctionDocs() []FunctionDoc {
	out := make([]FunctionDoc, 0, len(functions))
	for name, f := range functions {
		var params []string
		for _, p := range f.Params() {
			params = append(params, p.Name)
		}
		if vp := f.VarParam(); vp != nil {
			params = append(params, vp.Name+"...")
		}
		desc, ok := functionDocs[name]
		if !ok {
			desc = firstSentence(f.Description())
		}
		out = append(out, FunctionDoc{Name: name, Signature: name + "(" + strings.Join(params, ", ") + ")", Description: desc})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// firstSentence keeps a description to one line.
func firstSentence(s string) string {
	s = strings.ReplaceAll(strings.Join(strings.Fields(s), " "), `\"`, `"`)
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return s
}
