#!/usr/bin/env bash
# test_json_grammar.sh -- one JSON grammar for every reader of events (docs/limits.md, "JSON").
#
# 1. Numbers that do not round to a finite double (1E400, 1e999999999999, a 100,000-digit
#    integer) are refused with 400 invalid_json naming the number by both of steled's body
#    readers -- the fast one (the usual body shape, server/http/body_fast.c) and the general one
#    (jansson, server/http/json_io.c; a body with "content" always takes it) -- in data and in
#    metadata, and by `stele append` locally and through the server; nothing is written. They
#    used to be stored by the fast reader, after which every remote read-all and export of the
#    store failed.
# 2. Both readers take what the store accepts: repeated keys inside data (the general reader used
#    to refuse them), keys spelled with escapes; the request's own keys may not repeat.
# 3. Whatever an append accepts round-trips: tricky but valid values (numbers at the edges of a
#    double, integers beyond 64 bits, escapes, unicode, nesting at the limit, metadata, binary
#    data) are written through the CLI (local and remote) and through HTTP, exported (local and
#    remote `stele export`), imported into fresh stores (local and remote `stele import`) and
#    exported again: the same events, byte for byte (all but positions and times, which the
#    target store assigns).
# Needs bash, python3 and curl.
set -euo pipefail
unset STELE_URL STELE_TOKEN
. "$(dirname "$0")/server_helpers.sh"

st() { "$STELE_BIN" "$@"; }

# post PATH BODY_FILE: prints "STATUS BODY".
post() {
    curl -s -o "$WORK/resp" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data-binary @"$2" "$URL$1"
    printf ' '
    cat "$WORK/resp"
}
head_position() {
    curl -s "$URL/info" | python3 -c 'import json,sys; print(json.load(sys.stdin)["head_position"])'
}

start_server "$WORK/a" --durability none
A_URL=$URL

# ---- 1. numbers beyond a double: refused everywhere, nothing written ---------------------------
python3 - "$WORK" <<'EOF'
import sys
w = sys.argv[1]
bad = {"e400": "1E400", "huge-exp": "1e999999999999", "digits": "9" * 100000,
       "neg": "-1.7976931348623159e308"}
for name, num in bad.items():
    meta_num = num if len(num) < 1000 else num[:1000]  # metadata is limited to 64 KiB
    # The fast reader's shape, and the same with "content", which only the general reader takes.
    open(f"{w}/fast-{name}", "w").write('{"events":[{"type":"T","data":{"n":%s}}]}' % num)
    open(f"{w}/general-{name}", "w").write(
        '{"events":[{"type":"T","content":"json","data":{"n":%s}}]}' % num)
    open(f"{w}/fast-meta-{name}", "w").write(
        '{"events":[{"type":"T","data":{},"metadata":{"n":[%s]}}]}' % meta_num)
    open(f"{w}/general-meta-{name}", "w").write(
        '{"events":[{"type":"T","content":"json","metadata":{"n":[%s]}}]}' % meta_num)
    open(f"{w}/num-{name}", "w").write(num)
EOF
for name in e400 huge-exp digits neg; do
    for body in fast general fast-meta general-meta; do
        got=$(post /streams/n "$WORK/$body-$name")
        contains "$body reader, $name: 400" "$got" '400 {"error":"invalid_json"'
        case $body in
        fast*) contains "$body reader, $name: names the number" "$got" "number out of range" ;;
        *) contains "$body reader, $name: names the number" "$got" "real number overflow" ;;
        esac
    done
    rc=0
    st --url "$URL" append n T "[$(cat "$WORK/num-$name")]" >"$WORK/out" 2>"$WORK/err" || rc=$?
    eq "stele --url append $name: exit status" "$rc" 4
    contains "stele --url append $name: names the number" "$(cat "$WORK/err")" "number"
    rc=0
    st -d "$WORK/local-n" append n T "{\"n\":$(cat "$WORK/num-$name")}" >"$WORK/out" \
        2>"$WORK/err" || rc=$?
    eq "stele append $name: exit status" "$rc" 4
    contains "stele append $name: names the number" "$(cat "$WORK/err")" "number"
    rc=0
    st -d "$WORK/local-n" append n T '{}' --meta "{\"n\":$(cat "$WORK/num-$name")}" \
        >"$WORK/out" 2>"$WORK/err" || rc=$?
    eq "stele append --meta $name: exit status" "$rc" 4
done
eq "nothing was written by a refused append" "$(head_position)" 0
eq "nothing was written locally" "$(st -d "$WORK/local-n" read-all 2>/dev/null | wc -l)" 0
# jansson, with the readers' flags, takes the largest finite numbers: so does the store.
printf '%s' '{"events":[{"type":"T","data":[1.7976931348623157e308,-1.7976931348623158e308]}]}' \
    >"$WORK/max"
