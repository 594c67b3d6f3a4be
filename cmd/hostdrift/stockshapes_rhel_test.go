package main

// rhelPrepare lays Debian 12 out as RHEL 9 minimal server lays out the
// parts hostdrift reads.
//
//   - rpm: the packages of rhelRPMs, built with rpmbuild on the test
//     machine and installed with the host's own rpm (`rpm --dbpath
//     /var/lib/rpm --nodeps -i`, SQLite as RHEL 9 has it): cronie's,
//     cronie-anacron's and crontabs' files come from them; the daemons'
//     packages are recorded with no files. Then dpkg's database and
//     programs are removed: a RHEL host has none, and with them the rpm
//     database would be a tool's (dpkg lists rpm as one of its packages),
//     not the host's.
//   - cronie: Debian's cron binary is moved to /usr/sbin/crond and run by
//     cronie's crond.service (with -f for -n: see crondUnit); Debian's
//     cron.service and init script are removed. Debian's cron reads its
//     crontabs from /var/spool/cron/crontabs, so the root crontab laid in
//     /var/spool/cron/root as cronie keeps it is read by hostdrift but not
//     run by this daemon.
//   - anacron as cronie-anacron runs it: from /etc/cron.hourly/0anacron,
//     with RHEL's /etc/anacrontab; Debian's anacron.timer, anacron.service,
//     /etc/cron.d/anacron and /etc/cron.{daily,weekly,monthly}/0anacron
//     are removed.
//   - no /etc/cron.daily scripts guarded for systemd: Debian's apt-compat,
//     dpkg and logrotate (logrotate runs from logrotate.timer, as on RHEL
//     9), and e2fsprogs' /etc/cron.d/e2scrub_all, are removed; apt's
//     apt-daily*.timer are disabled (RHEL has dnf's).
//   - firewalld on its nftables backend (Debian's default, as RHEL's),
//     default zone public with RHEL's stock services: ssh, dhcpv6-client,
//     and cockpit, added with firewall-offline-cmd.
//   - chrony as installed (its unit does not start without CAP_SYS_TIME,
//     which a container lacks: inactive, not failed).
const rhelPrepare = `
rm -f /etc/crontab /etc/anacrontab /etc/cron.d/anacron /etc/cron.d/e2scrub_all \
	/etc/cron.daily/0anacron /etc/cron.weekly/0anacron /etc/cron.monthly/0anacron \
	/etc/cron.daily/apt-compat /etc/cron.daily/dpkg /etc/cron.daily/logrotate
rpm --dbpath /var/lib/rpm --nodeps -i /tmp/rpms/*.rpm
rm -rf /tmp/rpms /var/lib/dpkg /usr/bin/dpkg /usr/bin/dpkg-query /usr/bin/dpkg-deb /usr/bin/dpkg-divert /usr/bin/dpkg-split /usr/bin/dpkg-trigger /usr/bin/dpkg-statoverride /usr/bin/dpkg-maintscript-helper /usr/bin/dpkg-realpath

systemctl disable cron.service anacron.timer anacron.service apt-daily.timer apt-daily-upgrade.timer
rm -f /lib/systemd/system/cron.service /lib/systemd/system/anacron.service /lib/systemd/system/anacron.timer /etc/init.d/cron /etc/init.d/anacron
mv /usr/sbin/cron /usr/sbin/crond
systemctl enable crond.service

mkdir -p /var/spool/cron /var/spool/anacron
chmod 700 /var/spool/cron
cat > /var/spool/cron/root <<'CRONTAB'
# chrony's tracking, for the time-keeping dashboard (OPS-9)
*/10 * * * * /usr/bin/chronyc -n tracking >> /var/log/chrony-tracking.log 2>&1
CRONTAB
chmod 600 /var/spool/cron/root

firewall-offline-cmd --zone=public --add-service=cockpit
`

// rhelHolds is true of every RHEL-shaped host.
var rhelHolds = map[string]string{
	"rpm --dbpath /var/lib/rpm -q cronie cronie-anacron crontabs chrony": "cronie-1.5.7-11.el9.x86_64\ncronie-anacron-1.5.7-11.el9.x86_64\ncrontabs-1.11-27.20190603git.el9.noarch\nchrony-4.5-1.el9.x86_64",
	"rpm --dbpath /var/lib/rpm -qf /etc/cron.d/0hourly /etc/anacrontab":  "cronie-1.5.7-11.el9.x86_64\ncronie-anacron-1.5.7-11.el9.x86_64",
	"ls /var/lib/rpm": "rpmdb.sqlite",
	"ls /var/lib/dpkg /usr/bin/dpkg 2>&1 | grep -c 'No such file'":     "2",
	"systemctl is-active crond.service firewalld.service sshd.service": "active\nactive\nactive",
	"readlink /proc/$(systemctl show -P MainPID crond.service)/exe":    "/usr/sbin/crond",
	"for p in cron crond anacron sendmail; do command -v $p; done":     "/usr/sbin/crond\n/usr/sbin/anacron",
	"firewall-cmd --get-default-zone; firewall-cmd --list-services":    "public\ncockpit dhcpv6-client ssh",
	"grep ^FirewallBackend /etc/firewalld/firewalld.conf":              "FirewallBackend=nftables",
	"nft list tables": "table inet firewalld",
	"ls /etc/cron.daily | wc -l; ls /etc/cron.d; tail -1 /etc/cron.hourly/0anacron": "0\n0hourly\n/usr/sbin/anacron -s",
	"systemctl is-enabled chrony.service apt-daily.timer":                           "enabled\ndisabled",
}

// backupAgentFails adds a backup agent's service whose program the
// package that shipped it no longer has: it fails at boot.
const backupAgentFails = `
printf '[Unit]\nDescription=Backup agent\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/opt/backup/bin/agent --once\n\n[Install]\nWantedBy=multi-user.target\n' > /etc/systemd/system/backup-agent.service
systemctl enable backup-agent.service
`
