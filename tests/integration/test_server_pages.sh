#!/usr/bin/env bash
# test_server_pages.sh -- one read answer is bounded in bytes, not only in events: a page of large
# events stops at 8 MiB (always holding its first event) and says "more":true when events are
# left, and the CLI's remote reads page on until the end, printing every event once, in order.
set -euo pipefail
. "$(dirname "$0")/server_helpers.sh"

start_server "$WORK/d" --durability none
# 12 events of 1 MiB of data each, 3 per append (under the 16 MiB body limit), then a small one.
python3 - "$URL" <<'PY' || fail "appending the large events"
import json, sys, urllib.request
url = sys.argv[1]
for k in range(4):
    events = [{"type": "Big", "data": {"i": 3 * k + j, "pad": "x" * (1 << 20)}} for j in range(3)]
    req = urllib.request.Request(url + "/streams/big-1", data=json.dumps({"events": events}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    assert urllib.request.urlopen(req).status == 201
req = urllib.request.Request(url + "/streams/small-1", data=b'{"events":[{"type":"Small"}]}',
                             headers={"Content-Type": "application/json"}, method="POST")
assert urllib.request.urlopen(req).status == 201
PY
ok
for path in "/all?limit=100" "/streams/big-1?limit=100"; do
    curl -s "$URL$path" -o "$WORK/page" || fail "GET $path"
    size=$(stat -c %s "$WORK/page")
    [ "$size" -lt $((9 * 1024 * 1024)) ] || fail "GET $path answered $size bytes, over the 8 MiB cap"
    ok
    out=$(python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))
print(len(a["events"]), a.get("more"), a["events"][0]["data"]["i"])' "$WORK/page")
    set -- $out
    [ "$1" -ge 1 ] && [ "$1" -lt 12 ] || fail "GET $path: $1 events in a capped page"
    eq "GET $path says more events are left" "$2" True
    eq "GET $path starts at the first event" "$3" 0
done
# The last page: no "more" when nothing is left.
curl -s "$URL/all?from=13&limit=100" -o "$WORK/page"
contains "a page holding the rest has no more" "$(head -c 200 "$WORK/page")" '"type":"Small"'
python3 -c 'import json,sys; sys.exit("more" in json.load(open(sys.argv[1])))' "$WORK/page" ||
    fail "the last page says more"
ok
# The CLI pages on through capped pages: every event once, in order.
"$STELE_BIN" --url "$URL" read-all >"$WORK/all" || fail "stele read-all"
eq "read-all prints every event" "$(wc -l <"$WORK/all")" 13
eq "read-all in order, once each" "$(python3 -c '
import json, sys
print(",".join(str(json.loads(l)["position"]) for l in open(sys.argv[1])))' "$WORK/all")" \
    "1,2,3,4,5,6,7,8,9,10,11,12,13"
"$STELE_BIN" --url "$URL" read big-1 >"$WORK/big" || fail "stele read"
eq "read prints every version" "$(python3 -c '
import json, sys
print(",".join(str(json.loads(l)["version"]) for l in open(sys.argv[1])))' "$WORK/big")" \
    "0,1,2,3,4,5,6,7,8,9,10,11"
stop_server
finish
