#!/usr/bin/env bash
# test_server_api.sh -- steled's HTTP API end to end: every endpoint, every error code with its
# status, the JSON shapes shared with the CLI, startup refusals, config file and environment,
# tokens with roles and prefixes, TLS with a generated certificate, and a clean SIGTERM exit.
set -euo pipefail
. "$(dirname "$0")/server_helpers.sh"

U1=11111111-2222-4333-8444-555555555555
U2=22222222-2222-4333-8444-555555555555
U3=33333333-2222-4333-8444-555555555555
U4=44444444-2222-4333-8444-555555555555

# --- startup --------------------------------------------------------------------------------
rc=0
"$STELED" --data "$WORK/refuse" --listen 0.0.0.0:0 2>"$WORK/refuse.log" || rc=$?
eq "non-loopback without tokens is refused" "$rc" 1
contains "refusal names --insecure" "$(cat "$WORK/refuse.log")" "insecure"
rc=0
"$STELED" --bogus 2>/dev/null || rc=$?
eq "unknown flag" "$rc" 1
"$STELED" --help | grep -q -- "--max-body-bytes" || fail "--help lists the limits"
ok

start_server "$WORK/d" --durability none
expect 200 "health" GET /health
eq "health body" "$(json 'b["status"]')" ok
expect 200 "info" GET /info
eq "info keys" "$(json '",".join(b.keys())')" "version,head_position,head_hash,durability"
eq "empty head" "$(json 'b["head_position"]')" 0

# --- append ---------------------------------------------------------------------------------
expect 201 "append" POST /streams/order-1 "${JSON_CT[@]}" \
    -d '{"expected_version":"no_stream","events":[{"id":"'$U1'","type":"OrderPlaced","data":{"price":0.1,"big":123456789012345678901234567890},"metadata":{"actor":"alice"}}]}'
eq "append result" "$(cat "$WORK/body")" \
    '{"stream":"order-1","first_version":0,"last_version":0,"first_position":1,"last_position":1,"idempotent":false}'
# regression (malformed-request seed 24522): jansson skips a raw NUL after a number
printf '{"events":[{"type":"T","data":{"a":1\0}}]}' >"$WORK/nul.json"
expect 400 "a raw NUL byte in the body" POST /streams/nul-1 "${JSON_CT[@]}" \
    --data-binary @"$WORK/nul.json"
expect 404 "the NUL body wrote nothing" GET /streams/nul-1
expect 201 "idempotent retry" POST /streams/order-1 "${JSON_CT[@]}" \
    -d '{"expected_version":"no_stream","events":[{"id":"'$U1'","type":"OrderPlaced","data":{"price":0.1,"big":123456789012345678901234567890},"metadata":{"actor":"alice"}}]}'
eq "retry is idempotent" "$(json 'b["idempotent"]')" true
expect 201 "two events, default expected version" POST /streams/order-1 "${JSON_CT[@]}" \
    -d '{"events":[{"id":"'$U2'","type":"A","data":[1, 2 ,3]},{"id":"'$U3'","type":"B","data":"text"}]}'
eq "versions 1..2" "$(json '[b["first_version"],b["last_version"],b["first_position"],b["last_position"]]')" "[1,2,2,3]"
expect 409 "ids that match only partly" POST /streams/order-1 "${JSON_CT[@]}" \
    -d '{"expected_version":0,"events":[{"id":"'$U2'","type":"A","data":[1,2,3]},{"id":"'$U4'","type":"B","data":"text"}]}'
eq "id_reuse" "$(json 'b["error"]')" id_reuse
# Exact idempotency by id (issue 10): a retry after other appends, with the default expected
# version, is answered with the first result; the same id for other data is 409 id_reuse.
expect 201 "retry after other appends, expected version any" POST /streams/order-1 "${JSON_CT[@]}" \
    -d '{"events":[{"id":"'$U1'","type":"OrderPlaced","data":{"price":0.1,"big":123456789012345678901234567890},"metadata":{"actor":"alice"}}]}'
eq "the retry answers the first result" "$(json '[b["first_version"],b["first_position"],b["idempotent"]]')" '[0,1,true]'
expect 409 "same id, other data" POST /streams/order-1 "${JSON_CT[@]}" \
    -d '{"events":[{"id":"'$U1'","type":"OrderPlaced","data":{"price":0.2},"metadata":{"actor":"alice"}}]}'
