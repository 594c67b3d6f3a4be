package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/diff"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/atomicfile"
	"github.com/hostdrift/hostdrift/rules"
)

// liveFlags are the flags that say how to read the live host.
type liveFlags struct {
	root     string
	netns    string
	deadline time.Duration
	timeout  time.Duration
	// ctx is the run's context, set by begin.
	ctx context.Context
}

func (l *liveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.root, "root", "/", "read files below `DIR` instead of / (a mounted image or fixture tree)")
	fs.StringVar(&l.netns, "netns", "", "read the network namespace at `PATH` (e.g. /run/netns/NAME) instead of hostdrift's own")
	fs.DurationVar(&l.deadline, "collector-timeout", agent.DefaultDeadline, "how long each collector may take")
	fs.DurationVar(&l.timeout, "timeout", DefaultTimeout, "how long the whole run may take; collectors still running then are reported as errors (0: no limit)")
}

// begin starts the run's global deadline and signal handling; call the
// returned function when the run is over.
func (l *liveFlags) begin() func() {
	ctx, stop := runContext(l.timeout)
	l.ctx = ctx
	return stop
}

// stopped reports, and says on stderr, that a signal interrupted the run:
// the caller then writes nothing.
func (l *liveFlags) stopped(stderr io.Writer, cmd string) bool {
	msg, ok := interrupted(l.ctx)
	if ok {
		fmt.Fprintf(stderr, "hostdrift %s: %s: nothing was written; any previous output is unchanged\n", cmd, msg)
	}
	return ok
}

func (l *liveFlags) options(collectors []string, wants snapshot.Wants) agent.Options {
	return agent.Options{
		Env:        agent.Env{Root: l.root, NetNS: l.netns, Wants: wants},
		Collectors: collectors,
		Deadline:   l.deadline,
	}
}

func newSnapshot(root string) *snapshot.Snapshot {
	s := &snapshot.Snapshot{Schema: snapshot.Schema, Version: versionString(), TakenAt: time.Now().UTC()}
	if root != "/" {
		s.Root = root
	}
	return s
}

func runCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	code, format, evaluated := check(args, stdin, stdout, stderr)
	if format == "nagios" && !evaluated && code != exitOK {
		// Nagios reads 2 as CRITICAL: a plugin that could not run is UNKNOWN.
		fmt.Fprintln(stdout, "HOSTDRIFT UNKNOWN - usage or policy error, nothing was evaluated (see the error output)")
		return report.NagiosUnknown
	}
	return code
}

// check runs the check command and returns its exit code, the format asked
// for, and whether the policy was evaluated at all.
func check(args []string, stdin io.Reader, stdout, stderr io.Writer) (int, string, bool) {
	fs := newFlagSet("check", "check [--policy FILE|DIR|-]... [--var NAME=VALUE]... [--format FORMAT] [--output FILE] [--snapshot FILE]\n         [--baseline FILE]\n         [--report-dir DIR [--keep N]] [--save-snapshot FILE] [--prometheus-file FILE]", stderr)
	var policyPaths multiFlag
	vars := varFlags{}
	var live liveFlags
	fs.Var(&policyPaths, "policy", "policy `FILE` or folder of *.hcl, or - for standard input (repeatable; default: "+systemPolicyDir+"/*.hcl, else the built-in policy)")
	fs.Var(vars, "var", "set a policy variable, `NAME=VALUE` (repeatable)")
	format := fs.String("format", "table", "output format: "+strings.Join(report.Formats(), ", ")+" (nagios exits with the plugin states 0-3)")
	output := fs.String("output", "", "write the report to `FILE` (atomically) instead of standard output")
	snapPath := fs.String("snapshot", "", "judge the saved snapshot `FILE` instead of the live host")
	colorMode := fs.String("color", "auto", "colour the table: auto, always or never (NO_COLOR is respected)")
	verbose := fs.Bool("verbose", false, "list passing checks in the table too")
	baseline := fs.String("baseline", "", "also report what changed since the snapshot `FILE` (hostdrift snapshot --output FILE), as drift findings")
	var extra extraOutputs
	extra.register(fs)
	live.register(fs)
	if code := parseFlags(fs, args); code >= 0 {
		return code, *format, false
	}
	if err := extra.validate(); err != nil {
		fmt.Fprintln(stderr, "hostdrift check:", err)
		return exitUsage, *format, false
	}
	defer live.begin()()
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hostdrift check: unexpected argument %q (policies go with --policy)\n", fs.Arg(0))
		return exitUsage, *format, false
	}
	if !slices.Contains(report.Formats(), *format) {
		fmt.Fprintf(stderr, "hostdrift check: --format must be one of %v, not %q\n", report.Formats(), *format)
		return exitUsage, *format, false
	}
	var out io.Writer = stdout
	if *output != "" {
		out = nil
	}
	color, err := useColor(*colorMode, out)
	if err != nil {
		fmt.Fprintln(stderr, "hostdrift check:", err)
		return exitUsage, *format, false
	}

	pol := loadPolicy(policyPaths, vars, stdin, stderr)
	if pol == nil {
		return exitUsage, *format, false
	}
	var base *snapshot.Snapshot
	if *baseline != "" {
		if base, err = readSnapshot(*baseline); err != nil {
			fmt.Fprintln(stderr, "hostdrift check: baseline:", err)
			return exitUsage, *format, false
		}
	}
	started := time.Now()
	var snap *snapshot.Snapshot
	var plan *rules.Plan
	if *snapPath != "" {
		if snap, err = readSnapshot(*snapPath); err != nil {
			fmt.Fprintln(stderr, "hostdrift check:", err)
			return exitUsage, *format, false
		}
		var diags hcl.Diagnostics
		if plan, diags = pol.Compile(&snap.Host, vars); diags.HasErrors() {
			printDiagnostics(stderr, pol, diags)
			fmt.Fprintln(stderr, "hostdrift check: the policy does not fit the snapshot's host facts; nothing was evaluated")
			return exitUsage, *format, false
		}
	} else {
		var diags hcl.Diagnostics
		snap, plan, diags = survey(live, pol, vars, nil, base)
		if diags.HasErrors() {
			printDiagnostics(stderr, pol, diags)
			fmt.Fprintln(stderr, "hostdrift check: the policy does not fit this host's facts; nothing was evaluated")
			return exitUsage, *format, false
		}
	}
	if live.stopped(stderr, "check") {
		return exitIncomplete, *format, false
	}
	findings := plan.Evaluate(snap, time.Now())
	if base != nil {
		d := diff.Compare(base, snap, diff.Options{Ignore: plan.Ignores, Areas: baselineAreas(base), OldSource: *baseline})
		findings = append(findings, plan.DriftFindings(d, *baseline)...)
	}
	rep := report.New(snap, findings, pol.Sources, started, time.Since(started))
	if *snapPath != "" {
		rep.Snapshot = *snapPath
	}
	opts := report.Options{Color: color, Width: terminalWidth(stdout), Verbose: *verbose}
	err = emit(*output, stdout, func(w io.Writer) error { return report.Render(w, *format, rep, opts) })
	if err != nil {
		fmt.Fprintln(stderr, "hostdrift check:", err)
	}
	if xerr := extra.write(snap, rep, stderr); xerr != nil {
		err = xerr
	}
	if err != nil {
		if *format == "nagios" {
			return report.NagiosUnknown, *format, true
		}
		return exitOutput, *format, true
	}
	if *format == "nagios" {
		return report.NagiosState(rep), *format, true
	}
	return exitCode(rep.Summary), *format, true
}

