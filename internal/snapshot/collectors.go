package snapshot

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
