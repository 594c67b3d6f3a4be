package listeners

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// dumpRetries is how many times an interrupted dump is tried again.
const dumpRetries = 3

// errInterrupted says a dump stayed interrupted after all retries.
var errInterrupted = errors.New("interrupted")

// sockDiagQueries are the dumps that make up the listeners: TCP in LISTEN,
// UDP in any state (connected ones are dropped by the parser).
var sockDiagQueries = []struct {
	protocol string
	req      inetDiagReq
}{
	{"tcp", inetDiagReq{family: afInet, protocol: ipprotoTCP, states: statesListen}},
	{"tcp", inetDiagReq{family: afInet6, protocol: ipprotoTCP, states: statesListen}},
	{"udp", inetDiagReq{family: afInet, protocol: ipprotoUDP, states: statesAll}},
	{"udp", inetDiagReq{family: afInet6, protocol: ipprotoUDP, states: statesAll}},
}

// readSockDiag dumps the sockets through netlink sock_diag, from a socket
// opened in the network namespace at nsPath (the caller's when empty), and
// counts the connections waiting in each TCP listener's accept queue. It
// returns, with the sockets, the reasons the data is incomplete: a dump
// still inconsistent after the retries (the kernel set NLM_F_DUMP_INTR), or
// waiting connections that could not be read.
func readSockDiag(ctx context.Context, nsPath string) (socks []snapshot.Socket, partial []string, err error) {
	s, h, err := openDump(ctx, nsPath)
	if err != nil {
		return nil, nil, err
	}
	defer s.Close()
	socks, interrupted, err := dumpListening(ctx, h)
	if err != nil {
		return nil, nil, err
	}
	if interrupted {
		partial = append(partial, fmt.Sprintf("the kernel interrupted the sock_diag dump %d times in a row (sockets changing fast): some sockets may be missing or listed twice", 1+dumpRetries))
	}
	conns, err := readQueued(ctx, h, socks)
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	if err != nil {
		partial = append(partial, fmt.Sprintf("the connections waiting in accept queues could not be read (%v): a listener that stopped accepting is seen only once its queue is full", err))
	} else {
		attributeQueued(socks, conns)
	}
	return socks, partial, nil
}

// ReadFingerprint takes the fingerprint of the listening sockets in the
// network namespace at nsPath (the caller's when empty) with one sock_diag
// dump of TCP listeners and UDP sockets, v4 and v6: no process is read.
// A dump the kernel keeps interrupting is an error: the set is moving.
func ReadFingerprint(ctx context.Context, nsPath string) (Fingerprint, error) {
	s, h, err := openDump(ctx, nsPath)
	if err != nil {
		return Fingerprint{}, err
	}
	defer s.Close()
	socks, interrupted, err := dumpListening(ctx, h)
	if err != nil {
		return Fingerprint{}, err
	}
	if interrupted {
		return Fingerprint{}, fmt.Errorf("the kernel interrupted the sock_diag dump %d times in a row (sockets changing fast)", 1+dumpRetries)
	}
	return fingerprintOf(socks), nil
}

// openDump opens the sock_diag socket in the namespace at nsPath, with
// send and receive timeouts from ctx's deadline (10s without one), and
// the handle that numbers its requests. The caller closes the socket.
func openDump(ctx context.Context, nsPath string) (*nl.NetlinkSocket, *nl.SocketHandle, error) {
	s, err := openDiag(nsPath)
	if err != nil {
		return nil, nil, err
	}
	timeout := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	if err := s.SetReceiveTimeout(&tv); err != nil {
		s.Close()
		return nil, nil, err
	}
	if err := s.SetSendTimeout(&tv); err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, &nl.SocketHandle{Socket: s}, nil // one sequence of request numbers
}

// dumpListening runs the sockDiagQueries on h. interrupted says a dump
// stayed inconsistent after the retries; its sockets are kept.
func dumpListening(ctx context.Context, h *nl.SocketHandle) (socks []snapshot.Socket, interrupted bool, err error) {
	for _, q := range sockDiagQueries {
		got, err := dumpRetry(func() ([]snapshot.Socket, error) {
			return dump(ctx, h, q.protocol, q.req)
		})
		if errors.Is(err, errInterrupted) {
			interrupted = true
		} else if err != nil {
			return nil, false, fmt.Errorf("dump %s: %w", queryName(q.protocol, q.req.family), err)
		}
		socks = append(socks, got...)
	}
	return socks, interrupted, nil
}

func queryName(protocol string, family uint8) string {
	if family == afInet6 {
		return protocol + "6"
	}
	return protocol + "4"
}

// openDiag opens the sock_diag socket; tests replace it to see the fallback.
var openDiag = openDiagSocket

// openDiagSocket opens a NETLINK_INET_DIAG socket in the namespace at path.
func openDiagSocket(path string) (*nl.NetlinkSocket, error) {
	target := netns.None()
	if path != "" {
		h, err := netns.GetFromPath(path)
		if err != nil {
			return nil, fmt.Errorf("open network namespace %s: %w", path, err)
		}
		defer h.Close()
		target = h
	}
	s, err := nl.GetNetlinkSocketAt(target, netns.None(), unix.NETLINK_INET_DIAG)
	if err != nil {
		return nil, fmt.Errorf("open sock_diag netlink socket: %w", err)
	}
	return s, nil
}

