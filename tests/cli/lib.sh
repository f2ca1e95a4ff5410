# lib.sh: what the CLI test scripts share; source it with
#     . "$(dirname "$0")/lib.sh"; cli_test_setup NAME
# cli_test_setup makes a temporary working folder (removed on exit), enters
# it and zeroes the counters; check/ok/not_ok count and print TAP-like
# lines ("ok - NAME", "not ok - NAME" with the first lines of ./err);
# run puts nwreg's stdout in ./out, stderr in ./err and its status in $rc.
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
