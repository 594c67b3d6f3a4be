package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/setns"
)

// runner makes connections, in a network namespace when one is given.
type runner struct {
	ns       *setns.Handle
	resolver *net.Resolver
}

func newRunner(nsPath string, res *net.Resolver) (*runner, error) {
	r := &runner{resolver: res}
	if nsPath != "" {
		ns, err := setns.Open(nsPath)
		if err != nil {
			return nil, err
		}
		r.ns = ns
	}
	if r.resolver == nil {
		r.resolver = net.DefaultResolver
		if r.ns != nil {
			// The Go resolver, so that its queries leave from the namespace.
			r.resolver = &net.Resolver{PreferGo: true, Dial: r.dialOne}
		}
	}
	return r, nil
}

func (r *runner) close() {
	if r.ns != nil {
		r.ns.Close()
	}
}

// dialOne connects to one address:port, from the namespace when set.
func (r *runner) dialOne(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{FallbackDelay: -1}
	if r.ns == nil {
		return d.DialContext(ctx, network, addr)
	}
	var c net.Conn
	err := r.ns.Run(func() (err error) {
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	if err != nil && c != nil {
		c.Close()
		c = nil
	}
	return c, err
}

// lookup resolves a host name, or returns an IP literal as it is.
func (r *runner) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	addrs, err := r.resolver.LookupNetIP(ctx, "ip", host)
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	return addrs, err
}

// connect resolves host:port and connects to its addresses in order, each
// given an equal share of the time left (as net.Dial does), recording what it
// resolved and tried. Each address is tried once. onTry, when set, is told
// each address before it is dialed, so that a caller whose dial may outlive
// it (net/http's) still knows where the probe went.
func (r *runner) connect(ctx context.Context, res *snapshot.ProbeResult, hostport string, onTry func(addr string, resolved []netip.Addr)) (net.Conn, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	addrs, err := r.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	if _, err := netip.ParseAddr(host); err != nil {
		res.Resolved = addrs
	}
	lastErr := error(&net.DNSError{Err: "no addresses", Name: host, IsNotFound: true})
	for i, a := range addrs {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if dl, ok := ctx.Deadline(); ok {
			actx, cancel = context.WithTimeout(ctx, time.Until(dl)/time.Duration(len(addrs)-i))
		}
		res.Addr = net.JoinHostPort(a.String(), port)
		if onTry != nil {
			onTry(res.Addr, res.Resolved)
		}
		start := time.Now()
		c, err := r.dialOne(actx, "tcp", res.Addr)
		cancel()
		if err == nil {
			res.Connected, res.ConnectMS = true, ms(time.Since(start))
			return c, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// probe runs one probe under its timeout and records its outcome. It returns
// the error of a TCP probe's connect, if that failed.
func (r *runner) probe(parent context.Context, res *snapshot.ProbeResult) (connErr error) {
	timeout := timeoutOf(res.Target)
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	start := time.Now()
	if res.Target.URL != "" {
		r.probeHTTP(parent, ctx, res, timeout)
	} else {
		connErr = r.probeTCP(ctx, res, timeout)
	}
	res.DurationMS = ms(time.Since(start))
	return connErr
}

// failWith records err, naming timeouts by the probe's own timeout.
func failWith(res *snapshot.ProbeResult, err error, timeout time.Duration, what string) {
	kind := classify(err)
	if kind == snapshot.ProbeTimeout {
		err = errTimeout(timeout, what)
	}
	fail(res, kind, err)
}

// probeTCP connects, then shakes hands with TLS and reads a banner line when
// asked to; it writes nothing but the ClientHello. It returns the connect's
// error, if it failed.
func (r *runner) probeTCP(ctx context.Context, res *snapshot.ProbeResult, timeout time.Duration) error {
	t := res.Target
	conn, err := r.connect(ctx, res, t.TCP, nil)
	if err != nil {
		failWith(res, err, timeout, "connect to "+t.TCP)
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if t.TLS {
		name := t.ServerName
		if name == "" {
			if host, _, err := net.SplitHostPort(t.TCP); err == nil {
				if _, err := netip.ParseAddr(host); err != nil {
					name = host
				}
			}
		}
		tc := tls.Client(conn, &tls.Config{ServerName: name, InsecureSkipVerify: true})
		if err := tc.HandshakeContext(ctx); err != nil {
			if classify(err) == snapshot.ProbeTimeout {
				failWith(res, err, timeout, "TLS handshake")
			} else {
				fail(res, snapshot.ProbeTLS, err)
			}
			return nil
		}
		res.TLS = tlsState(tc.ConnectionState(), name)
		conn = tc
	}
	if t.Banner {
		line, err := readLine(conn, 512)
		res.BannerLine = line
		if line == "" && err != nil {
			failWith(res, err, timeout, "connected, but no banner")
		}
	}
	return nil
}

// readLine reads up to the first newline, or max bytes.
func readLine(r io.Reader, max int) (string, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, int64(max)), max)
	line, err := br.ReadString('\n')
	if errors.Is(err, io.EOF) && line != "" {
		err = nil
	}
	return trimEOL(line), err
}

func trimEOL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

// tlsState records the chain the server sent and whether it verifies: the
// chain against the host's trust roots, and the leaf against name.
func tlsState(cs tls.ConnectionState, name string) *snapshot.TLSState {
	st := &snapshot.TLSState{Version: tls.VersionName(cs.Version), Chain: []snapshot.Certificate{}}
	if len(cs.PeerCertificates) == 0 {
		st.VerifyError = "the server sent no certificate"
		return st
	}
	inter := x509.NewCertPool()
	for i, c := range cs.PeerCertificates {
		cert := snapshot.Certificate{
			Subject:   c.Subject.String(),
			Issuer:    c.Issuer.String(),
			DNSNames:  c.DNSNames,
			NotBefore: c.NotBefore.UTC(),
			NotAfter:  c.NotAfter.UTC(),
		}
		for _, ip := range c.IPAddresses {
			cert.IPs = append(cert.IPs, ip.String())
		}
		st.Chain = append(st.Chain, cert)
		if i > 0 {
			inter.AddCert(c)
		}
	}
	leaf := cs.PeerCertificates[0]
	if _, err := leaf.Verify(x509.VerifyOptions{Intermediates: inter}); err != nil {
		st.VerifyError = err.Error()
	}
	if name != "" {
		if err := leaf.VerifyHostname(name); err != nil {
			st.NameError = err.Error()
		}
	}
	return st
}

// resolveName asks the resolver about a redirect's host, under its own
// timeout: the probe's may be spent.
func (r *runner) resolveName(parent context.Context, name string, timeout time.Duration) *snapshot.Resolution {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	res := &snapshot.Resolution{Name: name}
	addrs, err := r.lookup(ctx, name)
	res.Addrs = addrs
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		res.NotFound = true
		res.Error = err.Error()
	case err != nil:
		res.Error = err.Error()
	case len(addrs) == 0:
		res.NotFound = true
	}
	if classify(err) == snapshot.ProbeTimeout {
		res.Error = fmt.Sprintf("no answer within %s: %v", timeout, err)
	}
	return res
}
