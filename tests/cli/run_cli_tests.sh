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
. "$SRC/tests/cli/lib.sh"
cli_test_setup cli

# helpers for check
one_line_err() { [ "$(wc -l <err)" -eq 1 ]; }
err_has() { grep -q -F -- "$1" err; }
out_has() { grep -q -F -- "$1" out; }
absent() { for f; do [ ! -e "$f" ] || return 1; done; }
# status $1 and exactly one line of stderr containing $2
fails_with() { status_is "$1" && one_line_err && err_has "$2"; }
magic() { od -An -tx1 -N4 "$1" | tr -d ' \n'; }

# ------------------------------------------------------------------ help
for c in demo gen train predict fit cv info; do
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
check "non-numeric cell: exit 2, one line naming bad.csv:3:" fails_with 2 "bad.csv:3:"
check "non-numeric cell: no output files" absent pred.csv w.csv
run train bad.csv -o model.json
check "train on a bad file: no model file" eval 'status_is 2 && absent model.json'
run predict "$TRAIN" bad.csv --w 1 -o pred.csv
check "bad queries file: exit 2, no output" eval 'fails_with 2 "bad.csv:3:" && absent pred.csv'
run predict no-such-file.csv "$TEST" --w 1 -o pred.csv
check "missing file: exit 2, the message names it" eval 'fails_with 2 "no-such-file.csv" && absent pred.csv'
printf 'x,y\n1,2\n2,nan\n' >nan.csv
run fit nan.csv
check "NaN cell: exit 2 naming nan.csv:3:" fails_with 2 "nan.csv:3:"
printf 'x,y\n' >empty.csv
run fit empty.csv -o model.json
check "header only: exit 2, no model" eval 'fails_with 2 "empty.csv" && absent model.json'
printf 'x,y\n1,2\n3\n4,5\n' >ragged.csv
run train ragged.csv
check "ragged row: exit 2 naming ragged.csv:3:" fails_with 2 "ragged.csv:3:"
for bw in "--w 0" "--bandwidth 0" "--bandwidth -1"; do
    # shellcheck disable=SC2086
    run predict "$TRAIN" "$TEST" $bw -o pred.csv
    check "predict $bw: exit 2, one line, no output" eval 'status_is 2 && one_line_err && absent pred.csv'
done
run fit "$TRAIN" --x nope
check "unknown column: exit 2 naming it" fails_with 2 "'nope'"

# ------------------------------------------------------------ prediction
run predict "$TRAIN" "$TEST" --w 1 -o pred.csv --weights w.csv
check "predict: exit 0, nothing on stdout" eval 'status_is 0 && [ ! -s out ]'
check "predict: the query columns x,y_truth then yhat, 50 rows" eval '[ "$(head -n 1 pred.csv)" = "x,y_truth,yhat" ] && [ "$(wc -l <pred.csv)" -eq 51 ]'
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
check "--x by index, --y by name; the query columns kept" eval 'status_is 0 && [ "$(head -n 1 out)" = "a,b,yhat" ]'
run predict m2.json "$TEST"
check "missing query column is named (exit 2)" fails_with 2 "no column 'a'"

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

# ------------------------------------------- issue 5: pipes, CSV dialects
"$NW" gen | "$NW" fit - -o m.json >/dev/null 2>err && "$NW" gen --grid | "$NW" predict m.json - >pipe.csv 2>>err
check "pipeline gen | fit - -o m.json && gen --grid | predict m.json - > out.csv" eval \
    '[ ! -s err ] && [ "$(head -n 1 pipe.csv)" = "x,y_truth,yhat" ] && [ "$(wc -l <pipe.csv)" -eq 51 ]'
"$NW" gen -o g.csv && "$NW" gen --grid -o grid.csv && "$NW" fit g.csv -o mf.json >/dev/null &&
    "$NW" predict mf.json grid.csv -o pf.csv
