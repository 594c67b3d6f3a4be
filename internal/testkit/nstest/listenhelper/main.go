// Command hd-listen is the helper that nstest starts inside a test network
// namespace: it opens the sockets named by its arguments, prints "ready" and
// holds them until it is killed or its standard input closes.
//
// Each argument is KIND:ADDRESS:PORT[:N], ADDRESS in brackets for IPv6:
//
//	tcp4, tcp6        TCP listener (tcp6 sets IPV6_V6ONLY=1); N is the backlog
//	dual, v6only      IPv6 TCP listener with IPV6_V6ONLY=0 or 1
//	udp4, udp6        bound UDP socket (udp6 sets IPV6_V6ONLY=1)
//	stall             TCP listener with backlog N that never accepts, its
//	                  accept queue filled with N+1 connections
//	queue             TCP listener with backlog 5 that never accepts, with N
//	                  connections waiting in its accept queue (N < 5: the
//	                  queue is not full)
//	accept            TCP listener that accepts; three connections are made
//	                  and accepted before ready
//	many              N TCP listeners on consecutive ports from PORT
//	serve             like many, but every connection is accepted and closed
//	                  at once (one epoll loop), as a server would
//	conns             N established TCP connections, both ends held: to
//	                  ceil(N/5000) listeners on consecutive ports from PORT
//	                  (at most 5,000 on one)
//
// On failure it prints the reason on standard error and exits with status 1.
package main

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// defaultBacklog is the listen backlog when the spec gives none.
const defaultBacklog = 128

type spec struct {
	kind string
	ap   netip.AddrPort
	n    int // backlog, or count for many; 0 when not given
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "hd-listen:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	eof := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	select {
	case <-sig:
	case <-eof:
	}
}

func run(args []string) error {
	specs := make([]spec, 0, len(args))
	fds := 64
	for _, a := range args {
		s, err := parse(a)
		if err != nil {
			return err
		}
		specs = append(specs, s)
		fds += max(s.n, 1) + 4
		if s.kind == "conns" {
			fds += s.n + s.n/connsPerListener + 1 // both ends, and the listeners
		}
	}
	if err := raiseNoFile(uint64(fds)); err != nil {
		return err
	}
	for _, s := range specs {
		if err := open(s); err != nil {
			return fmt.Errorf("%s:%s: %w", s.kind, s.ap, err)
		}
	}
	return nil
}

// parse reads KIND:ADDRESS:PORT[:N].
func parse(a string) (spec, error) {
	kind, rest, ok := strings.Cut(a, ":")
	if !ok {
		return spec{}, fmt.Errorf("spec %q: want KIND:ADDRESS:PORT[:N]", a)
	}
	s := spec{kind: kind}
	ap, err := netip.ParseAddrPort(rest)
	if err != nil {
		i := strings.LastIndexByte(rest, ':')
		if i < 0 {
			return spec{}, fmt.Errorf("spec %q: %w", a, err)
		}
		if ap, err = netip.ParseAddrPort(rest[:i]); err != nil {
			return spec{}, fmt.Errorf("spec %q: %w", a, err)
		}
		if s.n, err = strconv.Atoi(rest[i+1:]); err != nil || s.n <= 0 {
			return spec{}, fmt.Errorf("spec %q: %q is not a positive number", a, rest[i+1:])
		}
	}
	s.ap = ap
	switch kind {
	case "tcp4", "udp4":
		if !ap.Addr().Is4() {
			return spec{}, fmt.Errorf("spec %q: %s wants an IPv4 address", a, kind)
		}
	case "tcp6", "udp6", "dual", "v6only":
		if !ap.Addr().Is6() {
			return spec{}, fmt.Errorf("spec %q: %s wants an IPv6 address", a, kind)
		}
	case "stall", "many", "serve", "conns", "queue":
		if s.n == 0 {
			return spec{}, fmt.Errorf("spec %q: %s needs :N at the end", a, kind)
		}
	case "accept":
	default:
		return spec{}, fmt.Errorf("spec %q: unknown kind %q (want tcp4, tcp6, dual, v6only, udp4, udp6, stall, queue, accept, many, serve, conns)", a, kind)
	}
	return s, nil
}

func raiseNoFile(n uint64) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur >= n {
		return nil
	}
	hard := lim.Max
	lim.Cur = n
	if lim.Max < n {
		lim.Max = n
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE to %d: %w (the hard limit is %d and only CAP_SYS_RESOURCE raises it: spread the sockets over several helpers)", n, err, hard)
	}
	return nil
}

func open(s spec) error {
	backlog := s.n
	if backlog == 0 {
		backlog = defaultBacklog
	}
	switch s.kind {
	case "tcp4", "tcp6", "dual", "v6only":
		_, err := listen(s.ap, unix.SOCK_STREAM, s.kind != "dual", backlog)
		return err
	case "udp4", "udp6":
		_, err := listen(s.ap, unix.SOCK_DGRAM, true, 0)
		return err
	case "stall":
		fd, err := listen(s.ap, unix.SOCK_STREAM, true, backlog)
		if err != nil {
			return err
		}
		// Linux queues backlog+1 connections before it refuses more.
		for range backlog + 1 {
			if _, err := dial(s.ap); err != nil {
				return err
			}
		}
		return waitQueue(fd, func(q int) bool { return q >= backlog+1 })
	case "queue":
		const queueBacklog = 5
		if s.n >= queueBacklog {
			return fmt.Errorf("queue: %d connections would fill the backlog of %d", s.n, queueBacklog)
		}
		fd, err := listen(s.ap, unix.SOCK_STREAM, true, queueBacklog)
		if err != nil {
			return err
		}
		for range s.n {
			if _, err := dial(s.ap); err != nil {
				return err
			}
		}
		return waitQueue(fd, func(q int) bool { return q >= s.n })
	case "accept":
		fd, err := listen(s.ap, unix.SOCK_STREAM, true, backlog)
		if err != nil {
			return err
		}
		go func() {
			for {
				if _, _, err := unix.Accept(fd); err != nil && err != unix.EINTR {
					return
				}
			}
		}()
		for range 3 {
			if _, err := dial(s.ap); err != nil {
				return err
			}
		}
		return waitQueue(fd, func(q int) bool { return q == 0 })
	case "many", "serve":
		fds := make([]int, 0, s.n)
		for i := range s.n {
			port := int(s.ap.Port()) + i
			if port > 65535 {
				return fmt.Errorf("port %d out of range", port)
			}
			fd, err := listen(netip.AddrPortFrom(s.ap.Addr(), uint16(port)), unix.SOCK_STREAM, true, backlog)
			if err != nil {
				return err
			}
			fds = append(fds, fd)
		}
		if s.kind == "serve" {
			return serve(fds)
		}
		return nil
	case "conns":
		return conns(s.ap, s.n)
	}
	return fmt.Errorf("unknown kind %q", s.kind)
}

