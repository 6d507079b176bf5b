#!/usr/bin/env bash
# Added latency of a lone frame through the running daemon (`dromos run`) at a low rate, for the
# AF_PACKET RX ring kinds (--rx-ring v2, v3) and --io pcap, next to the same path without Dromos.
#
# Usage: [COUNT=1000] [RATE=200] [CASES="none v2 v3 pcap"] tools/latency-bench.sh   (root)
#
# Lab: namespace gen --veth g0 <-> lb0--> namespace lb (dromos run on lb0, one worker). One Python
# process in gen sends a UDP frame to the VIP 203.0.113.10:9 through a raw socket, stamped with
# CLOCK_MONOTONIC, and waits (up to 100 ms) for the forwarded copy: Dromos rewrites it towards the one
# backend, whose MAC is g0's, so it comes back over the same veth (one-armed, as in production). The
# time from just before send() to the forwarded frame's arrival in the receiving socket is one sample;
# frames go out one at a time, RATE per second on average (random gaps of 0.5–1.5 / RATE, so that
# arrivals do not phase-lock with V3's 1 ms block timer), COUNT of them (bounded: COUNT / RATE seconds plus at
# most 100 ms per lost frame). Case "none": a Python echo on lb0 in place of Dromos (AF_PACKET
# socket, recv → rewrite → send), a floor for "two veth hops and a user-space forwarder".
# Printed per case: samples, lost, median, p99, max in microseconds.
# The namespaces are deleted on exit, also on failure or Ctrl-C; frames never leave them.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/env.sh
count=${COUNT:-1000}
rate=${RATE:-200}
cases=${CASES:-none v2 v3 pcap}
[ "$(id -u)" -eq 0 ] || { echo "latency-bench: run as root" >&2; exit 1; }
(( count > 0 && count <= 100000 && rate > 0 && rate <= 10000 )) || { echo "latency-bench: COUNT 1..100000, RATE 1..10000" >&2; exit 1; }

swift build -c release --product dromos >/dev/null
dromos=$(swift build -c release --show-bin-path)/dromos

