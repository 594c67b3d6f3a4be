package main

import (
	"os"
	"path/filepath"
	"testing"
)

// loopDevices are the docker run flags that let a host mount images
// through the machine's loop devices, as snapd's mount units do: the
// control device, each /dev/loopN the machine has, and the device cgroup
// rule for loop block devices (major 7). The host has CAP_SYS_ADMIN
// already (dockertest.SystemdRunArgs).
func loopDevices(t *testing.T) []string {
	t.Helper()
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Fatalf("this machine has no /dev/loop-control (%v): the snap host mounts its squashfs image through a loop device", err)
	}
	args := []string{"--device", "/dev/loop-control", "--device-cgroup-rule", "b 7:* rmw"}
	loops, _ := filepath.Glob("/dev/loop[0-9]*")
	for _, l := range loops {
		args = append(args, "--device", l)
	}
	return args
}

// ubuntuPrepare lays Debian 12 out as Ubuntu 22.04 server lays out the
// parts hostdrift reads.
//
//   - netplan: cloud-init's /etc/netplan/50-cloud-init.yaml for eth0 with
//     the test's resolver (the bridge's gateway) as its name server;
//     netplan's systemd generator turns it into networkd configuration at
//     boot, as on Ubuntu. eth0 keeps the address docker gave it
//     (critical: networkd's KeepConfiguration), there being no DHCP.
//   - systemd-networkd and systemd-resolved enabled; /etc/resolv.conf is
//     the stub's symlink, so programs ask 127.0.0.53 and resolved asks the
//     link's upstream. docker covers the image's symlink with an empty
//     file of its container's init layer and mounts its own resolv.conf
//     on it: undo-docker-resolv-conf.service, the one unit of the host
//     that is the container's and not Ubuntu's, unmounts it and lays the
//     symlink back before resolved starts.
//   - UFW: `ufw allow OpenSSH` on its default rules and ENABLED=yes, which
//     is what `ufw enable` writes; ufw.service loads the chains into the
//     booted host's own namespace at boot (the prepare container may not).
//   - snapd with one snap as snapd installs it: the squashfs image (made
//     here with mksquashfs) in /var/lib/snapd/snaps and its mount unit
//     snap-hello-42.mount mounting it read-only on /snap/hello/42.
//   - unattended-upgrades with apt's apt-daily.timer and
//     apt-daily-upgrade.timer, enabled as installed.
const ubuntuPrepare = `
mkdir -p /etc/netplan
cat > /etc/netplan/50-cloud-init.yaml <<'YAML'
network:
  version: 2
  renderer: networkd
  ethernets:
    eth0:
      critical: true
      dhcp4: false
      dhcp6: false
      accept-ra: false
      link-local: []
      nameservers:
        addresses: [@GATEWAY@]
YAML
chmod 600 /etc/netplan/50-cloud-init.yaml
systemctl enable systemd-networkd.service systemd-resolved.service
cat > /etc/systemd/system/undo-docker-resolv-conf.service <<'UNIT'
[Unit]
Description=Give /etc/resolv.conf back to systemd-resolved (docker mounts its own file on it)
DefaultDependencies=no
Before=systemd-resolved.service

[Service]
Type=oneshot
ExecStart=-/bin/umount /etc/resolv.conf
ExecStart=/bin/ln -sfn ../run/systemd/resolve/stub-resolv.conf /etc/resolv.conf

[Install]
WantedBy=sysinit.target
UNIT
systemctl enable undo-docker-resolv-conf.service

ufw allow OpenSSH
sed -i 's/^ENABLED=.*/ENABLED=yes/' /etc/ufw/ufw.conf
systemctl enable ufw.service

mkdir -p /tmp/hello/meta /tmp/hello/bin /var/lib/snapd/snaps /snap/hello/42
cat > /tmp/hello/meta/snap.yaml <<'YAML'
name: hello
version: "2.10"
summary: GNU Hello, the "hello world" snap
description: Prints a friendly greeting.
architectures: [amd64]
confinement: strict
apps:
  hello:
    command: bin/hello
YAML
printf '#!/bin/sh\necho "Hello, world!"\n' > /tmp/hello/bin/hello
chmod 755 /tmp/hello/bin/hello
mksquashfs /tmp/hello /var/lib/snapd/snaps/hello_42.snap -noappend -comp xz -no-fragments -all-root -no-xattrs -quiet
rm -rf /tmp/hello
ln -s 42 /snap/hello/current
cat > /etc/systemd/system/snap-hello-42.mount <<'UNIT'
[Unit]
Description=Mount unit for hello, revision 42
After=snapd.mounts-pre.target
Before=snapd.mounts.target
Before=local-fs.target

[Mount]
What=/var/lib/snapd/snaps/hello_42.snap
Where=/snap/hello/42
Type=squashfs
Options=nodev,ro,x-gdu.hide,x-gvfs-hide
LazyUnmount=yes

[Install]
WantedBy=snapd.mounts.target
WantedBy=multi-user.target
UNIT
systemctl enable snap-hello-42.mount
`

