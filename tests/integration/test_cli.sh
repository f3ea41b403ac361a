#!/usr/bin/env bash
# test_cli.sh -- the `stele` command-line tool end to end: every command on a real store in a
# temporary directory, its NDJSON output, its exit statuses, and that rejected requests write
# nothing. Needs bash and python3 (for JSON parsing). STELE_BIN names the binary.
set -euo pipefail
. "$(dirname "$0")/cli_helpers.sh"

U1=11111111-2222-4333-8444-555555555555
U2=aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee

# --- global options, help, usage errors (all before any store exists) -------------------------
expect_exit 0 "--version" st --version
contains "--version prints the version" "$(cat "$WORK/out")" "stele "
expect_exit 0 "--help" st --help
contains "--help lists commands" "$(cat "$WORK/out")" "read-all"
expect_exit 0 "help append" st help append
contains "help append shows --expect" "$(cat "$WORK/out")" "--expect"
expect_exit 0 "append --help" st append --help
expect_error 1 "no command" "usage: stele" st
expect_error 1 "unknown command" "unknown command 'frobnicate'" st frobnicate
contains "unknown command is named" "$(cat "$WORK/err")" "frobnicate"
expect_error 1 "unknown global flag" "unknown option '--bogus'" st --bogus read-all
expect_error 1 "unknown command flag" "read-all: unknown option '--bogus'" st read-all --bogus
contains "unknown flag is named" "$(cat "$WORK/err")" "--bogus"
expect_error 1 "bad --durability" "--durability: 'sometimes'" st --durability sometimes stats
expect_error 1 "bad UUID" "--id: 'not-a-uuid' is not a UUID" st append s-1 T --id not-a-uuid
contains "bad UUID names the flag" "$(cat "$WORK/err")" "--id"
expect_error 1 "bad number" "--limit: 'ten'" st read s-1 --limit ten
contains "bad number names the flag" "$(cat "$WORK/err")" "--limit"
expect_error 1 "negative number" "--from: '-3'" st read-all --from -3
expect_error 1 "bad --expect" "--expect: 'maybe'" st append s-1 T --expect maybe
expect_error 1 "bad --since time" "--since: 'yesterday'" st read-all --since yesterday
expect_error 1 "missing option value" "option '--limit' needs a value" st read s-1 --limit
expect_error 1 "missing STREAM" "read: missing STREAM" st read
expect_error 1 "missing TYPE" "append: missing TYPE" st append s-1
expect_error 1 "extra argument" "unexpected argument 'b'" st info a b
expect_error 1 "--file with TYPE" "--file takes only STREAM" st append s-1 T --file /dev/null
[ ! -e "$D" ] || fail "usage errors created the store"
ok

# --- no store ----------------------------------------------------------------------------------
expect_exit 3 "read without a store" st read s-1
contains "no store message" "$(cat "$WORK/err")" "no store at"
expect_exit 3 "read-all without a store" st read-all
expect_exit 4 "bad JSON does not create the store" st append s-1 T '{"a":'
[ ! -e "$D" ] || fail "a rejected append created the store"
ok
expect_exit 0 "init" st init
expect_exit 0 "init again" st init
expect_exit 0 "read-all on an empty store" st read-all
eq "empty store has no events" "$(wc -l <"$WORK/out" | tr -d ' ')" 0

# --- append / read round trip -----------------------------------------------------------------
out=$(st append order-1 OrderPlaced '{"sku":"a-1","qty":2,"price":0.1}' --meta '{"actor":"alice"}' \
    --id "$U1" --expect no-stream)
eq "append result" "$out" \
    '{"stream":"order-1","first_version":0,"last_version":0,"first_position":1,"last_position":1,"idempotent":false}'
line=$(st read order-1)
eq "event keys in order" "$(echo "$line" | pyq '",".join(rows[0].keys())')" \
    "position,stream,version,type,time,id,data,metadata"