eq "id_reuse for other data" "$(json 'b["error"]')" id_reuse
contains "id_reuse names the id" "$(json 'b["message"]')" "$U1"
expect 409 "same id, other stream" POST /streams/order-77 "${JSON_CT[@]}" \
    -d '{"events":[{"id":"'$U1'","type":"OrderPlaced","data":{"price":0.1,"big":123456789012345678901234567890},"metadata":{"actor":"alice"}}]}'
eq "id_reuse for another stream" "$(json 'b["error"]')" id_reuse
expect 404 "the refused append made no stream" GET /streams/order-77
# GET /events/{id}
expect 200 "event by id" GET /events/$U1
eq "event by id: the event" "$(json '[b["stream"],b["version"],b["position"],b["type"],b["id"],b["metadata"]]')" \
    '["order-1",0,1,"OrderPlaced","'$U1'",{"actor":"alice"}]'
eq "event by id: the keys of a read" "$(json '",".join(b.keys())')" "position,stream,version,type,time,id,data,metadata"
by_id=$(json 'b')
expect 200 "the same event read from its stream" GET "/streams/order-1?limit=1"
eq "event by id: the same JSON as a read" "$(json 'b["events"][0]')" "$by_id"
expect 404 "event by id: none" GET /events/$U4
eq "not_found" "$(json 'b["error"]')" not_found
contains "not_found names the id" "$(json 'b["message"]')" "$U4"
expect 400 "event by id: not a UUID" GET /events/not-a-uuid
eq "invalid_argument" "$(json 'b["error"]')" invalid_argument
expect 400 "event by id: unknown parameter" GET "/events/$U1?limit=1"
expect 405 "event by id: POST" POST /events/$U1 "${JSON_CT[@]}" -d '{}'
expect 409 "wrong expected version" POST /streams/order-1 "${JSON_CT[@]}" \
    -d '{"expected_version":0,"events":[{"type":"A"}]}'
eq "409 body" "$(json '[b["error"],b["expected"],b["actual"]]')" '["wrong_expected_version",0,2]'
expect 409 "stream_exists on a new stream" POST /streams/new-1 "${JSON_CT[@]}" \
    -d '{"expected_version":"stream_exists","events":[{"type":"A"}]}'
eq "actual -1" "$(json '[b["expected"],b["actual"]]')" '["stream_exists",-1]'
expect 201 "binary event" POST /streams/bin-1 "${JSON_CT[@]}" \
    -d '{"events":[{"type":"Blob","data":"AAEC/w==","content":"binary"}]}'
expect 200 "read binary" GET /streams/bin-1
eq "binary round trip" "$(json '[b["events"][0]["data"],b["events"][0]["content"]]')" '["AAEC/w==","binary"]'
expect 201 "percent-encoded name" POST /streams/a%2Fb%20c "${JSON_CT[@]}" -d '{"events":[{"type":"T"}]}'
eq "decoded name" "$(json 'b["stream"]')" "a/b c"