// snapDaemonFails adds to the snap a daemon whose service, as snapd
// writes it, fails at boot: snapd on this host does not know the snap.
const snapDaemonFails = `
cat > /etc/systemd/system/snap.hello.daemon.service <<'UNIT'
[Unit]
Description=Service for snap application hello.daemon
Requires=snap-hello-42.mount
Wants=network.target
After=snap-hello-42.mount network.target snapd.apparmor.service
X-Snappy=yes

[Service]
EnvironmentFile=-/etc/environment
ExecStart=/usr/bin/snap run hello.daemon
SyslogIdentifier=hello.daemon
Restart=no
WorkingDirectory=/var/snap/hello/42
TimeoutStopSec=30
Type=oneshot
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
UNIT
systemctl enable snap.hello.daemon.service
`

// ubuntuHolds is true of every Ubuntu-shaped host.
var ubuntuHolds = map[string]string{
	"readlink /etc/resolv.conf; grep ^nameserver /etc/resolv.conf":           "../run/systemd/resolve/stub-resolv.conf\nnameserver 127.0.0.53",
	"ls /run/systemd/network/":                                               "10-netplan-eth0.network",
	"resolvectl dns eth0":                                                    "@GATEWAY@",
	"iptables -S ufw-user-input | grep -c 'dport 22'":                        "1",
	"systemctl is-active ufw.service snap-hello-42.mount":                    "active\nactive",
	"findmnt -n -o FSTYPE,OPTIONS /snap/hello/42":                            "squashfs ro",
	"/snap/hello/current/bin/hello":                                          "Hello, world!",
	"systemctl is-enabled apt-daily.timer apt-daily-upgrade.timer":           "enabled\nenabled",
	"for p in unattended-upgrade snap mksquashfs; do command -v $p; done":    "/usr/bin/unattended-upgrade\n/usr/bin/snap\n/usr/bin/mksquashfs",
	"systemctl is-active nginx.service ssh.service systemd-resolved.service": "active\nactive\nactive",
}

// ubuntuCloudDomain gives the Ubuntu-shaped host a domain the way a cloud
// image has one: netplan's search domain for eth0, which resolved puts in
// the stub's resolv.conf, and an /etc/hosts with localhost only (cloud-init
// does not manage it by default), so the FQDN is known from resolv.conf
// and resolved asks the upstream for it. docker mounts an /etc/hosts of
// its own that names the FQDN (resolved would answer from it):
// undo-docker-hosts.service, the container's and not Ubuntu's, lays
// Ubuntu's back before resolved starts.
const ubuntuCloudDomain = `
sed -i '/addresses: \[/a\        search: [example.test]' /etc/netplan/50-cloud-init.yaml
cat > /etc/systemd/system/undo-docker-hosts.service <<'UNIT'
[Unit]
Description=Ubuntu's /etc/hosts back (docker mounts its own on it)
DefaultDependencies=no
Before=systemd-resolved.service

[Service]
Type=oneshot
ExecStart=-/bin/umount /etc/hosts
ExecStart=/bin/sh -c 'printf "127.0.0.1 localhost\\n::1 ip6-localhost ip6-loopback\\n" > /etc/hosts'

[Install]
WantedBy=sysinit.target
UNIT
systemctl enable undo-docker-hosts.service
`
