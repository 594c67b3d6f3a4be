package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/audit"
	"github.com/hostdrift/hostdrift/internal/cli"
	"github.com/hostdrift/hostdrift/internal/diff"
	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/atomicfile"
)

// DefaultTimeout bounds a whole run: collectors, evaluation and output.
const DefaultTimeout = 2 * time.Minute

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
	cli.Duration(fs, &l.deadline, "collector-timeout", agent.DefaultDeadline, time.Nanosecond, "", "how long each collector may take")
	cli.Duration(fs, &l.timeout, "timeout", DefaultTimeout, time.Nanosecond, "no limit", "how long the whole run may take; collectors still running then are reported as errors (0: no limit)")
}

// begin starts the run's global deadline and signal handling; call the
// returned function when the run is over.
func (l *liveFlags) begin() func() {
	ctx, stop := cli.RunContext(l.timeout)
	l.ctx = ctx
	return stop
}

// stopped reports, and says on stderr, that a signal interrupted the run:
// the caller then writes nothing.
func (l *liveFlags) stopped(stderr io.Writer, cmd string) bool {
	msg, ok := cli.Interrupted(l.ctx)
	if ok {
		fmt.Fprintf(stderr, "hostdrift %s: %s: nothing was written; any previous output is unchanged\n", cmd, msg)
	}
	return ok
}

// options are the agent's options for a survey of the host these flags name.
func (l *liveFlags) options() agent.Options {
	return agent.Options{Env: agent.Env{Root: l.root, NetNS: l.netns}, Deadline: l.deadline}
}

// host is how a run reads the host these flags name.
func (l *liveFlags) host() audit.Host {
	return audit.Host{Options: l.options(), Version: versionString()}
}

func runCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &checkCmd{vars: newVarOptions()}
	code, evaluated := c.run(args, stdin, stdout, stderr)
	if stdoutFormat(c.formats) == "nagios" && !evaluated && code != exitOK {
		// Nagios reads 2 as CRITICAL: a plugin that could not run is UNKNOWN.
		fmt.Fprintln(stdout, "HOSTDRIFT UNKNOWN - usage or policy error, nothing was evaluated (see the error output)")
		return nagiosUnknown
	}
	return code
}

// checkCmd is the check command's flags.
type checkCmd struct {
	policy    policyFlags
	vars      *varOptions
	live      liveFlags
	extra     extraOutputs
	ssh       sshFlags
	formats   cli.Strings
	outputs   []reportOutput
	output    string
	snapPath  string
	colorMode string
	baseline  string
	verbose   bool
	color     bool
	sel       selection
	retry     audit.Retry
}

// run runs the check command and returns its exit code and whether the
// policy was evaluated at all.
func (c *checkCmd) run(args []string, stdin io.Reader, stdout, stderr io.Writer) (int, bool) {
	if code := c.parse(args, stdout, stderr); code >= 0 {
		return code, false
	}
	if code, ok := c.runSSH(stdin, stdout, stderr); ok {
		return code, code != exitUsage
	}
	defer c.live.begin()()
	rep, snap, code := c.judge(stdin, stderr)
	if rep == nil {
		return code, false
	}
	opts := report.Options{Color: c.color, Width: cli.TerminalWidth(stdout), Verbose: c.verbose, NagiosState: nagiosState(rep.Findings)}
	err := writeOutputs(c.outputs, stdout, stderr, rep, opts)
	if xerr := c.extra.write(snap, rep, stderr); xerr != nil {
		err = xerr
	}
	return checkExit(stdoutFormat(c.formats), rep, err), true
}