# --- append errors ---------------------------------------------------------------------------
expect 415 "no content type" POST /streams/x-1 -d '{"events":[{"type":"A"}]}'
eq "415 code" "$(json 'b["error"]')" unsupported_media_type
expect 400 "invalid json" POST /streams/x-1 "${JSON_CT[@]}" -d '{"events":['
eq "invalid_json" "$(json 'b["error"]')" invalid_json
expect 400 "bad utf-8" POST /streams/x-1 "${JSON_CT[@]}" --data-binary $'{"events":[{"type":"\xff"}]}'
eq "bad utf-8 is invalid_json" "$(json 'b["error"]')" invalid_json
expect 400 "empty events" POST /streams/x-1 "${JSON_CT[@]}" -d '{"events":[]}'
eq "empty_append" "$(json 'b["error"]')" empty_append
expect 400 "empty type" POST /streams/x-1 "${JSON_CT[@]}" -d '{"events":[{"type":""}]}'
eq "invalid_type" "$(json 'b["error"]')" invalid_type
expect 400 "missing type" POST /streams/x-1 "${JSON_CT[@]}" -d '{"events":[{"data":{}}]}'
expect 400 "reserved name" POST /streams/%24x "${JSON_CT[@]}" -d '{"events":[{"type":"A"}]}'
eq "reserved_name" "$(json 'b["error"]')" reserved_name
expect 400 "control char in name" POST /streams/a%01b "${JSON_CT[@]}" -d '{"events":[{"type":"A"}]}'
eq "invalid_name" "$(json 'b["error"]')" invalid_name
expect 400 "NUL in name" POST /streams/a%00b "${JSON_CT[@]}" -d '{"events":[{"type":"A"}]}'
expect 400 "bad expected version" POST /streams/x-1 "${JSON_CT[@]}" -d '{"expected_version":"maybe","events":[{"type":"A"}]}'
eq "invalid_argument" "$(json 'b["error"]')" invalid_argument
expect 400 "bad id" POST /streams/x-1 "${JSON_CT[@]}" -d '{"events":[{"type":"A","id":"nope"}]}'
expect 400 "metadata not an object" POST /streams/x-1 "${JSON_CT[@]}" -d '{"events":[{"type":"A","metadata":[1]}]}'
expect 400 "unknown key" POST /streams/x-1 "${JSON_CT[@]}" -d '{"events":[{"type":"A","typo":1}]}'
eq "bad_request" "$(json 'b["error"]')" bad_request
expect 400 "bad base64" POST /streams/x-1 "${JSON_CT[@]}" -d '{"events":[{"type":"A","data":"!!","content":"binary"}]}'
python3 -c 'import json; print(json.dumps({"events": [{"type": "A"}] * 10001}))' >"$WORK/many.json"
expect 413 "too many events" POST /streams/x-1 "${JSON_CT[@]}" --data-binary @"$WORK/many.json"
eq "payload_too_large" "$(json 'b["error"]')" payload_too_large
python3 -c 'print("{\"events\":[{\"type\":\"A\",\"data\":\"" + "x" * (5 * 1024 * 1024) + "\"}]}")' >"$WORK/big.json"
expect 413 "event too big" POST /streams/x-1 "${JSON_CT[@]}" --data-binary @"$WORK/big.json"
expect 405 "PUT on a stream" PUT /streams/x-1 "${JSON_CT[@]}" -d '{}'
eq "method_not_allowed" "$(json 'b["error"]')" method_not_allowed
expect 404 "unknown endpoint" GET /nope
eq "not_found" "$(json 'b["error"]')" not_found
expect 400 "unknown query parameter" GET "/all?colour=red"
expect 400 "bad limit" GET "/all?limit=-1"
expect 400 "limit above the maximum" GET "/all?limit=10001"
expect 400 "bad since" GET "/all?since=yesterday"
expect 200 "nothing appended by errors" GET /info
eq "head after errors" "$(json 'b["head_position"]')" 5

# --- commits ---------------------------------------------------------------------------------
expect 201 "commit" POST /commits "${JSON_CT[@]}" \
    -d '{"parts":[{"stream":"acct-1","expected_version":"no_stream","events":[{"type":"Debited","data":{"n":5}}]},{"stream":"acct-2","expected_version":"any","events":[{"type":"Credited","data":{"n":5}}]}]}'
eq "commit results" "$(json '[(p["stream"],p["first_position"]) for p in b["parts"]]')" '[["acct-1",6],["acct-2",7]]'
expect 409 "commit conflict" POST /commits "${JSON_CT[@]}" \
    -d '{"parts":[{"stream":"acct-3","events":[{"type":"X"}]},{"stream":"acct-1","expected_version":"no_stream","events":[{"type":"Y"}]}]}'
eq "conflict names the part" "$(json '[b["error"],b["part"],b["expected"],b["actual"]]')" '["wrong_expected_version",1,"no_stream",0]'
expect 404 "acct-3 was not written" GET /streams/acct-3
expect 400 "commit part with a bad name" POST /commits "${JSON_CT[@]}" \
    -d '{"parts":[{"stream":"ok-1","events":[{"type":"X"}]},{"stream":"$bad","events":[{"type":"Y"}]}]}'
eq "bad part named" "$(json '[b["error"],b["part"]]')" '["reserved_name",1]'
expect 400 "empty parts" POST /commits "${JSON_CT[@]}" -d '{"parts":[]}'
expect 405 "GET /commits" GET /commits

