package dns

import (
	"context"
	crand "crypto/rand"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"syscall"

	mdns "github.com/miekg/dns"
)

// udpMux keeps one UDP socket per server for a collector run, connected to
// it, and carries every query in flight to that server on it at once: each
// query waits for the datagram with its ID and its question, which one
// reader per socket hands over. A socket per query (or per query in flight)
// was most of the collector's CPU: opening, connecting and closing it, and
// a read and a wake-up per socket. Answers are matched on ID and question,
// so a late answer to a query that gave up, a duplicate or a stray reaches
// no other query: nobody waits for it and it is dropped.
type udpMux struct {
	mu    sync.Mutex
	socks map[string]*udpSock
	done  bool
}

// udpSock is one server's socket and the queries waiting on it, by ID.
type udpSock struct {
	conn    *net.UDPConn
	mu      sync.Mutex
	waiting map[uint16]*waiter
	closed  error // why the socket stopped; nil while it works
	// ids draws the query IDs, which no one off the path may guess: a
	// cryptographically strong generator seeded from crypto/rand once,
	// rather than miekg's crypto/rand read (a system call) per query, a
	// sixth of the collector's CPU.
	ids *rand.ChaCha8
}

// waiter is one query in flight: its question and where its answer goes.
type waiter struct {
	q     mdns.Question
	reply chan reply // buffered: the reader never blocks on a waiter
}

// reply is the datagram that answers a query, or the error that ends it.
type reply struct {
	msg *mdns.Msg
	err error
}

// sock returns srv's socket, connecting one on first use.
func (p *udpMux) sock(ctx context.Context, srv string) (*udpSock, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return nil, errors.New("the collector's run is over")
	}
	if s := p.socks[srv]; s != nil {
		return s, nil
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", srv)
	if err != nil {
		return nil, err
	}
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		c.Close()
		return nil, err
	}
	s := &udpSock{conn: c.(*net.UDPConn), waiting: map[uint16]*waiter{}, ids: rand.NewChaCha8(seed)}
	if p.socks == nil {
		p.socks = map[string]*udpSock{}
	}
	p.socks[srv] = s
	go s.read(func() { p.drop(srv, s) })
	return s, nil
}

// drop forgets a socket that stopped, so that the next query opens another.
func (p *udpMux) drop(srv string, s *udpSock) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.socks[srv] == s {
		delete(p.socks, srv)
	}
}

// close closes every socket; the queries still waiting on one get an error.
func (p *udpMux) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = true
	for _, s := range p.socks {
		s.conn.Close()
	}
	p.socks = nil
}

// exchange sends m on the socket and waits for its answer until ctx is
// done. m's ID is chosen here, unique among the queries waiting on it.
func (s *udpSock) exchange(ctx context.Context, m *mdns.Msg) (*mdns.Msg, error) {
	w := &waiter{q: m.Question[0], reply: make(chan reply, 1)}
	s.mu.Lock()
	if s.closed != nil {
		s.mu.Unlock()
		return nil, s.closed
	}
	m.Id = uint16(s.ids.Uint64())
	for s.waiting[m.Id] != nil {
		m.Id = uint16(s.ids.Uint64())
	}
	s.waiting[m.Id] = w
	s.mu.Unlock()
	defer s.forget(m.Id, w)

	out, err := m.Pack()
	if err != nil {
		return nil, err
	}
	if _, err := s.conn.Write(out); err != nil {
		// A pending ICMP error (a refusal) is reported by whichever call
		// comes first; it is the server's, so every query waiting hears it.
		s.fail(err)
		return nil, err
	}
	select {
	case r := <-w.reply:
		return r.msg, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// forget removes w once its query is over, answered or not.
func (s *udpSock) forget(id uint16, w *waiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiting[id] == w {
		delete(s.waiting, id)
	}
}

// fail ends every query waiting on the socket with err.
func (s *udpSock) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, w := range s.waiting {
		w.reply <- reply{err: err}
		delete(s.waiting, id)
	}
}

// maxDatagram is the largest UDP payload: a datagram is read whole, never
// cut at the EDNS size asked for.
const maxDatagram = 65535

// read hands each datagram to the query it answers until the socket is
// closed. An error the socket reports (an ICMP refusal or unreachable) ends
// every query waiting; any other read error stops the socket, and stopped
// is called so that no new query uses it.
func (s *udpSock) read(stopped func()) {
	buf := make([]byte, maxDatagram)
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			var errno syscall.Errno
			if errors.As(err, &errno) && !errors.Is(err, net.ErrClosed) {
				s.fail(err)
				continue
			}
			s.mu.Lock()
			s.closed = err
			s.mu.Unlock()
			stopped()
			s.fail(err)
			s.conn.Close()
			return
		}
		s.deliver(buf[:n])
	}
}

// deliver hands a datagram to the query waiting with its ID and question;
// one that answers nobody is dropped. A datagram that does not unpack goes,
// with its error, to the query with its ID when the question is the query's
// or could not be read.
func (s *udpSock) deliver(p []byte) {
	if len(p) < 2 {
		return
	}
	m := new(mdns.Msg)
	err := m.Unpack(p)
	id := uint16(p[0])<<8 | uint16(p[1])
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.waiting[id]
	if w == nil || !sameQuestion(m, w.q) {
		return
	}
	delete(s.waiting, id)
	w.reply <- reply{msg: m, err: err}
}

// sameQuestion reports whether r answers question q; an answer without a
// question section (some servers' errors) is taken on its ID alone.
func sameQuestion(r *mdns.Msg, q mdns.Question) bool {
	if len(r.Question) == 0 {
		return true
	}
	if len(r.Question) != 1 {
		return false
	}
	a := r.Question[0]
	return a.Qtype == q.Qtype && a.Qclass == q.Qclass && strings.EqualFold(a.Name, q.Name)
}
