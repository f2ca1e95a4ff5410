/* test_select.c: rules of thumb, criteria, and the global minimisers. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static nw_model *notebook_model(void)
{
    const char *cols[2] = { "x", "y" };
    size_t n;
    double *xy = nwt_read_columns("data/notebook_train.csv", cols, 2, &n);
    double x[64], y[64];
    for (size_t i = 0; i < n; i++) { x[i] = xy[2 * i]; y[i] = xy[2 * i + 1]; }
    free(xy);
    nw_model *m;
    assert_int_equal(nw_model_new(&m, x, y, n, 1, 1), NW_OK);
    return m;
}

static void test_rules_of_thumb(void **state)
{
    (void) state;
    double x[8] = { 1, 2, 3, 4, 5, 6, 7, 100 }, y[8] = { 0 }, h;
    nw_model *m;
    assert_int_equal(nw_model_new(&m, x, y, 8, 1, 1), NW_OK);
    double mean = 128 / 8.0, var = 0;
    for (int i = 0; i < 8; i++) var += (x[i] - mean) * (x[i] - mean);
    double sd = sqrt(var / 8), f = pow(8, -0.2);
    assert_int_equal(nw_rule_of_thumb(m, NW_RULE_SCOTT, &h), NW_OK);
    assert_close(h, 1.06 * sd * f, 1e-15, 0);
    /* numpy: percentile 25 = 2.75, 75 = 6.25 -> IQR 3.5 < sd */
    assert_int_equal(nw_rule_of_thumb(m, NW_RULE_SILVERMAN, &h), NW_OK);
    assert_close(h, 0.9 * (3.5 / 1.349) * f, 1e-15, 0);
    nw_model_free(m);
    double c[3] = { 2, 2, 2 }, yc[3] = { 1, 2, 3 };
    assert_int_equal(nw_model_new(&m, c, yc, 3, 1, 1), NW_OK);
    assert_int_equal(nw_rule_of_thumb(m, NW_RULE_SCOTT, &h), NW_ERR_BANDWIDTH);
    assert_int_equal(nw_select_bandwidth(m, NW_CRITERION_LOO, NULL, NULL), NW_ERR_BANDWIDTH);
    nw_model_free(m);
}

static void test_loo_criterion_is_cv_ls(void **state)
{
    (void) state;
    nw_model *m = notebook_model();
    double h = 0.3, cv, g, loss, lg, w = 1 / h;
    assert_int_equal(nw_criterion_eval(m, NW_CRITERION_LOO, &h, &cv, &g), NW_OK);
    assert_int_equal(nw_loo_loss(m, &w, &loss, &lg, NULL), NW_OK);
    assert_close(cv, 2 * loss / 50, 1e-15, 0);
    /* d/dlog h = -w dCV/dw */
    assert_close(g, -w * 2 * lg / 50, 1e-14, 0);
    double hp = h * exp(1e-6), hm = h * exp(-1e-6), cp, cm;
    nw_criterion_eval(m, NW_CRITERION_LOO, &hp, &cp, NULL);
    nw_criterion_eval(m, NW_CRITERION_LOO, &hm, &cm, NULL);
    assert_close(g, (cp - cm) / 2e-6, 1e-6, 1e-10);
    double zero = 0;
    assert_int_equal(nw_criterion_eval(m, NW_CRITERION_LOO, &zero, &cv, NULL), NW_ERR_BANDWIDTH);
    nw_model_free(m);
}

/* the smallest value on a dense log grid of 3000 points over [1e-3, 1e2] * scott */
static double dense_min_1d(nw_model *m, nw_criterion crit, double *hbest)
{
    double scott, best = INFINITY;
    nw_rule_of_thumb(m, NW_RULE_SCOTT, &scott);
    for (int i = 0; i < 3000; i++) {
        double h = scott * exp(log(1e-3) + (log(1e2) - log(1e-3)) * i / 2999.0), v;
        assert_int_equal(nw_criterion_eval(m, crit, &h, &v, NULL), NW_OK);
        if (v < best) { best = v; *hbest = h; }
    }
    return best;
}

