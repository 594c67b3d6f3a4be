package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/hostdrift/hostdrift/rules"
)

func runPolicy(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	const policyUsage = "Usage: hostdrift policy validate [--var NAME=VALUE]... FILE|DIR...\n       hostdrift policy init [--area a,b] [--output FILE]\n       hostdrift policy kinds\n"
	if len(args) == 0 {
		fmt.Fprint(stderr, policyUsage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, policyUsage)
		return exitOK
	case "validate":
		fs := newFlagSet("policy validate", "policy validate [--var NAME=VALUE]... FILE|DIR...", stderr)
		vars := varFlags{}
		fs.Var(vars, "var", "set a policy variable, NAME=VALUE (repeatable)")
		if code := parseFlags(fs, args[1:]); code >= 0 {
			return code
		}
		if fs.NArg() == 0 {
			fmt.Fprintln(stderr, "hostdrift policy validate: name at least one policy file or folder (builtin:default for the built-in one)")
			return exitUsage
		}
		pol := loadPolicy(fs.Args(), vars, stdin, stderr)
		if pol == nil {
			return exitUsage
		}
		plan, _ := pol.Compile(nil, vars)
		fmt.Fprintf(stdout, "ok: %d checks in %d file(s)\n", len(plan.Checks), len(pol.Sources))
		return exitOK
	case "init":
		return runPolicyInit(args[1:], stdout, stderr)
	case "kinds":
		for _, k := range rules.Kinds() {
			var attrs []string
			for _, a := range k.Attributes {
				s := a.Name
				if a.Required {
					s += " (required)"
				}
				attrs = append(attrs, s)
			}
			fmt.Fprintf(stdout, "%s: %s\n  attributes: %s; and description, severity, tags\n  reads: %s\n",
				k.Name, k.Summary, strings.Join(attrs, ", "), strings.Join(k.Needs, ", "))
		}
		return exitOK
	default:
		fmt.Fprintf(stderr, "hostdrift policy: unknown subcommand %q; use validate, init or kinds\n", args[0])
		return exitUsage
	}
}
