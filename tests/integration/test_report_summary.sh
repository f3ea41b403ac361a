#!/usr/bin/env bash
# test_report_summary.sh -- the closing "N passed, N failed, N skipped" line of `make test`
# (scripts/test-summary.sh, called by scripts/test-all.sh) on crafted stage logs: each test counted
# once whatever it prints itself, a stage that dies before its summary counted as failed, skips
# reported as skips and failing CI, and the exit status always agreeing with the line.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SUMMARY="$ROOT/scripts/test-summary.sh"
T=$(mktemp -d "${STELE_TEST_TMP:-/tmp}/summary.XXXXXX")
trap 'rm -rf "$T"' EXIT
passed=0
fail() {
    echo "FAIL: $*" >&2
    echo "$passed passed, 1 failed"
    exit 1
}

# check NAME WANT_LINE WANT_STATUS [env...] -- STAGE...: run the summary, compare its last line and
# its exit status.
check() {
    local name=$1 want=$2 want_rc=$3
    shift 3
    local envs=()
    while [[ $1 != -- ]]; do
        envs+=("$1")
        shift
    done
    shift
    local rc=0
    env -u CI "${envs[@]}" bash "$SUMMARY" "$@" >"$T/out" 2>&1 || rc=$?
    local last
    last=$(tail -n 1 "$T/out")
    [[ $last == "$want" ]] || fail "$name: printed '$last', want '$want'; output: $(cat "$T/out")"
    [[ $rc == "$want_rc" ]] || fail "$name: exit status $rc, want $want_rc; output: $(cat "$T/out")"
    passed=$((passed + 1))
}

# A ctest run: two tests pass, an integration script fails after printing its own summary line
# (which must not be counted), with the output ctest prints for it.
cat >"$T/ctest-fail.log" <<'LOG'
Test project /build
    Start 1: unit/test_log
    Start 2: integration/test_cli
1/3 Test #1: unit/test_log ....................   Passed    0.50 sec
    Start 3: integration/test_server_api
2/3 Test #3: integration/test_server_api ......   Passed    2.10 sec
3/3 Test #2: integration/test_cli .............***Failed    1.20 sec
FAIL: get: exit status 3, want 0
3 passed, 1 failed

67% tests passed, 1 tests failed out of 3

Total Test time (real) =   2.20 sec

The following tests FAILED:
	  2 - integration/test_cli (Failed)
Errors while running CTest
LOG
check "ctest with a failing script" "2 passed, 1 failed, 0 skipped" 1 -- ctest:8:"$T/ctest-fail.log":normal
grep -q "failed:  normal: integration/test_cli (Failed)" "$T/out" || fail "the failed test is not named"
passed=$((passed + 1))

# All pass.
cat >"$T/ctest-ok.log" <<'LOG'
1/2 Test #1: unit/test_log ....................   Passed    0.50 sec
2/2 Test #2: fuzz/record ......................   Passed    0.10 sec

100% tests passed, 0 tests failed out of 2
LOG
check "ctest all passed" "2 passed, 0 failed, 0 skipped" 0 -- ctest:0:"$T/ctest-ok.log":normal

# A timeout and a crash are failures.
cat >"$T/ctest-crash.log" <<'LOG'
1/3 Test #1: unit/test_log ....................***Timeout 900.01 sec
2/3 Test #2: unit/test_writer .................***Exception: SegFault  0.01 sec
3/3 Test #3: unit/test_index ..................   Passed    0.20 sec

33% tests passed, 2 tests failed out of 3
LOG
check "timeout and crash" "1 passed, 2 failed, 0 skipped" 1 -- ctest:8:"$T/ctest-crash.log":asan

# ctest killed half way: no closing line, the stage counts as one more failure.
head -n 4 "$T/ctest-fail.log" >"$T/ctest-cut.log"
check "ctest cut short" "1 passed, 1 failed, 0 skipped" 1 -- ctest:137:"$T/ctest-cut.log":normal

# A fuzz stage that dies before its summary (the build failed after two targets ran).
cat >"$T/fuzz-died.log" <<'LOG'
record        123456 execs     12 new units  cov    800  ok
segment        99999 execs      3 new units  cov    700  ok
fuzz_json.c:12:1: error: expected ';'
LOG
check "fuzz dies before its summary" "0 passed, 1 failed, 0 skipped" 1 -- script:1:"$T/fuzz-died.log":fuzz
# ... together with the other stages: 2 + 1 ctest, tsan 6 passed.
printf 'tsan: ok     unit_test_writer (3 s)\n6 passed, 0 failed\n' >"$T/tsan.log"
check "all stages" "8 passed, 2 failed, 0 skipped" 1 -- ctest:8:"$T/ctest-fail.log":normal \
    script:0:"$T/tsan.log":tsan script:1:"$T/fuzz-died.log":fuzz
# A stage whose summary says 0 failed but whose exit status is not 0.
check "status disagrees" "6 passed, 1 failed, 0 skipped" 1 -- script:1:"$T/tsan.log":tsan
# A stage whose log is missing.
check "missing log" "0 passed, 1 failed, 0 skipped" 1 -- script:0:"$T/nothing.log":tsan

# Skips: reported, and fatal under CI=true with the test named.
cat >"$T/ctest-skip.log" <<'LOG'
1/3 Test #1: unit/test_log ....................   Passed    0.50 sec
2/3 Test #2: integration/test_strace_eio ......***Skipped   0.01 sec
3/3 Test #3: fuzz/record ......................   Passed    0.10 sec

100% tests passed, 0 tests failed out of 3

The following tests did not run:
	  2 - integration/test_strace_eio (Skipped)
LOG
check "a skip" "2 passed, 0 failed, 1 skipped" 0 -- ctest:0:"$T/ctest-skip.log":normal
check "a skip in CI" "2 passed, 0 failed, 1 skipped" 1 CI=true -- ctest:0:"$T/ctest-skip.log":normal
grep -q "skipped: normal: integration/test_strace_eio" "$T/out" || fail "CI: the skip is not named"
grep -q "^CI: 1 test(s) skipped" "$T/out" || fail "CI: no message about the skip"
passed=$((passed + 1))
printf 'fuzz: skipped: clang not found\n0 passed, 0 failed, 1 skipped\n' >"$T/fuzz-skip.log"
check "a skipped script stage in CI" "0 passed, 0 failed, 1 skipped" 1 CI=true -- \
    script:0:"$T/fuzz-skip.log":fuzz

echo "$passed passed, 0 failed"