eq "event position" "$(echo "$line" | pyq 'rows[0]["position"]')" 1
eq "event stream" "$(echo "$line" | pyq 'rows[0]["stream"]')" order-1
eq "event version" "$(echo "$line" | pyq 'rows[0]["version"]')" 0
eq "event type" "$(echo "$line" | pyq 'rows[0]["type"]')" OrderPlaced
eq "event id" "$(echo "$line" | pyq 'rows[0]["id"]')" "$U1"
eq "event data" "$(echo "$line" | pyq 'rows[0]["data"]')" '{"sku":"a-1","qty":2,"price":0.1}'
eq "event metadata" "$(echo "$line" | pyq 'rows[0]["metadata"]')" '{"actor":"alice"}'
contains "data kept byte for byte" "$line" '"price":0.1}'
echo "$line" | pyq 'rows[0]["time"]' | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z$' ||
    fail "time is not RFC 3339 with 9 fraction digits: $line"
ok
eq "one event is one line" "$(echo "$line" | wc -l | tr -d ' ')" 1

# An exact retry (unknown outcome, same command) is idempotent.
out=$(st append order-1 OrderPlaced '{"sku":"a-1","qty":2,"price":0.1}' --meta '{"actor":"alice"}' \
    --id "$U1" --expect no-stream)
eq "retry is idempotent" "$(echo "$out" | pyq 'rows[0]["idempotent"]')" true
eq "retry returns the first result" \
    "$(echo "$out" | pyq '[rows[0]["first_version"], rows[0]["first_position"]]')" '[0,1]'
eq "retry writes nothing" "$(st read-all | pyq 'len(rows)')" 1

out=$(st append order-1 OrderShipped)
eq "default data version" "$(echo "$out" | pyq 'rows[0]["first_version"]')" 1
line=$(st read order-1 --from 1)
eq "default data is {}" "$(echo "$line" | pyq 'rows[0]["data"]')" '{}'
eq "no metadata is null" "$(echo "$line" | pyq 'rows[0]["metadata"]')" null
echo "$line" | pyq 'rows[0]["id"]' | grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' ||
    fail "generated id is not a lower-case UUID: $line"
ok

st append num-1 Number -- -5 >/dev/null
eq "-- ends options (data -5)" "$(st read num-1 | pyq 'rows[0]["data"]')" -5
st append multi-1 Typed '  {"b": 1,
  "a": [1, 2]}' >/dev/null
eq "data printed on one line, key order kept" "$(st read multi-1 | pyq 'rows[0]["data"]')" '{"b":1,"a":[1,2]}'
st append bin-1 Blob --binary 'hello' >/dev/null
line=$(st read bin-1)
eq "binary data as base64" "$(echo "$line" | pyq 'rows[0]["data"]')" aGVsbG8=
eq "binary content marker" "$(echo "$line" | pyq 'rows[0]["content"]')" binary
st append uni-1 Greeting '{"text":"héllo wörld ✓"}' >/dev/null
eq "UTF-8 data round trip" "$(st read uni-1 | pyq 'rows[0]["data"]["text"]')" "héllo wörld ✓"
printf '{"from":"file"}' >"$WORK/data.json"
st append file-1 FromFile --data-file "$WORK/data.json" >/dev/null
eq "--data-file" "$(st read file-1 | pyq 'rows[0]["data"]["from"]')" file

# --- expected-version conflicts ----------------------------------------------------------------
before=$(count_all)
expect_exit 2 "wrong expected version" st append order-1 Late --expect 0
contains "conflict names the actual version" "$(cat "$WORK/err")" "is at version 1"
expect_exit 2 "no-stream on an existing stream" st append order-1 Late --expect no-stream
expect_exit 2 "exists on a new stream" st append order-9 Early --expect exists
expect_exit 3 "a failed exists-append creates no stream" st info order-9
eq "conflicts write nothing" "$(count_all)" "$before"
expect_exit 0 "right expected version" st append order-1 OrderDelivered --expect 1
expect_exit 0 "exists on an existing stream" st append order-1 OrderClosed --expect exists
before=$(count_all)

# --- not found, rejected data ------------------------------------------------------------------
expect_exit 3 "read a missing stream" st read nope-1
expect_exit 3 "info of a missing stream" st info nope-1
expect_exit 4 "bad JSON data" st append order-1 Bad '{"unterminated":'
contains "bad JSON message" "$(cat "$WORK/err")" "append"
expect_exit 4 "metadata not an object" st append order-1 Bad '{}' --meta '[1]'
expect_exit 4 "reserved stream name" st append '$system' Bad
expect_exit 4 "empty type" st append order-1 ''
eq "rejected appends write nothing" "$(count_all)" "$before"

