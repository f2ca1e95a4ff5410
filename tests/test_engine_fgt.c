/* test_engine_fgt.c: the fast Gauss transform against the dense engine:
 * raw moments within their stated error bounds, predictions within the
 * tolerance, leave-one-out loss and gradient, far queries, hard data. */
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
#include "loo.h"
#include "testutil.h"


/* n points: x on [0, 5] with a tight cluster and duplicates, y = p outputs
 * (the notebook's f + 3, and 10 + cos 3x: no prediction is near 0, where a
 * relative bound cannot hold and the dense engine takes over) plus noise */
static void make_data(uint64_t seed, size_t n, size_t p, double *x, double *y)
{
    uint64_t s = seed;
    for (size_t j = 0; j < n; j++) {
        double t = nwt_unif(&s);
        x[j] = j % 7 == 0 ? 2.5 + 1e-3 * t : (j % 11 == 0 ? 1.0 : 5 * t);
        for (size_t c = 0; c < p; c++)
            y[j * p + c] = (c == 0 ? 3 + 2 * sin(x[j]) + pow(x[j], 0.8) : 10 + cos(3 * x[j])) +
                           0.5 * (nwt_unif(&s) - 0.5);
    }
}

/* moments of the fgt engine at q, compared with dense: every entry within
 * errA/errB plus the dense engine's own rounding (1e-13 of the absolute sum,
 * which for A is A itself and for the others at most ||y||_inf-weighted) */
static void check_moments(const nw_problem *pb, const nw_engine *eng, const double *q,
                          size_t skip, nw_moments *mf, nw_moments *md)
{
    for (size_t k = 0; k < pb->d; k++) mf->shift[k] = md->shift[k] = 0;
    nw_engine_moments(eng, q, skip, mf);
    nw_engine_dense(pb, q, skip, md);
    assert_int_equal(mf->approx, 1);
    const size_t r = mf->r, p = pb->p;
    if (!(md->A[0] > 0)) return;
    /* bring dense to the fgt's scale */
    double f = exp(md->logscale - mf->logscale);
    double ymax = 0;
    for (size_t j = 0; j < pb->n * p; j++) ymax = fmax(ymax, fabs(pb->y[j]));
    /* the absolute sums sum K |u|^a are below A_00 + A_11 (r = 2: |u| <= 1 + u^2) */
    double abs_scale = md->A[0] + (r > 1 ? md->A[3] : 0);
    /* the dense engine's general path (p > 1) forms each weight's exponent
     * as score - max, which loses |logscale| ulps far from the data (q =
     * -300, h = 1: 2.6e-13; the fgt's product form agrees with a
     * long-double reference there): its own error, added to the slack */
    if (p > 1) abs_scale *= 1 + 4 * fabs(md->logscale) * 0x1p-53 / 1e-13;
    for (size_t i = 0; i < r * r; i++) {
        double want = md->A[i] * f, slack = 1e-13 * abs_scale * f;
        if (!(fabs(mf->A[i] - want) <= mf->errA[i] + slack))
            fail_msg("A[%zu] = %.17g, dense %.17g, err bound %.3g (q = %g, skip %zu, h = %g)",
                     i, mf->A[i], want, mf->errA[i], q[0], skip, 1 / pb->w[0]);
    }
    for (size_t i = 0; i < r * p; i++) {
        double want = md->B[i] * f, slack = 1e-13 * abs_scale * f * ymax;
        if (!(fabs(mf->B[i] - want) <= mf->errB[i] + slack))
            fail_msg("B[%zu] = %.17g, dense %.17g, err bound %.3g (q = %g, skip %zu, h = %g)",
                     i, mf->B[i], want, mf->errB[i], q[0], skip, 1 / pb->w[0]);
    }
    /* the derivative moments carry no bound: close to the tolerance's scale */
    if (pb->grad)
        for (size_t i = 0; i < r * r; i++) {
            double want = md->dA[i] * f;
            if (!(fabs(mf->dA[i] - want) <= 1e-9 * (fabs(want) + abs_scale * f)))
                fail_msg("dA[%zu] = %.17g, dense %.17g", i, mf->dA[i], want);
        }
}

