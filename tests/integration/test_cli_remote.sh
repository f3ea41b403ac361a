#!/usr/bin/env bash
# test_cli_remote.sh -- the `stele` tool's remote mode (--url, --token) against the real steled
# on a free loopback port: the scenario of test_cli.sh run through the server and, side by side,
# on a local store, with the same outputs (positions, versions, data; ids and times too when the
# server's own store is read locally afterwards) and the same exit statuses; paged reads beyond
# the server's page size; tail (history, live, resume after a server restart); tokens.
# Skips (exit 77, reported as skipped; a failure under CI=true) when steled is not built. Needs
# bash, python3 and curl. Every steled started must stop cleanly (status 0 after SIGTERM) with no
# sanitizer report in its log, and every command run here is checked for a report (san_helpers.sh).
set -euo pipefail
unset STELE_URL STELE_TOKEN
. "$(dirname "$0")/cli_helpers.sh"

STELED=$(dirname "$STELE_BIN")/steled
[ -x "$STELED" ] || skip "$STELED is not built; remote mode not tested"
command -v curl >/dev/null || skip "curl is not installed (scripts/install-deps)"

U1=11111111-2222-4333-8444-555555555555
U2=aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee
U3=33333333-bbbb-4ccc-8ddd-eeeeeeeeeeee
SD=$WORK/server-store
SERVER_PID=
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT

# stop_server [quiet]: SIGTERM and wait; the server must exit with status 0 and its log hold no
# sanitizer report (not checked when quiet: the script is already ending on a failure).
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        local rc=0 report
        wait "$SERVER_PID" 2>/dev/null || rc=$?
        SERVER_PID=
        [ "${1:-}" = quiet ] && return 0
        if report=$(sanitizer_report "$WORK/steled.log"); then
            fail "steled: $report"
        fi
        [ "$rc" = 0 ] || fail "steled exited with status $rc after SIGTERM: $(tail -5 "$WORK/steled.log")"
        ok
    fi
}
trap 'stop_server quiet; rm -rf "$WORK"' EXIT

# start_server [steled flags]: start on $PORT with the store $SD and wait until it answers.
start_server() {
    "$STELED" --data "$SD" --listen "127.0.0.1:$PORT" --durability none "$@" \
        >>"$WORK/steled.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        if curl -s -o /dev/null "$URL/health"; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || fail "steled exited: $(tail -5 "$WORK/steled.log")"
        sleep 0.1
    done
    fail "steled did not answer on $URL: $(tail -5 "$WORK/steled.log")"
}

# The tool through the server, and both sides of a comparison.
r() { "$STELE_BIN" --url "$URL" "$@"; }
# Lines without the ids and times (which differ between two stores): events' time and id,
# streams' created and updated, the digest's hash.
noid() {
    sed -E -e 's/"time":"[^"]*","id":"[^"]*",//' -e 's/,"created":("[^"]*"|null),"updated":("[^"]*"|null)//' \
        -e 's/"hash":"[0-9a-f]*"//'
}
# both NAME ARGS...: run ARGS locally and remotely; stdout and exit status must match.
both() {
    local name=$1
    shift
    local lrc=0 rrc=0
    st "$@" >"$WORK/l.out" 2>"$WORK/l.err" || lrc=$?
    r "$@" >"$WORK/r.out" 2>"$WORK/r.err" || rrc=$?
    local report
    if report=$(sanitizer_report "$WORK/l.err" "$WORK/r.err"); then
        fail "$name: $report"
    fi
    eq "$name: exit status (local $(head -c 300 "$WORK/l.err"), remote $(head -c 300 "$WORK/r.err"))" \
        "$rrc" "$lrc"
    eq "$name: output" "$(noid <"$WORK/r.out")" "$(noid <"$WORK/l.out")"
}
# rexit CODE NAME ARGS...: the remote command exits with CODE.
rexit() {
    local want=$1 name=$2
    shift 2
    expect_exit "$want" "$name" r "$@"
}

