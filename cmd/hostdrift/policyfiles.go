package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/cli"
	"github.com/hostdrift/hostdrift/internal/report/diagtext"
	"github.com/hostdrift/hostdrift/policies"
	"github.com/hostdrift/hostdrift/rules"
)

// systemPolicyDir holds the operator's policy files, layered over the
// built-in policy when no --policy is given. A variable so tests can point
// it at a folder of their own.
var systemPolicyDir = "/etc/hostdrift/policies"

// builtinName names the built-in policy on the command line.
const builtinName = "builtin:default"

// policyFlags choose the policy files a command reads.
type policyFlags struct {
	paths     cli.Strings
	noBuiltin bool
}

// register adds --policy (described by usage) and --no-builtin.
func (pf *policyFlags) register(fs *flag.FlagSet, usage string) {
	fs.Var(&pf.paths, "policy", usage)
	fs.BoolVar(&pf.noBuiltin, "no-builtin", false, "leave the built-in policy out: read only "+systemPolicyDir+" (the same as hostdrift { builtin = false } in a file there)")
}

// maxPolicyBytes bounds one policy file: a policy is written by people (a
// generated one of 10,000 checks is about 1 MB); anything far bigger is a
// wrong file, and is refused before it is read into memory.
const maxPolicyBytes = 8 << 20

// readLimited reads at most maxPolicyBytes of r, and refuses more.
func readLimited(name string, r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxPolicyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read policy %s: %w", name, err)
	}
	if len(b) > maxPolicyBytes {
		return nil, fmt.Errorf("policy %s is larger than %d MB, the most hostdrift reads: is it the right file? Split a generated policy into several files in one folder", name, maxPolicyBytes>>20)
	}
	return b, nil
}

// readPolicies reads the policy files a run uses, in layers:
//
//   - without --policy, the built-in policy and, over it, the operator's
//     files in systemPolicyDir; the built-in one is left out with
//     --no-builtin or hostdrift { builtin = false } in one of those files;
//   - with --policy, exactly the files and folders named, in order ("-" is
//     standard input, builtin:default the built-in policy, which the other
//     files are then layered over): a run that names its policy gets that
//     policy and nothing else, whatever a later hostdrift adds to its
//     built-in one.
func readPolicies(pf policyFlags, stdin io.Reader) ([]rules.Source, error) {
	if len(pf.paths) == 0 {
		matches, _ := filepath.Glob(filepath.Join(systemPolicyDir, "*.hcl"))
		if len(matches) == 0 {
			if pf.noBuiltin {
				return nil, fmt.Errorf("--no-builtin leaves nothing to check: %s holds no *.hcl file; name a policy with --policy", systemPolicyDir)
			}
			return builtinPolicies()
		}
		user, err := readPaths([]string{systemPolicyDir}, stdin)
		if err != nil {
			return nil, err
		}
		if pf.noBuiltin {
			return user, nil
		}
		if pol, _ := rules.Load(user); pol != nil {
			if off, _ := pol.BuiltinOff(); off {
				return user, nil
			}
		}
		builtin, err := builtinPolicies()
		if err != nil {
			return nil, err
		}
		return append(builtin, user...), nil
	}
	if pf.noBuiltin && slices.Contains(pf.paths, builtinName) {
		return nil, fmt.Errorf("--no-builtin and --policy %s contradict each other: drop one", builtinName)
	}
	srcs, err := readPaths(pf.paths, stdin)
	if err != nil {
		return nil, err
	}
	if slices.Contains(pf.paths, builtinName) {
		if pol, _ := rules.Load(srcs); pol != nil {
			if off, at := pol.BuiltinOff(); off {
				return nil, fmt.Errorf("%s: builtin = false, yet --policy %s names the built-in policy: drop one", at, builtinName)
			}
		}
	}
	return srcs, nil
}

// readPaths reads the named files and folders.
func readPaths(paths []string, stdin io.Reader) ([]rules.Source, error) {
	var out []rules.Source
	seen := map[string]bool{}
	for _, p := range paths {
		if p == "-" {
			b, err := readLimited("<stdin>", stdin)
			if err != nil {
				return nil, err
			}
			out = append(out, rules.Source{Name: "<stdin>", Text: b})
			continue
		}
		if p == builtinName {
			if seen[p] {
				continue
			}
			seen[p] = true
			b, err := builtinPolicies()
			if err != nil {
				return nil, err
			}
			out = append(out, b...)
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("policy %s: %w", p, err)
		}
		files := []string{p}
		if st.IsDir() {
			files, _ = filepath.Glob(filepath.Join(p, "*.hcl"))
			sort.Strings(files)
			if len(files) == 0 {
				return nil, fmt.Errorf("policy folder %s holds no *.hcl file", p)
			}
		}
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				return nil, fmt.Errorf("read policy: %w", err)
			}
			b, err := readLimited(f, fh)
			fh.Close()
			if err != nil {
				return nil, err
			}
			out = append(out, rules.Source{Name: f, Text: b})
		}
	}
	return out, nil
}

func builtinPolicies() ([]rules.Source, error) {
	files, err := policies.Default()
	if err != nil {
		return nil, fmt.Errorf("read the built-in policy: %w", err)
	}
	out := make([]rules.Source, len(files))
	for i, f := range files {
		out[i] = rules.Source{Name: f.Name, Text: f.Text, Builtin: true}
	}
	return out, nil
}

// printDiagnostics writes diagnostics with the offending source lines.
func printDiagnostics(w io.Writer, pol *rules.Policy, diags hcl.Diagnostics) {
	diagtext.Write(w, pol.Text(), diags)
}

// loadPolicy reads, parses and structurally validates the policies, and
// reads the variable values given from outside them: every problem that
// does not depend on the host surfaces here, before any collector runs. It
// returns nil after printing diagnostics.
func loadPolicy(pf policyFlags, vo *varOptions, stdin io.Reader, stderr io.Writer) (*rules.Policy, *rules.Variables) {
	vars := vo.resolve(stderr)
	if vars == nil {
		return nil, nil
	}
	srcs, err := readPolicies(pf, stdin)
	if err != nil {
		fmt.Fprintln(stderr, "hostdrift:", err)
		return nil, nil
	}
	pol, diags := rules.Load(srcs)
	for name, f := range vars.Files { // diagnostics about them show their lines
		if _, clash := pol.Files[name]; !clash {
			pol.Files[name] = f
		}
	}
	// Blocks that parsed are compiled even when others did not, so one run
	// reports every problem.
	_, more := pol.Compile(nil, vars)
	diags = append(diags, more...)
	if len(diags) > 0 {
		printDiagnostics(stderr, pol, diags)
	}
	if diags.HasErrors() {
		fmt.Fprintf(stderr, "hostdrift: %d error(s) in the policy; nothing was evaluated\n", len(diags.Errs()))
		return nil, nil
	}
	return pol, vars
}
