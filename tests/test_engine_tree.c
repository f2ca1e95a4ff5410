/*
 * test_engine_tree.c: the k-d tree engine against the dense engine.
 *
 * Two levels.  Raw moments: at each query the tree's A, B must lie within
 * its own error bounds errA, errB of the dense engine's (plus rounding:
 * RND times the Cauchy-Schwarz size of each entry, sqrt(A_aa A_bb) for A,
 * max|y| sqrt(A_00 A_aa) for B), with the same logscale; compact kernels
 * must be exact (approx = 0, errors zero) up to the same rounding.  The
 * derivative moments carry no bound in the engine contract: they must
 * agree to GRAD_RTOL of their size (pruned weight <= tol A, times |rho| of
 * the pruned keys, below ~10^2 at tol 1e-12).  Predictions: nw_predict with
 * the tree and with the dense engine agree to the tolerance (1e-12
 * relative) plus rounding, on all kernels, lc and ll, p = 1, 2, d = 2, 3,
 * LOO with the gradient, and the hard cases; fallbacks are rare on
 * ordinary data.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "kernels.h"
#include "loo.h"
#include "testutil.h"

/* rounding: different summation orders, a few hundred terms per sum */
#define RND 1e-13
/* derivative moments (see the file comment) */
#define GRAD_RTOL 1e-9
#define TOL 1e-12

static const nw_kernel KERNELS[] = {
    NW_KERNEL_GAUSSIAN, NW_KERNEL_EPANECHNIKOV, NW_KERNEL_UNIFORM, NW_KERNEL_TRIANGULAR,
    NW_KERNEL_TRICUBE, NW_KERNEL_BIWEIGHT, NW_KERNEL_COSINE, NW_KERNEL_LAPLACE,
};
#define N_KERNELS (sizeof KERNELS / sizeof KERNELS[0])

static uint64_t rng_state = 88172645463325252ull;
static double uniform01(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double) (rng_state >> 11) * 0x1.0p-53;
}

/* n keys in [0,1]^d: uniform, with a dense cluster and exact duplicates;
 * values smooth plus noise, all positive in output 0, changing sign in
 * output 1 */
static void make_data(size_t n, size_t d, size_t p, double *x, double *y)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < d; k++) {
            double v = uniform01();
            if (i % 5 == 0) v = 0.3 + 0.01 * v;       /* a cluster */
            x[i * d + k] = v;
        }
        if (i % 7 == 3 && i >= 7)                        /* duplicates */
            memcpy(x + i * d, x + (i - 7) * d, d * sizeof(double));
        double s = 0;
        for (size_t k = 0; k < d; k++) s += x[i * d + k];
        for (size_t c = 0; c < p; c++)
            y[i * p + c] = c == 0 ? 2 + sin(3 * s) + 0.1 * uniform01()
                                  : cos(5 * s) + 0.1 * (uniform01() - 0.5);
    }
}

