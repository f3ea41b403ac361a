#!/usr/bin/env bash
# test_docs_http.sh -- the curl examples of docs/http-api.md run as written, in order, against a
# live steled on a fresh store, and answer what the doc shows (tests/integration/docs_http.py).
set -euo pipefail
. "$(dirname "$0")/server_helpers.sh"

start_server "$WORK/d" --durability none
out=$(python3 "$HERE/docs_http.py" "$HERE/../../docs/http-api.md" "$PORT") || fail "$out"
echo "$out" | tail -1
n=$(echo "$out" | tail -1 | cut -d' ' -f1)
passed=$((passed + n))
stop_server
finish
