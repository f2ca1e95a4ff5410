#!/bin/sh
# coverage_cli.sh NWREG SOURCE_DIR: the error paths of the CLI's option and
# column handling (cli/common.c) that scripts/coverage found no other CLI
# test reaching: getopt's errors, --empty, --comment, and choosing columns
# with --x/--y; then the input errors that need fixtures of their own
# (more inputs than a command draws, a cv grid off its grid, stdin, a full
# stdout) and the top-level usage.  Every refused case must exit 2 with exactly one line on
# stderr, starting "nwreg: " and holding the expected fragment, and write no
# output file.  Prints "ok - NAME" / "not ok - NAME", then
# "N passed, M failed"; exits 1 if any failed.
NW=${1:?usage: coverage_cli.sh NWREG SOURCE_DIR}
SRC=${2:?usage: coverage_cli.sh NWREG SOURCE_DIR}
case $NW in /*) ;; *) NW=$(pwd)/$NW ;; esac
case $SRC in /*) ;; *) SRC=$(pwd)/$SRC ;; esac
. "$SRC/tests/cli/lib.sh"
cli_test_setup covcli

printf 'x,y\n0,1\n1,3\n2,2\n3,7\n' > xy.csv
printf 'a,b,c\n0,1,2\n1,3,5\n2,2,2\n3,7,1\n' > abc.csv

# refused NAME FRAGMENT ARGS...: nwreg ARGS exits 2, stderr is one line
# "nwreg: ..." containing FRAGMENT, and out.csv/json/png was not written
refused() {
    name=$1 fragment=$2
    shift 2
    rm -f out.csv out.json out.png
    "$NW" "$@" >out 2>err
    rc=$?
    if [ $rc -ne 2 ]; then echo "#   exit status $rc, expected 2"; not_ok "$name"; return; fi
    if [ "$(wc -l < err)" -ne 1 ] || ! grep -q '^nwreg: ' err; then
        echo "#   stderr is not one 'nwreg: ' line"; not_ok "$name"; return
    fi
    if ! grep -q -F -- "$fragment" err; then echo "#   no '$fragment'"; not_ok "$name"; return; fi
    if [ -e out.csv ] || [ -e out.json ] || [ -e out.png ]; then echo "#   an output file was written"; not_ok "$name"; return; fi
    ok "$name"
}

P="predict xy.csv xy.csv --bandwidth 1 -o out.csv"
# shellcheck disable=SC2086
{
refused "unknown short option" "unknown option '-Z'" $P -Z
refused "short option without its value" "option '-o' needs a value" predict xy.csv xy.csv --bandwidth 1 -o
refused "long option without its value" "option '--bandwidth' needs a value" predict xy.csv xy.csv -o out.csv --bandwidth
refused "long option given a value it does not take" "option '--quiet' takes no value" $P --quiet=1
refused "misspelt long option gets a suggestion" "unknown option '--bandwith'; did you mean '--bandwidth'?" \
    predict xy.csv xy.csv --bandwith 1 -o out.csv
refused "unknown long option" "unknown option '--zzzzzz'" $P --zzzzzz 1
refused "--empty other than nan or nearest" "--empty 'zero': use nan or nearest" $P --empty zero
refused "--comment of two characters" "--comment 'ab': give one character" $P --comment ab
refused "--comment that is the delimiter" "--comment ',' is the delimiter" $P --delim , --comment ,
refused "--x names a column twice" "abc.csv: column 'a' chosen twice (--x)" \
    fit abc.csv --bandwidth 1 --x a,a -o out.json
refused "--y names a column twice, by index" "abc.csv: column '3' chosen twice (--y)" \
    fit abc.csv --bandwidth 1 --x 1,2 --y 3,3 -o out.json
refused "a column both input and output" "abc.csv: column 'a' is chosen as both input and output" \
    fit abc.csv --bandwidth 1 --x a --y a -o out.json
refused "--x takes every column" "abc.csv: no column left for the output (--x takes them all)" \
    fit abc.csv --bandwidth 1 --x a,b,c -o out.json
}

# --y alone: the inputs are every other column, in order
if "$NW" fit abc.csv --bandwidth 1,2 --y c -o out.json >out 2>err &&
   grep -q '"inputs": *\["a", *"b"\]' out.json && grep -q '"outputs": *\["c"\]' out.json; then
    ok "--y alone: the other columns are the inputs"
else
    not_ok "--y alone: the other columns are the inputs"
fi

# --x alone: the output is the last column not among the inputs
if "$NW" fit abc.csv --bandwidth 1 --x a -o out.json >out 2>err &&
   grep -q '"inputs": *\["a"\]' out.json && grep -q '"outputs": *\["c"\]' out.json; then
    ok "--x alone: the last other column is the output"
else
    not_ok "--x alone: the last other column is the output"
fi

# ---------------------------------------------------------------------
# Input errors that need fixtures of their own (the rest are rows of
# bad_inputs.tsv), and the top-level usage.
printf 'a,b,c,d\n0,1,2,3\n1,3,5,1\n2,2,2,0\n3,7,1,2\n4,1,1,1\n' > abcd.csv
printf 'x\n1\n2\n' > xonly.csv
"$NW" fit xy.csv --bandwidth 1 -o m1.json >/dev/null 2>&1 &&
"$NW" fit abc.csv --bandwidth 1,1 -o m2.json >/dev/null 2>&1 &&
"$NW" fit abcd.csv --bandwidth 1,1,1 -o m3.json >/dev/null 2>&1 || { echo "not ok - fixtures: nwreg fit"; exit 1; }
sed 's/"bandwidth": \[/"bandwidth": [x/' m1.json > corrupt.json
grep -v '"inputs"' m1.json > nonames.json
# a cv grid of 2 x 2 whose last row has another h2 than the first h1's
printf 'h1,h2,criterion\n1,1,5\n1,2,4\n2,1,3\n2,3,2\n' > offgrid.csv
long=$(printf '%0300d' 0)   # a 300-character name: mkdir fails (ENAMETOOLONG)

refused "cv: three inputs" "abcd.csv: 3 inputs: cv draws 1-d and 2-d grids only" cv abcd.csv
refused "demo: training data with two inputs" \
    "abc.csv: the demo needs one input and one output (columns x and y), not 2 and 1" \
    demo --train abc.csv --test xy.csv --out d --quiet
refused "plot fit: a model with three inputs" "m3.json: 3 inputs: plot fit draws models with one or two inputs" \
    plot fit m3.json -o out.png
refused "plot fit: --grid too large for two inputs" "--grid 3000: at most 2000 per input for two inputs" \
    plot fit m2.json --grid 3000 -o out.png
refused "plot cv: --grid too large for two inputs" "--grid 3000: at most 2000 per input for two inputs" \
    plot cv m2.json --grid 3000 -o out.png
refused "plot cv: a CSV off the h1 x h2 grid" "offgrid.csv:5: not on the grid" plot cv offgrid.csv -o out.png
refused "plot fit: --truth without a truth column" "xonly.csv: no truth column" \
    plot fit m1.json --truth xonly.csv -o out.png
"$NW" gen --n 1000 -o g1000.csv && "$NW" gen --grid --m 50001 -o q50k.csv &&
"$NW" fit g1000.csv --bandwidth 0.5 -o g1000.json -q || { echo "not ok - fixtures: nwreg gen"; exit 1; }
refused "plot weights: more weights than can be drawn" \
    "q50k.csv: 50001 queries x 1000 training points is too many weights to draw" \
    plot weights g1000.json q50k.csv -o out.png
refused "plot loss: a bad cell in a CSV from stdin names -" "-:3:" plot loss - -o out.png <<'EOF2'
loss
0.5
zz
EOF2

# info from stdin: a corrupt model is named <stdin>, not the spooled copy
run info - < corrupt.json
if status_is 2 && [ "$(wc -l < err)" -eq 1 ] && grep -q '^nwreg: <stdin>:15:' err; then
    ok "info: a corrupt model on stdin is named <stdin>"
else not_ok "info: a corrupt model on stdin is named <stdin>"; fi
mkdir adir
run info - < adir
if status_is 2 && [ "$(wc -l < err)" -eq 1 ] && grep -q '^nwreg: <stdin>: cannot read: Is a directory' err; then
    ok "info: stdin that cannot be read"
else not_ok "info: stdin that cannot be read"; fi
if [ -w /dev/full ]; then
    "$NW" info m1.json >/dev/full 2>err
    rc=$?
    if status_is 1 && [ "$(wc -l < err)" -eq 1 ] && grep -q '^nwreg: <stdout>: cannot write: No space left on device' err; then
        ok "info: stdout on a full device"
    else not_ok "info: stdout on a full device"; fi
else
    echo "ok - info: stdout on a full device # SKIP no /dev/full"
fi
# demo: an output folder that cannot be made
run demo --out "$long/sub" --quiet
if status_is 1 && [ "$(wc -l < err)" -eq 1 ] && grep -q "cannot create directory: File name too long" err &&
   [ ! -e "$long" ]; then
    ok "demo: an output folder that cannot be made"
else not_ok "demo: an output folder that cannot be made"; fi
# a model file without names: plot fit calls the input x
run plot fit nonames.json -o nonames.png
check "plot fit: a model without names" eval 'status_is 0 && [ ! -s err ] && [ -s nonames.png ]'
# a 2-d cv with its contour plot
run cv abc.csv --grid 3 --plot cv2.svg --quiet
check "cv: two inputs, contour plot" eval 'status_is 0 && grep -q "<svg" cv2.svg'
# the top level: no command is a usage error (usage on stderr), help is not
run
check "nwreg without a command: usage on stderr, exit 2" eval 'status_is 2 && [ ! -s out ] && grep -q "^usage: nwreg" err'
run help
check "nwreg help: usage on stdout, exit 0" eval 'status_is 0 && [ ! -s err ] && grep -q "^usage: nwreg" out'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
