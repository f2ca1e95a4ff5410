# lib.sh: what the CLI test scripts share; source it with
#     . "$(dirname "$0")/lib.sh"; cli_test_setup NAME
# cli_test_setup makes a temporary working folder (removed on exit), enters
# it and zeroes the counters; check/ok/not_ok count and print TAP-like
# lines ("ok - NAME", "not ok - NAME" with the first lines of ./err);
# run puts nwreg's stdout in ./out, stderr in ./err and its status in $rc;
# is_fig checks a figure's magic bytes.
cli_test_setup() {
    T=$(mktemp -d "${TMPDIR:-/tmp}/nwreg-$1.XXXXXX") || exit 1
    trap 'rm -rf "$T"' EXIT INT TERM
    cd "$T" || exit 1
    export OMP_NUM_THREADS=2
    passed=0
    failed=0
}
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() {
    failed=$((failed + 1))
    echo "not ok - $1"
    [ -s err ] && sed 's/^/#   stderr: /' err | head -3
}
# check NAME COMMAND...: passes when COMMAND succeeds
check() { name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
# run ARGS...: nwreg (the script's $NW) with stdout in ./out, stderr in ./err, status in $rc
run() { "$NW" "$@" >out 2>err; rc=$?; }
status_is() { [ "$rc" -eq "$1" ]; }
# hex of bytes [$2, $2 + $3) of file $1
bytes() { od -An -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'; }
# is_fig FILE: a non-empty PNG, SVG or PDF as its extension says
is_fig() {
    [ -s "$1" ] || return 1
    case $1 in
    *.png) [ "$(bytes "$1" 0 8)" = 89504e470d0a1a0a ] ;;
    *.svg) head -c 200 "$1" | grep -q '^<?xml' && grep -q '<svg' "$1" && tail -c 20 "$1" | grep -q '</svg>' ;;
    *.pdf) [ "$(head -c 5 "$1")" = "%PDF-" ] && tail -c 8 "$1" | grep -q '%%EOF' ;;
    *) return 1 ;;
    esac
}