suffix=$(printf '%06x' $((RANDOM * 32768 + RANDOM)))
gen=dromos-lgen-$suffix lb=dromos-llb-$suffix
work=$(mktemp -d)
daemon_pid=
cleanup() {
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
    for ns in "$gen" "$lb"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

for ns in "$gen" "$lb"; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip link add g0 netns "$gen" address 02:dd:00:00:00:01 type veth peer name lb0 netns "$lb" address 02:dd:00:00:00:02
ip -n "$gen" addr add 198.18.0.1/24 dev g0
ip -n "$lb" addr add 198.18.0.2/24 dev lb0
ip -n "$gen" link set g0 up
ip -n "$lb" link set lb0 up
# libpcap has no vnet header: no coalescing on lb0 (dromos run --io pcap refuses it otherwise). The
# probe frames are raw and MTU-sized with a zero UDP checksum, so nothing else matters here.
ip netns exec "$lb" ethtool -K lb0 gro off >/dev/null 2>&1 || true

# Its own control socket: the default path is shared by every namespace on the host.
cat > "$work/dromos.yaml" <<YAML
interface: lb0
control: { socket: $work/control.sock }
services:
  - name: probe
    vip: 203.0.113.10
    port: 9
    protocol: udp
    scheduler: rr
    backends:
      - { address: 198.18.0.1, mac: "02:dd:00:00:00:01" }
YAML

# The probe: send one frame, wait for its forwarded copy (source MAC lb0's, destination g0's).
cat > "$work/probe.py" <<'PY'
import random, socket, struct, sys, time, select
count, rate = int(sys.argv[1]), float(sys.argv[2])
ETH_P_ALL, PACKET_OUTGOING = 3, 4
tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
tx.bind(("g0", 0))
rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
rx.bind(("g0", ETH_P_ALL))
rx.setblocking(False)
lb, me = bytes.fromhex("02dd00000002"), bytes.fromhex("02dd00000001")
samples, lost = [], 0
period = 1.0 / rate
next_send = time.monotonic()
for i in range(count):
    payload = b"dromos-latency" + struct.pack("!Q", i) + bytes(18)
    udp = struct.pack("!HHHH", 40000 + i % 64, 9, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xffff, 0, 64, 17, 0,
                     bytes([198, 18, 0, 1]), bytes([203, 0, 113, 10]))
    header = list(struct.unpack("!10H", ip))
    checksum = sum(header)
    checksum = (checksum & 0xffff) + (checksum >> 16)
    checksum = (checksum & 0xffff) + (checksum >> 16)
    ip = ip[:10] + struct.pack("!H", ~checksum & 0xffff) + ip[12:]
    frame = lb + me + b"\x08\x00" + ip + udp
    marker = frame[42:64]
    while select.select([rx], [], [], 0)[0]:
        rx.recv(65536)
    sent = time.monotonic_ns()
    tx.send(frame)
    deadline = sent + 100_000_000
    got = False
    while not got:
        left = (deadline - time.monotonic_ns()) / 1e9
        if left <= 0 or not select.select([rx], [], [], left)[0]:
            break
        while True:
            try:
                data, address = rx.recvfrom(65536)
            except BlockingIOError:
                break
            if address[2] != PACKET_OUTGOING and data[0:6] == me and data[6:12] == lb and data[42:64] == marker:
                samples.append(time.monotonic_ns() - sent)
                got = True
                break
    if not got:
        lost += 1
    # Random gaps (mean 1/RATE): a fixed period would phase-lock with V3's 1 ms retire timer.
    next_send += period * random.uniform(0.5, 1.5)
    pause = next_send - time.monotonic()
    if pause > 0:
        time.sleep(pause)
samples.sort()
def at(q):
    return samples[min(len(samples) - 1, int(q * len(samples)))] / 1000 if samples else float("nan")
print(f"{len(samples):7d} {lost:5d} {at(0.5):10.1f} {at(0.99):10.1f} {samples[-1] / 1000 if samples else float('nan'):10.1f}")
PY

# Case "none": the same hop count with a trivial forwarder in Python (no Dromos).
cat > "$work/echo.py" <<'PY'
import socket, select, sys, time
ETH_P_ALL, PACKET_OUTGOING = 3, 4
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
s.bind(("lb0", ETH_P_ALL))
end = time.monotonic() + float(sys.argv[1])
g0, lb = bytes.fromhex("02dd00000001"), bytes.fromhex("02dd00000002")
print("running:", flush=True)
while time.monotonic() < end:
    if not select.select([s], [], [], 0.2)[0]:
        continue
    data, address = s.recvfrom(65536)
    if address[2] != PACKET_OUTGOING and data[0:6] == lb and len(data) > 64 and data[42:56] == b"dromos-latency":
        s.send(g0 + lb + data[12:])
PY

wait_running() {
    for _ in $(seq 200); do
        grep -q "running:" "$1" 2>/dev/null && return 0
        kill -0 "$daemon_pid" 2>/dev/null || { cat "$1" >&2; return 1; }
        sleep 0.05
    done
    cat "$1" >&2
    return 1
}

seconds=$(( count / rate + 30 ))
printf '%-6s %7s %5s %10s %10s %10s   (µs, send() → forwarded frame received; %d frames at %d/s)\n' \
    case samples lost median p99 max "$count" "$rate"
for case in $cases; do
    log="$work/$case.log"
    case $case in
        none) ip netns exec "$lb" timeout "$seconds" python3 "$work/echo.py" "$seconds" >"$log" 2>&1 & ;;
        v2|v3) ip netns exec "$lb" timeout "$seconds" "$dromos" run --config "$work/dromos.yaml" --rx-ring "$case" 2>"$log" & ;;
        pcap) ip netns exec "$lb" timeout "$seconds" "$dromos" run --config "$work/dromos.yaml" --io pcap 2>"$log" & ;;
        *) echo "latency-bench: unknown case $case (none, v2, v3, pcap)" >&2; exit 1 ;;
    esac
    daemon_pid=$!
    wait_running "$log"
    printf '%-6s ' "$case"
    ip netns exec "$gen" python3 "$work/probe.py" "$count" "$rate"
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
    daemon_pid=
done
