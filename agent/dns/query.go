package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// maxChain bounds how many CNAME links are followed in one answer.
const maxChain = 16

// errCutShort marks a query that the collector's deadline stopped.
var errCutShort = errors.New(notAsked + "the deadline came first (raise --collector-timeout, or the run's --timeout)")

const notAsked = "not asked: "

// cutShort says why ctx stopped a query: a deadline (the collector stops a
// little before the nearer of its own and the run's, and cannot tell which),
// or the run's end (a signal).
func cutShort(ctx context.Context) string {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.DeadlineExceeded) && !errors.Is(cause, context.Canceled) {
		return notAsked + "the run was stopped: " + cause.Error()
	}
	return errCutShort.Error()
}

// asker sends queries the way the C library's stub resolver does: every
// server in turn, for a number of rounds, each try bounded by a timeout.
type asker struct {
	timeout  time.Duration
	attempts int
	// udps carries the queries to each server on one UDP socket.
	udps *udpMux
}

// ask resolves q against servers (address:port), moving on from a server
// that times out, is unreachable or answers anything but NOERROR or NXDOMAIN.
// It never fails: what went wrong is recorded in the result.
func (a asker) ask(ctx context.Context, q snapshot.DNSQuery, servers []string) (res snapshot.DNSResult) {
	start := time.Now()
	res.DNSQuery = q
	defer func() { res.DurationMS = float64(time.Since(start).Microseconds()) / 1000 }()
	qtype, ok := mdns.StringToType[q.Type]
	if !ok || (qtype != mdns.TypeA && qtype != mdns.TypeAAAA && !slices.Contains(snapshot.DataTypes, q.Type)) {
		res.Error = fmt.Sprintf("record type %q is not asked for: only A, AAAA, %s are", q.Type, strings.Join(snapshot.DataTypes, ", "))
		return res
	}
	if _, ok := mdns.IsDomainName(q.Name); !ok || q.Name == "" {
		res.Error = fmt.Sprintf("%q is not a valid DNS name", q.Name)
		return res
	}
	if len(servers) == 0 {
		res.Error = "no resolver to ask: resolv.conf names none that could be read"
		return res
	}
	type failure struct {
		reason string
		tries  int
	}
	failures := map[string]*failure{}
	var lastRcode *mdns.Msg
	lastBy := ""
	for round := 0; round < a.attempts; round++ {
		for _, srv := range servers {
			if over(ctx) {
				res.Error = cutShort(ctx)
				return res
			}
			resp, err := a.exchange(ctx, q.Name, qtype, srv)
			reason := ""
			switch {
			case err != nil && over(ctx):
				res.Error = cutShort(ctx)
				return res
			case err != nil:
				reason = a.describe(err)
			case resp.Rcode == mdns.RcodeSuccess || resp.Rcode == mdns.RcodeNameError:
				fill(&res, resp, srv)
				for _, s := range servers {
					if f := failures[s]; f != nil && s != srv {
						res.Failed = append(res.Failed, fmt.Sprintf("%s: %s (%s)", s, f.reason, tries(f.tries)))
					}
				}
				return res
			default:
				reason = "answered " + rcodeName(resp.Rcode)
				lastRcode, lastBy = resp, srv
			}
			f := failures[srv]
			if f == nil {
				f = &failure{}
				failures[srv] = f
			}
			f.reason = reason
			f.tries++
		}
	}
	for _, s := range servers {
		if f := failures[s]; f != nil {
			res.Failed = append(res.Failed, fmt.Sprintf("%s: %s (%s)", s, f.reason, tries(f.tries)))
		}
	}
	if lastRcode != nil {
		res.AnsweredBy = lastBy
		res.Rcode = rcodeName(lastRcode.Rcode)
		res.Authoritative = lastRcode.Authoritative
	}
	res.Error = "no usable answer: " + strings.Join(res.Failed, "; ")
	return res
}

// over reports whether ctx is done or past its deadline: a read that timed
// out at the deadline may return a moment before ctx says so.
func over(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ctx.Err() != nil || (ok && !time.Now().Before(dl))
}

// exchange sends one query to one server over UDP, and again over TCP when
// the answer is truncated.
func (a asker) exchange(ctx context.Context, name string, qtype uint16, srv string) (*mdns.Msg, error) {
	// Not SetQuestion: its ID comes from crypto/rand, a system call per
	// query; the socket gives the ID.
	m := &mdns.Msg{Question: []mdns.Question{{Name: mdns.Fqdn(name), Qtype: qtype, Qclass: mdns.ClassINET}}}
	m.RecursionDesired = true
	m.SetEdns0(1232, false)
	resp, err := a.udp(ctx, m, srv)
	if err != nil || !resp.Truncated {
		return resp, err
	}
	return a.tcp(ctx, m, srv)
}

