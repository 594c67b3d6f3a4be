#!/bin/sh
# Installs, on a fresh Debian machine as root, everything the test suite needs.
# One package list per area; keep each list next to the tests that need it.
set -eu

packages="
  iproute2 procps psmisc
"
# firewall: native nftables and both iptables backends, and the managers whose
# rulesets the simulator must agree with
packages="$packages nftables iptables ufw util-linux"
# firewall: ipsets created in a namespace for the collector and differential
# tests (hostdrift itself reads them over netlink, never with this tool)
packages="$packages ipset"
# report formats: xmllint validates the JUnit output
packages="$packages libxml2-utils"
# bench: GNU time reports a child's peak RSS (make bench; see docs/performance.md)
packages="$packages time"
# dns: the integration test's resolver (dnsmasq-base is the binary alone;
# the dnsmasq package would also start a system-wide daemon on port 53)
packages="$packages dnsmasq-base"
# packaging: systemd-analyze verify (and man, for the units' Documentation=),
# the Ansible module against localhost, the .deb in a debootstrapped root
packages="$packages systemd man-db ansible-core debootstrap"
# jobs: the real-systemd test boots a Debian root (debootstrap, above, with
# systemd, dbus and cron inside) in the docker engine below; tar streams it in
packages="$packages tar"
# stock hosts (cmd/hostdrift/stockhosts_test.go): Debian 12 and 13 roots from
# the host's mirror, debootstrap's trixie script and the archive keys that
# sign trixie (the bookworm keyring package carries them)
packages="$packages debian-archive-keyring"
# docker: a real engine of the tests' own (internal/testkit/dockertest starts it in a
# namespace; the package starts no daemon where systemd is not PID 1), and
# the static busybox its test images are imported from
packages="$packages docker.io busybox-static"
# ssh: check --ssh against real OpenSSH servers the tests start in namespaces
# of their own (internal/testkit/nstest/sshd.go), and sudo for --sudo. Where
# services start on install (no policy-rc.d), the package also starts the
# system's sshd; the tests never use it.
packages="$packages openssh-server openssh-client sudo"
# cli: the bash and zsh completion scripts are checked by the shells themselves
packages="$packages bash zsh"
# fleet (packaging/prometheus): promtool checks and unit-tests the alerting
# rules, and a real Prometheus server scrapes serve instances in namespaces
# (its own data folder and port; where systemd is not PID 1 the package
# starts no daemon)
packages="$packages prometheus"
# page: headless Chromium loads serve's HTML page and dumps the rendered DOM
packages="$packages chromium"
# packages: rpmbuild and rpm --root --justdb write the rpm databases the rpm
# reader is tested on, and rpm's own vercmp answers the comparison table;
# Berkeley DB's db5.3_load writes the Berkeley DB format, which Debian's rpm
# only reads
packages="$packages rpm db5.3-util"
# mounts: squashfs images like the snaps an Ubuntu host mounts
packages="$packages squashfs-tools"

if [ "$(id -u)" -ne 0 ]; then
	echo "test-deps: not root; assuming the test dependencies are installed" >&2
	exit 0
fi
missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "test-deps: installing$missing" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
