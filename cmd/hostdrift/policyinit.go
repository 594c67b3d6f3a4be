package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hostdrift/hostdrift/agent/survey"
	"github.com/hostdrift/hostdrift/internal/audit"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules/policygen"
)

// runPolicyInit writes a policy from what the host does now. The checks are
// proposed from one reading of the host and tried on a second one, taken
// with the DNS questions the proposals ask; only those that hold are active.
func runPolicyInit(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("policy init", "policy init [--area a,b] [--output FILE] [--root DIR] [--netns PATH]", stdout, stderr)
	areaList := fs.String("area", "", "write only these comma-separated `AREAS` (default: all: "+strings.Join(policygen.Areas(), ", ")+")")
	output := fs.String("output", "", "write the policy to `FILE` (atomically) instead of standard output")
	var live liveFlags
	live.register(fs)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hostdrift policy init: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	var areas []string
	if *areaList != "" {
		for _, a := range strings.Split(*areaList, ",") {
			if !slices.Contains(policygen.Areas(), a) {
				fmt.Fprintf(stderr, "hostdrift policy init: --area: no area %q; the areas are %s\n", a, strings.Join(policygen.Areas(), ", "))
				return exitUsage
			}
			areas = append(areas, a)
		}
	}
	// The checks are proposed from the areas' collectors, and tried with the
	// DNS collector asked the questions the proposals ask.
	var collectors []string
	for area, c := range snapshot.AreaCollectors() {
		if (len(areas) == 0 || slices.Contains(areas, area)) && c != snapshot.CollectorDNS {
			collectors = append(collectors, c)
		}
	}
	// The firewall's ingress proposals come from the listeners.
	if slices.Contains(areas, snapshot.AreaFirewall) && !slices.Contains(collectors, snapshot.CollectorListeners) {
		collectors = append(collectors, snapshot.CollectorListeners)
	}
	askDNS := len(areas) == 0 || slices.Contains(areas, snapshot.AreaDNS)
	defer live.begin()()
	var cands []policygen.Candidate
	snap := audit.Survey(live.ctx, live.host(),
		survey.Fixed(survey.Step{Collectors: collectors}),
		func(s *snapshot.Snapshot) (survey.Step, bool) {
			cands = policygen.Propose(s, areas)
			if !askDNS {
				return survey.Step{}, true
			}
			return survey.Step{Collectors: []string{snapshot.CollectorDNS}, Wants: policygen.Wants(cands, &s.Host)}, true
		})
	for _, c := range snap.Collectors {
		if c.Status != snapshot.StatusOK {
			fmt.Fprintf(stderr, "collector %s: %s: %s\n", c.Name, c.Status, c.Reason)
		}
	}
	if live.stopped(stderr, "policy init") {
		return exitIncomplete
	}
	settled := policygen.Settle(cands, snap)
	h := policygen.Header{Host: snap.Host.Hostname, TakenAt: snap.TakenAt, Version: versionString()}
	if err := emit(*output, stdout, func(w io.Writer) error { return policygen.Write(w, h, settled) }); err != nil {
		fmt.Fprintln(stderr, "hostdrift policy init:", err)
		return exitOutput
	}
	active := 0
	for _, s := range settled {
		if s.Chosen >= 0 {
			active++
		}
	}
	fmt.Fprintf(stderr, "policy init: %d checks written, %d more commented out (not true on this host now)\n", active, len(settled)-active)
	return exitOK
}
