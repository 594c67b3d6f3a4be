package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/hostdrift/hostdrift/internal/cli"
	"github.com/hostdrift/hostdrift/rules"
)

func runPolicy(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	const policyUsage = "Usage: hostdrift policy validate [--no-builtin] [--var NAME=VALUE]... [--var-file FILE]... [FILE|DIR|builtin:default]...\n       hostdrift policy init [--area a,b] [--output FILE]\n       hostdrift policy kinds [KIND...]\n       hostdrift policy functions\n\nRun 'hostdrift policy SUBCOMMAND --help' for its flags and examples.\n"
	if len(args) == 0 {
		fmt.Fprint(stderr, policyUsage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, policyUsage)
		return exitOK
	case "validate":
		return runPolicyValidate(args[1:], stdin, stdout, stderr)
	case "init":
		return runPolicyInit(args[1:], stdout, stderr)
	case "functions":
		// The functions policy expressions may call, as Terraform names them.
		if code := parseNoArgs("policy functions", args[1:], stdout, stderr); code >= 0 {
			return code
		}
		for _, f := range rules.FunctionDocs() {
			fmt.Fprintf(stdout, "%s\n  %s\n", f.Signature, f.Description)
		}
		return exitOK
	case "kinds":
		fs := newFlagSet("policy kinds", "policy kinds [KIND...]", stdout, stderr)
		if code := parseFlags(fs, args[1:]); code >= 0 {
			return code
		}
		var names []string
		for _, k := range rules.Kinds() {
			names = append(names, k.Name)
		}
		for _, n := range fs.Args() {
			if !slices.Contains(names, n) {
				fmt.Fprintf(stderr, "hostdrift policy kinds: no check kind %q%s; the kinds are %s\n", n, cli.DidYouMean(cli.Nearest(n, names, 1)), strings.Join(names, ", "))
				return exitUsage
			}
		}
		for _, k := range rules.Kinds() {
			if fs.NArg() > 0 && !slices.Contains(fs.Args(), k.Name) {
				continue
			}
			fmt.Fprintf(stdout, "%s: %s\n  reads: %s\n", k.Name, k.Summary, strings.Join(k.Needs, ", "))
			for _, a := range k.Attributes {
				req := ""
				if a.Required {
					req = " (required)"
				}
				fmt.Fprintf(stdout, "  %s%s: %s\n", a.Name, req, k.AttributeDocs[a.Name])
			}
			fmt.Fprintf(stdout, "  and description, severity, tags, for_each\n")
		}
		return exitOK
	default:
		fmt.Fprintf(stderr, "hostdrift policy: unknown subcommand %q%s; use validate, init, kinds or functions\n", args[0], cli.DidYouMean(cli.Nearest(args[0], []string{"validate", "init", "kinds", "functions"}, 1)))
		return exitUsage
	}
}

// runPolicyValidate checks policy files without touching the host: the
// named ones exactly, or, without any, what check reads by default (the
// built-in policy with the operator's files over it). It lists what the
// layering did: the checks replaced, disabled and waived.
func runPolicyValidate(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("policy validate", "policy validate [--no-builtin] [--var NAME=VALUE]... [--var-file FILE]... [FILE|DIR|builtin:default]...", stdout, stderr)
	vo := newVarOptions()
	vo.register(fs)
	var pf policyFlags
	fs.BoolVar(&pf.noBuiltin, "no-builtin", false, "leave the built-in policy out of the default layering")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	pf.paths = fs.Args()
	pol, vars := loadPolicy(pf, vo, stdin, stderr)
	if pol == nil {
		return exitUsage
	}
	plan, _ := pol.Compile(nil, vars)
	fmt.Fprintf(stdout, "ok: %d checks in %d file(s)\n", len(plan.Checks), len(pol.Sources))
	for _, o := range plan.Overrides {
		fmt.Fprintf(stdout, "replaced: %s by %s (the built-in one is at %s)\n", o.Check, o.Source, o.Replaced)
	}
	for _, d := range plan.Disabled {
		fmt.Fprintf(stdout, "disabled: %s by %s: %s\n", d.Check.ID(), d.Source, d.Reason)
	}
	now := time.Now()
	for _, w := range plan.Waivers() {
		state := "until " + w.Expires
		if w.Expired(now) {
			state = "EXPIRED on " + w.Expires + ", no longer applies"
		}
		fmt.Fprintf(stdout, "waived: %s %s by %s: %s\n", w.Check, state, w.Source, w.Reason)
	}
	if off, at := pol.BuiltinOff(); off {
		fmt.Fprintf(stdout, "the built-in policy is off (builtin = false at %s)\n", at)
	}
	return exitOK
}
