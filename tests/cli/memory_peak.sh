#!/bin/sh
# memory_peak.sh NWREG SOURCE_DIR: `nwreg predict` keeps its peak memory
# (RSS high-water mark, /usr/bin/time's %M) within 1.8x its input and output
# arrays -- x (n x d), y (n x p), the queries q (m x d) and yhat (m x p), in
# doubles -- plus the fixed cost of the process, measured on a 50-row run of
# the same command.  Issue 4's target is 2x (never an n x n or n x m
# matrix, nor the CSV tables held twice over); asserted here: 1.8x, the
# margin the target asked for.  Before the table hand-over (the model
# taking the training file's buffer, the output written column by column)
# the n = m = 1e6 case peaked at 2.26x and n = 1e6, m = 1e4 at 1.93x; now
# 1.23x and 1.43x.  The same n = 1e6, m = 1e4 from a saved model (version
# 2): 1.06x.  Also checks that predict's output does not depend on
# where the inputs sit in the query file (the columns it copies out, drops
# and writes back side by side).
#
# Exits 77 (skipped) without /usr/bin/time or with NW_SANITIZE set in the
# environment (sanitizers' shadow memory is no measure).
NW=${1:?usage: memory_peak.sh NWREG SOURCE_DIR}
SRC=${2:?usage: memory_peak.sh NWREG SOURCE_DIR}
case $NW in /*) ;; *) NW=$(pwd)/$NW ;; esac
case $SRC in /*) ;; *) SRC=$(pwd)/$SRC ;; esac
if [ ! -x /usr/bin/time ] || [ -n "$NW_SANITIZE" ]; then
    echo "skipped: no /usr/bin/time, or a sanitizer build"
    exit 77
fi
. "$SRC/tests/cli/lib.sh"
cli_test_setup memory

# peak KiB of `nwreg ARGS...` (its output in ./out, stderr in ./err), in $kib
peak() { /usr/bin/time -o time.txt -f %M "$NW" "$@" >out 2>err; rc=$?; kib=$(tail -n 1 time.txt); }
# within RATIO x the arrays (n rows of d inputs and p outputs, m queries)
# plus the base run's KiB?  Prints the figures either way.
within() { # NAME N M D P RATIO
    awk -v name="$1" -v n="$2" -v m="$3" -v d="$4" -v p="$5" -v r="$6" -v kib="$kib" -v base="$base" 'BEGIN {
        arrays = (n + m) * (d + p) * 8 / 1024
        printf "# %s: peak %d KiB, base %d KiB, arrays %d KiB: (peak - base) / arrays = %.2f (limit %s)\n",
               name, kib, base, arrays, (kib - base) / arrays, r
        exit !(kib - base <= r * arrays) }'
}

N=1000000
"$NW" gen --n 50 --seed 7 -o tiny.csv &&
    "$NW" gen --n $N --seed 7 -o big.csv &&
    "$NW" gen --grid --m 10000 -o grid.csv || { echo "not ok - making the data"; exit 1; }
# the grid on [0, 5] (gen --grid steps by 0.1), x only
awk -F, 'NR == 1 { print "x"; next } { printf "%.17g\n", (NR - 2) * 5 / 9999 }' grid.csv > grid5.csv

for est in constant linear; do
    peak predict tiny.csv tiny.csv --bandwidth 0.3 --estimator $est -o p.csv
    base=$kib
    check "the base run (50 rows, $est) succeeds" eval '[ $rc -eq 0 ] && [ "$base" -gt 0 ]'

    # n = m = 1e6, 1-d (FGT): the queries' file has x and y, the output x, y, yhat
    peak predict big.csv big.csv --bandwidth 0.3 --estimator $est -o p.csv
    check "n = m = 1e6 ($est): peak - base <= 1.8 x the arrays" eval '[ $rc -eq 0 ] && within "n = m = 1e6 $est" $N $N 1 1 1.8'
    check "n = m = 1e6 ($est): every row written" eval '[ "$(wc -l < p.csv)" -eq $((N + 1)) ] && [ "$(head -n 1 p.csv)" = x,y,yhat ]'

    # n = 1e6 onto the 1e4 grid: the training file's table and x, y are
    # never held at once (the model takes the table's buffer)
    peak predict big.csv grid5.csv --bandwidth 0.3 --estimator $est -o g_$est.csv
    check "n = 1e6, m = 1e4 ($est): peak - base <= 1.8 x the arrays" eval '[ $rc -eq 0 ] && within "n = 1e6 m = 1e4 $est" $N 10000 1 1 1.8'
done

# n = 1e6 from a saved model: a model this large is saved as version 3 (a
# JSON header line, then x and y in binary), whose data is read straight
# into the model's arrays: the load holds nothing more (as version 2, x and
# y in base64 parsed by cJSON as two long strings, it peaked at 2.6x onto
# the 1e4 grid, the file's text and cJSON's copies; as version 1, a cJSON
# node per number, at 25x).  The base: a 50-row model.
"$NW" fit tiny.csv --bandwidth 0.3 --quiet -o tiny.json &&
    "$NW" fit big.csv --bandwidth 0.3 --quiet -o big.json || { echo "not ok - saving the models"; exit 1; }
check "the 1e6-point model is saved as version 3" eval 'head -n 1 big.json | grep -q "\"version\":3,"'
peak predict tiny.json tiny.csv -o p.csv
base=$kib
peak predict big.json big.csv -o p_model.csv
check "n = m = 1e6 from a saved model: peak - base <= 1.8 x the arrays" eval '[ $rc -eq 0 ] && within "n = m = 1e6 model" $N $N 1 1 1.8'
peak predict big.json grid5.csv -o g_model.csv
check "n = 1e6 from a saved model, m = 1e4: peak - base <= 1.8 x the arrays" eval '[ $rc -eq 0 ] && within "n = 1e6 m = 1e4 model" $N 10000 1 1 1.8'
check "n = 1e6 from a saved model: the predictions from the CSV file, byte for byte" cmp -s g_model.csv g_constant.csv

# d = 2, n = m = 1e6, y = sin x1 cos x2 + 2 x1 - 5 on [0, 5]^2: the
# predictions cross 0, where no fast sum certifies a relative error, and
# ~1 % of the queries fall back to the dense sums (the FGT's own copy of
# the keys is then held beside the fallback's).  The fallback prepares no
# copy of its own (nw_dense_prepare's lean); with its grid copy (28 MB)
# this was 2.5x.  Within the target, 2x.
awk 'BEGIN { srand(3); print "x1,x2,y"; for (i = 0; i < 1000000; i++) { a = 5 * rand(); b = 5 * rand();
         printf "%.17g,%.17g,%.17g\n", a, b, sin(a) * cos(b) + 2 * a - 5 } }' > t2.csv
awk 'BEGIN { srand(4); print "x1,x2"; for (i = 0; i < 1000000; i++) printf "%.17g,%.17g\n", 5 * rand(), 5 * rand() }' > q2.csv
head -n 51 t2.csv > t2s.csv
head -n 51 q2.csv > q2s.csv
peak predict t2s.csv q2s.csv --bandwidth 0.3 --x x1,x2 --y y -o p2.csv
base=$kib
peak predict t2.csv q2.csv --bandwidth 0.3 --x x1,x2 --y y --verbose -o p2.csv
check "d = 2, n = m = 1e6, predictions through 0: some fall back to the dense sums" \
    eval '[ $rc -eq 0 ] && grep -q "engine fgt, .*, [1-9][0-9]* exact fallbacks" err'
check "d = 2, n = m = 1e6, predictions through 0: peak - base <= 2 x the arrays" \
    eval '[ $rc -eq 0 ] && within "d = 2 n = m = 1e6 through 0" $N $N 2 1 2.0'
# d = 2, n = 1e6 onto 1e4 queries: the FGT (Gaussian) and the k-d tree
# (Epanechnikov) read the model's points in place, arranged box by box or
# leaf by leaf (nw_model_arrange); their copies of them (24 MB) took 2.66x
head -n 10001 q2.csv > q2k.csv
# (local linear, Gaussian: the FGT's local coefficients, 27 MB at once
# here, are built a group of columns at a time within the memory budget:
# 2.5x at once, 1.71x streamed by half the budget, 1.47x by an eighth)
# (Laplace: the dense engine, whose grid's copy of the keys, 24 MB, took
# 2.17x: the keys arranged by cell and read in place instead)
for ke in gaussian:constant epanechnikov:constant gaussian:linear laplace:constant; do
    k=${ke%:*} e=${ke#*:}
    peak predict t2.csv q2k.csv --bandwidth 0.3 --x x1,x2 --y y --kernel $k --estimator $e --verbose -o p2k.csv
    check "d = 2, n = 1e6, m = 1e4, $k $e: peak - base <= 1.8 x the arrays" \
        eval '[ $rc -eq 0 ] && within "d = 2 n = 1e6 m = 1e4 $k $e" $N 10000 2 1 1.8'
done

# fit at a fixed bandwidth, d = 2, n = 2e4, Gaussian ll, h = 0.3: its LOO CV
# pass streams the FGT's local coefficients (27 MB whole) a group of
# columns at a time, as predict does, within the engines' budget of
# 16 MiB (engine.h's nw_memory_budget: below ~32 MiB of arrays its floor
# rules).  Whole, this peaked at 36 MB above the base run; streamed, 18 MB, and 13 MB with groups of an eighth of the budget.
# Limit: the budget with a quarter more for the allocator, plus 2x the
# arrays (x, y and the fit).
head -n 20001 t2.csv > t2_2e4.csv
peak fit t2s.csv --x x1,x2 --y y --bandwidth 0.3,0.3 --estimator ll -o f2.json
base=$kib
peak fit t2_2e4.csv --x x1,x2 --y y --bandwidth 0.3,0.3 --estimator ll -o f2.json
check "d = 2, fit at n = 2e4, Gaussian ll: LOO CV through the streamed FGT, peak - base <= 20 MiB + 2 x the arrays" \
    eval '[ $rc -eq 0 ] && grep -q "LOO CV" out && awk -v kib=$kib -v base=$base "BEGIN {
        arrays = 20000 * 4 * 8 / 1024
        printf \"# fit d = 2 n = 2e4 ll: peak %d KiB, base %d KiB: %d KiB above (limit %d)\\n\", kib, base, kib - base, 20480 + 2 * arrays
        exit !(kib - base <= 20480 + 2 * arrays) }"'

# d = 2, n = m = 1e5, h = 0.2 (Scott's rule there): the FGT's moments,
# 19 MB against 4.8 MB of arrays, pass nw_memory_budget's 16 MiB but not
# the 64 MiB that may enable an engine (engine.h's nw_memory_enable), so
# the FGT runs (0.2 s; the dense engine, which fits 16 MiB, took 3 s).  Its
# coefficients' groups still keep to an eighth of 16 MiB (streamed, where
# whole they are 21 MB).  Limit: the moments and the groups (20 MiB), with
# a fifth more for the allocator, plus 2x the arrays; measured 31 MB above.
head -n 100001 t2.csv > t2_1e5.csv
peak predict t2s.csv t2s.csv --bandwidth 0.2 --x x1,x2 --y y -o p2.csv
base=$kib
peak predict t2_1e5.csv t2_1e5.csv --bandwidth 0.2 --x x1,x2 --y y --verbose -o p2.csv
check "d = 2, n = m = 1e5, h = 0.2: the FGT runs by default" eval '[ $rc -eq 0 ] && grep -q "engine fgt" err'
check "d = 2, n = m = 1e5, h = 0.2: peak - base <= 24 MiB + 2 x the arrays" \
    eval '[ $rc -eq 0 ] && awk -v kib=$kib -v base=$base "BEGIN {
        arrays = 200000 * 3 * 8 / 1024
        printf \"# predict d = 2 n = m = 1e5 h = 0.2: peak %d KiB, base %d KiB: %d KiB above (limit %d)\\n\", kib, base, kib - base, 24576 + 2 * arrays
        exit !(kib - base <= 24576 + 2 * arrays) }"'
peak predict t2_1e5.csv t2_1e5.csv --bandwidth 0.2 --x x1,x2 --y y --memory 16M --verbose -o p2m.csv
check "d = 2, n = m = 1e5, h = 0.2, --memory 16M: the dense engine, the same predictions to 1e-12" \
    eval '[ $rc -eq 0 ] && grep -q "engine dense" err && awk -F, "NR == FNR { if (FNR > 1) v[FNR] = \$3; next }
        FNR > 1 { d = \$3 - v[FNR]; if (d < 0) d = -d; a = v[FNR] < 0 ? -v[FNR] : v[FNR]; if (d > 1e-12 * a + 1e-300) bad++ }
        END { exit bad > 0 }" p2.csv p2m.csv'

# The same at h = 13 and 0.0034 (the kind of point fit --select's scan
# visits): one column of ~2900 boxes, whose stage-1 blocks (34 MB) the
# local mode's build holds beside moments and coefficients of as much.
# Uncounted, they took this run to 96 MB above the base; counted
# (engine_fgt2.c's stage1_bytes), the tables keep to the 64 MiB.  Limit:
# 64 MiB plus 2x the arrays.
peak predict t2_1e5.csv t2_1e5.csv --bandwidth 13,0.0034 --x x1,x2 --y y --verbose -o p2.csv
check "d = 2, n = m = 1e5, h = (13, 0.0034): peak - base <= 64 MiB + 2 x the arrays" \
    eval '[ $rc -eq 0 ] && awk -v kib=$kib -v base=$base "BEGIN {
        arrays = 200000 * 3 * 8 / 1024
        printf \"# predict d = 2 n = m = 1e5 h = (13, 0.0034): peak %d KiB, base %d KiB: %d KiB above (limit %d)\\n\", kib, base, kib - base, 65536 + 2 * arrays
        exit !(kib - base <= 65536 + 2 * arrays) }"'

# fit --select loo at n = 1e6, the rows in no order (a fixed permutation of
# big.csv): the search and the in-sample summary hold one sorted copy of
# the points at a time, never the sorted engine's tables, an n x n matrix,
# or two FGT engines' tables.  The arrays: x, y and the in-sample fit, 3n
# doubles (within's n = N, m = 0, d + p = 3); the target, 2x (the margin
# of 1.8 above is for predict).  Before the in-sample pass moved to the
# sorted sweeps (nw_fitted) with the 32-bit sort: epanechnikov ll 3.4x,
# gaussian ll 2.4x; now 1.84x and 1.23x.
{ echo x,y; awk -F, 'NR > 1 { printf "%d,%s\n", (NR * 7919) % 1000003, $0 }' big.csv |
      sort -t, -k1,1n | cut -d, -f2-; } > shuf.csv
check "the permuted file has every row" eval '[ "$(wc -l < shuf.csv)" -eq $((N + 1)) ]'
# 1-d compact kernels (nw_predict through the sorted sweeps, no tables):
# tricube onto the grid from keys in order, and local linear at n = m on
# the permuted rows (the keys' sorted copy and the queries' order).  The
# sorted engine's anchor tables took 4.2x and 3.35x here.
peak predict tiny.csv tiny.csv --bandwidth 0.3 --kernel tricube --estimator ll -o p.csv
base=$kib
peak predict big.csv grid5.csv --bandwidth 0.3 --kernel tricube -o g_tricube.csv
check "tricube, n = 1e6, m = 1e4: peak - base <= 1.8 x the arrays" eval '[ $rc -eq 0 ] && within "tricube n = 1e6 m = 1e4" $N 10000 1 1 1.8'
# Laplace, the dense engine, onto the grid from the permuted rows: its
# sorted copy of the keys (2.0x) left out, the model's points sorted
peak predict shuf.csv grid5.csv --bandwidth 0.3 --kernel laplace -o g_laplace.csv
check "laplace, n = 1e6 permuted rows, m = 1e4: peak - base <= 1.8 x the arrays" \
    eval '[ $rc -eq 0 ] && within "laplace n = 1e6 permuted m = 1e4" $N 10000 1 1 1.8'
# the same onto the grid from the permuted rows: predict sorts the model's
# points in place (nw_model_arrange), so the sweeps need no sorted copy
# (2.25x with it, 1.52x without)
peak predict shuf.csv grid5.csv --bandwidth 0.3 --kernel tricube -o g_tricube_shuf.csv
check "tricube, n = 1e6 permuted rows, m = 1e4: peak - base <= 1.8 x the arrays" \
    eval '[ $rc -eq 0 ] && within "tricube n = 1e6 permuted m = 1e4" $N 10000 1 1 1.8'
check "tricube, n = 1e6 permuted rows, m = 1e4: the predictions of the sorted rows, byte for byte" \
    cmp -s g_tricube_shuf.csv g_tricube.csv
peak predict shuf.csv shuf.csv --bandwidth 0.3 --kernel tricube --estimator ll --verbose -o p.csv
check "tricube ll, n = m = 1e6 unsorted: the sorted sweeps ran" eval '[ $rc -eq 0 ] && grep -q "engine sorted" err'
check "tricube ll, n = m = 1e6 unsorted: peak - base <= 2 x the arrays" eval '[ $rc -eq 0 ] && within "tricube ll n = m = 1e6 unsorted" $N $N 1 1 2.0'
for ke in epanechnikov:ll gaussian:ll cosine:lc; do
    k=${ke%:*} e=${ke#*:}
    peak fit tiny.csv --select loo --kernel $k --estimator $e -o m.json
    base=$kib
    peak fit shuf.csv --select loo --kernel $k --estimator $e -o m.json
    check "fit --select loo $k $e, n = 1e6 unsorted: peak - base <= 2 x the arrays" \
        eval '[ $rc -eq 0 ] && within "fit $k $e n = 1e6" $N 0 1 2 2.0'
done

# the same predictions whatever the query file's column order and extra
# columns: x,y (x copied out, y kept), y,x (x last), x alone (the table is q)
head -n 20001 big.csv > q_xy.csv
awk -F, '{ print $2 "," $1 }' q_xy.csv > q_yx.csv
cut -d, -f1 q_xy.csv > q_x.csv
awk -F, '{ print $1 "," $2 "," $1 }' q_xy.csv | sed '1s/.*/x,y,x/' > q_xyx.csv
run predict big.csv q_xy.csv --bandwidth 0.3 -o r_xy.csv
run predict big.csv q_yx.csv --bandwidth 0.3 -o r_yx.csv
run predict big.csv q_x.csv --bandwidth 0.3 -o r_x.csv
run predict big.csv q_xyx.csv --bandwidth 0.3 -o r_xyx.csv
check "queries x,y: header x,y,yhat" eval '[ "$(head -n 1 r_xy.csv)" = x,y,yhat ]'
check "queries y,x: the same rows, columns y,x,yhat" \
    eval 'awk -F, "{ print \$2 \",\" \$1 \",\" \$3 }" r_yx.csv | cmp -s - r_xy.csv'
check "queries x alone: the same x and yhat" eval 'cut -d, -f1,3 r_xy.csv | cmp -s - r_x.csv'
check "queries x,y,x (a name twice): the first x is the input, the second written back" \
    eval 'awk -F, "{ print \$1 \",\" \$2 \",\" \$4 }" r_xyx.csv | cmp -s - r_xy.csv &&
          [ "$(head -n 1 r_xyx.csv)" = x,y,x,yhat ] && [ -z "$(awk -F, "NR > 1 && \$1 != \$3" r_xyx.csv)" ]'
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
