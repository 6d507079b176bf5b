#!/usr/bin/env bash
# Instructions per frame of the per-frame code, from callgrind: repeatable to the instruction on a busy
# machine, where the Benchmarks package's wall clock moves by tens of percent. Complements, does not
# replace, `tools/bench.sh` (time, allocations): instructions do not see cache misses.
#
# Usage: tools/instructions.sh [--base TREE] [--differential] [CASE...]
#   CASE: parse hot scattered worker new pass arp ns (default: all). Each runs the loop of the benchmark
#         of the same name (Benchmarks/: Parsing, Decide, Worker; new = 50,000 SYN-less first frames of
#         new flows, pass = frames to an address with no service) and reports the instructions callgrind
#         counted inside that loop divided by the frames.
#   --base TREE    also build the driver against TREE (e.g. a `git worktree add /tmp/base main`) and
#                  print both figures side by side.
#   --differential with --base: run every corpus frame (../shared/corpus/tcpdump), whole, cut and
#                  altered, through both builds' parser and balancer and require identical output
#                  (a change meant to keep behavior); exit 1 on any difference.
# The driver (tools/instructions/*.swift, with the benchmarks' Benchmarks/Fixtures) is built in release mode into
# .build-instructions/<tree>/, a package generated there whose dependency is the tree.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
source tools/env.sh
command -v valgrind >/dev/null || { echo "instructions.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }

base="" differential=0 cases=()
while (($#)); do
    case "$1" in
        --base) base=$(realpath "$2"); shift 2 ;;
        --differential) differential=1; shift ;;
        *) cases+=("$1"); shift ;;
    esac
done
((${#cases[@]})) || cases=(parse hot scattered worker new pass arp ns)
if ((differential)) && [[ -z "$base" ]]; then echo "instructions.sh: --differential needs --base TREE" >&2; exit 1; fi

# Builds the driver against tree $1 into .build-instructions/$2; prints the binary's path.
build_driver() {
    local tree=$1 package="$PWD/.build-instructions/$2"
    mkdir -p "$package/Sources/Instructions"
    cp tools/instructions/*.swift Benchmarks/Fixtures/*.swift "$package/Sources/Instructions/"
    cat > "$package/Package.swift" <<SWIFT
// swift-tools-version:6.1
import PackageDescription
let package = Package(
    name: "Instructions",
    dependencies: [.package(path: "$tree")],
    targets: [.executableTarget(name: "Instructions", dependencies: [
        .product(name: "DromosBalancer", package: "$(basename "$tree")"),
        .product(name: "DromosWire", package: "$(basename "$tree")"),
        .product(name: "DromosIO", package: "$(basename "$tree")"),
        .product(name: "DromosDatapath", package: "$(basename "$tree")"),
    ], swiftSettings: [.swiftLanguageMode(.v6)])]
)
SWIFT
    # An incremental build can keep code that one module inlined from an older version of another
    # (seen with the parser's @inlinable path): the tree's modules and the driver are always rebuilt.
    rm -rf "$package"/.build/release/Instructions.build "$package"/.build/release/Dromos*.build
    swift build -c release --package-path "$package" >&2
    echo "$package/.build/release/Instructions"
}

# Instructions per frame of case $2 with binary $1.
per_frame() {
    local binary=$1 case=$2 frames function out
    case $case in
        parse|hot) frames=100000 ;; scattered|new|pass) frames=50000 ;; worker) frames=5000 ;; arp|ns) frames=20000 ;;
        *) echo "instructions.sh: unknown case $case" >&2; exit 1 ;;
    esac
    case $case in
        parse) function=measureParse ;; hot) function=measureHot ;; scattered) function=measureScattered ;;
        worker) function=measureWorker ;; new|pass) function=measureNew ;; arp|ns) function=measureAnswer ;;
    esac
    out=$(mktemp)
    valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="*${function}*" "$binary" "$case" "$frames" >/dev/null 2>"$out.log"
    awk -v frames="$frames" '/^(summary|totals):/ { printf "%.0f", $2 / frames; exit }' "$out"
    rm -f "$out" "$out.log"
}

after=$(build_driver "$PWD" this)
before=""
[[ -n "$base" ]] && before=$(build_driver "$base" base)

if ((differential)); then
    corpus=$(realpath ../shared/corpus/tcpdump)
    "$after" differential "$corpus" > .build-instructions/differential-this.txt
    "$before" differential "$corpus" > .build-instructions/differential-base.txt
    if cmp -s .build-instructions/differential-this.txt .build-instructions/differential-base.txt; then
        echo "differential: identical ($(wc -l < .build-instructions/differential-this.txt) lines: every parse field and decision)"
    else
        echo "differential: DIFFERENT; diff .build-instructions/differential-{base,this}.txt" >&2
        exit 1
    fi
fi

if [[ -n "$base" ]]; then printf "%-10s %8s %8s %7s\n" case base this ratio; else printf "%-10s %8s\n" case this; fi
for case in "${cases[@]}"; do
    this=$(per_frame "$after" "$case")
    if [[ -n "$base" ]]; then
        that=$(per_frame "$before" "$case")
        printf "%-10s %8s %8s %7s\n" "$case" "$that" "$this" "$(awk -v a="$this" -v b="$that" 'BEGIN { printf "%.2f", a / b }')"
    else
        printf "%-10s %8s\n" "$case" "$this"
    fi
done