# --- usage errors are found before any request (the URL is never contacted) -----------------
BAD_URL=http://127.0.0.1:1
expect_exit 1 "remote: unknown command flag" "$STELE_BIN" --url "$BAD_URL" read-all --bogus
expect_exit 1 "remote: bad UUID" "$STELE_BIN" --url "$BAD_URL" append s-1 T --id nope
expect_exit 1 "remote: missing STREAM" "$STELE_BIN" --url "$BAD_URL" read
expect_exit 1 "remote: bad --expect" "$STELE_BIN" --url "$BAD_URL" append s-1 T --expect maybe
expect_exit 1 "remote: --url without a value" "$STELE_BIN" --url
expect_exit 1 "remote: empty --url" "$STELE_BIN" --url= stats
expect_exit 4 "remote: bad JSON is refused before a request" "$STELE_BIN" --url "$BAD_URL" append s-1 T '{"a":'
contains "bad JSON message" "$(cat "$WORK/err")" "invalid JSON"
expect_exit 4 "remote: connection refused" "$STELE_BIN" --url "$BAD_URL" stats
contains "connection refused names the URL" "$(cat "$WORK/err")" "cannot connect to $BAD_URL"
expect_exit 4 "remote: tail with connection refused" "$STELE_BIN" --url "$BAD_URL" tail --caught-up-exit

start_server
expect_exit 0 "remote init (the server's store exists)" r init
expect_exit 0 "local init" st init
both "empty store read-all" read-all

# --- append / read round trip, side by side ---------------------------------------------------
both "append with id, meta, no-stream" append order-1 OrderPlaced '{"sku":"a-1","qty":2,"price":0.1}' \
    --meta '{"actor":"alice"}' --id "$U1" --expect no-stream
eq "append result" "$(cat "$WORK/r.out")" \
    '{"stream":"order-1","first_version":0,"last_version":0,"first_position":1,"last_position":1,"idempotent":false}'
both "read one event" read order-1
eq "remote event keys in order" "$(pyq '",".join(rows[0].keys())' <"$WORK/r.out")" \
    "position,stream,version,type,time,id,data,metadata"
eq "remote event id" "$(pyq 'rows[0]["id"]' <"$WORK/r.out")" "$U1"
contains "remote data kept byte for byte" "$(cat "$WORK/r.out")" '"price":0.1}'
both "idempotent retry" append order-1 OrderPlaced '{"sku":"a-1","qty":2,"price":0.1}' \
    --meta '{"actor":"alice"}' --id "$U1" --expect no-stream
eq "remote retry is idempotent" "$(pyq 'rows[0]["idempotent"]' <"$WORK/r.out")" true
both "default data" append order-1 OrderShipped
both "-- ends options" append num-1 Number -- -5
both "multi-line data" append multi-1 Typed '  {"b": 1,
  "a": [1, 2], "dec": 12.50, "e": 1.5e300}'
both "binary" append bin-1 Blob --binary 'hello'
both "UTF-8" append uni-1 Greeting '{"text":"héllo wörld ✓"}'
printf '{"from":"file"}' >"$WORK/data.json"
both "--data-file" append file-1 FromFile --data-file "$WORK/data.json"
both "odd stream name (percent-encoded)" append 'odd name/ü?&#%' Odd '{}'
both "read odd names back" read 'odd name/ü?&#%'
both "read multi-line data" read multi-1
contains "remote decimals kept" "$(cat "$WORK/r.out")" '"dec":12.50,"e":1.5e300}'
both "read binary" read bin-1
both "read UTF-8" read uni-1

