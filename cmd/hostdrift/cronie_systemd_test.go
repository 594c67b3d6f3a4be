package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/debroot"
	"github.com/hostdrift/hostdrift/internal/testkit/dockertest"
	"github.com/hostdrift/hostdrift/internal/testkit/fixture"
)

// cronieLayout is what cronie and cronie-anacron install, as their
// contrib/ files have it (cronie 1.7): crond.service, /etc/crontab with no
// run-parts line, /etc/cron.d/0hourly, /etc/cron.hourly/0anacron and
// /etc/anacrontab; and a root crontab in cronie's spool, /var/spool/cron.
// crond.service starts Debian's cron program copied to cronie's path,
// /usr/sbin/crond, with Debian's foreground flag (-f; cronie's is -n).
var cronieLayout = map[string]string{
	"usr/lib/systemd/system/crond.service": `[Unit]
Description=Command Scheduler (Debian's cron program at cronie's path, standing in for cronie)
After=auditd.service nss-user-lookup.target systemd-user-sessions.service time-sync.target ypbind.service autofs.service

[Service]
EnvironmentFile=-/etc/sysconfig/crond
ExecStart=/usr/sbin/crond -f $CRONDARGS
ExecReload=/bin/kill -URG $MAINPID
KillMode=process
Restart=on-failure
RestartSec=30s

[Install]
WantedBy=multi-user.target
`,
	"etc/systemd/system/multi-user.target.wants/crond.service": "-> /usr/lib/systemd/system/crond.service",
	"etc/sysconfig/crond": "# Settings for the CRON daemon.\n# CRONDARGS= :  any extra command-line startup arguments for crond\nCRONDARGS=\n",
	"etc/crontab":         "SHELL=/bin/bash\nPATH=/sbin:/bin:/usr/sbin:/usr/bin\nMAILTO=root\n\n# For details see man 4 crontabs\n",
	"etc/cron.d/0hourly":  "# Run the hourly jobs\nSHELL=/bin/bash\nPATH=/sbin:/bin:/usr/sbin:/usr/bin\nMAILTO=root\n01 * * * * root run-parts /etc/cron.hourly\n",
	"etc/cron.hourly/0anacron@": `#!/bin/sh
# Check whether 0anacron was run today already
if test -r /var/spool/anacron/cron.daily; then
    day=` + "`cat /var/spool/anacron/cron.daily`" + `
fi
if [ ` + "`date +%Y%m%d`" + ` = "$day" ]; then
    exit 0
fi

# Check whether run on battery should be allowed
if test -r /etc/default/anacron; then
    . /etc/default/anacron
fi

if [ "$ANACRON_RUN_ON_BATTERY_POWER" != "yes" ]; then

    # Do not run jobs when on battery power
    online=1
    for psupply in /sys/class/power_supply/* ; do
        if [ ` + "`cat \"$psupply/type\" 2>/dev/null`" + `x = Mainsx ] && [ -f "$psupply/online" ]; then
            if [ ` + "`cat \"$psupply/online\" 2>/dev/null`" + `x = 1x ]; then
                online=1
                break
            else
                online=0
            fi
        fi
    done
    if [ $online = 0 ]; then
        exit 0
    fi

fi
/usr/sbin/anacron -s
`,
	"etc/anacrontab": `# /etc/anacrontab: configuration file for anacron

# See anacron(8) and anacrontab(5) for details.

SHELL=/bin/sh
PATH=/sbin:/bin:/usr/sbin:/usr/bin
MAILTO=root
# the maximal random delay added to the base delay of the jobs
RANDOM_DELAY=45
# the jobs will be started during the following hours only
START_HOURS_RANGE=3-22

#period in days   delay in minutes   job-identifier   command
1	5	cron.daily		nice run-parts /etc/cron.daily
7	25	cron.weekly		nice run-parts /etc/cron.weekly
@monthly 45	cron.monthly		nice run-parts /etc/cron.monthly
`,
	"var/spool/cron/root": "# clean old files out of /var/tmp (added by the admin)\n15 4 * * * /usr/bin/find /var/tmp -xdev -type f -mtime +30 -delete\n",
}

