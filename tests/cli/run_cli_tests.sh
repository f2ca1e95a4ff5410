#!/bin/sh
# run_cli_tests.sh NWREG SOURCE_DIR: end-to-end tests of the nwreg program.
#
# Prints "ok - NAME" or "not ok - NAME" per check, then "N passed, M failed";
# exits 1 if any failed.  Data: tests/cli/data/notebook_{train,test}.csv (the
# notebook's torch data, copied from shared/data) and small files made here.

NW=${1:?usage: run_cli_tests.sh NWREG SOURCE_DIR}
SRC=${2:?usage: run_cli_tests.sh NWREG SOURCE_DIR}
case $NW in /*) ;; *) NW=$(pwd)/$NW ;; esac
case $SRC in /*) ;; *) SRC=$(pwd)/$SRC ;; esac
DATA=$SRC/tests/cli/data
TRAIN=$DATA/notebook_train.csv
TEST=$DATA/notebook_test.csv
T=$(mktemp -d "${TMPDIR:-/tmp}/nwreg-cli.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
cd "$T" || exit 1
export OMP_NUM_THREADS=2

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() {
    failed=$((failed + 1))
    echo "not ok - $1"
    [ -s err ] && sed 's/^/#   stderr: /' err | head -3
}
# check NAME COMMAND...: passes when COMMAND succeeds
check() { name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }

# run ARGS...: nwreg with stdout in ./out, stderr in ./err, status in $rc
run() { "$NW" "$@" >out 2>err; rc=$?; }

# helpers for check
status_is() { [ "$rc" -eq "$1" ]; }
one_line_err() { [ "$(wc -l <err)" -eq 1 ]; }
err_has() { grep -q -F -- "$1" err; }
out_has() { grep -q -F -- "$1" out; }
absent() { for f; do [ ! -e "$f" ] || return 1; done; }
# status $1 and exactly one line of stderr containing $2
fails_with() { status_is "$1" && one_line_err && err_has "$2"; }
magic() { od -An -tx1 -N4 "$1" | tr -d ' \n'; }

# ------------------------------------------------------------------ help
for c in demo gen train predict fit cv; do
    run "$c" --help
    check "$c --help exits 0 with a usage block" eval 'status_is 0 && out_has "usage: nwreg $c" && [ ! -s err ]'
    cp out help1
    run help "$c"
    check "help $c equals $c --help" eval 'status_is 0 && cmp -s out help1'
done
run --help
check "--help lists the commands" eval 'status_is 0 && out_has predict && out_has demo'
run --version
check "--version" eval 'status_is 0 && grep -q "^nwreg [0-9][0-9.]*$" out'
run predict --help
check "predict --help lists defaults" eval 'out_has "--kernel" && out_has "default gaussian"'

# ---------------------------------------------------------- usage errors
run frobnicate
check "unknown subcommand exits 2" fails_with 2 "'frobnicate' is not a command"
run train "$TRAIN" --frobnicate
check "unknown option exits 2 with a hint" fails_with 2 "see 'nwreg train --help'"
run train "$TRAIN" --lr
check "missing option value exits 2" fails_with 2 "'--lr' needs a value"
run predict "$TRAIN" "$TEST" --w abc
check "--w abc exits 2" fails_with 2 "--w 'abc'"
run train "$TRAIN" --epochs 2.5
check "--epochs 2.5 exits 2" fails_with 2 "--epochs"
run predict "$TRAIN" "$TEST"
check "predict without a bandwidth exits 2" fails_with 2 "give --w, --bandwidth or --select"
run train
check "train without a file exits 2" fails_with 2 "missing TRAIN.csv"

# -------------------------------------------------------------- training
run train "$TRAIN" --w0 0.3755578398704529
check "train: exit 0" status_is 0
check "train: 5 epoch lines" eval \
    '[ "$(grep -E -c "^epoch [1-5] loss [^ ]+ w [^ ]+ grad [^ ]+$" out)" -eq 5 ] && [ "$(wc -l <out)" -eq 6 ]'
check "train: epoch-1 loss matches the notebook (1e-9 relative)" \
    awk -v ref=30.97511062069124 'NR == 1 { d = $4 - ref; if (d < 0) d = -d; good = d <= 1e-9 * ref }
                                  END { exit !good }' out
check "train: last line is w W" eval 'tail -n 1 out | grep -q -E "^w 4\.59672[0-9]*$"'
run train "$TRAIN" --w0 0.3755578398704529 -o trained.json
check "train -o saves a model" eval 'status_is 0 && [ -s trained.json ]'

# ------------------------------------------------------------ bad inputs
printf 'x,y\n1,2\n2,abc\n3,4\n' >bad.csv
run predict bad.csv "$TEST" --w 1 -o pred.csv --weights w.csv
check "non-numeric cell: exit 1, one line naming bad.csv:3:" fails_with 1 "bad.csv:3:"
check "non-numeric cell: no output files" absent pred.csv w.csv
run train bad.csv -o model.json
check "train on a bad file: no model file" eval 'status_is 1 && absent model.json'
run predict "$TRAIN" bad.csv --w 1 -o pred.csv
check "bad queries file: exit 1, no output" eval 'fails_with 1 "bad.csv:3:" && absent pred.csv'
run predict no-such-file.csv "$TEST" --w 1 -o pred.csv
check "missing file: the message names it" eval 'fails_with 1 "no-such-file.csv" && absent pred.csv'
printf 'x,y\n1,2\n2,nan\n' >nan.csv
run fit nan.csv
check "NaN cell: exit 1 naming nan.csv:3:" fails_with 1 "nan.csv:3:"
printf 'x,y\n' >empty.csv
run fit empty.csv -o model.json
check "header only: exit 1, no model" eval 'fails_with 1 "empty.csv" && absent model.json'
printf 'x,y\n1,2\n3\n4,5\n' >ragged.csv
run train ragged.csv
check "ragged row: exit 1 naming ragged.csv:3:" fails_with 1 "ragged.csv:3:"
for bw in "--w 0" "--bandwidth 0" "--bandwidth -1"; do
    # shellcheck disable=SC2086
    run predict "$TRAIN" "$TEST" $bw -o pred.csv
    check "predict $bw: clear error, no output" eval '{ status_is 1 || status_is 2; } && one_line_err && absent pred.csv'
done
run fit "$TRAIN" --x nope
check "unknown column: exit 1 naming it" fails_with 1 "'nope'"

# ------------------------------------------------------------ prediction
run predict "$TRAIN" "$TEST" --w 1 -o pred.csv --weights w.csv
check "predict: exit 0, nothing on stdout" eval 'status_is 0 && [ ! -s out ]'
check "predict: header x,yhat and 50 rows" eval '[ "$(head -n 1 pred.csv)" = "x,yhat" ] && [ "$(wc -l <pred.csv)" -eq 51 ]'
check "weights: 50 rows of 50 columns, each summing to 1" \
    awk -F, '{ s = 0; for (i = 1; i <= NF; i++) s += $i; if (NF != 50 || s < 1 - 1e-12 || s > 1 + 1e-12) bad = 1 }
             END { exit bad || NR != 50 }' w.csv
run predict "$TRAIN" "$TEST" --w 1
check "predict to stdout equals -o" eval 'cmp -s out pred.csv'

# ------------------------------------------------------------- generator
"$NW" gen --n 50 --seed 3 >g3a.csv
"$NW" gen --n 50 --seed 3 >g3b.csv
"$NW" gen --n 50 --seed 4 >g4.csv
check "gen: same seed, same data" cmp -s g3a.csv g3b.csv
check "gen: another seed, other data" eval '! cmp -s g3a.csv g4.csv'
check "gen: header and 50 rows" eval '[ "$(head -n 1 g3a.csv)" = "x,y" ] && [ "$(wc -l <g3a.csv)" -eq 51 ]'
run gen --grid -o grid.csv
check "gen --grid: x,y_truth, 50 rows" eval 'status_is 0 && [ "$(head -n 1 grid.csv)" = "x,y_truth" ] && [ "$(wc -l <grid.csv)" -eq 51 ]'

# ------------------------------------------------------------ fit / model
run fit "$TRAIN" --bandwidth 0.3 -o model.json
check "fit -o: exit 0, summary, model" eval 'status_is 0 && out_has "R-squared" && [ -s model.json ]'
"$NW" predict model.json "$TEST" >p_model.csv 2>err
"$NW" predict "$TRAIN" "$TEST" --bandwidth 0.3 >p_data.csv 2>>err
check "saved model predicts exactly as the data (--bandwidth)" eval '[ -s p_model.csv ] && cmp -s p_model.csv p_data.csv'
"$NW" fit "$TRAIN" -o loo.json >/dev/null 2>err
"$NW" predict loo.json "$TEST" >p_model.csv 2>>err
"$NW" predict "$TRAIN" "$TEST" --select loo >p_data.csv 2>>err
check "saved model predicts exactly as the data (--select loo)" eval '[ -s p_model.csv ] && cmp -s p_model.csv p_data.csv'
"$NW" predict trained.json "$TEST" >p_model.csv 2>err
check "a model saved by train predicts" eval '[ "$(wc -l <p_model.csv)" -eq 51 ]'
run predict model.json "$TEST" --kernel uniform
check "options cannot change a saved model" fails_with 2 "cannot change a saved model"
run fit "$TRAIN"
check "fit without -o: LOO CV selection summary" eval 'status_is 0 && out_has "minimum LOO CV" && out_has "w = 1/h = 3.964"'

# ----------------------------------------------------- several columns
awk -F, 'NR == 1 { print "a,b,z"; next } { print $1 "," ($1 * 7) % 3 "," $2 }' "$TRAIN" >d2.csv
awk -F, 'NR == 1 { print "a,b"; next } { print $1 "," ($1 * 7) % 3 }' "$TEST" >q2.csv
run fit d2.csv --bandwidth 0.3,1 -o m2.json
check "two inputs by default (all but the last)" eval 'status_is 0 && out_has "2: a b"'
run predict m2.json q2.csv
check "two-input model predicts, columns a,b,yhat" eval 'status_is 0 && [ "$(head -n 1 out)" = "a,b,yhat" ]'
run predict d2.csv q2.csv --x 1 --y z --w 2
check "--x by index, --y by name" eval 'status_is 0 && [ "$(head -n 1 out)" = "a,yhat" ]'
run predict m2.json "$TEST"
check "missing query column is named" fails_with 1 "no column 'a'"

# ------------------------------------------------------------ compact kernels
run predict "$TRAIN" "$TEST" --kernel uniform --bandwidth 0.01 -o pred.csv
check "empty neighbourhoods: NaN and a warning" eval \
    'status_is 0 && grep -q nan pred.csv && one_line_err && err_has "warning:" && err_has "queries had no training point within the kernel" && err_has "(use --empty nearest)"'
run predict "$TRAIN" "$TEST" --kernel uniform --bandwidth 0.01 --empty nearest -o pred.csv
check "--empty nearest: no NaN, no warning" eval 'status_is 0 && ! grep -q nan pred.csv && [ ! -s err ]'

# -------------------------------------------------------------------- cv
run cv "$TRAIN" --plot cv.svg
check "cv: header, 60 grid rows and the optimum" eval \
    'status_is 0 && [ "$(head -n 1 out)" = "h,criterion" ] && [ "$(grep -c "^[0-9]" out)" -eq 60 ] && tail -n 1 out | grep -q "^# optimum h=0\.2522"'
check "cv --plot writes an SVG" grep -q "<svg" cv.svg
run cv d2.csv --grid 5 --criterion aicc
check "cv: 2-d grid of 25 cells" eval 'status_is 0 && [ "$(head -n 1 out)" = "h1,h2,criterion" ] && [ "$(grep -c "^[0-9]" out)" -eq 25 ] && tail -n 1 out | grep -q "^# optimum h=.*,.* criterion="'
run cv "$TRAIN" --plot cv.gif
check "cv --plot with an unknown extension exits 2" fails_with 2 "cv.gif"

# ------------------------------------------------------------------ demo
run demo --out figs --format all --quiet
check "demo: exit 0 and the table" eval 'status_is 0 && out_has "LOO optimum" && out_has "baseline (mean)" && ! grep -q "^epoch" out'
missing=
for f in baseline fixed fixed_attention loss learned learned_attention loo_optimum cv_curve; do
    [ -s "figs/$f.png" ] && [ "$(magic "figs/$f.png")" = 89504e47 ] || missing="$missing $f.png"
    [ -s "figs/$f.svg" ] && grep -q "<svg" "figs/$f.svg" || missing="$missing $f.svg"
    [ -s "figs/$f.pdf" ] && [ "$(magic "figs/$f.pdf")" = 25504446 ] || missing="$missing $f.pdf"
done
check "demo --format all: 24 figures, right magic${missing:+ (bad:$missing)}" [ -z "$missing" ]
check "demo: nothing else in the directory" eval '[ "$(ls figs | wc -l)" -eq 24 ]'
run demo --train "$TRAIN" --test "$TEST" --w0 0.3755578398704529 --out figs2
check "demo on the notebook data: learned w and LOO optimum" eval \
    'status_is 0 && grep -q "^learned (SGD, 5) *4\.5967 *0\.21755" out && grep -q "^LOO optimum *3\.9643 *0\.25225" out && [ "$(grep -c "^epoch" out)" -eq 5 ]'
run demo --train "$TRAIN"
check "demo --train without --test exits 2" fails_with 2 "--test"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
