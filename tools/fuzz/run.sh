#!/usr/bin/env bash
# Fuzz DromosWire (frame parser, MAC rewrite, address text parsers) with libFuzzer + AddressSanitizer.
#
# Usage (from the repository root):
#   bash tools/fuzz/run.sh                 # build, seed, fuzz for ${FUZZ_SECONDS:-600} seconds
#   bash tools/fuzz/run.sh --smoke         # the same for ~30 s (CI); FUZZ_SECONDS is ignored
#   bash tools/fuzz/run.sh --build-only    # only build the fuzzer binary
#   bash tools/fuzz/run.sh [--smoke] -- ARGS...   # extra libFuzzer flags, e.g. `-- -runs=0` (only run
#                                          # the corpus) or `-- -use_value_profile=1`
#
# Environment:
#   FUZZ_SECONDS   fuzzing time in seconds (default 600; --smoke uses 30)
#   FUZZ_PCAPS     directory of pcap/pcapng captures to seed from (default ../shared/corpus/tcpdump)
#   SWIFTC         compiler (default: swiftc on PATH)
#   FUZZ_OPT       optimisation flag (default -O)
#   DROMOS_FUZZ_NO_LIBC=1  disable the glibc inet_pton/inet_ntop differential checks in the target
#   SWIFT_BACKTRACE        defaults to enable=no here: the Swift runtime's backtracer otherwise takes
#                          over the trap of a fatalError (and can hang holding the output pipe), so
#                          libFuzzer would neither print its stack trace nor write the artifact cleanly
#
# Layout (all under .build-fuzz/, which is gitignored):
#   src/                     snapshot of Sources/DromosWire/*.swift that was compiled (others may be
#                            editing Sources/ meanwhile)
#   frame-parser-fuzzer      the fuzzer binary (swiftc -sanitize=fuzzer,address -parse-as-library)
#   seeds/                   frames extracted from the captures by tools/pcap_frames.py
#   seeds-text/              a few address strings for the text parsers
#   corpus/                  the evolving corpus (libFuzzer writes new inputs here)
#   artifacts/               crash-*/timeout-*/oom-* reproducers
#   fuzz.log                 the last run's libFuzzer output
#
# Exit status: 0 when libFuzzer ran to the time limit without finding anything; non-zero when the build
# failed or libFuzzer reported a crash, invariant violation, timeout or OOM (see .build-fuzz/artifacts/).
#
# Replay / minimise a crash:
#   .build-fuzz/frame-parser-fuzzer .build-fuzz/artifacts/crash-XYZ
#   .build-fuzz/frame-parser-fuzzer -minimize_crash=1 -runs=100000 \
#       -exact_artifact_path=.build-fuzz/artifacts/minimized .build-fuzz/artifacts/crash-XYZ
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"

seconds="${FUZZ_SECONDS:-600}"
build_only=0
extra_args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --smoke) seconds=30; shift ;;
        --build-only) build_only=1; shift ;;
        --) shift; extra_args=("$@"); break ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

out=.build-fuzz
binary="$out/frame-parser-fuzzer"
swiftc="${SWIFTC:-swiftc}"
opt="${FUZZ_OPT:--O}"
pcaps="${FUZZ_PCAPS:-../shared/corpus/tcpdump}"
mkdir -p "$out/src" "$out/seeds" "$out/seeds-text" "$out/corpus" "$out/artifacts"

# --- Build -------------------------------------------------------------------------------------------
# Compile a snapshot so that concurrent edits to Sources/ cannot change files under the compiler.
rm -f "$out"/src/*.swift
cp Sources/DromosWire/*.swift "$out/src/"
flags=(
    -sanitize=fuzzer,address -parse-as-library "$opt" -g
    -swift-version 6
    -enable-upcoming-feature ExistentialAny -enable-upcoming-feature InternalImportsByDefault
    -use-ld=lld
    -module-name DromosWireFuzz
)
echo "run.sh: $swiftc ${flags[*]} $out/src/*.swift tools/fuzz/FrameParserFuzzer.swift -o $binary"
"$swiftc" "${flags[@]}" "$out"/src/*.swift tools/fuzz/FrameParserFuzzer.swift -o "$binary.tmp"
mv -f "$binary.tmp" "$binary"
[[ $build_only -eq 1 ]] && exit 0

# --- Seeds ---------------------------------------------------------------------------------------------
shopt -s nullglob
captures=("$pcaps"/*)
shopt -u nullglob
if [[ ${#captures[@]} -gt 0 ]]; then
    python3 tools/pcap_frames.py seeds --out "$out/seeds" "${captures[@]}"
else
    echo "run.sh: warning: no captures in $pcaps; seeding from text seeds only" >&2
fi
text_seeds=(
    "192.0.2.1" "0.0.0.0" "255.255.255.255" "10.0.0.01" "1.2.3"
    "2001:db8::1" "::" "::1" "::ffff:192.0.2.1" "fe80::1%eth0" "1:2:3:4:5:6:7:8" "1:2:3:4:5:6:1.2.3.4"
    "02:00:5e:00:00:01" "02-00-5E-00-00-01" "2:0:5e:0:0:1"
)
for index in "${!text_seeds[@]}"; do
    printf '%s' "${text_seeds[$index]}" > "$out/seeds-text/text-$index"
done
echo "run.sh: seeds: $(find "$out/seeds" -type f | wc -l) frames, ${#text_seeds[@]} text; corpus: $(find "$out/corpus" -type f | wc -l) inputs"

# --- Fuzz ----------------------------------------------------------------------------------------------
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"
before="$(find "$out/artifacts" -type f | wc -l)"
args=(
    -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048
    -artifact_prefix="$out/artifacts/" -dict=tools/fuzz/dromos.dict -print_final_stats=1
)
if [[ ${#extra_args[@]} -gt 0 ]]; then args+=("${extra_args[@]}"); fi
echo "run.sh: $binary ${args[*]} $out/corpus $out/seeds $out/seeds-text"
status=0
"$binary" "${args[@]}" "$out/corpus" "$out/seeds" "$out/seeds-text" 2>&1 | tee "$out/fuzz.log" || status=$?
after="$(find "$out/artifacts" -type f | wc -l)"
if [[ $status -ne 0 ]]; then
    echo "run.sh: libFuzzer exited with status $status; artifacts in $out/artifacts/" >&2
    exit "$status"
fi
if [[ $after -gt $before ]]; then
    echo "run.sh: libFuzzer wrote $((after - before)) new artifact(s) to $out/artifacts/" >&2
    exit 1
fi
echo "run.sh: no crash in ${seconds}s"