static void test_moments_within_bounds(void **state)
{
    (void) state;
    const size_t n = 3000, p = 2;
    double *x = malloc(n * sizeof *x), *y = malloc(n * p * sizeof *y);
    make_data(1, n, p, x, y);
    const double hs[] = { 0.02, 0.1, 0.3, 1.0, 4.0 };
    const double qs[] = { 0.0, 0.05, 1.0, 2.5004, 3.3, 4.99, 5.0, -0.7, 6.1, 9.0, 40.0, -300.0 };
    /* few expected queries: each query expands its boxes; many: local
     * expansions per box (both modes) */
    const size_t ms[] = { 10, 10000000 };
    for (size_t im = 0; im < 2; im++)
    for (int linear = 0; linear < 2; linear++)
        for (int grad = 0; grad < 2; grad++)
            for (size_t ih = 0; ih < sizeof hs / sizeof *hs; ih++) {
                double w = 1 / hs[ih];
                nw_problem pb = { .x = x, .y = y, .n = n, .d = 1, .p = p,
                                  .kernel = NW_KERNEL_GAUSSIAN, .w = &w,
                                  .linear = linear, .grad = grad };
                nw_engine *eng = NULL;
                assert_int_equal(nw_engine_new(&pb, NW_ENGINE_FGT, 1e-12, ms[im], &eng), NW_OK);
                assert_int_equal(eng->kind, NW_ENGINE_FGT);
                nw_moments *mf = NULL, *md = NULL;
                assert_int_equal(nw_moments_new(&pb, &mf), NW_OK);
                assert_int_equal(nw_moments_new(&pb, &md), NW_OK);
                for (size_t iq = 0; iq < sizeof qs / sizeof *qs; iq++)
                    check_moments(&pb, eng, &qs[iq], NW_NO_SKIP, mf, md);
                /* leave-one-out at the keys themselves */
                for (size_t j = 0; j < n; j += 97) check_moments(&pb, eng, &x[j], j, mf, md);
                nw_moments_free(mf);
                nw_moments_free(md);
                nw_engine_free(eng);
            }
    free(x);
    free(y);
}

/* One output, the per-query mode at small bandwidths: boxes of few keys
 * summed as runs (run_direct: vectorised, in double, its rounding charged
 * to the bounds).  Every moment within its bound of the dense engine's, and
 * the bounds tight enough to certify (errA[0] <= 1e-13 A[0]): inside the
 * data, at its edges, far out, and leave-one-out at keys. */
static void test_runs_within_bounds(void **state)
{
    (void) state;
    const size_t n = 3000, p = 1;
    double *x = malloc(n * sizeof *x), *y = malloc(n * p * sizeof *y);
    make_data(4, n, p, x, y);
    const double hs[] = { 0.002, 0.005, 0.02, 0.05 };
    const double qs[] = { 0.0, 0.0007, 1.0, 2.5004, 4.99, 5.0, -0.01, 5.2, 40.0, -300.0 };
    for (int linear = 0; linear < 2; linear++)
        for (int grad = 0; grad < 2; grad++)
            for (size_t ih = 0; ih < sizeof hs / sizeof *hs; ih++) {
                double w = 1 / hs[ih];
                nw_problem pb = { .x = x, .y = y, .n = n, .d = 1, .p = p,
                                  .kernel = NW_KERNEL_GAUSSIAN, .w = &w,
                                  .linear = linear, .grad = grad };
                nw_engine *eng = NULL;
                /* few queries expected: the per-query mode */
                assert_int_equal(nw_engine_new(&pb, NW_ENGINE_FGT, 1e-12, 10, &eng), NW_OK);
                nw_moments *mf = NULL, *md = NULL;
                assert_int_equal(nw_moments_new(&pb, &mf), NW_OK);
                assert_int_equal(nw_moments_new(&pb, &md), NW_OK);
                for (size_t iq = 0; iq < sizeof qs / sizeof *qs; iq++) {
                    check_moments(&pb, eng, &qs[iq], NW_NO_SKIP, mf, md);
                    if (!(mf->errA[0] <= 1e-13 * mf->A[0]))
                        fail_msg("errA[0] = %.3g for A[0] = %.17g (q = %g, h = %g)", mf->errA[0],
                                 mf->A[0], qs[iq], hs[ih]);
                }
                for (size_t j = 0; j < n; j += 37) {
                    check_moments(&pb, eng, &x[j], j, mf, md);
                    if (!(mf->errA[0] <= 1e-13 * mf->A[0]))
                        fail_msg("errA[0] = %.3g for A[0] = %.17g (key %zu, h = %g)", mf->errA[0],
                                 mf->A[0], j, hs[ih]);
                }
                nw_moments_free(mf);
                nw_moments_free(md);
                nw_engine_free(eng);
            }
    free(x);
    free(y);
}