// dumpRetry runs an interruptible dump until it completes consistently, at
// most 1+dumpRetries times. If every attempt was interrupted it returns the
// last attempt's sockets with errInterrupted.
func dumpRetry(dump func() ([]snapshot.Socket, error)) ([]snapshot.Socket, error) {
	var socks []snapshot.Socket
	for range 1 + dumpRetries {
		var err error
		socks, err = dump()
		if !errors.Is(err, nl.ErrDumpInterrupted) {
			return socks, err
		}
	}
	return socks, errInterrupted
}

// dump runs one SOCK_DIAG_BY_FAMILY dump on h and parses its answers. It
// returns nl.ErrDumpInterrupted, with the sockets, when the kernel flagged
// the dump as inconsistent.
func dump(ctx context.Context, h *nl.SocketHandle, protocol string, q inetDiagReq) ([]snapshot.Socket, error) {
	req := nl.NewNetlinkRequest(nl.SOCK_DIAG_BY_FAMILY, unix.NLM_F_DUMP)
	req.AddData(&q)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_INET_DIAG: h}
	var (
		socks    []snapshot.Socket
		parseErr error
		n        int
	)
	err := req.ExecuteIter(unix.NETLINK_INET_DIAG, nl.SOCK_DIAG_BY_FAMILY, func(msg []byte) bool {
		if n++; n%256 == 0 && ctx.Err() != nil {
			parseErr = ctx.Err()
			return false
		}
		sock, keep, err := parseInetDiag(protocol, msg)
		if err != nil {
			parseErr = err
			return false
		}
		if keep {
			socks = append(socks, sock)
		}
		return true
	})
	if parseErr != nil {
		return nil, parseErr
	}
	if err != nil && !errors.Is(err, nl.ErrDumpInterrupted) {
		return nil, err
	}
	return socks, err
}

// readQueued lists the connections waiting in the accept queues of the TCP
// listeners in socks: established sockets on a listener's port that no
// process holds. It then asks the kernel about each for its tcp_info, which
// says how long since it heard from its peer; one that was accepted or
// closed meanwhile is gone and left out.
func readQueued(ctx context.Context, h *nl.SocketHandle, socks []snapshot.Socket) ([]queuedConn, error) {
	ports := map[uint16]bool{}
	for _, s := range socks {
		if s.Protocol == "tcp" {
			ports[s.Port] = true
		}
	}
	if len(ports) == 0 {
		return nil, nil
	}
	var conns []queuedConn
	for _, family := range []uint8{afInet, afInet6} {
		q := inetDiagReq{family: family, protocol: ipprotoTCP, states: statesQueued}
		req := nl.NewNetlinkRequest(nl.SOCK_DIAG_BY_FAMILY, unix.NLM_F_DUMP)
		req.AddData(&q)
		req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_INET_DIAG: h}
		var parseErr error
		n := 0
		err := req.ExecuteIter(unix.NETLINK_INET_DIAG, nl.SOCK_DIAG_BY_FAMILY, func(msg []byte) bool {
			if n++; n%256 == 0 && ctx.Err() != nil {
				parseErr = ctx.Err()
				return false
			}
			c, keep, err := parseQueuedCandidate(msg, ports)
			if err != nil {
				parseErr = err
				return false
			}
			if keep {
				conns = append(conns, c)
			}
			return true
		})
		if parseErr != nil {
			return nil, parseErr
		}
		// An interrupted dump may miss a connection or list one twice:
		// the counts are a sample of a moving queue, nothing more.
		if err != nil && !errors.Is(err, nl.ErrDumpInterrupted) {
			return nil, fmt.Errorf("dump %s: %w", queryName("tcp", family), err)
		}
	}
	for i := range conns {
		if i >= maxQueuedLookups || ctx.Err() != nil {
			break
		}
		c := &conns[i]
		q := inetDiagReq{family: c.family, protocol: ipprotoTCP, ext: 1 << (inetDiagInfo - 1), states: statesQueued, id: c.id}
		req := nl.NewNetlinkRequest(nl.SOCK_DIAG_BY_FAMILY, 0)
		req.AddData(&q)
		req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_INET_DIAG: h}
		msgs, err := req.Execute(unix.NETLINK_INET_DIAG, nl.SOCK_DIAG_BY_FAMILY)
		if errors.Is(err, unix.ENOENT) || (err == nil && len(msgs) == 0) {
			c.port = 0 // accepted or closed meanwhile
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("tcp_info of a waiting connection: %w", err)
		}
		if c.idleMS, c.known, err = parseTCPIdle(msgs[0]); err != nil {
			return nil, err
		}
	}
	return slices.DeleteFunc(conns, func(c queuedConn) bool { return c.port == 0 }), nil
}
