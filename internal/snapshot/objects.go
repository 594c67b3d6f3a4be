package snapshot

// Object is one thing in a snapshot that a diff follows from one run to the
// next: a firewall rule, a listener, a Docker network, a cron job, a DNS
// answer. Its identity survives noise (handles, counters, pids, positions,
// timestamps, container ids), so the same thing seen tomorrow has the same ID
// and only a real change shows as one.
type Object struct {
	// Area is the section the object belongs to: firewall, listeners, dns,
	// docker, jobs. Policies' ignore blocks and drift severities select on it.
	Area string `json:"area"`
	// Kind says what the object is within its area: rule, chain, listener,
	// network, container, cron, timer, answer.
	Kind string `json:"kind"`
	// ID is the object's stable identity within its area and kind, readable
	// by an operator ("iptables-nft ip filter INPUT: -p tcp --dport 22 -j ACCEPT").
	ID string `json:"id"`
	// Fields are the object's compared attributes, noise left out. A diff
	// reports a changed object field by field; ignore blocks match on them.
	Fields map[string]string `json:"fields,omitempty"`
}

// Objecter is a section that takes part in diffs.
type Objecter interface {
	Objects() []Object
}
