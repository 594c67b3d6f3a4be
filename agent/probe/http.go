package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"sync"
	"time"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// MaxRedirects is how many redirects a probe that follows them takes.
const MaxRedirects = 5

// UserAgent is the User-Agent header of HTTP probes.
const UserAgent = "hostdrift-probe/1"

// probeHTTP makes one request (GET unless the target names a method): no proxy, no connection reuse (so no
// silent retry), no compression, HTTP/1.1. A redirect is followed only when
// the target says so; its Location's host is resolved through the resolver
// so that the report can say where it leads from this host.
func (r *runner) probeHTTP(parent, ctx context.Context, res *snapshot.ProbeResult, timeout time.Duration) {
	t := res.Target
	var hops []snapshot.HTTPHop
	// The transport dials and reads in goroutines of its own that may
	// outlive Do on a timeout: what they learn is shared under mu.
	var (
		mu        sync.Mutex
		dialed    snapshot.ProbeResult
		dialing   string // the host of the last dial, a redirect's after one
		tlsErr    error
		firstByte time.Duration
	)
	headers, hostHeader := requestHeaders(t.Headers)
	sni := t.ServerName
	if sni == "" {
		sni = hostHeader // a Host override tests the public name: send it in the handshake too
	}
	start := time.Now()
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			mu.Lock()
			dialing, dialed = host, snapshot.ProbeResult{}
			mu.Unlock()
			// The transport may give up on a dial (the request's
			// timeout) and return before the dial does: record each
			// address as it is tried, not only once connect returns.
			var d snapshot.ProbeResult
			c, err := r.connect(ctx, &d, addr, func(a string, resolved []netip.Addr) {
				mu.Lock()
				dialed.Addr, dialed.Resolved = a, resolved
				mu.Unlock()
			})
			mu.Lock()
			dialed = d
			mu.Unlock()
			return c, err
		},
		TLSClientConfig:        &tls.Config{ServerName: sni, InsecureSkipVerify: true},
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if !t.FollowRedirects {
				return http.ErrUseLastResponse
			}
			prev := req.Response
			hops = append(hops, snapshot.HTTPHop{URL: via[len(via)-1].URL.String(), Status: prev.StatusCode, Location: prev.Header.Get("Location")})
			if len(via) > MaxRedirects {
				return fmt.Errorf("stopped after %d redirects", MaxRedirects)
			}
			return nil
		},
	}
	trace := &httptrace.ClientTrace{
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			mu.Lock()
			tlsErr = err
			mu.Unlock()
		},
		GotFirstResponseByte: func() {
			mu.Lock()
			firstByte = time.Since(start)
			mu.Unlock()
		},
	}
	method := t.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, t.URL, nil)
	if err != nil {
		fail(res, snapshot.ProbeOther, err)
		return
	}
	req.Header = headers
	req.Header.Set("User-Agent", UserAgent)
	if t.ServerName != "" {
		req.Host = t.ServerName
	}
	if hostHeader != "" {
		req.Host = hostHeader
	}
	resp, err := client.Do(req)
	mu.Lock()
	res.Addr, res.Resolved, res.Connected, res.ConnectMS = dialed.Addr, dialed.Resolved, dialed.Connected, dialed.ConnectMS
	hsErr, ttfb, host := tlsErr, firstByte, dialing
	mu.Unlock()
	if host == "" {
		host = req.URL.Hostname()
	}
	if len(hops) > 0 && host != req.URL.Hostname() {
		res.Host = host // a redirect led elsewhere
	}
	if resp != nil {
		h := &snapshot.HTTPResult{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Hops: hops, FirstByteMS: ms(ttfb)}
		if t.BodyPattern != "" {
			h.BodyMatch = MatchBody(resp.Body, t.BodyPattern)
		}
		if t.HeaderPattern != "" {
			h.HeaderMatch = MatchHeaders(resp.Header, t.HeaderPattern)
		}
		resp.Body.Close()
		res.HTTP = h
		if resp.TLS != nil {
			name := sni
			if name == "" {
				name = resp.Request.URL.Hostname()
			}
			res.TLS = tlsState(*resp.TLS, name)
		}
		if h.Location != "" {
			if u, perr := resp.Request.URL.Parse(h.Location); perr == nil && u.Hostname() != "" {
				if _, ipErr := netip.ParseAddr(u.Hostname()); ipErr != nil {
					h.LocationHost = r.resolveName(parent, u.Hostname(), timeout)
				}
			}
		}
	}
	if err == nil {
		return
	}
	switch {
	case !res.Connected && res.Addr == "":
		failWith(res, err, timeout, "resolve "+host)
	case !res.Connected:
		failWith(res, err, timeout, "connect to "+res.Addr)
	case hsErr != nil:
		if classify(hsErr) == snapshot.ProbeTimeout {
			failWith(res, hsErr, timeout, "TLS handshake")
		} else {
			fail(res, snapshot.ProbeTLS, hsErr)
		}
	case classify(err) == snapshot.ProbeTimeout:
		failWith(res, err, timeout, "connected, but no response")
	case errors.Is(err, context.Canceled):
		fail(res, snapshot.ProbeOther, err)
	default:
		kind := classify(err)
		if kind == snapshot.ProbeOther {
			kind = snapshot.ProbeHTTP
		}
		fail(res, kind, err)
	}
}
