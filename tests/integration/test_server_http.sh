#!/usr/bin/env bash
# test_server_http.sh -- steled's HTTP/1.1: pipelining, chunked bodies, 100-continue, HEAD,
# HTTP/1.0, JSON refusals of unreadable requests (413, 431, 400, 417, 405) that write nothing,
# and the request timeout (tests/integration/server_http.py); the connection limit.
set -euo pipefail
. "$(dirname "$0")/server_helpers.sh"

start_server "$WORK/d" --durability none --max-body-bytes 2000 --max-header-bytes 1024 \
    --request-timeout-ms 1000
out=$(cd "$HERE" && python3 server_http.py "$URL") || fail "server_http.py: $out"
echo "$out" | tail -1
n=$(echo "$out" | tail -1 | cut -d' ' -f1)
passed=$((passed + n))
stop_server

# Beyond --max-connections a new connection gets a JSON 429 at once and is closed: it holds no
# descriptor while its client waits or sends nothing.
start_server "$WORK/d" --durability none --max-connections 2
exec 7<>"/dev/tcp/127.0.0.1/$PORT"
exec 8<>"/dev/tcp/127.0.0.1/$PORT"
sleep 0.2
expect 429 "a connection over the limit" GET /health
eq "too_many_requests" "$(json 'b["error"]')" too_many_requests
exec 9<>"/dev/tcp/127.0.0.1/$PORT"
silent=$(timeout 5 cat <&9 || echo "not closed")
exec 9>&-
contains "a connection over the limit that sends nothing is answered and closed" "$silent" \
    "HTTP/1.1 429 Too Many Requests"
contains "... with a JSON error" "$silent" '"error":"too_many_requests"'
exec 7>&- 8>&-
sleep 0.2
expect 200 "a connection once others closed" GET /health
http GET /metrics >/dev/null
contains "the refusals are counted" "$(cat "$WORK/body")" \
    'stele_connections_refused_total{reason="limit"} 2'
stop_server

finish
