#!/usr/bin/env bash
# test_server_crash.sh -- concurrency and crashes over HTTP: appenders racing on one stream with
# exact expected versions, then cycles of kill -9 during concurrent durable appends: after each
# restart every event the server acknowledged with 201 is present, unchanged, at its position.
#
# Progress is asserted, not assumed: a first timed run of one client measures the durable append
# rate of this machine now; in every kill cycle the 16 concurrent clients must then acknowledge
# at least a tenth of what that one client would have in the same time, and at least half of them
# must be acknowledged (a server whose group commit stalls when requests share a batch fails here,
# not silently with a few acknowledged events). The rates are printed; they are not benchmarks.
#
# STELE_SEED replays a run: the kill delays and every client's workload (tests/integration/
# server_appenders.py) come from it; the interleaving of the clients is the scheduler's.
set -euo pipefail
. "$(dirname "$0")/server_helpers.sh"

SEED=${STELE_SEED:-$(( (RANDOM << 15) | RANDOM ))}
echo "test_server_crash: seed $SEED (replay with STELE_SEED=$SEED)"
RANDOM=$SEED
THREADS=16

run_py() {
    local out
    out=$(cd "$HERE" && python3 "$@") || fail "$* (seed $SEED): $out"
    local n
    n=$(echo "$out" | tail -1 | cut -d' ' -f1)
    passed=$((passed + n))
}

# --- optimistic concurrency ---------------------------------------------------------------------
start_server "$WORK/occ" --durability none
run_py server_appenders.py occ "$URL" 8 40
stop_server

# --- calibration: one client, durable appends, no kill ------------------------------------------
CAL_SECONDS=1
start_server "$WORK/cal"
cal=$(cd "$HERE" && python3 server_appenders.py load "$URL" 1 "$WORK/cal.ndjson" "$SEED" \
    "$CAL_SECONDS") || fail "calibration run (seed $SEED): $cal"
stop_server
cal_acked=$(echo "$cal" | tail -1 | sed -n 's/^load: \([0-9]*\) acknowledged.*/\1/p')
[ "${cal_acked:-0}" -gt 0 ] || fail "calibration: one client acknowledged nothing in $CAL_SECONDS s: $cal"
echo "calibration: one client, $cal_acked events acknowledged in $CAL_SECONDS s"
ok

# --- kill -9 during durable appends --------------------------------------------------------------
CYCLES=${STELE_SERVER_CRASH_CYCLES:-5}
ACK=$WORK/acked.ndjson
: >"$ACK"
for cycle in $(seq 1 "$CYCLES"); do
    start_server "$WORK/crash"
    delay_ms=$((300 + RANDOM % 700))
    (cd "$HERE" && python3 server_appenders.py load "$URL" "$THREADS" "$ACK" \
        "$((SEED + cycle))" >"$WORK/load.out" 2>&1) &
    load_pid=$!
    # The delay runs from the first acknowledgement, so that the time python takes to start on a
    # loaded machine does not count.
    before=$(wc -l <"$ACK")
    for _ in $(seq 1 1500); do
        [ "$(wc -l <"$ACK")" -gt "$before" ] && break
        kill -0 "$load_pid" 2>/dev/null || break
        sleep 0.02
    done
    [ "$(wc -l <"$ACK")" -gt "$before" ] ||
        fail "cycle $cycle: no append acknowledged in 30 s (seed $SEED): $(cat "$WORK/load.out")"
    sleep "$((delay_ms / 1000)).$(printf '%03d' $((delay_ms % 1000)))"
    kill_server
    wait "$load_pid" || fail "cycle $cycle: the load driver failed (seed $SEED): $(cat "$WORK/load.out")"
    line=$(tail -1 "$WORK/load.out")
    acked=$(echo "$line" | sed -n 's/^load: \([0-9]*\) acknowledged by \([0-9]*\) of.*/\1/p')
    clients=$(echo "$line" | sed -n 's/^load: \([0-9]*\) acknowledged by \([0-9]*\) of.*/\2/p')
    # A tenth of the one-client rate over the delay leaves room for a loaded machine.
    want=$((cal_acked * delay_ms / CAL_SECONDS / 1000 / 10))
    echo "cycle $cycle: killed $delay_ms ms after the first ack; $line (want >= $want events, >= $((THREADS / 2)) clients)"
    [ "${acked:-0}" -ge "$want" ] && [ "${acked:-0}" -gt 0 ] ||
        fail "cycle $cycle: only ${acked:-0} events acknowledged in $delay_ms ms, want >= $want (one client alone: $cal_acked in $CAL_SECONDS s); seed $SEED"
    [ "${clients:-0}" -ge $((THREADS / 2)) ] ||
        fail "cycle $cycle: only ${clients:-0} of $THREADS concurrent clients were acknowledged; seed $SEED"
    ok
    start_server "$WORK/crash"
    run_py server_appenders.py check "$URL" "$ACK"
    kill_server
done
[ "$(wc -l <"$ACK")" -gt 100 ] || fail "too few acknowledged events to mean anything: $(wc -l <"$ACK")"
ok

finish
