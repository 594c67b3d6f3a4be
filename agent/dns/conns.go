package dns

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// udpConns keeps the UDP sockets of one collector run, connected to each
// server, for the next query to the same server: a socket, a connect and a
// close per query were most of the collector's CPU (on 200 queries to
// dnsmasq, 40% against 15% for the writes and reads that are the work). A
// socket is used by one query at a time, so there are at most as many per
// server as queries in flight. A socket on which anything went wrong (a
// timeout, a refusal) is closed, never reused: a late answer or a pending
// ICMP error can then never reach another query.
type udpConns struct {
	mu   sync.Mutex
	idle map[string][]*mdns.Conn
	done bool
}

// get returns an idle socket connected to srv, or a new one.
func (p *udpConns) get(ctx context.Context, srv string, timeout time.Duration) (*mdns.Conn, error) {
	if p != nil {
		p.mu.Lock()
		if n := len(p.idle[srv]); n > 0 {
			co := p.idle[srv][n-1]
			p.idle[srv] = p.idle[srv][:n-1]
			p.mu.Unlock()
			return co, nil
		}
		p.mu.Unlock()
	}
	return (&mdns.Client{Net: "udp", Timeout: timeout}).DialContext(ctx, srv)
}

// put gives back a socket whose query went well.
func (p *udpConns) put(srv string, co *mdns.Conn) {
	if p != nil {
		p.mu.Lock()
		if !p.done {
			if p.idle == nil {
				p.idle = map[string][]*mdns.Conn{}
			}
			p.idle[srv] = append(p.idle[srv], co)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
	co.Close()
}

// close closes the idle sockets; sockets given back later are closed then.
func (p *udpConns) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = true
	for _, cs := range p.idle {
		for _, co := range cs {
			co.Close()
		}
	}
	p.idle = nil
}

// errMismatch is an answer to another question than the one asked.
var errMismatch = errors.New("answer to another question")

// exchangeUDP sends m on co and reads until the answer to m comes, within
// timeout and ctx's deadline: a datagram with another ID or question (a
// duplicate, a stray) is skipped, as miekg's client skips other IDs.
func exchangeUDP(ctx context.Context, co *mdns.Conn, m *mdns.Msg, timeout time.Duration) (*mdns.Msg, error) {
	if opt := m.IsEdns0(); opt != nil && opt.UDPSize() >= mdns.MinMsgSize {
		co.UDPSize = opt.UDPSize()
	}
	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	co.SetDeadline(deadline)
	if err := co.WriteMsg(m); err != nil {
		return nil, err
	}
	for {
		r, err := co.ReadMsg()
		if err != nil {
			return nil, err
		}
		if r.Id == m.Id && sameQuestion(r, m) {
			return r, nil
		}
	}
}

// sameQuestion reports whether r answers m's question; an answer without a
// question section (some servers' errors) is taken on its ID alone.
func sameQuestion(r, m *mdns.Msg) bool {
	if len(r.Question) == 0 {
		return true
	}
	if len(r.Question) != 1 || len(m.Question) != 1 {
		return false
	}
	a, b := r.Question[0], m.Question[0]
	return a.Qtype == b.Qtype && a.Qclass == b.Qclass && strings.EqualFold(a.Name, b.Name)
}
