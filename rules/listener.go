package rules

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "listener",
		Summary: "a TCP or UDP port is (or is not) served, on which addresses and by which process",
		Attributes: []hcl.AttributeSchema{
			{Name: "port", Required: true},
			{Name: "protocol"},
			{Name: "address"},
			{Name: "process"},
			{Name: "expect"},
		},
		AttributeDocs: map[string]string{
			"port":     "the port",
			"protocol": "tcp (default) or udp",
			"address":  "where it must listen: any (default), loopback, public (every address but loopback) or one IP address",
			"process":  "the process name or program that must own it",
			"expect":   "present (default) or absent",
		},
		Needs:  []string{snapshot.CollectorListeners},
		Decode: decodeListener,
	})
}

// listenerCheck: something listens on protocol/port at the addresses scope,
// owned by process when one is named.
type listenerCheck struct {
	port     uint16
	protocol string
	scope    addressScope
	process  string
	absent   bool
}

func decodeListener(d *Decoder) Check {
	c := &listenerCheck{
		port:     d.Port("port"),
		protocol: d.OneOf("protocol", "tcp", "tcp", "udp"),
		process:  d.String("process", ""),
		absent:   d.OneOf("expect", "present", "present", "absent") == "absent",
	}
	c.scope = decodeScope(d, "address")
	return c
}

// addressScope selects sockets by the addresses they accept traffic on.
type addressScope struct {
	name string     // any | loopback | public | ""
	ip   netip.Addr // a specific address
}

func decodeScope(d *Decoder, attr string) addressScope {
	s := d.String(attr, "any")
	switch s {
	case "any", "loopback", "public":
		return addressScope{name: s}
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		d.Errorf(attr, "Invalid value for "+attr, "%q is neither an IP address nor one of \"any\", \"loopback\", \"public\" (public: any address other machines can reach, i.e. not loopback).", s)
		return addressScope{name: "any"}
	}
	return addressScope{ip: ip}
}

func (a addressScope) String() string {
	if a.ip.IsValid() {
		return a.ip.String()
	}
	if a.name == "any" {
		return "any address"
	}
	return a.name + " addresses"
}

// matches reports whether sock accepts traffic in the scope.
func (a addressScope) matches(sock snapshot.Socket) bool {
	switch {
	case a.ip.IsValid():
		return sock.Accepts(a.ip)
	case a.name == "loopback":
		return sock.Address.IsUnspecified() || sock.Address.Unmap().IsLoopback()
	case a.name == "public":
		return !sock.Address.Unmap().IsLoopback()
	default:
		return true
	}
}

// Evaluate judges the check alone, scanning every socket.
func (c *listenerCheck) Evaluate(s *snapshot.Snapshot) Result { return c.evaluateWith(s, nil) }

// evaluateWith judges the check, looking its port up in the evaluation's
// socket index when st is not nil.
func (c *listenerCheck) evaluateWith(s *snapshot.Snapshot, st *evalState) Result {
	if s.Listeners == nil {
		return Errorf("cannot evaluate: the snapshot has no listeners section although the listeners collector ran")
	}
	want := fmt.Sprintf("%s/%d on %s", c.protocol, c.port, c.scope)
	if c.process != "" {
		want += " by " + c.process
	}
	var onPort, matching []snapshot.Socket
	unowned := 0
	for _, sock := range st.socketsOn(s.Listeners, c.protocol, c.port) {
		if !c.scope.matches(sock) {
			continue
		}
		onPort = append(onPort, sock)
		switch {
		case c.process == "":
			matching = append(matching, sock)
		case sock.Process == nil:
			unowned++
		case ownedBy(sock.Process, c.process):
			matching = append(matching, sock)
		}
	}
	r := Result{Expected: "listening: " + want, Observed: describeSockets(matching)}
	if c.absent {
		r.Expected = "not listening: " + want
	}
	// An owner we could not see might be the named process: only a match
	// decides; without one, the answer is unknown.
	if len(matching) == 0 && unowned > 0 {
		return Errorf("%d socket(s) on %s/%d have no known owner, so whether %s serves it cannot be told: owner unknown: %s",
			unowned, c.protocol, c.port, c.process, s.Listeners.OwnerError)
	}
	if c.absent {
		if len(matching) == 0 {
			r.Status, r.Observed = finding.Pass, "nothing listening"
			r.Explanation = fmt.Sprintf("nothing listens on %s", want)
			return r
		}
		r.Status = finding.Fail
		r.Explanation = fmt.Sprintf("%s listens on %s", describeSockets(matching), reachVia(s, matching))
		r.Remediation = fmt.Sprintf("bind the service to 127.0.0.1 (or a private address) in its configuration, or stop it; if it must stay, firewall %s/%d from the outside", c.protocol, c.port)
		return r
	}
	if len(matching) == 0 {
		r.Status, r.Observed = finding.Fail, "nothing listening"
		r.Explanation = fmt.Sprintf("nothing listens on %s", want)
		if len(onPort) > 0 {
			r.Explanation += fmt.Sprintf("; on that port: %s", describeSockets(onPort))
		}
		r.Explanation += "; listening: " + summarizeListeners(s.Listeners, c.protocol)
		return r
	}
	var stalled []snapshot.Socket
	for _, sock := range matching {
		if sock.Stalled() {
			stalled = append(stalled, sock)
		}
	}
	if len(stalled) == len(matching) {
		r.Status = finding.Fail
		r.Explanation = stalledExplanation(stalled)
		r.Remediation = "the owning process stopped calling accept (a dead thread or a deadlock): restart it and find out why it stopped"
		return r
	}
	r.Status = finding.Pass
	r.Explanation = fmt.Sprintf("%s listens", describeSockets(matching))
	return r
}

