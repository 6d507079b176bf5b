#!/usr/bin/env bash
# Latency of control-socket requests against a real `dromos run` (2 workers, idle datapath) in the lab
# (tools/lab.sh, two backends, no servers): reads (status, backends, stats, flows) and changes (backend weight, drain +
# undrain: each validated, table built, state file fsynced and renamed, published, then answered).
# One client, requests back to back on one connection; prints p50/p90/p99/max per kind in ms.
#
# Usage: [REQUESTS=200] [CONFIGURATION=debug|release] tools/control-bench.sh   (root)
# The lab and the temporary directory are removed on exit, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/env.sh
requests=${REQUESTS:-200}
configuration=${CONFIGURATION:-debug}
[ "$(id -u)" -eq 0 ] || { echo "control-bench: run as root" >&2; exit 1; }

swift build -c "$configuration" --product dromos >/dev/null
dromos=$(swift build -c "$configuration" --show-bin-path)/dromos

suffix=$(printf '%06x' $((RANDOM * 32768 + RANDOM)))
lab=dromos-cbench-$suffix
ns=$lab-lb
work=$(mktemp -d)
daemon_pid=
cleanup() {
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
    LAB_NAME=$lab bash tools/lab.sh down >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

LAB_NAME=$lab bash tools/lab.sh up 2 --no-servers --ipv4-only --backend-vip hand >/dev/null
cat >"$work/dromos.yaml" <<YAML
interface: lb0
control: { socket: $work/control.sock }
state: $work/state/state.yaml
services:
  - name: web
    vip: 203.0.113.10
    port: 80
    scheduler: maglev
    backends:
      - { address: 198.18.0.11, mac: "02:00:00:00:01:11" }
      - { address: 198.18.0.12, mac: "02:00:00:00:01:12" }
YAML
ip netns exec "$ns" "$dromos" run --config "$work/dromos.yaml" --workers 2 2>"$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do [ -S "$work/control.sock" ] && break; sleep 0.1; done
[ -S "$work/control.sock" ] || { cat "$work/daemon.log" >&2; exit 1; }

python3 - "$work/control.sock" "$requests" <<'PY'
import json, socket, sys, time
path, count = sys.argv[1], int(sys.argv[2])
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect(path)
f = c.makefile('rb')
def ask(request):
    start = time.perf_counter()
    c.sendall((json.dumps(request) + '\n').encode())
    answer = json.loads(f.readline())
    elapsed = (time.perf_counter() - start) * 1000
    assert answer['ok'], answer
    return elapsed
kinds = {
    'status': lambda i: [{'command': 'status'}],
    'backends': lambda i: [{'command': 'backends', 'service': 'web'}],
    'stats': lambda i: [{'command': 'stats'}],
    'flows': lambda i: [{'command': 'flows', 'service': 'web', 'limit': 100}],
    'backend weight': lambda i: [{'command': 'backend weight', 'service': 'web', 'address': '198.18.0.12', 'weight': 1 + i % 7}],
    'drain+undrain': lambda i: [{'command': 'backend drain', 'service': 'web', 'address': '198.18.0.11'},
                                {'command': 'backend undrain', 'service': 'web', 'address': '198.18.0.11'}],
}
for name, make in kinds.items():
    samples = sorted(sum(ask(r) for r in make(i)) / len(make(i)) for i in range(count))
    pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]
    print('%-15s n=%d  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms' % (name, count, pick(0.5), pick(0.9), pick(0.99), samples[-1]))
PY
