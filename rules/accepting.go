package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// DefaultStalledAfter is how long a connection may wait unaccepted in a
// listener's queue before accepting judges that nobody calls accept.
const DefaultStalledAfter = 10 * time.Second

func init() {
	Register(&Kind{
		Name:    "accepting",
		Summary: "every TCP listener (optionally on one port or address scope) takes its connections: none has a full accept queue, nor a connection waiting in it longer than stalled_after (10s)",
		Attributes: []hcl.AttributeSchema{
			{Name: "port"},
			{Name: "address"},
			{Name: "stalled_after"},
		},
		AttributeDocs: map[string]string{
			"port":          "only the listener on this port (default: every TCP listener)",
			"address":       "which listeners: any (default), loopback, public (every address but loopback) or one IP address",
			"stalled_after": "how long a connection may wait unaccepted in a listener's queue before the owner counts as stalled (default \"10s\", at least 1s)",
		},
		Needs:  []string{snapshot.CollectorListeners},
		Decode: decodeAccepting,
	})
}

// acceptingCheck: no TCP listener in scope has stopped accepting. A socket
// that stays open while its owner no longer accepts passes every "is it
// listening" test; what gives it away is its accept queue: full, or holding
// a connection for longer than stalledAfter. The queue is first in, first
// out, so while its oldest connection waits, nothing was accepted.
type acceptingCheck struct {
	port         uint16
	scope        addressScope
	stalledAfter time.Duration
}

func decodeAccepting(d *Decoder) Check {
	c := &acceptingCheck{scope: decodeScope(d, "address")}
	if d.Has("port") {
		c.port = d.Port("port")
	}
	c.stalledAfter = d.Duration("stalled_after", DefaultStalledAfter)
	if c.stalledAfter < time.Second {
		d.Errorf("stalled_after", "Invalid stalled_after", "stalled_after must be at least 1s: a healthy server may take a moment to accept.")
	}
	return c
}

// Evaluate judges the check alone, scanning every socket.
func (c *acceptingCheck) Evaluate(s *snapshot.Snapshot) Result { return c.evaluateWith(s, nil) }

// evaluateWith judges the check; one naming a port looks it up in the
// evaluation's socket index when st is not nil.
func (c *acceptingCheck) evaluateWith(s *snapshot.Snapshot, st *evalState) Result {
	scope := "every TCP listener on " + c.scope.String()
	if c.port != 0 {
		scope = fmt.Sprintf("every listener on tcp/%d on %s", c.port, c.scope)
	}
	if s.Listeners.Source == "procfs" {
		return Errorf("cannot tell whether listeners accept: the sockets were read from /proc/net, which does not show the listen backlog (sock_diag was unavailable; run as root with the inet_diag module loaded)")
	}
	var inScope, stalled []snapshot.Socket
	socks := s.Listeners.Sockets
	if c.port != 0 {
		socks = st.socketsOn(s.Listeners, "tcp", c.port)
	}
	for _, sock := range socks {
		if sock.Protocol != "tcp" || (c.port != 0 && sock.Port != c.port) || !c.scope.matches(sock) {
			continue
		}
		inScope = append(inScope, sock)
		if sock.Stalled() || waitedTooLong(sock, c.stalledAfter) {
			stalled = append(stalled, sock)
		}
	}
	r := Result{Expected: fmt.Sprintf("%s accepts connections (none waits longer than %s)", scope, c.stalledAfter)}
	if len(stalled) == 0 {
		r.Status = finding.Pass
		r.Observed = fmt.Sprintf("%d listener(s), none stalled", len(inScope))
		r.Explanation = r.Observed
		return r
	}
	r.Status = finding.Fail
	r.Observed = fmt.Sprintf("%d of %d listener(s) stalled", len(stalled), len(inScope))
	parts := make([]string, len(stalled))
	for i, sock := range stalled {
		parts[i] = notAcceptingText(sock, c.stalledAfter)
	}
	r.Explanation = strings.Join(parts, "; ")
	r.Remediation = stalledRemediation(stalled)
	return r
}

// notAccepting reports whether a TCP listener shows, on its own, that its
// owner stopped calling accept: a full queue, or a connection waiting longer
// than DefaultStalledAfter. Checks other than accepting use it as evidence.
func notAccepting(sock snapshot.Socket) bool {
	return sock.Stalled() || waitedTooLong(sock, DefaultStalledAfter)
}

// waitedTooLong reports whether a connection has waited in the listener's
// accept queue for after or longer.
func waitedTooLong(sock snapshot.Socket, after time.Duration) bool {
	return sock.Queued > 0 && time.Duration(sock.QueuedMS)*time.Millisecond >= after
}

// notAcceptingText says how a listener shows it stopped accepting: "tcp/8443
// on 0.0.0.0: 3 connection(s) waiting to be accepted, the oldest for 42s
// (stalled_after is 10s); owner python3 pid 4121 (web-server.service)".
func notAcceptingText(sock snapshot.Socket, after time.Duration) string {
	if !waitedTooLong(sock, after) {
		return stalledExplanation([]snapshot.Socket{sock})
	}
	waited := (time.Duration(sock.QueuedMS) * time.Millisecond).Truncate(time.Second)
	t := fmt.Sprintf("%s/%d on %s: %d connection(s) waiting to be accepted, the oldest for %s (stalled_after is %s)",
		sock.Protocol, sock.Port, sock.Address, sock.Queued, waited, after)
	if sock.Stalled() {
		t += fmt.Sprintf(", the queue full (%d of %d)", sock.AcceptQueue, sock.Backlog)
	}
	return t + "; " + ownerText(sock)
}

// ownerText names a socket's owner: "owner python3 pid 4121 (web.service)".
func ownerText(sock snapshot.Socket) string {
	p := sock.Process
	if p == nil {
		return "owner unknown"
	}
	t := fmt.Sprintf("owner %s pid %d", p.Name, p.PID)
	if p.Unit != "" {
		t += " (" + p.Unit + ")"
	}
	return t
}

// stalledRemediation is the fix for listeners whose owner stopped calling
// accept, naming the owners when known.
func stalledRemediation(socks []snapshot.Socket) string {
	var owners []string
	for _, sock := range socks {
		if sock.Process != nil {
			o := strings.TrimPrefix(ownerText(sock), "owner ")
			if !slices.Contains(owners, o) {
				owners = append(owners, o)
			}
		}
	}
	who := "the owning process"
	if len(owners) > 0 {
		who = "the owner, " + strings.Join(owners, " and ") + ","
	}
	return who + " stopped calling accept (a dead thread or a deadlock): restart it and find out why it stopped"
}
