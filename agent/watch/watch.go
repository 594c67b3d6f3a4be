// Package watch tells a long-running hostdrift (hostdrift serve) which areas
// of the host may have changed, as soon as the kernel or a daemon says so.
// A source only reads; it never changes the host, and it never judges: it
// names the collectors whose reading may be stale, and the caller reads
// them again. The collectors declare what each source's events name: the
// files and folders they read (agent.Reader) and the other sources they
// follow (agent.Follower). The sources:
//
//   - nftables: the NFNLGRP_NFTABLES netlink group in Env.NetNS, one event
//     per committed transaction (nft, iptables-nft, firewalld, ufw on
//     nf_tables).
//   - rtnetlink: link, address and route groups in Env.NetNS.
//   - inotify, below Env.Root: the files and folders the collectors
//     declare they read (a file's link target too); Options.Files: files.
//     Options.PolicyPaths (on this machine, not below the root): a policy
//     event. Missing folders are watched from their nearest existing
//     parent until they appear.
//   - systemd: D-Bus signals of the running systemd (unit ActiveState,
//     SubState, Result and NRestarts of services and timers, job results,
//     unit files changed, reloads).
//   - docker: the engine's events API (container create, start, stop, die,
//     destroy...; network create, connect, disconnect, remove).
//   - mounts: this machine's mount table, through the kernel's mark on
//     mountinfo and a hashed re-read every Options.ListenersEvery.
//   - poll, where nothing notifies: every Options.ListenersEvery, the
//     processes (processes), and a sock_diag fingerprint of the listening
//     sockets, which sends an event (listeners, probes) only when the set
//     changed, a connection waits in an accept queue, the fingerprint
//     failed, or FullReadEvery passed since the last re-read; every Options.LegacyEvery, iptables-legacy rules, only
//     while legacy tables are loaded in the namespace (firewall), and
//     live kernel parameters on the live host (sysctl); DNS when
//     Options.DNSNext says (dns).
//
// Start runs them and merges their events; Coalesce batches a burst; Areas
// says what a batch asks to read again.
package watch

import (
	"context"
	"time"

	"github.com/hostdrift/hostdrift/agent"
)

// Event says that one or more areas of the host may have changed.
type Event struct {
	// Source names where the news came from: "nftables", "rtnetlink",
	// "inotify", "mounts", "systemd", "docker", "poll" or "policy" (a
	// policy file, seen by inotify).
	Source string
	// Collectors lists the collectors (snapshot.Collector* names) whose
	// reading the change may have made stale. Empty for a policy event.
	Collectors []string
	// Detail says what changed, for the log line of a transition it
	// causes: "/etc/cron.d/backup-db written", "table inet filter: rule
	// added", "unit backup.timer: ActiveState=failed".
	Detail string
	// Policy is set when one of Options.PolicyPaths changed: the caller
	// reloads and validates the policy.
	Policy bool
	// At is when the source saw the change.
	At time.Time
	// Err, when set, says that the source stopped watching and why: its
	// areas are no longer watched (Collectors names them, so that the
	// caller reads them once more). The caller logs it.
	Err error
}

// Options configure the sources.
type Options struct {
	// Env is the host being watched: Root for files, NetNS for netlink.
	Env agent.Env
	// PolicyPaths are the policy files and folders to watch; a change
	// sends an Event with Policy set.
	PolicyPaths []string
	// Files are further paths the policy judges (file checks); a change
	// sends an Event for the files collector.
	Files []string
	// ListenersEvery is the poll interval of the listening sockets'
	// fingerprint (re-read only on change, a queued connection, or every
	// FullReadEvery), the processes and the mount table
	// (DefaultListenersEvery when zero);
	// LegacyEvery that of iptables-legacy rules and live sysctl values
	// (DefaultLegacyEvery when zero). No poll waits less than MinPoll.
	ListenersEvery, LegacyEvery time.Duration
	// DNSNext, when not nil, says how long to wait before the DNS answers
	// are read again (the caller derives it from the last answers' TTLs,
	// within a floor and a ceiling); it is asked after every DNS event.
	// No DNS polling when nil.
	DNSNext func() time.Duration
	// DockerHost is the Docker engine to watch, in DOCKER_HOST form
	// (unix:///path, tcp://host:port); when empty, DOCKER_HOST, else
	// Env.Root's /var/run/docker.sock. No Docker watch when none exists.
	DockerHost string
	// SystemBus is the D-Bus system bus address to follow systemd on
	// (unix:path=/run/dbus/system_bus_socket form). When empty: the
	// DBUS_SYSTEM_BUS_ADDRESS, else DefaultSystemBus, and only when Env.Root
	// is / and PID 1 is systemd.
	SystemBus string
	// Collectors, when not empty, limits the events to these collectors:
	// a source none of whose collectors is listed is not started.
	Collectors []string
}

// Source watches one kind of change.
type Source interface {
	// Name is the Event.Source the source sends.
	Name() string
	// Run sends events on out until ctx ends. It returns an error when it
	// stops watching before that; Start then sends an Event with Err set.
	// Whether a source can watch here at all is found before Run, when
	// Start makes it.
	Run(ctx context.Context, out chan<- Event) error
}
