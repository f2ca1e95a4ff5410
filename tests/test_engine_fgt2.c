/* test_engine_fgt2.c: the 2-d fast Gauss transform (engine_fgt2.c) against
 * the dense engine and a long-double reference: raw moments within their
 * stated bounds, both modes (per query, local), lc and ll, p = 1, 2,
 * leave-one-out, gradient moments, anisotropic and negative scales, hard
 * data; predictions within the tolerance through nw_predict_info, rare
 * fallbacks, AUTO's choice, and f32's looser tolerance. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine.h"
#include "estimate.h"
#include "testutil.h"


/* n points in [0,5]^2 with a tight cluster (every 7th) and exact duplicates
 * (every 11th at (1, 2)); outputs 3 + sin x0 + x1^0.8 and 10 + cos 3 x1
 * (away from 0, where a relative bound cannot hold) plus noise */
static void make_data(uint64_t seed, size_t n, size_t p, double *x, double *y)
{
    uint64_t s = seed;
    for (size_t j = 0; j < n; j++) {
        double a = nwt_unif(&s), b = nwt_unif(&s);
        if (j % 7 == 0) { x[2 * j] = 2.5 + 1e-3 * a; x[2 * j + 1] = 3.0 + 1e-3 * b; }
        else if (j % 11 == 0) { x[2 * j] = 1.0; x[2 * j + 1] = 2.0; }
        else { x[2 * j] = 5 * a; x[2 * j + 1] = 5 * b; }
        for (size_t c = 0; c < p; c++)
            y[j * p + c] = (c == 0 ? 3 + sin(x[2 * j]) + pow(x[2 * j + 1], 0.8) : 10 + cos(3 * x[2 * j + 1])) +
                           0.5 * (nwt_unif(&s) - 0.5);
    }
}

/* Long-double reference of A and B at q (no skip, no shift), scaled by
 * exp(-logscale). */
static void reference_moments(const nw_problem *pb, const double *q, size_t skip, double logscale,
                              long double *A, long double *B)
{
    const size_t r = pb->linear ? 3 : 1, p = pb->p;
    for (size_t i = 0; i < r * r; i++) A[i] = 0;
    for (size_t i = 0; i < r * p; i++) B[i] = 0;
    for (size_t j = 0; j < pb->n; j++) {
        if (j == skip) continue;
        long double u0 = ((long double) q[0] - pb->x[2 * j]) * pb->w[0];
        long double u1 = ((long double) q[1] - pb->x[2 * j + 1]) * pb->w[1];
        long double e = expl(-0.5L * (u0 * u0 + u1 * u1) - logscale);
        long double phi[3] = { 1, u0, u1 };
        for (size_t a = 0; a < r; a++) {
            for (size_t b = 0; b < r; b++) A[a * r + b] += e * phi[a] * phi[b];
            for (size_t c = 0; c < p; c++) B[a * p + c] += e * phi[a] * pb->y[j * p + c];
        }
    }
}

static size_t checked;

/* fgt2 moments at q against dense (to errA/errB plus the dense engine's
 * own rounding, 1e-13 of the absolute sums) and against the long-double
 * reference (to errA/errB plus 1e-15 of the absolute sums) */
static void check_moments(const nw_problem *pb, const nw_engine *eng, const double *q, size_t skip,
                          nw_moments *mf, nw_moments *md)
{
    for (size_t k = 0; k < 2; k++) mf->shift[k] = md->shift[k] = 0;
    nw_engine_moments(eng, q, skip, mf);
    nw_engine_dense(pb, q, skip, md);
    assert_int_equal(mf->approx, 1);
    const size_t r = mf->r, p = pb->p;
    if (!(md->A[0] > 0)) return;
    double f = exp(md->logscale - mf->logscale);
    double ymax = 0;
    for (size_t j = 0; j < pb->n * p; j++) ymax = fmax(ymax, fabs(pb->y[j]));
    /* sum K |phi_a phi_b| <= A_00 + A_11 + A_22 */
    double abs_scale = md->A[0] + (r > 1 ? md->A[4] + md->A[8] : 0);
    long double Ar[9], Br[6];
    reference_moments(pb, q, skip, mf->logscale, Ar, Br);
    for (size_t i = 0; i < r * r; i++) {
        double want = md->A[i] * f, slack = 1e-13 * abs_scale * f;
        if (!(fabs(mf->A[i] - want) <= mf->errA[i] + slack))
            fail_msg("A[%zu] = %.17g, dense %.17g, err bound %.3g (q = %g %g, skip %zu, w = %g %g, ll %d)",
                     i, mf->A[i], want, mf->errA[i], q[0], q[1], skip, pb->w[0], pb->w[1], pb->linear);
        if (!(fabsl(mf->A[i] - Ar[i]) <= mf->errA[i] + 1e-15 * abs_scale * f))
            fail_msg("A[%zu] = %.17g, long double %.17Lg, err bound %.3g (q = %g %g, skip %zu, w = %g %g)",
                     i, mf->A[i], Ar[i], mf->errA[i], q[0], q[1], skip, pb->w[0], pb->w[1]);
        /* the bound is a certificate, not a blanket: well inside the data it
         * is small */
    }
    for (size_t i = 0; i < r * p; i++) {
        double want = md->B[i] * f, slack = 1e-13 * abs_scale * f * ymax;
        if (!(fabs(mf->B[i] - want) <= mf->errB[i] + slack))
            fail_msg("B[%zu] = %.17g, dense %.17g, err bound %.3g (q = %g %g, skip %zu, w = %g %g)",
                     i, mf->B[i], want, mf->errB[i], q[0], q[1], skip, pb->w[0], pb->w[1]);
        if (!(fabsl(mf->B[i] - Br[i]) <= mf->errB[i] + 1e-15 * abs_scale * f * ymax))
            fail_msg("B[%zu] = %.17g, long double %.17Lg, err bound %.3g (q = %g %g, skip %zu)",
                     i, mf->B[i], Br[i], mf->errB[i], q[0], q[1], skip);
    }
    if (pb->grad) {
        const size_t nA = r * r * 2, nB = r * p * 2;
        for (size_t i = 0; i < nA; i++) {
            double want = md->dA[i] * f;
            if (!(fabs(mf->dA[i] - want) <= 1e-9 * (fabs(want) + abs_scale * f)))
                fail_msg("dA[%zu] = %.17g, dense %.17g (q = %g %g, ll %d)", i, mf->dA[i], want, q[0], q[1],
                         pb->linear);
        }
        for (size_t i = 0; i < nB; i++) {
            double want = md->dB[i] * f;
            if (!(fabs(mf->dB[i] - want) <= 1e-9 * (fabs(want) + abs_scale * f * ymax)))
                fail_msg("dB[%zu] = %.17g, dense %.17g", i, mf->dB[i], want);
        }
    }
    checked++;
}

