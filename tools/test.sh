#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, then the unit, corpus and tshark
# differential tests (`swift test`), then a short fuzzing run of the frame parser.
# FUZZ_SECONDS=0 skips the fuzzing run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
source tools/env.sh

swift build --build-tests
swift test
if [ "${FUZZ_SECONDS:-30}" != 0 ]; then
    FUZZ_SECONDS="${FUZZ_SECONDS:-30}" bash tools/fuzz/run.sh --smoke
fi
