package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/agent/watch"
	"github.com/hostdrift/hostdrift/internal/cli"
	"github.com/hostdrift/hostdrift/internal/serve"
	"github.com/hostdrift/hostdrift/rules"
)

// defaultListen is serve's address: loopback only, and a port outside the
// 9090-9999 block the Prometheus community's default-port allocation list
// hands out to exporters (it is full), so hostdrift collides with none of
// them; /etc/services names nothing on 8731 either.
const defaultListen = "127.0.0.1:8731"

// serveCmd is the serve command's flags.
type serveCmd struct {
	policy         policyFlags
	vars           *varOptions
	live           liveFlags
	extra          extraOutputs
	listen         string
	webConfig      string
	logFormat      string
	listenersEvery time.Duration
	legacyEvery    time.Duration
	dnsMin, dnsMax time.Duration
}

func runServe(args []string, stdout, stderr io.Writer) int {
	c := &serveCmd{vars: newVarOptions()}
	if code := c.parse(args, stdout, stderr); code >= 0 {
		return code
	}
	ctx, stop := cli.RunContext(0)
	defer stop()
	return c.serve(ctx, stdout, stderr)
}

func (c *serveCmd) parse(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", "serve [--policy FILE|DIR|builtin:default]... [--no-builtin] [--var NAME=VALUE]... [--listen ADDR] [--web-config FILE]\n         [--log-format text|json] [--listeners-every D] [--legacy-every D] [--dns-min D] [--dns-max D]\n         [--report-dir DIR [--keep N]]", stdout, stderr)
	c.policy.register(fs, "read exactly this policy `FILE` or folder of *.hcl ("+builtinName+" for the built-in policy; repeatable); a change to it is reloaded. Default: the built-in policy with "+systemPolicyDir+"/*.hcl layered over it")
	c.vars.register(fs)
	fs.StringVar(&c.listen, "listen", defaultListen, "serve the HTML page (/), /metrics, /healthz and /report on `ADDR` (host:port); an address other than loopback is reachable from the network, protect it with --web-config")
	fs.StringVar(&c.webConfig, "web-config", "", "the Prometheus exporter toolkit's web configuration `FILE` (TLS, basic auth), as node_exporter takes it")
	fs.StringVar(&c.logFormat, "log-format", "text", "log lines on standard output (one per transition of a finding) as text or json")
	cli.Duration(fs, &c.listenersEvery, "listeners-every", 15*time.Second, watch.MinPoll, "", "poll processes, and a fingerprint of the listening sockets, every `DURATION` (nothing notifies about them; at least 1s); sockets and probes are read again only when the fingerprint changed, a connection waits in an accept queue, or every 5 minutes")
	cli.Duration(fs, &c.legacyEvery, "legacy-every", time.Minute, watch.MinPoll, "", "read the iptables-legacy rules (while legacy tables are loaded) and live kernel parameters again every `DURATION` (nothing notifies about them; nf_tables changes are events)")
	cli.Duration(fs, &c.dnsMin, "dns-min", 30*time.Second, time.Nanosecond, "", "ask the policy's DNS questions again when the smallest TTL of the last answers runs out, but not sooner than `DURATION`")
	cli.Duration(fs, &c.dnsMax, "dns-max", time.Hour, time.Nanosecond, "", "and not later than `DURATION`")
	fs.StringVar(&c.extra.reportDir, "report-dir", "", "write the JSON report to `DIR`/report-<UTC time>.json on every evaluation where a finding changed, point DIR/latest.json at it and keep the newest --keep")
	cli.Count(fs, &c.extra.keep, "keep", defaultKeep, 1, "keep all", "how many reports --report-dir keeps (`N`; 0 keeps all)")
	fs.StringVar(&c.live.root, "root", "/", "read files below `DIR` instead of / (a mounted image or fixture tree)")
	fs.StringVar(&c.live.netns, "netns", "", "read the network namespace at `PATH` (e.g. /run/netns/NAME) instead of hostdrift's own")
	cli.Duration(fs, &c.live.deadline, "collector-timeout", agent.DefaultDeadline, time.Nanosecond, "", "how long each collector may take")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	usage := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "hostdrift serve: "+format+"\n", args...)
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		return usage("unexpected argument %q (policies go with --policy)", fs.Arg(0))
	case slices.Contains(c.policy.paths, "-"):
		return usage("--policy - (standard input) cannot be read again when it changes: give a file or folder")
	case c.logFormat != "text" && c.logFormat != "json":
		return usage("--log-format must be text or json, not %q", c.logFormat)
	case c.dnsMax < c.dnsMin:
		return usage("--dns-max must be at least --dns-min (got %s and %s)", c.dnsMax, c.dnsMin)
	}
	if err := checkListen(c.listen); err != nil {
		return usage("%v", err)
	}
	return -1
}