/* predictions of the two engines, relative error <= tol per prediction
 * (plus the dense engine's rounding) */
static void test_predictions_within_tolerance(void **state)
{
    (void) state;
    const size_t n = 20000, p = 2, m = 2001;
    double *x = malloc(n * sizeof *x), *y = malloc(n * p * sizeof *y);
    double *q = malloc(m * sizeof *q), *yf = malloc(m * p * sizeof *yf), *yd = malloc(m * p * sizeof *yd);
    make_data(2, n, p, x, y);
    for (size_t j = 0; j < m; j++) q[j] = -1 + 7.0 * (double) j / (double) (m - 1);
    nw_model *model = NULL;
    assert_int_equal(nw_model_new(&model, x, y, n, 1, p), NW_OK);
    const double hs[] = { 0.05, 0.3, 2.0 };
    for (int e = 0; e < 2; e++)
        for (size_t ih = 0; ih < 3; ih++) {
            nw_model_set_estimator(model, (nw_estimator) e);
            nw_model_set_bandwidth(model, &hs[ih]);
            nw_run_info info;
            assert_int_equal(nw_model_set_engine(model, NW_ENGINE_DENSE), NW_OK);
            assert_int_equal(nw_predict_info(model, q, m, yd, NULL, &info), NW_OK);
            assert_int_equal(info.engine, NW_ENGINE_DENSE);
            assert_int_equal(nw_model_set_engine(model, NW_ENGINE_FGT), NW_OK);
            assert_int_equal(nw_predict_info(model, q, m, yf, NULL, &info), NW_OK);
            assert_int_equal(info.engine, NW_ENGINE_FGT);
            assert_true(info.error_bound <= 1e-12);
            /* inside the data the bound is met almost everywhere (outside,
             * local linear extrapolates from an ill-conditioned design and is
             * recentred through the dense engine) */
            nw_run_info inside;
            assert_int_equal(nw_predict_info(model, q + m / 7, m / 7 * 5, yf, NULL, &inside), NW_OK);
            if (inside.exact_fallbacks > m / 100)
                fail_msg("%s h=%g: %zu fallbacks", e ? "ll" : "lc", hs[ih], inside.exact_fallbacks);
            assert_int_equal(nw_predict_info(model, q, m, yf, NULL, &info), NW_OK);
            for (size_t i = 0; i < m * p; i++)
                if (!(fabs(yf[i] - yd[i]) <= 1e-12 * fabs(yd[i]) + 1e-14 * (1 + fabs(yd[i]))))
                    fail_msg("%s h=%g q=%g: fgt %.17g dense %.17g", e ? "ll" : "lc", hs[ih],
                             q[i / p], yf[i], yd[i]);
        }
    nw_model_free(model);
    free(x); free(y); free(q); free(yf); free(yd);
}

/* leave-one-out loss and gradient through the engine, lc and ll */
static void test_loo_loss_and_gradient(void **state)
{
    (void) state;
    const size_t n = 4000, p = 1;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    make_data(3, n, p, x, y);
    nw_model *model = NULL;
    assert_int_equal(nw_model_new(&model, x, y, n, 1, p), NW_OK);
    const double ws[] = { 3.0, 20.0 };
    for (int e = 0; e < 2; e++)
        for (size_t iw = 0; iw < 2; iw++) {
            double ld, lf, gd, gf;
            nw_model_set_estimator(model, (nw_estimator) e);
            nw_model_set_engine(model, NW_ENGINE_DENSE);
            assert_int_equal(nw_loo_loss(model, &ws[iw], &ld, &gd, NULL), NW_OK);
            nw_model_set_engine(model, NW_ENGINE_FGT);
            assert_int_equal(nw_loo_loss(model, &ws[iw], &lf, &gf, NULL), NW_OK);
            assert_close(lf, ld, 1e-11, 0);
            assert_close(gf, gd, 1e-7, 1e-9 * fabs(ld));
        }
    nw_model_free(model);
    free(x); free(y);
}

