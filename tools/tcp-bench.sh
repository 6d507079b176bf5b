#!/usr/bin/env bash
# HTTP through the balancer, measured with a real load generator (wrk): requests/s and latency
# percentiles through `dromos run --io afpacket`, `--io pcap` and `--io xdp` (direct server return),
# through HAProxy in TCP mode (a full proxy: replies come back through it) and straight to one backend
# (no balancer), in one run, on the same lab.
#
# Usage: [ROUNDS=3] [CSV=file] [CASES="direct afpacket pcap xdp haproxy"] [BACKENDS=2] [LIGHT=1] [HEAVY=64]
#        [CLOSE=1] [BODY=256] tools/tcp-bench.sh [seconds per case and load, default 10]          (root)
#   CASES     which cases, in the order given (the ×haproxy ratios need haproxy, p99-direct needs direct)
#   LIGHT, HEAVY  wrk's connections at the two load levels (one thread each)
#   CLOSE=1   "Connection: close": a new TCP connection, so a new flow for the balancer, per request
#             (default: wrk's keep-alive)
#   BODY      bytes of the response body, 64–1024
# Needs wrk, haproxy, nginx-light and curl: missing ones are installed with apt-get -y (not in CI; their
# system services, where systemd started them, are stopped and disabled again: the benchmark runs its
# own instances, in the lab's namespaces only).
#
# Lab: tools/lab.sh's, named dromos-tcp-SUFFIX (deleted on exit, also on failure or Ctrl-C), IPv4 only,
# static FDB, BACKENDS backends prepared by `dromos backend setup` (VIP 203.0.113.10 on lo, ARP
# suppressed), each running nginx (one worker, a BODY-byte body from memory, keep-alive without a
# request limit) in place of the lab's Python servers, which serve one request per connection:
#   client (wrk, core 0) ──c0─┐
#   lb     (forwarder, core 1) ─lb0─ br0 (namespace sw) ─┬─ s1 (nginx, core 0) 198.18.0.11
#                                                        └─ s2 (nginx, core 0) 198.18.0.12 …
# Cases, all from the client:
#   direct    http://198.18.0.11/   s1 itself, no balancer: the floor.
#   afpacket, pcap, xdp
#             http://203.0.113.10/  the VIP, routed via the balancer: `dromos run --io …` (one worker,
#             maglev over all backends) rewrites the MACs and sends the frames back out of lb0; the
#             backends answer the client directly.
#   haproxy   http://198.18.0.2/    HAProxy 2.6 on the balancer's own address (the VIP stays Dromos's;
#             no address changes between cases), `mode tcp`, `balance roundrobin`, one thread. Round
#             robin, not `balance source`: the lab has one client address, which `source` would send to
#             one backend for the whole run, while Dromos's per-flow hash spreads the connections.
# Pinning: one core for the balancer, the other for everything else, as if client and servers were
# other machines. The forwarder (dromos, or haproxy) runs on core 1 and RPS steers lb0's receive
# processing there; wrk, nginx and the receive processing of c0 and the backends' s0 (RPS) run on core 0.
# Native XDP on a veth runs its program (and the copy into the UMEM) in lb0's NAPI, on the core that
# sent into it: core 0 here, so --io xdp borrows from the client's core (compare "cpu µs/req").
# Offloads, set for every case alike (the direct case does not cross lb0): GRO off on lb0 (--io pcap has
# no vnet header and refuses it), and TX checksum/TSO/GSO off on lb0's bridge-side peer, so that frames
# reach lb0 with finished checksums (veth passes the client's partial checksums along; AF_XDP and
# libpcap cannot say so and would forward segments every backend drops). MTU stays the veth's 1500
# (native XDP on veth needs the peer's MTU ≤ 3506).
#
# Method: per round the cases alternate (direct, afpacket, pcap, xdp, haproxy), ROUNDS rounds; each case
# is started, checked with one curl (HTTP 200 and a BODY-byte body, else the run stops), then loaded
# for `seconds` at each level:
#   light  wrk -t 1 -c LIGHT (1): one request outstanding at a time (closed loop, no queueing): the
#          latency of the path itself; "p99 through Dromos ≤ direct + 1 ms" is judged here.
#   heavy  wrk -t 1 -c HEAVY (64): a concurrent load (one thread: wrk has one core); "requests/s through
#          Dromos ≥ HAProxy" is judged here. wrk is closed loop (no rate limit), so heavy-load
#          latencies include queueing behind its own connections.
# Numbers per case and load: req/s = completed requests / wrk's duration; p50/p90/p99/max = wrk's
# latency distribution (request sent → response complete, µs in the CSV, ms in the table); errors =
# non-2xx/3xx responses + socket errors (connect, read, write, timeout; wrk's --timeout 2s); a case
# with errors is flagged in the table ("ERRORS") and the exit status is 1. core1 % = busy share of the
# balancer's core during the load; cpu µs/req = busy time of all cores per request (wrk and nginx
# included, alike in every case); retrans = TCP segments retransmitted by the client's, the
# balancer's and the backends' stacks (a frame lost on the way costs an RTO: ≥ 200 ms of latency).
# After each Dromos case a line gives its counters over both loads (`dromos ctl stats`: received,
# forwarded, dropped, ring drops = frames the kernel could not hand to its socket, bad checksums).
# The table has means over rounds; CSV=file gets one line per case, round and load. Unless the machine
# was made quiet, other work on it shows in every figure: compare within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/env.sh
seconds=${1:-10}
rounds=${ROUNDS:-3}
backends=${BACKENDS:-2}
light=${LIGHT:-1}
heavy=${HEAVY:-64}
body_bytes=${BODY:-256}
read -r -a cases <<<"${CASES:-direct afpacket pcap xdp haproxy}"
[ "$(id -u)" -eq 0 ] || { echo "tcp-bench: run as root (it creates network namespaces)" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "tcp-bench: needs two cores (balancer, and client with servers)" >&2; exit 1; }
[[ "$seconds" =~ ^[0-9]+$ ]] && (( seconds >= 1 && seconds <= 600 )) || { echo "tcp-bench: seconds 1..600" >&2; exit 2; }
[[ "$rounds" =~ ^[0-9]+$ ]] && (( rounds >= 1 && rounds <= 20 )) || { echo "tcp-bench: ROUNDS 1..20" >&2; exit 2; }
[[ "$backends" =~ ^[0-9]+$ ]] && (( backends >= 1 && backends <= 9 )) || { echo "tcp-bench: BACKENDS 1..9" >&2; exit 2; }
[[ "$light$heavy" =~ ^[0-9]+$ ]] && (( light >= 1 && light <= 4000 && heavy >= 1 && heavy <= 4000 )) || { echo "tcp-bench: LIGHT, HEAVY 1..4000 (nginx worker_connections 4096)" >&2; exit 2; }
[[ "$body_bytes" =~ ^[0-9]+$ ]] && (( body_bytes >= 64 && body_bytes <= 1024 )) || { echo "tcp-bench: BODY 64..1024" >&2; exit 2; }
for name in "${cases[@]}"; do
    [[ "$name" =~ ^(direct|afpacket|pcap|xdp|haproxy)$ ]] || { echo "tcp-bench: unknown case $name (direct afpacket pcap xdp haproxy)" >&2; exit 2; }
