#!/usr/bin/env bash
# test-summary.sh -- the closing line of scripts/test-all.sh, kept apart so that it can be tested
# (tests/integration/test_report_summary.sh runs it on crafted logs).
#
#   scripts/test-summary.sh STAGE...      each STAGE is KIND:STATUS:LOG:NAME
#     KIND    ctest   LOG is ctest's output: every test is counted once from its own result line
#                     ("1/9 Test #3: unit/test_log ....   Passed"), whatever the tests print
#                     themselves (an integration script's own "N passed, N failed" is not counted)
#             script  LOG is a script's output (scripts/tsan.sh, scripts/fuzz.sh) whose last line is
#                     its own "N passed, N failed[, N skipped]"
#     STATUS  the stage's exit status
#     NAME    how the stage is named in messages
#
# Prints "N passed, N failed, N skipped" (and what failed or was skipped, above it). A stage counts
# as one failed test when it ended before its summary (a ctest run without its "tests passed ... out
# of" line, a script whose last line is not its summary, a missing log), and when its exit status is
# non-zero while it reported no failure, so that the line and the exit status always agree.
# Exits 1 when anything failed; with CI=true, also when anything was skipped: the README's install
# step (scripts/install-deps) provides everything the tests need, so a skip in CI means a check
# that did not run.
set -uo pipefail

passed=0
failed=0
skipped=0
failed_names=()
skipped_names=()

for spec in "$@"; do
    kind=${spec%%:*}
    rest=${spec#*:}
    rc=${rest%%:*}
    rest=${rest#*:}
    log=${rest%:*}
    name=${rest##*:}
    if [[ ! -f $log ]]; then
        failed=$((failed + 1))
        failed_names+=("$name (no log: the stage did not run or was interrupted)")
        continue
    fi
    stage_failed=0
    finished=0
    case $kind in
    ctest)
        # Each test's result line, once per test name (a rerun would repeat it).
        while IFS=$'\t' read -r result tname; do
            case $result in
            Passed) passed=$((passed + 1)) ;;
            Skipped)
                skipped=$((skipped + 1))
                skipped_names+=("$name: $tname")
                ;;
            *)
                failed=$((failed + 1))
                stage_failed=$((stage_failed + 1))
                failed_names+=("$name: $tname ($result)")
                ;;
            esac
        done < <(awk '
            /^ *[0-9]+\/[0-9]+ +Test +#[0-9]+: / {
                line = $0
                sub(/^ *[0-9]+\/[0-9]+ +Test +#[0-9]+: +/, "", line)
                tname = line
                sub(/ .*$/, "", tname)
                sub(/^[^ ]+ +\.* */, "", line)
                sub(/^\*+/, "", line)
                split(line, w, /[ :]/)
                if (!seen[tname]++) print w[1] "\t" tname
            }' "$log")
        grep -qE '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" && finished=1
        grep -q '^No tests were found' "$log" && finished=0
        ;;
    script)
        last=$(grep -v '^[[:space:]]*$' "$log" | tail -n 1)
        if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)?$ ]]; then
            finished=1
            passed=$((passed + BASH_REMATCH[1]))
            failed=$((failed + BASH_REMATCH[2]))
            stage_failed=${BASH_REMATCH[2]}
            if [[ -n ${BASH_REMATCH[4]} ]] && ((BASH_REMATCH[4] > 0)); then
                skipped=$((skipped + BASH_REMATCH[4]))
                skipped_names+=("$name: $(grep -m1 -i 'skip' "$log" || echo "${BASH_REMATCH[4]} skipped")")
            fi
            ((BASH_REMATCH[2] > 0)) && failed_names+=("$name: ${BASH_REMATCH[2]} failed (see above)")
        fi
        ;;
    *)
        echo "test-summary.sh: unknown stage kind '$kind' in '$spec'" >&2
        ;;
    esac
    if ((finished == 0)); then
        failed=$((failed + 1))
        failed_names+=("$name (ended before its summary, exit status $rc)")
    elif ((rc != 0 && stage_failed == 0)); then
        failed=$((failed + 1))
        failed_names+=("$name (exit status $rc although no test failed)")
    fi
done

for n in "${failed_names[@]}"; do echo "failed:  $n"; done
for n in "${skipped_names[@]}"; do echo "skipped: $n"; done
status=0
((failed > 0)) && status=1
if [[ ${CI:-} == true ]] && ((skipped > 0)); then
    echo "CI: $skipped test(s) skipped; scripts/install-deps provides what each needs, so a skip" \
        "here is a check that did not run (see the skipped lines above)"
    status=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