/* A criterion's passes (NW_PASS_CRITERION) certify each leave-one-out
 * prediction against max(|yhat|, sd(y)) rather than |yhat|.  Data whose
 * regression crosses 0 (y = 2 sin x + noise on [0, 5]): every prediction
 * within tol max(|yhat_dense|, s) of the dense engine's (plus 1e-13 of s
 * for the two engines' rounding), the pass's bound within tol, the loss
 * as dense's to the documented 2 tol rms(|yhat| + s) / rms(r), and fewer
 * dense fallbacks than a pass certified relative to |yhat|. */
static void test_criterion_pass_floor(void **state)
{
    (void) state;
    const size_t n = 3000;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    double *yd = malloc(n * sizeof *yd), *yc = malloc(n * sizeof *yc), *yr = malloc(n * sizeof *yr);
    uint64_t seed = 11;
    double mean = 0, var = 0;
    for (size_t j = 0; j < n; j++) {
        x[j] = 5 * nwt_unif(&seed);
        y[j] = 2 * sin(x[j]) + 0.3 * (nwt_unif(&seed) - 0.5);
        mean += y[j];
    }
    mean /= (double) n;
    for (size_t j = 0; j < n; j++) var += (y[j] - mean) * (y[j] - mean);
    const double s = sqrt(var / (double) n), tol = 1e-12;
    nw_model *model = NULL;
    assert_int_equal(nw_model_new(&model, x, y, n, 1, 1), NW_OK);
    const double ws[] = { 1 / 0.05, 1 / 0.14, 1 / 0.6 };
    size_t fb_criterion = 0, fb_relative = 0;
    for (int e = 0; e < 2; e++)
        for (size_t iw = 0; iw < sizeof ws / sizeof ws[0]; iw++) {
            nw_pass_result rd = { 0 }, rc = { 0 }, rr = { 0 };
            nw_model_set_estimator(model, (nw_estimator) e);
            nw_model_set_engine(model, NW_ENGINE_DENSE);
            assert_int_equal(nw_pass(model, &ws[iw], 1, 0, 0, yd, &rd), NW_OK);
            nw_model_set_engine(model, NW_ENGINE_FGT);
            assert_int_equal(nw_pass(model, &ws[iw], 1, 0, NW_PASS_CRITERION, yc, &rc), NW_OK);
            assert_int_equal(nw_pass(model, &ws[iw], 1, 0, 0, yr, &rr), NW_OK);
            double num = 0;
            for (size_t i = 0; i < n; i++) {
                double ay = fabs(yd[i]), allowed = tol * (ay > s ? ay : s) * (1 + 1e-6) + 1e-13 * s;
                if (!(fabs(yc[i] - yd[i]) <= allowed))
                    fail_msg("%s h=%g x=%g: criterion pass %.17g, dense %.17g (allowed %.3g)",
                             e ? "ll" : "lc", 1 / ws[iw], x[i], yc[i], yd[i], allowed);
                num += (ay + s) * (ay + s);
            }
            assert_true(rc.bound <= tol);
            double rms_r = sqrt(2 * rd.loss / (double) n), rms_f = sqrt(num / (double) n);
            assert_close(rc.loss, rd.loss, 2 * tol * rms_f / rms_r + 1e-13, 0);
            assert_true(rc.fallbacks <= rr.fallbacks);
            fb_criterion += rc.fallbacks;
            fb_relative += rr.fallbacks;
        }
    /* measured: 0 against 2 (local linear, h = 0.6, predictions near 0) */
    assert_true(fb_criterion < fb_relative);
    nw_model_free(model);
    free(x); free(y); free(yd); free(yc); free(yr);
}

/* The second try of the local mode (local linear, moments_exact without a
 * shift): long-double expansions whose bounds are ~2^11 tighter.  Checked
 * against direct sums in long double with u = (q - x) w formed in long
 * double: every raw moment within its bound plus the sums' own rounding
 * (below), at queries inside the data, at its edges, and leave-one-out at
 * keys; and each bound no larger than the first try's (whose double
 * expansions charge ~120 u of rounding). */