static const double queries[][2] = {
    { 0.0, 0.0 }, { 2.5004, 3.0003 }, { 1.0, 2.0 }, { 4.99, 0.01 }, { 3.3, 1.7 }, { 5.0, 5.0 },
    { -0.7, 2.0 }, { 6.1, 6.1 }, { 2.0, 9.0 }, { 40.0, -3.0 }, { -300.0, 1e3 }
};

static void moments_case_tol(size_t n, size_t p, const double w[2], int linear, int grad, size_t m_expected,
                             uint64_t seed, double tol)
{
    double *x = malloc(n * 2 * sizeof *x), *y = malloc(n * p * sizeof *y);
    make_data(seed, n, p, x, y);
    nw_problem pb = { .x = x, .y = y, .n = n, .d = 2, .p = p, .kernel = NW_KERNEL_GAUSSIAN,
                      .w = w, .linear = linear, .grad = grad };
    nw_engine *eng = NULL;
    assert_int_equal(nw_engine_new(&pb, NW_ENGINE_FGT, tol, m_expected, &eng), NW_OK);
    assert_int_equal(eng->kind, NW_ENGINE_FGT);
    nw_moments *mf = NULL, *md = NULL;
    assert_int_equal(nw_moments_new(&pb, &mf), NW_OK);
    assert_int_equal(nw_moments_new(&pb, &md), NW_OK);
    for (size_t iq = 0; iq < sizeof queries / sizeof *queries; iq++)
        check_moments(&pb, eng, queries[iq], NW_NO_SKIP, mf, md);
    uint64_t s = seed + 99;
    for (size_t i = 0; i < 12; i++) {
        double q[2] = { -0.5 + 6 * nwt_unif(&s), -0.5 + 6 * nwt_unif(&s) };
        check_moments(&pb, eng, q, NW_NO_SKIP, mf, md);
    }
    /* leave-one-out at the keys themselves (duplicates and cluster too) */
    for (size_t j = 0; j < n; j += n / 13 + 1) check_moments(&pb, eng, x + 2 * j, j, mf, md);
    if (n > 11) {
        check_moments(&pb, eng, x + 2 * 11, 11, mf, md);   /* a duplicate */
        check_moments(&pb, eng, x + 2 * 7, 7, mf, md);     /* in the cluster */
    }
    nw_moments_free(mf);
    nw_moments_free(md);
    nw_engine_free(eng);
    free(x);
    free(y);
}

static void moments_case(size_t n, size_t p, const double w[2], int linear, int grad, size_t m_expected,
                         uint64_t seed)
{
    moments_case_tol(n, p, w, linear, grad, m_expected, seed, 1e-12);
}

/* both modes (few queries expected: per query; many: local), lc and ll,
 * with and without gradient, p = 1 and 2, isotropic and anisotropic */
static void test_moments_within_bounds(void **state)
{
    (void) state;
    const double ws[][2] = { { 1 / 0.3, 1 / 0.3 }, { 1 / 0.15, 1 / 0.6 }, { -1 / 0.25, 1 / 0.4 } };
    const size_t ms[] = { 10, 10000000 };
    for (size_t im = 0; im < 2; im++)
        for (int linear = 0; linear < 2; linear++)
            for (int grad = 0; grad < 2; grad++)
                for (size_t iw = 0; iw < 3; iw++)
                    moments_case(4000, 1 + (iw & 1), ws[iw], linear, grad, ms[im], 5 + iw);
}

/* the local mode on grids wider than its reach in both inputs (80 x 80
 * and 80 x 40 boxes): far offsets keep fewer terms, offsets near the
 * edges have no partner to fold with, the target columns go in several
 * bands; moments against dense and long double as above, p = 1 and 2 */
static void test_local_wide_grid(void **state)
{
    (void) state;
    const double ws[][2] = { { 1 / 0.08, 1 / 0.1 }, { -1 / 0.09, 1 / 0.16 } };
    for (size_t iw = 0; iw < 2; iw++)
        for (int linear = 0; linear < 2; linear++)
            moments_case(6000, 1 + iw, ws[iw], linear, 0, 10000000, 31 + iw);
}

/* The coarse grid (boxes twice as wide, beta in [1, 2)) that the local
 * mode takes at loose tolerances: the plan picks it, and its moments keep
 * within their stated bounds against dense and long double, lc at f32's
 * 1e-6 (p = 1, 2; the cluster, duplicates, far queries, leave-one-out) and
 * ll and the gradient at 1e-4. */
