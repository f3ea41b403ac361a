#!/usr/bin/env bash
# check_exports.sh CC HEADER LIBRARY [BASE_HEADER] -- the shared library exports exactly the
# functions the public header declares: no stele__ internal, no helper of a dependency, no declared
# function left hidden (one whose declaration lacks STELE_API). A library over libstele (the query
# side: stele_query.h includes stele.h) gives stele.h as BASE_HEADER, whose functions it must not
# export again.
#
# The header's functions are read from its preprocessed text (comments gone): every identifier
# stele_<name> directly followed by "(" -- function pointer types, "(*stele_x_fn)(", are not.
# The library's are `nm -D --defined-only`, less the symbols the linker itself defines.
# Exit 0 when the two lists are equal; otherwise print each difference and exit 1.
set -euo pipefail
cc=$1 header=$2 lib=$3 base=${4:-}

[[ -f $lib ]] || { echo "no library: $lib" >&2; exit 1; }
functions_of() {
    "$cc" -E -P -I"$(dirname "$1")" -x c "$1" |
        grep -oE '(^|[^A-Za-z0-9_])stele_[A-Za-z0-9_]+[[:space:]]*\(' |
        grep -oE 'stele_[A-Za-z0-9_]+' | sort -u
}
declared=$(functions_of "$header")
if [[ -n $base ]]; then
    declared=$(comm -23 <(echo "$declared") <(functions_of "$base"))
fi
exported=$(nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' |
    grep -vxE '_init|_fini|_edata|_end|__bss_start' | sed 's/@.*//' | sort -u)

[[ -n $declared ]] || { echo "no function found in $header" >&2; exit 1; }
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
extra=$(comm -13 <(echo "$declared") <(echo "$exported"))
for f in $missing; do
    echo "declared in $(basename "$header") but not exported by $(basename "$lib"): $f" \
        "(STELE_API missing, or no definition)"
done
for f in $extra; do
    echo "exported by $(basename "$lib") but not declared in $(basename "$header"): $f"
done
n=$(echo "$declared" | wc -l)
if [[ -n $missing || -n $extra ]]; then
    exit 1
fi
echo "$(basename "$lib") exports exactly the $n functions of $(basename "$header")"
