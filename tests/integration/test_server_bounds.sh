#!/usr/bin/env bash
# test_server_bounds.sh -- hostile clients cannot make steled grow or stall: pipelined answers
# that are never read (tests/integration/server_pipeline.py); a thousand subscriptions whose filter
# matches nothing on a log of 200,000 events while appending (server_subscribers.py); more
# connections than descriptors (server_fds.py).
set -euo pipefail
. "$(dirname "$0")/server_helpers.sh"

run_py() {
    local out
    out=$(cd "$HERE" && python3 "$@") || fail "$1: $out"
    echo "$out" | tail -1
    passed=$((passed + $(echo "$out" | tail -1 | cut -d' ' -f1)))
}

# --- pipelined answers never read: the output per connection is bounded ----------------------
start_server "$WORK/pipe" --durability none --output-buffer-bytes 262144
run_py server_pipeline.py "$URL" "$SERVER_PID"
stop_server

# --- 1,000 subscribers scanning a large log for nothing: appends and /health go on -------------
start_server "$WORK/subs" --durability none --max-connections 1100 --max-subscribers 1100
run_py server_subscribers.py "$URL" 200000 1000
stop_server

# --- out of file descriptors: no spinning, clean refusals, served again after -------------------
# steled gets a hard limit of 64 descriptors (it raises its soft limit to the hard one at start).
cat >"$WORK/steled-64" <<EOS
#!/usr/bin/env bash
ulimit -n 64
exec "$STELED" "\$@"
EOS
chmod +x "$WORK/steled-64"
REAL_STELED=$STELED
STELED=$WORK/steled-64
start_server "$WORK/fds" --durability none
STELED=$REAL_STELED
run_py server_fds.py "$URL" "$SERVER_PID" "$SERVER_LOG"
stop_server

finish