static void test_coarse_grid(void **state)
{
    (void) state;
    const double ws[][2] = { { 1 / 0.3, 1 / 0.3 }, { -1 / 0.25, 1 / 0.4 } };
    const size_t n = 10000, m = 10000;   /* the benchmark's n = m */
    double *x = malloc(n * 2 * sizeof *x), *y = malloc(n * 2 * sizeof *y);
    make_data(3, n, 2, x, y);
    size_t coarse = 0;
    for (size_t iw = 0; iw < 2; iw++)
        for (int linear = 0; linear < 2; linear++)
            for (int grad = 0; grad < 2; grad++) {
                const double tol = linear || grad ? 1e-4 : 1e-6;
                nw_problem pb = { .x = x, .y = y, .n = n, .d = 2, .p = 1 + iw, .kernel = NW_KERNEL_GAUSSIAN,
                                  .w = ws[iw], .linear = linear, .grad = grad };
                nw_fgt2_plan plan;
                nw_fgt2_plan_for(&pb, m, tol, &plan);
                assert_true(plan.local);
                coarse += (size_t) plan.coarse;
                if (!linear && !grad && iw == 0) assert_int_equal(plan.coarse, 1);   /* the benchmark's case */
                /* never at the default tolerance (its terms would pass the rows) */
                nw_fgt2_plan_for(&pb, m, 1e-12, &plan);
                assert_int_equal(plan.coarse, 0);
                moments_case_tol(n, 1 + iw, ws[iw], linear, grad, m, 3, tol);
            }
    print_message("coarse grid in %zu of 8 cases\n", coarse);
    free(x);
    free(y);
}

/* bandwidths from tiny (few keys per box) to huge (one box), n = 1, 2 */
static void test_moments_extremes(void **state)
{
    (void) state;
    const double ws[][2] = { { 1 / 0.02, 1 / 0.02 }, { 1 / 4.0, 1 / 4.0 }, { 1 / 100.0, 1 / 1e4 },
                             { 1 / 0.05, 1 / 3.0 } };
    for (size_t iw = 0; iw < 4; iw++)
        for (int linear = 0; linear < 2; linear++) {
            moments_case(3000, 1, ws[iw], linear, 1, 10, 11);
            moments_case(3000, 2, ws[iw], linear, 0, 10000000, 12);
        }
    const double w1[2] = { 2.0, 2.0 };
    for (size_t n = 1; n <= 2; n++)
        for (int linear = 0; linear < 2; linear++) {
            moments_case(n, 1, w1, linear, 0, 10, 13);
            moments_case(n, 2, w1, linear, 1, 10000000, 14);
        }
}

/* predictions of fgt against dense, relative error <= tol (plus the dense
 * engine's own rounding), with few fallbacks inside the data */
static void predictions_case(size_t n, size_t p, double h0, double h1, size_t m)
{
    double *x = malloc(n * 2 * sizeof *x), *y = malloc(n * p * sizeof *y);
    double *q = malloc(m * 2 * sizeof *q), *yf = malloc(m * p * sizeof *yf), *yd = malloc(m * p * sizeof *yd);
    make_data(21, n, p, x, y);
    uint64_t s = 77;
    for (size_t j = 0; j < m; j++) {
        /* 1 in 8 outside the data (up to 2 units), the rest inside */
        double lo = j % 8 == 0 ? -2 : 0, span = j % 8 == 0 ? 9 : 5;
        q[2 * j] = lo + span * nwt_unif(&s);
        q[2 * j + 1] = lo + span * nwt_unif(&s);
    }
    nw_model *model = NULL;
    assert_int_equal(nw_model_new(&model, x, y, n, 2, p), NW_OK);
    double h[2] = { h0, h1 };
    assert_int_equal(nw_model_set_bandwidth(model, h), NW_OK);
    for (int e = 0; e < 2; e++) {
        nw_model_set_estimator(model, (nw_estimator) e);
        nw_run_info info;
        assert_int_equal(nw_model_set_engine(model, NW_ENGINE_DENSE), NW_OK);
        assert_int_equal(nw_predict_info(model, q, m, yd, NULL, &info), NW_OK);
        assert_int_equal(nw_model_set_engine(model, NW_ENGINE_FGT), NW_OK);
        assert_int_equal(nw_predict_info(model, q, m, yf, NULL, &info), NW_OK);
        assert_int_equal(info.engine, NW_ENGINE_FGT);
        assert_true(info.error_bound <= 1e-12);
        for (size_t i = 0; i < m * p; i++)
            if (!(fabs(yf[i] - yd[i]) <= 1e-12 * fabs(yd[i]) + 1e-14 * (1 + fabs(yd[i]))))
                fail_msg("%s h=%g,%g q=(%g,%g): fgt %.17g dense %.17g", e ? "ll" : "lc", h0, h1, q[2 * (i / p)],
                         q[2 * (i / p) + 1], yf[i], yd[i]);
        /* inside the data (queries j % 8 != 0) fallbacks are rare */
        size_t mi = 0;
        for (size_t j = 0; j < m; j++)
            if (j % 8) { q[2 * mi] = q[2 * j]; q[2 * mi + 1] = q[2 * j + 1]; mi++; }
        nw_run_info inside;
        assert_int_equal(nw_predict_info(model, q, mi, yf, NULL, &inside), NW_OK);
        print_message("fgt2 %s n=%zu p=%zu h=%g,%g: %zu of %zu inside fell back, bound %.3g\n", e ? "ll" : "lc",
                      n, p, h0, h1, inside.exact_fallbacks, mi, inside.error_bound);
        if (inside.exact_fallbacks > mi / 100)
            fail_msg("%s h=%g,%g: %zu of %zu fell back", e ? "ll" : "lc", h0, h1, inside.exact_fallbacks, mi);
        /* restore the queries for the next estimator */
        s = 77;
        for (size_t j = 0; j < m; j++) {
            double lo = j % 8 == 0 ? -2 : 0, span = j % 8 == 0 ? 9 : 5;
            q[2 * j] = lo + span * nwt_unif(&s);
            q[2 * j + 1] = lo + span * nwt_unif(&s);
        }
    }
    nw_model_free(model);
    free(x); free(y); free(q); free(yf); free(yd);
}

