#!/usr/bin/env bash
# What health checks cost the daemon: `dromos run` with one service of N backends (default 1000), all
# probed every second with a tcp check, against the same daemon with no check; CPU time of the
# daemon's process (utime + stime from /proc) over the same window, and the probes it made.
#
# Usage: [BACKENDS=1000] [SECONDS_MEASURED=20] [CHECK=tcp|http] tools/health-bench.sh   (root)
# Lab (namespaces with a random suffix, deleted on exit, also on failure or Ctrl-C): lb (dromos, lb0)
# and be (one namespace holding all N backend addresses, 198.18.4.0/22, on one veth, and an asyncio
# server on port 80 that answers each connection with an HTTP 200 and closes).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/env.sh
count=${BACKENDS:-1000}
window=${SECONDS_MEASURED:-20}
check=${CHECK:-tcp}
[ "$(id -u)" -eq 0 ] || { echo "health-bench: run as root" >&2; exit 1; }
[ "$count" -le 1000 ] || { echo "health-bench: at most 1000 backends (198.18.4.0/22)" >&2; exit 1; }

swift build -c release --product dromos >/dev/null
dromos=$(swift build -c release --show-bin-path)/dromos

suffix=$(printf '%06x' $((RANDOM * 32768 + RANDOM)))
lb=dromos-hlb-$suffix
be=dromos-hbe-$suffix
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
    ip netns del "$lb" 2>/dev/null || true
    ip netns del "$be" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

ip netns add "$lb"
ip netns add "$be"
for ns in "$lb" "$be"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
done
ip link add lb0 netns "$lb" address 02:00:00:00:00:02 type veth peer name s0 netns "$be" address 02:00:00:00:01:11
ip -n "$lb" link set lb0 up
ip -n "$be" link set s0 up
ip -n "$lb" addr add 198.18.0.2/16 dev lb0
ip -n "$be" addr add 198.18.0.11/16 dev s0
backend_address() { echo "198.18.$((4 + $1 / 250)).$((1 + $1 % 250))"; }
for ((i = 0; i < count; i++)); do echo "addr add $(backend_address $i)/32 dev s0"; done | ip -n "$be" -batch -
ip netns exec "$be" python3 -c '
import asyncio
async def answer(reader, writer):
    try:
        await asyncio.wait_for(reader.read(1024), 1)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
    except Exception:
        pass
    writer.close()
async def main():
    server = await asyncio.start_server(answer, "0.0.0.0", 80, backlog=4096)
    async with server:
        await server.serve_forever()
asyncio.run(main())' &
pids+=($!)

config() {  # with a health check or not
    echo "interface: lb0"
    echo "control: { socket: $work/control.sock }"
    echo "flows: { capacity: 65536 }"
    echo "services:"
    echo "  - name: web"
    echo "    vip: 203.0.113.10"
    echo "    port: 80"
    [ "$1" = yes ] && echo "    health: { type: $check, interval: 1s, timeout: 500ms }"
    echo "    backends:"
    for ((i = 0; i < count; i++)); do echo "      - { address: $(backend_address $i), mac: \"02:00:00:00:01:11\" }"; done
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
probes() {  # all probes so far, summed over the backends
    ip netns exec "$lb" "$dromos" ctl --socket "$work/control.sock" --json backends web \
        | python3 -c 'import json, sys; print(sum(b.get("probes", 0) for b in json.load(sys.stdin)["backends"]))'
}
ticks_per_second=$(getconf CLK_TCK)
for health in no yes; do
    config "$health" > "$work/dromos.yaml"
    ip netns exec "$lb" "$dromos" run --config "$work/dromos.yaml" --workers 1 2> "$work/log" &
    daemon=$!
    pids+=($daemon)
    for _ in $(seq 600); do grep -q "running:" "$work/log" && break; sleep 0.1; done
    grep -q "running:" "$work/log" || { cat "$work/log" >&2; exit 1; }
    sleep 5
    before=$(cpu_ticks "$daemon"); probes_before=$([ "$health" = yes ] && probes || echo 0); start=$(date +%s.%N)
    sleep "$window"
    after=$(cpu_ticks "$daemon"); probes_after=$([ "$health" = yes ] && probes || echo 0); end=$(date +%s.%N)
    python3 - "$health" "$before" "$after" "$start" "$end" "$ticks_per_second" "$probes_before" "$probes_after" "$count" "$check" <<'PY'
import sys
health, before, after, start, end, hz, p0, p1, count, check = sys.argv[1:]
seconds = float(end) - float(start)
cpu = (int(after) - int(before)) / int(hz)
label = f"{count} backends, {check} check every 1s" if health == "yes" else f"{count} backends, no check"
rate = (int(p1) - int(p0)) / seconds
print(f"{label:38s} daemon CPU {cpu:6.2f} s in {seconds:5.1f} s = {100 * cpu / seconds:5.1f}% of a core"
      + (f"; {rate:7.1f} probes/s" if health == "yes" else ""))
PY
    down=$(grep -c " is down:" "$work/log" || true)
    [ "$health" = yes ] && echo "    transitions to down logged: $down (expected 0: every backend answers)"
    kill -TERM "$daemon"; wait "$daemon" 2>/dev/null || true
done
