#!/usr/bin/env bash
# test_server_rules.sh -- the HTTP API keeps its own rules on every route (unknown and repeated
# query parameters refused, PUT metadata under an expected version and closed by a tombstone,
# HEAD /subscribe, a '+' sent as a space named), and browsers are served: CORS for the configured
# origins and subscription tickets for EventSource (tests/integration/server_rules.py); the
# --cors-origin setting (flag, config file, environment, "*").
set -euo pipefail
. "$(dirname "$0")/server_helpers.sh"

cat >"$WORK/tokens" <<'TOKENS'
admin-tok  admin  *
ord-read   read   order-
all-read   read   *
TOKENS
chmod 600 "$WORK/tokens"
start_server "$WORK/d" --durability none --token-file "$WORK/tokens" \
    --cors-origin http://app.example
out=$(cd "$HERE" && python3 server_rules.py "$URL") || fail "server_rules.py: $out"
echo "$out" | tail -1
n=$(echo "$out" | tail -1 | cut -d' ' -f1)
passed=$((passed + n))
stop_server

# cors_header METHOD PATH ORIGIN: the Access-Control-Allow-Origin of the answer ("" if none).
cors_header() {
    curl -s -o /dev/null -D - -X "$1" -H "Origin: $3" "$URL$2" |
        tr -d '\r' | sed -n 's/^[Aa]ccess-[Cc]ontrol-[Aa]llow-[Oo]rigin: //p'
}
credentials() {
    curl -s -o /dev/null -D - -H "Origin: $2" "$URL$1" | tr -d '\r' | grep -ci '^access-control-allow-credentials: true' || true
}

# "*": every origin, never with credentials.
start_server "$WORK/d" --durability none --cors-origin '*'
eq "*: any origin" "$(cors_header GET /health http://any.example)" '*'
eq "*: no credentials" "$(credentials /health http://any.example)" 0
stop_server

# The config file key and the environment; several origins, repeated or comma-separated; a later
# source replaces the list of an earlier one.
printf 'cors-origin = http://a.example\ncors_origin = http://b.example:8080, https://c.example\n' \
    >"$WORK/conf"
start_server "$WORK/d" --durability none --config "$WORK/conf"
eq "config: first origin" "$(cors_header GET /health http://a.example)" http://a.example
eq "config: a listed origin has credentials" "$(credentials /health http://a.example)" 1
eq "config: a port is part of the origin" "$(cors_header GET /health http://b.example:8080)" \
    http://b.example:8080
eq "config: comma-separated" "$(cors_header GET /health https://c.example)" https://c.example
eq "config: another port is another origin" "$(cors_header GET /health http://b.example)" ""
stop_server
STELE_CORS_ORIGIN=http://env.example start_server "$WORK/d" --durability none --config "$WORK/conf"
eq "environment replaces the file" "$(cors_header GET /health http://env.example)" http://env.example
eq "the file's origins are gone" "$(cors_header GET /health http://a.example)" ""
stop_server
start_server "$WORK/d" --durability none
eq "no --cors-origin: no CORS header" "$(cors_header GET /health http://a.example)" ""
stop_server

# A value that is no origin is refused at start, naming it.
for bad in http://a.example/ http://a.example/app a.example 'http://a.example?x' null; do
    rc=0
    "$STELED" --data "$WORK/d" --listen 127.0.0.1:0 --cors-origin "$bad" 2>"$WORK/bad.log" || rc=$?
    eq "--cors-origin '$bad': exit 1" "$rc" 1
    contains "--cors-origin '$bad': named" "$(cat "$WORK/bad.log")" "'$bad' is not an origin"
done

finish
