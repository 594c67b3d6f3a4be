package watch

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hostdrift/hostdrift/agent/listeners"
	"github.com/hostdrift/hostdrift/agent/sysctl"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/setns"
)

// Default poll intervals, for Options fields left zero.
const (
	DefaultListenersEvery = 15 * time.Second
	DefaultLegacyEvery    = 60 * time.Second
	// MinPoll is the shortest interval any poll waits, whatever it is
	// told: a guard against a busy loop.
	MinPoll = time.Second
)

// pollSource sends an event each time its interval passes, for areas
// nothing notifies about. check, when set, decides whether there is
// anything to report this time.
type pollSource struct {
	what       string
	collectors []string
	next       func() time.Duration
	check      func() (detail string, ok bool)
	minPoll    time.Duration
}

func (s *pollSource) Name() string { return "poll" }

// Run waits next() and sends an event, until ctx ends. next is asked again
// after each event.
func (s *pollSource) Run(ctx context.Context, out chan<- Event) error {
	timer := time.NewTimer(s.interval())
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		detail, ok := s.what+" polled", true
		if s.check != nil {
			detail, ok = s.check()
		}
		if ok && !emit(ctx, out, Event{Source: "poll", Collectors: s.collectors, Detail: detail}) {
			return nil
		}
		timer.Reset(s.interval())
	}
}

// interval is the next wait, never shorter than the floor.
func (s *pollSource) interval() time.Duration {
	d := s.next()
	if d < s.minPoll {
		d = s.minPoll
	}
	return d
}

// every returns d, or def when d is zero.
func every(d, def time.Duration) func() time.Duration {
	if d == 0 {
		d = def
	}
	return func() time.Duration { return d }
}

// FullReadEvery is how often the listeners poll asks for a full re-read
// of the listening sockets even when their fingerprint did not change: a
// socket handed to another process keeps its inode.
const FullReadEvery = 5 * time.Minute

// newListenersPoll polls the listening sockets and the probes' answers,
// which nothing announces. Each interval it takes a cheap fingerprint of
// the sockets (one sock_diag dump, no process read) and sends an event
// only when a re-read is worth it: see listenerCheck.
func newListenersPoll(ctx context.Context, opts *Options) (source, error) {
	cols := only(opts.Collectors, []string{snapshot.CollectorListeners, snapshot.CollectorProbes})
	if len(cols) == 0 {
		return source{}, nil
	}
	// The baseline is taken now: serve starts the sources before it reads
	// the host, so a socket that changes after this is a difference at
	// the first check, and one before it is in serve's reading. Without a
	// baseline the first check reads once more.
	c := &listenerCheck{ctx: ctx, netns: opts.Env.NetNS, now: time.Now, read: listeners.ReadFingerprint}
	c.baseline()
	return source{Source: &pollSource{what: "listening sockets", collectors: cols, minPoll: MinPoll, check: c.check,
		next: every(opts.ListenersEvery, DefaultListenersEvery)}, collectors: cols}, nil
}

// newProcessesPoll polls the processes every Options.ListenersEvery,
// unconditionally: processes come and go without notice.
func newProcessesPoll(ctx context.Context, opts *Options) (source, error) {
	cols := only(opts.Collectors, []string{snapshot.CollectorProcesses})
	if len(cols) == 0 {
		return source{}, nil
	}
	return source{Source: &pollSource{what: "processes", collectors: cols, minPoll: MinPoll,
		next: every(opts.ListenersEvery, DefaultListenersEvery)}, collectors: cols}, nil
}

// listenerCheck decides whether the listening sockets are worth reading
// again: their fingerprint changed, a connection waits in an accept queue
// (the stall checks judge how long it has waited, which changes with
// time), FullReadEvery passed since the last re-read, or the fingerprint
// could not be taken.
type listenerCheck struct {
	// ctx is the sources' context: a dump stops when they stop.
	ctx   context.Context
	netns string
	now   func() time.Time
	read  func(ctx context.Context, nsPath string) (listeners.Fingerprint, error)
	// last is the fingerprint of the last check, valid when have is set;
	// lastFull is when the last event (a re-read) was sent.
	last     listeners.Fingerprint
	have     bool
	lastFull time.Time
}

// fingerprintTimeout bounds one fingerprint's dump.
const fingerprintTimeout = 10 * time.Second

