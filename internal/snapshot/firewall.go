package snapshot

import (
	"net/netip"
	"strings"
)

// Firewall is every ruleset the host holds, from every backend, in one
// normalised model: tables of chains of rules, each rule a list of matches and
// one verdict, with its origin and its text as its own tool prints it.
type Firewall struct {
	// Backends says which rule sources were read and whether they hold rules.
	Backends []Backend `json:"backends"`
	Tables   []Table   `json:"tables"`
	// Unparsed lists the rules that could not be read at all; they are kept
	// out of Tables, and verdicts of chains that held them are unknown.
	Unparsed []UnparsedRule `json:"unparsed,omitempty"`
	// LocalAddresses are the addresses the host owns, with their prefix
	// length and interface: the route decision and addrtype/fib matches use them.
	LocalAddresses []LocalAddress `json:"local_addresses,omitempty"`
	// Routes is the main routing table, used to pick the output interface of
	// forwarded and rewritten packets.
	Routes []Route `json:"routes,omitempty"`
	// IptablesCommand is what the host's iptables command is: which backend
	// UFW, Docker and people typing "iptables" write to.
	IptablesCommand *IptablesCommand `json:"iptables_command,omitempty"`
	// IPSets are the kernel's ipsets, which iptables rules match with
	// -m set --match-set.
	IPSets []IPSet `json:"ipsets,omitempty"`
	// Firewalld is what firewalld's configuration says about the rules it
	// made, when firewalld's table is in the kernel.
	Firewalld *Firewalld `json:"firewalld,omitempty"`
}

// Firewalld is firewalld's configuration as read to name the zone, service,
// port or rich rule behind each rule of its nftables table (Rule.Origin).
type Firewalld struct {
	// DefaultZone and Backend are firewalld.conf's DefaultZone and
	// FirewallBackend.
	DefaultZone string `json:"default_zone,omitempty"`
	Backend     string `json:"backend,omitempty"`
	// Zones are the zones whose chains the kernel holds.
	Zones []string `json:"zones,omitempty"`
	// Notes say where a rule could only be attributed to its zone, and why.
	Notes []string `json:"notes,omitempty"`
}

// IPSet is one ipset: its type, options and members.
type IPSet struct {
	Name string `json:"name"`
	// Type is the ipset type: hash:ip, hash:net,port, bitmap:port, list:set...
	Type string `json:"type"`
	// Family is inet or inet6 (empty for types without one).
	Family string `json:"family,omitempty"`
	// Timeout is the default timeout of members in seconds: members expire,
	// and rules (-j SET) may add them at run time.
	Timeout uint32 `json:"timeout,omitempty"`
	// MarkMask is the mask applied to the packet mark (hash:ip,mark).
	MarkMask uint32        `json:"markmask,omitempty"`
	Members  []IPSetMember `json:"members"`
}

// IPSetMember is one member: one value per dimension of the type, as ipset
// prints it ("10.0.0.0/24", "tcp:80", "eth0", "physdev:eth0", a set name
// for list:set).
type IPSetMember struct {
	Key []string `json:"key"`
	// NoMatch marks an exception: a packet it holds is not in the set.
	NoMatch bool `json:"nomatch,omitempty"`
	// Wildcard says an interface name matches as a prefix.
	Wildcard bool `json:"wildcard,omitempty"`
}

// IptablesCommand describes the iptables binary found on the host.
type IptablesCommand struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	// Mode is nf_tables (iptables-nft) or legacy.
	Mode string `json:"mode"`
}

// Backend names.
const (
	BackendNftables       = "nftables"
	BackendIptablesNft    = "iptables-nft"
	BackendIptablesLegacy = "iptables-legacy"
)

// Backend is one rule source: native nftables, iptables-nft or iptables-legacy.
type Backend struct {
	Name string `json:"name"`
	// Available is false when the source could not be read; Reason says why.
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"`
	// Fix says what would make an unreadable backend readable (a privilege,
	// a package), as far as the collector could tell; empty when unknown.
	Fix []string `json:"fix,omitempty"`
	// Note says how an available backend was judged: without its own tool
	// (iptables-nft-save not installed, no table of its own on netlink), or
	// which tables named like iptables' were read as native nftables.
	Note string `json:"note,omitempty"`
	// Tables and Rules count what the backend holds.
	Tables int `json:"tables"`
	Rules  int `json:"rules"`
}

