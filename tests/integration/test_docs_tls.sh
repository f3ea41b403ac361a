#!/usr/bin/env bash
# test_docs_tls.sh -- the TLS session of docs/http-api.md (a certificate, steled over HTTPS, curl
# and the CLI with --cacert, SSL_CERT_FILE, a wrong CA and --insecure) runs as written, in order,
# and prints what the doc shows (tests/integration/docs_session.py).
set -euo pipefail
. "$(dirname "$0")/server_helpers.sh"

BUILD=$(dirname "$STELE_BIN")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$WORK/tls"
out=$(python3 "$HERE/docs_session.py" "$BUILD" "$port" "$WORK/tls" \
    "$HERE/../../docs/http-api.md" '**TLS.**') ||
    fail "$out"
echo "$out" | tail -1
n=$(echo "$out" | tail -1 | cut -d' ' -f1)
passed=$((passed + n))

# A CA file that cannot be read is a usage error that names it, before any request.
rc=0
"$STELE_BIN" --url "https://127.0.0.1:$port" --cacert "$WORK/none.pem" info x >"$WORK/out" 2>"$WORK/err" || rc=$?
eq "--cacert of a missing file: exit status" "$rc" 1
contains "--cacert of a missing file: message" "$(cat "$WORK/err")" "--cacert: cannot read '$WORK/none.pem'"
rc=0
SSL_CERT_FILE=$WORK/none.pem "$STELE_BIN" --url "https://127.0.0.1:$port" info x >"$WORK/out" 2>"$WORK/err" || rc=$?
eq "SSL_CERT_FILE of a missing file: exit status" "$rc" 1
contains "SSL_CERT_FILE of a missing file: message" "$(cat "$WORK/err")" "SSL_CERT_FILE: cannot read"
# ... but it does not matter to a local command.
rc=0
SSL_CERT_FILE=$WORK/none.pem "$STELE_BIN" -d "$WORK/local" init >"$WORK/out" 2>"$WORK/err" || rc=$?
eq "SSL_CERT_FILE is not read by a local command" "$rc" 0
finish