static void test_predictions_within_tolerance(void **state)
{
    (void) state;
    predictions_case(20000, 1, 0.3, 0.3, 3000);     /* many queries: local mode */
    predictions_case(20000, 2, 0.1, 0.4, 3000);
    predictions_case(20000, 1, 0.3, 0.3, 40);       /* few: per query */
    predictions_case(5000, 1, 2.0, 0.05, 400);
}

/* Outputs that cross 0 (y = sin 2 x0 + cos 2 x1 + noise): predictions near
 * 0 no sum certifies relatively, so they fall back to the dense engine --
 * past the second try where it would sum most boxes directly, and on
 * prepared keys after the first few (nw_engine_fallback).  The results
 * must be the dense engine's own: within 1e-12 relative, or 1e-14 of the
 * outputs' scale near 0. */
static void test_fallbacks_near_zero(void **state)
{
    (void) state;
    const size_t n = 20000, m = 4000;
    double *x = malloc(n * 2 * sizeof *x), *y = malloc(n * sizeof *y);
    double *q = malloc(m * 2 * sizeof *q), *yf = malloc(m * sizeof *yf), *yd = malloc(m * sizeof *yd);
    uint64_t s = 5;
    for (size_t j = 0; j < n; j++) {
        x[2 * j] = 5 * nwt_unif(&s);
        x[2 * j + 1] = 5 * nwt_unif(&s);
        y[j] = sin(2 * x[2 * j]) + cos(2 * x[2 * j + 1]) + 0.3 * (nwt_unif(&s) - 0.5);
    }
    for (size_t j = 0; j < m; j++) {
        q[2 * j] = 5 * nwt_unif(&s);
        q[2 * j + 1] = 5 * nwt_unif(&s);
    }
    nw_model *model = NULL;
    assert_int_equal(nw_model_new(&model, x, y, n, 2, 1), NW_OK);
    double h[2];
    assert_int_equal(nw_rule_of_thumb(model, NW_RULE_SCOTT, h), NW_OK);
    assert_int_equal(nw_model_set_bandwidth(model, h), NW_OK);
    for (int e = 0; e < 2; e++) {
        nw_model_set_estimator(model, (nw_estimator) e);
        nw_run_info info;
        assert_int_equal(nw_model_set_engine(model, NW_ENGINE_DENSE), NW_OK);
        assert_int_equal(nw_predict_info(model, q, m, yd, NULL, &info), NW_OK);
        assert_int_equal(nw_model_set_engine(model, NW_ENGINE_FGT), NW_OK);
        assert_int_equal(nw_predict_info(model, q, m, yf, NULL, &info), NW_OK);
        print_message("fgt2 %s near 0: %zu of %zu fell back\n", e ? "ll" : "lc", info.exact_fallbacks, m);
        /* enough to reach the prepared keys */
        assert_true(info.exact_fallbacks >= 32);
        for (size_t i = 0; i < m; i++)
            if (!(fabs(yf[i] - yd[i]) <= 1e-12 * fabs(yd[i]) + 1e-14 * 2))
                fail_msg("%s q=(%g,%g): fgt %.17g dense %.17g", e ? "ll" : "lc", q[2 * i], q[2 * i + 1],
                         yf[i], yd[i]);
    }
    nw_model_free(model);
    free(x); free(y); free(q); free(yf); free(yd);
}

/* leave-one-out loss and gradient through the engine, lc and ll */
static void test_loo_loss_and_gradient(void **state)
{
    (void) state;
    const size_t n = 6000, p = 1;
    double *x = malloc(n * 2 * sizeof *x), *y = malloc(n * sizeof *y);
    make_data(3, n, p, x, y);
    nw_model *model = NULL;
    assert_int_equal(nw_model_new(&model, x, y, n, 2, p), NW_OK);
    const double ws[][2] = { { 3.0, 3.0 }, { 8.0, 2.0 } };
    for (int e = 0; e < 2; e++)
        for (size_t iw = 0; iw < 2; iw++) {
            double ld, lf, gd[2], gf[2];
            nw_model_set_estimator(model, (nw_estimator) e);
            nw_model_set_engine(model, NW_ENGINE_DENSE);
            assert_int_equal(nw_loo_loss(model, ws[iw], &ld, gd, NULL), NW_OK);
            nw_model_set_engine(model, NW_ENGINE_FGT);
            assert_int_equal(nw_loo_loss(model, ws[iw], &lf, gf, NULL), NW_OK);
            assert_close(lf, ld, 1e-11, 0);
            for (int k = 0; k < 2; k++) assert_close(gf[k], gd[k], 1e-7, 1e-9 * fabs(ld));
        }
    nw_model_free(model);
    free(x); free(y);
}

/* tiny data, one point, far queries, an engine that does not apply */
static void test_small_and_refusals(void **state)
{
    (void) state;
    double x[4] = { 1.0, 1.0, 1.0, 1.0 }, y[2] = { 3.0, 5.0 };
    double q[6] = { 1.0, 1.0, -50.0, 3.0, 1e6, -1e6 }, yh[3];
    nw_model *model = NULL;
    assert_int_equal(nw_model_new(&model, x, y, 2, 2, 1), NW_OK);
    nw_model_set_engine(model, NW_ENGINE_FGT);
    assert_int_equal(nw_predict(model, q, 3, yh, NULL), NW_OK);
    for (int i = 0; i < 3; i++) assert_close(yh[i], 4.0, 1e-15, 0);
    double loss;
    assert_int_equal(nw_loo_loss(model, NULL, &loss, NULL, NULL), NW_OK);
    assert_close(loss, 0.5 * (4 + 4), 1e-15, 0);
    nw_model_set_kernel(model, NW_KERNEL_EPANECHNIKOV);
    assert_int_equal(nw_predict(model, q, 3, yh, NULL), NW_ERR_ARG);
    nw_model_free(model);
}