# --- expected-version conflicts, not found, rejected data ------------------------------------
both "wrong expected version" append order-1 Late --expect 0
eq "conflict exits 2" "$(r append order-1 Late --expect 0 2>"$WORK/err" || echo $?)" 2
contains "conflict message names the version" "$(cat "$WORK/err")" "wrong expected version"
both "no-stream on an existing stream" append order-1 Late --expect no-stream
both "exists on a new stream" append order-9 Early --expect exists
both "a failed exists-append creates no stream" info order-9
both "right expected version" append order-1 OrderDelivered --expect 1
both "exists on an existing stream" append order-1 OrderClosed --expect exists
both "read a missing stream" read nope-1
rexit 3 "remote read of a missing stream exits 3" read nope-1
both "info of a missing stream" info nope-1
both "metadata not an object" append order-1 Bad '{}' --meta '[1]'
both "reserved stream name" append '$system' Bad
rexit 4 "remote reserved name exits 4" append '$system' Bad
both "empty type" append order-1 ''

# --- append --file ------------------------------------------------------------------------------
cat >"$WORK/good.ndjson" <<'EOF'
{"type":"CartCreated","data":{"user":"u1"}}

{"type":"ItemAdded","data":{"sku":"x","n":1.10},"metadata":{"actor":"u1"},"id":"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"}
{"type":"ItemAdded","data":{"sku":"y"}}
{"type":"Blob","data":"aGk=","content":"binary"}
EOF
both "--file" append cart-1 --file "$WORK/good.ndjson"
both "--file read back" read cart-1
eq "--file keeps the id" "$(r read cart-1 --from 1 --limit 1 | pyq 'rows[0]["id"]')" "$U2"
printf '{"type":"ItemAdded","data":{"sku":"z"}}\n{"type":"ItemAdded","data":{"sku":\n' >"$WORK/bad.ndjson"
both "--file with a bad line" append cart-1 --file "$WORK/bad.ndjson"
printf '{"type":"ItemAdded","data":{"sku":"z"}}\n{"type":"","data":{}}\n' >"$WORK/bad2.ndjson"
both "--file with an event the store rejects" append cart-1 --file "$WORK/bad2.ndjson"
both "--file with no events" append cart-1 --file /dev/null
out=$(printf '{"type":"FromStdin"}\n' | r append cart-1 --file - --expect 3)
eq "remote --file - reads stdin" "$(echo "$out" | pyq 'rows[0]["first_version"]')" 4
printf '{"type":"FromStdin"}\n' | st append cart-1 --file - --expect 3 >/dev/null
printf '{"type":"ItemAdded","data":{"sku":"w"}}\n' >"$WORK/one.ndjson"
both "--file with a wrong expected version" append cart-1 --file "$WORK/one.ndjson" --expect 0

# --- reads: direction, limit, from; $all filters ------------------------------------------------
for i in 0 1 2 3 4; do
    st append seq-1 Step "{\"i\":$i}" >/dev/null
    r append seq-1 Step "{\"i\":$i}" >/dev/null
done
both "read all versions" read seq-1
both "read --from" read seq-1 --from 3
both "read --limit" read seq-1 --limit 2
both "read --backward" read seq-1 --backward
both "read --backward --from --limit" read seq-1 --backward --from 3 --limit 2
both "read past the end" read seq-1 --from 99
both "read-all" read-all
both "read-all --limit" read-all --limit 3
both "read-all --from" read-all --from 2 --limit 2
both "read-all --backward" read-all --backward --limit 2
both "--type" read-all --type Step
both "--type-prefix" read-all --type-prefix Order
both "--category" read-all --category cart
both "--prefix" read-all --prefix ord
both "--stream" read-all --stream seq-1
both "filters combine" read-all --category seq --type Step --limit 2
both "--type with no match" read-all --type NoSuchType
both "--since a day long past" read-all --stream seq-1 --since 2000-01-01
both "--until a day long past" read-all --stream seq-1 --until 2000-01-01
r append timed-1 T1 >/dev/null
sleep 0.05
r append timed-1 T2 >/dev/null
t2=$(r read timed-1 --limit 1 --from 1 | pyq 'rows[0]["time"]')
eq "remote --since" "$(r read-all --stream timed-1 --since "$t2" | pyq '[r["type"] for r in rows]')" '["T2"]'
eq "remote --until" "$(r read-all --stream timed-1 --until "$t2" | pyq '[r["type"] for r in rows]')" '["T1"]'
st append timed-1 T1 >/dev/null
st append timed-1 T2 >/dev/null

