// Package probe is the collector that connects to endpoints: the HTTP, TLS and
// TCP probes a policy declares, and one connect to every TCP listener when the
// policy asks for it. It is the only part of hostdrift that opens connections.
package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/agent/listeners"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Concurrency bounds how many probes are in flight at once.
const Concurrency = 16

// DefaultTimeout bounds one probe when the policy gives no timeout.
const DefaultTimeout = 3 * time.Second

func init() {
	agent.Register(snapshot.CollectorProbes, func() agent.Collector { return &Collector{} }, snapshot.CollectorListeners)
}

// DependsOn declares that a probe's outcome holds only with the ruleset it
// met: a connection goes through the firewall.
func (c *Collector) DependsOn() []string { return []string{snapshot.CollectorFirewall} }

// Collector runs the probes the policy wants. Every probe is bounded by its
// timeout, made once (never retried) and sends nothing but what it
// describes: a connect, a TLS ClientHello, one HTTP request.
type Collector struct {
	// Resolver resolves names; nil means the system resolver (in Env.NetNS
	// when set). Tests point it at a DNS server of theirs.
	Resolver *net.Resolver
	// Listeners reads the listeners to probe; nil means the listeners
	// collector, in the same environment.
	Listeners func(ctx context.Context, env *agent.Env) (*snapshot.Listeners, error)
}

// Collect runs every wanted probe, at most Concurrency at a time, and records
// each outcome as data: a refused or timed-out probe is a result, not an
// error of the collector. Probes the deadline leaves no time for are recorded
// as not run, and the data is then partial.
func (c *Collector) Collect(ctx context.Context, env *agent.Env) (snapshot.Section, error) {
	w := env.Wants.Probes
	out := &snapshot.Probes{Results: []snapshot.ProbeResult{}}
	if len(w.Targets) == 0 && w.Listeners == nil {
		return out, nil
	}
	r, err := newRunner(env.NetNS, c.Resolver)
	if err != nil {
		return nil, err
	}
	defer r.close()

	var jobs []*snapshot.ProbeResult
	listenerJob := map[*snapshot.ProbeResult]bool{}
	seen := map[snapshot.ProbeTarget]bool{}
	for _, t := range w.Targets {
		if !seen[t] {
			seen[t] = true
			out.Results = append(out.Results, snapshot.ProbeResult{Target: t})
		}
	}
	for i := range out.Results {
		jobs = append(jobs, &out.Results[i])
	}
	if w.Listeners != nil {
		out.Listeners = []snapshot.ProbeResult{}
		out.ListenersTLSOnly = !w.Listeners.Every
		ls, err := c.readListeners(ctx, env)
		switch {
		case ls == nil && err != nil:
			out.ListenersError = err.Error()
		default:
			out.Listeners = listenerProbes(ls, w.Listeners)
			for i := range out.Listeners {
				jobs = append(jobs, &out.Listeners[i])
				listenerJob[&out.Listeners[i]] = true
			}
		}
	}

	sem := make(chan struct{}, Concurrency)
	var wg sync.WaitGroup
	notRun := 0
	for _, j := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			j.Failure, j.Error = snapshot.ProbeNotRun, "not run: the collector's deadline passed first"
			notRun++
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if listenerJob[j] {
				r.probeListener(ctx, j)
			} else {
				r.probe(ctx, j)
			}
		}()
	}
	wg.Wait()
	if notRun > 0 {
		return out, agent.Partial("%d of %d probes did not run before the collector's deadline (raise it with --collector-timeout)", notRun, len(jobs))
	}
	if out.ListenersError != "" {
		return out, agent.Partial("the listeners to probe could not be read: %s", out.ListenersError)
	}
	return out, nil
}

func (c *Collector) readListeners(ctx context.Context, env *agent.Env) (*snapshot.Listeners, error) {
	if c.Listeners != nil {
		return c.Listeners(ctx, env)
	}
	if e := env.Earlier; e != nil && e.Listeners != nil {
		if st, ok := e.Collector(snapshot.CollectorListeners); ok && st.Usable() {
			return e.Listeners, nil // read once, by the listeners collector in this run
		}
	}
	sec, err := (&listeners.Collector{}).Collect(ctx, env)
	l, _ := sec.(*snapshot.Listeners)
	if l == nil && err == nil {
		err = errors.New("the listeners collector returned nothing")
	}
	return l, err
}

