# shellcheck shell=bash
# san_helpers.sh -- sanitizer reports and skips in the integration scripts (sourced by
# cli_helpers.sh and server_helpers.sh, so every script that uses them gets these checks).
#
# The sanitizer builds run every program with an exit status no program uses (tests/CMakeLists.txt
# sets ASAN_OPTIONS, UBSAN_OPTIONS, TSAN_OPTIONS with exitcode=86 and halt_on_error=1): a report
# can never pass for an expected failure such as the CLI's usage error (1). Scripts also read the
# stderr of the programs they start for a report (a process killed with SIGKILL after its report
# has no exit status of its own).

STELE_SANITIZER_EXIT=86
# The exit status ctest counts as a skip (SKIP_RETURN_CODE in tests/CMakeLists.txt).
STELE_SKIP_EXIT=77

# sanitizer_report FILE...: print the first sanitizer report found in the files (and return 0), or
# return 1 when there is none.
sanitizer_report() {
    local f
    for f in "$@"; do
        [ -f "$f" ] || continue
        if grep -qE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|WARNING: ThreadSanitizer|runtime error: |SUMMARY: [A-Za-z]+Sanitizer|Sanitizer has encountered a fatal error' "$f"; then
            echo "sanitizer report in $f:"
            grep -m1 -A25 -E 'ERROR: [A-Za-z]+Sanitizer|WARNING: ThreadSanitizer|runtime error: |Sanitizer has encountered' "$f"
            return 0
        fi
    done
    return 1
}

# skip MESSAGE: the script cannot run here (a tool is missing): say so and exit with the skip
# status, which ctest reports as "Skipped" and scripts/test-summary.sh fails under CI=true.
skip() {
    echo "SKIP: $*"
    exit "$STELE_SKIP_EXIT"
}
