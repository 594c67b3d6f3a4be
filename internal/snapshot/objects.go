package snapshot

import "slices"

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
	// OnRequest marks objects that exist because a policy asked for them (a
	// DNS answer): missing on one side means the question was not asked
	// there, not that the thing is gone, so only changes are compared.
	OnRequest bool `json:"on_request,omitempty"`
}

// Objecter is a section that takes part in diffs.
type Objecter interface {
	Objects() []Object
}

// Areas of objects, and the collector each comes from: an area is compared
// only when its collector was usable in both snapshots.
const (
	AreaFirewall   = "firewall"
	AreaListeners  = "listeners"
	AreaDNS        = "dns"
	AreaDocker     = "docker"
	AreaCron       = "cron"
	AreaTimers     = "timers"
	AreaMounts     = "mounts"
	AreaInterfaces = "interfaces"
	AreaFiles      = "files"
	AreaServices   = "services"
	AreaPackages   = "packages"
	AreaAccounts   = "accounts"
	AreaSysctl     = "sysctl"
)

// AreaCollectors maps every area to the collector that reads it.
func AreaCollectors() map[string]string {
	m := map[string]string{}
	for _, sec := range sections {
		if sec.area != "" {
			m[sec.area] = sec.collector
		}
	}
	return m
}

// AreaNames lists the areas, sorted.
func AreaNames() []string {
	var out []string
	for _, sec := range sections {
		if sec.area != "" {
			out = append(out, sec.area)
		}
	}
	slices.Sort(out)
	return out
}

// AreaObjects is one area of a snapshot, ready to be compared.
type AreaObjects struct {
	Area      string
	Collector string
	// Ran is false when the collector did not run at all.
	Ran bool
	// Usable is false when the collector failed, was skipped or did not run;
	// Reason then says why, and Objects is empty.
	Usable  bool
	Reason  string
	Objects []Object
}

// Areas returns every area's objects, in a fixed order.
func (s *Snapshot) Areas() []AreaObjects {
	var out []AreaObjects
	for _, src := range sections {
		if src.area == "" {
			continue
		}
		st, ran := s.Collector(src.collector)
		a := AreaObjects{Area: src.area, Collector: src.collector, Ran: ran}
		sec := src.objects(s)
		switch {
		case !ran:
			a.Reason = "the " + src.collector + " collector did not run"
		case !st.Usable():
			a.Reason = "the " + src.collector + " collector " + string(st.Status) + ": " + st.Reason
		case sec == nil:
			a.Reason = "the " + src.collector + " collector recorded nothing"
		default:
			a.Usable = true
			a.Objects = sec.Objects()
		}
		out = append(out, a)
	}
	return out
}