static double max_abs(const double *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

/* Check one query's moments (see the file comment). */
static void check_moments(const nw_problem *pb, const nw_moments *t, const nw_moments *ref,
                          int log_kernel)
{
    const size_t r = ref->r, p = pb->p, d = pb->d;
    const double ymax = max_abs(pb->y, pb->n * p);
    /* the same largest log-weight, up to the rounding of its score (the
     * engines may contract -u^2/2 + s differently); f puts the tree's
     * sums on the dense scale */
    double f = 1;
    if (isinf(ref->logscale)) {
        assert_true(isinf(t->logscale));
    } else {
        assert_close(t->logscale, ref->logscale, 1e-14, 1e-14);
        f = exp(t->logscale - ref->logscale);
    }
    /* far from the data the scores are large (-658 at the far queries
     * here) and each carries a rounding error of a few ulps of itself,
     * different in each engine: relative d eps |score| in the weights */
    const double rnd = RND + (log_kernel ? 4 * (double) d * DBL_EPSILON * fabs(ref->logscale) : 0);
    if (!log_kernel) assert_int_equal(t->approx, 0);
    for (size_t a = 0; a < r; a++) {
        for (size_t b = 0; b < r; b++) {
            double size = sqrt(ref->A[a * r + a] * ref->A[b * r + b]);
            double err = t->approx ? t->errA[a * r + b] : 0;
            assert_true(err >= 0);
            assert_close(f * t->A[a * r + b], ref->A[a * r + b], 0, f * err + rnd * size);
        }
        for (size_t c = 0; c < p; c++) {
            double size = ymax * sqrt(ref->A[0] * ref->A[a * r + a]);
            double err = t->approx ? t->errB[a * p + c] : 0;
            assert_close(f * t->B[a * p + c], ref->B[a * p + c], 0, f * err + rnd * size);
        }
    }
    if (!pb->grad) return;
    for (size_t k = 0; k < d; k++) {
        const double *dA = t->dA + k * r * r, *dAr = ref->dA + k * r * r;
        const double *dB = t->dB + k * r * p, *dBr = ref->dB + k * r * p;
        const double rtol = log_kernel ? GRAD_RTOL : rnd;
        for (size_t a = 0; a < r; a++) {
            for (size_t b = 0; b < r; b++)
                assert_close(f * dA[a * r + b], dAr[a * r + b], 0,
                             rtol * sqrt(dAr[a * r + a] * dAr[b * r + b]) + 1e-300);
            for (size_t c = 0; c < p; c++)
                assert_close(f * dB[a * p + c], dBr[a * p + c], 0,
                             rtol * ymax * sqrt(dAr[0] * dAr[a * r + a]) + 1e-300);
        }
    }
}

/* Every kernel, lc/ll, p = 1, 2, d = 1, 2, 3, with and without grad and skip,
 * at a bandwidth that prunes most of the tree, and at queries on keys, in
 * the cluster, between, and far outside. */
static void test_raw_moments_match_dense(void **state)
{
    (void) state;
    const size_t n = 3000, m = 40;
    for (size_t d = 1; d <= 3; d++)
        for (size_t p = 1; p <= 2; p++) {
            double *x = malloc(n * d * sizeof(double)), *y = malloc(n * p * sizeof(double));
            double *q = malloc(m * d * sizeof(double));
            make_data(n, d, p, x, y);
            for (size_t j = 0; j < m; j++)
                for (size_t k = 0; k < d; k++)
                    q[j * d + k] = j < 10 ? x[(j * 37) * d + k]          /* on a key */
                                 : j < 38 ? uniform01()
                                 : j == 38 ? 3.0 + k : -2.5;            /* far */
            double w[3] = { 12, 9, 15 };
            for (size_t ki = 0; ki < N_KERNELS; ki++)
                for (int linear = 0; linear <= 1; linear++)
                    for (int grad = 0; grad <= 1; grad++) {
                        nw_problem pb = { .x = x, .y = y, .n = n, .d = d, .p = p,
                                          .kernel = KERNELS[ki], .w = w,
                                          .linear = linear, .grad = grad };
                        nw_engine *e;
                        assert_int_equal(nw_engine_new(&pb, NW_ENGINE_TREE, TOL, m, &e), NW_OK);
                        assert_int_equal(e->kind, NW_ENGINE_TREE);
                        nw_moments *mt, *md;
                        assert_int_equal(nw_moments_new(&pb, &mt), NW_OK);
                        assert_int_equal(nw_moments_new(&pb, &md), NW_OK);
                        for (size_t j = 0; j < m; j++) {
                            size_t skip = j < 10 && grad ? j * 37 : NW_NO_SKIP;
                            nw_engine_moments(e, q + j * d, skip, mt);
                            nw_engine_dense(&pb, q + j * d, skip, md);
                            check_moments(&pb, mt, md, kernel_is_log(pb.kernel));
                        }
                        nw_moments_free(mt);
                        nw_moments_free(md);
                        nw_engine_free(e);
                    }
            free(x); free(y); free(q);
        }
}

/* The bounds must be honest where pruning matters: many keys, a narrow
 * Gaussian or Laplace kernel, lc and ll, p = 2, and a loose tolerance
 * (1e-2) so that what is left out is far above rounding: then the
 * difference from the dense moments must be visible and within errA,
 * errB (at 1e-12 it hides below the rounding slack). */
static void test_pruning_bounds_are_used(void **state)
{
    (void) state;
    const size_t n = 20000, d = 2, p = 2;
    const double tol = 1e-2;
    double *x = malloc(n * d * sizeof(double)), *y = malloc(n * p * sizeof(double));
    make_data(n, d, p, x, y);
    double w[2] = { 40, 30 };
    for (int kk = 0; kk < 2; kk++)
        for (int linear = 0; linear <= 1; linear++) {
            nw_problem pb = { .x = x, .y = y, .n = n, .d = d, .p = p, .linear = linear,
                              .kernel = kk ? NW_KERNEL_LAPLACE : NW_KERNEL_GAUSSIAN, .w = w };
            nw_engine *e;
            assert_int_equal(nw_engine_new(&pb, NW_ENGINE_TREE, tol, 1, &e), NW_OK);
            nw_moments *mt, *md;
            assert_int_equal(nw_moments_new(&pb, &mt), NW_OK);
            assert_int_equal(nw_moments_new(&pb, &md), NW_OK);
            size_t visible = 0;
            for (size_t j = 0; j < 20; j++) {
                double qq[2] = { uniform01(), uniform01() };
                nw_engine_moments(e, qq, j, mt);
                nw_engine_dense(&pb, qq, j, md);
                check_moments(&pb, mt, md, 1);
                /* the budget: at most tol/8 of A_00 left out */
                assert_true(mt->errA[0] <= tol / 8 * mt->A[0] * 1.0001);
                visible += fabs(mt->A[0] * exp(mt->logscale - md->logscale) - md->A[0]) > 1e3 * RND * md->A[0];
            }
            assert_true(visible >= 10);
            nw_moments_free(mt);
            nw_moments_free(md);
            nw_engine_free(e);
        }
    free(x); free(y);
}

/* A model with the given data, kernel, estimator, scales and engine. */
static nw_model *model_of(const double *x, const double *y, size_t n, size_t d, size_t p,
                          nw_kernel kernel, int linear, const double *w, nw_engine_kind engine)
{
    nw_model *m;
    assert_int_equal(nw_model_new(&m, x, y, n, d, p), NW_OK);
    assert_int_equal(nw_model_set_kernel(m, kernel), NW_OK);
    assert_int_equal(nw_model_set_estimator(m, linear ? NW_ESTIMATOR_LINEAR : NW_ESTIMATOR_CONSTANT), NW_OK);
    assert_int_equal(nw_model_set_scale(m, w), NW_OK);
    assert_int_equal(nw_model_set_engine(m, engine), NW_OK);
    return m;
}

/* Predictions of the tree and the dense engine: |tree - dense| <= TOL |dense|
 * plus rounding (RND max|y|); empty (NaN) in the same places. */
static void check_predictions(const double *x, const double *y, size_t n, size_t d, size_t p,
                              const double *q, size_t m, const double *w, size_t *fallbacks)
{
    double *yt = malloc(m * p * sizeof(double)), *yd = malloc(m * p * sizeof(double));
    double ymax = max_abs(y, n * p);
    for (size_t ki = 0; ki < N_KERNELS; ki++)
        for (int linear = 0; linear <= 1; linear++) {
            nw_model *mt = model_of(x, y, n, d, p, KERNELS[ki], linear, w, NW_ENGINE_TREE);
            nw_model *md = model_of(x, y, n, d, p, KERNELS[ki], linear, w, NW_ENGINE_DENSE);
            nw_run_info info;
            size_t et, ed;
            assert_int_equal(nw_predict_info(mt, q, m, yt, &et, &info), NW_OK);
            assert_int_equal(info.engine, NW_ENGINE_TREE);
            assert_true(info.error_bound <= TOL);
            if (fallbacks) *fallbacks += info.exact_fallbacks;
            assert_int_equal(nw_predict(md, q, m, yd, &ed), NW_OK);
            assert_int_equal(et, ed);
            for (size_t i = 0; i < m * p; i++) {
                if (isnan(yd[i])) { assert_true(isnan(yt[i])); continue; }
                assert_close(yt[i], yd[i], TOL, RND * ymax);
            }
            nw_model_free(mt);
            nw_model_free(md);
        }
    free(yt); free(yd);
}

static void test_predictions_match_dense(void **state)
{
    (void) state;
    const size_t n = 4000, m = 300;
    for (size_t d = 2; d <= 3; d++)
        for (size_t p = 1; p <= 2; p++) {
            double *x = malloc(n * d * sizeof(double)), *y = malloc(n * p * sizeof(double));
            double *q = malloc(m * d * sizeof(double));
            make_data(n, d, p, x, y);
            /* inside the data: near its edge, local linear fits a few keys
             * on one side of the query, and the solve amplifies rounding
             * (measured against a long-double reference, the dense engine
             * itself is off by up to 2e-9 there, the tree by as much): the
             * raw-moment test covers those queries */
            for (size_t i = 0; i < m * d; i++) q[i] = 0.05 + 0.9 * uniform01();
            for (size_t k = 0; k < d; k++) q[k] = 40;           /* far outside */
            double w[3] = { 10, 14, 8 };
            check_predictions(x, y, n, d, p, q, m, w, NULL);
            free(x); free(y); free(q);
        }
}

/* Bandwidths from tiny (most neighbourhoods empty, Gaussian weights
 * underflow) to huge (every key in every sum: nothing pruned). */
static void test_tiny_and_huge_bandwidths(void **state)
{
    (void) state;
    const size_t n = 1500, d = 2, p = 1, m = 100;
    double *x = malloc(n * d * sizeof(double)), *y = malloc(n * p * sizeof(double));
    double *q = malloc(m * d * sizeof(double));
    make_data(n, d, p, x, y);
    for (size_t i = 0; i < m * d; i++) q[i] = uniform01();
    const double scales[] = { 1e-6, 0.05, 3, 3e3, 1e7, 1e200 };
    for (size_t s = 0; s < sizeof scales / sizeof scales[0]; s++) {
        double w[2] = { scales[s], 1.5 * scales[s] };
        check_predictions(x, y, n, d, p, q, m, w, NULL);
    }
    free(x); free(y); free(q);
}

/* n = 1, 2, all keys equal (one box that cannot be split), a key set on a
 * line (zero extent in one dimension). */
static void test_degenerate_data(void **state)
{
    (void) state;
    double q[6] = { 0.5, 0.5, 2, -1, 1e3, 1e3 }, w[2] = { 2, 3 };
    double x1[2] = { 0.4, 0.6 }, y1[1] = { 3 };
    check_predictions(x1, y1, 1, 2, 1, q, 3, w, NULL);
    double x2[4] = { 0.4, 0.6, 0.45, 0.7 }, y2[2] = { 3, -1 };
    check_predictions(x2, y2, 2, 2, 1, q, 3, w, NULL);
    const size_t n = 500;
    double *x = malloc(n * 2 * sizeof(double)), *y = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = 0.5; x[2 * i + 1] = 0.25;
        y[i] = 1 + uniform01();
    }
    check_predictions(x, y, n, 2, 1, q, 3, w, NULL);
    for (size_t i = 0; i < n; i++) x[2 * i] = uniform01();   /* a line */
    check_predictions(x, y, n, 2, 1, q, 3, w, NULL);
    free(x); free(y);
}