# --- reads -----------------------------------------------------------------------------------
expect 200 "read stream" GET /streams/order-1
eq "event keys in order" "$(json '",".join(b["events"][0].keys())')" "position,stream,version,type,time,id,data,metadata"
eq "data kept exactly" "$(json 'json.dumps(b["events"][0]["data"]) if False else str(b["events"][0]["data"]["big"])')" "123456789012345678901234567890"
grep -q '"price":0.1,' "$WORK/body" || fail "0.1 is written back as 0.1"
ok
eq "versions" "$(json '[e["version"] for e in b["events"]]')" "[0,1,2]"
expect 200 "read backward" GET "/streams/order-1?direction=backward&limit=2"
eq "backward versions" "$(json '[e["version"] for e in b["events"]]')" "[2,1]"
expect 200 "read from" GET "/streams/order-1?from=1&limit=1"
eq "from 1" "$(json '[e["version"] for e in b["events"]]')" "[1]"
expect 404 "read missing stream" GET /streams/missing-1
eq "not_found code" "$(json 'b["error"]')" not_found
expect 400 "bad direction" GET "/streams/order-1?direction=up"
expect 200 "read all" GET "/all"
eq "all positions" "$(json '[e["position"] for e in b["events"]]')" "[1,2,3,4,5,6,7]"
expect 200 "read all backward" GET "/all?direction=backward&limit=2"
eq "all backward" "$(json '[e["position"] for e in b["events"]]')" "[7,6]"
expect 200 "filter type" GET "/all?type=Debited"
eq "type filter" "$(json '[e["stream"] for e in b["events"]]')" '["acct-1"]'
expect 200 "filter type_prefix + category" GET "/all?type_prefix=Cred&category=acct"
eq "type_prefix filter" "$(json '[e["stream"] for e in b["events"]]')" '["acct-2"]'
expect 200 "filter prefix" GET "/all?prefix=order-"
eq "prefix filter" "$(json 'len(b["events"])')" 3
expect 200 "filter stream + from" GET "/all?stream=acct-2&from=2"
eq "stream filter" "$(json '[e["position"] for e in b["events"]]')" "[7]"
expect 200 "since in the future" GET "/all?since=2200-01-01"
eq "since filter" "$(json 'len(b["events"])')" 0
expect 200 "until in the past" GET "/all?until=2000-01-01T00:00:00Z"
eq "until filter" "$(json 'len(b["events"])')" 0

# --- streams, info, metadata, delete ------------------------------------------------------------
expect 200 "stream info" GET /streams/order-1/info
eq "info keys" "$(json '",".join(b.keys())')" "name,state,first_version,last_version,event_count,last_position,created,updated,metadata_version"
eq "info values" "$(json '[b["name"],b["state"],b["last_version"],b["event_count"]]')" '["order-1","active",2,3]'
expect 404 "info of a missing stream" GET /streams/missing-1/info
expect 200 "stream list" GET /streams
eq "list names" "$(json '[s["name"] for s in b["streams"]]')" '["a/b c","acct-1","acct-2","bin-1","order-1"]'
expect 200 "list by prefix, paged" GET "/streams?prefix=acct-&limit=1"
eq "first page" "$(json '[s["name"] for s in b["streams"]]')" '["acct-1"]'
expect 200 "next page" GET "/streams?prefix=acct-&after=acct-1"
eq "second page" "$(json '[s["name"] for s in b["streams"]]')" '["acct-2"]'
expect 200 "metadata unset" GET /streams/order-1/metadata
eq "empty metadata" "$(cat "$WORK/body")" "{}"
expect 200 "metadata put" PUT /streams/order-1/metadata "${JSON_CT[@]}" -d '{"max_count":10,"owner":"team-a"}'
eq "put answers the metadata version" "$(cat "$WORK/body")" '{"metadata_version":0}'
expect 200 "metadata get" GET /streams/order-1/metadata
eq "metadata value" "$(json 'b["owner"]')" team-a
expect 400 "metadata not an object" PUT /streams/order-1/metadata "${JSON_CT[@]}" -d '[1]'
expect 415 "metadata without content type" PUT /streams/order-1/metadata -d '{}'
expect 409 "delete with a wrong expected version" DELETE "/streams/order-1?expected_version=0"
eq "delete conflict" "$(json '[b["error"],b["actual"]]')" '["wrong_expected_version",2]'
expect 204 "soft delete" DELETE "/streams/order-1?expected_version=2"
expect 404 "read deleted" GET /streams/order-1
eq "stream_deleted" "$(json 'b["error"]')" stream_deleted
expect 200 "info of deleted" GET /streams/order-1/info
eq "state deleted" "$(json 'b["state"]')" deleted
expect 200 "hidden from the list" GET /streams
eq "list without deleted" "$(json '"order-1" in [s["name"] for s in b["streams"]]')" false
expect 200 "list all" GET "/streams?all=true"
eq "list with deleted" "$(json '"order-1" in [s["name"] for s in b["streams"]]')" true
expect 201 "append recreates" POST /streams/order-1 "${JSON_CT[@]}" -d '{"events":[{"type":"Again"}]}'
eq "versions continue" "$(json 'b["first_version"]')" 3
expect 204 "tombstone" DELETE "/streams/order-1?tombstone=true"
expect 410 "append to tombstoned" POST /streams/order-1 "${JSON_CT[@]}" -d '{"events":[{"type":"A"}]}'
eq "stream_tombstoned" "$(json 'b["error"]')" stream_tombstoned
expect 410 "read tombstoned" GET /streams/order-1
expect 404 "delete missing" DELETE /streams/missing-1
expect 400 "bad tombstone value" DELETE "/streams/x-1?tombstone=maybe"
expect 200 "system events" GET "/all?system=true&prefix=%24%24order-1"
eq "system event types" "$(json '[e["type"] for e in b["events"]]')" '["$metadata","$deleted","$tombstone"]'

