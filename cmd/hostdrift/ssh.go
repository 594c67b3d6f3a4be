package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hostdrift/hostdrift/internal/cli"
	"github.com/hostdrift/hostdrift/internal/remote"
	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/rules"
)

// sshFlags are check's flags for auditing other hosts over ssh.
type sshFlags struct {
	targets  cli.Strings
	options  cli.Strings
	config   string
	parallel int
	sudo     bool
}

// defaultSSHParallel is how many hosts --ssh audits at once.
const defaultSSHParallel = 4

func (s *sshFlags) register(fs *flag.FlagSet) {
	fs.Var(&s.targets, "ssh", "audit `[USER@]HOST[:PORT]` over the system's ssh client instead of this host (repeatable); hostdrift is copied there for the run unless the host has the same version")
	cli.Count(fs, &s.parallel, "ssh-parallel", defaultSSHParallel, 1, "", "how many --ssh hosts to audit at once (`N`)")
	fs.Var(&s.options, "ssh-option", "pass `KEY=VALUE` to ssh as -o KEY=VALUE (repeatable; e.g. ConnectTimeout=5, default "+fmt.Sprint(int(remote.DefaultConnectTimeout/time.Second))+")")
	fs.StringVar(&s.config, "ssh-config", "", "run ssh with -F `FILE` instead of ~/.ssh/config")
	fs.BoolVar(&s.sudo, "sudo", false, "with --ssh, run hostdrift there with sudo -n (no password prompt: the remote user needs NOPASSWD)")
}

// runSSH runs check on the --ssh hosts. ok is false when no --ssh flag was
// given and check is to read this host.
func (c *checkCmd) runSSH(stdin io.Reader, stdout, stderr io.Writer) (code int, ok bool) {
	s := c.ssh
	usage := func(format string, args ...any) (int, bool) {
		fmt.Fprintf(stderr, "hostdrift check: "+format+"\n", args...)
		return exitUsage, true
	}
	if len(s.targets) == 0 {
		if s.sudo || len(s.options) > 0 || s.config != "" {
			return usage("--sudo, --ssh-option and --ssh-config go with --ssh HOST")
		}
		return 0, false
	}
	switch {
	case c.snapPath != "" || c.baseline != "":
		return usage("--snapshot and --baseline judge saved snapshots here; they do not go with --ssh")
	case c.live.root != "/" || c.live.netns != "":
		return usage("--root and --netns name what to read on this host; they do not go with --ssh")
	case c.extra.reportDir != "" || c.extra.snapshot != "" || c.extra.promFile != "":
		return usage("--report-dir, --save-snapshot and --prometheus-file do not go with --ssh: use --format json:FILE (one document, a report per host)")
	}
	for _, o := range c.outputs {
		switch {
		case o.bare && o.format != "table" && o.format != "json":
			return usage("with --ssh the format on standard output is table or json (one JSON line per host), not %q", o.format)
		case !o.bare && o.format != "json" && o.format != "junit":
			return usage("with --ssh, --format FORMAT:FILE writes json (one document with a report per host) or junit (a test suite per host), not %s", o.format)
		}
	}
	var targets []remote.Target
	for _, t := range s.targets {
		tg, err := remote.ParseTarget(t)
		if err != nil {
			return usage("%v", err)
		}
		targets = append(targets, tg)
	}
	for _, o := range s.options {
		if err := remote.CheckOption(o); err != nil {
			return usage("%v", err)
		}
	}
	args, policy, code := c.remotePolicy(stdin, stderr)
	if code >= 0 {
		return code, true
	}
	self, err := remote.SelfBinary(versionString())
	if err != nil {
		fmt.Fprintln(stderr, "hostdrift check:", err)
		return exitIncomplete, true
	}
	args = append([]string{"check", "--format", "json", "--timeout", c.live.timeout.String(), "--collector-timeout", c.live.deadline.String()}, args...)
	client := remote.Client{Config: s.config, Options: s.options}
	ctx, stop := cli.RunContext(0)
	defer stop()
	started := time.Now()
	results := client.RunAll(ctx, self, targets, remote.Job{Args: args, Stdin: policy, Sudo: s.sudo}, s.parallel, c.live.timeout)
	if msg, ok := cli.Interrupted(ctx); ok {
		fmt.Fprintf(stderr, "hostdrift check: %s: nothing was written; the hosts' temporary copies were removed where they could be\n", msg)
		return exitIncomplete, true
	}
	worst := exitOK
	var records []remote.Record
	for _, r := range results {
		rec := remote.Judge(r, s.sudo)
		for _, line := range strings.Split(strings.TrimSpace(string(r.Stderr)), "\n") {
			if line != "" && r.Err == nil {
				fmt.Fprintf(stderr, "%s: %s\n", rec.Host, line)
			}
		}
		if rec.Leftover != "" {
			fmt.Fprintf(stderr, "hostdrift check: %s: could not remove %s there: remove it by hand\n", rec.Host, rec.Leftover)
		}
		records = append(records, rec)
		worst = worseExit(worst, rec.ExitCode)
	}
	failed := false
	for _, o := range c.outputs {
		err := emit(o.file, stdout, func(w io.Writer) error {
			switch {
			case o.bare && o.format == "json":
				return remote.WriteJSONLines(w, records)
			case o.bare:
				return c.writeSSHTables(w, records)
			case o.format == "json":
				return remote.WriteJSON(w, records)
			default:
				return writeSSHJUnit(w, records, started)
			}
		})
		if err != nil {
			fmt.Fprintln(stderr, "hostdrift check:", o.failed(err))
			failed = true
		}
	}
	if failed {
		return exitOutput, true
	}
	return worst, true
}