check "the pipeline gives what the files give, byte for byte" eval 'cmp -s pipe.csv pf.csv && cmp -s m.json mf.json'
"$NW" gen | "$NW" predict - grid.csv --w 2 >p1.csv 2>err
"$NW" predict g.csv grid.csv --w 2 >p2.csv 2>>err
check "training data from stdin" eval '[ ! -s err ] && [ -s p1.csv ] && cmp -s p1.csv p2.csv'
"$NW" fit g.csv -o - >m_stdout.json 2>summary.txt
check "fit -o -: the model on stdout, the summary on stderr" eval 'cmp -s m_stdout.json mf.json && grep -q "R-squared" summary.txt'
run predict - - --w 1 </dev/null
check "predict - -: stdin only once (exit 2)" fails_with 2 "only one of"
"$NW" train "$TRAIN" --w0 0.3755578398704529 -o - >m_train.json 2>epochs.txt
"$NW" info m_train.json >/dev/null 2>err
check "train -o -: the model on stdout, the epochs on stderr" eval \
    '[ ! -s err ] && [ "$(grep -c "^epoch" epochs.txt)" -eq 5 ] && tail -n 1 epochs.txt | grep -q "^w 4\.59672"'
cp g.csv g_copy.csv
run fit g_copy.csv --bandwidth 1 -o ./g_copy.csv
check "-o naming the input file: exit 2, the input kept" eval 'fails_with 2 "g_copy.csv" && cmp -s g.csv g_copy.csv'
run gen --grid --n 10
check "gen --grid --n: exit 2 (the grid takes --m)" fails_with 2 "--n"

# the same data in other dialects predict the same
"$NW" predict "$TRAIN" "$TEST" --w 1 -o ref.csv
tr , '\t' <"$TRAIN" >train.tsv
tr , ';' <"$TEST" >test.ssv
run predict train.tsv test.ssv --w 1 -o dialect.csv
check "tab and semicolon files detected: same predictions" eval 'status_is 0 && cmp -s dialect.csv ref.csv'
{ printf '\357\273\277'; sed 's/$/\r/' "$TRAIN"; } >bom_crlf.csv
{ head -n 1 "$TEST" | sed 's/\([^,]*\)/"\1"/g'; tail -n +2 "$TEST"; } >quoted.csv
rm -f dialect.csv
run predict bom_crlf.csv quoted.csv --w 1 -o dialect.csv
check "BOM, CRLF and quoted header names: same predictions" eval 'status_is 0 && cmp -s dialect.csv ref.csv'
{ echo "# made by hand"; head -n 1 "$TRAIN"; echo; echo "#, a comment with a \"quote"; tail -n +2 "$TRAIN"; echo; } >commented.csv
rm -f dialect.csv
run predict commented.csv "$TEST" --w 1 --comment '#' -o dialect.csv
check "--comment '#' skips comment lines, blank lines skipped" eval 'status_is 0 && cmp -s dialect.csv ref.csv'
rm -f dialect.csv
run predict commented.csv "$TEST" --w 1 -o dialect.csv
check "comment lines are data without --comment (exit 2, line named)" eval 'fails_with 2 "commented.csv:2:" && absent dialect.csv'
run predict train.tsv "$TEST" --w 1 --delim ';'
check "--delim ';' forced on a tab file: exit 2 naming the line" fails_with 2 "train.tsv:2: column 1"
tr , '\t' <"$TEST" >test.tsv
run predict train.tsv test.tsv --w 1 --delim tab
check "--delim tab (forced for every input file; output stays comma)" eval 'status_is 0 && cmp -s out ref.csv'
run predict "$TRAIN" "$TEST" --w 1 --delim ab
check "--delim ab: exit 2" fails_with 2 "--delim 'ab'"

# the output keeps every query column
awk -F, 'NR == 1 { print "id," $0 ",note"; next } { print NR - 1 "," $0 ",7" }' "$TEST" >q_extra.csv
run predict "$TRAIN" q_extra.csv --w 1
check "output keeps the query columns (id,x,y_truth,note) and adds yhat" eval \
    'status_is 0 && [ "$(head -n 1 out)" = "id,x,y_truth,note,yhat" ] && [ "$(sed -n 3p out | cut -d, -f1,4)" = "2,7" ] &&
     [ "$(cut -d, -f5 out)" = "$(cut -d, -f3 ref.csv)" ]'

# --precision
run predict "$TRAIN" "$TEST" --w 1 --precision 4
check "--precision 4: each prediction is the exact one to 4 digits" eval \
    'status_is 0 && paste -d, out ref.csv | awk -F, -v OFS=, '\''NR > 1 { if (sprintf("%.4g", $6) != $3) bad = 1 } END { exit bad }'\'
