# cli_helpers.sh -- shared helpers for the `stele` CLI integration tests (sourced, not run).
#
# Every check increments `passed`; the first failing check prints its name and what it saw, then
# the summary line, and exits 1. Scripts end with `finish`, which prints "N passed, 0 failed".
# Every command run by expect_exit/expect_error is checked for a sanitizer report (san_helpers.sh),
# and a failure it expects must print the CLI's error message, not just exit with the status.

: "${STELE_BIN:?STELE_BIN must name the stele binary (ctest sets it)}"
[ -x "$STELE_BIN" ] || { echo "FAIL: STELE_BIN=$STELE_BIN is not executable" >&2; exit 1; }

. "$(dirname "${BASH_SOURCE[0]}")/san_helpers.sh"

TEST_TMP_ROOT=${STELE_TEST_TMP:-/tmp}
mkdir -p "$TEST_TMP_ROOT"
WORK=$(mktemp -d "$TEST_TMP_ROOT/stele-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
D=$WORK/store

passed=0

# A command that fails outside a check stops the script (set -e); name where.
set -E
trap 'echo "FAIL: unexpected failure at line $LINENO: $BASH_COMMAND" >&2; echo "$passed passed, 1 failed"' ERR

# The stele binary on the main test store.
st() { "$STELE_BIN" -d "$D" "$@"; }

fail() {
    echo "FAIL: $*" >&2
    echo "$passed passed, 1 failed"
    exit 1
}

ok() { passed=$((passed + 1)); }

finish() { echo "$passed passed, 0 failed"; }

# expect_exit CODE NAME CMD...: run CMD; its stdout goes to $WORK/out, stderr to $WORK/err. The
# status must be CODE, stderr must hold no sanitizer report, and a failure must be explained on
# stderr as the CLI does: "stele: ..." (exit 2-4), plus "Try 'stele ... --help'." or the usage
# (exit 1).
expect_exit() {
    local want=$1 name=$2
    shift 2
    local rc=0
    "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
    local report
    if report=$(sanitizer_report "$WORK/err"); then
        fail "$name: $report"
    fi
    [ "$rc" != "$STELE_SANITIZER_EXIT" ] ||
        fail "$name: exit status $rc is the sanitizers' (a report); stderr: $(head -c 2000 "$WORK/err")"
    [ "$rc" = "$want" ] || fail "$name: exit status $rc, want $want; stderr: $(head -c 500 "$WORK/err")"
    if [ "$want" = 1 ]; then
        grep -qE "^Try 'stele.*--help'\.|^usage: stele" "$WORK/err" ||
            fail "$name: exit status 1 without a usage message; stderr: $(head -c 500 "$WORK/err")"
    elif [ "$want" != 0 ]; then
        grep -q "^stele: " "$WORK/err" ||
            fail "$name: exit status $rc without a 'stele: ' error message; stderr: $(head -c 500 "$WORK/err")"
    fi
    ok
}

# expect_error CODE NAME TEXT CMD...: expect_exit, and stderr must contain TEXT (what the message
# names: the bad option, value or argument).
expect_error() {
    local want=$1 name=$2 text=$3
    shift 3
    expect_exit "$want" "$name" "$@"
    grep -qF -- "$text" "$WORK/err" ||
        fail "$name: stderr does not name '$text': $(head -c 500 "$WORK/err")"
}

# eq NAME GOT WANT
eq() {
    [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
    ok
}

# contains NAME HAYSTACK NEEDLE
contains() {
    case "$2" in
    *"$3"*) ok ;;
    *) fail "$1: '$3' not found in '$2'" ;;
    esac
}

# pyq EXPR < NDJSON: evaluate a Python expression over `rows` (the parsed lines) and print the
# result: strings as they are, everything else as compact JSON.
pyq() {
    python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r, separators=(",", ":"), sort_keys=False))
' "$1"
}

# count_all: events in the main store's $all (user streams).
count_all() { st read-all | pyq 'len(rows)'; }
