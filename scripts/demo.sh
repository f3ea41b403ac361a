#!/usr/bin/env bash
# The demo behind `make demo`: a few events appended and read with the stele CLI. While `make run`
# serves ./data (a server answers at 127.0.0.1:2113), the CLI goes through it (--url), since only
# the server may write a store it holds (stele -d could read it, read-only, but not append);
# otherwise it works on ./data directly.
# STELE_URL names another server to try, STELE_DATA another directory.
set -euo pipefail
cd "$(dirname "$0")/.."
stele=build/stele
data=${STELE_DATA:-./data}

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

server=${STELE_URL:-http://127.0.0.1:2113}
if curl -sf -m 1 "$server/health" >/dev/null 2>&1; then
    where=(--url "$server")
    echo "Stele demo through the server at $server (stele --url $server ...)"
else
    where=(-d "$data")
    echo "Stele demo on $data (stele -d $data ...)"
fi
n=$(date +%s)-$$ # a new stream each run, also two runs in one second
run "$stele" "${where[@]}" append "order-$n" OrderPlaced '{"sku":"A-7","qty":2}' \
    --expect no-stream --meta '{"actor":"demo"}'
run "$stele" "${where[@]}" append "order-$n" OrderPaid '{"amount":19.90,"currency":"EUR"}' --expect 0
run "$stele" "${where[@]}" append "order-$n" OrderShipped '{"carrier":"DHL"}' --expect 1
say "$stele ${where[*]} append order-$n OrderShipped '{}' --expect 1   # a stale writer"
"$stele" "${where[@]}" append "order-$n" OrderShipped '{}' --expect 1 || echo "(exit $?: conflict, nothing written)"
run "$stele" "${where[@]}" read "order-$n"
run "$stele" "${where[@]}" read-all --category order --type-prefix Order --limit 5 --backward
run "$stele" "${where[@]}" info "order-$n"
run "$stele" "${where[@]}" digest
run "$stele" "${where[@]}" verify
echo
echo "Try: $stele --help"
