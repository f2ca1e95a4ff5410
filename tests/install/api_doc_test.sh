#!/bin/sh
# api_doc_test.sh LIBNWREG_SO SOURCE_DIR: include/nwreg.h keeps its promises.
#   - every public function is documented: its declaration is in a group of
#     declarations (no blank line between them) that a comment opens, or it
#     carries a comment on its own line;
#   - every function the header declares is exported by libnwreg.so, and
#     nothing else (the library's internals stay hidden);
#   - the header compiles on its own as C11 with every warning an error.
# Prints "ok - NAME" / "not ok - NAME", then "N passed, M failed".
SO=${1:?usage: api_doc_test.sh LIBNWREG_SO SOURCE_DIR}
SRC=${2:?usage: api_doc_test.sh LIBNWREG_SO SOURCE_DIR}
H=$SRC/include/nwreg.h
T=$(mktemp -d "${TMPDIR:-/tmp}/nwreg-api.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; [ -s "$T/log" ] && sed 's/^/#   /' "$T/log" | head -8; }
check() { name=$1; shift; if "$@" >"$T/log" 2>&1; then ok "$name"; else not_ok "$name"; fi; }

# the declared functions, one per line
awk '/^(NW_API )?[a-z].*[ *]nw_[a-z0-9_]+\(/ { s = $0; sub(/\(.*/, "", s); sub(/.*[ *]/, "", s); print s }' "$H" |
    sort -u > "$T/declared"
undocumented() {
    awk '
    /^\/\*/ || /^ \*/ { commented = 1; next }
    /^$/ { commented = 0; next }
    /^#/ { next }
    /^(NW_API )?[a-z].*[ *]nw_[a-z0-9_]+\(/ {
        s = $0; sub(/\(.*/, "", s); sub(/.*[ *]/, "", s)
        if (!commented && $0 !~ /\/\*/) print s
        next
    }' "$H" > "$T/undoc"
    [ ! -s "$T/undoc" ] || { echo "undocumented:" $(cat "$T/undoc"); return 1; }
}
check "nwreg.h declares functions" eval '[ "$(wc -l < "$T/declared")" -ge 40 ]'
check "every public function in nwreg.h has a comment" undocumented

nm -D --defined-only "$SO" | awk '$2 == "T" && $3 ~ /^nw_/ { print $3 }' | sort -u > "$T/exported"
check "libnwreg.so exports every function nwreg.h declares" \
    sh -c 'comm -23 "$1" "$2" > "$3/missing"; [ ! -s "$3/missing" ] || { echo "not exported:" $(cat "$3/missing"); exit 1; }' \
    sh "$T/declared" "$T/exported" "$T"
check "libnwreg.so exports nothing nwreg.h does not declare" \
    sh -c 'comm -13 "$1" "$2" > "$3/extra"; [ ! -s "$3/extra" ] || { echo "exported but not declared:" $(cat "$3/extra"); exit 1; }' \
    sh "$T/declared" "$T/exported" "$T"
printf '#include "nwreg.h"\nint main(void) { return nw_strerror(NW_OK) == 0; }\n' > "$T/alone.c"
check "nwreg.h compiles alone: C11, -Wall -Wextra -pedantic -Werror" \
    ${CC:-cc} -std=c11 -Wall -Wextra -pedantic -Werror -I"$SRC/include" -c "$T/alone.c" -o "$T/alone.o"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