/* AUTO takes the transform where it is cheaper: many points and queries
 * with a few hundred keys per bandwidth box; the dense engine for small
 * problems */
/* f32 predictions (engine.c): a fast engine certifies NW_F32_TOLERANCE
 * (1e-6) or the model's tolerance where that is looser, with fewer terms;
 * the predictions stay within that of the dense engine's f64 ones, the
 * bound is certified, and AUTO's cost at the looser tolerance prefers the
 * FGT to the f32 dense sums at n = m = 1e4, h = 0.3 (the benchmark's 2-d
 * case). */
static void test_f32_tolerance(void **state)
{
    (void) state;
    const size_t n = 20000, m = 3000;
    double *x = malloc(n * 2 * sizeof *x), *y = malloc(n * sizeof *y);
    double *q = malloc(m * 2 * sizeof *q), *yf = malloc(m * sizeof *yf), *yd = malloc(m * sizeof *yd);
    make_data(23, n, 1, x, y);
    uint64_t s = 5;
    for (size_t j = 0; j < 2 * m; j++) q[j] = 5 * nwt_unif(&s);
    nw_model *model = NULL;
    assert_int_equal(nw_model_new(&model, x, y, n, 2, 1), NW_OK);
    double h[2] = { 0.3, 0.3 };
    assert_int_equal(nw_model_set_bandwidth(model, h), NW_OK);
    nw_run_info info;
    assert_int_equal(nw_model_set_engine(model, NW_ENGINE_DENSE), NW_OK);
    assert_int_equal(nw_predict_info(model, q, m, yd, NULL, &info), NW_OK);
    assert_int_equal(nw_model_set_engine(model, NW_ENGINE_FGT), NW_OK);
    assert_int_equal(nw_model_set_precision(model, NW_PRECISION_F32), NW_OK);
    static const double tols[] = { 1e-12, 1e-4 };
    for (size_t t = 0; t < 2; t++) {
        assert_int_equal(nw_model_set_tolerance(model, tols[t]), NW_OK);
        double tol = fmax(tols[t], NW_F32_TOLERANCE);
        assert_int_equal(nw_predict_info(model, q, m, yf, NULL, &info), NW_OK);
        assert_int_equal(info.engine, NW_ENGINE_FGT);
        assert_true(info.certified);
        print_message("f32 fgt2, tolerance %g: bound %.3g, %zu fallbacks\n", tols[t], info.error_bound,
                      info.exact_fallbacks);
        /* the looser tolerance is in effect (at 1e-12 the bound is ~1e-13) */
        assert_true(info.error_bound <= tol && info.error_bound > 1e-11);
        for (size_t i = 0; i < m; i++)
            if (!(fabs(yf[i] - yd[i]) <= tol * fabs(yd[i])))
                fail_msg("tolerance %g q=(%g,%g): fgt f32 %.17g dense %.17g", tol, q[2 * i], q[2 * i + 1], yf[i],
                         yd[i]);
    }
    nw_model_free(model);
    /* AUTO at the benchmark's size */
    const size_t nb = 10000;
    double w[2] = { 1 / 0.3, 1 / 0.3 };
    for (size_t j = 0; j < 2 * nb; j++) x[j] = 5 * nwt_unif(&s);
    nw_problem pb = { .x = x, .y = y, .n = nb, .d = 2, .p = 1, .kernel = NW_KERNEL_GAUSSIAN, .w = w, .f32 = 1 };
    nw_engine *eng = NULL;
    assert_int_equal(nw_engine_new(&pb, NW_ENGINE_AUTO, 1e-12, nb, &eng), NW_OK);
    assert_int_equal(eng->kind, NW_ENGINE_FGT);
    assert_true(eng->tol == NW_F32_TOLERANCE);
    nw_engine_free(eng);
    /* and at h = 0.2, where the f32 dense sums (~1.65x f64's speed in 2-d,
     * not 4x) take 1.4x the FGT's time */
    w[0] = w[1] = 1 / 0.2;
    assert_int_equal(nw_engine_new(&pb, NW_ENGINE_AUTO, 1e-12, nb, &eng), NW_OK);
    assert_int_equal(eng->kind, NW_ENGINE_FGT);
    nw_engine_free(eng);
    free(x); free(y); free(q); free(yf); free(yd);
}

/* Both builds of the transform (rows of 32 doubles, and of
 * NW_FGT2_NARROW_PP, which nw_fgt2_init picks where the local mode keeps
 * at most that many terms: f32's tolerance for lc) give the same bits: moments,
 * error bounds and scale, lc and ll, with gradient, p = 1 and 2,
 * leave-one-out, queries inside and far outside the data. */
