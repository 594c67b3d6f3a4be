// Command hostdrift audits a host against HCL policies: what the host really
// does (listening sockets, firewall, DNS, ...) against what it should do.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"

	// The collectors register themselves.
	_ "github.com/hostdrift/hostdrift/agent/all"
	"github.com/hostdrift/hostdrift/internal/cli"
)

var version = "" // set with -ldflags "-X main.version=..."

func main() {
	if len(os.Args) < 2 || os.Args[1] != "serve" {
		// A soft limit lowers a run's peak; an agent that stays up would
		// pay for it with a collection every few megabytes for ever.
		setMemoryLimit(os.Getenv)
	}
	finish := startProfiles(os.Stderr)
	code := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	finish()
	os.Exit(code)
}

const usage = `hostdrift audits this host against policies and reports every drift.

Usage:
  hostdrift check [flags]            judge the host (or a saved snapshot) against policies
                                     (--only/--skip select checks; --retry-timeout waits for them)
  hostdrift serve [flags]            stay running: judge again what changes as it changes, serve
                                     /metrics, /healthz and /report, log each finding that flips
  hostdrift snapshot [flags]         record what the host does, as JSON
  hostdrift diff OLD NEW             what changed between two snapshots
  hostdrift explain out|in|fwd PROTO PORT  show what the firewall does to a packet, and why
  hostdrift policy validate [FILE...] check policy files without touching the host
  hostdrift policy init [flags]      write a policy from what the host does now
  hostdrift policy kinds             list the check kinds and their attributes
  hostdrift version                  print the version
  hostdrift completion bash|zsh      print a shell completion script

Flags go before or after the arguments, as --flag value or --flag=value.
Run 'hostdrift COMMAND --help' for a command's flags and examples.

Exit codes: 0 no drift; 1 drift; 2 usage or policy error (nothing evaluated);
3 incomplete (no fail, but some check could not be evaluated);
4 the report could not be written.
`

// commands are the top-level commands, for suggestions.
var commands = []string{"check", "serve", "snapshot", "diff", "explain", "policy", "version", "completion", "help"}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "check":
		return runCheck(args[1:], stdin, stdout, stderr)
	case "serve":
		return runServe(args[1:], stdout, stderr)
	case "snapshot":
		return runSnapshot(args[1:], stdin, stdout, stderr)
	case "diff":
		return runDiff(args[1:], stdin, stdout, stderr)
	case "explain":
		return runExplain(args[1:], stdout, stderr)
	case "policy":
		return runPolicy(args[1:], stdin, stdout, stderr)
	case "completion":
		return runCompletion(args[1:], stdout, stderr)
	case "version":
		if code := parseNoArgs("version", args[1:], stdout, stderr); code >= 0 {
			return code
		}
		fmt.Fprintln(stdout, "hostdrift", versionString())
		return exitOK
	case "--version":
		fmt.Fprintln(stdout, "hostdrift", versionString())
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		if near := cli.Nearest(args[0], commands, 1); len(near) > 0 {
			fmt.Fprintf(stderr, "hostdrift: unknown command %q: did you mean %s?\n\n%s", args[0], near[0], usage)
			return exitUsage
		}
		fmt.Fprintf(stderr, "hostdrift: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