// serve accepts and closes every connection to the listeners fds, in one
// epoll loop on a goroutine of its own.
func serve(fds []int) error {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	for _, fd := range fds {
		if err := unix.SetNonblock(fd, true); err != nil {
			return fmt.Errorf("nonblock: %w", err)
		}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			return fmt.Errorf("epoll add: %w", err)
		}
	}
	go func() {
		events := make([]unix.EpollEvent, 256)
		for {
			n, err := unix.EpollWait(ep, events, -1)
			if err != nil && err != unix.EINTR {
				return
			}
			for _, ev := range events[:max(n, 0)] {
				for {
					c, _, err := unix.Accept(int(ev.Fd))
					if err != nil {
						break
					}
					unix.Close(c)
				}
			}
		}
	}()
	return nil
}

// connsPerListener bounds the connections to one listener: each takes an
// ephemeral port of the client's address, of which Linux has 28,232 by
// default, and one accepting goroutine keeps up with 5,000 easily.
const connsPerListener = 5000

// conns opens n established connections to listeners on consecutive ports
// from ap's, and holds both ends. Clients connect blocking, one at a time;
// one goroutine per listener accepts.
func conns(ap netip.AddrPort, n int) error {
	accepted := make(chan error, n/connsPerListener+1)
	for first := 0; first < n; first += connsPerListener {
		count := min(connsPerListener, n-first)
		port := int(ap.Port()) + first/connsPerListener
		if port > 65535 {
			return fmt.Errorf("port %d out of range", port)
		}
		lap := netip.AddrPortFrom(ap.Addr(), uint16(port))
		fd, err := listen(lap, unix.SOCK_STREAM, true, 4096)
		if err != nil {
			return err
		}
		go func() {
			for got := 0; got < count; {
				if _, _, err := unix.Accept(fd); err != nil {
					if err == unix.EINTR {
						continue
					}
					accepted <- fmt.Errorf("accept on %s: %w", lap, err)
					return
				}
				got++
			}
			accepted <- nil
		}()
		family, sa := sockaddr(lap)
		for range count {
			c, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("socket: %w", err)
			}
			for {
				err = unix.Connect(c, sa)
				if err != unix.EINTR {
					break
				}
			}
			if err != nil {
				return fmt.Errorf("connect to %s: %w", lap, err)
			}
		}
	}
	for first := 0; first < n; first += connsPerListener {
		if err := <-accepted; err != nil {
			return err
		}
	}
	return nil
}

// listen opens a socket bound to ap; for IPv6 v6only sets IPV6_V6ONLY. A
// backlog of 0 means no listen (UDP).
func listen(ap netip.AddrPort, typ int, v6only bool, backlog int) (int, error) {
	family, sa := sockaddr(ap)
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return -1, fmt.Errorf("SO_REUSEADDR: %w", err)
	}
	if family == unix.AF_INET6 {
		v := 0
		if v6only {
			v = 1
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v); err != nil {
			return -1, fmt.Errorf("IPV6_V6ONLY: %w", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return -1, fmt.Errorf("bind: %w", err)
	}
	if backlog > 0 {
		if err := unix.Listen(fd, backlog); err != nil {
			return -1, fmt.Errorf("listen: %w", err)
		}
	}
	return fd, nil
}

// dial connects a TCP client to ap and keeps it open; it gives up after a
// few seconds instead of waiting for the kernel's SYN retries.
func dial(ap netip.AddrPort) (int, error) {
	family, sa := sockaddr(ap)
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if err := unix.Connect(fd, sa); err != nil && err != unix.EINPROGRESS {
		return -1, fmt.Errorf("connect: %w", err)
	}
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	for {
		n, err := unix.Poll(pfd, 5000)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("poll: %w", err)
		}
		if n == 0 {
			return -1, fmt.Errorf("connect to %s: timed out", ap)
		}
		break
	}
	if soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || soerr != 0 {
		return -1, fmt.Errorf("connect to %s: %v", ap, syscall.Errno(soerr))
	}
	return fd, nil
}

// waitQueue waits until the listener's accept queue length satisfies ok; the
// kernel reports it in tcpi_unacked for listeners.
func waitQueue(fd int, ok func(int) bool) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			return fmt.Errorf("TCP_INFO: %w", err)
		}
		if ok(int(info.Unacked)) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("accept queue holds %d connections, not what was expected", info.Unacked)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func sockaddr(ap netip.AddrPort) (int, unix.Sockaddr) {
	if ap.Addr().Is4() {
		return unix.AF_INET, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	return unix.AF_INET6, &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
}