// HoldsRules reports whether the backend was read and holds at least one rule.
func (b Backend) HoldsRules() bool { return b.Available && b.Rules > 0 }

// LocalAddress is an address the host owns.
type LocalAddress struct {
	Prefix    netip.Prefix `json:"prefix"`
	Interface string       `json:"interface"`
}

// Route is one route of the main table.
type Route struct {
	Dst       netip.Prefix `json:"dst"`
	Interface string       `json:"interface"`
	Gateway   netip.Addr   `json:"gateway,omitempty"`
}

// Table is one table of one backend and family.
type Table struct {
	Backend string `json:"backend"`
	// Family is ip, ip6, inet, arp, bridge or netdev.
	Family string  `json:"family"`
	Name   string  `json:"name"`
	Chains []Chain `json:"chains"`
	Sets   []Set   `json:"sets,omitempty"`
}

// Chain is a base chain (attached to a hook) or a regular chain.
type Chain struct {
	Name string `json:"name"`
	// Hook is empty for regular chains, else prerouting, input, forward,
	// output, postrouting, ingress or egress.
	Hook string `json:"hook,omitempty"`
	// Type is filter, nat or route (base chains only).
	Type     string `json:"type,omitempty"`
	Priority int    `json:"priority"`
	// Policy is accept or drop (base chains only).
	Policy string `json:"policy,omitempty"`
	Device string `json:"device,omitempty"`
	Rules  []Rule `json:"rules"`
	// Origin names, in the terms of the firewall manager that made the
	// chain, what it stands for: "firewalld zone public". Empty when no
	// manager's configuration was recognised.
	Origin string `json:"origin,omitempty"`
}

// Base reports whether the chain is attached to a hook.
func (c *Chain) Base() bool { return c.Hook != "" }

// Rule is one rule: all its matches must hold for its verdict to apply.
type Rule struct {
	// Position is the 1-based index of the rule in its chain.
	Position int    `json:"position"`
	Handle   uint64 `json:"handle,omitempty"`
	// Text is the rule as its own tool prints it: "-A OUTPUT -p tcp ..." for
	// iptables, "tcp dport 587 accept" for nftables.
	Text    string  `json:"text"`
	Comment string  `json:"comment,omitempty"`
	Matches []Match `json:"matches,omitempty"`
	// Effects are side effects that do not end evaluation (mark set, log...).
	Effects []Effect `json:"effects,omitempty"`
	Verdict Verdict  `json:"verdict"`
	// Unsupported lists what hostdrift could not decode in this rule; such a
	// rule may or may not match, so verdicts that depend on it are unknown.
	Unsupported []string `json:"unsupported,omitempty"`
	// Origin names the configuration the rule was generated from, in the
	// terms of the firewall manager that made it: "firewalld zone public,
	// service ssh". Empty when it could not be told with certainty.
	Origin string `json:"origin,omitempty"`
}