done

# The benchmark is not part of CI: it brings in what it needs, like tools/setup.sh.
PATH=$PATH:/usr/sbin
needed=(wrk:wrk haproxy:haproxy nginx:nginx-light curl:curl)
missing=()
for entry in "${needed[@]}"; do
    command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "tcp-bench: installing ${missing[*]} (apt-get -y)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts nginx and haproxy on install; only the lab's own instances are wanted.
    if [ -d /run/systemd/system ]; then
        for package in "${missing[@]}"; do
            case $package in nginx-light) systemctl disable --now nginx.service >/dev/null 2>&1 || true ;;
                             haproxy) systemctl disable --now haproxy.service >/dev/null 2>&1 || true ;; esac
        done
    fi
fi

swift build -c release --product dromos >/dev/null
dromos=$(swift build -c release --show-bin-path)/dromos
export DROMOS=$dromos

vip=203.0.113.10
balancer=198.18.0.2
suffix=$(printf '%06x' $((RANDOM * 32768 + RANDOM)))
lab=dromos-tcp-$suffix
client=$lab-client lb=$lab-lb
work=$(mktemp -d)
forwarder_pid= wrk_pid=
server_pids=()
cleanup() {
    for pid in $wrk_pid $forwarder_pid "${server_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in $wrk_pid $forwarder_pid "${server_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    # Takes every process in the namespaces with it (wrk, nginx, a forwarder that did not stop).
    LAB_NAME=$lab bash tools/lab.sh down >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

backend_address() { echo "198.18.0.$((10 + $1))"; }
backend_mac() { printf '02:00:00:00:01:%02d' $((10 + $1)); }

LAB_NAME=$lab bash tools/lab.sh up "$backends" --no-servers --static-fdb --ipv4-only >/dev/null
ip netns exec "$lb" ethtool -K lb0 gro off lro off 2>/dev/null || ip netns exec "$lb" ethtool -K lb0 gro off
ip netns exec "$lab-sw" ethtool -K plb tx off tso off gso off >/dev/null
# RPS masks: 2 = core 1 (the balancer's), 1 = core 0 (client and servers).
ip netns exec "$lb" sh -c 'echo 2 > /sys/class/net/lb0/queues/rx-0/rps_cpus'
ip netns exec "$client" sh -c 'echo 1 > /sys/class/net/c0/queues/rx-0/rps_cpus'
# CLOSE=1 opens a connection per request; the servers close first and keep the TIME_WAITs.
ip netns exec "$client" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"

body=$(printf '%*s' "$body_bytes" '' | tr ' ' 'x')
for ((n = 1; n <= backends; n++)); do
    ns=$lab-s$n
    mkdir -p "$work/s$n"
    ip netns exec "$ns" sh -c 'echo 1 > /sys/class/net/s0/queues/rx-0/rps_cpus'
    # Everything nginx writes stays in $work; its body comes from memory (no disk, no file permissions).
    cat > "$work/s$n/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/s$n/nginx.pid;
error_log $work/s$n/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/s$n/body;
    proxy_temp_path $work/s$n/proxy;
    fastcgi_temp_path $work/s$n/fastcgi;
    uwsgi_temp_path $work/s$n/uwsgi;
    scgi_temp_path $work/s$n/scgi;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    server {
        # Every address, the VIP on lo included: direct routing delivers the clients' frames to it.
        listen 80 backlog=4096;
        default_type text/plain;
        location / { return 200 "$body"; }
    }
}
NGINX
    ip netns exec "$ns" taskset -c 0 nginx -p "$work/s$n" -e "$work/s$n/error.log" -c "$work/s$n/nginx.conf" &
    server_pids+=($!)
done
for ((n = 1; n <= backends; n++)); do
    for _ in $(seq 50); do
        [ "$(ip netns exec "$client" curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://$(backend_address "$n")/" || true)" = 200 ] && continue 2
        sleep 0.1
    done
    echo "tcp-bench: nginx on s$n does not answer:" >&2
    cat "$work/s$n/error.log" >&2
    exit 1
done

cat > "$work/dromos.yaml" <<YAML
interface: lb0
control: { socket: $work/control.sock }
services:
  - name: web
    vip: $vip
    port: 80
    protocol: tcp
    scheduler: maglev
    backends:
$(for ((n = 1; n <= backends; n++)); do echo "      - { address: $(backend_address "$n"), mac: \"$(backend_mac "$n")\" }"; done)
YAML
cat > "$work/haproxy.cfg" <<CFG
global
    nbthread 1
    maxconn 8192
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend web
    bind $balancer:80
    default_backend pool
backend pool
    balance roundrobin
$(for ((n = 1; n <= backends; n++)); do echo "    server s$n $(backend_address "$n"):80"; done)
CFG
ip netns exec "$lb" haproxy -c -q -f "$work/haproxy.cfg"

# wrk's own summary, exact (µs, counts), in one line instead of its rounded text.
cat > "$work/report.lua" <<'LUA'
done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("result %d %d %d %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
        e.status, e.connect, e.read, e.write, e.timeout))
