#!/usr/bin/env bash
# test_demo.sh -- `make demo` (scripts/demo.sh) works on a directory of its own, and through the
# server while one holds that directory (as when `make run` is running).
set -euo pipefail
. "$(dirname "$0")/server_helpers.sh"

ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$(dirname "$STELE_BIN")
demo() { (cd "$WORK" && ln -sfn "$BUILD" build && cp "$ROOT/scripts/demo.sh" . && mkdir -p scripts &&
    cp demo.sh scripts/ && bash scripts/demo.sh) >"$WORK/out" 2>"$WORK/err"; }

rc=0
STELE_URL=http://127.0.0.1:1 STELE_DATA=$WORK/data demo || rc=$?
eq "the demo on a directory: exit status ($(tail -3 "$WORK/err"))" "$rc" 0
contains "the demo on a directory" "$(head -1 "$WORK/out")" "Stele demo on $WORK/data"
contains "the demo verifies" "$(tail -3 "$WORK/out")" '"ok":true'

start_server "$WORK/data" --durability none
rc=0
STELE_URL=$URL STELE_DATA=$WORK/data demo || rc=$?
eq "the demo while a server holds the directory: exit status ($(tail -3 "$WORK/err"))" "$rc" 0
contains "the demo goes through the server" "$(head -1 "$WORK/out")" "through the server at $URL"
contains "the demo through the server verifies" "$(tail -3 "$WORK/out")" '"ok":true'
stop_server
finish
