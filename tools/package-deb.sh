#!/usr/bin/env bash
# Builds the Debian package: the release binary (Swift's runtime linked in, so it needs nothing of a
# toolchain), the systemd unit (dist/dromos.service), the example configuration as
# /etc/dromos/dromos.yaml (a conffile: an upgrade keeps the operator's), and the README.
#
# Usage: tools/package-deb.sh [VERSION]    → .build/deb/dromos_VERSION_ARCH.deb (default VERSION: 0.1.0+g<commit>)
# Install: dpkg -i .build/deb/dromos_*.deb; edit /etc/dromos/dromos.yaml; systemctl enable --now dromos.
# The package does not start or enable the service itself: the example configuration needs editing first.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/env.sh
version=${1:-0.1.0+g$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
arch=$(dpkg --print-architecture)

swift build -c release --product dromos --static-swift-stdlib 2>&1 | grep -E "error|warning: |Build" | tail -3
binary=$(swift build -c release --product dromos --static-swift-stdlib --show-bin-path)/dromos

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -D -m 0755 "$binary" "$stage/usr/bin/dromos"
strip --strip-unneeded "$stage/usr/bin/dromos"
install -D -m 0644 dist/dromos.service "$stage/lib/systemd/system/dromos.service"
install -D -m 0644 examples/dromos.yaml "$stage/etc/dromos/dromos.yaml"
install -D -m 0644 README.md "$stage/usr/share/doc/dromos/README.md"
install -d -m 0755 "$stage/DEBIAN"
size=$(du -sk "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: dromos
Version: $version
Architecture: $arch
Maintainer: Dromos developers <dromos@example.org>
Installed-Size: $size
Depends: libc6, libstdc++6, libpcap0.8, nftables
Section: net
Priority: optional
Description: direct-routing (DSR) layer-4 load balancer
 Dromos takes the frames sent to a virtual IP off the wire, picks a backend by
 a consistent hash (Maglev) or an IPVS-style scheduler, rewrites only the MAC
 addresses and sends them on; backends answer the clients directly. Health
 checks (tcp, http, dsr), a control socket (dromos ctl) and Prometheus metrics.
CONTROL
echo /etc/dromos/dromos.yaml > "$stage/DEBIAN/conffiles"
cat > "$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
# Let systemd see the unit; enabling it is the operator's step, after editing /etc/dromos/dromos.yaml.
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
POSTINST
cat > "$stage/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
POSTRM
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/postrm"
mkdir -p .build/deb
package=".build/deb/dromos_${version}_${arch}.deb"
dpkg-deb --build --root-owner-group "$stage" "$package" >/dev/null
echo "package: $package ($(du -h "$package" | cut -f1))"
dpkg-deb --info "$package" | sed -n '/Package:/,/Description:/p'
