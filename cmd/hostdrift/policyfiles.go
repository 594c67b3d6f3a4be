package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/report/diagtext"
	"github.com/hostdrift/hostdrift/policies"
	"github.com/hostdrift/hostdrift/rules"
)

// systemPolicyDir is read when no --policy is given.
const systemPolicyDir = "/etc/hostdrift/policies"

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

// readPolicies reads the named files and folders ("-" is standard input), or
// the installed policies, or the built-in default policy.
func readPolicies(paths []string, stdin io.Reader) ([]rules.Source, error) {
	if len(paths) == 0 {
		matches, _ := filepath.Glob(filepath.Join(systemPolicyDir, "*.hcl"))
		if len(matches) == 0 {
			return builtinPolicies()
		}
		paths = []string{systemPolicyDir}
	}
	var out []rules.Source
	for _, p := range paths {
		if p == "-" {
			b, err := readLimited("<stdin>", stdin)
			if err != nil {
				return nil, err
			}
			out = append(out, rules.Source{Name: "<stdin>", Text: b})
			continue
		}
		if p == "builtin:default" {
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
		out[i] = rules.Source{Name: f.Name, Text: f.Text}
	}
	return out, nil
}

// printDiagnostics writes diagnostics with the offending source lines.
func printDiagnostics(w io.Writer, pol *rules.Policy, diags hcl.Diagnostics) {
	sources := map[string][]byte{}
	for name, f := range pol.Files {
		sources[name] = f.Bytes
	}
	diagtext.Write(w, sources, diags)
}

// loadPolicy reads, parses and structurally validates the policies: every
// problem that does not depend on the host surfaces here, before any
// collector runs. It returns nil after printing diagnostics.
func loadPolicy(paths []string, vars map[string]string, stdin io.Reader, stderr io.Writer) *rules.Policy {
	srcs, err := readPolicies(paths, stdin)
	if err != nil {
		fmt.Fprintln(stderr, "hostdrift:", err)
		return nil
	}
	pol, diags := rules.Load(srcs)
	// Blocks that parsed are compiled even when others did not, so one run
	// reports every problem.
	_, more := pol.Compile(nil, vars)
	diags = append(diags, more...)
	if len(diags) > 0 {
		printDiagnostics(stderr, pol, diags)
	}
	if diags.HasErrors() {
		fmt.Fprintf(stderr, "hostdrift: %d error(s) in the policy; nothing was evaluated\n", len(diags.Errs()))
		return nil
	}
	return pol
}
