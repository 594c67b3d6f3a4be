package rules_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/policies"
	"github.com/hostdrift/hostdrift/rules"
)

// collectorNames are every collector: each has a no-evidence state below.
var collectorNames = []string{
	snapshot.CollectorHost, snapshot.CollectorListeners, snapshot.CollectorFirewall, snapshot.CollectorDNS,
	snapshot.CollectorDocker, snapshot.CollectorCron, snapshot.CollectorTimers, snapshot.CollectorFiles,
	snapshot.CollectorProbes, snapshot.CollectorMounts, snapshot.CollectorProcesses, snapshot.CollectorServices,
	snapshot.CollectorPackages, snapshot.CollectorAccounts, snapshot.CollectorSysctl,
}

// blindState is what a collector records when it could not see what a
// check asks about: its section then holds defaults (no result, no
// running values), not evidence.
type blindState struct {
	name      string
	collector string
	root      string
	section   snapshot.Section
	// judged are the built-in checks that may pass: they are judged on
	// what the collector did read (unit files, crontabs).
	judged []string
}

func offlineTimers(why string) *snapshot.Timers {
	tm := &snapshot.Timers{Source: snapshot.TimersFiles, Offline: why, Errors: []snapshot.FileError{}}
	for _, u := range []string{"apt-daily", "apt-daily-upgrade", "dpkg-db-backup", "e2scrub_all", "fstrim", "logrotate", "man-db"} {
		tm.Timers = append(tm.Timers, snapshot.Timer{Unit: u + ".timer", File: "/lib/systemd/system/" + u + ".timer", Enabled: "enabled",
			Calendar: []string{"daily"}, PeriodSeconds: 86400, Service: u + ".service", ServiceFile: "/lib/systemd/system/" + u + ".service",
			Programs: []snapshot.Program{ok("/usr/bin/true")}})
	}
	return tm
}

// blindCron is a cron section with one job whose daemon state is daemon.
func blindCron(daemon, why string) *snapshot.Cron {
	return &snapshot.Cron{Daemon: daemon, DaemonError: why, MTA: "/usr/sbin/sendmail", Ignored: []snapshot.IgnoredFile{}, Errors: []snapshot.FileError{},
		Jobs: []snapshot.CronJob{{File: "/etc/cron.d/backup", Line: 2, Kind: snapshot.CronSystem, Schedule: "0 2 * * *", User: "root",
			Command: "/usr/local/bin/backup", PeriodSeconds: 86400, Programs: []snapshot.Program{ok("/usr/local/bin/backup")},
			Output: snapshot.JobOutput{ToCron: []string{}, MailTo: "root"}}}}
}

func blindStates() []blindState {
	return []blindState{
		{name: "timers without systemd", collector: snapshot.CollectorTimers, section: offlineTimers(snapshot.TimersNoSystemd), judged: []string{"timer.programs-exist"}},
		{name: "timers of an old snapshot", collector: snapshot.CollectorTimers, section: offlineTimers(""), judged: []string{"timer.programs-exist"}},
		{name: "timers below --root", collector: snapshot.CollectorTimers, root: "/srv/image", section: offlineTimers(snapshot.TimersOtherRoot), judged: []string{"timer.programs-exist"}},
		{name: "timers systemd did not answer", collector: snapshot.CollectorTimers, section: offlineTimers(snapshot.TimersNoAnswer), judged: []string{"timer.programs-exist"}},
		{name: "cron daemon unknown below --root", collector: snapshot.CollectorCron, root: "/srv/image", section: blindCron(snapshot.DaemonUnknown, ""), judged: []string{"cron.programs-exist", "cron.output-not-lost"}},
		{name: "cron daemon unknown, /proc unreadable", collector: snapshot.CollectorCron, section: blindCron(snapshot.DaemonUnknown, "/proc could not be read"), judged: []string{"cron.programs-exist", "cron.output-not-lost"}},
		{name: "services from unit files", collector: snapshot.CollectorServices, section: &snapshot.Services{Source: snapshot.ServicesFiles,
			Units: []snapshot.Unit{{Name: "ssh.service", FileState: "enabled", File: "/lib/systemd/system/ssh.service"}}, Errors: []snapshot.FileError{}}},
		{name: "sysctl without /proc", collector: snapshot.CollectorSysctl, root: "/srv/image", section: &snapshot.Sysctl{Live: false,
			Params: []snapshot.SysctlParam{{Key: "net.ipv4.ip_forward", Configured: "0", Source: "/etc/sysctl.d/10-forward.conf"}}}},
		{name: "mounts below --root", collector: snapshot.CollectorMounts, root: "/srv/image", section: &snapshot.Mounts{Live: false, Mounts: []snapshot.Mount{},
			Fstab: []snapshot.FstabEntry{{Line: 1, Source: "/dev/sda1", MountPoint: "/", FSType: "ext4", Options: []string{"defaults"}}}}},
	}
}