/* Leave-one-out loss and its gradient over the tree equal the dense ones:
 * the loss is a sum of squared residuals, each prediction within TOL;
 * the gradient within GRAD_RTOL. */
static void test_loo_with_gradient(void **state)
{
    (void) state;
    const size_t n = 2500, d = 2, p = 2;
    double *x = malloc(n * d * sizeof(double)), *y = malloc(n * p * sizeof(double));
    make_data(n, d, p, x, y);
    double w[2] = { 9, 13 };
    for (size_t ki = 0; ki < N_KERNELS; ki++)
        for (int linear = 0; linear <= 1; linear++) {
            nw_model *mt = model_of(x, y, n, d, p, KERNELS[ki], linear, w, NW_ENGINE_TREE);
            nw_model *md = model_of(x, y, n, d, p, KERNELS[ki], linear, w, NW_ENGINE_DENSE);
            double gt[2], gd[2], yt[2 * 2500], yd[2 * 2500];
            nw_pass_result rt = { .grad = gt }, rd = { .grad = gd };
            assert_int_equal(nw_pass(mt, w, 1, 1, 0, yt, &rt), NW_OK);
            assert_int_equal(nw_pass(md, w, 1, 1, 0, yd, &rd), NW_OK);
            double ymax = max_abs(y, n * p);
            for (size_t i = 0; i < n * p; i++) {
                if (isnan(yd[i])) { assert_true(isnan(yt[i])); continue; }
                assert_close(yt[i], yd[i], TOL, RND * ymax);
            }
            assert_close(rt.loss, rd.loss, 1e-10, 0);
            assert_int_equal(rt.n_empty, rd.n_empty);
            double gsize = fabs(gd[0]) + fabs(gd[1]);
            for (size_t k = 0; k < d; k++) assert_close(gt[k], gd[k], 0, GRAD_RTOL * gsize);
            nw_model_free(mt);
            nw_model_free(md);
        }
    free(x); free(y);
}

