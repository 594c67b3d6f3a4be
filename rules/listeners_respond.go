package rules

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// DefaultTLSPorts are the ports listeners_tls shakes hands on: ports whose
// protocol is TLS from the first byte. Other ports get a bare connect only,
// so a plaintext service never receives a ClientHello it does not expect.
var DefaultTLSPorts = []uint16{443, 465, 636, 853, 993, 995, 6443, 8443}

func init() {
	Register(&Kind{
		Name:    "listeners_respond",
		Summary: "every TCP listener (optionally on one port or address scope) accepts a connection from this host within the timeout",
		Attributes: []hcl.AttributeSchema{
			{Name: "port"},
			{Name: "address"},
			{Name: "timeout"},
		},
		AttributeDocs: map[string]string{
			"port":    "only the listener on this port (default: every TCP listener)",
			"address": "which listeners: any (default), loopback, public or one IP address",
			"timeout": "how long a connection may take (default \"3s\")",
		},
		Needs:  []string{snapshot.CollectorProbes},
		Decode: func(d *Decoder) Check { return decodeListenerProbes(d, false) },
	})
}

// listenerProbesCheck judges the probes the collector derived from the
// listeners it found: every one answers (listeners_respond), or every TLS
// one presents a lasting certificate (listeners_tls).
type listenerProbesCheck struct {
	tls      bool
	port     uint16
	scope    addressScope
	timeout  time.Duration
	tlsPorts []uint16
	minDays  int
}

func decodeListenerProbes(d *Decoder, tls bool) Check {
	c := &listenerProbesCheck{tls: tls, scope: decodeScope(d, "address")}
	if d.Has("port") {
		c.port = d.Port("port")
	}
	c.timeout = d.Duration("timeout", 3*time.Second)
	if c.timeout <= 0 || c.timeout > maxProbeTimeout {
		d.Errorf("timeout", "Invalid timeout", "timeout must be above 0 and at most %s.", maxProbeTimeout)
	}
	if !tls {
		return c
	}
	c.minDays = d.Int("cert_min_days", 14, 0, 3650)
	c.tlsPorts = DefaultTLSPorts
	if d.Has("tls_ports") {
		c.tlsPorts = nil
		for _, s := range d.Strings("tls_ports") {
			var p int
			if _, err := fmt.Sscanf(s, "%d", &p); err != nil || p < 1 || p > 65535 || fmt.Sprint(p) != s {
				d.Errorf("tls_ports", "Invalid port", "%q is not a port number (1 to 65535).", s)
				continue
			}
			c.tlsPorts = append(c.tlsPorts, uint16(p))
		}
	}
	return c
}

// Want asks the probes collector for a TLS handshake with every listener on
// a TLS port and, for listeners_respond, a connect to every other listener.
// Several such checks share one pass: the longest timeout and every TLS
// port.
func (c *listenerProbesCheck) Want(w *snapshot.Wants) {
	lp := w.Probes.Listeners
	if lp == nil {
		lp = &snapshot.ListenerProbes{}
		w.Probes.Listeners = lp
	}
	lp.Timeout = max(lp.Timeout, c.timeout)
	// listeners_tls judges only the TLS ports: only listeners_respond
	// needs a connect to every listener.
	lp.Every = lp.Every || !c.tls
	for _, p := range c.tlsPorts {
		if !slices.Contains(lp.TLSPorts, p) {
			lp.TLSPorts = append(lp.TLSPorts, p)
		}
	}
	slices.Sort(lp.TLSPorts)
}

func (c *listenerProbesCheck) scopeText() string {
	s := "every TCP listener on " + c.scope.String()
	if c.port != 0 {
		s = fmt.Sprintf("every listener on tcp/%d on %s", c.port, c.scope)
	}
	return s
}