// Match is one condition on a packet. Field says what is compared:
//
//	nfproto      ipv4 | ipv6
//	l4proto      tcp, udp, icmp, icmpv6 or a number
//	saddr daddr  addresses, CIDRs or ranges a-b
//	sport dport  ports or ranges a-b
//	iif oif      interface names; a trailing + or * is a wildcard
//	ct_state     new, established, related, invalid, untracked
//	ct_status    dnat, snat, confirmed, ...
//	src_type dst_type  addrtype: local, unicast, broadcast, multicast, ...
//	icmp_type    icmp or icmpv6 type names or numbers
//	mark ct_mark value, value/mask or a range a-b
//	priority     the packet's priority (nft's major:minor as one number):
//	             values or ranges a-b, or Op with one value; 0 as it comes
//	             from a network device until a rule (nft's meta priority
//	             set, iptables' CLASSIFY) sets it
//	ct_zone      the connection's conntrack zone: 0 for a new connection
//	             unless a rule may set one
//	ct_helper    the connection's helper names; a new connection has none
//	             unless a rule may give it one, and then nft's compare
//	             fails whether negated or not
//	tcp_flags    mask/compare as "syn,ack/syn"
//	pkttype      unicast | broadcast | multicast | host
//	set          lookup of Keys in the named Set
//	ipset        -m set: membership in the ipset named Set, Keys giving src
//	             or dst for each dimension; Reason set when options (counters,
//	             --return-nomatch) make it undecidable
//	header       the packet carries one of the named headers: IPv6 extension
//	             headers hbh, rt, frag, dst, mh, ah, esp; ipv4-options; or
//	             fragment (a non-first IPv4 fragment, iptables -f)
//	ipv6header   ip6tables -m ipv6header: Values are the header names, Op is
//	             soft (all listed present; with Negate none present) or empty
//	             (exactly the listed set; with Negate any other set)
//	ipv4options  -m ipv4options: Values are option numbers or names, "!" in
//	             front of an inverted one; Op is any or empty (all)
//	rpf          a route back to the source exists (Values[0] loose), and
//	             leaves by the input interface (strict): nft's
//	             "fib saddr . iif oif" reverse path filter
//	recent       -m recent: Op is set, rcheck, update or remove; Values are the
//	             list name, src or dst, the hit count and the seconds
//	assume       a match on rate or history (limit, hashlimit, connlimit,
//	             ct count, meters) with its outcome for a fresh peer under
//	             normal load in Values[0] (match or nomatch); Reason is that
//	             condition in words, empty when the outcome is certain
//	first_chunks sctp's chunk types (iptables --chunk-types, nft "sctp chunk
//	             X exists") or dccp's packet types: Values are the protocol
//	             then the type names; Op is any, all or only. Decided for a
//	             first packet (one INIT chunk, a dccp REQUEST), an assumption
//	             the simulator states
//	random       statistic, numgen...: may match (Reason says why)
type Match struct {
	Field string `json:"field"`
	// Op is eq (the default: any of Values) or lt, le, gt, ge with one value.
	Op     string   `json:"op,omitempty"`
	Negate bool     `json:"negate,omitempty"`
	Values []string `json:"values,omitempty"`
	// Set and Keys describe a set lookup: the fields that form the key.
	Set  string   `json:"set,omitempty"`
	Keys []string `json:"keys,omitempty"`
	// Reason, for may-match conditions, says why the outcome is unknowable.
	Reason string `json:"reason,omitempty"`
}

// FieldMayMatch is the field of conditions that can never be decided from a
// snapshot (randomness, userspace decisions).
const FieldMayMatch = "random"

// Prefixes of the reasons of may-match conditions that no snapshot can
// decide however well it is read: the outcome depends on chance (a random
// number, a checksum, a sequence number), on the clock, on the traffic
// already seen (history), on what the sender put in the packet beyond the
// question's addresses, ports, protocol and flags (payload: its bytes, the
// header fields and options its sender chooses, its link-layer addresses),
// or on the local process that sends or receives it (process: its owner,
// cgroup, socket). A may-match whose reason has none of them stands for
// something the collector did not decode, and the rule lists it in
// Unsupported.
const (
	MayChance  = "chance: "
	MayClock   = "clock: "
	MayHistory = "history: "
	MayPayload = "payload: "
	MayProcess = "process: "
)

// MayFamilies are the prefixes of honest may-match reasons, in the order
// reports list them.
var MayFamilies = []string{MayChance, MayClock, MayHistory, MayPayload, MayProcess}

// HonestMay reports whether a may-match reason is one of chance, the clock,
// history, the payload or the process, which no decoder could decide.
func HonestMay(reason string) bool {
	return MayFamily(reason) != ""
}

// MayFamily is the prefix of MayFamilies a may-match reason has, or "".
func MayFamily(reason string) string {
	for _, f := range MayFamilies {
		if strings.HasPrefix(reason, f) {
			return f
		}
	}
	return ""
}

// FieldAssume is the field of matches on rate or history, decided for the
// first packet of a fresh peer under normal load (see Match).
const FieldAssume = "assume"

// Assumed outcomes of a FieldAssume match.
const (
	AssumeMatch   = "match"
	AssumeNoMatch = "nomatch"
)

