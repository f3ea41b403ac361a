#!/usr/bin/env bash
# test_footprint.sh -- what a new user's first commands leave on disk, through the real binaries:
# a new store is a few MiB (segments start small and grow), a rejected `stele append` and a
# `steled` that cannot start create nothing, the maximum segment size is a flag of both programs
# (and a config-file key) with bad values refused, config-file keys are the flags' names, and
# names with invisible code points are refused by the CLI and over HTTP. Needs bash, python3,
# curl and du.
set -euo pipefail
. "$(dirname "$0")/server_helpers.sh"

st() { "$STELE_BIN" "$@"; }

# run NAME WANT_STATUS CMD...: stdout to $WORK/out, stderr to $WORK/err.
run() {
    local name=$1 want=$2
    shift 2
    local rc=0
    "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
    [ "$rc" = "$want" ] || fail "$name: exit status $rc, want $want; stderr: $(head -c 400 "$WORK/err")"
    ok
}
absent() { [ ! -e "$2" ] || fail "$1: $2 was created: $(ls -la "$2")"; ok; }
kib() { du -sk "$1" | cut -f1; }
size_of() { stat -c %s "$1"; }

# --- a new store is small ----------------------------------------------------------------------
run "first append" 0 st -d "$WORK/new" append order-1 OrderPlaced '{"sku":"A-7"}'
used=$(kib "$WORK/new")
# 2 MiB first segment + the prepared 4 MiB next one + index files; it was 128 MiB.
[ "$used" -le 8192 ] || fail "a new store takes $used KiB on disk (want at most 8 MiB)"
ok
eq "first segment is 2 MiB" "$(size_of "$WORK/new/log/00000000000000000001.seg")" 2097152
run "read it back" 0 st -d "$WORK/new" read order-1
contains "the event is there" "$(cat "$WORK/out")" '"sku":"A-7"'

# --- a rejected append creates nothing -----------------------------------------------------------
run "reserved name refused" 4 st -d "$WORK/x" append '$bad' T
contains "reserved name error" "$(cat "$WORK/err")" "starts with '\$', which is reserved"
absent "reserved name" "$WORK/x"
run "bad type refused" 4 st -d "$WORK/x" append order-1 '$T'
absent "bad type" "$WORK/x"
run "empty type refused" 4 st -d "$WORK/x" append order-1 ''
absent "empty type" "$WORK/x"
head -c 4194305 /dev/zero >"$WORK/big.bin"
run "too big data refused" 4 st -d "$WORK/x" append order-1 T --binary --data-file "$WORK/big.bin"
contains "too big names the limit" "$(cat "$WORK/err")" "4194304"
absent "too big data" "$WORK/x"
printf '{"type":"A"}\n{"type":"$B"}\n' >"$WORK/events.ndjson"
run "bad type in a file refused" 4 st -d "$WORK/x" append order-1 --file "$WORK/events.ndjson"
contains "names the event" "$(cat "$WORK/err")" "event 1"
absent "bad file" "$WORK/x"

run "metadata for a reserved name refused" 4 st -d "$WORK/x" meta '$bad' '{}'
absent "bad metadata name" "$WORK/x"
run "metadata for a zero-width name refused" 4 st -d "$WORK/x" meta $'a\u200bb' '{}'
contains "metadata names the code point" "$(cat "$WORK/err")" "U+200B"
absent "zero-width metadata name" "$WORK/x"
run "delete where there is no store" 3 st -d "$WORK/x" delete order-1
absent "delete" "$WORK/x"

# --- invisible code points (CLI) -----------------------------------------------------------------
run "zero-width space refused" 4 st -d "$WORK/x" append $'order-\u200b1' T
contains "names the code point and offset" "$(cat "$WORK/err")" "U+200B (a zero-width character) at byte 6"
absent "zero-width name" "$WORK/x"
run "bidi control in a type refused" 4 st -d "$WORK/x" append order-1 $'Paid\u202e'
contains "names the bidi control" "$(cat "$WORK/err")" "U+202E"
absent "bidi type" "$WORK/x"
run "visible non-ASCII accepted" 0 st -d "$WORK/new" append $'caf\u00e9-1' $'Commande\u00e9'

# --- the maximum segment size: stele -------------------------------------------------------------
for bad in 0 1048575 4294967297 12abc '' -5; do
    run "stele --segment-size-bytes '$bad' refused" 1 st -d "$WORK/x" --segment-size-bytes "$bad" append s T
    contains "stele names the range" "$(cat "$WORK/err")" "1048576..4294967296"
    absent "bad segment size $bad" "$WORK/x"
done
run "stele --segment-size-bytes=1048576" 0 st -d "$WORK/small" --segment-size-bytes=1048576 append s T
eq "first segment is a quarter of the maximum" "$(size_of "$WORK/small/log/00000000000000000001.seg")" 262144
# 2 MiB of events in appends of 200 KB: segments of 256 KiB, 512 KiB, 1 MiB, 1 MiB; and
# everything reads back.
python3 -c '
import json
for i in range(20):
    print(json.dumps({"type": "Blob", "data": {"i": i, "pad": "x" * 10000}}))
