# server_helpers.sh -- shared helpers for the steled integration tests (sourced, not run).
#
# steled is found next to the stele binary ($STELE_BIN, set by ctest) unless $STELED_BIN names it.
# start_server starts it on a free loopback port (--listen 127.0.0.1:0; the port is read from its
# "listening" log line) in a temporary directory, and waits for /health. Every server started is
# killed when the script exits. Scripts end with `finish`, which prints "N passed, 0 failed".
#
# Every server is checked (san_helpers.sh): stop_server requires a clean exit (status 0 after
# SIGTERM), kill_server requires that the server was still running when killed (it did not crash
# by itself), and when the script exits, a server that ended by itself with a non-zero status, or
# any sanitizer report in any server's log, fails the script even if every check passed.

: "${STELE_BIN:?STELE_BIN must name the stele binary (ctest sets it)}"
STELED=${STELED_BIN:-$(dirname "$STELE_BIN")/steled}
[ -x "$STELED" ] || { echo "FAIL: $STELED is not executable (build the steled target)" >&2; exit 1; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/san_helpers.sh"

TEST_TMP_ROOT=${STELE_TEST_TMP:-/tmp}
mkdir -p "$TEST_TMP_ROOT"
WORK=$(mktemp -d "$TEST_TMP_ROOT/steled.XXXXXX")
SERVER_PIDS=() # started and not yet waited for
SERVER_LOGS=()
cleanup() {
    local rc=$? p st bad=""
    for p in "${SERVER_PIDS[@]}"; do
        [ -n "$p" ] || continue
        if ! kill -0 "$p" 2>/dev/null; then
            st=0
            wait "$p" 2>/dev/null || st=$?
            [ "$st" = 0 ] || bad="$bad steled (pid $p) ended by itself with status $st;"
        fi
    done
    local report=""
    report=$(sanitizer_report "${SERVER_LOGS[@]}") || report=""
    exec 2>/dev/null
    for p in "${SERVER_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "$bad$report" ]; then
        echo "FAIL:$bad $report"
        echo "$passed passed, 1 failed"
        rc=1
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT

passed=0
fail() {
    echo "FAIL: $*" >&2
    [ -n "${SERVER_LOG:-}" ] && [ -f "$SERVER_LOG" ] && tail -5 "$SERVER_LOG" >&2
    echo "$passed passed, 1 failed"
    exit 1
}
ok() { passed=$((passed + 1)); }
finish() { echo "$passed passed, 0 failed"; }
eq() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; ok; }
contains() {
    case "$2" in
    *"$3"*) ok ;;
    *) fail "$1: '$3' not found in '$2'" ;;
    esac
}

# start_server DATA_DIR [steled flags...]: sets SERVER_PID, PORT, URL (http or https), SERVER_LOG.
start_server() {
    local data=$1
    shift
    SERVER_LOG=$WORK/steled.$(basename "$data").$$.$RANDOM.log
    "$STELED" --data "$data" --listen 127.0.0.1:0 "$@" 2>"$SERVER_LOG" &
    SERVER_PID=$!
    SERVER_PIDS+=("$SERVER_PID")
    SERVER_LOGS+=("$SERVER_LOG")
    PORT=
    for _ in $(seq 1 200); do
        PORT=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    try:
        o = json.loads(line)
    except ValueError:
        continue
    if o.get("msg") == "listening":
        print(o["port"]); break
' "$SERVER_LOG" 2>/dev/null || true)
        [ -n "$PORT" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || fail "steled exited at startup: $(cat "$SERVER_LOG")"
        sleep 0.05
    done
    [ -n "$PORT" ] || fail "steled did not start: $(cat "$SERVER_LOG")"
    local scheme=http
    grep -q '"tls":true' "$SERVER_LOG" && scheme=https
    URL=$scheme://127.0.0.1:$PORT
    for _ in $(seq 1 100); do
        curl -sk "$URL/health" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    fail "steled at $URL does not answer /health"
}

# forget_server PID: it has been waited for.
forget_server() {
    local i
    for i in "${!SERVER_PIDS[@]}"; do
        [ "${SERVER_PIDS[$i]}" = "$1" ] && SERVER_PIDS[$i]=
    done
}

# check_server_log: fail on a sanitizer report in the current server's log.
check_server_log() {
    local report
    if report=$(sanitizer_report "$SERVER_LOG"); then
        fail "steled: $report"
    fi
}

# stop_server: SIGTERM, wait for a clean exit (status 0, no sanitizer report).
stop_server() {
    kill -TERM "$SERVER_PID"
    local rc=0
    wait "$SERVER_PID" || rc=$?
    forget_server "$SERVER_PID"
    check_server_log
    [ "$rc" = 0 ] || fail "steled exited with status $rc after SIGTERM$( [ "$rc" = "$STELE_SANITIZER_EXIT" ] && echo ' (a sanitizer report)')"
    ok
}

# kill_server: SIGKILL (a crash on purpose). The server must have been running until then (status
# 137 = killed by SIGKILL, not an exit or a crash of its own), with no sanitizer report.
kill_server() {
    kill -9 "$SERVER_PID" 2>/dev/null || true
    local rc=0
    wait "$SERVER_PID" 2>/dev/null || rc=$?
    forget_server "$SERVER_PID"
    check_server_log
    [ "$rc" = 137 ] || fail "steled ended by itself (status $rc) before it was killed"
}

# http METHOD PATH [curl args...]: prints the status code on the first line, then the body.
http() {
    local method=$1 path=$2
    shift 2
    curl -sk -X "$method" -o "$WORK/body" -w '%{http_code}' "$@" "$URL$path" >"$WORK/code" ||
        true
    cat "$WORK/code"
    echo
    cat "$WORK/body"
}

# expect STATUS NAME METHOD PATH [curl args...]: the body is left in $WORK/body.
expect() {
    local want=$1 name=$2
    shift 2
    local got
    http "$@" >/dev/null
    got=$(cat "$WORK/code")
    [ "$got" = "$want" ] || fail "$name: status $got, want $want; body: $(head -c 400 "$WORK/body")"
    ok
}

# json EXPR: evaluate a Python expression over `b` (the parsed $WORK/body).
json() {
    python3 -c '
import json, sys
b = json.load(open(sys.argv[2]))
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r, separators=(",", ":")))
' "$1" "$WORK/body"
}

JSON_CT=(-H 'Content-Type: application/json')
