#!/usr/bin/env bash
# fuzz.sh [SECONDS] -- build the libFuzzer targets of tests/fuzz/ with clang (address + undefined
# sanitizers) and run each for SECONDS (default 60), two at a time, on a copy of its seed corpus.
#
#   scripts/fuzz.sh [SECONDS]        build, run every target, print one line per target and a
#                                    "N passed, N failed" line; exit 1 if any target found a defect
#                                    (a missing clang: "0 passed, 0 failed, 1 skipped", exit 0)
#   scripts/fuzz.sh --build          build only
#   scripts/fuzz.sh --regen-corpus   rebuild tests/fuzz/corpus/ with the seed generator
#   FUZZ_TARGETS="json time" ...     run only these targets
#
# The committed corpus is never grown: each run works on a copy under build-fuzz/runs/. A crash,
# leak, timeout or failed check is copied to tests/fuzz/regressions/<target>/ (commit it: ctest
# replays it from then on, see tests/fuzz/replay.cmake) and printed. Installs nothing: clang and
# its fuzzer runtime come from scripts/install-deps.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FUZZ="$ROOT/tests/fuzz"
OUT="${STELE_FUZZ_BUILD:-$ROOT/build-fuzz}"
CC=${FUZZ_CC:-clang}
JOBS=2
ALL_TARGETS="record segment json time uuid ndjson snapshot index http_request body"
TARGETS=${FUZZ_TARGETS:-$ALL_TARGETS}

# Largest input per target: a little above the largest useful seed.
max_len() {
    case $1 in
    record) echo 4096 ;; segment) echo 32768 ;; json) echo 4096 ;; time | uuid) echo 64 ;;
    ndjson) echo 2048 ;; snapshot) echo 4096 ;; index) echo 16384 ;; http_request) echo 4096 ;;
    body) echo 4096 ;;
    *) echo 4096 ;;
    esac
}

MODE=run
SECS=60
case "${1:-}" in
--build) MODE=build ;;
--regen-corpus) MODE=regen ;;
"") ;;
*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS | --build | --regen-corpus]" >&2; exit 2 ;;
*) SECS=$1 ;;
esac

if ! command -v "$CC" >/dev/null; then
    # Reported as a skip (scripts/test-all.sh fails on it under CI=true, where install-deps has
    # provided clang); a build that fails later ends the script before its summary, which
    # scripts/test-summary.sh counts as a failure.
    echo "fuzz: SKIP: $CC not found (scripts/install-deps); no target was fuzzed"
    [[ $MODE == run ]] && echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
PKG_CFLAGS=$(pkg-config --cflags jansson libcrypto libevent)
PKG_LIBS=$(pkg-config --libs jansson libcrypto)
EVENT_LIBS=$(pkg-config --libs libevent)
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all
        -I$ROOT/include -I$ROOT/src -I$ROOT/common -I$ROOT/tests/support $PKG_CFLAGS"
SAN=address,undefined

# --- build ---------------------------------------------------------------------------------------
mkdir -p "$OUT/obj"
# Library objects are instrumented for coverage but have no main (fuzzer-no-link). An object is
# rebuilt when its source or any header is newer.
newest_header=$(find "$ROOT/src" "$ROOT/include" "$ROOT/tests/support" -name '*.h' -printf '%T@\n' |
    sort -n | tail -1)
