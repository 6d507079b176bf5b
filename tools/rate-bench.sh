#!/usr/bin/env bash
# The rate figure of issue 4: `dromos run --io afpacket`, `dromos run --io pcap` and the kernel doing the
# same job (an nftables netdev-ingress rule that rewrites the MACs by a hash of the flow and forwards
# out of the same interface), in one run, on the same lab.
#
# Usage: [ROUNDS=3] [OFFER=200000pps] [RUN_ARGS=…] [AFPACKET_ARGS="--rx-ring v3"] [HEALTH=…] tools/rate-bench.sh [seconds per case, default 10]
#        OFFER: trafgen's --rate, a fixed offered rate (loss = 100% - delivered share); default: as fast as it can.
#        (root; trafgen: netsniff-ng; nft). RUN_ARGS go to both `dromos run` cases, AFPACKET_ARGS only to
#        --io afpacket (libpcap refuses --rx-ring); default: none, the daemon's defaults.
#
# Lab: tools/lab.sh's, named dromos-rate-SUFFIX (deleted on exit, also on failure or Ctrl-C), with two
# backends that drop every frame at ingress (--sink), a static FDB and IPv6 off:
#   client (trafgen, core 0) ──c0─┐
#   lb     (forwarder, core 1) ─lb0─ br0 (namespace sw; static FDB, no learning) ─┬─ s1 (s0)
#                                                                                 └─ s2 (s0)
# trafgen offers 64-byte UDP frames (256 flows) to the VIP with the balancer's MAC as destination. The
# forwarder rewrites source and destination MAC (balancer → backend) and sends them back out of lb0
# (direct routing); the bridge carries them to the backend. Receive processing of lb0 is steered to
# core 1 by RPS, so the kernel's own forwarding (nft) runs on the forwarder's core as Dromos does, and
# trafgen has core 0 to itself. Offloads are the veth defaults in all three cases (trafgen's frames
# carry full checksums and are never larger than the MTU).
# Offered pps = c0's tx_packets; at lb0 = lb0's rx_packets (what reached the balancer's interface);
# delivered pps = the backends' s0 rx_packets (counted by veth before anything else looks at the
# frame; an nft ingress drop spares the backends' IP layer). Core 1's backlog drops (softnet_stat) are
# frames RPS could not queue for lb0's receive processing: the kernel's share of the losses.
# Each case runs `seconds`, the three cases alternate, ROUNDS times; the ratios are to nft's mean.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/env.sh
seconds=${1:-10}
rounds=${ROUNDS:-3}
command -v trafgen >/dev/null || { echo "rate-bench: trafgen missing (apt-get install netsniff-ng)" >&2; exit 1; }
command -v nft >/dev/null || { echo "rate-bench: nft missing (apt-get install nftables)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "rate-bench: run as root" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "rate-bench: needs two cores (generator and forwarder)" >&2; exit 1; }

swift build -c release --product dromos >/dev/null
dromos=$(swift build -c release --show-bin-path)/dromos

vip=203.0.113.10
balancer_mac=02:00:00:00:00:02
backend_macs=(02:00:00:00:01:11 02:00:00:00:01:12)
gen_mac=02:00:00:00:00:01
suffix=$(printf '%06x' $((RANDOM * 32768 + RANDOM)))
lab=dromos-rate-$suffix
sw=$lab-sw gen=$lab-client lb=$lab-lb
backends=("$lab-s1" "$lab-s2")
work=$(mktemp -d)
trafgen_pid= forwarder_pid=
cleanup() {
    [ -n "$trafgen_pid" ] && kill -INT "$trafgen_pid" 2>/dev/null || true
    if [ -n "$forwarder_pid" ]; then
        kill -TERM "$forwarder_pid" 2>/dev/null || true
        wait "$forwarder_pid" 2>/dev/null || true
    fi
    LAB_NAME=$lab bash tools/lab.sh down >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Static entries, no learning: the bridge never floods a forwarded frame back to lb0 (a loop).
LAB_NAME=$lab bash tools/lab.sh up 2 --sink --static-fdb --ipv4-only --backend-vip hand >/dev/null
# What `--io pcap` needs (it has no vnet header and refuses an lb0 with GRO on), set for all three
# cases alike: no coalescing on lb0, no segmentation or checksum offload on its bridge-side peer.
ip netns exec "$lb" ethtool -K lb0 gro off lro off 2>/dev/null || ip netns exec "$lb" ethtool -K lb0 gro off
ip netns exec "$sw" ethtool -K plb tx off tso off gso off >/dev/null
ip netns exec "$lb" sh -c 'echo 2 > /sys/class/net/lb0/queues/rx-0/rps_cpus'

cat > "$work/udp.cfg" <<CFG
{ eth(da=$balancer_mac, sa=$gen_mac), ipv4(saddr=198.18.1.1, daddr=$vip),
  udp(sp=dinc(10000, 10255), dp=53), fill(0x41, 18) }
CFG
# HEALTH="{ type: tcp, port: 80, interval: 2ms, timeout: 1ms }" adds that check to the service, to measure
# the packet path while probes run: the backends here drop everything, so every probe fails, and
# on_all_down: forward keeps the pool forwarding while they do.
health_block=""
if [ -n "${HEALTH:-}" ]; then health_block=$'    health: '"$HEALTH"$'\n    on_all_down: forward'; fi
cat > "$work/dromos.yaml" <<YAML
interface: lb0
control: { socket: $work/control.sock }
flows: { capacity: 65536 }
services:
  - name: dns
    vip: $vip
    port: 53
    protocol: udp
    scheduler: maglev
$health_block
    backends:
      - { address: 198.18.0.11, mac: "${backend_macs[0]}" }
      - { address: 198.18.0.12, mac: "${backend_macs[1]}" }
YAML
cat > "$work/kernel.nft" <<NFT
table netdev ratebench {
    chain in {
        type filter hook ingress device lb0 priority 0; policy accept;
        ip daddr $vip udp dport 53 ether saddr set $balancer_mac ether daddr set jhash ip saddr . ip daddr . udp sport . udp dport mod 2 map { 0 : ${backend_macs[0]}, 1 : ${backend_macs[1]} } fwd to lb0
    }
}
NFT

counter() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; }
# Frames the kernel dropped because core 1's backlog (where RPS queues lb0's frames) was full; the
# counter is per CPU, not per namespace, so other work on the machine can add to it.
backlog_drops() { echo $(( 16#$(awk 'NR == 2 { print $2 }' /proc/net/softnet_stat) )); }
# Busy time of all cores (user, nice, system, irq, softirq, steal), in clock ticks: the XDP program and the
# kernel's share of native XDP run on the generator's core, so one core's figure would flatter them.
busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
ticks_per_second=$(getconf CLK_TCK)
delivered_total() { echo $(( $(counter "${backends[0]}" s0 rx_packets) + $(counter "${backends[1]}" s0 rx_packets) )); }

# `dromos run --io pcap` exists only once the libpcap port is wired to the daemon.
pcap_available=yes
probe=$("$dromos" run --io pcap --config /nonexistent 2>&1 || true)
if grep -q "invalid for '--io" <<<"$probe"; then
    pcap_available=no
    echo "rate-bench: this dromos has no 'run --io pcap' yet; the pcap case is skipped" >&2
fi

start_forwarder() {  # case
    case $1 in
        nft)
            ip netns exec "$lb" nft -f "$work/kernel.nft" ;;
        afpacket|pcap|xdp)
            # shellcheck disable=SC2086 # RUN_ARGS is a list of options
            ip netns exec "$lb" taskset -c 1 "$dromos" run --config "$work/dromos.yaml" --io "$1" --workers 1 ${RUN_ARGS:-} \
                $([ "$1" = afpacket ] && echo "${AFPACKET_ARGS:-}") \
                2> "$work/$1.log" &
            forwarder_pid=$!
            for _ in $(seq 200); do
                grep -q "running:" "$work/$1.log" && return 0
                kill -0 "$forwarder_pid" 2>/dev/null || break
                sleep 0.05
            done
            echo "rate-bench: dromos run --io $1 did not start:" >&2
            cat "$work/$1.log" >&2
            exit 1 ;;
    esac
}

stop_forwarder() {  # case; sets `report` to dromos's closing counts (not in a subshell: it waits for its child)
    report=
    case $1 in
        nft) ip netns exec "$lb" nft delete table netdev ratebench ;;
        *)
            kill -TERM "$forwarder_pid"
            local status=0
            wait "$forwarder_pid" || status=$?
            forwarder_pid=
            if [ "$status" -ne 0 ]; then
                echo "rate-bench: dromos run --io $1 exited $status" >&2
                cat "$work/$1.log" >&2
                exit 1
            fi
            report="dromos: $(grep -o "received [0-9]*, forwarded [0-9]*, passed [0-9]*, dropped [0-9]*" "$work/$1.log" | tail -1)" ;;
    esac
}