static void test_selection_is_global_1d(void **state)
{
    (void) state;
    nw_model *m = notebook_model();
    /* Not the uniform kernel: its criteria are step functions of h (they
     * change only where h crosses a pairwise distance), whose narrowest
     * steps a scan can miss; see the notes in select.c. */
    const nw_kernel kernels[] = { NW_KERNEL_GAUSSIAN, NW_KERNEL_EPANECHNIKOV, NW_KERNEL_LAPLACE,
                                  NW_KERNEL_TRICUBE, NW_KERNEL_BIWEIGHT, NW_KERNEL_COSINE };
    for (int c = 0; c < 2; c++)
        for (int e = 0; e < 2; e++)
            for (size_t k = 0; k < sizeof kernels / sizeof *kernels; k++) {
                nw_model_set_kernel(m, kernels[k]);
                nw_model_set_estimator(m, (nw_estimator) e);
                double hgrid, vgrid = dense_min_1d(m, (nw_criterion) c, &hgrid), h, v;
                nw_select_result r;
                assert_int_equal(nw_select_bandwidth(m, (nw_criterion) c, NULL, &r), NW_OK);
                nw_model_bandwidth(m, &h);
                assert_true(h > 0);
                assert_int_equal(nw_criterion_eval(m, (nw_criterion) c, &h, &v, NULL), NW_OK);
                assert_close(r.value, v, 1e-13, 0); /* h = exp(log h) rounds */
                /* never worse than the dense scan (up to rounding) */
                if (!(v <= vgrid + 1e-12 * fabs(vgrid)))
                    fail_msg("criterion %d est %d kernel %s: selected h=%.9g value %.15g > scan h=%.9g value %.15g",
                             c, e, nw_kernel_name(kernels[k]), h, v, hgrid, vgrid);
            }
    nw_model_free(m);
}

/* The uniform kernel at n = 2e5, where select.c's scan is 2x (not 4x) the
 * grid: the minimum it ends at is not beaten by a 31-point log scan of
 * [0.7, 1.4] x its h by more than 2e-6 relative (a missed dip costs 1e-5 and
 * more at n = 2e4, select.c); lc (~3 s: ll's passes cost twice as much). */
static void test_selection_uniform_large_n(void **state)
{
    (void) state;
    const size_t n = 200000;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    uint64_t s = 77;
    for (size_t i = 0; i < n; i++) {
        x[i] = 5 * nwt_unif(&s);
        y[i] = 2 * sin(x[i]) + pow(x[i], 0.8) + (nwt_unif(&s) - 0.5);
    }
    nw_model *m;
    assert_int_equal(nw_model_new(&m, x, y, n, 1, 1), NW_OK);
    nw_model_set_kernel(m, NW_KERNEL_UNIFORM);
    nw_select_result r;
    assert_int_equal(nw_select_bandwidth(m, NW_CRITERION_LOO, NULL, &r), NW_OK);
    double h, v, best = INFINITY, hb = 0;
    nw_model_bandwidth(m, &h);
    assert_int_equal(nw_criterion_eval(m, NW_CRITERION_LOO, &h, &v, NULL), NW_OK);
    for (int i = 0; i <= 30; i++) {
        double hg = h * exp(log(0.7) + (log(1.4) - log(0.7)) * i / 30.0), vg;
        assert_int_equal(nw_criterion_eval(m, NW_CRITERION_LOO, &hg, &vg, NULL), NW_OK);
        if (vg < best) best = vg, hb = hg;
    }
    print_message("uniform n=2e5 lc: h %.6g LOO %.9g (%d evaluations); scan best h %.6g LOO %.9g\n", h, v,
                  r.evaluations, hb, best);
    if (!(v <= best + 2e-6 * best))
        fail_msg("selected h=%.9g value %.12g > scan h=%.9g value %.12g", h, v, hb, best);
    nw_model_free(m);
    free(x);
    free(y);
}

