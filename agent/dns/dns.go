// Package dns collects what the host's resolver configuration says and what
// DNS servers answer, over the wire, for the names the policies ask about.
package dns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// concurrency bounds how many queries are in flight at once.
const concurrency = 16

func init() {
	agent.Register(snapshot.CollectorDNS, func() agent.Collector { return &collector{port: 53, bus: readBus} })
}

// collector asks DNS servers directly, never through the C library or
// net.Resolver: those fold /etc/hosts in, and the point is to see what every
// other machine sees. /etc/hosts is recorded on its own.
type collector struct {
	// port is where the resolvers named in resolv.conf listen: 53, which
	// resolv.conf cannot change. Tests set it so that a fixture tree's
	// "nameserver 127.0.0.x" reaches a server of theirs on its own port.
	port int
	// bus reads systemd-resolved's upstreams on the live host; nil reads
	// only the file it writes.
	bus busReader
}

// Paths the collector reads.
const (
	resolvConfPath = "/etc/resolv.conf"
	hostsPath      = "/etc/hosts"
)

// Reads declares what the collector reads: resolv.conf, /etc/hosts and the
// upstream servers systemd-resolved writes when it changes them.
func (*collector) Reads() []agent.Path {
	return []agent.Path{agent.File(resolvConfPath), agent.File(hostsPath), agent.File(resolvedUpstreamPath)}
}

// Collect reads resolv.conf and /etc/hosts below env's root, and
// systemd-resolved's upstreams when resolv.conf names its stub, then asks every
// query the policy wants, at most 16 at a time. It makes no query when the
// policy wants none. A query that fails is recorded as data; only the
// collector's own deadline cuts the run short, and then the data is partial.
func (c *collector) Collect(ctx context.Context, env *agent.Env) (snapshot.Section, error) {
	d := &snapshot.DNS{Queries: []snapshot.DNSResult{}}
	rc := resolvConf{timeout: defaultTimeout, attempts: defaultAttempts}
	if b, err := env.FS().ReadFile(resolvConfPath, 0); err == nil {
		rc, err = parseResolvConf(bytes.NewReader(b))
		if err != nil {
			d.ResolvConfError = fmt.Sprintf("read %s: %v", env.FS().Real(resolvConfPath), err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		d.ResolvConfError = err.Error()
	}
	if len(rc.nameservers) == 0 && d.ResolvConfError == "" {
		// glibc's default when resolv.conf names no server.
		rc.nameservers = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
		d.ResolversDefault = true
	}
	d.Resolvers = []string{}
	for _, ns := range rc.nameservers {
		d.Resolvers = append(d.Resolvers, netip.AddrPortFrom(ns, uint16(c.port)).String())
	}
	// Through resolved's stub, the answers come from its upstreams. On the
	// live host the queries go through the stub, as programs' do; under
	// --root the stub that answers is this machine's, not the audited
	// host's, so the upstreams it lists are asked directly.
	var before []scope
	ask := d.Resolvers
	if usesStub(rc.nameservers) {
		d.Resolved, before = c.upstreams(ctx, env)
		if env.FS().Root() != "/" && len(d.Resolved.Servers) > 0 {
			ask = allServers(d.Resolved)
		}
	}
	d.TimeoutMS = int(rc.timeout / time.Millisecond)
	d.Attempts = rc.attempts
	d.Hosts = []snapshot.HostsEntry{}
	if b, err := env.FS().ReadFile(hostsPath, 0); err == nil {
		d.Hosts, err = parseHosts(bytes.NewReader(b))
		if err != nil {
			d.HostsError = fmt.Sprintf("read %s: %v", env.FS().Real(hostsPath), err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		d.HostsError = err.Error()
	}

	queries := dedupe(env.Wants.DNS)
	if len(queries) == 0 {
		if before != nil {
			markCurrent(d.Resolved, before, before)
		}
		return d, nil
	}
	// Stop asking a little before the runner's deadline so that what was
	// answered is returned rather than dropped.
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-min(time.Until(dl)/10, 500*time.Millisecond)))
		defer cancel()
	}
	a := asker{timeout: rc.timeout, attempts: rc.attempts, udps: &udpMux{}}
	defer a.udps.close()
	d.Queries = make([]snapshot.DNSResult, len(queries))
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i, q := range queries {
		servers := ask
		if q.Server != "" {
			servers = []string{q.Server}
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if len(servers) == 0 && d.ResolvConfError != "" {
				d.Queries[i] = snapshot.DNSResult{DNSQuery: q, Error: "no resolver to ask: " + d.ResolvConfError}
				return
			}
			d.Queries[i] = a.ask(ctx, q, servers)
		}()
	}
	wg.Wait()
	d.Queries = append(d.Queries, confirmPTR(ctx, a, d, ask, queries)...)
	if d.Resolved != nil {
		upstreams := allServers(d.Resolved)
		if before != nil {
			if after, err := c.bus(ctx); err == nil {
				upstreams = markCurrent(d.Resolved, before, after)
			} else {
				d.Resolved.Error = fmt.Sprintf("which upstream systemd-resolved used could not be read after the queries: %v", err)
			}
		}
		for i := range d.Queries {
			if snapshot.IsResolvedStub(d.Queries[i].AnsweredBy) {
				d.Queries[i].Upstreams = upstreams
			}
		}
	}
	cut := 0
	for _, r := range d.Queries {
		if strings.HasPrefix(r.Error, notAsked) {
			cut++
		}
	}
	if cut > 0 {
		return d, agent.Partial("%d of %d DNS queries were not asked before the deadline: %s", cut, len(queries), strings.TrimPrefix(cutShort(ctx), notAsked))
	}
	return d, nil
}

// dedupe returns the queries once each, names canonical, servers with a
// port, in a stable order.
func dedupe(qs []snapshot.DNSQuery) []snapshot.DNSQuery {
	seen := map[snapshot.DNSQuery]bool{}
	var out []snapshot.DNSQuery
	for _, q := range qs {
		q.Name = snapshot.Canonical(q.Name)
		q.Server = withPort(q.Server)
		if !seen[q] {
			seen[q] = true
			out = append(out, q)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.Server < b.Server
	})
	return out
}

// withPort adds port 53 to a server given as a bare address.
func withPort(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 53).String()
	}
	return s
}

// maxPTRNames bounds the names of one PTR answer that are resolved back.
const maxPTRNames = 4

// confirmPTR resolves the names that PTR answers give, A and AAAA from the
// same server, so that forward-confirmed reverse DNS can be judged: the name
// a PTR gives must lead back to the address. Queries already asked are not
// asked again.
func confirmPTR(ctx context.Context, a asker, d *snapshot.DNS, system []string, asked []snapshot.DNSQuery) []snapshot.DNSResult {
	seen := map[snapshot.DNSQuery]bool{}
	for _, q := range asked {
		seen[q] = true
	}
	var out []snapshot.DNSResult
	for _, r := range d.Queries {
		if r.Type != snapshot.TypePTR {
			continue
		}
		for i, rec := range r.Data {
			if i == maxPTRNames {
				break
			}
			for _, t := range []string{snapshot.TypeA, snapshot.TypeAAAA} {
				q := snapshot.DNSQuery{Name: rec.Value, Type: t, Server: r.Server}
				if seen[q] {
					continue
				}
				seen[q] = true
				servers := system
				if q.Server != "" {
					servers = []string{q.Server}
				}
				out = append(out, a.ask(ctx, q, servers))
			}
		}
	}
	return out
}
