#!/bin/sh
# plot_loading.sh NWREG SOURCE_DIR SONAME OTHER_LIB: PLplot is opened at run
# time (dlopen of SONAME, cli/plot.c), by the commands that draw only.
#
# With LD_DEBUG=files the dynamic loader names on stderr every library it
# opens: the commands that draw nothing must not open SONAME, and those
# that draw must (and write valid PNG, SVG and PDF).  Then SONAME is made
# to fail through LD_LIBRARY_PATH, once as an empty file (dlopen fails) and
# once as a copy of OTHER_LIB, a shared library that is not PLplot (dlsym
# fails): a command that would draw must exit 1 with one line naming SONAME
# and the loader's reason, before it writes or creates anything; the others
# must not notice.  Prints "ok - NAME" / "not ok - NAME", then "N passed,
# M failed"; exits 1 if any failed.

usage="usage: plot_loading.sh NWREG SOURCE_DIR SONAME OTHER_LIB"
NW=${1:?$usage}
SRC=${2:?$usage}
SONAME=${3:?$usage}
OTHER_LIB=${4:?$usage}
case $NW in /*) ;; *) NW=$(pwd)/$NW ;; esac
case $SRC in /*) ;; *) SRC=$(pwd)/$SRC ;; esac
case $OTHER_LIB in /*) ;; *) OTHER_LIB=$(pwd)/$OTHER_LIB ;; esac
TRAIN=$SRC/tests/cli/data/notebook_train.csv
. "$SRC/tests/cli/lib.sh"
cli_test_setup plot-loading
one_line_err() { [ "$(wc -l <err)" -eq 1 ] && grep -q '^nwreg: ' err; }
err_has() { grep -q -F -- "$1" err; }
fails_with() { status_is "$1" && one_line_err && err_has "$2"; }

# traced ARGS...: run, with the loader's record of the files it opens in ./err
traced() { LD_DEBUG=files "$NW" "$@" >out 2>err; rc=$?; }
opened_plplot() { grep -q -F "file=$SONAME " err; }
# broken DIR ARGS...: run, with DIR/SONAME found before the real PLplot
broken() {
    dir=$1
    shift
    LD_LIBRARY_PATH=$T/$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$NW" "$@" >out 2>err
    rc=$?
}

cp "$TRAIN" train.csv &&
"$NW" fit train.csv --bandwidth 0.5 -o m.json >/dev/null 2>&1 &&
"$NW" gen --grid > grid.csv &&
"$NW" train train.csv --epochs 3 > train.log 2>/dev/null
check "inputs made by nwreg fit, gen and train" [ $? -eq 0 ]
mkdir figs

# ------------------------------------------- commands that draw nothing
for cmd in "--version" "--help" "gen --n 50" "fit train.csv --select loo" \
           "predict m.json grid.csv" "predict train.csv grid.csv --bandwidth 0.5" \
           "cv train.csv --grid 10" "info m.json" "train train.csv --epochs 2" \
           "plot --help" "demo --help" "plot fit m.json" "plot pie m.json -o figs/a.png"; do
    # shellcheck disable=SC2086
    traced $cmd
    check "nwreg $cmd does not open $SONAME" eval '! opened_plplot'
done

# --------------------------------------------- commands that draw
for ext in png svg pdf; do
    traced plot fit m.json --truth grid.csv -o "figs/fit.$ext"
    check "plot fit -o fit.$ext opens $SONAME and writes the figure" \
        eval 'status_is 0 && opened_plplot && is_fig figs/fit.$ext'
done
traced cv train.csv --grid 10 --plot figs/cv.svg
check "cv --plot opens $SONAME and writes the figure" eval 'status_is 0 && opened_plplot && is_fig figs/cv.svg'
traced demo --out figs/demo --quiet
check "demo opens $SONAME and writes its 8 figures" \
    eval 'status_is 0 && opened_plplot && [ "$(ls figs/demo | wc -l)" -eq 8 ] && is_fig figs/demo/loss.png'

# ------------------------------------------ a PLplot that does not load
mkdir short other kept
: > "short/$SONAME"
cp "$OTHER_LIB" "other/$SONAME"
echo keep > kept/fit.png
for lib in short other; do
    why="cannot load PLplot's library $SONAME: $T/$lib/$SONAME: "
    broken "$lib" plot fit m.json -o "kept/fit.png"
    check "$lib: plot fit exits 1, one line naming $SONAME and the reason" fails_with 1 "$why"
    check "$lib: ... and leaves the existing figure as it was" \
        eval '[ "$(ls -A kept)" = fit.png ] && [ "$(cat kept/fit.png)" = keep ]'
    broken "$lib" plot loss train.log -o "$lib-loss.png"
    check "$lib: plot loss exits 1 and writes nothing" eval 'fails_with 1 "$why" && [ ! -e "$lib-loss.png" ]'
    broken "$lib" cv train.csv --grid 10 --plot "$lib-cv.png"
    check "$lib: cv --plot exits 1 before printing its table" \
        eval 'fails_with 1 "$why" && [ ! -s out ] && [ ! -e "$lib-cv.png" ]'
    broken "$lib" demo --out "$lib-demo" --quiet
    check "$lib: demo exits 1 and creates no output folder" \
        eval 'fails_with 1 "$why" && [ ! -s out ] && [ ! -e "$lib-demo" ]'
    broken "$lib" predict m.json grid.csv
    check "$lib: predict does not notice" eval 'status_is 0 && [ ! -s err ] && [ "$(wc -l <out)" -gt 1 ]'
    broken "$lib" cv train.csv --grid 10
    check "$lib: cv without --plot does not notice" eval 'status_is 0 && [ ! -s err ]'
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
