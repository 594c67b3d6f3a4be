package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/agent/watch"
	"github.com/hostdrift/hostdrift/internal/serve"
	"github.com/hostdrift/hostdrift/internal/snapshot"
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
	ctx, stop := runContext(0)
	defer stop()
	return c.serve(ctx, stdout, stderr)
}

func (c *serveCmd) parse(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", "serve [--policy FILE|DIR|builtin:default]... [--no-builtin] [--var NAME=VALUE]... [--listen ADDR] [--web-config FILE]\n         [--log-format text|json] [--listeners-every D] [--legacy-every D] [--dns-min D] [--dns-max D]\n         [--report-dir DIR [--keep N]]", stdout, stderr)
	c.policy.register(fs, "read exactly this policy `FILE` or folder of *.hcl ("+builtinName+" for the built-in policy; repeatable); a change to it is reloaded. Default: the built-in policy with "+systemPolicyDir+"/*.hcl layered over it")
	c.vars.register(fs)
	fs.StringVar(&c.listen, "listen", defaultListen, "serve /metrics, /healthz and /report on `ADDR` (host:port); an address other than loopback is reachable from the network, protect it with --web-config")
	fs.StringVar(&c.webConfig, "web-config", "", "the Prometheus exporter toolkit's web configuration `FILE` (TLS, basic auth), as node_exporter takes it")
	fs.StringVar(&c.logFormat, "log-format", "text", "log lines on standard output (one per transition of a finding) as text or json")
	durationFlag(fs, &c.listenersEvery, "listeners-every", 15*time.Second, watch.MinPoll, "", "poll processes, and a fingerprint of the listening sockets, every `DURATION` (nothing notifies about them; at least 1s); sockets and probes are read again only when the fingerprint changed, a connection waits in an accept queue, or every 5 minutes")
	durationFlag(fs, &c.legacyEvery, "legacy-every", time.Minute, watch.MinPoll, "", "read the iptables-legacy rules (while legacy tables are loaded) and live kernel parameters again every `DURATION` (nothing notifies about them; nf_tables changes are events)")
	durationFlag(fs, &c.dnsMin, "dns-min", 30*time.Second, time.Nanosecond, "", "ask the policy's DNS questions again when the smallest TTL of the last answers runs out, but not sooner than `DURATION`")
	durationFlag(fs, &c.dnsMax, "dns-max", time.Hour, time.Nanosecond, "", "and not later than `DURATION`")
	fs.StringVar(&c.extra.reportDir, "report-dir", "", "write the JSON report to `DIR`/report-<UTC time>.json on every evaluation where a finding changed, point DIR/latest.json at it and keep the newest --keep")
	countFlag(fs, &c.extra.keep, "keep", defaultKeep, 1, "keep all", "how many reports --report-dir keeps (`N`; 0 keeps all)")
	fs.StringVar(&c.live.root, "root", "/", "read files below `DIR` instead of / (a mounted image or fixture tree)")
	fs.StringVar(&c.live.netns, "netns", "", "read the network namespace at `PATH` (e.g. /run/netns/NAME) instead of hostdrift's own")
	durationFlag(fs, &c.live.deadline, "collector-timeout", agent.DefaultDeadline, time.Nanosecond, "", "how long each collector may take")
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
	log := newEventLog(stdout, stderr, c.logFormat == "json")
	srv := serve.New()
	var ttl atomic.Uint32
	a := &agentLoop{live: c.live, policy: c.policy, vars: c.vars, extra: c.extra, srv: srv, log: log,
		minTTL: func(s uint32) { ttl.Store(s) }}
	w := &watcher{c: c, srv: srv, log: log, ttl: &ttl}
	a.counted = true
	a.resubscribe = func(plan *rules.Plan) {
		if ch := w.subscribe(ctx, plan); ch != nil {
			a.batches = ch
		}
	}
	if err := a.start(ctx, stderr); err != nil {
		fmt.Fprintf(stderr, "hostdrift serve: %v; nothing is served\n", err)
		return exitUsage
	}
	if !serve.Loopback(c.listen) && c.webConfig == "" {
		log.message("warning: --listen %s is reachable from the network without authentication or TLS: give --web-config", c.listen)
	}
	httpDone := make(chan error, 1)
	go func() { httpDone <- serve.Serve(ctx, l, srv.Handler(), c.webConfig, log.slog) }()
	log.message("serving on %s: %s", l.Addr(), serve.Summary(srv.State().Report))
	a.run(ctx)
	if err := <-httpDone; err != nil {
		fmt.Fprintln(stderr, "hostdrift serve: http:", err)
		return exitOutput
	}
	return exitOK
}