# --- stats, metrics, admin -------------------------------------------------------------------
expect 200 "stats" GET /stats
eq "stats keys" "$(json '",".join(b.keys())')" "head_position,streams,segments,log_bytes,index_entries,index_tables,appends,syncs,commits,poisoned,durability"
expect 200 "verify" POST /admin/verify
eq "verify ok" "$(json '[b["ok"],b["events"] > 0]')" "[true,true]"
expect 200 "reindex" POST /admin/reindex
expect 200 "read after reindex" GET /streams/acct-1
expect 405 "GET /admin/verify" GET /admin/verify
expect 200 "metrics" GET /metrics
m=$(cat "$WORK/body")
for name in stele_appends_total stele_events_appended_total stele_bytes_appended_total \
    stele_append_latency_seconds_bucket stele_batch_events_bucket stele_commits_total \
    stele_subscribers stele_connections 'stele_http_requests_total{code="201"}' \
    'stele_errors_total{code="wrong_expected_version"}' 'stele_sync_seconds_bucket{le="+Inf"}' \
    'stele_errors_total{code="header_too_large"}'; do
    contains "metrics has $name" "$m" "$name"
done
# Every fdatasync is in the sync latency histogram.
syncs=$(printf '%s\n' "$m" | awk '$1 == "stele_syncs_total" {print $2}')
eq "sync histogram counts every sync" "$(printf '%s\n' "$m" | awk '$1 == "stele_sync_seconds_count" {print $2}')" "$syncs"
stop_server

# --- config file and environment ------------------------------------------------------------
printf '# steled settings\ndurability = none\nmax_events_per_append = 2\n' >"$WORK/steled.conf"
STELE_MAX_BODY_BYTES=2000 start_server "$WORK/d" --config "$WORK/steled.conf"
expect 200 "data survives a restart" GET /streams/acct-1
expect 413 "limit from the config file" POST /streams/c-1 "${JSON_CT[@]}" -d '{"events":[{"type":"A"},{"type":"B"},{"type":"C"}]}'
expect 413 "body limit from the environment" POST /streams/c-1 "${JSON_CT[@]}" \
    --data-binary @"$WORK/big.json"
expect 200 "info durability from the file" GET /info
eq "durability none" "$(json 'b["durability"]')" none
stop_server

# --- tokens ------------------------------------------------------------------------------------
cat >"$WORK/tokens" <<'EOF'
# TOKEN ROLE PREFIXES
reader-all read *
writer-orders write order-,cart-
admin-token admin *
EOF
start_server "$WORK/auth" --durability none --token-file "$WORK/tokens"
expect 200 "health needs no token" GET /health
expect 401 "no token" GET /streams/order-9
eq "unauthorized" "$(json 'b["error"]')" unauthorized
expect 401 "wrong token" GET /streams/order-9 -H 'Authorization: Bearer nope'
expect 201 "writer appends in its prefix" POST /streams/order-9 "${JSON_CT[@]}" \
    -H 'Authorization: Bearer writer-orders' -d '{"events":[{"type":"A"}]}'
expect 403 "writer outside its prefix" POST /streams/user-9 "${JSON_CT[@]}" \
    -H 'Authorization: Bearer writer-orders' -d '{"events":[{"type":"A"}]}'
eq "forbidden" "$(json 'b["error"]')" forbidden
expect 403 "commit with one part outside" POST /commits "${JSON_CT[@]}" \
    -H 'Authorization: Bearer writer-orders' \
    -d '{"parts":[{"stream":"order-9","events":[{"type":"X"}]},{"stream":"user-1","events":[{"type":"Y"}]}]}'
