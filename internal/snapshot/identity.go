package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Ephemeral ports are those Linux hands out for outgoing connections
// (net.ipv4.ip_local_port_range defaults to 32768-60999). A socket bound
// there by an RPC service or a resolver gets a new port every restart, so a
// diff follows it by program, not by port.
const (
	EphemeralLow  = 32768
	EphemeralHigh = 60999
)

// Objects lists the chains, rules and sets of every backend. A rule's identity
// is its backend, family, table, chain and its text, not its handle, counters
// or position; its place in the chain is the field "follows" (the rule before
// it), which a diff reports only when the rule's order among the rules both
// sides hold changed, so a rule inserted above another shows as that one
// change. A rule
// iptables-save printed but hostdrift could not parse stands both in its
// chain and in Unparsed: the second is numbered like any repeated identity.
func (f *Firewall) Objects() []Object {
	var out []Object
	seen := map[string]int{}
	for _, t := range f.Tables {
		prefix := t.Backend + " " + t.Family + " " + t.Name
		for _, c := range t.Chains {
			chainID := prefix + " " + c.Name
			fields := map[string]string{"backend": t.Backend, "family": t.Family, "table": t.Name, "chain": c.Name}
			cf := withFields(fields, map[string]string{"hook": c.Hook, "type": c.Type, "policy": c.Policy, "device": c.Device})
			if c.Base() {
				cf["priority"] = strconv.Itoa(c.Priority)
			}
			out = append(out, Object{Area: AreaFirewall, Kind: "chain", ID: uniqueID(seen, chainID), Fields: cf})
			follows := "(start of chain)"
			for _, r := range c.Rules {
				text := normaliseRuleText(r.Text)
				id := uniqueID(seen, chainID+": "+text)
				rf := withFields(fields, map[string]string{"rule": text, "comment": r.Comment, "follows": follows})
				out = append(out, Object{Area: AreaFirewall, Kind: "rule", ID: id, Fields: rf})
				follows = text
			}
		}
		for _, s := range t.Sets {
			if s.Anonymous {
				continue // part of the rules that use it
			}
			sf := withFields(map[string]string{"backend": t.Backend, "family": t.Family, "table": t.Name, "set": s.Name},
				map[string]string{"key_type": strings.Join(s.KeyType, " . "), "data_type": s.DataType, "flags": strings.Join(s.Flags, ",")})
			sf["elements"], sf["content"] = setContent(s.Elements)
			out = append(out, Object{Area: AreaFirewall, Kind: "set", ID: uniqueID(seen, prefix+" set "+s.Name), Fields: sf})
		}
	}
	for _, s := range f.IPSets {
		elems := make([]SetElement, len(s.Members))
		for i, m := range s.Members {
			elems[i] = SetElement{Key: m.Key}
			if m.NoMatch {
				elems[i].Value = "nomatch"
			}
			if m.Wildcard {
				elems[i].Value += " wildcard"
			}
		}
		sf := withFields(map[string]string{"set": s.Name, "type": s.Type}, map[string]string{"family": s.Family})
		if s.Timeout > 0 {
			// Members expire and come back as traffic does: comparing them
			// would report churn, not drift.
			sf["timeout"] = strconv.FormatUint(uint64(s.Timeout), 10)
			sf["content"] = "(members expire: not compared)"
		} else {
			sf["elements"], sf["content"] = setContent(elems)
		}
		out = append(out, Object{Area: AreaFirewall, Kind: "ipset", ID: uniqueID(seen, "ipset "+s.Name), Fields: sf})
	}
	for _, u := range f.Unparsed {
		id := uniqueID(seen, u.Backend+" "+u.Family+" "+u.Table+" "+u.Chain+": "+normaliseRuleText(u.Text))
		out = append(out, Object{Area: AreaFirewall, Kind: "rule", ID: id, Fields: map[string]string{
			"backend": u.Backend, "family": u.Family, "table": u.Table, "chain": u.Chain,
			"rule": normaliseRuleText(u.Text), "unparsed": u.Reason,
		}})
	}
	return out
}

// counters matches the packet and byte counts a rule's text may carry.
var counters = regexp.MustCompile(`\[\d+:\d+\]\s*|counter packets \d+ bytes \d+`)

func normaliseRuleText(s string) string {
	if !strings.Contains(s, "[") && !strings.Contains(s, "counter packets") {
		if !strings.Contains(s, "  ") && strings.TrimSpace(s) == s {
			return s // the common case: nothing to strip
		}
		return strings.Join(strings.Fields(s), " ")
	}
	s = counters.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "counter") {
			return "counter"
		}
		return ""
	})
	return strings.Join(strings.Fields(s), " ")
}

