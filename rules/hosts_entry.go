package rules

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "hosts_entry",
		Summary: "/etc/hosts pins a name only to the expected addresses or, without expect, to what DNS answers",
		Attributes: []hcl.AttributeSchema{
			{Name: "name", Required: true},
			{Name: "expect"},
			{Name: "allow_loopback"},
		},
		AttributeDocs: map[string]string{
			"name":           "the names to look up in /etc/hosts: one or a list",
			"expect":         "the addresses /etc/hosts may pin them to (lists may nest); without it, what DNS answers for the name",
			"allow_loopback": "true: a loopback address (127.0.1.1, as Debian writes) is fine too; default false",
		},
		Needs:  []string{snapshot.CollectorDNS},
		Decode: decodeHostsEntry,
	})
}

// hostsEntryCheck: every /etc/hosts line that pins one of names gives an
// expected address (loopback too when allowed) or, without expect, an
// address DNS answers for the name: a line that shadows DNS makes this host
// see a name differently from every other machine.
type hostsEntryCheck struct {
	names    []string
	expect   addressSet
	loopback bool
}

func decodeHostsEntry(d *Decoder) Check {
	c := &hostsEntryCheck{expect: decodeAddresses(d, "expect"), loopback: d.Bool("allow_loopback", false)}
	for _, n := range d.Strings("name") {
		if n = decodeName(d, n); n != "" && !contains(c.names, n) {
			c.names = append(c.names, n)
		}
	}
	return c
}

// Want asks the system resolvers for the names when the entries are to be
// compared with DNS.
func (c *hostsEntryCheck) Want(w *snapshot.Wants) {
	if c.expect.set {
		return
	}
	for _, n := range c.names {
		if strings.Contains(n, ".") {
			w.DNS = append(w.DNS,
				snapshot.DNSQuery{Name: n, Type: snapshot.TypeA},
				snapshot.DNSQuery{Name: n, Type: snapshot.TypeAAAA})
		}
	}
}

func (c *hostsEntryCheck) Evaluate(s *snapshot.Snapshot) Result {
	names := joinAnd(c.names, "and")
	if s.DNS.HostsError != "" {
		return Errorf("/etc/hosts could not be read: %s", s.DNS.HostsError)
	}
	r := Result{Expected: "/etc/hosts pins " + names + " only to what DNS answers"}
	if c.expect.set {
		r.Expected = "/etc/hosts pins " + names + " only to " + describeExpected(c.expect, s)
		if c.loopback {
			r.Expected += " or loopback"
		}
	}
	var lines []int
	pinned := map[int][]string{}
	entry := map[int]snapshot.HostsEntry{}
	for _, n := range c.names {
		for _, e := range s.DNS.HostsFor(n) {
			if _, ok := entry[e.Line]; !ok {
				lines = append(lines, e.Line)
				entry[e.Line] = e
			}
			pinned[e.Line] = append(pinned[e.Line], n)
		}
	}
	if len(lines) == 0 {
		r.Status, r.Observed = finding.Pass, "no entry"
		r.Explanation = "/etc/hosts has no entry for " + names + "; lookups go to DNS"
		return r
	}
	sort.Ints(lines)
	var entries, bad []string
	for _, l := range lines {
		entries = append(entries, fmt.Sprintf("line %d: %s %s", l, entry[l].IP, strings.Join(pinned[l], " ")))
		judged := pinned[l]
		if c.expect.set {
			judged = []string{joinAnd(pinned[l], "and")} // one verdict per line
		}
		for _, n := range judged {
			why, res := c.judge(s, n, entry[l])
			if res != nil {
				return *res
			}
			if why != "" {
				bad = append(bad, why)
			}
		}
	}
	r.Observed = strings.Join(entries, "; ")
	if len(bad) == 0 {
		r.Status = finding.Pass
		r.Explanation = "/etc/hosts entries agree: " + r.Observed
		return r
	}
	r.Status = finding.Fail
	r.Explanation = strings.Join(bad, "; ")
	r.Remediation = "edit /etc/hosts: point the name at the current address (127.0.1.1 on a host without a permanent address), or remove the line so lookups go to DNS"
	return r
}

// judge says what is wrong with one entry, or returns the error result when
// DNS could not answer to compare with.
func (c *hostsEntryCheck) judge(s *snapshot.Snapshot, name string, e snapshot.HostsEntry) (string, *Result) {
	pins := fmt.Sprintf("/etc/hosts line %d pins %s to %s", e.Line, name, e.IP)
	if c.loopback && e.IP.IsLoopback() {
		return "", nil
	}
	if c.expect.set {
		if c.expect.has(e.IP) {
			return "", nil
		}
		return pins + ", which is " + notExpected(c.expect, s, false), nil
	}
	if res := singleLabel(name, s); res != nil {
		// Without expect, the entry is judged against DNS, which a name
		// without a domain cannot be asked: this check cannot tell.
		e := Errorf("cannot compare %s with DNS: %s", pins, res.Explanation)
		return "", &e
	}
	t := snapshot.TypeA
	if e.IP.Is6() && !e.IP.Is4In6() {
		t = snapshot.TypeAAAA
	}
	results, failed, res := lookup(s, name, []string{t}, "")
	if res == nil && len(failed) > 0 {
		e := Errorf("%s", queryErrors(name, failed))
		e.Remediation = queryRemediation
		res = &e
	}
	if res != nil {
		res.Explanation = "cannot compare " + pins + " with DNS: " + res.Explanation
		return "", res
	}
	q := results[0]
	switch {
	case hasRecord(q, e.IP):
		return "", nil
	case q.Rcode == "NXDOMAIN" || len(q.Records) == 0:
		return fmt.Sprintf("%s, but %s: programs on this host find a name that the rest of the network does not", pins, unresolved(name, results)), nil
	}
	return fmt.Sprintf("%s, but DNS answers %s: programs on this host reach %s, every other machine the address DNS gives",
		pins, describeAnswers(name, results, nil), e.IP), nil
}