# Paging: more events than one server page (1000), in one atomic append.
python3 -c '
for i in range(2500):
    print("{\"type\":\"Bulk\",\"data\":{\"i\":%d}}" % i)' >"$WORK/bulk.ndjson"
both "append 2500 events" append bulk-1 --file "$WORK/bulk.ndjson"
both "read past one page" read bulk-1
eq "read past one page: count" "$(wc -l <"$WORK/r.out" | tr -d ' ')" 2500
both "read --limit across pages" read bulk-1 --limit 1500 --from 7
both "read --backward across pages" read bulk-1 --backward
both "read-all across pages" read-all
both "read-all --limit across pages" read-all --limit 2222 --from 5
both "read-all --backward across pages" read-all --backward --limit 1700
both "read-all filtered across pages" read-all --type Bulk

# --- streams, info, metadata, delete -----------------------------------------------------------
both "streams" streams
both "streams --prefix" streams --prefix o
both "streams --limit" streams --limit 2
both "streams --after" streams --after cart-1 --limit 2
both "info" info seq-1
both "meta default" meta seq-1
both "meta set" meta seq-1 '{"max_count":100,"owner":"ops","ratio":0.10}'
both "meta get" meta seq-1
eq "remote meta keeps its text" "$(r meta seq-1)" '{"max_count":100,"owner":"ops","ratio":0.10}'
both "meta set with bad JSON" meta seq-1 '{"x":'
both "meta set with a non-object" meta seq-1 '[]'
both "meta of a missing stream" meta nope-1
both "meta --expect a wrong version" meta seq-1 '{"owner":"x"}' --expect 5
rexit 2 "remote meta conflict exits 2" meta seq-1 '{"owner":"x"}' --expect 5
contains "remote meta conflict names the version" "$(cat "$WORK/err")" "metadata of stream 'seq-1' is at version 0"
both "meta --expect no-stream once written" meta seq-1 '{"owner":"x"}' --expect no-stream
both "meta --expect the version" meta seq-1 '{"max_count":100,"owner":"ops","ratio":0.10}' --expect 0
both "meta --expect without JSON" meta seq-1 --expect 0
both "info names the metadata version" info seq-1
both "--system shows metadata events" read-all --system --type '$metadata'
both "delete with a wrong expected version" delete seq-1 --expect 0
rexit 2 "remote delete conflict exits 2" delete seq-1 --expect 0
both "soft delete" delete seq-1 --expect 4
both "deleted state" info seq-1
both "read a deleted stream" read seq-1
both "streams hides deleted streams" streams --prefix seq
both "streams --all shows them" streams --prefix seq --all
both "append after a soft delete" append seq-1 Restarted
both "only new events are readable" read seq-1
st append grave-1 Born >/dev/null
r append grave-1 Born >/dev/null
both "tombstone" delete grave-1 --tombstone
both "tombstoned state" info grave-1
both "append to a tombstoned stream" append grave-1 Again
both "metadata of a tombstoned stream" meta grave-1 '{"a":1}'
rexit 3 "remote metadata of a tombstoned stream exits 3" meta grave-1 '{"a":1}'
rexit 3 "remote append to a tombstoned stream exits 3" append grave-1 Again
both "read a tombstoned stream" read grave-1
both "delete a missing stream" delete nope-1