end
LUA

url_of() {  # case
    case $1 in
        direct) echo "http://$(backend_address 1)/" ;;
        haproxy) echo "http://$balancer/" ;;
        *) echo "http://$vip/" ;;
    esac
}

start_case() {  # case
    local log="$work/$1.log"
    case $1 in
        direct) return 0 ;;
        haproxy)
            ip netns exec "$lb" taskset -c 1 haproxy -db -f "$work/haproxy.cfg" 2> "$log" &
            forwarder_pid=$! ;;
        *)
            ip netns exec "$lb" taskset -c 1 "$dromos" run --config "$work/dromos.yaml" --io "$1" --workers 1 2> "$log" &
            forwarder_pid=$!
            for _ in $(seq 200); do
                grep -q "running:" "$log" && break
                kill -0 "$forwarder_pid" 2>/dev/null || break
                sleep 0.05
            done ;;
    esac
    # The case works when one request gets a 200 and the whole body (retried for up to 5 s: start-up).
    local answer=
    for _ in $(seq 50); do
        answer=$(ip netns exec "$client" curl -s -o /dev/null -w '%{http_code} %{size_download}' --max-time 1 "$(url_of "$1")" || true)
        [ "$answer" = "200 $body_bytes" ] && return 0
        [ -z "$forwarder_pid" ] || kill -0 "$forwarder_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "tcp-bench: $1 does not answer $(url_of "$1") with 200 and $body_bytes bytes (got '${answer:-nothing}'):" >&2
    cat "$log" >&2
    exit 1
}