static void test_narrow_rows_same_bits(void **state)
{
    (void) state;
    const size_t n = 4000, m = 10000000;
    const double ws[][2] = { { 1 / 0.3, 1 / 0.3 }, { -1 / 0.25, 1 / 0.4 } };
    double *x = malloc(n * 2 * sizeof *x), *y = malloc(n * 2 * sizeof *y);
    size_t compared = 0;
    for (size_t iw = 0; iw < 2; iw++)
        for (int linear = 0; linear < 2; linear++)
            for (int grad = 0; grad < 2; grad++) {
                const size_t p = 1 + iw;
                /* f32's 1e-6 keeps <= 20 terms for lc; the higher powers of
                 * ll and the gradient need a looser tolerance */
                const double tol = linear || grad ? 1e-4 : 1e-6;
                make_data(41 + iw, n, p, x, y);
                nw_problem pb = { .x = x, .y = y, .n = n, .d = 2, .p = p, .kernel = NW_KERNEL_GAUSSIAN,
                                  .w = ws[iw], .linear = linear, .grad = grad };
                /* the narrow build is the one chosen */
                nw_fgt2_plan plan;
                nw_fgt2_plan_for(&pb, m, tol, &plan);
                assert_true(plan.local && plan.rows == NW_FGT2_NARROW_PP && plan.P <= NW_FGT2_NARROW_PP);
                nw_fgt2_plan_for(&pb, m, 1e-12, &plan);
                assert_true(plan.local && plan.rows == 32 && plan.P > NW_FGT2_NARROW_PP);
                nw_engine *narrow = NULL;
                assert_int_equal(nw_engine_new(&pb, NW_ENGINE_FGT, tol, m, &narrow), NW_OK);
                nw_engine *wide = calloc(1, sizeof *wide);
                assert_non_null(wide);
                wide->kind = NW_ENGINE_FGT;
                wide->problem = narrow->problem;
                wide->pb = &wide->problem;
                wide->tol = narrow->tol;
                wide->m = m;
                assert_int_equal(nw_fgt2_init_wide(wide), NW_OK);
                nw_moments *ma = NULL, *mb = NULL;
                assert_int_equal(nw_moments_new(&pb, &ma), NW_OK);
                assert_int_equal(nw_moments_new(&pb, &mb), NW_OK);
                const size_t r = ma->r, nA = r * r * (grad ? 3 : 1), nB = r * p * (grad ? 3 : 1);
                uint64_t s = 7 + iw;
                for (size_t i = 0; i < 60; i++) {
                    double qr[2] = { -0.5 + 6 * nwt_unif(&s), -0.5 + 6 * nwt_unif(&s) };
                    const double *q = i < sizeof queries / sizeof *queries ? queries[i] : i % 3 ? qr : x + 2 * i;
                    size_t skip = i % 3 == 0 && i >= sizeof queries / sizeof *queries ? i : NW_NO_SKIP;
                    for (size_t k = 0; k < 2; k++) ma->shift[k] = mb->shift[k] = 0;
                    nw_engine_moments(narrow, q, skip, ma);
                    nw_engine_moments(wide, q, skip, mb);
                    assert_int_equal(ma->approx, mb->approx);
                    assert_memory_equal(&ma->logscale, &mb->logscale, sizeof(double));
                    assert_memory_equal(ma->A, mb->A, r * r * sizeof(double));
                    assert_memory_equal(ma->B, mb->B, r * p * sizeof(double));
                    assert_memory_equal(ma->errA, mb->errA, r * r * sizeof(double));
                    assert_memory_equal(ma->errB, mb->errB, r * p * sizeof(double));
                    if (grad) {
                        assert_memory_equal(ma->dA, mb->dA, (nA - r * r) * sizeof(double));
                        assert_memory_equal(ma->dB, mb->dB, (nB - r * p) * sizeof(double));
                    }
                    compared++;
                }
                nw_moments_free(ma);
                nw_moments_free(mb);
                wide->free_state(wide->state);
                free(wide);
                nw_engine_free(narrow);
            }
    assert_int_equal(compared, 8 * 60);
    free(x);
    free(y);
}

/* The local mode streamed (engine.h's regions; pb->regions, where all its
 * coefficients would pass half the memory budget): local linear on
 * [0, 4]^2 at h = 0.3, 256 target boxes whose coefficients take 17 MB
 * (p = 1) and 23 MB (p = 2) at once.  Built a group of columns at a time,
 * each column's coefficients are the whole build's: every query's moments
 * and bounds the same bit for bit; a query whose column is not built is
 * served per query, within its bounds (check_moments); a group larger
 * than region_group is refused. */