// survey reads the live host for a policy: the host's facts first, which
// the policy is compiled against, then the collectors its checks need (or
// the named ones, when collectors is not nil), asked for what the checks
// want. With a baseline, the collectors of the baseline's areas
// run too and its DNS questions are asked again, so the comparison is like
// for like.
func survey(live liveFlags, pol *rules.Policy, vars map[string]string, collectors []string, base *snapshot.Snapshot) (*snapshot.Snapshot, *rules.Plan, hcl.Diagnostics) {
	snap := newSnapshot(live.root)
	agent.Run(live.ctx, snap, live.options([]string{"host"}, snapshot.Wants{}))
	plan, diags := pol.Compile(&snap.Host, vars)
	if diags.HasErrors() {
		return snap, nil, diags
	}
	needs, wants := plan.Needs(), plan.Wants()
	if collectors != nil {
		needs = slices.DeleteFunc(slices.Clone(collectors), func(n string) bool { return n == "host" })
	}
	if base != nil {
		areas := snapshot.AreaCollectors()
		for _, a := range baselineAreas(base) {
			if c := areas[a]; !slices.Contains(needs, c) {
				needs = append(needs, c)
			}
		}
		if base.DNS != nil {
			for _, q := range base.DNS.Queries {
				wants.DNS = append(wants.DNS, q.DNSQuery)
			}
		}
	}
	agent.Run(live.ctx, snap, live.options(needs, wants))
	return snap, plan, diags
}

// baselineAreas lists the areas whose collector ran when the baseline was
// taken: only those are compared (an area the baseline never looked at is
// not drift).
func baselineAreas(base *snapshot.Snapshot) []string {
	var out []string
	for area, collector := range snapshot.AreaCollectors() {
		if _, ran := base.Collector(collector); ran {
			out = append(out, area)
		}
	}
	slices.Sort(out)
	return out
}

// exitCode maps a summary to the documented exit codes. Skipped checks (they
// do not apply to this host) and waived ones never make a run incomplete:
// only a fail (1) or an error, real blindness (3), leave 0.
func exitCode(s finding.Summary) int {
	switch {
	case s.Fail > 0:
		return exitDrift
	case s.Error > 0:
		return exitIncomplete
	default:
		return exitOK
	}
}

// emit writes to path atomically (mode 0640), or to stdout when path is empty.
func emit(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "" {
		return write(stdout)
	}
	return atomicfile.Write(path, 0o640, func(f *os.File) error { return write(f) })
}

func readSnapshot(path string) (*snapshot.Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	defer f.Close()
	s, err := snapshot.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}
