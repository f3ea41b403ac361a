#!/usr/bin/env bash
# test_docs_cli.sh -- the local session shown in docs/cli.md runs as written and prints what the
# doc shows (tests/integration/docs_cli.py).
set -euo pipefail
: "${STELE_BIN:?STELE_BIN must name the stele binary (ctest sets it)}"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${STELE_TEST_TMP:-/tmp}/docs-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
python3 "$here/docs_cli.py" "$here/../../docs/cli.md" "$(dirname "$STELE_BIN")" "$work"