// adminUserCronJob is adminCronJob as a line of a user's crontab: a job
// whose program is gone.
const adminUserCronJob = "# nightly database dump (added by the admin, OPS-17)\n30 2 * * * /usr/local/bin/backup-db --all\n"

// debianCronFiles are what Debian's cron and anacron packages install that
// cronie does not: their units and init scripts (systemd would generate a
// cron.service from /etc/init.d/cron), Debian's anacron line and stamp
// scripts; and the run-parts scripts of Debian's packages, which a RHEL
// host does not have (its daily work is in timers). Each must exist.
var debianCronFiles = []string{
	"usr/sbin/cron", "usr/lib/systemd/system/cron.service", "etc/systemd/system/multi-user.target.wants/cron.service", "etc/init.d/cron",
	"usr/lib/systemd/system/anacron.service", "usr/lib/systemd/system/anacron.timer", "etc/init.d/anacron", "etc/cron.d/anacron",
}

// debianCronGlobs are Debian's cron and anacron leftovers that may or may
// not be there: rc links and the packages' run-parts scripts.
var debianCronGlobs = []string{
	"etc/rc?.d/[SK][0-9][0-9]cron", "etc/rc?.d/[SK][0-9][0-9]anacron", "etc/systemd/system/*.wants/anacron.*",
	"etc/cron.daily/*", "etc/cron.weekly/*", "etc/cron.monthly/*",
}

