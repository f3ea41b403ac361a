#!/usr/bin/env bash
# test-all.sh -- the whole suite behind `make test`, in the order CI runs it:
#   1. the normal build (gcc, -Werror): every unit, crash, integration and fuzz-replay test;
#   2. an AddressSanitizer + UndefinedBehaviorSanitizer build (clang, -Werror) and the same tests;
#   3. a ThreadSanitizer build (clang) and the concurrency tests (scripts/tsan.sh);
#   4. every fuzz target for FUZZ_SECONDS (default 60) each (scripts/fuzz.sh).
# Every stage runs even when an earlier one failed; the last line adds up all of them as
# "N passed, N failed, N skipped" (scripts/test-summary.sh: each test counted once, a stage that
# ends before its own summary counted as failed), and the exit status is that script's: non-zero
# if anything failed, or, with CI=true, if anything was skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ASAN=${ASAN:-build-asan}
CTEST="ctest --output-on-failure --no-tests=error -j2"
logs=$(mktemp -d)
stage() { printf '\n==== %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }

# Every stage is recorded as KIND:STATUS:LOG:NAME for scripts/test-summary.sh, which prints the
# closing line and gives the exit status. A stage not reached (the script interrupted) is recorded
# with its log missing, and so counts as failed: the line is printed on every way out.
stages=()
summarised=0
summary() {
    ((summarised)) && return
    summarised=1
    stage "summary"
    bash scripts/test-summary.sh "${stages[@]}"
}
on_exit() {
    local rc=$?
    if ((!summarised)); then
        for s in normal asan tsan fuzz; do
            [[ " ${stages[*]} " == *":$s "* ]] || stages+=("script:130:$logs/$s.missing:$s")
        done
        summary
        rc=1
    fi
    rm -rf "$logs"
    exit $rc
}
trap on_exit EXIT
trap 'exit 130' INT TERM

stage "normal build: tests"
$CTEST --test-dir "$BUILD" 2>&1 | tee "$logs/normal.log"
stages+=("ctest:${PIPESTATUS[0]}:$logs/normal.log:normal")

stage "address + undefined sanitizer build"
if CC=clang cmake -S . -B "$ASAN" -DSTELE_WERROR=ON -DSTELE_SANITIZE=address,undefined \
    -DSTELE_BUILD_BENCH=OFF >/dev/null && cmake --build "$ASAN" -j2 >"$logs/asan-build.log" 2>&1; then
    stage "address + undefined sanitizer build: tests"
    $CTEST --test-dir "$ASAN" 2>&1 | tee "$logs/asan.log"
    stages+=("ctest:${PIPESTATUS[0]}:$logs/asan.log:asan")
else
    tail -n 40 "$logs/asan-build.log"
    echo "asan: the build failed" | tee "$logs/asan.log"
    stages+=("script:1:$logs/asan.log:asan")
fi

stage "thread sanitizer: concurrency tests"
bash scripts/tsan.sh 2>&1 | tee "$logs/tsan.log"
stages+=("script:${PIPESTATUS[0]}:$logs/tsan.log:tsan")

stage "fuzzing: ${FUZZ_SECONDS:-60} s per target"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}" 2>&1 | tee "$logs/fuzz.log"
stages+=("script:${PIPESTATUS[0]}:$logs/fuzz.log:fuzz")

summary
status=$?
rm -rf "$logs"
trap - EXIT
exit $status
