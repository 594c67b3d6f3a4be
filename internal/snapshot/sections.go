package snapshot

// section is one collector's part of a snapshot: how its reading moves
// from one snapshot to another, and, when its objects take part in diffs
// and baselines, the area they are compared under and how they are found.
type section struct {
	collector string
	// area is "" for a reading whose objects are not compared (probes).
	area    string
	move    func(dst, src *Snapshot)
	objects func(*Snapshot) Objecter
}

// sections is the one table of the snapshot's parts, in the order diffs
// list their areas. CopyReading, KnowsCollector, AreaCollectors, AreaNames
// and Areas derive from it: a new area is a Collector and an Area name, a
// field of Snapshot with its Attach, and a line here.
var sections = []section{
	field(CollectorFirewall, AreaFirewall, func(s *Snapshot) **Firewall { return &s.Firewall }),
	field(CollectorListeners, AreaListeners, func(s *Snapshot) **Listeners { return &s.Listeners }),
	field(CollectorDNS, AreaDNS, func(s *Snapshot) **DNS { return &s.DNS }),
	field(CollectorDocker, AreaDocker, func(s *Snapshot) **Docker { return &s.Docker }),
	{collector: CollectorCron, area: AreaCron,
		move: func(d, s *Snapshot) { d.jobs().Cron = s.jobs().Cron },
		objects: func(s *Snapshot) Objecter {
			if s.Jobs == nil {
				return nil
			}
			return nilIfNil(s.Jobs.Cron)
		}},
	field(CollectorFiles, AreaFiles, func(s *Snapshot) **Files { return &s.Files }),
	{collector: CollectorHost, area: AreaInterfaces,
		move:    func(d, s *Snapshot) { d.Host = s.Host },
		objects: func(s *Snapshot) Objecter { return &s.Host }},
	field(CollectorMounts, AreaMounts, func(s *Snapshot) **Mounts { return &s.Mounts }),
	{collector: CollectorTimers, area: AreaTimers,
		move: func(d, s *Snapshot) { d.jobs().Timers = s.jobs().Timers },
		objects: func(s *Snapshot) Objecter {
			if s.Jobs == nil {
				return nil
			}
			return nilIfNil(s.Jobs.Timers)
		}},
	field(CollectorServices, AreaServices, func(s *Snapshot) **Services { return &s.Services }),
	field(CollectorPackages, AreaPackages, func(s *Snapshot) **Packages { return &s.Packages }),
	field(CollectorAccounts, AreaAccounts, func(s *Snapshot) **Accounts { return &s.Accounts }),
	field(CollectorSysctl, AreaSysctl, func(s *Snapshot) **Sysctl { return &s.Sysctl }),
	{collector: CollectorProbes,
		move: func(d, s *Snapshot) { d.Probes = s.Probes }},
	{collector: CollectorProcesses,
		move: func(d, s *Snapshot) { d.Processes = s.Processes }},
}

// field is the section of a collector whose reading is one pointer field
// of Snapshot.
func field[T any, P interface {
	*T
	Objecter
}](collector, area string, at func(*Snapshot) *P) section {
	return section{collector: collector, area: area,
		move:    func(d, s *Snapshot) { *at(d) = *at(s) },
		objects: func(s *Snapshot) Objecter { return nilIfNil(*at(s)) }}
}

// nilIfNil turns a typed nil section into an untyped nil interface.
func nilIfNil[T any, P interface {
	*T
	Objecter
}](p P) Objecter {
	if p == nil {
		return nil
	}
	return p
}

// sectionOf returns the named collector's section.
func sectionOf(collector string) (section, bool) {
	for _, sec := range sections {
		if sec.collector == collector {
			return sec, true
		}
	}
	return section{}, false
}

// jobs returns the snapshot's jobs section, made if it has none.
func (s *Snapshot) jobs() *Jobs {
	if s.Jobs == nil {
		s.Jobs = &Jobs{}
	}
	return s.Jobs
}
