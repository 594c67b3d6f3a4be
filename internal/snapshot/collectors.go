package snapshot

import (
	"slices"
	"strings"
)

// Collector names. Each collector registers under one of these, a check kind
// names the ones it reads in its Needs, and a CollectorStatus carries it:
// the name is written once, here.
const (
	CollectorHost      = "host"
	CollectorListeners = "listeners"
	CollectorFirewall  = "firewall"
	CollectorDNS       = "dns"
	CollectorDocker    = "docker"
	CollectorCron      = "cron"
	CollectorTimers    = "timers"
	CollectorFiles     = "files"
	CollectorProbes    = "probes"
	CollectorMounts    = "mounts"
	CollectorProcesses = "processes"
	CollectorServices  = "services"
	CollectorPackages  = "packages"
	CollectorAccounts  = "accounts"
	CollectorSysctl    = "sysctl"
)

// KnowsCollector reports whether CopyReading can move the named
// collector's section.
func KnowsCollector(name string) bool {
	_, ok := sectionOf(name)
	return ok
}

// CopyReading replaces the snapshot's reading of the named collector, its
// status and its section, with src's. A collector src did not run is left
// as it is; so is one this package does not know (KnowsCollector).
func (s *Snapshot) CopyReading(src *Snapshot, collector string) {
	st, ran := src.Collector(collector)
	sec, known := sectionOf(collector)
	if !ran || !known {
		return
	}
	sec.move(s, src)
	i := slices.IndexFunc(s.Collectors, func(c CollectorStatus) bool { return c.Name == collector })
	if i < 0 {
		s.Collectors = append(s.Collectors, st)
	} else {
		s.Collectors[i] = st
	}
	slices.SortFunc(s.Collectors, func(a, b CollectorStatus) int { return strings.Compare(a.Name, b.Name) })
}
