#!/usr/bin/env bash
# The demo behind `make run`: a few events appended to and read from the store in ./data with the
# stele CLI (until the server exists, the CLI on the embedded library is the main program).
set -euo pipefail
cd "$(dirname "$0")/.."
stele=build/stele
data=${STELE_DATA:-./data}

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

echo "Stele demo on $data (stele -d $data ...)"
n=$(date +%s)
run "$stele" -d "$data" append "order-$n" OrderPlaced '{"sku":"A-7","qty":2}' \
    --expect no-stream --meta '{"actor":"demo"}'
run "$stele" -d "$data" append "order-$n" OrderPaid '{"amount":19.90,"currency":"EUR"}' --expect 0
run "$stele" -d "$data" append "order-$n" OrderShipped '{"carrier":"DHL"}' --expect 1
say "$stele -d $data append order-$n OrderShipped '{}' --expect 1   # a stale writer"
"$stele" -d "$data" append "order-$n" OrderShipped '{}' --expect 1 || echo "(exit $?: conflict, nothing written)"
run "$stele" -d "$data" read "order-$n"
run "$stele" -d "$data" read-all --category order --type-prefix Order --limit 5 --backward
run "$stele" -d "$data" info "order-$n"
run "$stele" -d "$data" digest
run "$stele" -d "$data" verify
echo
echo "Try: $stele -d $data --help"