contains "the largest double is taken" "$(post /streams/n "$WORK/max")" '201 {"stream":"n"'

# ---- 2. both readers take the store's JSON; the request's own keys may not repeat ---------------
printf '%s' '{"events":[{"type":"T","content":"json","data":{"a":1,"a":[2]}}]}' >"$WORK/dup-g"
contains "general reader: repeated keys in data" "$(post /streams/d "$WORK/dup-g")" '201 '
printf '%s' '{"events":[{"type":"T","data":{"a":1,"a":[2]}}]}' >"$WORK/dup-f"
contains "fast reader: repeated keys in data" "$(post /streams/d "$WORK/dup-f")" '201 '
printf '%s' '{"events":[{"type":"T","d\u0061ta":{"x":0.1,"big":123456789012345678901234567890}}]}' \
    >"$WORK/esc-key"
contains "an escaped key" "$(post /streams/d "$WORK/esc-key")" '201 '
got=$(st --url "$URL" read d)
contains "data kept as written (general reader)" "$got" '"data":{"a":1,"a":[2]}'
contains "data under an escaped key kept as written" "$got" \
    '"data":{"x":0.1,"big":123456789012345678901234567890}'
printf '%s' '{"events":[{"type":"T","type":"U","data":{}}]}' >"$WORK/dup-type"
got=$(post /streams/d "$WORK/dup-type")
contains "a repeated event key is refused" "$got" '400 {"error":"invalid_json"'
contains "the repeated key is named" "$got" 'duplicate key \"type\"'
printf '%s' '{"events":[{"type":"T"}],"\u0065vents":[{"type":"U"}]}' >"$WORK/dup-events"
contains "a repeated body key, spelled with an escape" "$(post /streams/d "$WORK/dup-events")" \
    'duplicate key \"events\"'

printf '%s' '{"parts":[{"stream":"c1","events":[{"type":"T","data":{"a":1,"a":2}}]}]}' >"$WORK/c-ok"
contains "a commit: repeated keys in data" "$(post /commits "$WORK/c-ok")" '201 '
printf '%s' '{"parts":[{"stream":"c1","stream":"c2","events":[{"type":"T"}]}]}' >"$WORK/c-dup"
got=$(post /commits "$WORK/c-dup")
contains "a commit: a repeated part key is refused" "$got" '400 {"error":"invalid_json"'
contains "a commit: the repeated part key is named" "$got" 'duplicate key \"stream\"'
printf '%s' '{"parts":[],"p\u0061rts":[]}' >"$WORK/c-dup2"
contains "a commit: a repeated body key is named" "$(post /commits "$WORK/c-dup2")" \
    'duplicate key \"parts\"'

# ---- 3. export then import round-trips ----------------------------------------------------------
# Values the store accepts that readers tend to get wrong, one per line.
python3 - "$WORK" <<'EOF'
import sys
w = sys.argv[1]
deep = "[" * 512 + "1" + "]" * 512
values = [
    "1.7976931348623157e308", "-1.7976931348623158e308", "4.9e-324", "1e-400",
    "1e-999999999999", "0e999999999999", "-0", "-0.0e-0", "0.1", "1E+308",
    "123456789012345678901234567890", "-9223372036854775809", "18446744073709551616",
    '"\\u0000 nul, \\ud83d\\ude00 pair, \\u2028 separator"',
    '"caf\u00e9 \U0001F600 raw UTF-8"',
    '"\\"\\\\\\/\\b\\f\\n\\r\\t"',
    '{"a":1,"a":2,"\\u00e9":3,"\u00e9":4}',
    '{ "spaced" : [ 1 , 2 ] ,\n "tab":\t"x" }',
    deep,
    '{"k":' + "[" * 510 + "]" * 510 + "}",
    "null", "true", "[]", "{}", '""',
]
with open(f"{w}/values", "w", encoding="utf-8") as f:
    for v in values:
        f.write(v.replace("\n", " ") + "\n")
# The same as NDJSON events for append --file, with metadata.
with open(f"{w}/events.ndjson", "w", encoding="utf-8") as f:
    for i, v in enumerate(values):
        f.write('{"type":"V%d","data":%s,"metadata":{"n":%s,"actor":"\\u00e9"}}\n'
                % (i, v.replace("\n", " "), "1e308" if i % 2 else "123456789012345678901234567890"))
# HTTP bodies: one per value for the fast reader, one with every value for the general reader.
with open(f"{w}/bodies", "w", encoding="utf-8") as f:
    for i, v in enumerate(values):
        f.write('{"expected_version":"any","events":[{"type":"H%d","data":%s,'
                '"metadata":{"i":%d,"x":-0}}]}\n' % (i, v.replace("\n", " "), i))
