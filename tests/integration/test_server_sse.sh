#!/usr/bin/env bash
# test_server_sse.sh -- steled's Server-Sent Events: history then live with no gap, resume by
# Last-Event-ID, filters, many subscribers, heartbeats, a slow subscriber dropped
# (tests/integration/server_sse.py), the subscriber limit, and a clean shutdown with open streams.
set -euo pipefail
. "$(dirname "$0")/server_helpers.sh"

start_server "$WORK/d" --durability none --heartbeat-ms 300 --slow-subscriber-ms 1000 \
    --subscriber-buffer-bytes 65536
out=$(cd "$HERE" && python3 server_sse.py "$URL") || fail "server_sse.py: $out"
echo "$out" | tail -1
n=$(echo "$out" | tail -1 | cut -d' ' -f1)
passed=$((passed + n))

# An open stream does not stop a clean shutdown.
curl -sN "$URL/subscribe?from=end" >"$WORK/open.out" &
curl_pid=$!
sleep 0.3
stop_server
wait "$curl_pid" || true
contains "the open stream got its caught-up" "$(cat "$WORK/open.out")" "caught-up"

# The subscriber limit.
start_server "$WORK/d" --durability none --max-subscribers 1
curl -sN "$URL/subscribe?from=end" >/dev/null &
curl_pid=$!
sleep 0.3
expect 429 "subscriber limit" GET "/subscribe?from=end"
eq "too_many_requests" "$(json 'b["error"]')" too_many_requests
kill "$curl_pid"
wait "$curl_pid" 2>/dev/null || true
stop_server

finish
