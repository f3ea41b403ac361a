#!/usr/bin/env bash
# test_cli_readonly.sh -- `stele -d DIR` reads a store that a running steled holds (the README's
# session while `make run` serves ./data): read, read-all, event, streams, info, meta, stats, digest
# and export open it read-only, without the lock, and print what the server prints for the same
# command (--url); they change nothing in the directory (names, sizes, times and contents of every
# file compared before and after); they see what the server appended before they started, also
# while it goes on appending; and the commands that write, and tail, still refuse with the way to
# reach the server (--url http://...).
set -euo pipefail
unset STELE_URL STELE_TOKEN
. "$(dirname "$0")/server_helpers.sh"
command -v curl >/dev/null || skip "curl is not installed (scripts/install-deps)"

D=$WORK/data
ID=11111111-1111-4111-8111-111111111111
local_() { "$STELE_BIN" -d "$D" "$@"; }
remote() { "$STELE_BIN" --url "$URL" "$@"; }

local_ append order-1 OrderPlaced '{"sku":"A-7","qty":2}' --id "$ID" >/dev/null
start_server "$D"
remote append order-1 OrderPaid '{"amount":19.9}' --expect 0 >/dev/null
remote append order-2 OrderPlaced '{"sku":"B-1"}' --meta '{"actor":"test"}' >/dev/null
remote meta order-2 '{"owner":"shop"}' >/dev/null

# The server's background work after its open: the next segment it prepares. Once that is there
# (and no append comes), nothing but a reader could change the directory.
for _ in $(seq 1 200); do
    [ -f "$D/log/next.tmp" ] && break
    sleep 0.05
done
[ -f "$D/log/next.tmp" ] || fail "steled did not prepare its next segment"
sleep 0.3
tree() { (cd "$D" && find . -printf '%p %y %s %T@ %C@ %m\n' | sort && find . -type f -exec md5sum {} + | sort); }
before=$(tree)

# Every reading command works locally, and prints what the server prints.
for cmd in "read order-1" "read order-2 --backward" "read-all" "read-all --category order --limit 2" \
    "event $ID" "streams" "info order-2" "meta order-2" "digest"; do
    # shellcheck disable=SC2086
    l=$(local_ $cmd 2>&1) || fail "stele -d DIR $cmd while steled holds DIR: $l"
    # shellcheck disable=SC2086
    r=$(remote $cmd 2>&1) || fail "stele --url $cmd: $r"
    eq "stele -d DIR $cmd prints what --url prints" "$l" "$r"
done
n=$(local_ export | wc -l)
eq "export holds every event (system ones too)" "$n" 4
contains "stats of the held store" "$(local_ stats)" '"head_position":4'
after=$(tree)
[ "$before" = "$after" ] || fail "the read-only commands changed the store: $(diff <(echo "$before") <(echo "$after") | head -5)"
ok

# Commands that write, and tail, still need the server: the error says how to reach it.
rc=0
err=$(local_ append order-1 OrderShipped 2>&1) || rc=$?
eq "append on a held store: exit status" "$rc" 4
contains "append on a held store says to use --url" "$err" "--url http://"
rc=0
err=$(local_ tail 2>&1) || rc=$?
eq "tail on a held store: exit status" "$rc" 4
contains "tail on a held store says why" "$err" "tail follows the events it appends"
contains "tail on a held store says to use --url" "$err" "--url http://"
[ "$before" = "$(tree)" ] || fail "a refused command changed the store"
ok

# A local read sees what the server appended before it started, also while appends go on.
remote append order-3 OrderPlaced '{"n":0}' >/dev/null
eq "a new event is seen by the next local read" "$(local_ read order-3 | wc -l)" 1
(for i in $(seq 1 60); do remote append order-3 OrderPlaced "{\"n\":$i}" >/dev/null || exit 1; done) &
appender=$!
last=0
for _ in $(seq 1 25); do
    out=$(local_ read order-3 2>&1) || fail "stele -d DIR read while the server appends: $out"
    n=$(printf '%s\n' "$out" | wc -l)
    [ "$n" -ge "$last" ] || fail "a later read saw fewer events ($n after $last)"
    last=$n
    # every event is whole, in order: versions 0..n-1 with data n = version
    printf '%s\n' "$out" | python3 -c '
import json, sys
for v, line in enumerate(sys.stdin):
    e = json.loads(line)
    assert e["version"] == v and e["data"] == {"n": v}, line
' || fail "a read while the server appends returned a wrong event"
done
wait "$appender" || fail "appending through the server failed"
eq "the last read sees every event" "$(local_ read order-3 | wc -l)" 61
ok
stop_server
finish
