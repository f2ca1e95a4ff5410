#!/bin/sh
# coverage_cli.sh NWREG SOURCE_DIR: the error paths of the CLI's option and
# column handling (cli/common.c) that scripts/coverage found no other CLI
# test reaching: getopt's errors, --empty, --comment, and choosing columns
# with --x/--y.  Every refused case must exit 2 with exactly one line on
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
# "nwreg: ..." containing FRAGMENT, and out.* was not written
refused() {
    name=$1 fragment=$2
    shift 2
    rm -f out.csv out.json
    "$NW" "$@" >out 2>err
    rc=$?
    if [ $rc -ne 2 ]; then echo "#   exit status $rc, expected 2"; not_ok "$name"; return; fi
    if [ "$(wc -l < err)" -ne 1 ] || ! grep -q '^nwreg: ' err; then
        echo "#   stderr is not one 'nwreg: ' line"; not_ok "$name"; return
    fi
    if ! grep -q -F -- "$fragment" err; then echo "#   no '$fragment'"; not_ok "$name"; return; fi
    if [ -e out.csv ] || [ -e out.json ]; then echo "#   an output file was written"; not_ok "$name"; return; fi
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

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
