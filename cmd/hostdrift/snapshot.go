package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func runSnapshot(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("snapshot", "snapshot [--output FILE] [--collectors a,b] [--root DIR]", stderr)
	output := fs.String("output", "", "write the snapshot to `FILE` (atomically) instead of standard output")
	only := fs.String("collectors", "", "comma-separated `LIST` of collectors to run (default: all: "+strings.Join(agent.Names(), ", ")+")")
	var live liveFlags
	live.register(fs)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	var names []string
	if *only != "" {
		names = strings.Split(*only, ",")
		if names[0] != "host" {
			names = append([]string{"host"}, names...)
		}
		for _, n := range names {
			if _, ok := agent.New(n); !ok {
				fmt.Fprintf(stderr, "hostdrift snapshot: no collector named %q; known: %s\n", n, strings.Join(agent.Names(), ", "))
				return exitUsage
			}
		}
	}
	snap := newSnapshot(live.root)
	agent.Run(context.Background(), snap, live.options(names, snapshot.Wants{}))
	err := emit(*output, stdout, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(snap)
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