/* On ordinary data (positive values, queries among the keys) the
 * estimator hardly ever needs the dense engine. */
static void test_fallbacks_are_rare(void **state)
{
    (void) state;
    const size_t n = 20000, d = 2, p = 1, m = 2000;
    double *x = malloc(n * d * sizeof(double)), *y = malloc(n * p * sizeof(double));
    double *q = malloc(m * d * sizeof(double)), *yh = malloc(m * p * sizeof(double));
    make_data(n, d, p, x, y);
    for (size_t i = 0; i < m * d; i++) q[i] = uniform01();
    double w[2] = { 25, 25 };
    const nw_kernel logk[2] = { NW_KERNEL_GAUSSIAN, NW_KERNEL_LAPLACE };
    for (int ki = 0; ki < 2; ki++)
        for (int linear = 0; linear <= 1; linear++) {
            nw_model *mt = model_of(x, y, n, d, p, logk[ki], linear, w, NW_ENGINE_TREE);
            nw_run_info info;
            assert_int_equal(nw_predict_info(mt, q, m, yh, NULL, &info), NW_OK);
            assert_int_equal(info.engine, NW_ENGINE_TREE);
            assert_true(info.exact_fallbacks * 100 <= m);       /* <= 1 % */
            assert_true(info.error_bound > 0 && info.error_bound <= TOL);
            nw_model_free(mt);
        }
    free(x); free(y); free(q); free(yh);
}