' >"$WORK/blobs.ndjson"
run "fill segments" 0 st -d "$WORK/small" --segment-size-bytes 1048576 append s --file "$WORK/blobs.ndjson"
for i in 1 2 3 4 5 6 7 8 9; do
    run "more" 0 st -d "$WORK/small" --segment-size-bytes 1048576 append s --file "$WORK/blobs.ndjson"
done
sizes=$(for f in "$WORK/small/log/"*.seg; do size_of "$f"; done | tr '\n' ' ')
case "$sizes" in
"262144 524288 1048576 1048576 "*) ok ;;
*) fail "segment sizes $sizes, want 262144 524288 1048576 1048576 ..." ;;
esac
run "verify the grown store" 0 st -d "$WORK/small" verify
run "read-all" 0 st -d "$WORK/small" read-all
eq "every event reads back" "$(wc -l <"$WORK/out" | tr -d ' ')" 201

# --- steled: nothing created when it cannot start ------------------------------------------------
# A process holds a loopback port; steled must fail to bind it.
holder_out=$WORK/holder.port
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(120)
' "$holder_out" &
HOLDER=$!
SERVER_PIDS+=("$HOLDER")
for _ in $(seq 1 100); do [ -s "$holder_out" ] && break; sleep 0.05; done
busy_port=$(cat "$holder_out")
run "steled on a busy port fails" 1 "$STELED" --data "$WORK/srv" --listen "127.0.0.1:$busy_port"
contains "says it cannot listen" "$(cat "$WORK/err")" '"msg":"cannot listen"'
contains "says why" "$(cat "$WORK/err")" "Address already in use"
absent "steled on a busy port" "$WORK/srv"
kill "$HOLDER" 2>/dev/null || true
wait "$HOLDER" 2>/dev/null || true
forget_server "$HOLDER" # not a server: its end by SIGTERM is no failure

run "steled with a missing TLS key" 1 "$STELED" --data "$WORK/srv" --listen 127.0.0.1:0 \
    --tls-cert "$WORK/none.pem" --tls-key "$WORK/none.key"
absent "steled with bad TLS files" "$WORK/srv"
for bad in 0 1048575 4294967297 x; do
    run "steled --segment-size-bytes '$bad' refused" 1 "$STELED" --data "$WORK/srv" --listen 127.0.0.1:0 --segment-size-bytes "$bad"
    absent "steled bad segment size $bad" "$WORK/srv"
done
contains "steled names the range" "$(cat "$WORK/err")" "segment-size-bytes"

# --- config-file keys are the flags' names -------------------------------------------------------
printf 'heartbeat-ms = 5\nbogus-key = 1\n' >"$WORK/bad.conf"
run "unknown config key refused" 1 "$STELED" --data "$WORK/srv" --listen 127.0.0.1:0 --config "$WORK/bad.conf"
contains "names the file, line and key" "$(cat "$WORK/err")" "bad.conf line 2: unknown key 'bogus-key'"
absent "bad config" "$WORK/srv"
# Every setting steled has is documented in http-api.md's table (flag = config key).
doc=$(dirname "$0")/../../docs/http-api.md
run "steled --help" 0 "$STELED" --help
for flag in $(grep -o '^  --[a-z-]*' "$WORK/out"); do
    case "$flag" in --config | --help) continue ;; esac
    grep -q -E -- "^\|.*\`$flag\`" "$doc" || fail "steled $flag is not in the table of docs/http-api.md"
    ok
done
printf 'segment-size-bytes = 5\n' >"$WORK/bad2.conf"
run "bad config value refused" 1 "$STELED" --data "$WORK/srv" --listen 127.0.0.1:0 --config "$WORK/bad2.conf"
absent "bad config value" "$WORK/srv"
cat >"$WORK/steled.conf" <<'EOF'
# every key spelt as its flag
durability = none
heartbeat-ms = 5000
max-events-per-append = 2
segment-size-bytes = 2097152
request_timeout_ms = 30000
EOF
start_server "$WORK/srv" --config "$WORK/steled.conf"
expect 201 "append" POST /streams/order-1 "${JSON_CT[@]}" -d '{"events":[{"type":"A"}]}'
expect 413 "max-events-per-append from the file" POST /streams/order-1 "${JSON_CT[@]}" \
    -d '{"events":[{"type":"A"},{"type":"B"},{"type":"C"}]}'
expect 200 "durability from the file" GET /info
eq "durability none" "$(json 'b["durability"]')" none
eq "segment-size-bytes from the file" "$(size_of "$WORK/srv/log/00000000000000000001.seg")" 524288

# --- invisible code points (HTTP) ----------------------------------------------------------------
expect 400 "zero-width stream name" POST /streams/order-%E2%80%8B1 "${JSON_CT[@]}" \
    -d '{"events":[{"type":"A"}]}'
contains "HTTP error names the code point" "$(json 'b["message"]')" "U+200B"
contains "HTTP error names the offset" "$(json 'b["message"]')" "at byte 6"
expect 400 "bidi control in a type" POST /streams/order-1 "${JSON_CT[@]}" \
    -d '{"events":[{"type":"A\u2066B"}]}'
contains "HTTP error names the type's code point" "$(json 'b["message"]')" "U+2066"
expect 200 "only the one event" GET /streams/order-1
eq "nothing else written" "$(json 'len(b["events"])')" 1
stop_server
finish