evs = ",".join('{"type":"G%d","content":"json","data":%s}' % (i, v.replace("\n", " "))
               for i, v in enumerate(values))
open(f"{w}/general-body", "w", encoding="utf-8").write('{"events":[%s,{"type":"B","data":"aGk=","content":"binary"}]}'
                                     % evs)
EOF
# Into the server: the CLI (remote), steled's fast reader, its general reader, stream metadata.
i=0
while IFS= read -r v; do
    printf '%s' "$v" | st --url "$URL" append cli-remote "R$i" --data-file - \
        --meta '{"src":"cli","big":1e308}' >/dev/null ||
        fail "stele --url append of value $i refused: $v"
    i=$((i + 1))
done <"$WORK/values"
st --url "$URL" append cli-file --file "$WORK/events.ndjson" >/dev/null
i=0
while IFS= read -r body; do
    printf '%s' "$body" >"$WORK/body"
    contains "fast reader takes value $i" "$(post /streams/http-fast "$WORK/body")" '201 '
    i=$((i + 1))
done <"$WORK/bodies"
contains "general reader takes every value" "$(post /streams/http-general "$WORK/general-body")" \
    '201 '
st --url "$URL" meta http-fast '{"limit":1e308,"x":[123456789012345678901234567890],"x":"\u00e9"}' \
    >/dev/null
# A local store, through the CLI.
L=$WORK/local
i=0
while IFS= read -r v; do
    printf '%s' "$v" | st -d "$L" append cli-local "L$i" --data-file - --meta '{"src":"local"}' \
        >/dev/null ||
        fail "stele append of value $i refused: $v"
    i=$((i + 1))
done <"$WORK/values"
st -d "$L" append cli-file --file "$WORK/events.ndjson" >/dev/null
st -d "$L" meta cli-file '{"n":-1.7976931348623157e308,"k":{"k":1,"k":2}}' >/dev/null

# Positions and times are the target store's, and so are the ids of the system events that record
# metadata (import replays them through the API); everything else must come back byte for byte.
strip() {
    sed -E -e 's/^\{"position":[0-9]+,/{/' -e 's/"time":"[^"]*",//' \
        -e '/^\{"stream":"\$\$/s/"id":"[^"]*",//' "$1"
}
roundtrip() { # NAME EXPORT_FILE EXPORT_AGAIN_FILE
    local n
    n=$(wc -l <"$2")
    [ "$n" -gt 0 ] || fail "$1: nothing exported"
    strip "$2" >"$WORK/x1"
    strip "$3" >"$WORK/x2"
    cmp -s "$WORK/x1" "$WORK/x2" || fail "$1: differs: $(diff "$WORK/x1" "$WORK/x2" | head -c 600)"
    ok
}
st --url "$A_URL" export >"$WORK/a.remote.ndjson"
st -d "$L" export >"$WORK/l.ndjson"
# Remote export -> local import -> local export.
st -d "$WORK/a-to-local" import "$WORK/a.remote.ndjson" >/dev/null
st -d "$WORK/a-to-local" export >"$WORK/a2.ndjson"
roundtrip "server store: remote export, local import" "$WORK/a.remote.ndjson" "$WORK/a2.ndjson"
# Remote export -> remote import into a fresh server -> remote export.
start_server "$WORK/b" --durability none
st --url "$URL" import "$WORK/a.remote.ndjson" >/dev/null
st --url "$URL" export >"$WORK/b.remote.ndjson"
roundtrip "server store: remote export, remote import" "$WORK/a.remote.ndjson" \
    "$WORK/b.remote.ndjson"
# Local export -> remote import -> remote export, and local import -> local export.
start_server "$WORK/c" --durability none
st --url "$URL" import "$WORK/l.ndjson" >/dev/null
st --url "$URL" export >"$WORK/c.remote.ndjson"
roundtrip "local store: local export, remote import" "$WORK/l.ndjson" "$WORK/c.remote.ndjson"
st -d "$WORK/l-to-local" import "$WORK/l.ndjson" >/dev/null
st -d "$WORK/l-to-local" export >"$WORK/l2.ndjson"
roundtrip "local store: local export, local import" "$WORK/l.ndjson" "$WORK/l2.ndjson"
# Remote read-all reads every event of the user's streams (its pages are read with jansson).
st --url "$A_URL" read-all >"$WORK/a.readall"
eq "remote read-all reads every event" "$(grep -c '' "$WORK/a.readall")" \
    "$(grep -vc '"stream":"\$\$' "$WORK/a.remote.ndjson")"
events=$(grep -c '' "$WORK/a.remote.ndjson")
[ "$events" -ge 100 ] || fail "only $events events exported"
ok
finish
