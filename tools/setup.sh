#!/usr/bin/env bash
# Installs what Dromos needs to build and test on Debian 12, as root: the C libraries, the peers the
# tests talk to (BIRD 2 is the scale-out test's routing daemon), and (only when no `swift` is found) the
# Swift 6.3.1 toolchain from swift.org. Idempotent: a second run installs nothing new.
set -euo pipefail

SWIFT_VERSION=6.3.1
packages=(libpcap-dev libxdp-dev libbpf-dev tshark tcpdump python3 iproute2 ethtool nftables netsniff-ng bird2)
# What swift.org lists for its Debian 12 toolchain; needed only when this script installs it.
toolchain_packages=(binutils git gnupg2 libc6-dev libcurl4-openssl-dev libedit2 libgcc-12-dev libncurses-dev
                    libpython3-dev libsqlite3-0 libstdc++-12-dev libxml2-dev libz3-dev pkg-config tzdata unzip
                    zlib1g-dev curl ca-certificates)

if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: run as root (it installs Debian packages)" >&2
    exit 1
fi

has_swift() { command -v swift >/dev/null 2>&1 || [ -x /opt/swift/usr/bin/swift ]; }
has_swift || packages+=("${toolchain_packages[@]}")

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; the answer does not matter to Dromos.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts bird.service on install; the tests run their own BIRDs in namespaces, so one this
    # script brought in is stopped and disabled again (a BIRD the machine had before is left alone).
    if [[ " ${missing[*]} " == *" bird2 "* ]] && [ -d /run/systemd/system ]; then
        systemctl disable --now bird.service >/dev/null 2>&1 || true
        echo "setup.sh: installed bird2 for the tests; its system service is left disabled"
    fi
fi

if ! has_swift; then
    echo "setup.sh: installing Swift $SWIFT_VERSION into /opt/swift"
    base="https://download.swift.org/swift-$SWIFT_VERSION-release/debian12/swift-$SWIFT_VERSION-RELEASE"
    tarball="swift-$SWIFT_VERSION-RELEASE-debian12.tar.gz"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    curl -fsSL -o "$work/$tarball" "$base/$tarball"
    curl -fsSL -o "$work/$tarball.sig" "$base/$tarball.sig"
    curl -fsSL https://swift.org/keys/all-keys.asc | gpg --batch --quiet --import -
    gpg --batch --verify "$work/$tarball.sig" "$work/$tarball"
    mkdir -p /opt/swift
    tar -xzf "$work/$tarball" -C /opt/swift --strip-components=1
fi