static void test_exact_mode_long_double(void **state)
{
    (void) state;
    const size_t n = 20000, p = 1;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    make_data(6, n, p, x, y);
    const double hs[] = { 0.1, 0.3, 1.0 };
    const double qs[] = { 0.0, 0.01, 0.2, 1.0, 2.5, 3.7, 4.95, 5.0 };
    for (size_t ih = 0; ih < 3; ih++) {
        double w = 1 / hs[ih];
        nw_problem pb = { .x = x, .y = y, .n = n, .d = 1, .p = p,
                          .kernel = NW_KERNEL_GAUSSIAN, .w = &w, .linear = 1 };
        nw_engine *eng = NULL;
        assert_int_equal(nw_engine_new(&pb, NW_ENGINE_FGT, 1e-12, 10000000, &eng), NW_OK);
        assert_non_null(eng->moments_exact);
        nw_moments *mo = NULL;
        assert_int_equal(nw_moments_new(&pb, &mo), NW_OK);
        for (size_t iq = 0; iq < sizeof qs / sizeof *qs + 6; iq++) {
            size_t skip = iq < sizeof qs / sizeof *qs ? NW_NO_SKIP : (iq * 977) % n;
            double q = skip == NW_NO_SKIP ? qs[iq] : x[skip];
            mo->shift[0] = 0;
            eng->moments(eng, &q, skip, mo);
            const double first[5] = { mo->errA[0], mo->errA[1], mo->errA[3], mo->errB[0], mo->errB[1] };
            eng->moments_exact(eng, &q, skip, mo);
            long double ref[5] = { 0 }, absr[5] = { 0 };   /* A00, A01, A11, B0, B1 */
            for (size_t j = 0; j < n; j++) {
                if (j == skip) continue;
                long double u = ((long double) q - x[j]) * w;
                long double e = expl(-0.5L * u * u - mo->logscale);
                long double t[5] = { e, e * u, e * u * u, e * y[j], e * u * y[j] };
                for (int k = 0; k < 5; k++) { ref[k] += t[k]; absr[k] += fabsl(t[k]); }
            }
            /* inside the boxes (q = 0 and 5 lie just outside: direct sums)
             * the long-double path ran: its bound has the rounding to double */
            int ld = mo->errA[0] >= 0x1p-53 * mo->A[0];
            if (!ld && q > 0.005 && q < 4.995)
                fail_msg("h=%g q=%g skip=%zu: not the long-double path (bound %.3g)", hs[ih], q,
                         skip, mo->errA[0]);
            const double got[5] = { mo->A[0], mo->A[1], mo->A[3], mo->B[0], mo->B[1] };
            const double err[5] = { mo->errA[0], mo->errA[1], mo->errA[3], mo->errB[0], mo->errB[1] };
            for (int k = 0; k < 5; k++) {
                double diff = fabs((double) ((long double) got[k] - ref[k]));
                /* + the rounding of the sums themselves, which no engine's
                 * bound covers (the estimator charges 2^-50 per entry for
                 * it): direct sums ~ a few ulps; the expansions' key-side
                 * moments add in SIMD batches of 256 (up to ~64 u of the
                 * absolute sum, 13 u seen at the cluster, q = 2.5) */
                double slack = (ld ? 0x1p-47 : 0x1p-50) * (double) absr[k];
                if (!(diff <= err[k] + slack))
                    fail_msg("h=%g q=%g skip=%zu moment %d: %.17g, reference %.17Lg, bound %.3g",
                             hs[ih], q, skip, k, got[k], ref[k], err[k]);
                /* no looser than the first try's double expansions */
                if (ld && !(err[k] <= first[k]))
                    fail_msg("h=%g q=%g skip=%zu moment %d: bound %.3g, first try %.3g", hs[ih], q,
                             skip, k, err[k], first[k]);
            }
        }
        nw_moments_free(mo);
        nw_engine_free(eng);
    }
    free(x);
    free(y);
}

/* Many keys, few boxes: the local mode sums its moments from the keys in
 * their own order, in fixed slices, and buckets them only when a query
 * needs direct sums (far outside the data, the exact mode).  Raw moments
 * within their bounds (queries inside, far outside, and leave-one-out at
 * keys), predictions within the tolerance of dense, and the same bits on 1
 * and 2 threads. */