// listenerProbes derives one connect per TCP listening endpoint (only those
// on a TLS port unless lp.Every asks for all): a listener
// on the unspecified address is reached through loopback, others on their
// own address; link-local listeners are left out (they need an interface
// zone and are neither loopback nor public). Sockets sharing an endpoint
// (SO_REUSEPORT) are probed once.
func listenerProbes(l *snapshot.Listeners, lp *snapshot.ListenerProbes) []snapshot.ProbeResult {
	timeout := lp.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	out := []snapshot.ProbeResult{}
	seen := map[netip.AddrPort]bool{}
	for _, s := range l.Sockets {
		if s.Protocol != "tcp" || (!lp.Every && !slices.Contains(lp.TLSPorts, s.Port)) {
			continue
		}
		a := s.Address.Unmap()
		switch {
		case a.IsLinkLocalUnicast() || a.IsMulticast():
			continue
		case a.IsUnspecified() && s.Family == snapshot.IPv4:
			a = netip.MustParseAddr("127.0.0.1")
		case a.IsUnspecified():
			a = netip.IPv6Loopback()
		}
		ap := netip.AddrPortFrom(a, s.Port)
		if seen[ap] {
			continue
		}
		seen[ap] = true
		sock := s
		out = append(out, snapshot.ProbeResult{
			Target: snapshot.ProbeTarget{
				TCP:       ap.String(),
				TLS:       slices.Contains(lp.TLSPorts, s.Port),
				TimeoutMS: int(timeout / time.Millisecond),
			},
			Socket: &sock,
		})
	}
	return out
}

// probeListener probes one listener. A connect that cannot be made from
// here (no usable local address or route of the family) is no evidence
// about the listener: a dual-stack socket is then probed over IPv4, and
// any other is recorded as not possible, with the reason.
func (r *runner) probeListener(ctx context.Context, res *snapshot.ProbeResult) {
	err := r.probe(ctx, res)
	if err == nil || res.Connected || !notFromHere(err) {
		return
	}
	why := fmt.Sprintf("connect to %s failed: %v", res.Target.TCP, errnoOf(err))
	sock := res.Socket
	ap, perr := netip.ParseAddrPort(res.Target.TCP)
	if sock != nil && sock.DualStack() && perr == nil && ap.Addr().Is6() {
		v4 := snapshot.ProbeResult{Target: res.Target, Socket: sock}
		v4.Target.TCP = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), ap.Port()).String()
		r.probe(ctx, &v4)
		v4.Target = res.Target // the probe's identity stays its target
		v4.Fallback = fmt.Sprintf("IPv6 is unusable here (%s): the dual-stack socket was probed over IPv4", why)
		*res = v4
		return
	}
	res.Failure, res.Error = snapshot.ProbeNotPossible, why
}

// notFromHere reports whether a connect failed because this host cannot
// make it (no local address of the family, the family unsupported, no
// route), rather than because of the target.
func notFromHere(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) ||
		errors.Is(err, syscall.ENETUNREACH)
}

// errnoOf returns the system error inside err, or err itself.
func errnoOf(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// classify names why a connection attempt or exchange failed.
func classify(err error) string {
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.As(err, &dnsErr):
		return snapshot.ProbeResolve
	case errors.Is(err, syscall.ECONNREFUSED):
		return snapshot.ProbeRefused
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return snapshot.ProbeTimeout
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.EADDRNOTAVAIL):
		return snapshot.ProbeUnreachable
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return snapshot.ProbeReset
	default:
		return snapshot.ProbeOther
	}
}

func fail(r *snapshot.ProbeResult, kind string, err error) {
	r.Failure = kind
	r.Error = err.Error()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// timeoutOf returns the probe's timeout.
func timeoutOf(t snapshot.ProbeTarget) time.Duration {
	if t.TimeoutMS <= 0 {
		return DefaultTimeout
	}
	return time.Duration(t.TimeoutMS) * time.Millisecond
}

// timeoutError is recorded when the probe's own timeout ran out.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return false }

func errTimeout(d time.Duration, what string) error {
	return &timeoutError{fmt.Sprintf("%s: no answer within %s", what, d)}
}
