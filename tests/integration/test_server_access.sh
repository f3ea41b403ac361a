#!/usr/bin/env bash
# test_server_access.sh -- tokens and their files: a token limited to stream prefixes reaches no
# other stream on any route (tests/integration/server_access.py walks them all); the token file
# is read in whole lines, a line over the limit is refused with its number; the Authorization
# scheme is case-insensitive; a token file or TLS key that other users can read is warned about.
set -euo pipefail
. "$(dirname "$0")/server_helpers.sh"

cat >"$WORK/tokens" <<'EOF'
# TOKEN       ROLE   PREFIXES
admin-tok     admin  *
ord-read      read   order-
ord-write     write  order-
multi-read    read   order-,cart-
short-read    read   ord
EOF
chmod 600 "$WORK/tokens"
start_server "$WORK/d" --durability none --token-file "$WORK/tokens"
out=$(cd "$HERE" && python3 server_access.py "$URL") || fail "server_access.py: $out"
echo "$out" | tail -1
n=$(echo "$out" | tail -1 | cut -d' ' -f1)
passed=$((passed + n))
stop_server

# --- the token file is read in whole lines -----------------------------------------------------
# A comment longer than 8 KiB: its tail is part of the comment, not a token.
{
    printf '#'
    head -c 8190 /dev/zero | tr '\0' x
    printf 'tail-tok admin *\n'
    printf 'real-tok read *\n'
} >"$WORK/long-comment"
chmod 600 "$WORK/long-comment"
start_server "$WORK/d" --durability none --token-file "$WORK/long-comment"
expect 200 "the token after a long comment works" GET /info -H 'Authorization: Bearer real-tok'
expect 401 "the tail of a long comment is no token" GET /info -H 'Authorization: Bearer tail-tok'
stop_server

# A line of exactly the limit (65,536 bytes without its newline) is read; one byte more is refused
# at start, naming the line.
{
    printf 'real-tok read *\n'
    printf '#'
    head -c 65535 /dev/zero | tr '\0' y
    printf '\n'
} >"$WORK/at-limit"
chmod 600 "$WORK/at-limit"
start_server "$WORK/d" --durability none --token-file "$WORK/at-limit"
expect 200 "a line of 65,536 bytes is read" GET /info -H 'Authorization: Bearer real-tok'
stop_server

{
    printf 'real-tok read *\n\n'
    printf '#'
    head -c 65536 /dev/zero | tr '\0' y
    printf 'over-tok admin *\n'
} >"$WORK/over-limit"
chmod 600 "$WORK/over-limit"
rc=0
"$STELED" --data "$WORK/d" --listen 127.0.0.1:0 --token-file "$WORK/over-limit" \
    2>"$WORK/over.log" || rc=$?
eq "a line over the limit: steled exits 1" "$rc" 1
log=$(cat "$WORK/over.log")
contains "a line over the limit: named" "$log" '"line":3'
contains "a line over the limit: the limit stated" "$log" "65536 bytes"
contains "a line over the limit: the file named" "$log" "over-limit"

# A NUL byte in a line is refused (the text after it would be lost).
printf 'real-tok read *\nnul-tok\000x admin *\n' >"$WORK/nul"
chmod 600 "$WORK/nul"
rc=0
"$STELED" --data "$WORK/d" --listen 127.0.0.1:0 --token-file "$WORK/nul" 2>"$WORK/nul.log" || rc=$?
eq "a NUL byte: steled exits 1" "$rc" 1
contains "a NUL byte: named" "$(cat "$WORK/nul.log")" '"line":2'

# --- files other users can read are warned about -------------------------------------------------
# warned LOG WHAT: the log has one warning line naming WHAT.
warned() {
    python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["level"] == "warn" and o.get("file") == sys.argv[2]:
        n += 1
print(n)
' "$1" "$2"
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$WORK/key.pem" \
    -out "$WORK/cert.pem" -days 2 -subj /CN=localhost 2>/dev/null
for mode in 644 640 604 620 600 400 700; do
    chmod "$mode" "$WORK/tokens" "$WORK/key.pem"
    start_server "$WORK/d" --durability none --token-file "$WORK/tokens" \
        --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"
    stop_server
    want=1
    case $mode in 600 | 400 | 700) want=0 ;; esac
    eq "token file mode $mode: warned" "$(warned "$SERVER_LOG" "$WORK/tokens")" "$want"
    eq "TLS key mode $mode: warned" "$(warned "$SERVER_LOG" "$WORK/key.pem")" "$want"
done
contains "the warning is a log line of the server's format" \
    "$(grep -h '"level":"warn"' "$WORK"/steled.*.log | head -1)" '"time":'

finish
