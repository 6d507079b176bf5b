#!/usr/bin/env bash
# Runs the Dromos benchmarks and checks that the per-frame ones do not allocate (and that the worker
# loop stays under its time ceiling).
#
# Usage: tools/bench.sh [benchmark options...]
#
#   Targets: Parsing (frame parser, MAC rewrite), Decide (the balancer's decision on a warm flow
#   table of 1M flows) and Worker (the whole worker loop, DatapathWorker.runBatch over an in-memory
#   port, next to the same loop left generic) are per-frame code and must not allocate; Balancer
#   (Maglev table builds) allocates by design and is run for its timings only.
#   BENCH_TARGETS="Parsing Decide" picks targets.
#   Extra options go to the package-benchmark commands, e.g.  tools/bench.sh --filter 'Parse.*'
#
# Steps:
#   1. swift package --package-path Benchmarks benchmark run --target Parsing
#      builds the Benchmarks package in release mode (several minutes the first time, into
#      Benchmarks/.build) and prints one table per benchmark. Rows marked `*` are per frame: each
#      measured iteration handles the frame 1000 times (scalingFactor .kilo).
#   2. Checks that every benchmark that ran reported a "Malloc (total)" row and has a static
#      thresholds file: package-benchmark silently skips a benchmark with neither, which would let
#      step 3 pass without checking it.
#   3. swift package --package-path Benchmarks benchmark thresholds check --target Parsing
#      --path Benchmarks/Thresholds
#      runs the benchmarks again and compares the p90 of mallocCountTotal per measured iteration
#      (1000 frames, unscaled, so even one allocation per 1000 frames counts) with the 0 stored in
#      Benchmarks/Thresholds/Parsing.<benchmark name>.p90.json, with no tolerance. The specialized
#      worker loop (Worker) also has a wallClock there: nanoseconds per measured iteration of 1000
#      frames, a ceiling that fails only above twice that figure (the 100% tolerance set in
#      Benchmarks/Worker/Worker.swift; a faster run never fails it).
#
# Exit status: 0 when everything passed, non-zero otherwise. `swift package` exits 1 both when a
# benchmark crashed in step 1 (a fixture that no longer parses stops its benchmark with a fatal
# error; "error: benchmarkCrashed") and when step 3 finds an allocation ("error:
# benchmarkThresholdRegression", with a table of the deviation); step 2 exits 1 too.
#
# Read allocations from step 3, not from the table: the table's "Malloc (total) *" row is divided by
# the 1000 frames per iteration and rounded down, so one allocation per 1000 frames shows as 0.
# The check looks only at p90 (all package-benchmark 1.38.1 offers for static thresholds), so an
# allocation in fewer than 10% of the measured iterations would pass it.
#
# The threshold files are written by hand: mallocCountTotal everywhere, and a timing only where the
# benchmark gives it a wide tolerance (the worker loop: timings are noisy on a shared machine, and a
# metric without a configured tolerance is checked for exact equality, both ways). Do not use
# `benchmark thresholds update` on them: it would add every timing metric, and it writes file names
# with '_' for ' ', which the 1.38.1 reader does not look up (it takes the benchmark name as is).
# Benchmark names carry no '/' for the same reason: the reader would look for a subdirectory.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source tools/env.sh

package=Benchmarks
thresholds="$root/$package/Thresholds"
allocation_free=(Parsing Decide Worker)
read -r -a targets <<< "${BENCH_TARGETS:-Parsing Decide Worker Balancer}"

log="$(mktemp "${TMPDIR:-/tmp}/dromos-bench.XXXXXX")"
trap 'rm -f "$log"' EXIT

is_allocation_free() {
    local target
    for target in "${allocation_free[@]}"; do [[ "$target" == "$1" ]] && return 0; done
    return 1
}

# In the text output each benchmark's name is the line before its table's top border (╒); the
# table's rows follow until the bottom border (╘).
check_coverage() {
    local target="$1" missing=0 benchmarks=0 name has_malloc
    while IFS=$'\t' read -r name has_malloc; do
        benchmarks=$((benchmarks + 1))
        if [[ "$has_malloc" != 1 ]]; then
            echo "error: '$name' reported no Malloc (total) row: is the malloc interposer loaded?" >&2
            missing=1
        fi
        if [[ ! -f "$thresholds/$target.$name.p90.json" ]]; then
            echo "error: '$name' has no static threshold: add $thresholds/$target.$name.p90.json" >&2
            missing=1
        fi
    done < <(awk '
        /^╒/ { name = previous; malloc = 0 }
        /^│ Malloc \(total\)/ { malloc = 1 }
        /^╘/ { if (name != "") printf "%s\t%d\n", name, malloc; name = "" }
        { previous = $0 }
    ' "$log")
    if [[ "$benchmarks" -eq 0 ]]; then
        echo "error: no benchmark results found for $target" >&2
        missing=1
    fi
    [[ "$missing" -eq 0 ]] || exit 1
    echo "$benchmarks benchmarks in $target, each with a Malloc (total) row and a threshold file."
}

for target in "${targets[@]}"; do
    echo "== Benchmarks ($target)"
    swift package --package-path "$package" benchmark run --target "$target" --no-progress "$@" | tee "$log"
    is_allocation_free "$target" || continue
    echo
    echo "== Coverage of the malloc threshold check ($target)"
    check_coverage "$target"
    echo
    echo "== Threshold check ($target: the p90s in $package/Thresholds/$target.*; mallocCountTotal must be 0)"
    swift package --package-path "$package" benchmark thresholds check \
        --target "$target" --path "$thresholds" --no-progress "$@"
done
