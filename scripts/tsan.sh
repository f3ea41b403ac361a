#!/usr/bin/env bash
# tsan.sh -- ThreadSanitizer build of the concurrent tests (TESTING.md, "races").
#
# Configures a clang build with -fsanitize=thread into build-tsan/ (warnings are errors, no
# benchmarks), builds the tests that run threads against one store, and runs each with
# TSAN_OPTIONS=halt_on_error=1 exitcode=86, so that the first data race, lock-order inversion or
# other report fails the test. Reports go to files (log_path), one per process, so that the report
# of a child process (the kill -9 test's appender, whose stderr is not the test's) is read too: a
# test with any report file fails, whatever its exit status. Prints "N passed, N failed" and exits
# non-zero if any test failed or TSan reported anything.
#
#   scripts/tsan.sh                 configure, build, run
#   STELE_TSAN_KILL9_CYCLES=n       kill -9 cycles (default 10; the test may raise it to its minimum)
#   STELE_TSAN_JOBS=n               parallel compile jobs (default 2)
#
# Run from the repository root (or anywhere: it changes to the root itself).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=build-tsan
jobs=${STELE_TSAN_JOBS:-2}
kill9_cycles=${STELE_TSAN_KILL9_CYCLES:-10}

# The concurrent tests: every one of them runs appenders, readers, subscribers or the index's
# background threads against each other.
tests=(
    unit_test_writer
    unit_test_store_append
    unit_test_subscribe
    unit_test_store_read
    unit_test_index
    unit_test_observe
    unit_test_maintenance
    unit_test_domain_execute
    unit_test_open_readonly
    crash_test_kill9
)

echo "tsan: configuring $build (clang, -fsanitize=thread)"
if ! CC=clang cmake -S . -B "$build" -DSTELE_SANITIZE=thread -DSTELE_WERROR=ON \
        -DSTELE_BUILD_BENCH=OFF >"$build.configure.log" 2>&1; then
    cat "$build.configure.log"
    echo "tsan: configure failed"
    echo "0 passed, ${#tests[@]} failed"
    exit 1
fi
rm -f "$build.configure.log"
echo "tsan: building ${tests[*]}"
if ! cmake --build "$build" -j"$jobs" --target "${tests[@]}"; then
    echo "tsan: build failed"
    echo "0 passed, ${#tests[@]} failed"
    exit 1
fi

tmp="$root/$build/test-tmp"
mkdir -p "$tmp"
logs="$root/$build/tsan-logs"
rm -rf "$logs"
mkdir -p "$logs"

# halt_on_error: the first report ends the process with exitcode 86 (no program uses it);
# second_deadlock_stack makes lock-order reports readable. history_size 4 keeps enough of old
# accesses for the long tests. log_path (set per test below) sends every process's report to
# <path>.<pid>.
tsan_options="halt_on_error=1 exitcode=86 second_deadlock_stack=1 history_size=4 ${TSAN_OPTIONS:-}"
export STELE_TEST_TMP="$tmp"
export STELE_BIN="$root/$build/stele"
export STELE_KILL9_CYCLES="$kill9_cycles"

passed=0
failed=0
failed_names=()
start_all=$(date +%s)
for t in "${tests[@]}"; do
    bin="$root/$build/tests/$t"
    log="$logs/$t.log"
    reports="$logs/$t.tsan"
    start=$(date +%s)
    TSAN_OPTIONS="$tsan_options log_path=$reports" "$bin" >"$log" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    # A report in a forked child (kill -9 test) does not change the parent's exit status: the
    # child may have been killed while or after writing it.
    found=$(ls "$reports".* 2>/dev/null | head -n 5)
    if [[ -n $found ]]; then
        ((rc == 0)) && rc=86
        for f in $found; do
            echo "tsan: report of $t in $build/tsan-logs/$(basename "$f"):"
            head -n 40 "$f"
        done >>"$log"
    fi
    if ((rc == 0)); then
        passed=$((passed + 1))
        echo "tsan: ok     $t (${secs} s)"
    else
        failed=$((failed + 1))
        failed_names+=("$t")
        echo "tsan: FAILED $t (exit $rc, ${secs} s); log: $build/tsan-logs/$t.log"
        grep -m1 -A30 "WARNING: ThreadSanitizer" "$log" || tail -n 30 "$log"
    fi
done
echo "tsan: $(($(date +%s) - start_all)) s in all"
((failed > 0)) && echo "tsan: failed: ${failed_names[*]}"
echo "$passed passed, $failed failed"
((failed == 0))
