#!/usr/bin/env bash
# The rate figure of issue 4: `dromos run --io xdp|afpacket|pcap`, the same techniques as minimal C
# forwarders (tools/ref/, the yardsticks: what each technique can do here) and the kernel doing the same
# job (an nftables netdev-ingress rule that rewrites the MACs by a hash of the flow and forwards out of
# the same interface), in one run, on the same lab.
#
# Usage: [ROUNDS=3] [CASES="xdp nft …"] [SIZE=64|512] [OFFER=200000pps] [CSV=file] [RUN_ARGS=…]
#        [AFPACKET_ARGS="--rx-ring v3"] [HEALTH=…] tools/rate-bench.sh [seconds per case, default 10]
#        (root; trafgen: netsniff-ng; nft; gcc, libpcap-dev, libxdp-dev and libbpf-dev for the C cases).
#        CASES: any of xdp c-xdp afpacket c-afpacket pcap c-pcap nft, run in that order in every round;
#          default: all that are available (a case that is not says why and is skipped; the release build
#          of dromos is made only when a dromos case is chosen).
#        SIZE: the Ethernet frame without FCS, in bytes (default 64).
#        OFFER: trafgen's --rate, a fixed offered rate (loss = 100% - delivered share); default: as fast as it can.
#        DROMOS: a dromos binary to measure instead of this checkout's release build.
#        PERF_RECORD=DIR: `perf record -a -g` over each case's window, DIR/CASE-SIZE.data and the top symbols
#        (comm, object, symbol; above 1%) in DIR/CASE-SIZE.txt. Sampling costs a little of every case.
#        CSV: appends one line per case and round (header when the file is new or empty), for plotting
#          delivered against offered per forwarder.
#        RUN_ARGS go to every `dromos run` case, AFPACKET_ARGS only to --io afpacket (libpcap refuses
#        --rx-ring); default: none, the daemon's defaults.
#
# Lab: tools/lab.sh's, named dromos-rate-SUFFIX (deleted on exit, also on failure or Ctrl-C), with two
# backends that drop every frame at ingress (--sink), a static FDB and IPv6 off:
#   client (trafgen, core 0) ──c0─┐
#   lb     (forwarder, core 1) ─lb0─ br0 (namespace sw; static FDB, no learning) ─┬─ s1 (s0)
#                                                                                 └─ s2 (s0)
# trafgen offers SIZE-byte UDP frames (256 flows) to the VIP with the balancer's MAC as destination. The
# forwarder rewrites source and destination MAC (balancer → backend) and sends them back out of lb0
# (direct routing); the bridge carries them to the backend. Receive processing of lb0 is steered to
# core 1 by RPS, so the kernel's own forwarding (nft) runs on the forwarder's core as Dromos does, and
# trafgen has core 0 to itself; every forwarder runs with `taskset -c 1`. Offloads are the same in every
# case (trafgen's frames carry full checksums and are never larger than the MTU).
# AF_PACKET (dromos's afpacket and pcap ports, c-afpacket, c-pcap) is a tap: the kernel receives the
# frames too. dromos installs an nftables netdev ingress drop for the VIP (KernelDropRule); the C
# AF_PACKET and libpcap cases get the same rule from here, so the kernel does not also process those
# frames. AF_XDP needs none: the kernel never sees what the XDP program redirects.
# The C cases are built here (gcc -O2; the XDP object, Dromos's own program Sources/CXDP/bpf/dromos_xdp.c,
# with the toolchain's clang -target bpf), into the temporary directory.
# Offered pps = c0's tx_packets; at lb0 = lb0's rx_packets (what reached the balancer's interface);
# delivered pps = the backends' s0 rx_packets (counted by veth before anything else looks at the
# frame; an nft ingress drop spares the backends' IP layer). Core 1's backlog drops (softnet_stat) are
# frames RPS could not queue for lb0's receive processing: the kernel's share of the losses.
# Each case runs `seconds`, the cases alternate, ROUNDS times; the ratios are to nft's mean, and for each
# dromos port to its C yardstick's (xdp: c-xdp, afpacket: c-afpacket, pcap: c-pcap).
set -euo pipefail
csv=${CSV:+$(realpath -m "$CSV")}  # before the cd: a relative CSV= is the caller's
cd "$(dirname "$0")/.."
source tools/env.sh
seconds=${1:-10}
rounds=${ROUNDS:-3}
size=${SIZE:-64}
[[ "$size" =~ ^(64|512)$ ]] || { echo "rate-bench: SIZE=64 or SIZE=512 (the Ethernet frame without FCS)" >&2; exit 2; }
all_cases=(xdp c-xdp afpacket c-afpacket pcap c-pcap nft)
# shellcheck disable=SC2206 # CASES is a list of names
wanted=(${CASES:-${all_cases[*]}})
for name in "${wanted[@]}"; do
    [[ " ${all_cases[*]} " == *" $name "* ]] || { echo "rate-bench: unknown case $name in CASES (known: ${all_cases[*]})" >&2; exit 2; }