stop_case() {  # case
    [ -n "$forwarder_pid" ] || return 0
    if [ "$1" != haproxy ]; then
        ip netns exec "$lb" "$dromos" ctl --socket "$work/control.sock" --json stats 2>/dev/null | python3 -c '
import json, sys
t = json.load(sys.stdin)["totals"]
print("         dromos --io %s (both loads): received %d, forwarded %d, dropped %d, ring drops %d, bad checksums %d" % (
    sys.argv[1], t["received"], t["forwarded"], t["dropped"], t["ring_drops"], t["bad_checksums"]))' "$1" || echo "tcp-bench: no stats from dromos run --io $1" >&2
    fi
    kill -TERM "$forwarder_pid" 2>/dev/null || true
    local status=0
    wait "$forwarder_pid" || status=$?
    forwarder_pid=
    # haproxy exits 0 or 143 on SIGTERM depending on the version; dromos must stop cleanly.
    if [ "$1" != haproxy ] && [ "$status" -ne 0 ]; then
        echo "tcp-bench: dromos run --io $1 exited $status:" >&2
        cat "$work/$1.log" >&2
        exit 1
    fi
    if grep -q "checksum that does not hold" "$work/$1.log"; then
        echo "tcp-bench: warning: dromos run --io $1 forwarded frames with bad checksums (see the offloads above)" >&2
    fi
}

