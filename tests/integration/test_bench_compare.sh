#!/usr/bin/env bash
# test_bench_compare.sh -- the benchmark harness works: stele-compare --smoke runs every workload
# on every system compiled in and installed (Stele in-process and over HTTP, SQLite, PostgreSQL,
# NATS JetStream) without an error, writes one JSON line per figure with each system's
# durability, and bench/report.py renders those lines into the report's tables. A smoke run
# measures nothing: it only shows that `make bench` would.
set -euo pipefail

: "${STELE_BIN:?STELE_BIN must name the stele binary (ctest sets it)}"
BUILD=$(dirname "$STELE_BIN")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Under /tmp, not the build tree: the PostgreSQL server runs as its own user (it refuses root) and
# must be able to reach its directory through every parent.
WORK=$(mktemp -d /tmp/stele-bench-test.XXXXXX)
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT

passed=0
fail() {
    echo "FAIL: $*" >&2
    echo "$passed passed, 1 failed"
    exit 1
}
ok() { passed=$((passed + 1)); }

rc=0
"$BUILD/stele-compare" --smoke --dir "$WORK" --json "$WORK/r.jsonl" >"$WORK/out" 2>"$WORK/err" ||
    rc=$?
[ "$rc" = 0 ] || fail "stele-compare --smoke exited $rc: $(grep -i error "$WORK/err" | head -3)"
ok
[ -z "$(ls "$WORK" | grep stele-compare-)" ] || fail "the work directory was not removed"
ok

# Every system either ran every workload (ok, or unsupported where it has no such operation) or
# was reported as not installed; none failed. Stele itself always runs.
python3 - "$WORK/r.jsonl" <<'PY' || fail "the JSON lines"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for l in lines:
    by.setdefault(l["system"], []).append(l)
    for k in ("name", "value", "unit", "system", "durability", "status", "machine", "date"):
        assert k in l, "key %s missing in %r" % (k, l)
    assert l["status"] in ("ok", "unsupported", "skipped"), "a failed figure: %r" % l
    assert l["durability"], "no durability for %s" % l["system"]
    if l["status"] == "ok":
        assert isinstance(l["value"], (int, float)) and l["value"] >= 0, l
assert "stele" in by and "stele-http" in by, sorted(by)
want = {"append.1clients.rate", "append.64clients.rate", "batch.8x100.rate",
        "commit.8x4streams.rate", "conflict.8clients.rate", "readall.rate", "readstream.p99",
        "subscribe.p99", "growth.20k.rate", "growth.20k.open_time", "growth.20k.rss"}
for system, figs in by.items():
    names = {f["name"] for f in figs}
    if any(f["status"] == "skipped" for f in figs):
        print("%s: skipped (%s)" % (system, figs[0].get("message", "")))
        continue
    missing = want - names
    assert not missing, "%s lacks %s" % (system, sorted(missing))
    print("%s: %d figures" % (system, len(figs)))
PY
ok

# The report renders the comparison (plots only when gnuplot is installed).
python3 "$ROOT/bench/report.py" "$WORK/r.jsonl" --out "$WORK/benchmarks.md" --plots "$WORK/plots" \
    --command "stele-compare --smoke" >"$WORK/report.out" 2>&1 || fail "report.py: $(cat "$WORK/report.out")"
ok
for heading in "## Side by side" "### Appends" "### Reads and subscriptions" "### Growth"; do
    grep -q "^$heading" "$WORK/benchmarks.md" || fail "the report has no '$heading'"
    ok
done
grep -q '`stele` ÷ `sqlite`\|`sqlite` | skipped\|sqlite.*skipped' "$WORK/benchmarks.md" ||
    fail "the report has no Stele / SQLite ratio (nor says SQLite was skipped)"
ok
if command -v gnuplot >/dev/null; then
    [ -s "$WORK/plots/append-clients.png" ] || fail "no throughput plot"
    ok
fi
echo "$passed passed, 0 failed"