// udp is one try over UDP, bounded by the timeout, on the server's socket
// that every query to it shares.
func (a asker) udp(ctx context.Context, m *mdns.Msg, srv string) (*mdns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	s, err := a.udps.sock(ctx, srv)
	if err != nil {
		return nil, err
	}
	return s.exchange(ctx, m)
}

// tcp is one try over TCP, bounded by the timeout.
func (a asker) tcp(ctx context.Context, m *mdns.Msg, srv string) (*mdns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	c := &mdns.Client{Net: "tcp", Timeout: a.timeout}
	resp, _, err := c.ExchangeContext(ctx, m, srv)
	return resp, err
}

// describe turns a transport error into the reason an operator reads.
func (a asker) describe(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no answer within %s", a.timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: no DNS server listens there"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "unreachable: " + err.Error()
	}
	return err.Error()
}

// fill records an answer: its code, flags, CNAME chain from the queried name
// and the address records of the chain's last name.
func fill(res *snapshot.DNSResult, resp *mdns.Msg, srv string) {
	res.AnsweredBy = srv
	res.Rcode = rcodeName(resp.Rcode)
	res.Authoritative = resp.Authoritative
	cnames := map[string]*mdns.CNAME{}
	for _, rr := range resp.Answer {
		if c, ok := rr.(*mdns.CNAME); ok {
			cnames[snapshot.Canonical(c.Hdr.Name)] = c
		}
	}
	owner := snapshot.Canonical(res.Name)
	seen := map[string]bool{owner: true}
	for len(res.CNAMEs) < maxChain {
		c, ok := cnames[owner]
		if !ok {
			break
		}
		target := snapshot.Canonical(c.Target)
		res.CNAMEs = append(res.CNAMEs, snapshot.CNAME{Name: owner, Target: target, TTL: c.Hdr.Ttl})
		if seen[target] {
			break // a loop: the chain is recorded up to where it closes
		}
		seen[target] = true
		owner = target
	}
	if res.Type == snapshot.TypeCNAME {
		if len(res.CNAMEs) > 0 {
			res.Data = append(res.Data, snapshot.DataRecord{Value: res.CNAMEs[0].Target, TTL: res.CNAMEs[0].TTL})
		}
		return
	}
	for _, rr := range resp.Answer {
		if snapshot.Canonical(rr.Header().Name) != owner {
			continue
		}
		if v, ok := dataValue(rr, res.Type); ok {
			res.Data = append(res.Data, snapshot.DataRecord{Value: v, TTL: rr.Header().Ttl})
			continue
		}
		switch r := rr.(type) {
		case *mdns.A:
			if res.Type == snapshot.TypeA {
				res.Records = appendAddr(res.Records, r.A.To4(), r.Hdr.Ttl)
			}
		case *mdns.AAAA:
			if res.Type == snapshot.TypeAAAA {
				res.Records = appendAddr(res.Records, r.AAAA.To16(), r.Hdr.Ttl)
			}
		}
	}
}

// dataValue is a record's presentation text, when it is of type want.
func dataValue(rr mdns.RR, want string) (string, bool) {
	switch r := rr.(type) {
	case *mdns.MX:
		return fmt.Sprintf("%d %s", r.Preference, snapshot.Canonical(r.Mx)), want == snapshot.TypeMX
	case *mdns.TXT:
		return strings.Join(r.Txt, ""), want == snapshot.TypeTXT
	case *mdns.PTR:
		return snapshot.Canonical(r.Ptr), want == snapshot.TypePTR
	case *mdns.SRV:
		return fmt.Sprintf("%d %d %d %s", r.Priority, r.Weight, r.Port, snapshot.Canonical(r.Target)), want == snapshot.TypeSRV
	case *mdns.CAA:
		return fmt.Sprintf("%d %s %q", r.Flag, strings.ToLower(r.Tag), r.Value), want == snapshot.TypeCAA
	}
	return "", false
}

func appendAddr(recs []snapshot.AddressRecord, ip net.IP, ttl uint32) []snapshot.AddressRecord {
	if a, ok := netip.AddrFromSlice(ip); ok {
		recs = append(recs, snapshot.AddressRecord{IP: a, TTL: ttl})
	}
	return recs
}

func rcodeName(rc int) string {
	if s, ok := mdns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}

func tries(n int) string {
	if n == 1 {
		return "1 try"
	}
	return fmt.Sprintf("%d tries", n)
}