static void test_local_mode_without_copy(void **state)
{
    (void) state;
    const size_t n = 400000, p = 1, m = 41;
    double *x = malloc(n * sizeof *x), *y = malloc(n * p * sizeof *y);
    double q[41], y1[41], y2[41], yd[41];
    make_data(5, n, p, x, y);
    for (size_t j = 0; j < m; j++) q[j] = j == 0 ? -30.0 : j == 1 ? 55.0 : 5.0 * (double) j / (double) (m - 1);
    for (int linear = 0; linear < 2; linear++) {
        double w = 1 / 0.3;
        nw_problem pb = { .x = x, .y = y, .n = n, .d = 1, .p = p,
                          .kernel = NW_KERNEL_GAUSSIAN, .w = &w, .linear = linear };
        nw_engine *eng = NULL;
        assert_int_equal(nw_engine_new(&pb, NW_ENGINE_FGT, 1e-12, 10000000, &eng), NW_OK);
        nw_moments *mf = NULL, *md = NULL;
        assert_int_equal(nw_moments_new(&pb, &mf), NW_OK);
        assert_int_equal(nw_moments_new(&pb, &md), NW_OK);
        for (size_t j = 0; j < m; j++) check_moments(&pb, eng, &q[j], NW_NO_SKIP, mf, md);
        for (size_t j = 0; j < n; j += 40009) check_moments(&pb, eng, &x[j], j, mf, md);
        nw_moments_free(mf);
        nw_moments_free(md);
        nw_engine_free(eng);

        nw_model *model = NULL;
        assert_int_equal(nw_model_new(&model, x, y, n, 1, p), NW_OK);
        nw_model_set_estimator(model, (nw_estimator) linear);
        double h = 0.3;
        nw_model_set_bandwidth(model, &h);
        nw_model_set_engine(model, NW_ENGINE_DENSE);
        assert_int_equal(nw_predict(model, q, m, yd, NULL), NW_OK);
        nw_model_set_engine(model, NW_ENGINE_FGT);
        nw_model_set_threads(model, 1);
        assert_int_equal(nw_predict(model, q, m, y1, NULL), NW_OK);
        nw_model_set_threads(model, 2);
        assert_int_equal(nw_predict(model, q, m, y2, NULL), NW_OK);
        for (size_t j = 0; j < m; j++) {
            assert_memory_equal(&y1[j], &y2[j], sizeof(double));
            if (!(fabs(y1[j] - yd[j]) <= 1e-12 * fabs(yd[j]) + 1e-14 * (1 + fabs(yd[j]))))
                fail_msg("%s q=%g: fgt %.17g dense %.17g", linear ? "ll" : "lc", q[j], y1[j], yd[j]);
        }
        nw_model_free(model);
    }
    free(x);
    free(y);
}

/* tiny data, one point, and an engine that does not apply */
static void test_small_and_refusals(void **state)
{
    (void) state;
    double x[2] = { 1.0, 1.0 }, y[2] = { 3.0, 5.0 }, q[3] = { 1.0, -50.0, 1e6 }, yh[3];
    nw_model *model = NULL;
    assert_int_equal(nw_model_new(&model, x, y, 2, 1, 1), NW_OK);
    nw_model_set_engine(model, NW_ENGINE_FGT);
    assert_int_equal(nw_predict(model, q, 3, yh, NULL), NW_OK);
    for (int i = 0; i < 3; i++) assert_close(yh[i], 4.0, 1e-15, 0);
    double loss;
    assert_int_equal(nw_loo_loss(model, NULL, &loss, NULL, NULL), NW_OK);
    assert_close(loss, 0.5 * (4 + 4), 1e-15, 0);
    nw_model_set_kernel(model, NW_KERNEL_EPANECHNIKOV);
    assert_int_equal(nw_predict(model, q, 3, yh, NULL), NW_ERR_ARG);
    nw_model_free(model);

    /* d = 2 has its own transform (engine_fgt2.c); d = 3 none */
    double x3[6] = { 0, 1, 2, 3, 4, 5 }, y3[2] = { 1, 2 }, h3[3] = { 1, 1, 1 };
    assert_int_equal(nw_model_new(&model, x3, y3, 2, 3, 1), NW_OK);
    nw_model_set_bandwidth(model, h3);
    nw_model_set_engine(model, NW_ENGINE_FGT);
    assert_int_equal(nw_predict(model, x3, 2, yh, NULL), NW_ERR_ARG);
    nw_model_free(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moments_within_bounds),
        cmocka_unit_test(test_runs_within_bounds),
        cmocka_unit_test(test_predictions_within_tolerance),
        cmocka_unit_test(test_loo_loss_and_gradient),
        cmocka_unit_test(test_criterion_pass_floor),
        cmocka_unit_test(test_local_mode_without_copy),
        cmocka_unit_test(test_exact_mode_long_double),
        cmocka_unit_test(test_small_and_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
