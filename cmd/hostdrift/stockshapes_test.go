package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/rpmroot"
)

// The Ubuntu- and RHEL-shaped hosts of the corpus. Only Debian's packages
// can be installed here, so each is Debian 12 laid out as the other
// distribution lays out the parts hostdrift reads; what each is made of,
// and where it falls short of the real thing, is written beside it.

// ubuntuPackages is Debian 12 with what an Ubuntu server runs by default
// on top of serverPackages: systemd-resolved's stub resolver, netplan
// writing networkd's configuration, UFW, and snapd with squashfs-tools.
// dbus-user-session, which Ubuntu servers have too, is named because
// snapd depends on default-dbus-session-bus | dbus-session-bus, two
// virtual packages debootstrap does not resolve: without it snapd is
// left unconfigured and the root is not made.
var ubuntuPackages = append(append([]string(nil), serverPackages...),
	"systemd-resolved", "netplan.io", "ufw", "snapd", "squashfs-tools", "dbus-user-session")

// rhelPackages is Debian 12 with what a RHEL 9 minimal server runs:
// firewalld (on nftables, with iptables and ipset beside it as RHEL has
// them), chronyd, cron with anacron, and rpm for the package database.
// No web server, no man-db, no unattended upgrades. libpam-systemd (logind's
// PAM module, which RHEL's systemd has too) is named because firewalld's
// polkitd depends on default-logind | logind, virtual packages debootstrap
// does not resolve; adduser, which polkitd also needs, as the other
// firewalld roots of the tests name it (one cached root for all).
var rhelPackages = []string{
	"systemd", "systemd-sysv", "dbus", "cron", "anacron", "openssh-server", "logrotate",
	"firewalld", "nftables", "iptables", "ipset", "chrony", "rpm", "libpam-systemd", "adduser",
}

var (
	rootUbuntuShaped = stockRoot{"bookworm", ubuntuPackages}
	rootRHELShaped   = stockRoot{"bookworm", rhelPackages}
)

// crondUnit is cronie's crond.service, except that Debian's cron binary
// (installed as /usr/sbin/crond) takes -f, not cronie's -n, to stay in the
// foreground.
const crondUnit = `[Unit]
Description=Command Scheduler
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
`

// cronie0hourly is cronie's /etc/cron.d/0hourly as RHEL 9 ships it.
const cronie0hourly = `# Run the hourly jobs
SHELL=/bin/bash
PATH=/sbin:/bin:/usr/sbin:/usr/bin
MAILTO=root
01 * * * * root run-parts /etc/cron.hourly
`

// cronie0anacron is cronie-anacron's /etc/cron.hourly/0anacron: anacron
// runs once a day, from cron's hourly run-parts.
const cronie0anacron = `#!/usr/bin/sh
# Check whether 0anacron was run today already
if test -r /var/spool/anacron/cron.daily; then
    day=` + "`cat /var/spool/anacron/cron.daily`" + `
fi
if [ ` + "`date +%Y%m%d`" + ` = "$day" ]; then
    exit 0
fi

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
/usr/sbin/anacron -s
`

// cronieAnacrontab is cronie-anacron's /etc/anacrontab.
const cronieAnacrontab = `# /etc/anacrontab: configuration file for anacron

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
`

// rhelCrontab is the crontabs package's /etc/crontab: no jobs.
const rhelCrontab = `SHELL=/bin/bash
PATH=/sbin:/bin:/usr/sbin:/usr/bin
MAILTO=root

# For details see man 4 crontabs

# Example of job definition:
# .---------------- minute (0 - 59)
# |  .------------- hour (0 - 23)
# |  |  .---------- day of month (1 - 31)
# |  |  |  .------- month (1 - 12) OR jan,feb,mar,apr ...
# |  |  |  |  .---- day of week (0 - 6) (Sunday=0 or 7) OR sun,mon,tue,wed,thu,fri,sat
# |  |  |  |  |
# *  *  *  *  * user-name  command to be executed
`

// rhelRPMs are the packages of the RHEL-shaped host that its rpm database
// holds: cronie's, cronie-anacron's and crontabs' files are installed from
// them (they are the host's cron layout); the daemons' packages are
// recorded with no files (their programs are Debian's, owned by dpkg).
var rhelRPMs = []rpmroot.Package{
	{Name: "cronie", Version: "1.5.7", Release: "11.el9", Arch: "x86_64", Files: map[string]rpmroot.File{
		"/etc/cron.d/0hourly":                   {Mode: 0o644, Config: true, Content: cronie0hourly},
		"/etc/sysconfig/crond":                  {Mode: 0o644, Config: true, Content: "# Settings for the CRON daemon.\n# CRONDARGS= :  any extra command-line startup arguments for crond\nCRONDARGS=\n"},
		"/usr/lib/systemd/system/crond.service": {Mode: 0o644, Content: crondUnit},
	}},
	{Name: "cronie-anacron", Version: "1.5.7", Release: "11.el9", Arch: "x86_64", Files: map[string]rpmroot.File{
		"/etc/anacrontab":           {Mode: 0o600, Config: true, Content: cronieAnacrontab},
		"/etc/cron.hourly/0anacron": {Mode: 0o755, Content: cronie0anacron},
	}},
	{Name: "crontabs", Version: "1.11", Release: "27.20190603git.el9", Files: map[string]rpmroot.File{
		"/etc/crontab": {Mode: 0o644, Config: true, Content: rhelCrontab},
	}},
	{Name: "chrony", Version: "4.5", Release: "1.el9", Arch: "x86_64"},
	{Name: "firewalld", Version: "1.3.4", Release: "1.el9"},
	{Name: "openssh-server", Version: "8.7p1", Release: "38.el9", Arch: "x86_64"},
	{Name: "logrotate", Version: "3.18.0", Release: "8.el9", Arch: "x86_64"},
}

// buildRHELRPMs builds rhelRPMs with rpmbuild and returns the folder that
// holds the .rpm files.
func buildRHELRPMs(t *testing.T) map[string]string {
	t.Helper()
	out := t.TempDir()
	for _, f := range rpmroot.Build(t, rhelRPMs...).Files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return map[string]string{"/tmp/rpms": out}
}