for bad in 0 18 abc f16; do
    run predict "$TRAIN" "$TEST" --w 1 --precision $bad
    check "--precision $bad: exit 2" fails_with 2 "--precision"
done
run gen --precision f32
check "gen --precision f32: exit 2 (no arithmetic here)" fails_with 2 "--precision f32"
"$NW" gen -o exact.csv
run gen --precision 3
check "gen --precision 3: the exact values to 3 digits" eval 'status_is 0 && [ "$(wc -l <out)" -eq 51 ] && paste -d, out exact.csv |
    awk -F, '\''NR > 1 { if (sprintf("%.3g", $3) != $1 || sprintf("%.3g", $4) != $2) bad = 1 } END { exit bad }'\'

# engines, tolerance, f32
run predict "$TRAIN" "$TEST" --w 1 --engine dense --verbose -o dense.csv
check "--engine dense --verbose names the engine on stderr" eval 'status_is 0 && err_has "engine dense"'
for e in auto sorted tree fgt; do
    run predict "$TRAIN" "$TEST" --w 1 --engine $e --tolerance 1e-10 -o e.csv
    check "--engine $e within --tolerance 1e-10 of dense" eval 'status_is 0 && paste -d, e.csv dense.csv |
        awk -F, '\''NR > 1 { d = $3 - $6; if (d < 0) d = -d; a = $6 < 0 ? -$6 : $6; if (d > 1e-10 * a + 1e-300) bad = 1 } END { exit bad }'\'
done
run predict "$TRAIN" "$TEST" --w 1 --precision f32 -o f32.csv
check "--precision f32: within 1e-4 of f64" eval 'status_is 0 && paste -d, f32.csv dense.csv |
    awk -F, '\''NR > 1 { d = $3 - $6; if (d < 0) d = -d; a = $6 < 0 ? -$6 : $6; if (d > 1e-4 * a + 1e-6) bad = 1 } END { exit bad }'\'
run predict "$TRAIN" "$TEST" --w 1 --engine warp
check "--engine warp: exit 2" fails_with 2 "--engine 'warp'"
run predict "$TRAIN" "$TEST" --w 1 --tolerance 1
check "--tolerance 1: exit 2" fails_with 2 "--tolerance"
run gen --engine dense
check "gen has no --engine (exit 2)" fails_with 2 "unknown option '--engine'"
# --memory: a budget, not an answer: the same predictions, byte for byte
run predict "$TRAIN" "$TEST" --w 1 --engine dense --memory 1G -o mem.csv
check "--memory 1G: the same predictions" eval 'status_is 0 && cmp -s mem.csv dense.csv'
run predict "$TRAIN" "$TEST" --w 1 --engine dense --memory 0.5k -o mem.csv
check "--memory 0.5k: accepted (512 bytes), the same predictions" eval 'status_is 0 && cmp -s mem.csv dense.csv'
run predict "$TRAIN" "$TEST" --w 1 --memory 12X
check "--memory 12X: exit 2" fails_with 2 "--memory '12X': give bytes, or a size such as 512K, 256M, 2G"
run predict "$TRAIN" "$TEST" --w 1 --memory -5M
check "--memory -5M: exit 2" fails_with 2 "--memory '-5M'"
run fit "$TRAIN" --memory 1e30G
check "--memory 1e30G: too large, exit 2" fails_with 2 "--memory 1e30G: too large"
run gen --memory 1G
check "gen has no --memory (exit 2)" fails_with 2 "unknown option '--memory'"

# quiet and verbose
run predict "$TRAIN" "$TEST" --kernel uniform --bandwidth 0.01 -q -o pred.csv
check "--quiet: no warning" eval 'status_is 0 && [ ! -s err ] && grep -q nan pred.csv'
run fit "$TRAIN" --quiet -o q.json
check "fit --quiet: no summary, the model saved" eval 'status_is 0 && [ ! -s out ] && [ ! -s err ] && [ -s q.json ]'
run fit "$TRAIN" --verbose
check "fit --verbose: selection and engine on stderr" eval 'status_is 0 && err_has "evaluations" && err_has "engine"'