// Verdict kinds.
const (
	VerdictContinue   = "continue"
	VerdictAccept     = "accept"
	VerdictDrop       = "drop"
	VerdictReject     = "reject"
	VerdictJump       = "jump"
	VerdictGoto       = "goto"
	VerdictReturn     = "return"
	VerdictDNAT       = "dnat"
	VerdictSNAT       = "snat"
	VerdictMasquerade = "masquerade"
	VerdictRedirect   = "redirect"
	VerdictQueue      = "queue"
	// VerdictMap looks the Keys up in the verdict map Set.
	VerdictMap = "vmap"
	// VerdictUnknown is a target or verdict hostdrift cannot interpret.
	VerdictUnknown = "unknown"
)

// Verdict is what a matching rule does to the packet.
type Verdict struct {
	Kind string `json:"kind"`
	// Chain is the target of jump and goto.
	Chain string `json:"chain,omitempty"`
	// To is the new address and/or port of dnat, snat and redirect:
	// "10.0.0.2", "10.0.0.2:80", ":8080", "[2001:db8::1]:80".
	To string `json:"to,omitempty"`
	// Set and Keys describe a verdict map lookup.
	Set  string   `json:"set,omitempty"`
	Keys []string `json:"keys,omitempty"`
	// Reason explains an unknown verdict.
	Reason string `json:"reason,omitempty"`
}

// Effect is a side effect of a rule that lets evaluation continue.
type Effect struct {
	// Kind is mark, ct_mark, log, counter, ...
	Kind string `json:"kind"`
	// Value is the new value for mark and ct_mark: "0x10" or "0x10/0xff"
	// (set the masked bits), or "or 0x4000" and "xor 0x4000"; MarkUnknown
	// and why when the new mark cannot be known (HMARK's hash).
	Value string `json:"value,omitempty"`
}

// MarkUnknown begins the Value of a mark Effect whose new mark cannot be
// known; the rest says why, and later matches on the mark may match for
// that reason.
const MarkUnknown = "unknown: "

// Set is an nftables set or map.
type Set struct {
	Name string `json:"name"`
	// KeyType lists the datatypes of the key, more than one for
	// concatenations: ipv4_addr, ipv6_addr, inet_service, inet_proto, ifname...
	KeyType []string `json:"key_type"`
	// DataType is set for maps: verdict, ipv4_addr, inet_service...
	DataType  string       `json:"data_type,omitempty"`
	Flags     []string     `json:"flags,omitempty"`
	Anonymous bool         `json:"anonymous,omitempty"`
	Elements  []SetElement `json:"elements"`
}

// Has reports whether the set carries the given flag.
func (s *Set) Has(flag string) bool {
	for _, f := range s.Flags {
		if f == flag {
			return true
		}
	}
	return false
}

// SetElement is one element: one value per key field (an address, CIDR,
// range a-b or port), and for maps the value it maps to.
type SetElement struct {
	Key []string `json:"key"`
	// Value is the mapped data of maps; for verdict maps "accept", "drop",
	// "jump NAME" or "goto NAME".
	Value string `json:"value,omitempty"`
}

// UnparsedRule is a rule hostdrift could not read, kept with its origin.
type UnparsedRule struct {
	Backend string `json:"backend"`
	Family  string `json:"family"`
	Table   string `json:"table"`
	Chain   string `json:"chain"`
	Text    string `json:"text"`
	Reason  string `json:"reason"`
}

// Table returns the table of the given backend, family and name.
func (f *Firewall) Table(backend, family, name string) *Table {
	for i := range f.Tables {
		t := &f.Tables[i]
		if t.Backend == backend && t.Family == family && t.Name == name {
			return t
		}
	}
	return nil
}

// Chain returns the named chain of the table.
func (t *Table) Chain(name string) *Chain {
	for i := range t.Chains {
		if t.Chains[i].Name == name {
			return &t.Chains[i]
		}
	}
	return nil
}

// Set returns the named set of the table.
func (t *Table) Set(name string) *Set {
	for i := range t.Sets {
		if t.Sets[i].Name == name {
			return &t.Sets[i]
		}
	}
	return nil
}

// Backend returns the named backend record.
func (f *Firewall) Backend(name string) (Backend, bool) {
	for _, b := range f.Backends {
		if b.Name == name {
			return b, true
		}
	}
	return Backend{}, false
}

// Attach puts the firewall into the snapshot.
func (f *Firewall) Attach(s *Snapshot) { s.Firewall = f }