// setContent summarises a set's elements: their number and a digest of the
// sorted elements, so a 10,000-element set is one comparable object.
func setContent(elems []SetElement) (count, digest string) {
	keys := make([]string, len(elems))
	for i, e := range elems {
		keys[i] = strings.Join(e.Key, " . ") + " : " + e.Value
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{'\n'})
	}
	return strconv.Itoa(len(elems)), "sha256:" + hex.EncodeToString(h.Sum(nil))[:16]
}

// Objects lists the listening sockets by protocol, address, port and
// program. Sockets on ephemeral ports are followed by program alone.
func (l *Listeners) Objects() []Object {
	out := make([]Object, 0, len(l.Sockets))
	seen := map[string]int{}
	for _, s := range l.Sockets {
		program := "(owner unknown)"
		unit := ""
		if s.Process != nil {
			program, unit = s.Process.Name, s.Process.Unit
		}
		port := strconv.Itoa(int(s.Port))
		if s.Port >= EphemeralLow && s.Port <= EphemeralHigh {
			port = "ephemeral"
		}
		endpoint := s.Address.String() + ":" + port
		if s.Address.Is6() {
			endpoint = "[" + s.Address.String() + "]:" + port
		}
		id := uniqueID(seen, s.Protocol+" "+endpoint+" "+program)
		fields := withFields(map[string]string{
			"protocol": s.Protocol, "address": s.Address.String(), "port": port, "program": program,
			"uid": strconv.FormatUint(uint64(s.UID), 10),
		}, map[string]string{"unit": unit})
		if s.Family == IPv6 {
			fields["v6only"] = strconv.FormatBool(s.V6Only)
		}
		out = append(out, Object{Area: AreaListeners, Kind: "listener", ID: id, Fields: fields})
	}
	return out
}

// Objects lists the resolvers, the /etc/hosts names and the DNS answers by
// name, type and server. TTLs, timings and which of several resolvers
// answered are noise.
func (d *DNS) Objects() []Object {
	out := []Object{{Area: AreaDNS, Kind: "resolvers", ID: "resolv.conf", Fields: map[string]string{
		"servers": strings.Join(d.Resolvers, " "),
	}}}
	byName := map[string][]string{}
	var names []string
	for _, e := range d.Hosts {
		for _, n := range e.Names {
			n = Canonical(n)
			if _, ok := byName[n]; !ok {
				names = append(names, n)
			}
			byName[n] = append(byName[n], e.IP.String())
		}
	}
	for _, n := range names {
		out = append(out, Object{Area: AreaDNS, Kind: "hosts", ID: n, Fields: map[string]string{
			"name": n, "addresses": strings.Join(byName[n], " "),
		}})
	}
	seen := map[string]int{}
	for _, q := range d.Queries {
		server := q.Server
		if server == "" {
			server = "system resolvers"
		}
		name := Canonical(q.Name)
		fields := map[string]string{"name": name, "type": q.Type, "server": server}
		if q.Error != "" {
			fields["outcome"] = "no answer"
		} else {
			fields["rcode"] = q.Rcode
			var chain []string
			for _, c := range q.CNAMEs {
				chain = append(chain, Canonical(c.Target))
			}
			if len(chain) > 0 {
				fields["cnames"] = strings.Join(chain, " -> ")
			}
			var addrs []string
			for _, r := range q.Records {
				addrs = append(addrs, r.IP.String())
			}
			for _, r := range q.Data {
				addrs = append(addrs, r.Value)
			}
			slices.Sort(addrs)
			fields["records"] = strings.Join(addrs, " | ")
			if len(q.Data) == 0 {
				fields["records"] = strings.Join(addrs, " ")
			}
		}
		id := uniqueID(seen, fmt.Sprintf("%s %s @%s", name, q.Type, server))
		out = append(out, Object{Area: AreaDNS, Kind: "answer", ID: id, Fields: fields, OnRequest: true})
	}
	return out
}

// withFields adds the non-empty extra fields to base.
func withFields(base, extra map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(extra))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// uniqueID numbers repeated identities (two identical rules in one chain,
// two processes on one ephemeral port): the second is "ID (#2)". It never
// hands out an identity twice, even when a rule's own text or a process
// name ends in " (#2)": a diff pairs objects by identity, so a repeated one
// would pair two different objects and report a change that is not there.
func uniqueID(seen map[string]int, id string) string {
	n := seen[id]
	if n == 0 {
		seen[id] = 1
		return id
	}
	for {
		n++
		numbered := id + " (#" + strconv.Itoa(n) + ")"
		if seen[numbered] == 0 {
			seen[id], seen[numbered] = n, 1
			return numbered
		}
	}
}