# ---------------------------------------------------------- nwreg info
run info mf.json
check "info: kernel, estimator, n, d, p, names, version" eval 'status_is 0 && out_has "gaussian" && out_has "version 1" &&
    grep -q "^points (n) *50$" out && grep -q "^inputs (d) *1: x$" out && grep -q "^outputs (p) *1: y$" out'
check "info: the bandwidth of the file, exactly" eval \
    'grep -q "^bandwidth *x: h = $(sed -n "/\"bandwidth\"/ s/.*\[\(.*\)\].*/\1/p" mf.json) " out'
# a version-3 header claiming 5.8e13 values, through a pipe: the arrays
# grow as the bytes come, so the claim is never allocated (under ASan a
# 467 TB malloc aborted; fuzz/regressions/model/v3-huge-n.json)
run info - <"$SRC/fuzz/regressions/model/v3-huge-n.json"
check "info -: a version-3 header claiming 5.8e13 values, data cut short: exit 2" fails_with 2 \
    "<stdin>: the data after the header ends early: 472 of 467555555555552 bytes"
run info --json - <mf.json
check "info --json from stdin: the model's values" eval 'status_is 0 && python3 -c "
import json, sys
i = json.load(open(\"out\")); m = json.load(open(\"mf.json\"))
assert i[\"file\"] == \"<stdin>\" and i[\"version\"] == 1 and i[\"kernel\"] == \"gaussian\"
assert (i[\"n\"], i[\"d\"], i[\"p\"]) == (50, 1, 1) and i[\"inputs\"] == [\"x\"] and i[\"outputs\"] == [\"y\"]
assert i[\"bandwidth\"] == m[\"bandwidth\"] and abs(i[\"scale\"][0] * m[\"bandwidth\"][0] - 1) < 1e-15
assert i[\"engine\"] == \"auto\" and i[\"precision\"] == \"f64\"
"'
# a model of more than 65536 values (40000 points, x and y) is saved as
# version 3: a JSON header line, then x and y in binary; info names the
# encoding and prints neither
"$NW" gen --n 40000 --seed 3 -o g40k.csv && "$NW" fit g40k.csv --bandwidth 0.2 --quiet -o big2.json
check "fit: a model of 80000 values is saved as version 3, a JSON header line and the data in binary" eval \
    'head -n 1 big2.json | python3 -c "
import json, sys
h = json.loads(sys.stdin.read())
assert h[\"version\"] == 3 and h[\"encoding\"] == \"f64le\" and h[\"n\"] == 40000
assert \"x\" not in h and \"y\" not in h
" && [ "$(wc -c <big2.json)" -eq $(( $(head -n 1 big2.json | wc -c) + 8 * 80000 )) ]'
run info big2.json
check "info on a version-3 model: its version and encoding, not its data" eval 'status_is 0 &&
    grep -q "^format *nwreg-model, version 3 (data: f64le)$" out && grep -q "^points (n) *40000$" out &&
    [ "$(wc -c <out)" -lt 1000 ] && [ ! -s err ]'
run info --json big2.json
check "info --json on a version-3 model: version 3, encoding, no x or y" eval 'status_is 0 && python3 -c "
import json
i = json.load(open(\"out\"))
assert i[\"version\"] == 3 and i[\"encoding\"] == \"f64le\" and i[\"n\"] == 40000
assert \"x\" not in i and \"y\" not in i and len(open(\"out\").read()) < 1000
"'
run info - <big2.json
check "info on a version-3 model from stdin" eval 'status_is 0 && grep -q "^format *nwreg-model, version 3 (data: f64le)$" out'
run predict big2.json grid.csv -o p_big2.csv
"$NW" predict g40k.csv grid.csv --bandwidth 0.2 -o p_g40k.csv
check "predict from a version-3 model: what the CSV file gives, byte for byte" eval \
    'status_is 0 && cmp -s p_big2.csv p_g40k.csv'
sed 's/"version": 1/"version": 7/' mf.json >v7.json
run info v7.json
check "info on a version-7 model: exit 2 naming the version" eval 'fails_with 2 "v7.json" && err_has "7"'
run predict v7.json grid.csv
check "predict on a version-7 model: exit 2" fails_with 2 "v7.json"
run info g.csv
check "info on a CSV file: exit 2" fails_with 2 "g.csv"
run info nothing.json
check "info on a missing file: exit 2" fails_with 2 "nothing.json"

# ------------------------------------------------ messages and exit 1
run pridict "$TRAIN" "$TEST"
check "mistyped command: a suggestion" fails_with 2 "'pridict' is not a command; did you mean 'predict'?"
run help fitt
check "help of a mistyped command: a suggestion" fails_with 2 "did you mean 'fit'?"
run fit "$TRAIN" --kernal uniform
check "mistyped option: a suggestion" fails_with 2 "unknown option '--kernal'; did you mean '--kernel'?"
run fit "$TRAIN" --zzzzzzzz
check "far-off option: no suggestion" eval 'fails_with 2 "unknown option" && ! err_has "did you mean"'
run predict "$TRAIN" "$TEST" --w 1 -o no-such-dir/out.csv
check "write failure: exit 1, one line naming the file" fails_with 1 "no-such-dir/out.csv"
if [ -w /dev/full ]; then
    run gen -o - >/dev/full
    "$NW" gen >/dev/full 2>err; rc=$?
    check "writing to a full device: exit 1" fails_with 1 "<stdout>"
fi

# ---------------------------------------------- progress and Ctrl-C
# Runs that would take hours (a million epochs, 100000 grid cells), so that
# Ctrl-C always comes first, on data small enough for a quick stop even in
# a sanitizer build.
"$NW" gen --n 3000 --seed 1 -o mid.csv
"$NW" gen --n 20000 --seed 1 -o big.csv
# start_bg ARGS...: nwreg in the background, stdout ./out, stderr ./err, pid in $bg
start_bg() { "$NW" "$@" >out 2>err & bg=$!; }
# interrupt_bg: SIGINT after 1 s; waits at most 60 s for the exit; status in $rc
interrupt_bg() {
    sleep 1
    kill -INT "$bg" 2>/dev/null
    i=0
    while kill -0 "$bg" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
    kill -0 "$bg" 2>/dev/null && kill -KILL "$bg"
    wait "$bg"; rc=$?
}
mkdir -p sig
start_bg fit mid.csv --engine dense --select sgd --epochs 1000000 -o sig/model.json
interrupt_bg
check "Ctrl-C stops fit: exit 130, 'nwreg: interrupted', no file" eval \
    'fails_with 130 "nwreg: interrupted" && [ -z "$(ls sig)" ] && [ ! -s out ]'
start_bg train mid.csv --engine dense --epochs 1000000 -o sig/model.json
interrupt_bg
check "Ctrl-C stops train: exit 130, no model" eval 'fails_with 130 "nwreg: interrupted" && [ -z "$(ls sig)" ]'
start_bg cv mid.csv --engine dense --grid 100000
interrupt_bg
check "Ctrl-C stops cv: exit 130, no table" eval 'fails_with 130 "nwreg: interrupted" && [ ! -s out ]'
"$NW" gen --grid --m 200000 -o queries.csv
start_bg predict big.csv queries.csv --w 1 --engine dense -o sig/pred.csv
interrupt_bg
check "Ctrl-C stops predict: exit 130, no files" eval 'fails_with 130 "nwreg: interrupted" && [ -z "$(ls sig)" ]'
# with the bar due at once (NWREG_PROGRESS_DELAY=0) and a short run
"$NW" gen --n 300 -o small.csv
export NWREG_PROGRESS_DELAY=0
run cv small.csv --grid 5
check "stderr not a terminal: no progress output" eval 'status_is 0 && [ ! -s err ] && [ -s out ]'
if command -v script >/dev/null 2>&1; then
    script -qc "\"$NW\" cv small.csv --grid 5 >/dev/null" /dev/null </dev/null >tty.txt 2>&1
    check "under a terminal (script): a progress bar with rate and ETA" eval 'grep -q "cv grid \[#*\.*\] .*%.*/s *ETA [0-9-]" tty.txt'
    script -qc "\"$NW\" cv small.csv --grid 5 --quiet >/dev/null" /dev/null </dev/null >tty.txt 2>&1
    check "under a terminal with --quiet: no bar" eval '[ -f tty.txt ] && ! grep -q "ETA" tty.txt'
fi
unset NWREG_PROGRESS_DELAY

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