done
chosen() { [[ " ${wanted[*]} " == *" $1 "* ]]; }
command -v trafgen >/dev/null || { echo "rate-bench: trafgen missing (apt-get install netsniff-ng)" >&2; exit 1; }
command -v nft >/dev/null || { echo "rate-bench: nft missing (apt-get install nftables)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "rate-bench: run as root" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "rate-bench: needs two cores (generator and forwarder)" >&2; exit 1; }

dromos=${DROMOS:-}
if [ -z "$dromos" ] && { chosen xdp || chosen afpacket || chosen pcap; }; then
    swift build -c release --product dromos >/dev/null
    dromos=$(swift build -c release --show-bin-path)/dromos
fi

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
trap cleanup EXIT
# A signal ends the run (through the EXIT trap); a trap that only cleaned up would let it go on without a lab.
trap "exit 130" INT
trap "exit 143" TERM

# Static entries, no learning: the bridge never floods a forwarded frame back to lb0 (a loop).
LAB_NAME=$lab bash tools/lab.sh up 2 --sink --static-fdb --ipv4-only --backend-vip hand >/dev/null
# What `--io pcap` needs (it has no vnet header and refuses an lb0 with GRO on), set for all three
# cases alike: no coalescing on lb0, no segmentation or checksum offload on its bridge-side peer.
ip netns exec "$lb" ethtool -K lb0 gro off lro off 2>/dev/null || ip netns exec "$lb" ethtool -K lb0 gro off
ip netns exec "$sw" ethtool -K plb tx off tso off gso off >/dev/null
ip netns exec "$lb" sh -c 'echo 2 > /sys/class/net/lb0/queues/rx-0/rps_cpus'

# Ethernet 14 + IPv4 20 + UDP 8 bytes of headers; the fill makes up the rest of SIZE.
cat > "$work/udp.cfg" <<CFG
{ eth(da=$balancer_mac, sa=$gen_mac), ipv4(saddr=198.18.1.1, daddr=$vip),
  udp(sp=dinc(10000, 10255), dp=53), fill(0x41, $((size - 42))) }
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
# What dromos's KernelDropRule installs for --io afpacket and pcap, for the C AF_PACKET and libpcap cases.
cat > "$work/drop.nft" <<NFT
table netdev ratebench_drop {
  chain ingress {
    type filter hook ingress device "lb0" priority -500; policy accept;
    ip daddr { $vip } drop
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

# Why a chosen case cannot run; the case is skipped and the reason printed (here and with the means).
declare -A skipped
if [ -n "$dromos" ]; then
    # `dromos run --io pcap` exists only once the libpcap port is wired to the daemon.
    if chosen pcap && grep -q "invalid for '--io" <<<"$("$dromos" run --io pcap --config /nonexistent 2>&1 || true)"; then
        skipped[pcap]="this dromos has no 'run --io pcap' yet"
    fi
    if chosen xdp && ! "$dromos" run --help 2>&1 | grep -q "xdp (AF_XDP)"; then
        skipped[xdp]="this dromos has no 'run --io xdp' yet"
    fi
fi
# The C yardsticks; a failed build (a missing library) skips its case with the compiler's first error.
build() {  # case, command…
    local output
    if ! output=$("${@:2}" 2>&1); then
        skipped[$1]="$(basename "$2") failed: $(grep -m1 -i -E "error|cannot find" <<<"$output" || head -1 <<<"$output")"
        return 1
    fi
}
if chosen c-afpacket; then build c-afpacket gcc -O2 -o "$work/fwd-afpacket" tools/ref/fwd-afpacket.c || true; fi
if chosen c-pcap; then build c-pcap gcc -O2 -o "$work/fwd-pcap" tools/ref/fwd-pcap.c -lpcap || true; fi
if chosen c-xdp; then
    bpf_clang=$(dirname "$(command -v swift)")/clang
    build c-xdp "$bpf_clang" -O2 -g -target bpf -I/usr/include/"$(gcc -print-multiarch)" -c Sources/CXDP/bpf/dromos_xdp.c -o "$work/dromos_xdp.o" \
        && build c-xdp gcc -O2 -o "$work/fwd-xdp" tools/ref/fwd-xdp.c -lxdp -lbpf || true
fi
for name in "${!skipped[@]}"; do echo "rate-bench: the $name case is skipped: ${skipped[$name]}" >&2; done

start_forwarder() {  # case
    local forwarder=(ip netns exec "$lb" taskset -c 1) machine=(lb0 0 "$vip" "$balancer_mac" "${backend_macs[@]}")
    case $1 in
        nft)
            ip netns exec "$lb" nft -f "$work/kernel.nft"
            return 0 ;;
        afpacket|pcap|xdp)
            # shellcheck disable=SC2086 # RUN_ARGS is a list of options
            "${forwarder[@]}" "$dromos" run --config "$work/dromos.yaml" --io "$1" --workers 1 ${RUN_ARGS:-} \
                $([ "$1" = afpacket ] && echo "${AFPACKET_ARGS:-}") \
                2> "$work/$1.log" & ;;
        c-afpacket|c-pcap)
            ip netns exec "$lb" nft -f "$work/drop.nft"
            "${forwarder[@]}" "$work/fwd-${1#c-}" "${machine[@]}" 2> "$work/$1.log" & ;;
        c-xdp)
            "${forwarder[@]}" "$work/fwd-xdp" "$work/dromos_xdp.o" "${machine[@]}" 2> "$work/$1.log" & ;;
    esac
    forwarder_pid=$!
    for _ in $(seq 200); do
        # -s: the forwarder's shell may not have created the log yet.
        grep -qs -E "running:|: running on" "$work/$1.log" && return 0
        kill -0 "$forwarder_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "rate-bench: the $1 forwarder did not start:" >&2
    cat "$work/$1.log" >&2
    exit 1
}