static void test_selection_is_global_2d(void **state)
{
    (void) state;
    /* y depends strongly on x1, weakly on x2 */
    enum { N = 80 };
    double x[2 * N], y[N];
    for (int i = 0; i < N; i++) {
        double a = sin(12.9898 * (i + 1)) * 43758.5453, b = sin(78.233 * (i + 1)) * 12345.6789;
        x[2 * i] = 3 * (a - floor(a));
        x[2 * i + 1] = b - floor(b);
        y[i] = sin(2 * x[2 * i]) + 0.3 * x[2 * i + 1] + 0.2 * sin(31.0 * i);
    }
    nw_model *m;
    assert_int_equal(nw_model_new(&m, x, y, N, 2, 1), NW_OK);
    for (int e = 0; e < 2; e++) {
        nw_model_set_estimator(m, (nw_estimator) e);
        double s[2], best = INFINITY;
        nw_rule_of_thumb(m, NW_RULE_SCOTT, s);
        for (int i = 0; i < 60; i++)
            for (int j = 0; j < 60; j++) {
                double h[2] = { s[0] * exp(-4.6 + 6.9 * i / 59.0), s[1] * exp(-4.6 + 6.9 * j / 59.0) }, v;
                nw_criterion_eval(m, NW_CRITERION_LOO, h, &v, NULL);
                if (v < best) best = v;
            }
        nw_select_result r;
        assert_int_equal(nw_select_bandwidth(m, NW_CRITERION_LOO, NULL, &r), NW_OK);
        double h[2], g[2], v;
        nw_model_bandwidth(m, h);
        nw_criterion_eval(m, NW_CRITERION_LOO, h, &v, g);
        assert_true(v <= best + 1e-12 * best);
        /* a stationary point (or the upper edge for an irrelevant input) */
        for (int k = 0; k < 2; k++) assert_true(fabs(g[k]) < 1e-6 * v || h[k] > 50 * s[k]);
    }
    nw_model_free(m);
}

/* A 1-d model of (x, y) with this kernel and estimator, its bandwidth
 * chosen by leave-one-out (the search's result in *r). */
static nw_model *selected_1d(const double *x, const double *y, size_t n, nw_kernel kernel,
                             nw_estimator est, nw_select_result *r)
{
    nw_model *m;
    assert_int_equal(nw_model_new(&m, x, y, n, 1, 1), NW_OK);
    assert_int_equal(nw_model_set_kernel(m, kernel), NW_OK);
    assert_int_equal(nw_model_set_estimator(m, est), NW_OK);
    assert_int_equal(nw_select_bandwidth(m, NW_CRITERION_LOO, NULL, r), NW_OK);
    return m;
}

/* 1-d compact kernels at n = 2000 through the sorted O(n) pass: the
 * selected value is the dense engine's criterion at the selected h (1e-12:
 * the pass certifies the loss to the tolerance), no point of a 200-point
 * log scan over [1e-2, 1e2] * scott is lower by more than 1e-6 relative
 * (see below), and for the Epanechnikov
 * kernel the whole search through the dense engine picks the same h. */
