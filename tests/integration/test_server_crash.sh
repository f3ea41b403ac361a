#!/usr/bin/env bash
# test_server_crash.sh -- concurrency and crashes over HTTP: appenders racing on one stream with
# exact expected versions, then cycles of kill -9 during concurrent durable appends: after each
# restart every event the server acknowledged with 201 is present, unchanged, at its position.
set -euo pipefail
. "$(dirname "$0")/server_helpers.sh"

run_py() {
    local out
    out=$(cd "$HERE" && python3 "$@") || fail "$*: $out"
    local n
    n=$(echo "$out" | tail -1 | cut -d' ' -f1)
    passed=$((passed + n))
}

# --- optimistic concurrency ---------------------------------------------------------------------
start_server "$WORK/occ" --durability none
run_py server_appenders.py occ "$URL" 8 40
stop_server

# --- kill -9 during durable appends --------------------------------------------------------------
CYCLES=${STELE_SERVER_CRASH_CYCLES:-5}
ACK=$WORK/acked.ndjson
: >"$ACK"
for cycle in $(seq 1 "$CYCLES"); do
    start_server "$WORK/crash"
    (cd "$HERE" && python3 server_appenders.py load "$URL" 16 "$ACK") &
    load_pid=$!
    sleep "0.$((3 + RANDOM % 7))"
    kill -9 "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    wait "$load_pid" || fail "the load driver failed"
    start_server "$WORK/crash"
    run_py server_appenders.py check "$URL" "$ACK"
    kill -9 "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
done
[ "$(wc -l <"$ACK")" -gt 100 ] || fail "too few acknowledged events to mean anything: $(wc -l <"$ACK")"
ok

finish
