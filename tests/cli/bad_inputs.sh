#!/bin/sh
# bad_inputs.sh NWREG SOURCE_DIR: the bad-input suite of the nwreg program.
#
# Runs every row of bad_inputs.tsv (next to this script) against a set of
# fixture files made here in a temporary folder, and checks for each row:
#   - the exit status is the expected one (0 success; 2 usage or input
#     error; 1 anything else, e.g. an output that cannot be written), and so
#     no crash (a status >= 128) and no hang (each run is killed after 60 s);
#   - a failure prints exactly one line on stderr, starting "nwreg: " and
#     containing the expected fragment; a success prints nothing on stderr;
#   - the files the row names do not exist afterwards, and no temporary file
#     (*.tmp*) is left anywhere in the folder;
#   - every fixture, inputs and pre-existing outputs alike, is byte for byte
#     what it was (inputs are never overwritten, and a failing run leaves an
#     existing output file untouched);
#   - the row's own check, a shell command run in the folder after it (for
#     the cases with a documented result: its values, not just its status).
#
# The table: one row per case, fields separated by tabs,
#   NAME  ARGS  STATUS  FRAGMENT  ABSENT  [CHECK]
# ARGS are the words after `nwreg`, split by the shell (quotes work; $FULL
# is a file on which every write fails with ENOSPC); FRAGMENT is "-" for a
# success (stderr must be empty); ABSENT is a space-separated list of paths,
# or "-".  Lines starting with '#' and blank lines are skipped.
#
# $FULL: for root a private copy of /dev/full (mknod) inside the test
# folder, so that a writer that wrongly renames over its target can only
# replace that copy, never the system's /dev/full; /dev/full otherwise.
#
# Prints "ok - NAME" or "not ok - NAME: why" per row, then "N passed, M
# failed"; exits 1 if any row failed.