static void test_selection_compact_sorted_pass(void **state)
{
    (void) state;
    enum { M = 2000 };
    static double x[M], y[M];
    nw_generate(5, M, x, y);
    const nw_kernel kernels[] = { NW_KERNEL_EPANECHNIKOV, NW_KERNEL_TRIANGULAR, NW_KERNEL_TRICUBE,
                                  NW_KERNEL_BIWEIGHT, NW_KERNEL_COSINE, NW_KERNEL_UNIFORM };
    for (int e = 0; e < 2; e++)
        for (size_t k = 0; k < sizeof kernels / sizeof *kernels; k++) {
            nw_select_result r;
            nw_model *m = selected_1d(x, y, M, kernels[k], (nw_estimator) e, &r);
            assert_true(r.evaluations <= (kernels[k] == NW_KERNEL_UNIFORM ? 300 : 90));
            double h, v, scott, best = INFINITY, hbest = 0;
            nw_model_bandwidth(m, &h);
            nw_model_set_engine(m, NW_ENGINE_DENSE);
            assert_int_equal(nw_criterion_eval(m, NW_CRITERION_LOO, &h, &v, NULL), NW_OK);
            assert_close(r.value, v, 1e-12, 0);
            nw_model_set_engine(m, NW_ENGINE_AUTO);
            nw_rule_of_thumb(m, NW_RULE_SCOTT, &scott);
            for (int i = 0; i < 200; i++) {
                double hs = scott * exp(log(1e-2) + (log(1e2) - log(1e-2)) * i / 199.0), vs;
                assert_int_equal(nw_criterion_eval(m, NW_CRITERION_LOO, &hs, &vs, NULL), NW_OK);
                if (vs < best) { best = vs; hbest = hs; }
            }
            /* Kinks (points entering the support) leave micro-dips: measured,
             * cosine local linear picks one 1.7e-7 relative above a 200-point
             * scan's best (h = 0.26834 vs 0.26719); the uniform's steps too.
             * What is claimed: the global basin, its minimum to 1e-6. */
            if (!(r.value <= best * (1 + 1e-6)))
                fail_msg("est %d kernel %s: selected h=%.9g value %.15g > scan h=%.9g value %.15g",
                         e, nw_kernel_name(kernels[k]), h, r.value, hbest, best);
            if (kernels[k] == NW_KERNEL_EPANECHNIKOV && e == 0) {
                nw_select_result rd;
                double hd;
                nw_model_set_engine(m, NW_ENGINE_DENSE);
                assert_int_equal(nw_select_bandwidth(m, NW_CRITERION_LOO, NULL, &rd), NW_OK);
                nw_model_bandwidth(m, &hd);
                assert_close(hd, h, 1e-9, 0);
                assert_close(rd.value, r.value, 1e-12, 0);
            }
            nw_model_free(m);
        }
}

/* Selection through the sorted pass on keys offset to ~1e6 with values
 * offset to ~1e3 (the sums' cells and the centred values at work): the
 * criterion at the chosen h equals the dense engine's to 1e-12 (the
 * certified tolerance), every compact kernel and estimator. */
static void test_selection_sorted_pass_offsets(void **state)
{
    (void) state;
    enum { M = 600 };
    static double x[M], y[M];
    nw_generate(9, M, x, y);
    for (size_t i = 0; i < M; i++) {
        x[i] += 1e6;
        y[i] += 1e3;
    }
    const nw_kernel kernels[] = { NW_KERNEL_EPANECHNIKOV, NW_KERNEL_TRIANGULAR, NW_KERNEL_TRICUBE,
                                  NW_KERNEL_BIWEIGHT, NW_KERNEL_COSINE, NW_KERNEL_UNIFORM };
    for (int e = 0; e < 2; e++)
        for (size_t k = 0; k < sizeof kernels / sizeof *kernels; k++) {
            nw_select_result r;
            nw_model *m = selected_1d(x, y, M, kernels[k], (nw_estimator) e, &r);
            double h, v;
            nw_model_bandwidth(m, &h);
            nw_model_set_engine(m, NW_ENGINE_DENSE);
            assert_int_equal(nw_criterion_eval(m, NW_CRITERION_LOO, &h, &v, NULL), NW_OK);
            assert_close(r.value, v, 1e-12, 0);
            nw_model_free(m);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_of_thumb),
        cmocka_unit_test(test_loo_criterion_is_cv_ls),
        cmocka_unit_test(test_selection_is_global_1d),
        cmocka_unit_test(test_selection_is_global_2d),
        cmocka_unit_test(test_selection_uniform_large_n),
        cmocka_unit_test(test_selection_compact_sorted_pass),
        cmocka_unit_test(test_selection_sorted_pass_offsets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