func (c *listenerProbesCheck) Evaluate(s *snapshot.Snapshot) Result {
	if s.Probes == nil || s.Probes.Listeners == nil {
		if s.Probes != nil && s.Probes.ListenersError != "" {
			return Errorf("the listeners to probe could not be read: %s", s.Probes.ListenersError)
		}
		return Errorf("the listeners were not probed in this snapshot: it was taken with another policy; take it again with this one")
	}
	if !c.tls && s.Probes.ListenersTLSOnly {
		return Errorf("only the listeners on TLS ports were probed in this snapshot: it was taken with a policy without listeners_respond; take it again with this one")
	}
	r := Result{Expected: c.scopeText() + " accepts a connection"}
	if c.tls {
		r.Expected = fmt.Sprintf("%s on a TLS port (%s) presents a certificate valid for at least %d days", c.scopeText(), portList(c.tlsPorts), c.minDays)
	}
	var inScope int
	var problems, hints, notProbed, notes []string
	for i := range s.Probes.Listeners {
		res := &s.Probes.Listeners[i]
		sock := res.Socket
		if sock == nil || (c.port != 0 && sock.Port != c.port) || !c.scope.matches(*sock) {
			continue
		}
		if c.tls && !slices.Contains(c.tlsPorts, sock.Port) {
			continue
		}
		if res.Failure == snapshot.ProbeNotRun {
			return Errorf("%s was not probed: %s", describeSocket(*sock), res.Error)
		}
		if res.Failure == snapshot.ProbeNotPossible {
			// No evidence either way: say so, never count it.
			notProbed = append(notProbed, fmt.Sprintf("%s not probed: %s", describeSocket(*sock), res.Error))
			continue
		}
		inScope++
		if res.Fallback != "" {
			notes = append(notes, fmt.Sprintf("%s probed at %s: %s", describeSocket(*sock), res.Addr, res.Fallback))
		}
		if p, hint := c.judge(s, res); p != "" {
			problems = append(problems, p)
			if hint != "" && !slices.Contains(hints, hint) {
				hints = append(hints, hint)
			}
		}
	}
	if inScope == 0 && len(notProbed) > 0 {
		return Skipf("no listener in scope could be probed from this host: %s", strings.Join(notProbed, "; "))
	}
	notes = append(notes, notProbed...)
	if len(problems) == 0 {
		r.Status = finding.Pass
		r.Observed = fmt.Sprintf("%d listener(s) probed, all answered", inScope)
		if c.tls {
			r.Observed = fmt.Sprintf("%d TLS listener(s) probed, every certificate valid for %d days or more", inScope, c.minDays)
		}
		if len(notProbed) > 0 {
			r.Observed += fmt.Sprintf("; %d not probed", len(notProbed))
		}
		r.Explanation = strings.Join(append([]string{r.Observed}, notes...), "; ")
		return r
	}
	r.Status = finding.Fail
	r.Observed = fmt.Sprintf("%d of %d listener(s) failed", len(problems), inScope)
	if len(notProbed) > 0 {
		r.Observed += fmt.Sprintf("; %d not probed", len(notProbed))
	}
	r.Explanation = strings.Join(append(problems, notes...), "; ")
	r.Remediation = strings.Join(hints, "; ")
	return r
}

// Remediations, each following from one kind of evidence.
const (
	hintNoAccept = "a listener that does not take connections has stopped accepting (a dead thread, a deadlock): restart its owner and find out why"
	hintRefused  = "probe again: a listener that closed meanwhile is gone; one refused again is rejected by a local firewall rule"
	hintNoTLS    = "a listener that accepts but does not complete a TLS handshake either does not serve TLS (drop its port from tls_ports) or has stopped answering (restart its owner)"
	hintRenew    = "renew the certificate (and check that renewal is automated)"
)

// judge returns what is wrong with one listener's probe and the remediation
// that follows from it, or "".
func (c *listenerProbesCheck) judge(s *snapshot.Snapshot, res *snapshot.ProbeResult) (problem, hint string) {
	sock := *res.Socket
	who := describeSocket(sock)
	switch {
	case res.Failure == snapshot.ProbeTimeout && !res.Connected:
		t := fmt.Sprintf("%s did not accept a connection to %s within %s", who, res.Addr, time.Duration(res.Target.TimeoutMS)*time.Millisecond)
		hint := hintNoAccept
		if sock.Stalled() {
			t += fmt.Sprintf(": it is stalled, %d of %d connections waiting in its accept queue", sock.AcceptQueue, sock.Backlog)
			hint = stalledRemediation([]snapshot.Socket{sock})
		}
		return t + firewallNote(s, res), hint
	case res.Failure == snapshot.ProbeTimeout && c.tls && notAccepting(sock):
		// Connected, but the kernel completed the handshake alone: the
		// connection joined others that wait unaccepted.
		return fmt.Sprintf("%s: TLS handshake on %s failed: %s; when listed, %s", who, res.Addr, res.Error, notAcceptingText(sock, DefaultStalledAfter)),
			stalledRemediation([]snapshot.Socket{sock})
	case res.Failure == snapshot.ProbeRefused:
		return fmt.Sprintf("%s refused a connection to %s: it closed between listing and probing, or a firewall rejects it%s", who, res.Addr, firewallNote(s, res)), hintRefused
	case res.Failure != "" && !res.Connected:
		// It did not answer at all: nothing about its certificate is known.
		return fmt.Sprintf("%s did not answer: connect to %s failed: %s", who, res.Addr, res.Error), ""
	case res.Failure != "" && !c.tls:
		return "", "" // it accepted; what came after is not this check's business
	case res.Failure != "":
		return fmt.Sprintf("%s: TLS handshake on %s failed: %s", who, res.Addr, res.Error), hintNoTLS
	case c.tls && (res.TLS == nil || len(res.TLS.Chain) == 0):
		return fmt.Sprintf("%s presented no certificate", who), hintNoTLS
	case c.tls:
		if p := certTooShort(res.TLS.Chain[0], s.TakenAt, c.minDays); p != "" {
			return fmt.Sprintf("%s: %s", who, p), hintRenew
		}
	}
	return "", ""
}

// firewallNote adds the firewall's verdict on the probe's packet, if known.
func firewallNote(s *snapshot.Snapshot, res *snapshot.ProbeResult) string {
	ap, err := netip.ParseAddrPort(res.Addr)
	if err != nil {
		return ""
	}
	if fw := firewallSays(s, ap.Addr(), ap.Port(), false); len(fw) > 0 {
		return " (" + strings.Join(fw, "; ") + ")"
	}
	return ""
}

func portList(ps []uint16) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = fmt.Sprint(p)
	}
	return strings.Join(out, ", ")
}
