#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, then a short fuzzing run of the frame
# parser, then the unit, corpus, lab and end-to-end tests (`swift test`). Ends with a one-line summary
# (suites, tests, skipped with their reasons, duration) and the plain `tests: N passed, N failed` line.
# FUZZ_SECONDS=0 skips the fuzzing run; extra arguments go to `swift test` (e.g. --filter EndToEndTests).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
bash tools/setup.sh
source tools/env.sh

fuzz_seconds="${FUZZ_SECONDS:-30}"
if [ "$fuzz_seconds" != 0 ]; then
    FUZZ_SECONDS="$fuzz_seconds" bash tools/fuzz/run.sh --smoke
fi
swift build --build-tests

log="$(mktemp "${TMPDIR:-/tmp}/dromos-test.XXXXXX")"
trap 'rm -f "$log"' EXIT
status=0
swift test "$@" 2>&1 | tee "$log" || status=$?

python3 - "$log" "$started" "$status" "$fuzz_seconds" <<'EOF'
import re, sys, time
text = open(sys.argv[1], errors="replace").read()
started, status, fuzz = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
run = re.search(r"Test run with (\d+) tests? in (\d+) suites? (passed|failed)", text)
tests, suites = (int(run.group(1)), int(run.group(2))) if run else (0, 0)
# A parameterized test ends "… with 2 test cases failed after": counted once, as "Test run with N tests" counts it.
failed = len(set(re.findall(r"^\S+ Test (\S+?\(.*?\))(?: with \d+ test cases?)? failed after", text, re.M)))
skipped = re.findall(r"^\S+ Test (\S+?\(.*?\)) skipped(?:: \"?(.*?)\"?)?$", text, re.M)
reasons = {}
for _, reason in skipped:
    reasons[reason or "no reason given"] = reasons.get(reason or "no reason given", 0) + 1
skip_text = "; ".join(f"{count} × {reason}" for reason, count in reasons.items()) or "none"
if status != 0 and failed == 0:
    failed = 1  # the run crashed or a step before the tests failed: never report a clean count
passed = tests - failed - len(skipped)
verdict = "crashed or did not finish" if not run else ("passed" if status == 0 else "failed")
print(f"summary: {suites} suites, {tests} tests {verdict} in {int(time.time()) - started} s "
      f"(setup, build, {fuzz} s fuzzing included); skipped: {skip_text}")
print(f"tests: {max(passed, 0)} passed, {failed} failed, {len(skipped)} skipped")
EOF
exit "$status"
