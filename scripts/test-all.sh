#!/usr/bin/env bash
# test-all.sh -- the whole suite behind `make test`, in the order CI runs it:
#   1. the normal build (gcc, -Werror): every unit, crash, integration and fuzz-replay test;
#   2. an AddressSanitizer + UndefinedBehaviorSanitizer build (clang, -Werror) and the same tests;
#   3. a ThreadSanitizer build (clang) and the concurrency tests (scripts/tsan.sh);
#   4. every fuzz target for FUZZ_SECONDS (default 60) each (scripts/fuzz.sh).
# Every stage runs even when an earlier one failed; the last line adds up all of them as
# "N passed, N failed", and the exit status is non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ASAN=${ASAN:-build-asan}
CTEST="ctest --output-on-failure --no-tests=error -j2"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
status=0
stage() { printf '\n==== %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }

stage "normal build: tests"
$CTEST --test-dir "$BUILD" 2>&1 | tee "$logs/normal.log" || status=1

stage "address + undefined sanitizer build"
if CC=clang cmake -S . -B "$ASAN" -DSTELE_WERROR=ON -DSTELE_SANITIZE=address,undefined \
    -DSTELE_BUILD_BENCH=OFF >/dev/null && cmake --build "$ASAN" -j2 >"$logs/asan-build.log" 2>&1; then
    stage "address + undefined sanitizer build: tests"
    $CTEST --test-dir "$ASAN" 2>&1 | tee "$logs/asan.log" || status=1
else
    tail -n 40 "$logs/asan-build.log"
    echo "0 passed, 1 failed" >"$logs/asan.log"
    status=1
fi

stage "thread sanitizer: concurrency tests"
bash scripts/tsan.sh 2>&1 | tee "$logs/tsan.log" || status=1

stage "fuzzing: ${FUZZ_SECONDS:-60} s per target"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}" 2>&1 | tee "$logs/fuzz.log" || status=1

stage "summary"
cat "$logs"/*.log | awk '
    /tests passed, .* tests failed out of/ { failed += $4; total += $NF; next }
    /^[0-9]+ passed, [0-9]+ failed/ { passed += $1; failed2 += $3 }
    END { printf "%d passed, %d failed\n", total - failed + passed, failed + failed2 }'
exit $status
