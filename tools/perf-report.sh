#!/usr/bin/env bash
# Everything docs/PERFORMANCE.md reports, in one run on one machine: the rate lab at several offered
# rates and two frame sizes (tools/rate-bench.sh), TCP through the balancer with wrk (tools/tcp-bench.sh),
# the per-frame micro-benchmarks (tools/bench.sh), and the plot of delivered against offered rate.
#
# Usage: tools/perf-report.sh [OUTPUT_DIRECTORY, default docs/perf]      (root; a quiet machine: see below)
#   ROUNDS (default 2) and SECONDS_PER_CASE (default 3) go to the rate runs; QUICK=1 runs one round of
#   2 s at two offered rates only (to check that everything works, not to measure).
#
# Writes OUTPUT_DIRECTORY/rate.csv (one line per case, round, size and offered rate), tcp.csv,
# profiles/CASE-64.txt (perf's top symbols over all cores at full offer, 64-byte frames),
# rate-64.png (delivered against offered pps per forwarder, 64-byte frames), and the full text of every
# run (*.txt). Installs what it lacks from Debian (netsniff-ng, nftables, wrk, haproxy, nginx-light, linux-perf,
# gnuplot-nox). The machine must be otherwise idle: the figures are ratios measured side by side, and
# the CPU-per-frame figure counts every core's busy time.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "perf-report: run as root" >&2; exit 1; }
out=${1:-docs/perf}
mkdir -p "$out"
rounds=${ROUNDS:-2}
seconds=${SECONDS_PER_CASE:-3}
offers=(50000 100000 150000 200000 250000 full)
offers_512=(100000 200000 full)
if [ -n "${QUICK:-}" ]; then rounds=1 seconds=2 offers=(100000 full) offers_512=(full); fi

missing=()
for pair in trafgen:netsniff-ng nft:nftables wrk:wrk haproxy:haproxy nginx:nginx-light gnuplot:gnuplot-nox perf:linux-perf; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "perf-report: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi

echo "perf-report: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg) before the run; $(date -u +%FT%TZ)" | tee "$out/machine.txt"
rm -f "$out/rate.csv" "$out/tcp.csv"
rate() {  # size offer
    local name="rate-$1-$2"
    echo "perf-report: rate, $1-byte frames, offered ${2}"
    # shellcheck disable=SC2046 # OFFER is unset for the full offer
    # At full offer with 64-byte frames, each case is also profiled (perf record over all cores).
    local profile=
    if [ "$2" = full ] && [ "$1" = 64 ]; then profile="$out/profiles"; mkdir -p "$profile"; fi
    env SIZE="$1" ROUNDS="$rounds" CSV="$out/rate.csv" PERF_RECORD="$profile" $([ "$2" = full ] || echo "OFFER=${2}pps") \
        bash tools/rate-bench.sh "$seconds" > "$out/$name.txt" 2>&1 || { cat "$out/$name.txt" >&2; exit 1; }
    sed -n '/^Means/,$p' "$out/$name.txt"
    if [ -n "$profile" ]; then rm -f "$profile"/*.data "$profile"/*.data.old; fi  # the top symbols stay in CASE-64.txt
}
for offer in "${offers[@]}"; do rate 64 "$offer"; done
for offer in "${offers_512[@]}"; do rate 512 "$offer"; done

echo "perf-report: TCP through the balancer (wrk)"
ROUNDS="$rounds" CSV="$out/tcp.csv" bash tools/tcp-bench.sh "$((seconds * 2))" > "$out/tcp.txt" 2>&1 || { cat "$out/tcp.txt" >&2; exit 1; }
tail -n 20 "$out/tcp.txt"

if [ -z "${QUICK:-}" ]; then
    echo "perf-report: per-frame micro-benchmarks (release)"
    BENCH_TARGETS="Parsing Decide Worker" bash tools/bench.sh > "$out/bench.txt" 2>&1 || { tail -n 40 "$out/bench.txt" >&2; exit 1; }
    grep -E "^(Parsing|Decide|Worker)|Time \(wall clock\)|p50|Malloc" "$out/bench.txt" | head -n 60 || true
fi

# The plot: mean delivered against mean offered pps, one line per forwarder, 64-byte frames.
python3 - "$out/rate.csv" "$out/rate-64.dat" <<'PY'
import csv, sys, collections
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["size"] == "64"]
points = collections.defaultdict(lambda: collections.defaultdict(list))
for r in rows:
    points[r["case"]][r["offer"]].append((float(r["offered_pps"]), float(r["delivered_pps"])))
with open(sys.argv[2], "w") as out:
    for case in sorted(points):
        out.write(f'"{case}"\n')
        means = sorted((sum(o for o, _ in v) / len(v), sum(d for _, d in v) / len(v)) for v in points[case].values())
        for offered, delivered in means:
            out.write(f"{offered / 1000:.1f} {delivered / 1000:.1f}\n")
        out.write("\n\n")
PY
cases=$(grep -c '^"' "$out/rate-64.dat")
gnuplot <<GP
set terminal pngcairo size 1000,650 noenhanced font ",11"
set output "$out/rate-64.png"
set title "Delivered vs offered rate, 64-byte UDP, one forwarder core ($(nproc)-vCPU guest, $(uname -r))"
set xlabel "offered (kpps)"
set ylabel "delivered to the backends (kpps)"
set key left top
set grid
plot for [i=0:$((cases - 1))] "$out/rate-64.dat" index i using 1:2 with linespoints title columnheader(1), x title "offered" dashtype 2 lc "gray"
GP
echo "perf-report: wrote $out/rate.csv, $out/tcp.csv, $out/rate-64.png and the runs' text in $out/"
