package rules

import "github.com/hostdrift/hostdrift/internal/snapshot"

// socketIndex is the listeners section's sockets grouped by protocol and
// port, in the section's order. One Plan.Evaluate builds it when a check
// first asks and drops it when it returns: it lives no longer than the
// evaluation, so a section replaced between evaluations (hostdrift serve's
// CopyReading) or changed in place can never be answered from an old index.
type socketIndex struct {
	of *snapshot.Listeners
	n  int // len(of.Sockets) when built
	// first holds the position in of.Sockets of each key's first socket,
	// and next[i] that of the next socket with socket i's key, or -1.
	first map[portKey]int32
	next  []int32
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
// order, in a slice of the caller's own. With st nil it scans l.
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
	i, ok := ix.first[portKey{protocol, port}]
	if !ok {
		return nil
	}
	var out []snapshot.Socket
	for ; i >= 0; i = ix.next[i] {
		out = append(out, l.Sockets[i])
	}
	return out[:len(out):len(out)]
}

func (ix *socketIndex) build(l *snapshot.Listeners) {
	ix.of, ix.n = l, len(l.Sockets)
	ix.first = make(map[portKey]int32, len(l.Sockets))
	ix.next = make([]int32, len(l.Sockets))
	// Backwards, so that each key's chain runs in the section's order.
	for i := len(l.Sockets) - 1; i >= 0; i-- {
		k := portKey{l.Sockets[i].Protocol, l.Sockets[i].Port}
		ix.next[i] = -1
		if j, ok := ix.first[k]; ok {
			ix.next[i] = j
		}
		ix.first[k] = int32(i)
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