// watcher starts the event sources for the current plan, and starts them
// again when a reloaded policy reads other collectors or files.
type watcher struct {
	c      *serveCmd
	srv    *serve.Server
	log    *eventLog
	ttl    *atomic.Uint32
	opts   watch.Options
	cancel context.CancelFunc
}

// subscribe returns the batches of the sources plan needs, or nil when the
// sources already running are those.
func (w *watcher) subscribe(ctx context.Context, plan *rules.Plan) <-chan []watch.Event {
	opts := watch.Options{
		Env:            agent.Env{Root: w.c.live.root, NetNS: w.c.live.netns},
		PolicyPaths:    w.c.policyPaths(),
		Files:          wantedFiles(plan),
		ListenersEvery: w.c.listenersEvery,
		LegacyEvery:    w.c.legacyEvery,
		Collectors:     append(plan.Needs(), snapshot.CollectorHost),
	}
	slices.Sort(opts.Files)
	slices.Sort(opts.Collectors)
	if w.cancel != nil && slices.Equal(opts.Files, w.opts.Files) && slices.Equal(opts.Collectors, w.opts.Collectors) {
		return nil
	}
	if slices.Contains(opts.Collectors, snapshot.CollectorDNS) {
		opts.DNSNext = func() time.Duration { return dnsWait(w.ttl.Load(), w.c.dnsMin, w.c.dnsMax) }
	}
	if w.cancel != nil {
		w.cancel()
		w.log.message("the policy reads other areas or files now: restarting the event sources")
	}
	sctx, cancel := context.WithCancel(ctx)
	w.opts, w.cancel = opts, cancel
	batches, errs := watchEvents(sctx, opts, func(ev watch.Event) { w.srv.Event(ev.Source) })
	for _, e := range errs {
		w.log.message("event source: %v", e)
	}
	return batches
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

// wantedFiles are the files the plan's file checks read.
func wantedFiles(plan *rules.Plan) []string {
	w := plan.Wants()
	out := slices.Clone(w.Files)
	for _, f := range w.FileContent {
		out = append(out, f.Path)
	}
	return out
}

// dnsWait is how long the DNS poll waits: the smallest TTL of the last
// answers (seconds), within [lo, hi]; lo when there were none.
func dnsWait(ttl uint32, lo, hi time.Duration) time.Duration {
	return max(lo, min(time.Duration(ttl)*time.Second, hi))
}

// eventLog writes serve's lines: transitions on stdout (the journal under
// systemd), everything else on stderr, as text or JSON lines.
type eventLog struct {
	mu     sync.Mutex
	out    io.Writer
	err    io.Writer
	asJSON bool
	slog   *slog.Logger
}

func newEventLog(stdout, stderr io.Writer, asJSON bool) *eventLog {
	l := &eventLog{out: stdout, err: stderr, asJSON: asJSON}
	var h slog.Handler = slog.NewTextHandler(lockedWriter{l}, nil)
	if asJSON {
		h = slog.NewJSONHandler(lockedWriter{l}, nil)
	}
	l.slog = slog.New(h)
	return l
}

// lockedWriter writes to the log's stderr under its lock.
type lockedWriter struct{ l *eventLog }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	return w.l.err.Write(p)
}

// transitionLine is one transition, as --log-format json writes it.
type transitionLine struct {
	Time        string `json:"time"`
	Check       string `json:"check"`
	From        string `json:"from"`
	To          string `json:"to"`
	Event       string `json:"event"`
	Explanation string `json:"explanation"`
}

// transition writes one transition of a finding on stdout.
func (l *eventLog) transition(check, from, to, event, explanation string) {
	t := time.Now().UTC().Format(time.RFC3339Nano)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.asJSON {
		b, _ := json.Marshal(transitionLine{t, check, from, to, event, explanation})
		fmt.Fprintf(l.out, "%s\n", b)
		return
	}
	fmt.Fprintf(l.out, "%s %s %s -> %s (%s) %s\n", t, check, from, to, event, oneLine(explanation))
}

// message writes a line about the agent itself on stderr.
func (l *eventLog) message(format string, args ...any) {
	l.slog.Info(fmt.Sprintf(format, args...))
}

// oneLine keeps a log line one line.
func oneLine(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\n' || c == '\r' {
			b[i] = ' '
		}
	}
	return string(b)
}