# --- digest, verify, stats, reindex ------------------------------------------------------------
d1=$(r digest)
eq "remote digest keys" "$(echo "$d1" | pyq '",".join(rows[0].keys())')" "position,hash"
eq "remote digest position is the head" "$(echo "$d1" | pyq 'rows[0]["position"]')" \
    "$(r read-all --system --backward --limit 1 | pyq 'rows[0]["position"]')"
eq "remote stats keys" "$(r stats | pyq '",".join(rows[0].keys())')" \
    "head_position,streams,segments,log_bytes,index_entries,index_tables,appends,syncs,commits,poisoned,durability"
eq "remote stats head_position" "$(r stats | pyq 'rows[0]["head_position"]')" "$(echo "$d1" | pyq 'rows[0]["position"]')"
rexit 0 "remote verify" verify
eq "remote verify report" "$(pyq '[rows[0]["ok"], ",".join(rows[0].keys())]' <"$WORK/out")" \
    '[true,"ok,events,commits,segments,bytes"]'
before_all=$(r read-all --system)
rexit 0 "remote reindex" reindex
eq "remote reindex prints nothing" "$(cat "$WORK/out")" ""
eq "remote reads equal after reindex" "$(r read-all --system)" "$before_all"
eq "remote digest unchanged by reindex" "$(r digest)" "$d1"

# --- export / import ---------------------------------------------------------------------------
both "export" export
both "export --from" export --from 3 
D3=$WORK/store3 D4=$WORK/store4
"$STELE_BIN" -d "$D3" append acct-1 Opened '{"n":1}' --id "$U3" >/dev/null
"$STELE_BIN" -d "$D3" append acct-1 Deposited '{"amount":12.50}' >/dev/null
"$STELE_BIN" -d "$D3" append acct-2 Opened '{"n":2}' >/dev/null
"$STELE_BIN" -d "$D3" append acct-1 Withdrew '{"amount":1}' --meta '{"actor":"bob"}' >/dev/null
"$STELE_BIN" -d "$D3" append blob-1 Raw --binary 'bytes!' >/dev/null
"$STELE_BIN" -d "$D3" meta acct-1 '{"owner":"bob"}'
"$STELE_BIN" -d "$D3" export >"$WORK/export3.ndjson"
out=$(r import - <"$WORK/export3.ndjson")
eq "remote import" "$out" '{"events":6,"appended":5,"idempotent":0,"system":1,"skipped":0}'
proj='[(r["stream"], r["version"], r["type"], r["id"], r["data"], r.get("content"), r["metadata"]) for r in rows]'
eq "remote import copies exactly" "$(r read-all --prefix acct- | pyq "$proj")" \
    "$("$STELE_BIN" -d "$D3" read-all --prefix acct- | pyq "$proj")"
eq "remote import keeps metadata" "$(r meta acct-1)" '{"owner":"bob"}'
contains "remote import keeps data bytes" "$(r read acct-1 --from 1 --limit 1)" '"amount":12.50'
out=$(r import "$WORK/export3.ndjson")
eq "remote re-import is idempotent" "$out" '{"events":6,"appended":0,"idempotent":5,"system":1,"skipped":0}'
printf '{"stream":"x-1","type":"T","data":{}}\n{"stream":"x-1","type":\n' >"$WORK/badimport.ndjson"
rexit 4 "remote import of a bad line" import "$WORK/badimport.ndjson"
contains "remote import error names the line" "$(cat "$WORK/err")" "line 2"
printf '{"stream":"$bad","type":"T","data":{}}\n{"stream":"x-2","type":"","data":{}}\n' >"$WORK/rejected.ndjson"
rexit 4 "remote import of an event the server rejects" import "$WORK/rejected.ndjson"
contains "remote import rejection names the lines" "$(cat "$WORK/err")" "lines 2-2 (stream x-2)"
r export >"$WORK/export-remote.ndjson"
expect_exit 0 "import a remote export locally" "$STELE_BIN" -d "$D4" import "$WORK/export-remote.ndjson"
eq "remote export imports locally" "$("$STELE_BIN" -d "$D4" read-all | pyq "$proj")" "$(r read-all | pyq "$proj")"