# Busy and total clock ticks of one core ("cpu1") or all ("cpu"), from /proc/stat.
ticks() { awk -v c="$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
hz=$(getconf CLK_TCK)
# TCP segments retransmitted in all the lab's stacks (/proc/net/snmp is the reader's namespace's).
retransmits() {
    local ns total=0
    for ns in "$client" "$lb" $(for ((n = 1; n <= backends; n++)); do echo "$lab-s$n"; done); do
        total=$(( total + $(ip netns exec "$ns" awk '$1 == "Tcp:" { if (!seen++) { for (i = 2; i <= NF; i++) if ($i == "RetransSegs") f = i } else print $f }' /proc/net/snmp) ))
    done
    echo "$total"
}

results=$work/results.csv
echo "round,load,case,connections,seconds,requests,requests_per_s,p50_us,p90_us,p99_us,max_us,non2xx,connect_errors,read_errors,write_errors,timeouts,retransmits,core1_busy_pct,cpu_us_per_request" > "$results"
close_header=()
[ "${CLOSE:-0}" = 1 ] && close_header=(-H "Connection: close")

run_load() {  # round, case, load name, connections
    local out="$work/wrk.out" busy1 total1 busy total retrans_before
    retrans_before=$(retransmits)
    read -r busy1 total1 < <(ticks cpu1)
    read -r busy total < <(ticks cpu)
    # In the background so that Ctrl-C ends the wait at once; timeout bounds a wrk that hangs.
    ip netns exec "$client" taskset -c 0 timeout -k 5 $((seconds + 30)) \
        wrk -t 1 -c "$4" -d "${seconds}s" --timeout 2s -s "$work/report.lua" "${close_header[@]}" "$(url_of "$2")" > "$out" 2>&1 &
    wrk_pid=$!
    local status=0
    wait "$wrk_pid" || status=$?
    wrk_pid=
    local b1 t1 b t
    read -r b1 t1 < <(ticks cpu1)
    read -r b t < <(ticks cpu)
    local retrans=$(( $(retransmits) - retrans_before ))
    local line
    line=$(grep '^result ' "$out" || true)
    if [ "$status" -ne 0 ] || [ -z "$line" ]; then
        echo "tcp-bench: wrk failed ($2, $3 load, exit $status):" >&2
        cat "$out" >&2
        exit 1
    fi
    local requests duration p50 p90 p99 max non2xx connect read write timeout
    read -r _ requests duration p50 p90 p99 max non2xx connect read write timeout <<<"$line"
    awk -F, -v OFS=, -v round="$1" -v c="$2" -v load="$3" -v conns="$4" -v s="$seconds" -v n="$requests" -v d="$duration" \
        -v p50="$p50" -v p90="$p90" -v p99="$p99" -v max="$max" -v e="$non2xx,$connect,$read,$write,$timeout,$retrans" \
        -v b1=$((b1 - busy1)) -v t1=$((t1 - total1)) -v b=$((b - busy)) -v hz="$hz" 'BEGIN {
            printf "%d,%s,%s,%d,%d,%d,%.1f,%d,%d,%d,%d,%s,%.1f,%.1f\n", round, load, c, conns, s, n, (d > 0 ? n * 1e6 / d : 0),
                p50, p90, p99, max, e, (t1 > 0 ? 100 * b1 / t1 : 0), (n > 0 ? b * 1e6 / hz / n : 0) }' >> "$results"
    tail -1 "$results" | awk -F, '{
        errors = $12 + $13 + $14 + $15 + $16
        printf "round %d  %-5s %-8s %9.0f req/s  p50 %7.3f  p90 %7.3f  p99 %7.3f  max %8.3f ms  errors %d (non-2xx %d, connect %d, read %d, write %d, timeout %d)  retrans %d  core1 %3.0f%%\n",
            $1, $2, $3, $7, $8 / 1000, $9 / 1000, $10 / 1000, $11 / 1000, errors, $12, $13, $14, $15, $16, $17, $18 }'
}

