#!/bin/sh
# Builds hostdrift_VERSION_ARCH.deb with dpkg-deb alone (make deb runs it).
#   sh packaging/deb/build.sh BINARY VERSION ARCH OUTDIR
# BINARY is the static binary (make build); VERSION may be a git describe
# string (v1.2.0-3-gabcdef, abcdef-dirty): it is made a valid Debian version.
set -eu

bin=$1 version=$2 arch=$3 outdir=$4
here=$(cd "$(dirname "$0")" && pwd)
pkg=$(cd "$here/.." && pwd)
repo=$(cd "$pkg/.." && pwd)

# Debian versions start with a digit and hold no '-' without a revision.
v=$(printf %s "$version" | sed -e 's/^v//' -e 's/-/+/' -e 's/-/./g')
if ! printf %s "$v" | grep -Eq '^[0-9]+\.[0-9]'; then
	v="0.0~git$v" # a bare commit hash, even one starting with a digit
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
umask 022

install -D -m 0755 "$bin" "$stage/usr/bin/hostdrift"
install -D -m 0644 "$pkg/systemd/hostdrift.service" "$stage/lib/systemd/system/hostdrift.service"
install -D -m 0644 "$pkg/systemd/hostdrift.timer" "$stage/lib/systemd/system/hostdrift.timer"
install -D -m 0644 "$pkg/systemd/hostdrift-serve.service" "$stage/lib/systemd/system/hostdrift-serve.service"
install -D -m 0644 "$here/default" "$stage/etc/default/hostdrift"
install -D -m 0644 "$here/policies-README" "$stage/etc/hostdrift/policies/README"
install -D -m 0644 "$pkg/prometheus/hostdrift.rules.yml" "$stage/usr/share/hostdrift/hostdrift.rules.yml"
mkdir -p "$stage/usr/share/hostdrift/examples"
for f in "$repo"/policies/default/*.hcl; do
	install -m 0644 "$f" "$stage/usr/share/hostdrift/examples/$(basename "$f").example"
done
mkdir -p "$stage/usr/share/man/man1"
gzip -9n <"$pkg/man/hostdrift.1" >"$stage/usr/share/man/man1/hostdrift.1.gz"
chmod 0644 "$stage/usr/share/man/man1/hostdrift.1.gz"

mkdir -p "$stage/DEBIAN"
cat >"$stage/DEBIAN/control" <<CONTROL
Package: hostdrift
Version: $v
Architecture: $arch
Maintainer: hostdrift maintainers <hostdrift@users.noreply.github.com>
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Section: admin
Priority: optional
Suggests: iptables, nftables, prometheus-node-exporter
Homepage: https://github.com/hostdrift/hostdrift
Description: on-host configuration drift auditor
 hostdrift audits what a Linux host really does (listening sockets and
 their processes, firewall rulesets, DNS) against HCL policies, and explains
 every difference with its evidence. It only reads the host.
 .
 The package holds a static binary, a man page, and a systemd service and
 timer that audit the host nightly (systemctl enable --now hostdrift.timer),
 and an agent service that judges changes as they happen and serves
 Prometheus metrics (systemctl enable --now hostdrift-serve); neither is
 enabled by the package. Prometheus alerting rules for both are in
 /usr/share/hostdrift/hostdrift.rules.yml.
CONTROL
printf '/etc/default/hostdrift\n/etc/hostdrift/policies/README\n' >"$stage/DEBIAN/conffiles"
install -m 0755 "$here/postinst" "$stage/DEBIAN/postinst"
install -m 0755 "$here/postrm" "$stage/DEBIAN/postrm"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"

mkdir -p "$outdir"
out="$outdir/hostdrift_${v}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
echo "$out"
