#!/bin/sh
# plot_cli_tests.sh NWREG SOURCE_DIR: end-to-end tests of `nwreg plot`.
#
# Every figure (fit for one and two inputs, weights, cv from a model and
# from `nwreg cv`'s output, loss from `nwreg train`'s output and from a CSV)
# is written as PNG, SVG and PDF and checked by its magic bytes and size;
# --width/--height are checked in the PNG header; bad inputs must exit 2
# with one line on stderr, an unwritable output 1, and neither may leave a
# file behind.  Prints "ok - NAME" / "not ok - NAME", then "N passed, M
# failed"; exits 1 if any failed.  NW_PLOT_KEEP=DIR copies the figures
# there, for a look.

NW=${1:?usage: plot_cli_tests.sh NWREG SOURCE_DIR}
SRC=${2:?usage: plot_cli_tests.sh NWREG SOURCE_DIR}
case $NW in /*) ;; *) NW=$(pwd)/$NW ;; esac
case $SRC in /*) ;; *) SRC=$(pwd)/$SRC ;; esac
TRAIN=$SRC/tests/cli/data/notebook_train.csv
D2=$SRC/tests/reference/data/d2.csv
D2P2=$SRC/tests/reference/data/d2p2.csv
. "$SRC/tests/cli/lib.sh"
cli_test_setup plot
one_line_err() { [ "$(wc -l <err)" -eq 1 ] && grep -q '^nwreg: ' err; }
err_has() { grep -q -F -- "$1" err; }
fails_with() { status_is "$1" && one_line_err && err_has "$2"; }
# the directory holds exactly the names given (nothing half-written)
only() { [ "$(ls -A figs | LC_ALL=C sort | tr '\n' ' ')" = "$* " ]; }

# ---------------------------------------------------------------- inputs
"$NW" fit "$TRAIN" --select loo -o m1.json >/dev/null 2>&1 &&
"$NW" fit "$D2" --select loo -o m2.json >/dev/null 2>&1 &&
"$NW" fit "$D2P2" --x x1,x2 --y y1,y2 --bandwidth 0.3,0.6 -o m22.json >/dev/null 2>&1 &&
"$NW" gen --grid > grid.csv &&
"$NW" cv "$TRAIN" --grid 20 > cv1.csv &&
"$NW" cv "$D2" --grid 8 > cv2.csv &&
"$NW" train "$TRAIN" --epochs 8 > train.log 2>/dev/null &&
printf 'epoch,loss\n1,4.5\n2,3.25\n3,3.0\n' > loss.csv
check "inputs made by nwreg fit, gen, cv and train" [ $? -eq 0 ]
mkdir figs

# --------------------------------------------------------------- figures
for ext in png svg pdf; do
    run plot fit m1.json --truth grid.csv -o "figs/fit1.$ext"
    check "plot fit, one input, truth: $ext" eval 'status_is 0 && is_fig figs/fit1.$ext && [ ! -s err ]'
    run plot fit m2.json -o "figs/fit2.$ext" --grid 40
    check "plot fit, two inputs (surface): $ext" eval 'status_is 0 && is_fig figs/fit2.$ext'
    run plot weights m1.json grid.csv -o "figs/weights1.$ext"
    check "plot weights, one input: $ext" eval 'status_is 0 && is_fig figs/weights1.$ext'
    run plot cv m1.json -o "figs/cvmodel1.$ext" --grid 15
    check "plot cv from a model, one input: $ext" eval 'status_is 0 && is_fig figs/cvmodel1.$ext'
    run plot cv cv1.csv -o "figs/cvtable1.$ext"
    check "plot cv from nwreg cv's CSV, one input: $ext" eval 'status_is 0 && is_fig figs/cvtable1.$ext'
    run plot cv cv2.csv -o "figs/cvtable2.$ext"
    check "plot cv from nwreg cv's CSV, two inputs: $ext" eval 'status_is 0 && is_fig figs/cvtable2.$ext'
    run plot loss train.log -o "figs/loss.$ext"
    check "plot loss from nwreg train's output: $ext" eval 'status_is 0 && is_fig figs/loss.$ext'
done
run plot fit m22.json --y y2 -o figs/fit22.png --grid 30
check "plot fit, two inputs, second output by name" eval 'status_is 0 && is_fig figs/fit22.png'
run plot fit m1.json --data "$TRAIN" -o figs/fitdata.png --grid 50
check "plot fit --data" eval 'status_is 0 && is_fig figs/fitdata.png'
run plot weights m2.json "$D2" -o figs/weights2.png
check "plot weights, two inputs" eval 'status_is 0 && is_fig figs/weights2.png'
"$NW" gen --n 1200 --seed 2 2>/dev/null | "$NW" fit - --bandwidth 0.1 -o big.json >/dev/null 2>&1
run plot weights big.json grid.csv -o figs/weightsbig.png
check "plot weights with 1200 training points (binned to 500 columns)" eval 'status_is 0 && is_fig figs/weightsbig.png'
run plot cv m2.json -o figs/cvmodel2.png --grid 6 --criterion aicc
check "plot cv from a model, two inputs, AICc" eval 'status_is 0 && is_fig figs/cvmodel2.png'
run plot cv m1.json "$TRAIN" -o figs/cvdata.png --grid 10 --hmin 0.05 --hmax 2
check "plot cv MODEL DATA --hmin --hmax" eval 'status_is 0 && is_fig figs/cvdata.png'
run plot loss loss.csv -o figs/losscsv.png
check "plot loss from a CSV with a loss column" eval 'status_is 0 && is_fig figs/losscsv.png'
"$NW" train "$TRAIN" --epochs 3 2>/dev/null | "$NW" plot loss - -o figs/losspipe.png 2>err
check "nwreg train | nwreg plot loss - (stdin)" eval '[ $? -eq 0 ] && is_fig figs/losspipe.png'
"$NW" cv "$TRAIN" --grid 10 2>/dev/null | "$NW" plot cv - -o figs/cvpipe.svg 2>err
check "nwreg cv | nwreg plot cv - (stdin)" eval '[ $? -eq 0 ] && is_fig figs/cvpipe.svg'
run plot fit m1.json -o figs/sized.png --width 1000 --height 420 --title 'h # 1' --xlabel 'x [units]' --ylabel 'f(x)'
# PNG: width and height are the big-endian words at bytes 16 and 20
check "--width 1000 --height 420: the PNG is 1000 x 420 pixels" eval \
    'status_is 0 && [ "$(bytes figs/sized.png 16 8)" = 000003e8000001a4 ]'
run plot fit m1.json -o figs/plain.png
check "default page: 800 x 600 pixels" eval '[ "$(bytes figs/plain.png 16 8)" = 0000032000000258 ]'
run plot fit m1.json -o figs/forced.img --format svg
check "--format svg whatever the extension" eval 'status_is 0 && head -c 200 figs/forced.img | grep -q "^<?xml"'
run plot fit m1.json -o figs/sized.pdf --width 300 --height 200
# PDF: the page is 300 x 200 points
check "--width/--height give the PDF's page in points" eval \
    'status_is 0 && grep -a -q "MediaBox *\[ *0 0 300 200 *\]" figs/sized.pdf'
check "nothing else was written" only cvdata.png cvmodel1.pdf cvmodel1.png cvmodel1.svg cvmodel2.png \
    cvpipe.svg cvtable1.pdf cvtable1.png cvtable1.svg cvtable2.pdf cvtable2.png cvtable2.svg \
    fit1.pdf fit1.png fit1.svg fit2.pdf fit2.png fit2.svg fit22.png fitdata.png forced.img \
    loss.pdf loss.png loss.svg losscsv.png losspipe.png plain.png sized.pdf sized.png \
    weights1.pdf weights1.png weights1.svg weights2.png weightsbig.png
[ -n "${NW_PLOT_KEEP:-}" ] && mkdir -p "$NW_PLOT_KEEP" && cp figs/* "$NW_PLOT_KEEP"/

# -------------------------------------------------------------- help
run plot --help
check "plot --help exits 0 and names the four figures" eval \
    'status_is 0 && grep -q "nwreg plot fit" out && grep -q "nwreg plot weights" out && grep -q "nwreg plot cv" out && grep -q "nwreg plot loss" out && [ ! -s err ]'
cp out help1
run help plot
check "help plot equals plot --help" eval 'status_is 0 && cmp -s out help1'
run plot fit --help
check "plot fit --help is the same help" eval 'status_is 0 && cmp -s out help1'
for opt in --quiet --verbose --delim --comment --precision --engine --tolerance; do
    check "plot --help lists the common option $opt" grep -q -e "$opt" help1
done

# ---------------------------------------------------- common options
# The options every subcommand shares.  SVG output is deterministic, so a
# figure drawn from the same numbers read another way must be the same bytes.
mkdir common
run plot fit m1.json --truth grid.csv -o common/ref.svg
# grid.csv with ';' for ',', a comment line before the header and one inside
{ echo "# the test grid"; sed 's/,/;/' grid.csv | sed '3a # a comment'; } > grid_semi.csv
run plot fit m1.json --truth grid_semi.csv -o common/semi.svg
check "a comment line without --comment exits 2 naming the file and line" \
    eval 'fails_with 2 "grid_semi.csv:2:" && [ ! -e common/semi.svg ]'
run plot fit m1.json --truth grid_semi.csv --delim ';' --comment '#' -o common/semi.svg
check "--delim ';' --comment '#': the same figure as from the comma file" \
    eval 'status_is 0 && cmp -s common/ref.svg common/semi.svg'
run plot fit m1.json --truth grid.csv --delim ';' -o common/wrong.svg
check "--delim ';' on a comma file exits 2 (the file is read with it)" \
    eval 'fails_with 2 "grid.csv:2:" && [ ! -e common/wrong.svg ]'
tr ',' '\t' < grid.csv > grid.tsv
run plot weights m1.json grid.tsv --delim tab -o common/wtab.svg
run plot weights m1.json grid.csv -o common/wcomma.svg
check "plot weights QUERIES --delim tab: the same figure as from the comma file" \
    eval 'status_is 0 && cmp -s common/wcomma.svg common/wtab.svg'
run plot fit m1.json --truth grid.csv --precision 5 -o common/digits.svg
check "--precision N (digits of text output) leaves the figure as it was" \
    eval 'status_is 0 && cmp -s common/ref.svg common/digits.svg'
run plot fit m1.json --engine dense --verbose -o common/dense.png
check "--verbose names the engine and the file written, on stderr only" \
    eval 'status_is 0 && [ ! -s out ] && grep -q "^nwreg: plot fit: engine dense" err && grep -q "wrote common/dense.png" err'
run plot fit m1.json --engine sorted --tolerance 1e-6 --verbose -o common/sorted.png
check "--engine sorted --tolerance 1e-6: the sorted engine ran, bound within 1e-6" \
    eval 'status_is 0 && is_fig common/sorted.png && awk "/engine sorted, certified relative error/ { ok = \$9 + 0 <= 1e-6 && \$9 ~ /^[0-9]/ } END { exit !ok }" err'
run plot fit m1.json --precision f32 --verbose -o common/f32.png
check "--precision f32 draws the figure" eval 'status_is 0 && is_fig common/f32.png && grep -q "engine dense" err'
run plot fit m1.json --tolerance 1 -o common/tol.png
check "--tolerance 1 (out of range) exits 2" eval 'fails_with 2 "--tolerance" && [ ! -e common/tol.png ]'
run plot fit m1.json --engine warp -o common/warp.png
check "--engine warp exits 2" eval 'fails_with 2 "--engine" && [ ! -e common/warp.png ]'
run plot cv m1.json --grid 15 --verbose -o common/cv.png
check "plot cv --verbose reports the grid and the optimum" \
    eval 'status_is 0 && grep -q "15 criterion evaluations on the grid" err && grep -q "optimum after" err'
run plot weights m1.json grid.csv --verbose -o common/wv.png
check "plot weights --verbose reports the attention matrix" eval 'status_is 0 && grep -q "attention matrix 50 x 50" err'
# the progress bar: forced on (stderr is not a terminal here), shown at once
NWREG_PROGRESS=always NWREG_PROGRESS_DELAY=0 "$NW" plot cv m1.json --grid 400 -o common/bar.png 2>err
check "NWREG_PROGRESS=always: plot cv draws a progress bar on stderr" \
    eval '[ $? -eq 0 ] && grep -a -q "cv grid \[" err'
NWREG_PROGRESS=always NWREG_PROGRESS_DELAY=0 "$NW" plot cv m1.json --grid 400 -q -o common/quiet.png 2>err
check "... and -q turns it off (stderr empty)" eval '[ $? -eq 0 ] && [ ! -s err ] && is_fig common/quiet.png'
"$NW" plot cv m1.json --grid 400 -o common/nobar.png 2>err
check "no progress bar when stderr is not a terminal" eval '[ $? -eq 0 ] && [ ! -s err ]'

# ---------------------------------------------------------- bad input: 2
mkdir bad
printf 'x,y\n1,2\n3,oops\n' > bad.csv
printf 'h,criterion\n1,2\n0.5,3\n' > unsorted.csv
printf 'h1,h2,criterion\n1,1,2\n1,2,3\n2,1,4\n' > ragged.csv
printf 'epoch 1 loss 3\nepoch 3 loss 2\n' > skipped.log
run plot
check "plot without a figure exits 2" fails_with 2 "missing the figure"
run plot pie m1.json -o bad/a.png
check "an unknown figure exits 2" fails_with 2 "'pie' is not a figure"
run plot wieghts m1.json grid.csv -o bad/a.png
check "a mistyped figure exits 2 with a suggestion" fails_with 2 "did you mean 'weights'?"
run plot fit m1.json
check "missing -o exits 2" fails_with 2 "missing -o FILE"
run plot fit m1.json -o bad/a.gif
check "an unknown extension exits 2" fails_with 2 "a.gif"
run plot fit m1.json -o bad/a.png --width 10
check "--width 10 exits 2" fails_with 2 "--width"
run plot fit m1.json -o bad/a.png --height 20000
check "--height 20000 exits 2" fails_with 2 "--height"
run plot fit m1.json -o bad/a.png --criterion loo
check "an option of another figure exits 2" fails_with 2 "--criterion is not for plot fit"
run plot fit missing.json -o bad/a.png
check "a missing model exits 2" fails_with 2 "missing.json"
run plot fit bad.csv -o bad/a.png
check "a CSV given as a model exits 2" fails_with 2 "bad.csv"
run plot fit m1.json --truth bad.csv -o bad/a.png
check "a bad cell in --truth exits 2 naming line and column" fails_with 2 "bad.csv:3"
run plot fit m2.json --truth grid.csv -o bad/a.png
check "--truth with two inputs exits 2" fails_with 2 "--truth"
run plot fit m1.json --data "$D2" -o bad/a.png
check "--data without the model's columns exits 2" fails_with 2 "no column 'x'"
run plot fit m1.json --y 2 -o bad/a.png
check "--y naming a missing output exits 2" fails_with 2 "--y '2'"
run plot weights m1.json -o bad/a.png
check "plot weights without queries exits 2" fails_with 2 "needs MODEL.json and QUERIES.csv"
run plot weights m1.json "$D2" -o bad/a.png
check "queries without the model's input exit 2" fails_with 2 "no column 'x'"
run plot cv "$TRAIN" -o bad/a.png
check "plot cv on a data CSV exits 2" fails_with 2 "columns h,criterion or h1,h2,criterion"
run plot cv unsorted.csv -o bad/a.png
check "plot cv with descending bandwidths exits 2" fails_with 2 "unsorted.csv:3"
run plot cv ragged.csv -o bad/a.png
check "plot cv with a ragged 2-d grid exits 2" fails_with 2 "ragged.csv"
run plot cv m1.json -o bad/a.png --hmin 2 --hmax 1
check "plot cv --hmin above --hmax exits 2" fails_with 2 "--hmin"
run plot loss "$TRAIN" -o bad/a.png
check "plot loss on data without a loss column exits 2" fails_with 2 "column named loss"
run plot loss skipped.log -o bad/a.png
check "plot loss with a missing epoch exits 2 naming the line" fails_with 2 "skipped.log:2"
run plot loss train.log loss.csv -o bad/a.png
check "plot loss with two files exits 2" fails_with 2 "too many arguments"
run plot fit m1.json --frobnicate -o bad/a.png
check "an unknown option exits 2" fails_with 2 "--frobnicate"
check "no file left behind by a failure" eval '[ -z "$(ls -A bad)" ]'

# ------------------------------------------------------ unwritable: 1
mkdir ro && chmod 555 ro
if [ "$(id -u)" -ne 0 ]; then
    run plot fit m1.json -o ro/a.png
    check "an unwritable directory exits 1" fails_with 1 "ro/a.png"
    check "... and leaves nothing there" eval '[ -z "$(ls -A ro)" ]'
fi
run plot fit m1.json -o no/such/dir/a.png
check "a missing directory exits 1" fails_with 1 "no/such/dir/a.png"
# Ctrl-C while plot cv computes (100000 criterion evaluations: minutes):
# exit 130, "nwreg: interrupted", no figure
"$NW" plot cv big.json --grid 100000 -o figs/intr.png 2>err &
pid=$!
sleep 1
kill -INT "$pid"
wait "$pid"
rc=$?
check "Ctrl-C during plot cv: exit 130, one line, no file" eval \
    'fails_with 130 "interrupted" && [ -z "$(ls figs | grep intr)" ]'
echo keep > figs/keep.png
run plot fit missing.json -o figs/keep.png
check "a failed plot leaves an existing file as it was" eval 'status_is 2 && [ "$(cat figs/keep.png)" = keep ]'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