expect 403 "reader cannot append" POST /streams/order-9 "${JSON_CT[@]}" \
    -H 'Authorization: Bearer reader-all' -d '{"events":[{"type":"A"}]}'
expect 200 "reader reads" GET /streams/order-9 -H 'Authorization: Bearer reader-all'
expect 200 "writer reads its prefix" GET /streams/order-9 -H 'Authorization: Bearer writer-orders'
expect 403 "writer cannot read \$all" GET /all -H 'Authorization: Bearer writer-orders'
expect 200 "writer reads \$all filtered to its prefix" GET "/all?prefix=order-" -H 'Authorization: Bearer writer-orders'
expect 403 "writer cannot list every stream" GET /streams -H 'Authorization: Bearer writer-orders'
expect 200 "writer lists its prefix" GET "/streams?prefix=cart-" -H 'Authorization: Bearer writer-orders'
expect 403 "writer cannot subscribe to \$all" GET /subscribe -H 'Authorization: Bearer writer-orders'
expect 201 "admin appends outside the writer's prefixes" POST /streams/user-9 "${JSON_CT[@]}" \
    -H 'Authorization: Bearer admin-token' -d '{"events":[{"id":"'$U3'","type":"A"}]}'
expect 201 "writer appends with an id" POST /streams/order-9 "${JSON_CT[@]}" \
    -H 'Authorization: Bearer writer-orders' -d '{"events":[{"id":"'$U2'","type":"A"}]}'
expect 200 "writer gets an event of its prefix by id" GET /events/$U2 -H 'Authorization: Bearer writer-orders'
expect 403 "writer cannot get an event of another prefix by id" GET /events/$U3 -H 'Authorization: Bearer writer-orders'
expect 401 "event by id needs a token" GET /events/$U2
expect 403 "a prefix-limited token cannot probe an id that names nothing" GET /events/$U4 -H 'Authorization: Bearer writer-orders'
expect 404 "a token for every stream learns the id names nothing" GET /events/$U4 -H 'Authorization: Bearer reader-all'
expect 200 "reader gets any event by id" GET /events/$U3 -H 'Authorization: Bearer reader-all'
expect 403 "reader cannot verify" POST /admin/verify -H 'Authorization: Bearer reader-all'
expect 200 "admin verifies" POST /admin/verify -H 'Authorization: Bearer admin-token'
stop_server
printf 'only-two-fields read\n' >"$WORK/bad-tokens"
rc=0
"$STELED" --data "$WORK/auth" --listen 127.0.0.1:0 --token-file "$WORK/bad-tokens" 2>/dev/null || rc=$?
eq "bad token file refused" "$rc" 1

# --- TLS ---------------------------------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
    -days 1 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
start_server "$WORK/tls" --durability none --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"
contains "https URL" "$URL" "https://"
out=$(curl -s --cacert "$WORK/cert.pem" -X POST "${JSON_CT[@]}" -d '{"events":[{"type":"T"}]}' "$URL/streams/tls-1")
contains "append over TLS with the CA checked" "$out" '"first_position":1'
out=$(curl -s --cacert "$WORK/cert.pem" "$URL/streams/tls-1")
contains "read over TLS" "$out" '"type":"T"'
out=$(curl -s --cacert "$WORK/cert.pem" -N --max-time 2 "$URL/subscribe?from=1" || true)
contains "SSE over TLS" "$out" "event: caught-up"
# Bodies and answers larger than a TLS record and the socket buffers: partial reads and writes.
python3 -c '
import json
print(json.dumps({"events": [{"type": "Big", "data": {"i": i, "pad": "p" * 1000}} for i in range(2000)]}))
' >"$WORK/tls-big.json"
out=$(curl -s --cacert "$WORK/cert.pem" -X POST "${JSON_CT[@]}" --data-binary @"$WORK/tls-big.json" \
    "$URL/streams/tls-big")
contains "a 2 MB append over TLS" "$out" '"last_version":1999'
curl -s --cacert "$WORK/cert.pem" "$URL/streams/tls-big?limit=2000" >"$WORK/tls-big.out"
eq "a 2 MB answer over TLS, every event in order" \
    "$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["events"]; print(len(e), all(x["data"]["i"] == i for i, x in enumerate(e)))' "$WORK/tls-big.out")" \
    "2000 True"
rc=0
curl -s --max-time 5 "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "plain HTTP to the TLS port must fail"
ok
stop_server

finish
