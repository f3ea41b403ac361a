#!/usr/bin/env bash
# test_server_malformed.sh -- at least 10,000 malformed requests against a running steled
# (tests/integration/server_malformed.py): every one answered 4xx or closed, none appends
# anything, the server stays up with bounded memory. STELE_SEED replays a run.
set -euo pipefail
. "$(dirname "$0")/server_helpers.sh"

# Under AddressSanitizer, freed memory sits in a quarantine (256 MiB by default) that would read as
# RSS growth: keep it small so the bound means something in that build too.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16
SEED=${STELE_SEED:-$RANDOM}
echo "seed $SEED (replay with STELE_SEED=$SEED)"
start_server "$WORK/d" --durability none
expect 201 "one good event" POST /streams/s-1 "${JSON_CT[@]}" -d '{"events":[{"type":"T"}]}'
out=$(cd "$HERE" && python3 server_malformed.py "$URL" "$SERVER_PID" "$SEED" 2>&1) ||
    fail "server_malformed.py (seed $SEED): $out"
echo "$out" | tail -3
n=$(echo "$out" | tail -1 | cut -d' ' -f1)
passed=$((passed + n))
expect 200 "still serving" GET /streams/s-1
eq "the good event is intact" "$(json '[e["version"] for e in b["events"]]')" "[0]"
stop_server
finish
