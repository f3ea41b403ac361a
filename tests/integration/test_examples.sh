#!/usr/bin/env bash
# The examples in examples/ build and do what docs and README say they do.
set -euo pipefail
bin=$(dirname "${STELE_BIN:?set by ctest}")
tmp=$(mktemp -d "${STELE_TEST_TMP:-/tmp}/examples.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
check() { # name, command...
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); else echo "FAILED: $name" >&2; echo "$passed passed, 1 failed"; exit 1; fi
}
out=$("$bin/example-hello" "$tmp/store")
check "hello appends two events" grep -q "appended greeting-1 versions 0..1 at positions 1..2" <<<"$out"
check "hello sees the conflict" grep -q "wrong expected version (the stream is at version 1)" <<<"$out"
check "hello reads both back" test "$(grep -c ' v[01] Said ' <<<"$out")" = 2
out=$("$bin/example-hello" "$tmp/store")
check "a second run uses a new stream" grep -q "appended greeting-2 versions 0..1 at positions 3..4" <<<"$out"
if [ -x "$bin/example-c-account" ]; then
    out=$("$bin/example-c-account" "$tmp/accounts" 7)
    check "c-account opens, deposits, withdraws" grep -q "Withdraw {\"amount\":30}: appended versions 2..2, balance 70" <<<"$out"
    check "c-account: an overdraft is rejected with its reason" grep -q "rejected at version 2: insufficient funds: balance 70, withdrawal 500" <<<"$out"
    check "c-account: a repeated command id is answered, not appended" grep -q "Deposit {\"amount\":100}: already executed at versions 1..1, balance 100" <<<"$out"
    check "c-account loads the state back" grep -q "account-7: version 2, balance 70" <<<"$out"
    out=$("$bin/example-c-account" "$tmp/accounts" 7)
    check "c-account run again: Open rejected, the rest goes on" grep -q "account-7: version 3, balance 40" <<<"$out"
    # docs/aggregates.md shows the first run's output as it is.
    root=$(cd "$(dirname "$0")/../.." && pwd)
    want=$(sed -n '/^\$ build\/example-c-account \/tmp\/accounts 7$/,/^```$/p' "$root/docs/aggregates.md" | sed '1d;$d')
    got=$("$bin/example-c-account" "$tmp/docs-accounts" 7)
    check "docs/aggregates.md shows what c-account prints" test -n "$want" -a "$want" = "$got"
fi
echo "$passed passed, 0 failed"
