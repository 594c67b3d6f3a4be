package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hostdrift/hostdrift/internal/remote"
	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/rules"
)

// sshFlags are check's flags for auditing other hosts over ssh.
type sshFlags struct {
	targets  multiFlag
	options  multiFlag
	config   string
	parallel int
	sudo     bool
}

// defaultSSHParallel is how many hosts --ssh audits at once.
const defaultSSHParallel = 4

// sshAllowance is what a host's deadline adds to --timeout: the connections,
// the copy of the binary and the clean-up.
const sshAllowance = time.Minute

func (s *sshFlags) register(fs *flag.FlagSet) {
	fs.Var(&s.targets, "ssh", "audit `[USER@]HOST[:PORT]` over the system's ssh client instead of this host (repeatable); hostdrift is copied there for the run unless the host has the same version")
	countFlag(fs, &s.parallel, "ssh-parallel", defaultSSHParallel, 1, "", "how many --ssh hosts to audit at once (`N`)")
	fs.Var(&s.options, "ssh-option", "pass `KEY=VALUE` to ssh as -o KEY=VALUE (repeatable; e.g. ConnectTimeout=5, default "+fmt.Sprint(int(remote.DefaultConnectTimeout/time.Second))+")")
	fs.StringVar(&s.config, "ssh-config", "", "run ssh with -F `FILE` instead of ~/.ssh/config")
	fs.BoolVar(&s.sudo, "sudo", false, "with --ssh, run hostdrift there with sudo -n (no password prompt: the remote user needs NOPASSWD)")
}

// sshRecord is one host's line of check --ssh --format json: a JSON lines
// stream, one object per host in the order the hosts were named.
type sshRecord struct {
	Host     string          `json:"host"`
	ExitCode int             `json:"exit_code"`
	Binary   string          `json:"binary,omitempty"`
	Copied   bool            `json:"copied"`
	Leftover string          `json:"leftover,omitempty"`
	Error    string          `json:"error,omitempty"`
	Report   json.RawMessage `json:"report,omitempty"`
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
		return usage("--report-dir, --save-snapshot and --prometheus-file do not go with --ssh: use --format json (one line per host)")
	case c.format != "table" && c.format != "json":
		return usage("with --ssh the format is table or json (one JSON line per host), not %q", c.format)
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
	self, err := selfBinary()
	if err != nil {
		fmt.Fprintln(stderr, "hostdrift check:", err)
		return exitIncomplete, true
	}
	args = append([]string{"check", "--format", "json", "--timeout", c.live.timeout.String(), "--collector-timeout", c.live.deadline.String()}, args...)
	client := remote.Client{Config: s.config, Options: s.options}
	ctx, stop := runContext(0)
	defer stop()
	results := auditHosts(ctx, client, self, targets, remote.Job{Args: args, Stdin: policy, Sudo: s.sudo}, s.parallel, c.live.timeout)
	if msg, ok := interrupted(ctx); ok {
		fmt.Fprintf(stderr, "hostdrift check: %s: nothing was written; the hosts' temporary copies were removed where they could be\n", msg)
		return exitIncomplete, true
	}
	worst := exitOK
	var records []sshRecord
	for _, r := range results {
		rec := hostRecord(r, s.sudo)
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
	err = emit(c.output, stdout, func(w io.Writer) error {
		if c.format == "json" {
			return writeSSHJSON(w, records)
		}
		return c.writeSSHTables(w, records)
	})
	if err != nil {
		fmt.Fprintln(stderr, "hostdrift check:", err)
		return exitOutput, true
	}
	return worst, true
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

// selfBinary describes the running hostdrift, the one copied to hosts.
func selfBinary() (remote.Self, error) {
	path, err := os.Executable()
	if err != nil {
		return remote.Self{}, fmt.Errorf("find this hostdrift's own binary to copy it: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return remote.Self{}, fmt.Errorf("read this hostdrift's own binary to copy it: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return remote.Self{}, fmt.Errorf("read %s: %w", path, err)
	}
	return remote.Self{Path: path, Version: versionString(), SHA256: hex.EncodeToString(h.Sum(nil)), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH}, nil
}

// auditHosts runs the job on every target, parallel at a time, each within
// timeout plus sshAllowance (no deadline when timeout is 0), and returns
// the results in the targets' order. Cancelling ctx stops them all.
func auditHosts(ctx context.Context, client remote.Client, self remote.Self, targets []remote.Target, job remote.Job, parallel int, timeout time.Duration) []remote.Result {
	results := make([]remote.Result, len(targets))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			hctx, cancel := ctx, context.CancelFunc(func() {})
			if timeout > 0 {
				limit := timeout + sshAllowance
				hctx, cancel = context.WithTimeoutCause(ctx, limit, fmt.Errorf("the host's deadline of %s (--timeout plus %s for ssh) expired", limit, sshAllowance))
			}
			defer cancel()
			j := job
			j.Target = t
			results[i] = client.Run(hctx, self, j)
		}()
	}
	wg.Wait()
	return results
}

// hostRecord judges one host's result: its report and exit code, or the
// error that kept hostdrift from auditing it (exit 3).
func hostRecord(r remote.Result, sudo bool) sshRecord {
	rec := sshRecord{Host: r.Target.String(), Binary: r.Binary, Copied: r.Copied, Leftover: r.Leftover, ExitCode: exitIncomplete}
	if r.Err != nil {
		rec.Error = r.Err.Error()
		return rec
	}
	var doc bytes.Buffer
	var probe struct {
		Schema string `json:"schema"`
	}
	if json.Unmarshal(r.Stdout, &probe) != nil || probe.Schema == "" || json.Compact(&doc, r.Stdout) != nil {
		msg := strings.TrimSpace(string(r.Stderr))
		if msg == "" {
			msg = fmt.Sprintf("hostdrift there exited %d without a report", r.Code)
		}
		switch {
		case sudo && strings.HasPrefix(msg, "sudo:") && r.Copied:
			msg += " (--sudo runs sudo -n " + r.Binary + ", a temporary copy: sudo must let the user run any command without a password; or install hostdrift there and allow its check)"
		case sudo && strings.HasPrefix(msg, "sudo:"):
			msg += " (--sudo runs sudo -n " + r.Binary + ": sudo must let the user run it without a password)"
		case r.Code == 126 && r.Copied:
			msg += " (is the host's temporary folder mounted noexec? install hostdrift there instead)"
		}
		rec.Error = msg
		return rec
	}
	rec.Report = doc.Bytes()
	switch r.Code {
	case exitOK, exitDrift, exitIncomplete:
		rec.ExitCode = r.Code
	}
	return rec
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

func writeSSHJSON(w io.Writer, records []sshRecord) error {
	enc := json.NewEncoder(w)
	for _, r := range records {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// writeSSHTables writes each host's table under a heading naming it, then,
// for more than one host, a line counting them.
func (c *checkCmd) writeSSHTables(w io.Writer, records []sshRecord) error {
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