/* AUTO takes the tree (the Gaussian: the 2-d FGT) for many keys and queries
 * at a small bandwidth in d = 2, the dense engine for the Gaussian when its bandwidth covers the
 * data (every key in every sum, measured slower by the tree) and for a
 * single query (the build costs more than one dense pass). */
static void test_auto_picks_tree_when_it_wins(void **state)
{
    (void) state;
    const size_t n = 100000, d = 2, p = 1;
    double *x = malloc(n * d * sizeof(double)), *y = malloc(n * p * sizeof(double));
    make_data(n, d, p, x, y);
    const nw_kernel ks[2] = { NW_KERNEL_EPANECHNIKOV, NW_KERNEL_GAUSSIAN };
    double small[2] = { 50, 50 }, large[2] = { 0.5, 0.5 };
    for (int ki = 0; ki < 2; ki++) {
        nw_problem pb = { .x = x, .y = y, .n = n, .d = d, .p = p, .kernel = ks[ki], .w = small };
        nw_engine *e;
        assert_int_equal(nw_engine_new(&pb, NW_ENGINE_AUTO, TOL, n, &e), NW_OK);
        /* the Gaussian has the 2-d fast Gauss transform, cheaper still
         * (measured: 0.97 s against the tree's 4.62 s, one thread) */
        assert_int_equal(e->kind, ks[ki] == NW_KERNEL_GAUSSIAN ? NW_ENGINE_FGT : NW_ENGINE_TREE);
        nw_engine_free(e);
        assert_int_equal(nw_engine_new(&pb, NW_ENGINE_AUTO, TOL, 1, &e), NW_OK);
        assert_int_not_equal(e->kind, NW_ENGINE_TREE);
        nw_engine_free(e);
    }
    nw_problem pb = { .x = x, .y = y, .n = n, .d = d, .p = p, .kernel = NW_KERNEL_GAUSSIAN, .w = large };
    nw_engine *e;
    assert_int_equal(nw_engine_new(&pb, NW_ENGINE_AUTO, TOL, n, &e), NW_OK);
    assert_int_not_equal(e->kind, NW_ENGINE_TREE);
    nw_engine_free(e);
    free(x); free(y);
}