# --- append --file: one atomic append ---------------------------------------------------------
cat >"$WORK/good.ndjson" <<'EOF'
{"type":"CartCreated","data":{"user":"u1"}}

{"type":"ItemAdded","data":{"sku":"x"},"metadata":{"actor":"u1"},"id":"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"}
{"type":"ItemAdded","data":{"sku":"y"}}
EOF
out=$(st append cart-1 --file "$WORK/good.ndjson")
eq "--file versions" "$(echo "$out" | pyq '[rows[0]["first_version"], rows[0]["last_version"]]')" '[0,2]'
eq "--file one atomic append" \
    "$(echo "$out" | pyq 'rows[0]["last_position"] - rows[0]["first_position"]')" 2
eq "--file keeps the id" "$(st read cart-1 --from 1 --limit 1 | pyq 'rows[0]["id"]')" "$U2"
eq "--file keeps metadata" "$(st read cart-1 --from 1 --limit 1 | pyq 'rows[0]["metadata"]["actor"]')" u1
before=$(count_all)
cat >"$WORK/bad.ndjson" <<'EOF'
{"type":"ItemAdded","data":{"sku":"z"}}
{"type":"ItemAdded","data":{"sku":
EOF
expect_exit 4 "--file with a bad JSON line" st append cart-1 --file "$WORK/bad.ndjson"
contains "--file error names the line" "$(cat "$WORK/err")" "line 2"
cat >"$WORK/bad2.ndjson" <<'EOF'
{"type":"ItemAdded","data":{"sku":"z"}}
{"type":"","data":{}}
EOF
expect_exit 4 "--file with an event the store rejects" st append cart-1 --file "$WORK/bad2.ndjson"
cat >"$WORK/bad3.ndjson" <<'EOF'
{"type":"ItemAdded","data":{"sku":"z"}}
{"type":"ItemAdded","data":{},"id":"nope"}
EOF
expect_exit 4 "--file with a bad id" st append cart-1 --file "$WORK/bad3.ndjson"
expect_exit 4 "--file with no events" st append cart-1 --file /dev/null
eq "failed --file appends write nothing" "$(count_all)" "$before"
out=$(printf '{"type":"FromStdin"}\n' | st append cart-1 --file - --expect 2)
eq "--file - reads stdin" "$(echo "$out" | pyq 'rows[0]["first_version"]')" 3
printf '{"type":"ItemAdded","data":{"sku":"w"}}\n' >"$WORK/one.ndjson"
expect_exit 2 "--file with a wrong expected version" st append cart-1 --file "$WORK/one.ndjson" --expect 0

# --- read: direction, limit, from --------------------------------------------------------------
for i in 0 1 2 3 4; do st append seq-1 Step "{\"i\":$i}" >/dev/null; done
eq "read all versions" "$(st read seq-1 | pyq '[r["version"] for r in rows]')" '[0,1,2,3,4]'
eq "read --from" "$(st read seq-1 --from 3 | pyq '[r["version"] for r in rows]')" '[3,4]'
eq "read --limit" "$(st read seq-1 --limit 2 | pyq '[r["version"] for r in rows]')" '[0,1]'
eq "read --backward" "$(st read seq-1 --backward | pyq '[r["version"] for r in rows]')" '[4,3,2,1,0]'
eq "read --backward --from --limit" \
    "$(st read seq-1 --backward --from 3 --limit 2 | pyq '[r["version"] for r in rows]')" '[3,2]'
eq "options in any order" "$(st read --limit=1 seq-1 --from=2 | pyq '[r["version"] for r in rows]')" '[2]'

# --- read-all and its filters ------------------------------------------------------------------
all=$(st read-all)
eq "read-all positions are 1..N" "$(echo "$all" | pyq '[r["position"] for r in rows] == list(range(1, len(rows) + 1))')" true
eq "read-all --limit" "$(st read-all --limit 3 | pyq '[r["position"] for r in rows]')" '[1,2,3]'
eq "read-all --from" "$(st read-all --from 2 --limit 2 | pyq '[r["position"] for r in rows]')" '[2,3]'
last=$(echo "$all" | pyq 'rows[-1]["position"]')
eq "read-all --backward" "$(st read-all --backward --limit 2 | pyq '[r["position"] for r in rows]')" \
    "[$last,$((last - 1))]"
eq "--type" "$(st read-all --type Step | pyq 'len(rows)')" 5
eq "--type-prefix" "$(st read-all --type-prefix Order | pyq 'sorted(set(r["type"] for r in rows))')" \
    '["OrderClosed","OrderDelivered","OrderPlaced","OrderShipped"]'
eq "--category" "$(st read-all --category cart | pyq 'sorted(set(r["stream"] for r in rows))')" '["cart-1"]'
eq "--prefix" "$(st read-all --prefix ord | pyq 'sorted(set(r["stream"] for r in rows))')" '["order-1"]'
eq "--stream" "$(st read-all --stream seq-1 | pyq 'len(rows)')" 5
eq "filters combine" "$(st read-all --category seq --type Step --limit 2 | pyq 'len(rows)')" 2
eq "--type with no match" "$(st read-all --type NoSuchType | pyq 'len(rows)')" 0

st append timed-1 T1 >/dev/null
sleep 0.05
st append timed-1 T2 >/dev/null
sleep 0.05
st append timed-1 T3 >/dev/null
t2=$(st read timed-1 --from 1 --limit 1 | pyq 'rows[0]["time"]')
eq "--since" "$(st read-all --stream timed-1 --since "$t2" | pyq '[r["type"] for r in rows]')" '["T2","T3"]'
eq "--until" "$(st read-all --stream timed-1 --until "$t2" | pyq '[r["type"] for r in rows]')" '["T1"]'
eq "--since a day long past" "$(st read-all --stream timed-1 --since 2000-01-01 | pyq 'len(rows)')" 3
eq "--until a day long past" "$(st read-all --stream timed-1 --until 2000-01-01 | pyq 'len(rows)')" 0

# --- streams, info -----------------------------------------------------------------------------
names=$(st streams | pyq '[r["name"] for r in rows]')
eq "streams sorted by name" "$names" \
    '["bin-1","cart-1","file-1","multi-1","num-1","order-1","seq-1","timed-1","uni-1"]'
eq "streams line keys" "$(st streams --limit 1 | pyq '",".join(rows[0].keys())')" \
    "name,state,first_version,last_version,event_count,last_position,created,updated,metadata_version"
eq "streams --prefix" "$(st streams --prefix o | pyq '[r["name"] for r in rows]')" '["order-1"]'
eq "streams --limit" "$(st streams --limit 2 | pyq '[r["name"] for r in rows]')" '["bin-1","cart-1"]'
eq "streams --after (paging)" "$(st streams --after cart-1 --limit 2 | pyq '[r["name"] for r in rows]')" \
    '["file-1","multi-1"]'
info=$(st info seq-1)
eq "info" "$(echo "$info" | pyq '[rows[0][k] for k in ("name","state","first_version","last_version","event_count")]')" \
    '["seq-1","active",0,4,5]'
eq "info last_position" "$(echo "$info" | pyq 'rows[0]["last_position"]')" \
    "$(st read seq-1 --backward --limit 1 | pyq 'rows[0]["position"]')"

# --- metadata ----------------------------------------------------------------------------------
eq "meta default" "$(st meta seq-1)" '{}'
expect_exit 0 "meta set" st meta seq-1 '{"max_count":100,"owner":"ops"}'
eq "meta get" "$(st meta seq-1 | pyq 'rows[0]')" '{"max_count":100,"owner":"ops"}'
expect_exit 4 "meta set with bad JSON" st meta seq-1 '{"x":'
expect_exit 4 "meta set with a non-object" st meta seq-1 '[]'
eq "bad meta changes nothing" "$(st meta seq-1 | pyq 'rows[0]["owner"]')" ops
expect_exit 3 "meta of a missing stream" st meta nope-1
eq "metadata events are hidden from read-all" "$(st read-all --type '$metadata' | pyq 'len(rows)')" 0
eq "--system shows them" "$(st read-all --system --type '$metadata' | pyq 'len(rows)')" 1
# --expect is checked against the metadata version (info's metadata_version).
eq "info names the metadata version" "$(st info seq-1 | pyq 'rows[0]["metadata_version"]')" 0
expect_exit 2 "meta --expect a wrong version" st meta seq-1 '{"owner":"x"}' --expect 5
contains "the conflict names the actual version" "$(cat "$WORK/err")" "is at version 0"
expect_exit 2 "meta --expect no-stream once written" st meta seq-1 '{"owner":"x"}' --expect no-stream
eq "a refused meta changes nothing" "$(st meta seq-1 | pyq 'rows[0]["owner"]')" ops
eq "meta --expect the version prints the next one" \
    "$(st meta seq-1 '{"max_count":100,"owner":"ops"}' --expect 0)" '{"stream":"seq-1","metadata_version":1}'
expect_exit 1 "meta --expect without JSON" st meta seq-1 --expect 0
expect_exit 1 "meta --expect not a version" st meta seq-1 '{}' --expect soon

# --- delete and tombstone ----------------------------------------------------------------------
expect_exit 2 "delete with a wrong expected version" st delete seq-1 --expect 0
expect_exit 0 "soft delete" st delete seq-1 --expect 4
eq "deleted state" "$(st info seq-1 | pyq 'rows[0]["state"]')" deleted
expect_exit 3 "read a deleted stream" st read seq-1
eq "streams hides deleted streams" "$(st streams --prefix seq | pyq 'len(rows)')" 0
eq "streams --all shows them" "$(st streams --prefix seq --all | pyq '[r["state"] for r in rows]')" '["deleted"]'
out=$(st append seq-1 Restarted)
eq "append after a soft delete continues versions" "$(echo "$out" | pyq 'rows[0]["first_version"]')" 5
eq "only new events are readable" "$(st read seq-1 | pyq '[r["version"] for r in rows]')" '[5]'
eq "recreated stream is active" "$(st info seq-1 | pyq 'rows[0]["state"]')" active

st append grave-1 Born >/dev/null
expect_exit 0 "tombstone" st delete grave-1 --tombstone
eq "tombstoned state" "$(st info grave-1 | pyq 'rows[0]["state"]')" tombstoned
before=$(count_all)
expect_exit 3 "append to a tombstoned stream" st append grave-1 Again
expect_exit 3 "read a tombstoned stream" st read grave-1
expect_exit 3 "the metadata of a tombstoned stream is closed" st meta grave-1 '{"a":1}'
contains "the metadata refusal says why" "$(cat "$WORK/err")" "tombstoned"
eq "tombstone refuses writes" "$(count_all)" "$before"
expect_exit 3 "delete a missing stream" st delete nope-1

# --- digest, verify, stats, reindex ------------------------------------------------------------
d1=$(st digest)
eq "digest keys" "$(echo "$d1" | pyq '",".join(rows[0].keys())')" "position,hash"
echo "$d1" | pyq 'rows[0]["hash"]' | grep -Eq '^[0-9a-f]{64}$' || fail "digest hash is not 64 hex digits: $d1"
ok
eq "digest is stable" "$(st digest)" "$d1"
st append order-1 Audited >/dev/null
d2=$(st digest)
[ "$d1" != "$d2" ] || fail "digest did not change after an append"
ok
eq "digest position is the head" "$(echo "$d2" | pyq 'rows[0]["position"]')" \
    "$(st read-all --system --backward --limit 1 | pyq 'rows[0]["position"]')"
eq "stats head_position" "$(st stats | pyq 'rows[0]["head_position"]')" "$(echo "$d2" | pyq 'rows[0]["position"]')"
eq "stats durability" "$(st --durability async stats | pyq 'rows[0]["durability"]')" async
expect_exit 0 "verify" st verify
eq "verify report" "$(pyq 'rows[0]["ok"]' <"$WORK/out")" true
eq "verify prints no progress bar when stderr is not a terminal" "$(cat "$WORK/err")" ""
# A damaged store: the error tells the user to run verify, and verify reports instead of refusing.
DV="$WORK/damaged"
for i in 1 2 3 4; do "$STELE_BIN" -d "$DV" append dmg-1 T "{\"i\":$i}" >/dev/null; done
python3 - "$DV"/log/00000000000000000001.seg <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:  # a byte of the first record's stream name
    f.seek(128 + 72); b = f.read(1); f.seek(128 + 72); f.write(bytes([b[0] ^ 0x20]))
PY
expect_exit 4 "open of a store with corruption in the middle" "$STELE_BIN" -d "$DV" read-all
contains "the corruption error says to run verify" "$(cat "$WORK/err")" "stele verify"
expect_exit 4 "verify of a damaged store" "$STELE_BIN" -d "$DV" verify
eq "verify of a damaged store reports the first bad record" \
    "$(pyq '[rows[0]["ok"], rows[0]["bad_position"], rows[0]["bad_segment"], rows[0]["bad_offset"]]' <"$WORK/out")" \
    '[false,1,1,128]'
contains "verify names the damage" "$(cat "$WORK/err")" "corruption in the middle"
# A truncated log is a loss, not a torn tail: refused, and verify says how much is missing.
DT="$WORK/truncated"
for i in 1 2 3 4; do "$STELE_BIN" -d "$DT" append trunc-1 T "{\"i\":$i}" >/dev/null; done
truncate -s 400 "$DT"/log/00000000000000000001.seg
expect_exit 4 "open of a truncated log" "$STELE_BIN" -d "$DT" read-all
contains "a truncated log is refused, naming the loss" "$(cat "$WORK/err")" "acknowledged events are missing"
expect_exit 4 "verify of a truncated log" "$STELE_BIN" -d "$DT" verify
eq "verify reports the first missing position" "$(pyq '[rows[0]["ok"], rows[0]["bad_position"]]' <"$WORK/out")" \
    '[false,3]'

before_all=$(st read-all --system)
expect_exit 0 "reindex" st reindex
eq "reads equal after reindex" "$(st read-all --system)" "$before_all"
eq "stream reads after reindex" "$(st read order-1 | pyq 'len(rows)')" 5
eq "digest unchanged by reindex" "$(st digest)" "$d2"

# --- exact idempotency by event id (issue 10) ----------------------------------------------------
# A retry after another append (expected version any, the default) answers the first result and
# writes nothing; the same id with other content, or in another stream, is refused naming the id.
R="$WORK/rt"
RID=11111111-1111-4111-8111-111111111111
rt() { "$STELE_BIN" -d "$R" "$@"; }
out=$(rt append order-1 OrderPlaced --id "$RID")
eq "first append" "$(echo "$out" | pyq '[rows[0]["last_version"], rows[0]["idempotent"]]')" '[0,false]'
rt append order-1 OrderPaid >/dev/null
out=$(rt append order-1 OrderPlaced --id "$RID")
eq "retry after another append is idempotent" \
    "$(echo "$out" | pyq '[rows[0]["first_version"], rows[0]["first_position"], rows[0]["idempotent"]]')" \
    '[0,1,true]'
for expect in any exists 5 no-stream; do
    out=$(rt append order-1 OrderPlaced --id "$RID" --expect "$expect")
    eq "retry with --expect $expect" "$(echo "$out" | pyq '[rows[0]["last_position"], rows[0]["idempotent"]]')" '[1,true]'
done
eq "the retries wrote nothing" "$(rt read order-1 | pyq '[r["type"] for r in rows]')" '["OrderPlaced","OrderPaid"]'
expect_exit 4 "same id, other data" rt append order-1 OrderPlaced '{"total":9}' --id "$RID"
contains "id_reuse names the id" "$(cat "$WORK/err")" "$RID"
contains "id_reuse says what differs" "$(cat "$WORK/err")" "data"
expect_exit 4 "same id, other type" rt append order-1 OrderShipped --id "$RID"
expect_exit 4 "same id, other stream" rt append order-2 OrderPlaced --id "$RID"
contains "other stream is named" "$(cat "$WORK/err")" "stream"
eq "nothing written by the refusals" "$(rt read-all | pyq 'len(rows)')" 2
printf '{"type":"A","data":{},"id":"%s"}\n{"type":"B","data":{},"id":"%s"}\n' "$U2" "$U2" >"$WORK/dupids.ndjson"
expect_exit 4 "one id twice in one append" rt append order-3 --file "$WORK/dupids.ndjson"
contains "repeated id is named" "$(cat "$WORK/err")" "$U2"
# stele event ID
expect_exit 0 "event by id" rt event "$RID"
eq "event by id prints the event" "$(pyq '[rows[0]["stream"], rows[0]["position"], rows[0]["type"]]' <"$WORK/out")" \
    '["order-1",1,"OrderPlaced"]'
eq "event prints the same line as read" "$(cat "$WORK/out")" "$(rt read order-1 --limit 1)"
expect_exit 3 "event: no such id" rt event "$U1"
contains "not found names the id" "$(cat "$WORK/err")" "$U1"
expect_exit 1 "event: not a UUID" rt event 1234
expect_exit 1 "event: missing ID" rt event
# After a reindex and with the id index deleted, a retry is still recognised.
expect_exit 0 "reindex" rt reindex
eq "retry after reindex" "$(rt append order-1 OrderPlaced --id "$RID" | pyq 'rows[0]["idempotent"]')" true
rm -rf "$R/ids"
eq "retry with the id index deleted" "$(rt append order-1 OrderPlaced --id "$RID" | pyq 'rows[0]["idempotent"]')" true
expect_exit 0 "verify after the id index was rebuilt" rt verify
# A store built with retries round-trips through export and import.
rt export >"$WORK/rt-export.ndjson"
expect_exit 0 "import of a store built with retries" "$STELE_BIN" -d "$WORK/rt2" import "$WORK/rt-export.ndjson"
rtproj='[[r["stream"], r["version"], r["type"], r["id"], r["data"], r["metadata"]] for r in rows]'
eq "import round-trips the store built with retries" \
    "$("$STELE_BIN" -d "$WORK/rt2" read-all --system | pyq "$rtproj")" "$(rt read-all --system | pyq "$rtproj")"
eq "the imported store answers the retry" \
    "$("$STELE_BIN" -d "$WORK/rt2" append order-1 OrderPlaced --id "$RID" | pyq '[rows[0]["first_position"], rows[0]["idempotent"]]')" \
    '[1,true]'

# --- export / import ---------------------------------------------------------------------------
st export >"$WORK/export.ndjson"
eq "export includes system events" "$(pyq 'any(r["stream"].startswith("$") for r in rows)' <"$WORK/export.ndjson")" true
eq "export --from" "$(st export --from 3 | pyq 'rows[0]["position"]')" 3
D2=$WORK/store2
expect_exit 0 "import" "$STELE_BIN" -d "$D2" import "$WORK/export.ndjson"
proj='[(r["stream"], r["version"], r["type"], r["id"], r["data"], r.get("content"), r["metadata"]) for r in rows]'
eq "import reproduces the events" "$("$STELE_BIN" -d "$D2" read-all | pyq "$proj")" "$(st read-all | pyq "$proj")"

# A store of live streams only: importing twice writes nothing the second time.
D3=$WORK/store3 D4=$WORK/store4
"$STELE_BIN" -d "$D3" append acct-1 Opened '{"n":1}' --id "$U1" >/dev/null
"$STELE_BIN" -d "$D3" append acct-1 Deposited '{"amount":12.50}' >/dev/null
"$STELE_BIN" -d "$D3" append acct-2 Opened '{"n":2}' >/dev/null
"$STELE_BIN" -d "$D3" append acct-1 Withdrew '{"amount":1}' --meta '{"actor":"bob"}' >/dev/null
"$STELE_BIN" -d "$D3" append blob-1 Raw --binary 'bytes!' >/dev/null
"$STELE_BIN" -d "$D3" meta acct-1 '{"owner":"bob"}'
"$STELE_BIN" -d "$D3" export >"$WORK/export3.ndjson"
out=$("$STELE_BIN" -d "$D4" import - <"$WORK/export3.ndjson")
eq "import from stdin" "$(echo "$out" | pyq 'rows[0]["appended"]')" 5
eq "import copies exactly" "$("$STELE_BIN" -d "$D4" read-all | pyq "$proj")" \
    "$("$STELE_BIN" -d "$D3" read-all | pyq "$proj")"
eq "import keeps stream metadata" "$("$STELE_BIN" -d "$D4" meta acct-1 | pyq 'rows[0]["owner"]')" bob
contains "import keeps data bytes" "$("$STELE_BIN" -d "$D4" read acct-1 --from 1 --limit 1)" '"amount":12.50'
out=$("$STELE_BIN" -d "$D4" import "$WORK/export3.ndjson")
eq "re-import is idempotent" "$(echo "$out" | pyq '[rows[0]["appended"], rows[0]["idempotent"]]')" '[0,5]'
eq "re-import writes nothing" "$("$STELE_BIN" -d "$D4" read-all --system | pyq 'len(rows)')" \
    "$("$STELE_BIN" -d "$D3" read-all --system | pyq 'len(rows)')"
printf '{"stream":"x-1","type":"T","data":{}}\n{"stream":"x-1","type":\n{"stream":"x-1","type":"U","data":{}}\n' \
    >"$WORK/badimport.ndjson"
expect_exit 4 "import of a bad line" "$STELE_BIN" -d "$WORK/store5" import "$WORK/badimport.ndjson"
contains "import error names the line" "$(cat "$WORK/err")" "line 2"
# the run before the bad line is imported, and import says so, and how to go on
eq "import keeps the run before a bad line" \
    "$("$STELE_BIN" -d "$WORK/store5" read x-1 | pyq '[r["type"] for r in rows]')" '["T"]'
eq "import summary after a bad line" \
    "$(pyq '[rows[0][k] for k in ("complete","appended","done_line","last_position","failed_line")]' <"$WORK/out")" \
    '[false,1,1,1,2]'
contains "import says how to resume" "$(cat "$WORK/err")" "--from-line 3"
expect_exit 0 "import --from-line" "$STELE_BIN" -d "$WORK/store5" import "$WORK/badimport.ndjson" \
    --from-line 3
eq "import --from-line goes on after the bad line" \
    "$("$STELE_BIN" -d "$WORK/store5" read x-1 | pyq '[r["type"] for r in rows]')" '["T","U"]'
expect_exit 1 "import --from-line 0" "$STELE_BIN" -d "$WORK/store5" import "$WORK/badimport.ndjson" \
    --from-line 0
expect_exit 4 "import of a missing file" "$STELE_BIN" -d "$WORK/store5" import "$WORK/no-such-file"

# --- tail --------------------------------------------------------------------------------------
expect_exit 0 "tail --caught-up-exit" st tail --caught-up-exit
eq "tail prints the history" "$(cat "$WORK/out")" "$(st read-all)"
expect_exit 0 "tail STREAM" st tail order-1 --caught-up-exit
eq "tail STREAM prints that stream" "$(cat "$WORK/out")" "$(st read order-1)"
expect_exit 0 "tail --from with filters" st tail --from 3 --category cart --caught-up-exit
eq "tail --from with filters output" "$(cat "$WORK/out")" "$(st read-all --from 3 --category cart)"
expect_exit 0 "tail --end" st tail --end --caught-up-exit
eq "tail --end prints no history" "$(cat "$WORK/out")" ""
expect_exit 0 "tail --verbose" st tail --caught-up-exit --verbose
contains "caught up on stderr" "$(cat "$WORK/err")" "caught up at"
expect_error 1 "tail STREAM with filters" "give STREAM or filters" st tail order-1 --type X
"$STELE_BIN" -d "$D" tail >"$WORK/tail.out" 2>"$WORK/tail.err" &
tail_pid=$!
sleep 1
kill -TERM "$tail_pid"
rc=0
wait "$tail_pid" || rc=$?
eq "tail stops cleanly on SIGTERM" "$rc" 0
eq "tail printed the history before SIGTERM" "$(cat "$WORK/tail.out")" "$(st read-all)"

# --- environment and global options ------------------------------------------------------------
eq "STELE_DATA selects the store" "$(STELE_DATA="$D3" "$STELE_BIN" read acct-2 | pyq 'rows[0]["type"]')" Opened
eq "--data= form" "$("$STELE_BIN" --data="$D3" read acct-2 | pyq 'rows[0]["type"]')" Opened
expect_exit 0 "--durability none append" "$STELE_BIN" -d "$D3" --durability none append acct-3 Opened
expect_exit 0 "--durability async append" "$STELE_BIN" --durability=async -d "$D3" append acct-3 Again

finish