// parse reads the flags; it returns an exit code when the command is to end
// now, -1 otherwise.
func (c *checkCmd) parse(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check", "check [--policy FILE|DIR|-|builtin:default]... [--no-builtin] [--var NAME=VALUE]... [--format FORMAT[:FILE]]... [--output FILE]\n         [--snapshot FILE] [--baseline FILE]\n         [--report-dir DIR [--keep N]] [--save-snapshot FILE] [--prometheus-file FILE]\n         [--ssh [USER@]HOST[:PORT]]... [--ssh-parallel N] [--ssh-option KEY=VALUE]... [--sudo]", stdout, stderr)
	c.policy.register(fs, "read exactly this policy `FILE` or folder of *.hcl (- for standard input, "+builtinName+" for the built-in policy; repeatable). Default: the built-in policy with "+systemPolicyDir+"/*.hcl layered over it")
	c.vars.register(fs)
	fs.Var(&c.formats, "format", formatUsage())
	fs.StringVar(&c.output, "output", "", "write the format given without a file to `FILE` (atomically) instead of standard output; the same as giving it as FORMAT:FILE")
	fs.StringVar(&c.snapPath, "snapshot", "", "judge the saved snapshot `FILE` instead of the live host")
	fs.StringVar(&c.colorMode, "color", "auto", "colour the table: auto, always or never (NO_COLOR is respected)")
	fs.BoolVar(&c.verbose, "verbose", false, "list passing checks in the table too")
	fs.StringVar(&c.baseline, "baseline", "", "also report what changed since the snapshot `FILE` (hostdrift snapshot --output FILE), as drift findings")
	fs.Var(&c.sel.only, "only", "judge only the checks these `SELECTORS` name: kind.name (every for_each instance; kind.name[\"key\"] names one), kind or tag:TAG (repeatable or comma-separated)")
	fs.Var(&c.sel.skip, "skip", "leave out the checks these `SELECTORS` name, as --only does (repeatable or comma-separated)")
	cli.Duration(fs, &c.retry.Timeout, "retry-timeout", 0, time.Nanosecond, "judge once", "judge the checks that fail or err again, from a new reading of what they need, until they pass or this `DURATION` since the start is up (e.g. 30s; 0: judge once)")
	cli.Duration(fs, &c.retry.Sleep, "sleep", time.Second, time.Nanosecond, "", "how long to wait between attempts with --retry-timeout")
	c.extra.register(fs)
	c.live.register(fs)
	c.ssh.register(fs)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	usage := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "hostdrift check: "+format+"\n", args...)
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q (policies go with --policy)", fs.Arg(0))
	}
	outs, err := parseOutputs(c.formats, c.output, map[string]string{"--save-snapshot": c.extra.snapshot, "--prometheus-file": c.extra.promFile})
	if err != nil {
		return usage("%v", err)
	}
	c.outputs = outs
	if err := c.checkRetry(fs); err != nil {
		return usage("%v", err)
	}
	var out io.Writer = stdout
	if c.output != "" {
		out = nil
	}
	color, err := cli.UseColor(c.colorMode, out)
	if err != nil {
		return usage("%v", err)
	}
	c.color = color
	return -1
}

// judge loads the policy, reads the host (or the saved snapshot) and judges
// it. It returns the report and the snapshot judged, or no report and the
// exit code when nothing could be evaluated.
func (c *checkCmd) judge(stdin io.Reader, stderr io.Writer) (*report.Report, *snapshot.Snapshot, int) {
	pol, vars := loadPolicy(c.policy, c.vars, stdin, stderr)
	if pol == nil {
		return nil, nil, exitUsage
	}
	var base *snapshot.Snapshot
	var err error
	if c.baseline != "" {
		if base, err = readSnapshot(c.baseline); err != nil {
			fmt.Fprintln(stderr, "hostdrift check: baseline:", err)
			return nil, nil, exitUsage
		}
	}
	started := time.Now()
	req := audit.Request{Policy: pol, Vars: vars, Narrow: c.sel.apply, Baseline: base}
	var run *audit.Run
	var diags hcl.Diagnostics
	facts := "this host's"
	if c.snapPath != "" {
		snap, err := readSnapshot(c.snapPath)
		if err != nil {
			fmt.Fprintln(stderr, "hostdrift check:", err)
			return nil, nil, exitUsage
		}
		run, diags = audit.Compile(snap, req)
		facts = "the snapshot's host"
	} else {
		run, diags = audit.Read(c.live.ctx, c.live.host(), req)
		if c.live.stopped(stderr, "check") {
			return nil, nil, exitIncomplete
		}
		if err := unreadFacts(run.Snap); err != nil {
			fmt.Fprintf(stderr, "hostdrift check: nothing was evaluated: %v\n", err)
			return nil, nil, exitIncomplete
		}
	}
	if c.sel.err != nil {
		fmt.Fprintln(stderr, "hostdrift check:", c.sel.err)
		return nil, nil, exitUsage
	}
	if diags.HasErrors() {
		printDiagnostics(stderr, pol, diags)
		fmt.Fprintf(stderr, "hostdrift check: the policy does not fit %s facts; nothing was evaluated\n", facts)
		return nil, nil, exitUsage
	}
	if c.live.stopped(stderr, "check") {
		return nil, nil, exitIncomplete
	}
	findings := run.Judge(time.Now())
	findings = c.retry.Run(c.live.ctx, c.live.host(), run, findings, started)
	if base != nil {
		d := diff.Compare(base, run.Snap, diff.Options{Ignore: run.Plan.Ignores, Areas: audit.BaselineAreas(base), OldSource: c.baseline})
		findings = append(findings, run.Plan.DriftFindings(d, c.baseline)...)
	}
	rep := report.New(run.Snap, findings, pol.Sources, started, time.Since(started))
	rep.Snapshot = c.snapPath
	return rep, run.Snap, exitOK
}

// unreadFacts says why the host's facts were not read, and what to raise
// when the run's deadline cut them short; nil when they were read.
func unreadFacts(s *snapshot.Snapshot) error {
	err := audit.UnreadFacts(s)
	if err != nil && strings.Contains(err.Error(), "--timeout") {
		err = fmt.Errorf("%w; raise --timeout (default %s)", err, DefaultTimeout)
	}
	return err
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
	if errors.Is(err, snapshot.ErrReport) {
		return nil, fmt.Errorf("%s: %w; a snapshot is made by hostdrift snapshot --output FILE, or by hostdrift check --save-snapshot FILE next to its report", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}