// TestNoPassWithoutEvidence: where a collector could not see, no check
// of the built-in policy passes on the defaults its section holds; only
// the checks judged on what it did read may.
func TestNoPassWithoutEvidence(t *testing.T) {
	files, err := policies.Default()
	if err != nil {
		t.Fatal(err)
	}
	var srcs []rules.Source
	for _, f := range files {
		srcs = append(srcs, rules.Source{Name: f.Name, Text: f.Text, Builtin: true})
	}
	p, diags := rules.Load(srcs)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	host := snapshot.Host{Hostname: "web1", FQDN: "web1.example.com"}
	plan, diags := p.Compile(&host, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	states := blindStates()
	// Every collector also has the blind state of a collector that failed.
	for _, name := range collectorNames {
		states = append(states, blindState{name: name + " failed", collector: name})
	}
	covered := map[string]bool{}
	for _, st := range states {
		covered[st.collector] = true
		t.Run(st.name, func(t *testing.T) {
			s := &snapshot.Snapshot{Schema: snapshot.Schema, TakenAt: now, Root: st.root, Host: host}
			status := snapshot.CollectorStatus{Name: st.collector, Status: snapshot.StatusOK}
			if st.section == nil {
				status.Status, status.Reason = snapshot.StatusError, "could not read"
			} else {
				st.section.Attach(s)
			}
			if st.name == "timers systemd did not answer" {
				status.Status, status.Reason = snapshot.StatusPartial, "systemd runs but did not answer over D-Bus"
			}
			s.Collectors = []snapshot.CollectorStatus{status}
			s = saved(t, s)
			n := 0
			for _, f := range plan.Evaluate(s, now) {
				if f.Status != finding.Pass {
					continue
				}
				allowed := false
				for _, j := range st.judged {
					allowed = allowed || f.Check == j
				}
				if !allowed {
					t.Errorf("%s passes without evidence: %s", f.Check, f.Explanation)
				}
				n++
			}
			if n != len(st.judged) {
				t.Errorf("%d checks pass, want exactly %v", n, st.judged)
			}
		})
	}
	for _, name := range collectorNames {
		if !covered[name] {
			t.Errorf("collector %s has no no-evidence state", name)
		}
	}
}

// TestTimerOwnCheckWithoutSystemd: a policy's own check of a timer's last
// result, where no systemd runs, is an error that says why, never a pass.
func TestTimerOwnCheckWithoutSystemd(t *testing.T) {
	s := &snapshot.Snapshot{Schema: snapshot.Schema, TakenAt: jobsNow,
		Collectors: []snapshot.CollectorStatus{{Name: "timers", Status: snapshot.StatusOK}},
		Jobs:       &snapshot.Jobs{Timers: offlineTimers(snapshot.TimersNoSystemd)}}
	for _, src := range []string{`timer "all" {
  require = ["result"]
}`, `timer "logrotate" {
  unit = "logrotate"
}`, `timer "due" {
  require = ["triggered"]
}`} {
		f := evaluate(t, src, saved(t, s), jobsNow)[0]
		if f.Status != finding.Error || !strings.Contains(f.Explanation, "systemd is not the init system here") {
			t.Errorf("%s: %s: %s", src, f.Status, f.Explanation)
		}
	}
}

// TestCronDaemonBelowRoot: below --root no cron daemon can run, so a check
// that it does is skip with the reason, not the error that made the run
// exit 3; a check with more requirements judges the rest and is skip when
// they hold. Blindness on the live host stays an error, and cron not
// installed in the image stays a fail.
func TestCronDaemonBelowRoot(t *testing.T) {
	snap := func(root, daemonErr, program string) *snapshot.Snapshot {
		s := &snapshot.Snapshot{Schema: snapshot.Schema, TakenAt: jobsNow, Root: root,
			Collectors: []snapshot.CollectorStatus{{Name: "cron", Status: snapshot.StatusOK}},
			Jobs:       &snapshot.Jobs{Cron: blindCron(snapshot.DaemonUnknown, "")}}
		s.Jobs.Cron.DaemonError, s.Jobs.Cron.DaemonProgram, s.Jobs.Cron.PackageDB = daemonErr, program, "dpkg"
		return saved(t, s)
	}
	for _, c := range []struct {
		name, src string
		s         *snapshot.Snapshot
		status    finding.Status
		want      string
	}{
		{"image", "cron \"d\" {\n  require = [\"daemon\"]\n}", snap("/srv/image", "", "/usr/sbin/cron"), finding.Skip, "does not apply below --root (/srv/image): whether a cron daemon runs is a fact of a running system"},
		{"image, more", "cron \"d\" {\n  require = [\"daemon\", \"program\"]\n}", snap("/srv/image", "", "/usr/sbin/cron"), finding.Skip, "; the rest (program) holds for 1 job(s)"},
		{"image without cron", "cron \"d\" {\n  require = [\"daemon\"]\n}", snap("/srv/image", "", ""), finding.Fail, "cron is not installed"},
		{"live, /proc unreadable", "cron \"d\" {\n  require = [\"daemon\"]\n}", snap("", "/proc could not be read", "/usr/sbin/cron"), finding.Error, "/proc could not be read"},
	} {
		f := evaluate(t, c.src, c.s, jobsNow)[0]
		if f.Status != c.status || !strings.Contains(f.Explanation, c.want) {
			t.Errorf("%s: %s: %s; want %s and %q", c.name, f.Status, f.Explanation, c.status, c.want)
		}
	}
}
