package rules

import "github.com/hostdrift/hostdrift/internal/snapshot"

// socketIndex is the listeners section's sockets grouped by protocol and
// port, in the section's order. One Plan.Evaluate builds it when a check
// first asks and drops it when it returns: it lives no longer than the
// evaluation, so a section replaced between evaluations (hostdrift serve's
// CopyReading) or changed in place can never be answered from an old index.
type socketIndex struct {
	of     *snapshot.Listeners
	n      int // len(of.Sockets) when built
	byPort map[portKey][]snapshot.Socket
}

type portKey struct {
	protocol string
	port     uint16
}

// evalState is what one evaluation of a plan shares among its checks.
type evalState struct {
	sockets socketIndex
}

// stateEvaluator is implemented by checks that use the evaluation's shared
// state; Plan.Evaluate calls evaluateWith instead of Evaluate. Evaluate
// must give the same result (it is evaluateWith with no shared state).
type stateEvaluator interface {
	evaluateWith(s *snapshot.Snapshot, st *evalState) Result
}

// socketsOn returns l's sockets of protocol on port, in the section's
// order. The result is shared: append to it only through a copy (its
// capacity is its length, so append copies). With st nil it scans l.
func (st *evalState) socketsOn(l *snapshot.Listeners, protocol string, port uint16) []snapshot.Socket {
	if l == nil {
		return nil
	}
	if st == nil {
		return scanSockets(l, protocol, port)
	}
	ix := &st.sockets
	if ix.of != l || ix.n != len(l.Sockets) {
		ix.build(l)
	}
	s := ix.byPort[portKey{protocol, port}]
	return s[:len(s):len(s)]
}

func (ix *socketIndex) build(l *snapshot.Listeners) {
	ix.of, ix.n = l, len(l.Sockets)
	ix.byPort = make(map[portKey][]snapshot.Socket, len(l.Sockets))
	for _, sock := range l.Sockets {
		k := portKey{sock.Protocol, sock.Port}
		ix.byPort[k] = append(ix.byPort[k], sock)
	}
}

// scanSockets is socketsOn without an index: one pass over every socket.
func scanSockets(l *snapshot.Listeners, protocol string, port uint16) []snapshot.Socket {
	var out []snapshot.Socket
	for _, sock := range l.Sockets {
		if sock.Protocol == protocol && sock.Port == port {
			out = append(out, sock)
		}
	}
	return out[:len(out):len(out)]
}