// ownedBy matches a process by its name, or by the base name of its program.
func ownedBy(p *snapshot.Process, name string) bool {
	if p.Name == name {
		return true
	}
	argv0, _, _ := strings.Cut(p.Cmdline, " ")
	return argv0 == name || strings.HasSuffix(argv0, "/"+name)
}

// endpoint renders address and port as an operator writes them.
func endpoint(a netip.Addr, port uint16) string {
	return netip.AddrPortFrom(a, port).String()
}

// describeSocket renders "0.0.0.0:80 (nginx, pid 812, nginx.service)".
func describeSocket(sock snapshot.Socket) string {
	s := endpoint(sock.Address, sock.Port)
	if sock.DualStack() {
		s += " (dual-stack)"
	}
	if p := sock.Process; p != nil {
		owner := fmt.Sprintf("%s, pid %d", p.Name, p.PID)
		if p.Unit != "" {
			owner += ", " + p.Unit
		}
		if p.ContainerID != "" {
			owner += ", container " + shortID(p.ContainerID)
		}
		s += " (" + owner + ")"
	} else {
		s += " (owner unknown)"
	}
	return s
}

func describeSockets(socks []snapshot.Socket) string {
	if len(socks) == 0 {
		return "none"
	}
	parts := make([]string, len(socks))
	for i, sock := range socks {
		parts[i] = describeSocket(sock)
	}
	return strings.Join(parts, ", ")
}

// summarizeListeners lists what does listen, so a miss shows the neighbourhood.
func summarizeListeners(l *snapshot.Listeners, protocol string) string {
	const max = 8
	var parts []string
	n := 0
	for _, sock := range l.Sockets {
		if sock.Protocol != protocol {
			continue
		}
		n++
		if len(parts) < max {
			parts = append(parts, describeSocket(sock))
		}
	}
	if n == 0 {
		return "no " + protocol + " sockets at all"
	}
	if n > max {
		parts = append(parts, fmt.Sprintf("and %d more", n-max))
	}
	return strings.Join(parts, ", ")
}

// reachVia names the host addresses through which the sockets are reachable.
func reachVia(s *snapshot.Snapshot, socks []snapshot.Socket) string {
	var via []string
	for _, a := range s.Host.UnicastAddresses() {
		for _, sock := range socks {
			if sock.Accepts(a.IP) {
				via = append(via, fmt.Sprintf("%s (%s)", a.IP, a.Interface))
				break
			}
		}
	}
	if len(via) == 0 {
		return "no address other machines can reach at the moment"
	}
	return "public addresses " + strings.Join(via, ", ")
}

func stalledExplanation(socks []snapshot.Socket) string {
	parts := make([]string, len(socks))
	for i, sock := range socks {
		owner := "owner unknown"
		if p := sock.Process; p != nil {
			owner = fmt.Sprintf("owner %s pid %d", p.Name, p.PID)
		}
		parts[i] = fmt.Sprintf("%s/%d on %s is listening but not accepting: %d of %d connections waiting, %s",
			sock.Protocol, sock.Port, sock.Address, sock.AcceptQueue, sock.Backlog, owner)
	}
	return strings.Join(parts, "; ")
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// listenersAt says what listens on a local address and port, from the
// listeners collector's data when it ran.
func listenersAt(s *snapshot.Snapshot, addr netip.Addr, port uint16) string {
	if s.Listeners == nil {
		return "what listens here is unknown: the listeners collector did not run (any check of kind listener or accepting runs it)"
	}
	var onPort, accepting []snapshot.Socket
	for _, sock := range s.Listeners.Sockets {
		if sock.Protocol != "tcp" || sock.Port != port {
			continue
		}
		onPort = append(onPort, sock)
		if sock.Accepts(addr) {
			accepting = append(accepting, sock)
		}
	}
	if len(accepting) > 0 {
		var stalled []string
		for _, sock := range accepting {
			if notAccepting(sock) {
				stalled = append(stalled, notAcceptingText(sock, DefaultStalledAfter))
			}
		}
		if len(stalled) > 0 {
			return strings.Join(stalled, "; ")
		}
		return fmt.Sprintf("%s listens there (accept queue %d of %d when listed)", describeSockets(accepting), accepting[0].AcceptQueue, accepting[0].Backlog)
	}
	t := fmt.Sprintf("nothing listens on tcp/%d at %s", port, addr)
	if len(onPort) > 0 {
		t += fmt.Sprintf("; on that port: %s", describeSockets(onPort))
	}
	return t + "; listening: " + summarizeListeners(s.Listeners, "tcp")
}

// stalledAt returns the stalled TCP listeners that a connection to addr:port
// on this host reaches: bound to addr itself, or to the unspecified address
// when addr is one of this host's.
func stalledAt(s *snapshot.Snapshot, addr netip.Addr, port uint16) []snapshot.Socket {
	if s.Listeners == nil || !addr.IsValid() {
		return nil
	}
	addr = addr.Unmap()
	var out []snapshot.Socket
	for _, sock := range s.Listeners.Sockets {
		if sock.Protocol != "tcp" || sock.Port != port || !notAccepting(sock) || !sock.Accepts(addr) {
			continue
		}
		if sock.Address.Unmap() == addr || isLocal(s, addr) {
			out = append(out, sock)
		}
	}
	return out
}
