package rules

// The words of the dns and hosts_entry checks: answers, chains, servers and
// addresses as an operator reads them.

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// unresolved explains an answer without addresses: NXDOMAIN or no data.
func unresolved(name string, results []*snapshot.DNSResult) string {
	var parts []string
	for _, q := range results {
		by := answeredBy(q)
		switch {
		case q.Rcode == "NXDOMAIN":
			return fmt.Sprintf("%s does not exist: NXDOMAIN%s from %s", chainOf(name, q), authNote(q), by)
		case len(q.CNAMEs) > 0:
			parts = append(parts, fmt.Sprintf("%s has no %s record (answered by %s)", chainOf(name, q), q.Type, by))
		default:
			parts = append(parts, fmt.Sprintf("%s has no %s record (NOERROR, no data, answered by %s)", name, q.Type, by))
		}
	}
	return strings.Join(parts, " and ")
}

// describeAnswers renders "www.example.com → web.example.net A 203.0.113.10
// (answered by 192.0.2.53, TTL 300)", keeping only records that pass keep.
func describeAnswers(name string, results []*snapshot.DNSResult, keep func(netip.Addr) bool) string {
	var parts []string
	for _, q := range results {
		var ips []string
		var ttls []uint32
		for _, rec := range q.Records {
			if keep == nil || keep(rec.IP) {
				ips = append(ips, rec.IP.String())
				ttls = append(ttls, rec.TTL)
			}
		}
		if len(ips) == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s %s (answered by %s, %s)", chainOf(name, q), q.Type, strings.Join(ips, ", "), answeredBy(q), ttlRange(ttls)))
	}
	return strings.Join(parts, " and ")
}

// chainOf renders the CNAME chain from name: "a → b → c".
func chainOf(name string, q *snapshot.DNSResult) string {
	s := name
	for _, c := range q.CNAMEs {
		s += " → " + c.Target
	}
	return s
}

func ttlRange(ttls []uint32) string {
	lo, hi := ttls[0], ttls[0]
	for _, t := range ttls {
		lo, hi = min(lo, t), max(hi, t)
	}
	if lo == hi {
		return fmt.Sprintf("TTL %d", lo)
	}
	return fmt.Sprintf("TTL %d-%d", lo, hi)
}

func authNote(q *snapshot.DNSResult) string {
	if q.Authoritative {
		return " (authoritative)"
	}
	return ""
}

// answeredBy names the server without the usual port. An answer from
// systemd-resolved's stub is named by the upstream it came from, so that
// the stub is never blamed for what an upstream said.
func answeredBy(q *snapshot.DNSResult) string {
	if !snapshot.IsResolvedStub(q.AnsweredBy) {
		return hostOf(q.AnsweredBy)
	}
	if len(q.Upstreams) == 0 {
		return fmt.Sprintf("systemd-resolved's stub %s (its upstreams could not be read)", hostOf(q.AnsweredBy))
	}
	return fmt.Sprintf("%s through systemd-resolved's stub %s", upstreams(q), hostOf(q.AnsweredBy))
}

// upstreams names the upstreams of systemd-resolved an answer from its
// stub came from: "upstream 192.0.2.53", or "one of the upstreams A or B
// (it cannot be told which)".
func upstreams(q *snapshot.DNSResult) string {
	ups := make([]string, len(q.Upstreams))
	for i, u := range q.Upstreams {
		ups[i] = hostOf(u)
	}
	if len(ups) == 1 {
		return "upstream " + ups[0]
	}
	return fmt.Sprintf("one of the upstreams %s (it cannot be told which)", joinAnd(ups, "or"))
}

// stubAnswered reports whether one of the answers came through
// systemd-resolved's stub, which may have answered from its cache.
func stubAnswered(results []*snapshot.DNSResult) bool {
	for _, q := range results {
		if snapshot.IsResolvedStub(q.AnsweredBy) {
			return true
		}
	}
	return false
}

func hostOf(server string) string {
	if ap, err := netip.ParseAddrPort(server); err == nil && ap.Port() == 53 {
		return ap.Addr().String()
	}
	return server
}

func serverName(server string, d *snapshot.DNS) string {
	if server != "" {
		return hostOf(server)
	}
	if d == nil || len(d.Resolvers) == 0 {
		return "the system resolvers"
	}
	names := make([]string, len(d.Resolvers))
	for i, r := range d.Resolvers {
		names[i] = hostOf(r)
	}
	if d.Resolved != nil {
		var ups []string
		for _, u := range d.Resolved.Servers {
			if h := hostOf(u.Address); !contains(ups, h) {
				ups = append(ups, h)
			}
		}
		if len(ups) == 0 {
			return "the system resolvers (systemd-resolved at " + strings.Join(names, ", ") + ", its upstreams unknown)"
		}
		return "the system resolvers (systemd-resolved at " + strings.Join(names, ", ") + ", upstream " + strings.Join(ups, ", ") + ")"
	}
	return "the system resolvers (" + strings.Join(names, ", ") + ")"
}

