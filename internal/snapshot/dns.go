package snapshot

import (
	"net/netip"
	"strings"
)

// DNS is what the host's resolver configuration says and what DNS servers
// answered for the names the policies ask about.
type DNS struct {
	// Resolvers are the system resolvers, in the order resolv.conf lists
	// them, as address:port.
	Resolvers []string `json:"resolvers"`
	// ResolversDefault is set when resolv.conf names no resolver and the C
	// library's default, 127.0.0.1:53, is used.
	ResolversDefault bool `json:"resolvers_default,omitempty"`
	// ResolvConfError says why resolv.conf could not be read.
	ResolvConfError string `json:"resolv_conf_error,omitempty"`
	// Resolved is what systemd-resolved forwards to, when resolv.conf
	// names its stub (127.0.0.53 or 127.0.0.54); nil otherwise.
	Resolved *Resolved `json:"resolved,omitempty"`
	// TimeoutMS and Attempts are how long one query waits for an answer and
	// how many rounds over the servers are made before giving up.
	TimeoutMS int `json:"timeout_ms"`
	Attempts  int `json:"attempts"`
	// Hosts are the entries of /etc/hosts, in file order.
	Hosts []HostsEntry `json:"hosts"`
	// HostsError says why /etc/hosts could not be read; a missing file is
	// not an error (it holds no entries).
	HostsError string `json:"hosts_error,omitempty"`
	// Queries are the answers to what the policy asked, one per name, type
	// and server.
	Queries []DNSResult `json:"queries"`
}

// Stub addresses: where systemd-resolved answers the host's programs (its
// stub, and from version 251 its proxy stub), forwarding to its upstreams.
var (
	ResolvedStub      = netip.MustParseAddr("127.0.0.53")
	ResolvedProxyStub = netip.MustParseAddr("127.0.0.54")
)

// IsResolvedStub reports whether server (an address, or address:port with
// port 53) is systemd-resolved's stub or proxy stub.
func IsResolvedStub(server string) bool {
	a, err := netip.ParseAddr(server)
	if ap, perr := netip.ParseAddrPort(server); perr == nil && ap.Port() == 53 {
		a, err = ap.Addr(), nil
	}
	return err == nil && (a == ResolvedStub || a == ResolvedProxyStub)
}

// Resolved is the upstream DNS servers systemd-resolved uses: the global
// ones and each link's, as resolved itself says on D-Bus, or the flat list
// it writes to /run/systemd/resolve/resolv.conf.
type Resolved struct {
	// Source is where they were read: "dbus" (org.freedesktop.resolve1)
	// or the file /run/systemd/resolve/resolv.conf.
	Source string `json:"source"`
	// Servers are the upstreams, global ones first, then by link, each in
	// resolved's order.
	Servers []ResolvedServer `json:"servers"`
	// Error says why the upstreams could not be read, or what was read
	// instead of what was tried first.
	Error string `json:"error,omitempty"`
}

// ResolvedServer is one upstream server of systemd-resolved.
type ResolvedServer struct {
	// Address is address:port.
	Address string `json:"address"`
	// LinkIndex and Link are the interface whose server it is; 0 and ""
	// for a global server (resolved.conf's DNS=), and for every server
	// read from the file, which does not say.
	LinkIndex int    `json:"link_index,omitempty"`
	Link      string `json:"link,omitempty"`
	// Current marks the server resolved was using for its link (or
	// globally) both before and after the queries were asked.
	Current bool `json:"current,omitempty"`
}

// HostsEntry is one line of /etc/hosts: an address and the names it pins.
type HostsEntry struct {
	Line  int        `json:"line"`
	IP    netip.Addr `json:"ip"`
	Names []string   `json:"names"`
}

// DNSQuery is one question a policy asks: a name, a record type (A or AAAA)
// and the server to ask, empty for the system resolvers.
type DNSQuery struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Server string `json:"server,omitempty"`
}

// Record types hostdrift asks for.
const (
	TypeA     = "A"
	TypeAAAA  = "AAAA"
	TypeCNAME = "CNAME"
	TypeMX    = "MX"
	TypeTXT   = "TXT"
	TypePTR   = "PTR"
	TypeSRV   = "SRV"
	TypeCAA   = "CAA"
)

// DataTypes are the record types whose answers are recorded as text in
// DNSResult.Data rather than as addresses.
var DataTypes = []string{TypeCNAME, TypeMX, TypeTXT, TypePTR, TypeSRV, TypeCAA}

// DNSResult is the outcome of one query.
type DNSResult struct {
	DNSQuery
	// AnsweredBy is the server (address:port) whose answer is recorded.
	AnsweredBy string `json:"answered_by,omitempty"`
	// Rcode is the response code: NOERROR, NXDOMAIN, SERVFAIL, REFUSED...;
	// empty when no server answered at all.
	Rcode         string `json:"rcode,omitempty"`
	Authoritative bool   `json:"authoritative"`
	// CNAMEs is the alias chain from the queried name, in order.
	CNAMEs []CNAME `json:"cnames,omitempty"`
	// Records are the addresses of the chain's last name.
	Records []AddressRecord `json:"records,omitempty"`
	// Data are the other records of the chain's last name (of the queried
	// name for a CNAME query), in presentation form: MX "10 mail.example.com",
	// TXT its strings joined, PTR and CNAME a name, SRV "PRIORITY WEIGHT
	// PORT TARGET", CAA "FLAGS TAG \"VALUE\"". Names are canonical.
	Data []DataRecord `json:"data,omitempty"`
	// Upstreams are, for an answer from systemd-resolved's stub, the
	// upstream servers it came from: one when the collector could tell
	// which server resolved was using, else every one it might have
	// asked. resolved may have answered from its cache, which holds what
	// an upstream answered earlier.
	Upstreams []string `json:"upstreams,omitempty"`
	// Failed lists the servers that failed before AnsweredBy answered, or
	// all of them when Error is set, each with its reason.
	Failed []string `json:"failed,omitempty"`
	// Error says why no usable answer was had: every server timed out,
	// was unreachable or answered SERVFAIL, REFUSED...
	Error      string  `json:"error,omitempty"`
	DurationMS float64 `json:"duration_ms"`
}

// CNAME is one link of an alias chain.
type CNAME struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	TTL    uint32 `json:"ttl"`
}

// DataRecord is one record that is not an address.
type DataRecord struct {
	Value string `json:"value"`
	TTL   uint32 `json:"ttl"`
}

// AddressRecord is one A or AAAA record.
type AddressRecord struct {
	IP  netip.Addr `json:"ip"`
	TTL uint32     `json:"ttl"`
}

// Canonical returns a DNS name as hostdrift records it: lower case, without
// the trailing dot.
func Canonical(name string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
}

// Result returns the answer to a query, if it was asked.
func (d *DNS) Result(q DNSQuery) (*DNSResult, bool) {
	name := Canonical(q.Name)
	for i := range d.Queries {
		r := &d.Queries[i]
		if r.Name == name && r.Type == q.Type && r.Server == q.Server {
			return r, true
		}
	}
	return nil, false
}

// HostsFor returns the /etc/hosts entries that pin name, in file order.
func (d *DNS) HostsFor(name string) []HostsEntry {
	name = Canonical(name)
	var out []HostsEntry
	for _, e := range d.Hosts {
		for _, n := range e.Names {
			if Canonical(n) == name {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// Attach puts the DNS answers into the snapshot.
func (d *DNS) Attach(s *Snapshot) { s.DNS = d }
