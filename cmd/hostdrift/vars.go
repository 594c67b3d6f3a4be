package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hostdrift/hostdrift/internal/cli"
	"github.com/hostdrift/hostdrift/internal/report/diagtext"
	"github.com/hostdrift/hostdrift/rules"
)

// varOptions are the flags that give policy variables values: --var and
// --var-file. With the HOSTDRIFT_VAR_name environment variables they are
// merged in one place, rules.ReadVariables, in Terraform's order.
type varOptions struct {
	vars  cli.KeyValues
	files cli.Strings
}

func newVarOptions() *varOptions { return &varOptions{vars: cli.KeyValues{}} }

// register adds --var and --var-file.
func (v *varOptions) register(fs *flag.FlagSet) {
	fs.Var(v.vars, "var", "set a policy variable, `NAME=VALUE` (repeatable; wins over --var-file and "+rules.EnvPrefix+"NAME)")
	fs.Var(&v.files, "var-file", "read policy variables from `FILE`, name = value lines like a .tfvars (repeatable; a later file wins)")
}

// environ is the environment variables are read from; tests replace it.
var environ = os.Environ

// resolve reads the variable files and merges every source of values. It
// prints problems to stderr and returns nil when there are errors.
func (v *varOptions) resolve(stderr io.Writer) *rules.Variables {
	in := rules.VariableInputs{Environ: environ(), Flags: v.vars}
	for _, name := range v.files {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(stderr, "hostdrift: --var-file:", err)
			return nil
		}
		b, err := readLimited(name, f)
		f.Close()
		if err != nil {
			fmt.Fprintln(stderr, "hostdrift: --var-file:", err)
			return nil
		}
		in.Files = append(in.Files, rules.Source{Name: name, Text: b})
	}
	vars, diags := rules.ReadVariables(in)
	if len(diags) > 0 {
		sources := map[string][]byte{}
		for name, f := range vars.Files {
			sources[name] = f.Bytes
		}
		diagtext.Write(stderr, sources, diags)
	}
	if diags.HasErrors() {
		fmt.Fprintf(stderr, "hostdrift: %d error(s) in the variable values; nothing was evaluated\n", len(diags.Errs()))
		return nil
	}
	return vars
}