stop_forwarder() {  # case; sets `report` to the forwarder's closing counts (not in a subshell: it waits for its child)
    report=
    case $1 in
        nft) ip netns exec "$lb" nft delete table netdev ratebench ;;
        *)
            kill -TERM "$forwarder_pid"
            local status=0
            wait "$forwarder_pid" || status=$?
            forwarder_pid=
            if [ "$status" -ne 0 ]; then
                echo "rate-bench: the $1 forwarder exited $status" >&2
                cat "$work/$1.log" >&2
                exit 1
            fi
            case $1 in
                c-*)
                    [[ "$1" == c-xdp ]] || ip netns exec "$lb" nft delete table netdev ratebench_drop
                    report="c: $(grep -o "received [0-9]*, forwarded [0-9]*, passed [0-9]*, not sent .*" "$work/$1.log" | tail -1)" ;;
                *) report="dromos: $(grep -o "received [0-9]*, forwarded [0-9]*, passed [0-9]*, dropped [0-9]*" "$work/$1.log" | tail -1)" ;;
            esac ;;
    esac
    # The next case must find lb0 as the lab made it.
    if ip -n "$lb" link show lb0 | grep -qw xdp; then
        echo "rate-bench: the $1 forwarder left an XDP program on lb0" >&2
        exit 1
    fi
}

declare -A offered_sum delivered_sum runs cpu_sum
# xdp, c-xdp: native XDP runs in lb0's NAPI, on the core that transmitted into it (the generator's), so
# their delivered rate is not bounded by core 1 alone: compare CPU over all cores too (issue 12).
cases=()
for name in "${all_cases[@]}"; do
    if chosen "$name" && [ -z "${skipped[$name]:-}" ]; then cases+=("$name"); fi
done
[ "${#cases[@]}" -gt 0 ] || { echo "rate-bench: no case left to run" >&2; exit 1; }
if [ -n "$csv" ] && [ ! -s "$csv" ]; then
    echo "size,offer,round,case,offered_pps,at_lb0_pps,delivered_pps,backlog_drops_per_s,all_cores_ns_per_frame" > "$csv"