// fingerprint takes one, within fingerprintTimeout.
func (c *listenerCheck) fingerprint() (listeners.Fingerprint, error) {
	ctx, cancel := context.WithTimeout(c.ctx, fingerprintTimeout)
	defer cancel()
	return c.read(ctx, c.netns)
}

// baseline takes the fingerprint the first check compares with; when it
// cannot be taken, the first check reads again.
func (c *listenerCheck) baseline() {
	if fp, err := c.fingerprint(); err == nil {
		c.last, c.have, c.lastFull = fp, true, c.now()
	}
}

// check takes a fingerprint and says whether to send an event, and why.
func (c *listenerCheck) check() (string, bool) {
	fp, err := c.fingerprint()
	if c.ctx.Err() != nil {
		return "", false // the sources are stopping
	}
	now := c.now()
	var detail string
	switch {
	case err != nil:
		c.have, c.lastFull = false, now
		return "listening sockets: the sock_diag fingerprint failed (" + err.Error() + "), so they are read again", true
	case !c.have:
		detail = "listening sockets: first fingerprint taken (none when the sources started), read once more in case they changed since the last reading"
	case fp.Sum != c.last.Sum:
		added, gone := fp.Diff(c.last)
		detail = fmt.Sprintf("listening sockets changed: %d new, %d gone", added, gone)
	case fp.Queued:
		detail = "listening sockets: connections wait in an accept queue"
	case now.Sub(c.lastFull) >= FullReadEvery:
		detail = "listening sockets: full re-read (every " + FullReadEvery.String() + ", for sockets handed to another process)"
	default:
		c.last = fp
		return "", false
	}
	c.last, c.have, c.lastFull = fp, true, now
	return detail, true
}

func newLegacyPoll(ctx context.Context, opts *Options) (source, error) {
	cols := []string{snapshot.CollectorFirewall}
	if !wanted(opts, cols...) {
		return source{}, nil
	}
	netns := opts.Env.NetNS
	check := func() (string, bool) {
		names, err := legacyTables(netns)
		if err != nil {
			return "iptables-legacy tables unreadable: " + err.Error(), true
		}
		if len(names) == 0 {
			return "", false
		}
		return "iptables-legacy tables loaded (" + strings.Join(names, ", ") + "): the kernel does not announce their changes, so they are polled", true
	}
	return source{Source: &pollSource{what: "iptables-legacy rules", collectors: cols, check: check, minPoll: MinPoll,
		next: every(opts.LegacyEvery, DefaultLegacyEvery)}, collectors: cols}, nil
}

// newSysctlPoll polls the live kernel parameters wherever the collector
// reads them: sysctl -w, and daemons that set them (dockerd turns on
// ip_forward), announce nothing. Their configuration files are inotify's.
func newSysctlPoll(ctx context.Context, opts *Options) (source, error) {
	cols := only(opts.Collectors, []string{snapshot.CollectorSysctl})
	if len(cols) == 0 || !sysctl.Live(opts.Env.FS()) {
		return source{}, nil
	}
	return source{Source: &pollSource{what: "live kernel parameters", collectors: cols, minPoll: MinPoll,
		next: every(opts.LegacyEvery, DefaultLegacyEvery)}, collectors: cols}, nil
}

func newDNSPoll(ctx context.Context, opts *Options) (source, error) {
	cols := only(opts.Collectors, []string{snapshot.CollectorDNS})
	if opts.DNSNext == nil || len(cols) == 0 {
		return source{}, nil
	}
	return source{Source: &pollSource{what: "DNS answers (TTL ran out)", collectors: cols, minPoll: MinPoll,
		next: opts.DNSNext}, collectors: cols}, nil
}

// legacyTables lists the iptables-legacy tables (family-qualified: "filter",
// "ip6 nat") loaded in the network namespace netns (the caller's when
// empty): the kernel lists them in /proc/net/ip_tables_names and
// ip6_tables_names once a legacy table exists there.
func legacyTables(netns string) ([]string, error) {
	var names []string
	err := setns.Run(netns, func() error {
		for _, f := range []struct{ file, prefix string }{{"ip_tables_names", ""}, {"ip6_tables_names", "ip6 "}} {
			b, err := os.ReadFile("/proc/thread-self/net/" + f.file)
			if os.IsNotExist(err) {
				continue // the module is not loaded: no legacy table
			}
			if err != nil {
				return fmt.Errorf("read /proc/net/%s: %w", f.file, err)
			}
			for _, n := range strings.Fields(string(b)) {
				names = append(names, f.prefix+n)
			}
		}
		return nil
	})
	return names, err
}