# --- tail ---------------------------------------------------------------------------------------
rexit 0 "remote tail --caught-up-exit" tail --caught-up-exit
eq "remote tail prints the history" "$(cat "$WORK/out")" "$(r read-all)"
rexit 0 "remote tail STREAM" tail order-1 --caught-up-exit
eq "remote tail STREAM prints that stream" "$(cat "$WORK/out")" "$(r read order-1)"
rexit 0 "remote tail --from with filters" tail --from 3 --category cart --caught-up-exit
eq "remote tail --from with filters output" "$(cat "$WORK/out")" "$(r read-all --from 3 --category cart)"
rexit 0 "remote tail --after" tail --after 5 --type-prefix Order --caught-up-exit
eq "remote tail --after output" "$(cat "$WORK/out")" "$(r read-all --from 6 --type-prefix Order)"
rexit 0 "remote tail --system" tail --system --type '$metadata' --caught-up-exit
eq "remote tail --system output" "$(cat "$WORK/out")" "$(r read-all --system --type '$metadata')"
rexit 0 "remote tail --end" tail --end --caught-up-exit
eq "remote tail --end prints no history" "$(cat "$WORK/out")" ""
rexit 0 "remote tail --verbose" tail --caught-up-exit --verbose --stream order-1
contains "remote caught up on stderr" "$(cat "$WORK/err")" "caught up at"
rexit 1 "remote tail STREAM with filters" tail order-1 --type X
both "tail of a tombstoned stream" tail grave-1 --caught-up-exit

# Live: history, then events appended while it runs; then the server restarts and tail resumes
# with Last-Event-ID: every event once, in order.
"$STELE_BIN" --url "$URL" tail --prefix live- --verbose >"$WORK/tail.out" 2>"$WORK/tail.err" &
tail_pid=$!
wait_lines() { # wait_lines FILE N
    for _ in $(seq 1 100); do
        [ "$(wc -l <"$1" | tr -d ' ')" -ge "$2" ] && return 0
        sleep 0.1
    done
    fail "waited for $2 lines in $1: $(cat "$1") / $(cat "$WORK/tail.err")"
}
r append live-1 Before >/dev/null
wait_lines "$WORK/tail.out" 1
r append live-1 Live1 >/dev/null
r append live-2 Live2 >/dev/null
wait_lines "$WORK/tail.out" 3
ok
stop_server
start_server
r append live-1 AfterRestart >/dev/null
wait_lines "$WORK/tail.out" 4
kill -TERM "$tail_pid"
rc=0
wait "$tail_pid" || rc=$?
eq "remote tail stops cleanly on SIGTERM" "$rc" 0
eq "remote tail: live events, resumed after a restart, no gap or duplicate" \
    "$(cat "$WORK/tail.out")" "$(r read-all --prefix live-)"
contains "remote tail said it reconnected" "$(cat "$WORK/tail.err")" "reconnecting after position"

# --- the server's own store read locally: ids and times match too ------------------------------
saved=()
for cmd in "read-all --system" "read order-1" "read bulk-1 --backward --limit 1200" "streams --all" \
    "info cart-1" "meta seq-1" "digest" "export" "read-all --category cart --since 2000-01-01" \
    "tail --caught-up-exit"; do
    saved+=("$cmd")
    # shellcheck disable=SC2086
    r $cmd >"$WORK/remote.${#saved[@]}"
done
remote_stats=$(r stats)
stop_server
for i in "${!saved[@]}"; do
    # shellcheck disable=SC2086
    eq "same store, local and remote: ${saved[$i]}" "$("$STELE_BIN" -d "$SD" ${saved[$i]})" \
        "$(cat "$WORK/remote.$((i + 1))")"
