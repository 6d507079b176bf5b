#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, then a short fuzzing run of the frame
# parser, then the unit, corpus and tshark differential tests (`swift test`, whose summary closes the
# output). FUZZ_SECONDS=0 skips the fuzzing run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
source tools/env.sh

if [ "${FUZZ_SECONDS:-30}" != 0 ]; then
    FUZZ_SECONDS="${FUZZ_SECONDS:-30}" bash tools/fuzz/run.sh --smoke
fi
swift build --build-tests
swift test