build_obj() {
    local src=$1 obj=$2
    if [[ ! -f $obj || $src -nt $obj ]] ||
        awk -v h="$newest_header" -v o="$(stat -c %Y "$obj")" 'BEGIN { exit !(h > o) }'; then
        # shellcheck disable=SC2086
        "$CC" $CFLAGS -fsanitize=fuzzer-no-link,$SAN -c "$src" -o "$obj"
    fi
}
export -f build_obj
export CC CFLAGS SAN newest_header
# libstele and the test-support library (the fault tables and the allocator's hooks).
LIB_SRCS=$(ls "$ROOT"/src/*/*.c "$ROOT"/tests/support/*.c)
CLI_SRCS="$ROOT/cli/event_in.c $ROOT/cli/output.c $(ls "$ROOT"/common/*.c)"
for src in $LIB_SRCS $CLI_SRCS "$FUZZ/fuzz_util.c"; do
    rel=${src#"$ROOT"/}
    echo "$src $OUT/obj/${rel//\//_}.o"
done | xargs -P "$JOBS" -n 2 bash -c 'build_obj "$0" "$1"'
LIB_OBJS=""
for src in $LIB_SRCS "$FUZZ/fuzz_util.c"; do
    rel=${src#"$ROOT"/}
    LIB_OBJS="$LIB_OBJS $OUT/obj/${rel//\//_}.o"
done
CLI_OBJS=""
for src in $CLI_SRCS; do
    rel=${src#"$ROOT"/}
    CLI_OBJS="$CLI_OBJS $OUT/obj/${rel//\//_}.o"
done
# steled's request parser (the http_request target) also depends on the headers of server/.
SERVER_OBJ="$OUT/obj/server_http_request.c.o"
server_header=$(find "$ROOT/server" "$ROOT/src" "$ROOT/include" -name '*.h' -printf '%T@\n' |
    sort -n | tail -1)
newest_header=$server_header build_obj "$ROOT/server/http/request.c" "$SERVER_OBJ"
# steled's two append-body readers (the body target).
BODY_OBJS=""
for src in "$ROOT/server/http/body_fast.c" "$ROOT/server/http/json_io.c"; do
    obj="$OUT/obj/server_$(basename "$src").o"
    newest_header=$server_header build_obj "$src" "$obj"
    BODY_OBJS="$BODY_OBJS $obj"
done

link_target() {
    local name=$1 extra=""
    [[ $name == ndjson ]] && extra=$CLI_OBJS
    [[ $name == json ]] && extra="$OUT/obj/common_json_out.c.o $OUT/obj/common_base64.c.o"
    [[ $name == http_request ]] && extra="$SERVER_OBJ $EVENT_LIBS"
    [[ $name == body ]] && extra="$BODY_OBJS $OUT/obj/common_json_scan.c.o \
        $OUT/obj/common_json_out.c.o $OUT/obj/common_base64.c.o $OUT/obj/common_info_json.c.o \
        $EVENT_LIBS"
    # shellcheck disable=SC2086
    "$CC" $CFLAGS -fsanitize=fuzzer,$SAN "$FUZZ/fuzz_$name.c" $LIB_OBJS $extra $PKG_LIBS \
        -lpthread -o "$OUT/fuzz_$name"
}
for t in $TARGETS; do
    link_target "$t"
done

if [[ $MODE == build ]]; then
    echo "built: $(for t in $TARGETS; do printf '%s ' "$OUT/fuzz_$t"; done)"
    exit 0
fi
if [[ $MODE == regen ]]; then
    # shellcheck disable=SC2086
    "$CC" $CFLAGS -fsanitize=$SAN "$FUZZ/gen_corpus.c" $LIB_OBJS $PKG_LIBS -lpthread \
        -o "$OUT/gen_corpus"
    rm -rf "$OUT/corpus.new"
    "$OUT/gen_corpus" "$OUT/corpus.new"
    for t in $ALL_TARGETS; do
        mkdir -p "$FUZZ/corpus/$t"
        rm -f "$FUZZ/corpus/$t"/*
        [[ -d $OUT/corpus.new/$t ]] && cp "$OUT/corpus.new/$t"/* "$FUZZ/corpus/$t/"
    done
    du -sh "$FUZZ/corpus"
    exit 0
fi

# --- run -------------------------------------------------------------------------------------------
run_target() {
    local name=$1 work="$OUT/runs/$1"
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/artifacts" "$work/tmp"
    cp "$FUZZ/corpus/$name"/* "$work/corpus/" 2>/dev/null || true
    local extra=()
    # The CLI parser prints a message per rejected line; libFuzzer keeps its own reports.
    [[ $name == ndjson ]] && extra+=(-close_fd_mask=2)
    local rc=0
    (cd "$work" && TMPDIR="$work/tmp" "$OUT/fuzz_$name" -max_total_time="$SECS" \
        -max_len="$(max_len "$name")" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" "${extra[@]}" "$work/corpus" >"$work/log" 2>&1) ||
        rc=$?
    echo "$rc" >"$work/rc"
}

declare -a running=()
for t in $TARGETS; do
    if ((${#running[@]} >= JOBS)); then
        wait -n || true
        running=("${running[@]:1}")
    fi
    run_target "$t" &
    running+=($!)
done
wait || true

passed=0
failed=0
for t in $TARGETS; do
    work="$OUT/runs/$t"
    rc=$(cat "$work/rc" 2>/dev/null || echo 99)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
    new=$(sed -n 's/^stat::new_units_added: *//p' "$work/log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -1 | cut -d' ' -f2)
    found=$(find "$work/artifacts" -type f | sort)
    if [[ $rc == 0 && -z $found ]]; then
        result=ok
        passed=$((passed + 1))
    else
        result="FAILED (exit $rc)"
        failed=$((failed + 1))
    fi
    printf '%-9s %10s execs  %5s new units  cov %6s  %s\n' "$t" "${execs:-?}" "${new:-?}" \
        "${cov:-?}" "$result"
    if [[ -n $found ]]; then
        mkdir -p "$FUZZ/regressions/$t"
        for f in $found; do
            cp "$f" "$FUZZ/regressions/$t/"
            echo "  kept tests/fuzz/regressions/$t/$(basename "$f")"
        done
        grep -m1 -E 'ERROR: |FUZZ CHECK FAILED|runtime error' "$work/log" | sed 's/^/  /' || true
        echo "  log: $work/log"
    fi
done
echo "$passed passed, $failed failed"
((failed == 0))