done
eq "same store: stats" \
    "$("$STELE_BIN" -d "$SD" stats | pyq '[rows[0][k] for k in ("head_position","streams","segments","log_bytes","index_entries")]')" \
    "$(echo "$remote_stats" | pyq '[rows[0][k] for k in ("head_position","streams","segments","log_bytes","index_entries")]')"

# --- a slow tail: the server drops it, it resumes with Last-Event-ID ----------------------------
# A tiny output bound and a reader that waits before reading: the server drops the subscriber
# (event: dropped), tail reconnects after the last position it printed; nothing lost or doubled.
start_server --subscriber-buffer-bytes 4096 --slow-subscriber-ms 200
# 10 MB in runs of 100 events (import: one request per run of one stream).
python3 -c '
pad = "x" * 1000
for i in range(10000):
    print("{\"stream\":\"big-%d\",\"type\":\"Big\",\"data\":{\"i\":%d,\"pad\":\"%s\"}}" % (i // 100 % 2, i, pad))' >"$WORK/big.ndjson"
eq "import 10000 events" "$(r import "$WORK/big.ndjson")" \
    '{"events":10000,"appended":10000,"idempotent":0,"system":0,"skipped":0}'
rc=0
r tail --prefix big- --caught-up-exit --verbose 2>"$WORK/slow.err" | (sleep 3; cat) >"$WORK/slow.out" || rc=$?
eq "slow tail exits 0" "$rc" 0
contains "slow tail was dropped and resumed" "$(cat "$WORK/slow.err")" "reconnecting after position"
r read-all --prefix big- >"$WORK/slow.want"
cmp -s "$WORK/slow.out" "$WORK/slow.want" || fail "slow tail: the output differs from read-all"
ok
stop_server

# --- tokens -----------------------------------------------------------------------------------
cat >"$WORK/tokens" <<'EOF'
# token role prefixes
admin-secret admin *
reader-secret read *
orders-writer write order-
EOF
start_server --token-file "$WORK/tokens"
rexit 4 "no token" read order-1
contains "no token: clear message" "$(cat "$WORK/err")" "unauthorized"
contains "no token: hint" "$(cat "$WORK/err")" "--token"
expect_exit 4 "wrong token" r --token nope read order-1
expect_exit 4 "wrong token (--token=)" "$STELE_BIN" --url "$URL" --token=nope read order-1
contains "wrong token: clear message" "$(cat "$WORK/err")" "unauthorized"
expect_exit 0 "admin token" "$STELE_BIN" --url "$URL" --token admin-secret read order-1
eq "admin token reads" "$(noid <"$WORK/out")" "$(st read order-1 | noid)"
expect_exit 0 "STELE_TOKEN" env STELE_TOKEN=reader-secret "$STELE_BIN" --url "$URL" stats
expect_exit 0 "STELE_URL and STELE_TOKEN" env STELE_URL="$URL" STELE_TOKEN=reader-secret "$STELE_BIN" info order-1
eq "STELE_URL reads the server" "$(pyq 'rows[0]["name"]' <"$WORK/out")" order-1
expect_exit 0 "-d wins over STELE_URL" env STELE_URL="$URL" "$STELE_BIN" -d "$D" info order-1
expect_exit 4 "read token cannot append" "$STELE_BIN" --url "$URL" --token=reader-secret append order-1 X
contains "forbidden: clear message" "$(cat "$WORK/err")" "forbidden"
expect_exit 0 "write token on its prefix" "$STELE_BIN" --url "$URL" --token orders-writer append order-7 X
expect_exit 4 "write token outside its prefix" "$STELE_BIN" --url "$URL" --token orders-writer append cart-7 X
expect_exit 4 "tail without a token" r tail --caught-up-exit
contains "tail without a token: clear message" "$(cat "$WORK/err")" "unauthorized"
expect_exit 0 "tail with a token" "$STELE_BIN" --url "$URL" --token reader-secret tail order-1 --caught-up-exit
stop_server

finish