// checkListen validates --listen's form, HOST:PORT with a port from 0 to
// 65535 (or a service name), before anything is read.
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q is not HOST:PORT (%v): give e.g. %s, or [::1]:8731", addr, err, defaultListen)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("--listen %s: the port %q is not a number from 0 to 65535 (nor a service name in /etc/services)", addr, port)
	}
	return nil
}

// serve runs the agent until ctx ends: the listening address bound and the
// web configuration read (so neither mistake waits for the host to be
// read), one full evaluation (the event sources start as soon as the policy
// is compiled, before the areas are read, so nothing changed during the
// reading is missed), then the HTTP server, then one evaluation per batch
// of events.
func (c *serveCmd) serve(ctx context.Context, stdout, stderr io.Writer) int {
	l, err := serve.Listen(c.listen, c.webConfig)
	if err != nil {
		// A port in use may free itself (the unit restarts on exit 4); a
		// bad web configuration will not (exit 2: it does not restart).
		fmt.Fprintf(stderr, "hostdrift serve: %v; nothing was read\n", err)
		if errors.Is(err, serve.ErrWebConfig) {
			return exitUsage
		}
		return exitOutput
	}
	defer l.Close()
	log := serve.NewLog(stdout, stderr, c.logFormat == "json")
	srv := serve.New()
	w := &serve.Watcher{Env: c.live.options().Env, PolicyPaths: c.policyPaths(),
		ListenersEvery: c.listenersEvery, LegacyEvery: c.legacyEvery, DNSMin: c.dnsMin, DNSMax: c.dnsMax,
		Server: srv, Log: log}
	a := &serve.Loop{Host: c.live.host(), Server: srv, Log: log, ReportDir: c.extra.reportDir, Keep: c.extra.keep,
		MinTTL: w.MinTTL, Counted: true}
	a.Load = func() (*rules.Policy, *rules.Variables, error) {
		var b bytes.Buffer
		pol, vs := loadPolicy(c.policy, c.vars, nil, &b)
		if pol == nil {
			return nil, nil, errors.New(strings.TrimSpace(b.String()))
		}
		return pol, vs, nil
	}
	a.Resubscribe = func(plan *rules.Plan) {
		if ch := w.Subscribe(ctx, plan); ch != nil {
			a.Batches = ch
		}
	}
	if err := a.Start(ctx); err != nil {
		var le *serve.LoadError
		if errors.As(err, &le) {
			fmt.Fprintln(stderr, le.Diagnostics)
		}
		fmt.Fprintf(stderr, "hostdrift serve: %v; nothing is served\n", err)
		return exitUsage
	}
	if !serve.Loopback(c.listen) && c.webConfig == "" {
		log.Message("warning: --listen %s is reachable from the network without authentication or TLS: give --web-config", c.listen)
	}
	httpDone := make(chan error, 1)
	go func() { httpDone <- serve.Serve(ctx, l, srv.Handler(), c.webConfig, log.Slog) }()
	log.Message("serving on %s: %s", l.Addr(), serve.Summary(srv.State().Report))
	a.Run(ctx)
	if err := <-httpDone; err != nil {
		fmt.Fprintln(stderr, "hostdrift serve: http:", err)
		return exitOutput
	}
	return exitOK
}

// policyPaths are the files and folders whose change reloads the policy.
func (c *serveCmd) policyPaths() []string {
	var out []string
	for _, p := range c.policy.paths {
		if p != builtinName {
			out = append(out, p)
		}
	}
	if len(c.policy.paths) == 0 {
		out = append(out, systemPolicyDir)
	}
	return out
}
