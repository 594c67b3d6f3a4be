package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/audit"
	"github.com/hostdrift/hostdrift/internal/jsonstream"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func runSnapshot(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("snapshot", "snapshot [--output FILE] [--collectors a,b] [--policy FILE|DIR|-]... [--root DIR]", stdout, stderr)
	var pf policyFlags
	pf.register(fs, "ask what the policy `FILE` or folder asks about (DNS names, probes) (repeatable; default: as check)")
	vo := newVarOptions()
	vo.register(fs)
	output := fs.String("output", "", "write the snapshot to `FILE` (atomically) instead of standard output")
	only := fs.String("collectors", "", "comma-separated `LIST` of collectors to run (default: all: "+strings.Join(agent.Names(), ", ")+")")
	var live liveFlags
	live.register(fs)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hostdrift snapshot: unexpected argument %q (policies go with --policy, the output file with --output)\n", fs.Arg(0))
		return exitUsage
	}
	var names []string
	if *only != "" {
		names = strings.Split(*only, ",")
		for _, n := range names {
			if _, ok := agent.New(n); !ok {
				fmt.Fprintf(stderr, "hostdrift snapshot: no collector named %q; known: %s\n", n, strings.Join(agent.Names(), ", "))
				return exitUsage
			}
		}
	}
	defer live.begin()()
	pol, vars := loadPolicy(pf, vo, stdin, stderr)
	if pol == nil {
		return exitUsage
	}
	// The policy decides what the collectors are asked (the DNS names of its
	// checks): a baseline holds the answers a later check compares.
	if names == nil {
		names = agent.Names()
	}
	run, diags := audit.Read(live.ctx, live.host(), audit.Request{Policy: pol, Vars: vars, Collectors: names})
	snap := run.Snap
	if live.stopped(stderr, "snapshot") {
		return exitIncomplete
	}
	if err := unreadFacts(snap); err != nil {
		fmt.Fprintf(stderr, "hostdrift snapshot: nothing was recorded: %v\n", err)
		return exitIncomplete
	}
	if diags.HasErrors() {
		printDiagnostics(stderr, pol, diags)
		fmt.Fprintln(stderr, "hostdrift snapshot: the policy does not fit this host's facts; nothing was recorded")
		return exitUsage
	}
	if live.stopped(stderr, "snapshot") {
		return exitIncomplete
	}
	err := emit(*output, stdout, func(w io.Writer) error {
		return encodeSnapshot(w, snap)
	})
	if err != nil {
		fmt.Fprintln(stderr, "hostdrift snapshot:", err)
		return exitOutput
	}
	for _, c := range snap.Collectors {
		if c.Status != snapshot.StatusOK {
			fmt.Fprintf(stderr, "collector %s: %s: %s\n", c.Name, c.Status, c.Reason)
		}
	}
	return exitOK
}

// encodeSnapshot writes the snapshot document as it goes (the bytes of
// encoding/json's indented encoder, without the document held in memory).
func encodeSnapshot(w io.Writer, snap *snapshot.Snapshot) error {
	return jsonstream.Encode(w, snap, jsonstream.Options{EscapeHTML: true})
}