// TestCronieUnderRealSystemd boots the RHEL-shaped root (Debian 12 with the
// corpus's RHEL package list) laid out as cronie and cronie-anacron lay out
// a host, with a cron daemon running as crond.service, and runs the
// built-in policy in it: cronie's layout is read (crond.service decides),
// its jobs are judged and stock it is quiet (exit 0); a job in root's
// crontab in /var/spool/cron whose program is missing is then reported as
// exactly that fault. What stands in: the daemon is Debian's cron program
// (it does not read /var/spool/cron, and it drops output where cronie
// would log it); anacron is Debian's, started as cronie-anacron starts it.
func TestCronieUnderRealSystemd(t *testing.T) {
	e := dockertest.Start(t)
	root := debroot.Copy(t, debroot.CachedSuite(t, rootRHELShaped.suite, rootRHELShaped.include...))
	cron, err := os.ReadFile(filepath.Join(root, "usr/sbin/cron"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/sbin/crond"), cron, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range debianCronFiles {
		if err := os.Remove(filepath.Join(root, p)); err != nil {
			t.Fatalf("fixture: %v", err)
		}
	}
	for _, g := range debianCronGlobs {
		ms, _ := filepath.Glob(filepath.Join(root, g))
		for _, m := range ms {
			if err := os.Remove(m); err != nil {
				t.Fatalf("fixture: %v", err)
			}
		}
	}
	fixture.Write(t, root, cronieLayout)
	if err := os.Chmod(filepath.Join(root, "var/spool/cron/root"), 0o600); err != nil {
		t.Fatal(err)
	}
	const img = "hostdrift-test/cronie-shaped:latest"
	began := time.Now()
	e.Import(t, root, img)
	t.Logf("imported the root in %s", time.Since(began).Round(time.Second))
	host := e.BootSystemd(t, img, hostCaps...)
	if failed := host.FailedUnits(); failed != "" {
		t.Logf("failed units:\n%s", failed)
	}
	for cmd, want := range map[string]string{
		"systemctl is-active crond.service; ps -o comm= -C crond":             "active\ncrond",
		"systemctl cat cron.service anacron.timer 2>&1 | head -1":             "No files found for cron.service",
		"command -v cron || echo no-cron; command -v sendmail || echo no-mta": "no-cron\nno-mta",
		"stat -c '%a %U' /var/spool/cron/root":                                "600 root",
	} {
		if got := host.Exec("sh", "-c", cmd); !strings.Contains(got, want) {
			t.Fatalf("fixture: %s says %q, want %q", cmd, got, want)
		}
	}
	e.Docker(t, "cp", binary(t), host.ID+":/usr/local/bin/hostdrift")

	// What the cron collector read: cronie's layout, decided by
	// crond.service; the crond that runs; anacron started by 0anacron;
	// output to syslog for want of sendmail.
	out, err := e.Command("exec", host.ID, "/usr/local/bin/hostdrift", "snapshot", "--collectors", "cron").Output()
	if err != nil {
		t.Fatalf("hostdrift snapshot: %v\n%s", err, out)
	}
	var snap snapshot.Snapshot
	if err := json.Unmarshal(out, &snap); err != nil || snap.Jobs == nil || snap.Jobs.Cron == nil {
		t.Fatalf("snapshot: %v\n%s", err, out)
	}
	cr := snap.Jobs.Cron
	if cr.Flavour != snapshot.CronCronie || cr.FlavourReason != "crond.service is installed (/lib/systemd/system/crond.service); cron.service is not" ||
		cr.Daemon != snapshot.DaemonRunning || cr.DaemonProgram != "/usr/sbin/crond" || cr.SyslogOutput == "" ||
		cr.Anacron != "/etc/cron.hourly/0anacron, a run-parts script that runs anacron (run-parts run by /etc/cron.d/0hourly:5)" {
		t.Errorf("cron section: flavour %q (%s), daemon %s (%s), syslog output %q, anacron %q",
			cr.Flavour, cr.FlavourReason, cr.Daemon, cr.DaemonProgram, cr.SyslogOutput, cr.Anacron)
	}
	jobs := map[string]snapshot.CronJob{}
	for _, j := range cr.Jobs {
		jobs[j.Where()] = j
		t.Logf("job %s (%s) %q inert %q package %q", j.Where(), j.Kind, j.Command, j.Inert, j.Package)
	}
	if j := jobs["/var/spool/cron/root:2"]; j.Kind != snapshot.CronUser || j.User != "root" || !j.Output.Syslog || len(j.Programs) != 1 || !j.Programs[0].Executable {
		t.Errorf("root's crontab: %+v", j)
	}
	if j := jobs["/etc/cron.hourly/0anacron"]; j.Trigger != "/etc/cron.d/0hourly:5" || j.Inert != "" {
		t.Errorf("0anacron: %+v", j)
	}
	if j := jobs["/etc/anacrontab:14"]; j.Anacron == nil || j.Anacron.ID != "cron.daily" || j.Anacron.StartHoursRange != "3-22" ||
		j.Trigger != "/etc/cron.hourly/0anacron" || j.Inert != snapshot.InertNothingToRun {
		t.Errorf("cron.daily: %+v", j)
	}

	t.Run("stock", func(t *testing.T) {
		checkStockHost(t, e, host, stockHost{name: "rhel-shaped-cronie"})
	})
	t.Run("missing-program", func(t *testing.T) {
		host.Exec("sh", "-c", "printf '%s' \"$1\" >> /var/spool/cron/root", "sh", adminUserCronJob)
		if got := host.Exec("tail", "-1", "/var/spool/cron/root"); got != "30 2 * * * /usr/local/bin/backup-db --all" {
			t.Fatalf("fixture: root's crontab ends with %q", got)
		}
		checkStockHost(t, e, host, stockHost{name: "rhel-shaped-cronie-missing-program", exit: exitDrift, want: map[string]wantFinding{
			"cron.programs-exist": {status: finding.Fail, only: "/var/spool/cron/root",
				says: []string{"/var/spool/cron/root:4 (/usr/local/bin/backup-db --all): ", "/usr/local/bin/backup-db does not exist"}},
		}})
	})
}