fi
echo "Rate: trafgen $size-byte UDP frames → VIP${OFFER:+ at $OFFER}, ${seconds}s per case, $rounds rounds ($(nproc) cores; the machine is shared)${RUN_ARGS:+; dromos run $RUN_ARGS}${AFPACKET_ARGS:+; --io afpacket $AFPACKET_ARGS}"
for round in $(seq "$rounds"); do
    for name in "${cases[@]}"; do
        start_forwarder "$name"
        # trafgen stops on SIGINT (its Ctrl-C), not SIGTERM; `timeout` passes ours on to all of trafgen's
        # processes, and sends one itself should this script be gone.
        ip netns exec "$gen" timeout -s INT $((seconds + 60)) taskset -c 0 trafgen --dev c0 --conf "$work/udp.cfg" --cpus 1 ${OFFER:+--rate "$OFFER"} \
            >/dev/null 2>&1 &
        trafgen_pid=$!
        # trafgen's start-up (ring setup; seconds on a busy machine) is not part of the window: wait until
        # it sends, then 1 s more.
        idle=$(counter "$gen" c0 tx_packets)
        for _ in $(seq 300); do
            [ "$(counter "$gen" c0 tx_packets)" = "$idle" ] || break
            kill -0 "$trafgen_pid" 2>/dev/null || break
            sleep 0.1
        done
        if [ "$(counter "$gen" c0 tx_packets)" = "$idle" ]; then
            echo "rate-bench: trafgen sent nothing within 30 s (case $name, round $round)" >&2
            exit 1
        fi
        sleep 1
        offered_before=$(counter "$gen" c0 tx_packets)
        delivered_before=$(delivered_total)
        arrived_before=$(counter "$lb" lb0 rx_packets)
        drops_before=$(backlog_drops)
        busy_before=$(busy_ticks)
        if [ -n "${PERF_RECORD:-}" ]; then
            # The profile of every core over the window (the kernel's share included: it is most of the
            # cost), then the symbols above 1% by command and object.
            perf record -q -a -g -o "$PERF_RECORD/$name-$size.data" -- sleep "$seconds" 2>/dev/null
            perf report -q -i "$PERF_RECORD/$name-$size.data" --stdio --no-children --sort comm,dso,sym --percent-limit 1 \
                -g none 2>/dev/null > "$PERF_RECORD/$name-$size.txt" || true
        else
            sleep "$seconds"
        fi
        busy=$(( $(busy_ticks) - busy_before ))
        drops=$(( ($(backlog_drops) - drops_before) / seconds ))
        arrived=$(( ($(counter "$lb" lb0 rx_packets) - arrived_before) / seconds ))
        offered=$(( ($(counter "$gen" c0 tx_packets) - offered_before) / seconds ))
        delivered=$(( ($(delivered_total) - delivered_before) / seconds ))
        # Nanoseconds of all cores per delivered frame, the generator's own work included (alike in every case).
        cpu_ns=$(awk -v b="$busy" -v t="$ticks_per_second" -v d="$delivered" -v s="$seconds" 'BEGIN { printf "%d", (d > 0 ? b * 1e9 / t / (d * s) : 0) }')
        cpu_sum[$name]=$(( ${cpu_sum[$name]:-0} + cpu_ns ))
        kill -INT "$trafgen_pid" 2>/dev/null || true
        wait "$trafgen_pid" 2>/dev/null || true
        trafgen_pid=
        sleep 0.5  # let the forwarder's ring run empty before it stops
        stop_forwarder "$name"
        offered_sum[$name]=$(( ${offered_sum[$name]:-0} + offered ))
        delivered_sum[$name]=$(( ${delivered_sum[$name]:-0} + delivered ))
        runs[$name]=$(( ${runs[$name]:-0} + 1 ))
        printf 'round %d  %-10s offered %8d pps  at lb0 %8d pps  delivered %8d pps  core-1 backlog drops %7d/s  all cores %5d ns/frame  %s\n' \
            "$round" "$name" "$offered" "$arrived" "$delivered" "$drops" "$cpu_ns" "$report"
        if [ -n "$csv" ]; then
            echo "$size,${OFFER:-max},$round,$name,$offered,$arrived,$delivered,$drops,$cpu_ns" >> "$csv"
        fi
    done
done

# "1.02× nft", or "" when that case did not run.
ratio_to() {  # delivered, case
    [ -n "${runs[$2]:-}" ] || return 0
    awk -v d="$1" -v n="$(( delivered_sum[$2] / runs[$2] ))" -v c="$2" 'BEGIN { printf "  %.2f× %s", (n > 0 ? d / n : 0), c }'
}
declare -A yardstick=([xdp]=c-xdp [afpacket]=c-afpacket [pcap]=c-pcap)
echo "Means over $rounds rounds:"
for name in "${cases[@]}"; do
    offered=$(( offered_sum[$name] / runs[$name] ))
    delivered=$(( delivered_sum[$name] / runs[$name] ))
    share=$(awk -v d="$delivered" -v o="$offered" 'BEGIN { printf "%.0f", (o > 0 ? 100 * d / o : 0) }')
    cpu=$(( cpu_sum[$name] / runs[$name] ))
    printf '  %-10s offered %9d pps  delivered %9d pps (%s%% of offered)  all cores %5d ns per delivered frame%s%s\n' \
        "$name" "$offered" "$delivered" "$share" "$cpu" "$(ratio_to "$delivered" nft)" \
        "$(ratio_to "$delivered" "${yardstick[$name]:-none}")"
done
for name in "${!skipped[@]}"; do printf '  %-10s not measured: %s\n' "$name" "${skipped[$name]}"; done