static void test_streamed_local(void **state)
{
    (void) state;
    const size_t n = 20000, m = 1000000;
    double *x = malloc(n * 2 * sizeof *x), *y = malloc(n * 2 * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    size_t compared = 0, outside = 0;
    for (size_t p = 1; p <= 2; p++) {
        uint64_t s = 5 + p;
        for (size_t j = 0; j < n; j++) {
            x[2 * j] = 4 * nwt_unif(&s);
            x[2 * j + 1] = 4 * nwt_unif(&s);
            for (size_t c = 0; c < p; c++) y[j * p + c] = 3 + sin(x[2 * j]) + c + 0.2 * nwt_unif(&s);
        }
        const double w[2] = { 1 / 0.3, 1 / 0.3 };
        nw_problem pb = { .x = x, .y = y, .n = n, .d = 2, .p = p, .kernel = NW_KERNEL_GAUSSIAN,
                          .w = w, .linear = 1, .threads = 2 };
        nw_engine *whole = NULL, *streamed = NULL;
        assert_int_equal(nw_engine_new(&pb, NW_ENGINE_FGT, 1e-12, m, &whole), NW_OK);
        pb.regions = 1;
        assert_int_equal(nw_engine_new(&pb, NW_ENGINE_FGT, 1e-12, m, &streamed), NW_OK);
        assert_int_equal(whole->regions, 0);
        assert_true(streamed->regions > 1);
        const size_t group = streamed->region_group, regions = streamed->regions;
        assert_true(group >= 1 && group < regions);
        assert_int_equal(streamed->region_build(streamed, 0, group + 1), NW_ERR_ARG);
        nw_moments *ma = NULL, *mb = NULL, *md = NULL;
        assert_int_equal(nw_moments_new(&pb, &ma), NW_OK);
        assert_int_equal(nw_moments_new(&pb, &mb), NW_OK);
        assert_int_equal(nw_moments_new(&pb, &md), NW_OK);
        const size_t r = ma->r;
        for (size_t r0 = 0; r0 < regions; r0 += group) {
            size_t r1 = r0 + group < regions ? r0 + group : regions;
            assert_int_equal(streamed->region_build(streamed, r0, r1), NW_OK);
            uint64_t sq = 11 + r0;
            for (size_t i = 0; i < 1000; i++) {
                double q[2] = { -0.3 + 4.6 * nwt_unif(&sq), -0.3 + 4.6 * nwt_unif(&sq) };
                size_t reg = streamed->region_of(streamed, q);
                if (reg < r0 || reg >= r1) {
                    /* not built now: per query, as right */
                    if (outside < 100 && i % 4 == 0) {
                        check_moments(&pb, streamed, q, NW_NO_SKIP, mb, md);
                        outside++;
                    }
                    continue;
                }
                for (size_t k = 0; k < 2; k++) ma->shift[k] = mb->shift[k] = 0;
                nw_engine_moments(whole, q, NW_NO_SKIP, ma);
                nw_engine_moments(streamed, q, NW_NO_SKIP, mb);
                assert_memory_equal(&ma->logscale, &mb->logscale, sizeof(double));
                assert_memory_equal(ma->A, mb->A, r * r * sizeof(double));
                assert_memory_equal(ma->B, mb->B, r * p * sizeof(double));
                assert_memory_equal(ma->errA, mb->errA, r * r * sizeof(double));
                assert_memory_equal(ma->errB, mb->errB, r * p * sizeof(double));
                compared++;
            }
        }
        nw_moments_free(ma);
        nw_moments_free(mb);
        nw_moments_free(md);
        nw_engine_free(whole);
        nw_engine_free(streamed);
    }
    print_message("# %zu queries compared bit for bit, %zu outside the built columns checked\n",
                  compared, outside);
    assert_true(compared > 1000);
    assert_true(outside >= 50);
    free(x);
    free(y);
}

/* Leave-one-out passes stream the local coefficients too (loo.c gives the
 * points a group of target columns at a time, as nw_predict_info gives
 * queries): at n = 2e4, h = 0.3 on [0, 4]^2, local linear, the whole
 * coefficients pass the 16 MiB budget, so the pass's engine has regions.
 * Its predictions, loss and gradient must agree with the dense engine's
 * as the whole engine's do (test_loo_loss_and_gradient's tolerances), and
 * the progress reports must reach (total, total). */
static int count_reports(double done, double total, void *ctx)
{
    double *last = ctx;
    last[0] = done, last[1] = total, last[2] += 1;
    return 0;
}

static void test_streamed_loo(void **state)
{
    (void) state;
    const size_t n = 20000;
    double *x = malloc(n * 2 * sizeof *x), *y = malloc(n * sizeof *y);
    double *yf = malloc(n * sizeof *yf), *yd = malloc(n * sizeof *yd);
    assert_true(x && y && yf && yd);
    uint64_t s = 17;
    for (size_t j = 0; j < n; j++) {
        x[2 * j] = 4 * nwt_unif(&s);
        x[2 * j + 1] = 4 * nwt_unif(&s);
        y[j] = 3 + sin(x[2 * j]) * cos(x[2 * j + 1]) + 0.2 * nwt_unif(&s);
    }
    const double w[2] = { 1 / 0.3, 1 / 0.3 };
    for (int grad = 0; grad < 2; grad++) {
        /* what nw_pass asks for: regions, m = n */
        nw_problem pb = { .x = x, .y = y, .n = n, .d = 2, .p = 1, .kernel = NW_KERNEL_GAUSSIAN,
                          .w = w, .linear = 1, .grad = grad, .threads = 2, .regions = 1 };
        nw_engine *e = NULL;
        assert_int_equal(nw_engine_new(&pb, NW_ENGINE_FGT, 1e-12, n, &e), NW_OK);
        assert_true(e->regions > 1 && e->region_group < e->regions);
        nw_engine_free(e);
    }
    nw_model *model = NULL;
    assert_int_equal(nw_model_new(&model, x, y, n, 2, 1), NW_OK);
    assert_int_equal(nw_model_set_estimator(model, NW_ESTIMATOR_LINEAR), NW_OK);
    assert_int_equal(nw_model_set_scale(model, w), NW_OK);
    double last[3] = { 0, 0, 0 };
    assert_int_equal(nw_model_set_progress(model, count_reports, last), NW_OK);
    assert_int_equal(nw_model_set_engine(model, NW_ENGINE_FGT), NW_OK);
    assert_int_equal(nw_loo_predict(model, yf, NULL), NW_OK);
    assert_true(last[2] > 1 && last[0] == last[1] && last[1] > 0);
    double lf, gf[2], ld, gd[2];
    assert_int_equal(nw_loo_loss(model, w, &lf, gf, NULL), NW_OK);
    assert_int_equal(nw_model_set_engine(model, NW_ENGINE_DENSE), NW_OK);
    assert_int_equal(nw_loo_predict(model, yd, NULL), NW_OK);
    assert_int_equal(nw_loo_loss(model, w, &ld, gd, NULL), NW_OK);
    for (size_t i = 0; i < n; i++)
        if (!(fabs(yf[i] - yd[i]) <= 1e-12 * fabs(yd[i]) + 1e-14 * 2))
            fail_msg("point %zu: fgt %.17g dense %.17g", i, yf[i], yd[i]);
    assert_close(lf, ld, 1e-11, 0);
    for (int k = 0; k < 2; k++) assert_close(gf[k], gd[k], 1e-7, 1e-9 * fabs(ld));
    nw_model_free(model);
    free(x); free(y); free(yf); free(yd);
}

/* The memory budget (engine.h, nw_model_set_memory).  At n = m = 1e5 on
 * [0, 5]^2, h = 0.2, the FGT's moments alone take 19 MB, past the 16.8 MB
 * of nw_memory_budget but within nw_memory_enable's 64 MiB: AUTO takes the
 * FGT by default, and its coefficients' groups keep to an eighth of the
 * smaller budget.  Set to 16 MiB it takes the dense engine; a named FGT
 * runs whatever the budget (it failed with NW_ERR_ARG). */
static void test_memory_budget(void **state)
{
    (void) state;
    const size_t n = 100000;
    double *x = malloc(n * 2 * sizeof *x), *y = malloc(n * sizeof *y);
    assert_true(x && y);
    uint64_t s = 23;
    for (size_t j = 0; j < n; j++) {
        x[2 * j] = 5 * nwt_unif(&s);
        x[2 * j + 1] = 5 * nwt_unif(&s);
        y[j] = sin(x[2 * j]) + 0.1 * nwt_unif(&s);
    }
    nw_model *model = NULL;
    assert_int_equal(nw_model_new(&model, x, y, n, 2, 1), NW_OK);
    const double w[2] = { 1 / 0.2, 1 / 0.2 };
    assert_true(nw_model_memory(model) == 0);
    nw_problem pb;
    nw_problem_init(&pb, model, w, 0);
    pb.regions = 1;
    assert_true(pb.memory == 0 && nw_memory_budget(&pb, n) == 0x1p24 && nw_memory_enable(&pb, n) == 0x1p26);
    assert_int_equal(nw_engine_choice(&pb, NW_ENGINE_AUTO, 1e-12, n), NW_ENGINE_FGT);
    nw_engine *e = NULL;
    assert_int_equal(nw_engine_new(&pb, NW_ENGINE_AUTO, 1e-12, n, &e), NW_OK);
    assert_int_equal(e->kind, NW_ENGINE_FGT);
    assert_true(e->pb->memory == 0);
    /* streamed: a group of columns is at most an eighth of 16 MiB (or the
     * threads' one column each), not the whole 40 x 40 boxes */
    assert_true(e->regions > 1 && e->region_group < e->regions);
    nw_engine_free(e);
    /* at 16 MiB: the moments do not fit */
    assert_int_equal(nw_model_set_memory(model, 0x1p24), NW_OK);
    nw_problem_init(&pb, model, w, 0);
    pb.regions = 1;
    assert_true(nw_memory_budget(&pb, n) == 0x1p24 && nw_memory_enable(&pb, n) == 0x1p24);
    assert_int_equal(nw_engine_choice(&pb, NW_ENGINE_AUTO, 1e-12, n), NW_ENGINE_DENSE);
    /* named: runs beyond the budget */
    assert_int_equal(nw_engine_new(&pb, NW_ENGINE_FGT, 1e-12, n, &e), NW_OK);
    assert_int_equal(e->kind, NW_ENGINE_FGT);
    assert_true(e->pb->memory == INFINITY);
    nw_engine_free(e);
    assert_int_equal(nw_model_set_memory(model, 0x1p26), NW_OK);
    assert_true(nw_model_memory(model) == 0x1p26);
    nw_problem_init(&pb, model, w, 0);
    pb.regions = 1;
    assert_true(nw_memory_budget(&pb, n) == 0x1p26 && nw_memory_enable(&pb, n) == 0x1p26);
    assert_int_equal(nw_engine_choice(&pb, NW_ENGINE_AUTO, 1e-12, n), NW_ENGINE_FGT);
    assert_int_equal(nw_engine_new(&pb, NW_ENGINE_AUTO, 1e-12, n, &e), NW_OK);
    assert_int_equal(e->kind, NW_ENGINE_FGT);
    assert_true(e->pb->memory == 0x1p26);
    nw_engine_free(e);
    /* refused values keep the old one */
    const double bad[] = { -1, NAN, INFINITY, 0x1p63 };
    for (size_t i = 0; i < 4; i++) assert_int_equal(nw_model_set_memory(model, bad[i]), NW_ERR_ARG);
    assert_int_equal(nw_model_set_memory(NULL, 1), NW_ERR_ARG);
    assert_true(nw_model_memory(model) == 0x1p26);
    nw_model_free(model);
    free(x); free(y);
}

static void test_auto_choice(void **state)
{
    (void) state;
    const size_t n = 200000, p = 1;
    double *x = malloc(n * 2 * sizeof *x), *y = malloc(n * sizeof *y);
    make_data(8, n, p, x, y);
    double w[2] = { 1 / 0.3, 1 / 0.3 };
    nw_problem pb = { .x = x, .y = y, .n = n, .d = 2, .p = p, .kernel = NW_KERNEL_GAUSSIAN, .w = w };
    nw_engine *eng = NULL;
    assert_int_equal(nw_engine_new(&pb, NW_ENGINE_AUTO, 1e-12, n, &eng), NW_OK);
    assert_int_equal(eng->kind, NW_ENGINE_FGT);
    nw_engine_free(eng);
    pb.n = 300;
    assert_int_equal(nw_engine_new(&pb, NW_ENGINE_AUTO, 1e-12, 300, &eng), NW_OK);
    assert_int_equal(eng->kind, NW_ENGINE_DENSE);
    nw_engine_free(eng);
    free(x);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moments_within_bounds),
        cmocka_unit_test(test_moments_extremes),
        cmocka_unit_test(test_local_wide_grid),
        cmocka_unit_test(test_coarse_grid),
        cmocka_unit_test(test_predictions_within_tolerance),
        cmocka_unit_test(test_fallbacks_near_zero),
        cmocka_unit_test(test_loo_loss_and_gradient),
        cmocka_unit_test(test_small_and_refusals),
        cmocka_unit_test(test_auto_choice),
        cmocka_unit_test(test_f32_tolerance),
        cmocka_unit_test(test_narrow_rows_same_bits),
        cmocka_unit_test(test_streamed_local),
        cmocka_unit_test(test_streamed_loo),
        cmocka_unit_test(test_memory_budget),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    print_message("fgt2: %zu moment checks\n", checked);
    return rc;
}
