#!/bin/sh
# man_test.sh NWREG SOURCE_DIR [MANPAGE]: the manual page man/nwreg.1
#   - renders with `man -l` without a single warning (MANWIDTH=80), and
#     with groff's warnings all on (-ww);
#   - names the version that `nwreg --version` prints;
#   - has a section .SS "nwreg CMD" for every command `nwreg --help` lists;
#   - mentions every long option that `nwreg CMD --help` prints, in CMD's
#     section or in COMMON OPTIONS;
#   - has the sections EXIT STATUS (0, 1, 2, 130), FILES and EXAMPLES, and
#     the pipeline example of the README.
# So the page cannot drift from the program.  Prints "ok - NAME" / "not ok
# - NAME", then "N passed, M failed"; exits 1 if any failed.
NW=${1:?usage: man_test.sh NWREG SOURCE_DIR [MANPAGE]}
SRC=${2:?usage: man_test.sh NWREG SOURCE_DIR [MANPAGE]}
PAGE=${3:-$SRC/man/nwreg.1}
T=$(mktemp -d "${TMPDIR:-/tmp}/nwreg-man.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; [ -s "$T/log" ] && sed 's/^/#   /' "$T/log" | head -5; }
check() { name=$1; shift; if "$@" >"$T/log" 2>&1; then ok "$name"; else not_ok "$name"; fi; }

# ------------------------------------------------------------ rendering
quiet_man() { w=$(MANWIDTH=80 man -l "$PAGE" 2>&1 >/dev/null); [ -z "$w" ] || { echo "$w"; return 1; }; }
quiet_groff() { w=$(groff -man -ww -z "$PAGE" 2>&1); [ -z "$w" ] || { echo "$w"; return 1; }; }
check "man -l renders the page without warnings" quiet_man
check "groff -man -ww: no warnings" quiet_groff
MANWIDTH=80 man -l "$PAGE" 2>/dev/null | col -b > "$T/page.txt"
check "the rendered page has NAME, SYNOPSIS, COMMANDS, EXIT STATUS, FILES, EXAMPLES" \
    sh -c 'for s in NAME SYNOPSIS COMMANDS "COMMON OPTIONS" "EXIT STATUS" FILES ENVIRONMENT EXAMPLES; do
               grep -q "^$s\$" "$1" || { echo "no section $s"; exit 1; }; done' sh "$T/page.txt"

# The source with troff's \- as plain hyphens, for matching.
sed 's/\\-/-/g' "$PAGE" > "$T/src"
# section NAME: the lines of .SS "nwreg NAME" up to the next .SS or .SH;
# common: .SH COMMON OPTIONS up to the next .SH
section() { awk -v want=".SS \"nwreg $1\"" '$0 == want { on = 1; next } on && /^\.S[SH] / { exit } on' "$T/src"; }
common() { awk '/^\.SH COMMON OPTIONS/ { on = 1; next } on && /^\.SH / { exit } on' "$T/src"; }
common > "$T/common"

version=$("$NW" --version | sed -n 's/^nwreg //p')
check "the page's .TH names nwreg $version (nwreg --version)" grep -q "^\.TH NWREG 1 .*\"nwreg $version\"" "$PAGE"

# --------------------------------------------- commands and their options
"$NW" --help | awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on && /^  [a-z]/ { print $1 }' > "$T/commands"
check "nwreg --help lists commands" test -s "$T/commands"
for cmd in $(cat "$T/commands"); do
    check "man page has a section for nwreg $cmd" grep -q -x ".SS \"nwreg $cmd\"" "$T/src"
    section "$cmd" > "$T/section"
    cat "$T/section" "$T/common" > "$T/where"
    # the options the help defines: its option lines ("  --opt", "  -o, --opt")
    # and usage lines ("usage: nwreg CMD ...", "       nwreg CMD ..."), not
    # the examples, which may show other commands' options
    "$NW" "$cmd" --help 2>&1 |
        grep -E -e '^ +(-[a-zA-Z], )?--[a-z]' -e "^(usage: | +)nwreg $cmd( |\$)" |
        grep -o -e '--[a-z][a-z0-9-]*' | sort -u > "$T/opts"
    missing=""
    for opt in $(cat "$T/opts"); do
        grep -q -e "$opt\\([^a-z0-9-]\\|\$\\)" "$T/where" || missing="$missing $opt"
    done
    check "every long option of 'nwreg $cmd --help' is in its section or COMMON OPTIONS${missing:+ (missing:$missing)}" \
        eval '[ -s "$T/opts" ] && [ -z "$missing" ]'
done
for opt in --help --version; do
    check "the synopsis shows nwreg $opt" eval 'awk "/^\\.SH SYNOPSIS/{on=1;next} on&&/^\\.SH/{exit} on" "$T/src" | grep -q -e "$opt"'
done

# --------------------------------------------------- exit status, examples
exit_status() { awk '/^\.SH EXIT STATUS/ { on = 1; next } on && /^\.SH / { exit } on' "$T/src"; }
check "EXIT STATUS documents 0, 1, 2 and 130" \
    sh -c 'for s in 0 1 2 130; do printf "%s\n" "$1" | grep -q -x "\\.B $s" || { echo "no $s"; exit 1; }; done' sh "$(exit_status)"
check "EXAMPLES has the pipeline gen | fit | predict" \
    grep -q -F 'nwreg gen | nwreg fit - -o m.json && nwreg gen --grid | nwreg predict m.json - > out.csv' "$T/src"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