/* Where a query's window holds a few percent of the keys or more, the
 * tree's ~6 dense evaluations a visited key lose to the dense engine's
 * prepared paths: AUTO does not take it (n = m = 1e4 uniform on [0, 1]^2,
 * h = 0.04 and 0.01: measured, as h = 0.2 and 0.05 on [0, 5]^2, the tree
 * at 2.6x the dense engine's time for the Gaussian (which then runs dense
 * or the FGT) and 1.9x for Laplace), and still takes it for the Gaussian
 * at h = 0.01 (0.48x). */
static void test_auto_leaves_the_tree_where_dense_wins(void **state)
{
    (void) state;
    const size_t n = 10000;
    double *x = malloc(n * 2 * sizeof(double)), *y = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = uniform01();
        x[2 * i + 1] = uniform01();
        y[i] = 2 + sin(3 * x[2 * i]) + 0.1 * uniform01();
    }
    double w_mid[2] = { 25, 25 }, w_small[2] = { 100, 100 };
    nw_problem pb = { .x = x, .y = y, .n = n, .d = 2, .p = 1, .kernel = NW_KERNEL_GAUSSIAN, .w = w_mid };
    nw_engine *e;
    assert_int_equal(nw_engine_new(&pb, NW_ENGINE_AUTO, TOL, n, &e), NW_OK);
    assert_int_not_equal(e->kind, NW_ENGINE_TREE);
    nw_engine_free(e);
    pb.w = w_small;
    assert_int_equal(nw_engine_new(&pb, NW_ENGINE_AUTO, TOL, n, &e), NW_OK);
    assert_int_equal(e->kind, NW_ENGINE_TREE);
    nw_engine_free(e);
    pb.kernel = NW_KERNEL_LAPLACE;
    assert_int_equal(nw_engine_new(&pb, NW_ENGINE_AUTO, TOL, n, &e), NW_OK);
    assert_int_not_equal(e->kind, NW_ENGINE_TREE);
    nw_engine_free(e);
    free(x); free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_moments_match_dense),
        cmocka_unit_test(test_pruning_bounds_are_used),
        cmocka_unit_test(test_predictions_match_dense),
        cmocka_unit_test(test_tiny_and_huge_bandwidths),
        cmocka_unit_test(test_degenerate_data),
        cmocka_unit_test(test_loo_with_gradient),
        cmocka_unit_test(test_fallbacks_are_rare),
        cmocka_unit_test(test_auto_picks_tree_when_it_wins),
        cmocka_unit_test(test_auto_leaves_the_tree_where_dense_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