// observed lists every answer, its code and flags, and every failed query,
// for the report's Observed column.
func observed(results, failed []*snapshot.DNSResult) string {
	var parts []string
	for _, q := range results {
		s := fmt.Sprintf("%s %s", q.Type, q.Rcode)
		if len(q.Records) > 0 {
			ips := make([]string, len(q.Records))
			for i, rec := range q.Records {
				ips[i] = fmt.Sprintf("%s (TTL %d)", rec.IP, rec.TTL)
			}
			s = fmt.Sprintf("%s %s", q.Type, strings.Join(ips, ", "))
		}
		if len(q.CNAMEs) > 0 {
			s = chainOf(q.Name, q) + " " + s
		}
		s += " from " + answeredBy(q)
		if q.Authoritative {
			s += ", authoritative"
		}
		parts = append(parts, s)
	}
	for _, q := range failed {
		parts = append(parts, fmt.Sprintf("%s failed: %s", q.Type, q.Error))
	}
	return strings.Join(parts, "; ")
}

// describeExpected renders the expected addresses, each host address with
// its interface.
func describeExpected(e addressSet, s *snapshot.Snapshot) string {
	if len(e.addrs) == 0 {
		return "no address"
	}
	ifc := map[netip.Addr]string{}
	for _, a := range s.Host.UnicastAddresses() {
		ifc[a.IP.Unmap()] = a.Interface
	}
	parts := make([]string, len(e.addrs))
	for i, a := range e.addrs {
		parts[i] = a.String()
		if n, ok := ifc[a.Unmap()]; ok {
			parts[i] += " (" + n + ")"
		}
	}
	return joinAnd(parts, "and")
}

// notExpected says why an address is wrong: "not an address of this host;
// this host has ..." when expect is exactly the host's addresses, else "not
// one of the expected addresses (...)".
func notExpected(e addressSet, s *snapshot.Snapshot, plural bool) string {
	host := s.Host.UnicastAddresses()
	same := len(host) == len(e.addrs)
	for _, a := range host {
		same = same && e.has(a.IP)
	}
	if same {
		what := "not an address of this host"
		if plural {
			what = "not addresses of this host"
		}
		if len(host) == 0 {
			return what + "; this host has no address other machines can reach"
		}
		return what + "; this host has " + describeExpected(e, s)
	}
	return "not among the expected addresses: " + strings.Replace(describeExpected(e, s), " and ", " or ", -1)
}

// hostsNote warns, for checks against the system resolvers, that /etc/hosts
// gives programs on this host another answer than DNS does.
func hostsNote(s *snapshot.Snapshot, name, server string, results []*snapshot.DNSResult) string {
	if server != "" {
		return ""
	}
	var notes []string
	own := name == snapshot.Canonical(s.Host.FQDN) || name == snapshot.Canonical(s.Host.Hostname)
	for _, e := range s.DNS.HostsFor(name) {
		if own && e.IP.IsLoopback() {
			continue // Debian's 127.0.1.1: the same host either way
		}
		t := snapshot.TypeA
		if e.IP.Is6() {
			t = snapshot.TypeAAAA
		}
		for _, q := range results {
			if q.Type == t && !hasRecord(q, e.IP) {
				notes = append(notes, fmt.Sprintf("/etc/hosts line %d pins %s to %s, so programs on this host get that address instead", e.Line, name, e.IP))
			}
		}
	}
	if len(notes) == 0 {
		return ""
	}
	return "; note: " + strings.Join(notes, "; ")
}

// failedNote mentions servers that failed before another answered.
func failedNote(results []*snapshot.DNSResult) string {
	var failed []string
	for _, q := range results {
		failed = append(failed, q.Failed...)
	}
	if len(failed) == 0 {
		return ""
	}
	return "; before that answer, " + strings.Join(failed, "; ")
}

func hasRecord(q *snapshot.DNSResult, ip netip.Addr) bool {
	for _, rec := range q.Records {
		if rec.IP.Unmap() == ip.Unmap() {
			return true
		}
	}
	return false
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func joinAnd(parts []string, and string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " " + and + " " + parts[len(parts)-1]
}