echo "TCP: wrk GET over HTTP/1.1 ($([ "${CLOSE:-0}" = 1 ] && echo "a connection per request" || echo keep-alive), $body_bytes-byte body), $backends backends (nginx), light -c $light, heavy -c $heavy, ${seconds}s per case and load, $rounds rounds ($(nproc) cores; the machine is shared)"
for round in $(seq "$rounds"); do
    for name in "${cases[@]}"; do
        start_case "$name"
        run_load "$round" "$name" light "$light"
        run_load "$round" "$name" heavy "$heavy"
        stop_case "$name"
    done
done
if [ -n "${CSV:-}" ]; then cp "$results" "$CSV"; fi

# Means over rounds; ratios to HAProxy's requests/s, p99 against the direct case's.
summary() {
    awk -F, -v rounds="$rounds" -v order="${cases[*]}" '
        function cell(v, format, width) { return v == "" ? sprintf("%" width "s", "n/a") : sprintf(format, v) }
        NR == 1 { next }
        { k = $2 SUBSEP $3; runs[k]++; rps[k] += $7; p50[k] += $8; p90[k] += $9; p99[k] += $10; max[k] += $11
          errors[k] += $12 + $13 + $14 + $15 + $16; retrans[k] += $17; core1[k] += $18; cpu[k] += $19 }
        END {
            n = split(order, names, " ")
            split("light heavy", loads, " ")
            verdicts = ""
            for (l = 1; l <= 2; l++) {
                load = loads[l]
                h = load SUBSEP "haproxy"; d = load SUBSEP "direct"
                hrps = runs[h] ? rps[h] / runs[h] : ""; dp99 = runs[d] ? p99[d] / runs[d] : ""
                printf "%s load, means over %d rounds (latencies in ms; retrans and errors: sums):\n", load, rounds
                printf "  %-9s %10s %9s %8s %8s %8s %9s %11s %8s %7s %11s  %s\n", "case", "req/s", "×haproxy", "p50", "p90", "p99", "max", "p99-direct", "retrans", "core1 %", "cpu µs/req", "errors"
                for (i = 1; i <= n; i++) {
                    k = load SUBSEP names[i]
                    if (!runs[k]) continue
                    r = rps[k] / runs[k]; q = p99[k] / runs[k]
                    ratio = hrps == "" ? "" : r / hrps; above = dp99 == "" ? "" : (q - dp99) / 1000
                    printf "  %-9s %10.0f %s %8.3f %8.3f %8.3f %9.3f %s %8d %7.0f %11.1f  %d%s\n", names[i], r, cell(ratio, "%9.2f", 9),
                        p50[k] / runs[k] / 1000, p90[k] / runs[k] / 1000, q / 1000, max[k] / runs[k] / 1000, cell(above, "%+11.3f", 11),
                        retrans[k], core1[k] / runs[k], cpu[k] / runs[k], errors[k], (errors[k] > 0 ? "  ERRORS" : "")
                    if (names[i] == "direct" || names[i] == "haproxy") continue
                    if (load == "light" && above != "")
                        verdicts = verdicts sprintf("  %-9s light p99 %.3f ms = direct %+.3f ms: %s (target: ≤ direct + 1 ms)\n", names[i], q / 1000, above, (above <= 1 ? "met" : "NOT met"))
                    if (load == "heavy" && ratio != "")
                        verdicts = verdicts sprintf("  %-9s heavy %.0f req/s = %.2f× haproxy: %s (target: ≥ haproxy)\n", names[i], r, ratio, (ratio >= 1 ? "met" : "NOT met"))
                }
            }
            if (verdicts != "") printf "targets (Dromos; judge them on a quiet machine):\n%s", verdicts
        }' "$results"
}
summary
if awk -F, 'NR > 1 && $12 + $13 + $14 + $15 + $16 > 0 { found = 1 } END { exit !found }' "$results"; then
    echo "tcp-bench: some cases had errors (flagged ERRORS above)" >&2
    exit 1
fi
