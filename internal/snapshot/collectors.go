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

// readings move one collector's section from a snapshot to another.
var readings = map[string]func(dst, src *Snapshot){
	CollectorHost:      func(d, s *Snapshot) { d.Host = s.Host },
	CollectorListeners: func(d, s *Snapshot) { d.Listeners = s.Listeners },
	CollectorFirewall:  func(d, s *Snapshot) { d.Firewall = s.Firewall },
	CollectorDNS:       func(d, s *Snapshot) { d.DNS = s.DNS },
	CollectorDocker:    func(d, s *Snapshot) { d.Docker = s.Docker },
	CollectorCron:      func(d, s *Snapshot) { d.jobs().Cron = s.jobs().Cron },
	CollectorTimers:    func(d, s *Snapshot) { d.jobs().Timers = s.jobs().Timers },
	CollectorFiles:     func(d, s *Snapshot) { d.Files = s.Files },
	CollectorProbes:    func(d, s *Snapshot) { d.Probes = s.Probes },
	CollectorMounts:    func(d, s *Snapshot) { d.Mounts = s.Mounts },
	CollectorProcesses: func(d, s *Snapshot) { d.Processes = s.Processes },
	CollectorServices:  func(d, s *Snapshot) { d.Services = s.Services },
	CollectorPackages:  func(d, s *Snapshot) { d.Packages = s.Packages },
	CollectorAccounts:  func(d, s *Snapshot) { d.Accounts = s.Accounts },
	CollectorSysctl:    func(d, s *Snapshot) { d.Sysctl = s.Sysctl },
}

// jobs returns the snapshot's jobs section, made if it has none.
func (s *Snapshot) jobs() *Jobs {
	if s.Jobs == nil {
		s.Jobs = &Jobs{}
	}
	return s.Jobs
}

// KnowsCollector reports whether CopyReading can move the named
// collector's section.
func KnowsCollector(name string) bool {
	_, ok := readings[name]
	return ok
}

// CopyReading replaces the snapshot's reading of the named collector, its
// status and its section, with src's. A collector src did not run is left
// as it is; so is one this package does not know (KnowsCollector).
func (s *Snapshot) CopyReading(src *Snapshot, collector string) {
	st, ran := src.Collector(collector)
	move, known := readings[collector]
	if !ran || !known {
		return
	}
	move(s, src)
	i := slices.IndexFunc(s.Collectors, func(c CollectorStatus) bool { return c.Name == collector })
	if i < 0 {
		s.Collectors = append(s.Collectors, st)
	} else {
		s.Collectors[i] = st
	}
	slices.SortFunc(s.Collectors, func(a, b CollectorStatus) int { return strings.Compare(a.Name, b.Name) })
}
