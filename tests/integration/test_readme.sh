#!/usr/bin/env bash
# test_readme.sh -- the examples of README.md run as written, in order: steled on ./data stands in
# for `make run` (which also installs and builds), then the curl examples of "The server" and the
# CLI session of "A first session", whose output must be what the README shows
# (tests/integration/docs_session.py).
set -euo pipefail
. "$(dirname "$0")/server_helpers.sh"

BUILD=$(dirname "$STELE_BIN")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$WORK/readme"
cat >"$WORK/run.md" <<'MD'
## make run
```sh
$ build/steled --data ./data --listen 127.0.0.1:2113 2>steled.log &
```
MD
readme=$HERE/../../README.md
out=$(python3 "$HERE/docs_session.py" "$BUILD" "$port" "$WORK/readme" "$WORK/run.md" '## make run' \
    "$readme" '## The server' "$readme" '## A first session') || fail "$out"
echo "$out" | tail -1
n=$(echo "$out" | tail -1 | cut -d' ' -f1)
passed=$((passed + n))
finish