// writeSSHJUnit writes one JUnit document with a test suite per host, named
// by the target as given; a host not audited, or whose report cannot be
// read, is a suite with one case in error.
func writeSSHJUnit(w io.Writer, records []remote.Record, started time.Time) error {
	var hosts []report.JUnitHost
	for _, r := range records {
		h := report.JUnitHost{Name: r.Host, Error: r.Error, At: started}
		if r.Error == "" {
			var rep report.Report
			if err := json.Unmarshal(r.Report, &rep); err != nil {
				h.Error = fmt.Sprintf("the host's report cannot be read: %v", err)
			} else {
				h.Report = &rep
			}
		}
		hosts = append(hosts, h)
	}
	return report.WriteJUnit(w, hosts)
}

// remotePolicy says how the policy travels: the remote hostdrift's policy
// flags and its standard input. Without --policy each host is judged by its
// own default policy (the built-in one, and its /etc/hostdrift/policies);
// with --policy, the operator's files are read and validated here and sent,
// concatenated, as the remote's standard input, layered over the remote's
// built-in policy when --policy names builtin:default (the same policy: the
// host runs this version). code is -1 to go on.
func (c *checkCmd) remotePolicy(stdin io.Reader, stderr io.Writer) (args []string, policy []byte, code int) {
	vars := c.vars.resolve(stderr)
	if vars == nil {
		return nil, nil, exitUsage
	}
	given := vars.Flags()
	for _, k := range slices.Sorted(maps.Keys(given)) {
		args = append(args, "--var", k+"="+given[k])
	}
	for _, sel := range c.sel.only {
		args = append(args, "--only", sel)
	}
	for _, sel := range c.sel.skip {
		args = append(args, "--skip", sel)
	}
	if c.retry.Timeout > 0 {
		args = append(args, "--retry-timeout", c.retry.Timeout.String(), "--sleep", c.retry.Sleep.String())
	}
	if len(c.policy.paths) == 0 {
		if c.policy.noBuiltin {
			args = append(args, "--no-builtin")
		}
		return args, nil, -1
	}
	srcs, err := readPolicies(c.policy, stdin)
	if err != nil {
		fmt.Fprintln(stderr, "hostdrift:", err)
		return nil, nil, exitUsage
	}
	pol, diags := rules.Load(srcs)
	_, more := pol.Compile(nil, vars)
	if diags = append(diags, more...); len(diags) > 0 {
		printDiagnostics(stderr, pol, diags)
	}
	if diags.HasErrors() {
		fmt.Fprintf(stderr, "hostdrift: %d error(s) in the policy; nothing was evaluated\n", len(diags.Errs()))
		return nil, nil, exitUsage
	}
	var buf bytes.Buffer
	builtin := false
	for _, src := range srcs {
		if src.Builtin {
			builtin = true
			continue
		}
		fmt.Fprintf(&buf, "# hostdrift check --ssh: %s\n", src.Name)
		buf.Write(src.Text)
		buf.WriteString("\n")
	}
	if builtin {
		args = append(args, "--policy", builtinName)
	}
	if buf.Len() > 0 {
		args = append(args, "--policy", "-")
		policy = buf.Bytes()
	}
	return args, policy, -1
}

// worseExit is the worse of two exit codes for a run over several hosts:
// drift (1), then incomplete or unreachable (3), then none (0).
func worseExit(a, b int) int {
	rank := map[int]int{exitOK: 0, exitIncomplete: 1, exitDrift: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// writeSSHTables writes each host's table under a heading naming it, then,
// for more than one host, a line counting them.
func (c *checkCmd) writeSSHTables(w io.Writer, records []remote.Record) error {
	counts := map[int]int{}
	for i, r := range records {
		if i > 0 {
			fmt.Fprintln(w)
		}
		how := ""
		switch {
		case r.Copied:
			how = " (hostdrift copied for the run, then removed)"
		case r.Binary != "":
			how = " (" + r.Binary + ")"
		}
		fmt.Fprintf(w, "== %s%s ==\n", r.Host, how)
		counts[r.ExitCode]++
		if r.Error != "" {
			fmt.Fprintf(w, "ERROR: not audited: %s\n", r.Error)
			continue
		}
		var rep report.Report
		if err := json.Unmarshal(r.Report, &rep); err != nil {
			fmt.Fprintf(w, "ERROR: the host's report cannot be read: %v\n", err)
			continue
		}
		opts := report.Options{Color: c.color, Verbose: c.verbose}
		if err := report.Render(w, "table", &rep, opts); err != nil {
			return err
		}
	}
	if len(records) > 1 {
		_, err := fmt.Fprintf(w, "\n%d hosts: %d with drift, %d incomplete or not audited, %d without drift\n",
			len(records), counts[exitDrift], counts[exitIncomplete], counts[exitOK])
		return err
	}
	return nil
}