NW=${1:?usage: bad_inputs.sh NWREG SOURCE_DIR}
SRC=${2:?usage: bad_inputs.sh NWREG SOURCE_DIR}
case $NW in /*) ;; *) NW=$(pwd)/$NW ;; esac
case $SRC in /*) ;; *) SRC=$(pwd)/$SRC ;; esac
TABLE=$SRC/tests/cli/bad_inputs.tsv
DATA=$SRC/tests/cli/data
T=$(mktemp -d "${TMPDIR:-/tmp}/nwreg-bad.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
cd "$T" || exit 1
export OMP_NUM_THREADS=2

# ------------------------------------------------------------- fixtures
mkdir fx && cd fx || exit 1
cp "$DATA/notebook_train.csv" train.csv
cp "$DATA/notebook_test.csv" test.csv
mkdir adir dir.json
: >empty.csv
printf 'x,y\n' >header.csv
printf 'x,y\n1,2\n2,abc\n3,4\n' >nonnum.csv
printf 'x,y\n1,2\n2,nan\n3,4\n' >nan.csv
printf 'x,y\n1,2\n2,-inf\n3,4\n' >inf.csv
printf 'x,y\n1,2\n2\n3,4\n' >ragged.csv
printf 'x\n1\n2,5\n' >ragged_q.csv
printf 'z\n1\n2\n' >noxq.csv
printf 'x,y\n1,1e308\n2,-1e308\n3,1e308\n4,-1e308\n' >big.csv
printf 'x,y\n1,1.5e308\n2,1.7e308\n3,1.6e308\n4,1.7e308\n' >bigpos.csv
printf 'x,y\n1e308,1\n-1e308,2\n0,3\n' >bigx.csv
printf 'x,y\n1,2\n' >single.csv
printf 'x,y\n2,1\n2,3\n2,5\n2,7\n' >samex.csv
printf 'sentinel: a pre-existing output\n' >old.csv
cp old.csv old.json
cp old.csv old.png
: >empty.json
"$NW" fit train.csv --bandwidth 0.5 -o model.json >/dev/null 2>&1 || {
    echo "not ok - fixture: nwreg fit could not make model.json"; exit 1; }
size=$(wc -c <model.json)
head -c $((size / 2)) model.json >trunc.json
sed 's/"bandwidth": \[/"bandwidth": [x/' model.json >corrupt.json
sed 's/"version": 1/"version": 4/' model.json >v4.json
# version 3 by hand: the header line, then x [1, 2] and y [3, 4] as
# binary64 little-endian (32 bytes); cut short, run on, a NaN
printf '{"format":"nwreg-model","version":3,"encoding":"f64le","kernel":"gaussian","estimator":"lc","n":2,"d":1,"p":1,"bandwidth":[0.5]}\n' >v3.json
printf '\000\000\000\000\000\000\360\077\000\000\000\000\000\000\000\100' >>v3.json
printf '\000\000\000\000\000\000\010\100\000\000\000\000\000\000\020\100' >>v3.json
head -c -1 v3.json >v3_short.json
{ cat v3.json; printf '\n'; } >v3_long.json
{ head -c -8 v3.json; printf '\000\000\000\000\000\000\370\177'; } >v3_nan.json
# version 2 by hand: "x" [1, 2] and "y" [3, 4] in base64 (f64le), then
# broken one way at a time
printf '{"format": "nwreg-model", "version": 2, "encoding": "f64le-base64",\n "kernel": "gaussian", "estimator": "lc", "n": 2, "d": 1, "p": 1,\n "inputs": ["x"], "outputs": ["y"], "bandwidth": [0.5],\n "x": "AAAAAAAA8D8AAAAAAAAAQA==",\n "y": "AAAAAAAACEAAAAAAAAAQQA=="\n}\n' >v2.json
sed 's/8D8AAAAA/8D8A!AAA/' v2.json >v2_char.json
sed 's/AAAAQA==/AAAAQA/' v2.json >v2_short.json
sed 's/AAAAQA==/AAAAQ===/' v2.json >v2_pad.json
sed 's/AAAAAQQA==/AAAAD4fw==/' v2.json >v2_nan.json
sed 's/"f64le-base64"/"f32le-base64"/' v2.json >v2_enc.json
sed 's/"x": "[^"]*"/"x": [[1], [2]]/' v2.json >v2_array.json
sed 's/"inputs": \["x"\]/"inputs": ["t"]/' model.json >othercols.json
sed 's/"bandwidth": \[[^]]*\]/"bandwidth": [1e-320]/' model.json >subnormal_h.json
# $FULL: root may replace /dev/full itself (a buggy writer renaming over
# it would), so root uses a private node, and skips the rows if it cannot
# make one that fails writes with ENOSPC (a nodev mount, say).
FULL=/dev/full SKIP_FULL=
if [ "$(id -u)" = 0 ]; then
    if mknod full c 1 7 2>/dev/null && dd if=/dev/zero of=full bs=1 count=1 2>&1 | grep -q 'No space'; then
        FULL=$T/fx/full
    else
        rm -f full
        SKIP_FULL=1
    fi
fi
export FULL
find . -type f ! -name full -exec md5sum {} + | sort >"$T/fixtures.md5"
ls -A >"$T/fixtures.list"
mkdir "$T/pristine" && find . -maxdepth 1 -type f -exec cp -p {} "$T/pristine/" \; || exit 1

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() {
    failed=$((failed + 1))
    echo "not ok - $1: $2"
    [ -s "$T/err" ] && sed 's/^/#   stderr: /' "$T/err" | head -3
}

# Remove whatever a row made beside the fixtures, and put back any fixture
# it changed (so that each row starts from the same files).
clean() {
    for f in * .[!.]*; do
        [ -e "$f" ] || continue
        grep -qxF -- "$f" "$T/fixtures.list" || rm -rf -- "$f"
    done
    cp -p "$T"/pristine/* .
}

# ------------------------------------------------------- row checks
# finite FILE: no nan or inf anywhere in FILE
finite() { ! grep -qiE 'nan|inf' "$1"; }
# rows FILE N: FILE is a header and N data rows
rows() { [ "$(wc -l <"$1")" -eq $(($2 + 1)) ]; }
# col_near FILE NAME V RTOL: in every data row, the column named NAME is
# within RTOL |V| of V
col_near() {
    awk -F, -v name="$2" -v v="$3" -v r="$4" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; if (!c) exit 1; next }
        { d = $c - v; if (d < 0) d = -d; a = v < 0 ? -v : v; if (d > r * a) bad = 1; n++ }
        END { exit (bad || n == 0 || !c) }' "$1"
}
# mean_y FILE: the mean of column 2 of a CSV file
mean_y() { awk -F, 'NR > 1 { s += $2; n++ } END { printf "%.17g", s / n }' "$1"; }

# ------------------------------------------------------------------ rows
tab=$(printf '\t')
while IFS=$tab read -r name args want frag absent check; do
    case $name in '' | '#'*) continue ;; esac
    # shellcheck disable=SC2016 # the literal text $FULL in the row
    case $args in *'$FULL'*)
        [ -n "$SKIP_FULL" ] && { echo "ok - $name # SKIP no private full device"; continue; } ;;
    esac
    eval "set -- $args"
    timeout 60 "$NW" "$@" </dev/null >"$T/out" 2>"$T/err"
    rc=$?
    why=""
    if [ "$rc" -ne "$want" ]; then
        why="exit $rc, expected $want"
    elif [ "$frag" = "-" ]; then
        [ -s "$T/err" ] && why="stderr not empty"
    elif [ "$(wc -l <"$T/err")" -ne 1 ]; then
        why="$(wc -l <"$T/err") lines on stderr, expected 1"
    elif ! head -c 7 "$T/err" | grep -q '^nwreg: '; then
        why="stderr does not start with 'nwreg: '"
    elif ! grep -q -F -- "$frag" "$T/err"; then
        why="stderr lacks '$frag'"
    fi
    if [ -z "$why" ] && [ "$absent" != "-" ]; then
        for f in $absent; do [ -e "$f" ] && why="$f exists" && break; done
    fi
    if [ -z "$why" ]; then
        tmps=$(find . -name '*.tmp*' | head -3 | tr '\n' ' ')
        [ -n "$tmps" ] && why="temporary files left: $tmps"
    fi
    if [ "$FULL" != /dev/full ] && [ ! -c "$FULL" ]; then
        [ -z "$why" ] && why="$FULL is no longer a device (renamed over)"
        rm -f full && mknod full c 1 7    # only ever our private copy
    fi
    if [ -z "$why" ]; then
        find . -type f ! -name full -exec md5sum {} + | sort >"$T/now.md5"
        changed=$(comm -23 "$T/fixtures.md5" "$T/now.md5" | head -3 | tr '\n' ' ')
        [ -n "$changed" ] && why="fixture changed or gone: $changed"
    fi
    if [ -z "$why" ] && [ -n "$check" ] && ! (OUT=$T/out ERR=$T/err eval "$check") </dev/null >/dev/null 2>&1; then
        why="check failed: $check"
    fi
    if [ -z "$why" ]; then ok "$name"; else not_ok "$name" "$why"; fi
    clean
done <"$TABLE"

# --------------------------------------------------------------- Ctrl-C
# SIGINT a second into a long prediction (1e10 kernel evaluations with the
# dense engine, seconds to minutes if not stopped): exit 130 with one line,
# the existing output untouched, no temporary file left.  timeout(1)
# delivers SIGINT twice (to the process, then to its process group): the
# CLI takes a second one within 0.25 s as the same interruption.  A second,
# not half of one: a signal before main() has installed its handler kills
# silently (at 10-50 ms under ASan).
name="Ctrl-C during predict: exit 130, the existing output kept"
"$NW" gen --n 100000 -o big_train.csv && "$NW" gen --grid --m 100000 -o big_q.csv || exit 1
timeout --preserve-status -s INT -k 60 1 \
    "$NW" predict big_train.csv big_q.csv --bandwidth 0.1 --engine dense -o old.csv \
    </dev/null >"$T/out" 2>"$T/err"
rc=$?
why=""
if [ "$rc" -ne 130 ]; then why="exit $rc, expected 130"
elif [ "$(wc -l <"$T/err")" -ne 1 ] || ! grep -q '^nwreg: .*interrupted' "$T/err"; then
    why="stderr is not one 'interrupted' line: $(head -c 300 "$T/err" | tr '\n' '|')"
elif ! cmp -s old.csv "$T/pristine/old.csv"; then why="old.csv changed"
elif [ -n "$(find . -name '*.tmp*')" ]; then why="temporary files left"
fi
if [ -z "$why" ]; then ok "$name"; else not_ok "$name" "$why"; fi
clean

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
