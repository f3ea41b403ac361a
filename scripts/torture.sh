#!/usr/bin/env bash
# torture.sh -- the long reliability campaign: simulated power loss over many seeds and kill -9
# over many cycles (docs/reliability.md), then one summary table.
#
#   scripts/torture.sh               100,000 power-loss seeds and 10,000 kill -9 cycles
#   TORTURE_POWERLOSS_SEEDS=N ...    another number of power-loss seeds (0 skips the test)
#   TORTURE_KILL9_CYCLES=N ...       another number of kill -9 cycles (0 skips; minimum 50)
#   TORTURE_KILL9_ROUND=N ...        kill -9 cycles per run of the test (default 100, minimum 50)
#   STELE_BUILD=DIR ...              use the test binaries of another build tree (default build/)
#
# Uses the test binaries of build/ (made by `make`); configures and builds them if they are
# missing. Each test's whole output goes to <build>/torture/<test>.log; the scratch stores live
# under $STELE_TEST_TMP (default <build>/test-tmp), and a violating seed's store is kept there.
# Prints one row per test (runs, violations, seconds, seeds) and exits 1 on any violation or
# failed run.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${STELE_BUILD:-$ROOT/build}
PL_SEEDS=${TORTURE_POWERLOSS_SEEDS:-100000}
K9_CYCLES=${TORTURE_KILL9_CYCLES:-10000}
K9_ROUND=${TORTURE_KILL9_ROUND:-100}
((K9_ROUND < 50)) && K9_ROUND=50
PL_BIN=$BUILD/tests/crash_test_powerloss
K9_BIN=$BUILD/tests/crash_test_kill9

if [[ ($PL_SEEDS != 0 && ! -x $PL_BIN) || ($K9_CYCLES != 0 && ! -x $K9_BIN) ]]; then
    echo "torture: building the tests in $BUILD"
    cmake -S "$ROOT" -B "$BUILD" -DSTELE_WERROR=ON -DSTELE_BUILD_TESTS=ON >/dev/null || exit 1
    cmake --build "$BUILD" -j2 --target crash_test_powerloss crash_test_kill9 || exit 1
fi

LOGS=$BUILD/torture
mkdir -p "$LOGS"
export STELE_TEST_TMP=${STELE_TEST_TMP:-$BUILD/test-tmp}
mkdir -p "$STELE_TEST_TMP"

ROWS=()
STATUS=0

# row TEST RUNS VIOLATIONS SECONDS SEEDS
row() { ROWS+=("$(printf '%-16s %10s %11s %9s   %s' "$@")"); }

run_powerloss() {
    local log=$LOGS/powerloss.log start end rc line runs viol seeds
    echo "torture: power loss, $PL_SEEDS seeds (log: $log)"
    start=$(date +%s)
    STELE_POWERLOSS_SEEDS=$PL_SEEDS "$PL_BIN" >"$log" 2>&1
    rc=$?
    end=$(date +%s)
    # "powerloss: seeds A..B: N runs, V violations, S s"
    line=$(grep -E '^powerloss: seeds [0-9]+\.\.[0-9]+: ' "$log" | tail -n 1)
    if [[ -n $line ]]; then
        seeds=$(sed -E 's/^powerloss: seeds ([0-9]+\.\.[0-9]+):.*/\1/' <<<"$line")
        runs=$(sed -E 's/.*: ([0-9]+) runs,.*/\1/' <<<"$line")
        viol=$(sed -E 's/.*runs, ([0-9]+) violations.*/\1/' <<<"$line")
    else
        seeds=$(grep -oE 'powerloss: seed [0-9]+' "$log" | head -n 1 | grep -oE '[0-9]+$')
        runs=?
        viol=?
    fi
    row power-loss "$runs" "$viol" "$((end - start))" "${seeds:-?}"
    if [[ $rc -ne 0 || $viol != 0 ]]; then
        STATUS=1
        grep -E 'VIOLATION|regression|FAILED' "$log" | head -n 20
    fi
}

# The kill -9 test checks every acknowledgement of all its cycles after each kill, so one run's
# cost grows with the square of its cycles. The long campaign is therefore made of runs of
# K9_ROUND cycles, each on a fresh store with its own seed, until K9_CYCLES cycles have passed;
# it stops at the first failing run, whose log is kept.
run_kill9() {
    local log=$LOGS/kill9.log start end rc done=0 round=0 n cycles seeds="" failed=0
    echo "torture: kill -9, $K9_CYCLES cycles in runs of $K9_ROUND (log: $log)"
    : >"$log"
    start=$(date +%s)
    while ((done < K9_CYCLES)); do
        n=$((K9_CYCLES - done < K9_ROUND ? K9_CYCLES - done : K9_ROUND))
        ((n < 50)) && n=50
        round=$((round + 1))
        STELE_KILL9_CYCLES=$n "$K9_BIN" >"$log.run" 2>&1
        rc=$?
        cat "$log.run" >>"$log"
        seed=$(grep -oE 'kill9: seed [0-9]+' "$log.run" | head -n 1 | grep -oE '[0-9]+$')
        seeds="$seeds${seeds:+,}${seed:-?}"
        # "kill9: C cycles, ..." is printed only when every cycle passed; the test stops at the
        # first violation.
        cycles=$(sed -nE 's/^kill9: ([0-9]+) cycles.*/\1/p' "$log.run" | head -n 1)
        if [[ $rc -ne 0 || -z $cycles ]]; then
            failed=1
            cycles=$(sed -nE 's/.*cycle ([0-9]+).*/\1/p' "$log.run" | tail -n 1)
            done=$((done + ${cycles:-0}))
            grep -E 'ERROR|FAILED|cycle' "$log.run" | head -n 20
            echo "torture: kill -9 run $round failed (seed ${seed:-?})"
            break
        fi
        done=$((done + cycles))
        echo "torture: kill -9 run $round: $cycles cycles passed ($done of $K9_CYCLES, seed ${seed:-?})"
    done
    rm -f "$log.run"
    end=$(date +%s)
    STATUS=$((STATUS | failed))
    # the seeds of a long campaign are many: the row names the first and the count
    local first=${seeds%%,*} nseeds
    nseeds=$(tr ',' '\n' <<<"$seeds" | wc -l)
    row kill-9 "$done" "$failed" "$((end - start))" "$first (+$((nseeds - 1)) runs, all in $log)"
}

[[ $PL_SEEDS != 0 ]] && run_powerloss
[[ $K9_CYCLES != 0 ]] && run_kill9

echo
printf '%-16s %10s %11s %9s   %s\n' test runs violations seconds seeds
for r in "${ROWS[@]}"; do
    echo "$r"
done
if [[ $STATUS -ne 0 ]]; then
    echo "torture: FAILED (replay a power-loss seed with STELE_TEST_SEED=N $PL_BIN," \
        "a kill -9 run with STELE_TEST_SEED=N $K9_BIN)"
else
    echo "torture: no violation"
fi
exit $STATUS
