#!/usr/bin/env bash
# Forwarding rate of the AF_PACKET port, TX ring against sendmmsg and V3 against V2 RX, next to a C
# reference forwarder (tools/afpacket-ref.c, same technique as the default) and the libpcap port
# (`--io pcap`: immediate mode, pcap_dispatch + one pcap_inject send() per frame), in one run.
#
# Usage: [ROUNDS=2] [CASES=all|short] [PCAP_BUFFER_MIB=64] tools/afpacket-bench.sh [seconds per case, default 5]   (root; trafgen: netsniff-ng)
#
# Lab: namespace gen (trafgen, pinned to core 0) --veth--> fwd (`dromos lab-bridge`, pinned to core 1)
# --veth--> sink. trafgen sends 64-byte UDP frames of 256 flows to a MAC nobody owns, so the forwarder
# namespace's IP layer drops its copy at once (PACKET_OTHERHOST) and the sink's stack ignores them.
# Delivered pps = frames the sink's veth received / seconds; the forwarder prints its own counts too.
# With nft installed, a netdev-ingress drop on f0 and s0 spares the kernel's IP layer on both cores
# (AF_PACKET taps come before it, so the forwarder still sees every frame): the generator offers
# about twice as much, enough to saturate the forwarder. Without nft the generator is the limit.
# The namespaces are deleted on exit, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/env.sh
seconds=${1:-5}
command -v trafgen >/dev/null || { echo "afpacket-bench: trafgen missing (apt-get install netsniff-ng)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "afpacket-bench: run as root" >&2; exit 1; }

swift build -c release --product dromos >/dev/null
dromos=$(swift build -c release --show-bin-path)/dromos

suffix=$(printf '%06x' $((RANDOM * 32768 + RANDOM)))
gen=dromos-bgen-$suffix fwd=dromos-bfwd-$suffix sink=dromos-bsink-$suffix
work=$(mktemp -d)
trafgen_pid=
cleanup() {
    [ -n "$trafgen_pid" ] && kill -INT "$trafgen_pid" 2>/dev/null || true
    for ns in "$gen" "$fwd" "$sink"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

for ns in "$gen" "$fwd" "$sink"; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip link add g0 netns "$gen" type veth peer name f0 netns "$fwd"
ip link add f1 netns "$fwd" type veth peer name s0 netns "$sink"
ip -n "$gen" link set g0 up; ip -n "$fwd" link set f0 up; ip -n "$fwd" link set f1 up; ip -n "$sink" link set s0 up

if command -v nft >/dev/null; then
    for pair in "$fwd f0" "$sink s0"; do
        set -- $pair
        ip netns exec "$1" nft -f - <<NFT
table netdev bench {
    chain in {
        type filter hook ingress device $2 priority 0; policy drop;
    }
}
NFT
    done
fi

cat > "$work/udp.cfg" <<'CFG'
{ eth(da=02:dd:00:00:00:02, sa=02:dd:00:00:00:01), ipv4(saddr=198.18.0.1, daddr=198.18.0.2),
  udp(sp=dinc(10000, 10255), dp=20000), fill(0x41, 18) }
CFG

sink_rx() { ip netns exec "$sink" cat /sys/class/net/s0/statistics/rx_packets; }

run_case() {  # label, then the forwarder command (run in the forwarder namespace on core 1)
    local label=$1 before after report
    shift
    # trafgen stops on SIGINT (its Ctrl-C), not SIGTERM; `timeout` sends it one when the case is over.
    ip netns exec "$gen" timeout -s INT $((${seconds%.*} + 2)) taskset -c 0 trafgen --dev g0 --conf "$work/udp.cfg" --cpus 1 >/dev/null 2>&1 &
    trafgen_pid=$!
    before=$(sink_rx)
    report=$(ip netns exec "$fwd" taskset -c 1 "$@")
    after=$(sink_rx)
    wait "$trafgen_pid" 2>/dev/null || true
    trafgen_pid=
    printf '%-14s delivered %8d pps   %s\n' "$label" $(( (after - before) / ${seconds%.*} )) "$report"
}

# The C reference: same technique as the default (V3 RX ring + V3 TX ring, one send() per block).
reference=
if command -v gcc >/dev/null; then
    gcc -O2 -o "$work/afpacket-ref" tools/afpacket-ref.c && reference="$work/afpacket-ref"
fi

echo "AF_PACKET forwarding, 64-byte frames, ${seconds}s per case ($(nproc) cores)"
for round in $(seq "${ROUNDS:-2}"); do
    [ -n "$reference" ] && run_case "C v3/ring" "$reference" f0 f1 "$seconds"
    for rx in v3 v2; do
        for tx in ring sendmmsg; do
            # CASES=short: the C reference, the default (v3/ring) and libpcap only.
            [ "${CASES:-all}" = short ] && [ "$rx/$tx" != v3/ring ] && continue
            run_case "$rx/$tx" "$dromos" lab-bridge --input f0 --output f1 --seconds "$seconds" --rx "$rx" --tx "$tx"
        done
    done
    run_case "pcap" "$dromos" lab-bridge --io pcap --input f0 --output f1 --seconds "$seconds" --pcap-buffer-mib "${PCAP_BUFFER_MIB:-64}"
done