declare -A offered_sum delivered_sum runs cpu_sum
cases=(afpacket nft)
[ "$pcap_available" = yes ] && cases=(afpacket pcap nft)
# --io xdp: native XDP runs in lb0's NAPI, on the core that transmitted into it (the generator's), so
# this case's delivered rate is not bounded by core 1 alone: compare CPU over all cores too (issue 12).
if "$dromos" run --help 2>&1 | grep -q "xdp (AF_XDP)"; then cases=(xdp "${cases[@]}"); fi
echo "Rate: trafgen 64-byte UDP frames → VIP${OFFER:+ at $OFFER}, ${seconds}s per case, $rounds rounds ($(nproc) cores; the machine is shared)${RUN_ARGS:+; dromos run $RUN_ARGS}${AFPACKET_ARGS:+; --io afpacket $AFPACKET_ARGS}"
for round in $(seq "$rounds"); do
    for name in "${cases[@]}"; do
        start_forwarder "$name"
        # trafgen stops on SIGINT (its Ctrl-C), not SIGTERM; `timeout` sends it one after the case.
        ip netns exec "$gen" timeout -s INT $((seconds + 2)) taskset -c 0 trafgen --dev c0 --conf "$work/udp.cfg" --cpus 1 ${OFFER:+--rate "$OFFER"} \
            >/dev/null 2>&1 &
        trafgen_pid=$!
        sleep 1  # trafgen's start-up (ring setup) is not part of the window
        offered_before=$(counter "$gen" c0 tx_packets)
        delivered_before=$(delivered_total)
        arrived_before=$(counter "$lb" lb0 rx_packets)
        drops_before=$(backlog_drops)
        busy_before=$(busy_ticks)
        sleep "$seconds"
        busy=$(( $(busy_ticks) - busy_before ))
        drops=$(( ($(backlog_drops) - drops_before) / seconds ))
        arrived=$(( ($(counter "$lb" lb0 rx_packets) - arrived_before) / seconds ))
        offered=$(( ($(counter "$gen" c0 tx_packets) - offered_before) / seconds ))
        delivered=$(( ($(delivered_total) - delivered_before) / seconds ))
        # Nanoseconds of all cores per delivered frame, the generator's own work included (alike in every case).
        cpu_ns=$(awk -v b="$busy" -v t="$ticks_per_second" -v d="$delivered" -v s="$seconds" 'BEGIN { printf "%d", (d > 0 ? b * 1e9 / t / (d * s) : 0) }')
        cpu_sum[$name]=$(( ${cpu_sum[$name]:-0} + cpu_ns ))
        wait "$trafgen_pid" 2>/dev/null || true
        trafgen_pid=
        sleep 0.5  # let the forwarder's ring run empty before it stops
        stop_forwarder "$name"
        offered_sum[$name]=$(( ${offered_sum[$name]:-0} + offered ))
        delivered_sum[$name]=$(( ${delivered_sum[$name]:-0} + delivered ))
        runs[$name]=$(( ${runs[$name]:-0} + 1 ))
        printf 'round %d  %-9s offered %8d pps  at lb0 %8d pps  delivered %8d pps  core-1 backlog drops %7d/s  all cores %5d ns/frame  %s\n' \
            "$round" "$name" "$offered" "$arrived" "$delivered" "$drops" "$cpu_ns" "$report"
    done
done

nft_mean=$(( delivered_sum[nft] / runs[nft] ))
echo "Means over $rounds rounds:"
for name in "${cases[@]}"; do
    offered=$(( offered_sum[$name] / runs[$name] ))
    delivered=$(( delivered_sum[$name] / runs[$name] ))
    ratio=$(awk -v d="$delivered" -v n="$nft_mean" 'BEGIN { printf "%.2f", (n > 0 ? d / n : 0) }')
    share=$(awk -v d="$delivered" -v o="$offered" 'BEGIN { printf "%.0f", (o > 0 ? 100 * d / o : 0) }')
    cpu=$(( cpu_sum[$name] / runs[$name] ))
    printf '  %-9s offered %9d pps  delivered %9d pps (%s%% of offered)  %s× nft  all cores %5d ns per delivered frame\n' \
        "$name" "$offered" "$delivered" "$share" "$ratio" "$cpu"
done
[ "$pcap_available" = yes ] || echo "  pcap      not measured: this dromos has no 'run --io pcap' yet"
