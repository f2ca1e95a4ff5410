/*
 * test_extremes.c: predictions at numeric extremes against the slow exact
 * method, a straightforward long-double evaluation of the estimator:
 *
 *   - queries far outside the data (up to +-DBL_MAX);
 *   - bandwidths from 1e-12 to 1e12 times the spread of the inputs;
 *   - values (inputs and outputs) near the largest double;
 *   - a million identical points.
 *
 * For the Gaussian and a compact kernel (Epanechnikov), local constant and
 * local linear, with every engine that applies (AUTO, DENSE, SORTED, TREE,
 * FGT; the million points with AUTO and DENSE).
 * Every prediction must be finite, except where nwreg.h documents NaN: a
 * query with no training point inside a compact kernel's support under the
 * NaN policy (then the reference is empty too, and n_empty counts it); and
 * where the exact value itself lies beyond DBL_MAX (a local-linear line
 * extrapolated from outputs near 1e307), which must then round to +-inf.
 *
 * The reference follows the documented rules of the library that are not
 * rounding: weights below e^-700 of the largest count as 0, and local linear
 * falls back to local constant where fewer than d + 1 affinely independent
 * points carry weight.  Its u = (q - x) w uses the model's own w = 1/h (a
 * double) but is formed in long double, whose range (1e4932) holds u^2 for
 * u = DBL_MAX / spread and sums of n values near DBL_MAX.
 *
 * Tolerances.  Local constant: |yhat - ref| <= 1e-11 max|y| (the sums
 * carry about n eps of relative rounding, n <= 1e6 here, and the weights
 * exp(s - max) lose |s| eps; 1e-11 leaves a margin of 100).  Local linear:
 * 1e-8 (max|y| + |ref|), because the solve amplifies rounding by the
 * conditioning of the local design, up to ~1e6 for the far queries here;
 * where the reference's design is nearly singular (relative pivot below
 * 1e-6) the library may legitimately fall back, and only finiteness is
 * required.  A million identical points must give exactly their value.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define LC_RTOL 1e-11
#define LL_RTOL 1e-8
#define LL_SINGULAR 1e-6
#define MIN_LOG_WEIGHT (-700.0L)

/* ------------------------------------------------------ the reference */

typedef struct ref_result {
    double yhat;       /* NaN when empty */
    int empty;         /* no weight at all (compact kernel) */
    int ill;           /* local linear: design nearly singular (skip the comparison) */
    int tie;           /* the nearest points tie in double precision: any value */
    double lo, hi;     /* in [lo, hi], their y's range, is right */
} ref_result;

/* log K(u) for the Gaussian, K(u) for the Epanechnikov (u in long double). */
static long double ref_log_gauss(long double u) { return -0.5L * u * u; }
static long double ref_epan(long double u)
{
    long double a = fabsl(u);
    return a < 1 ? (1 - a) * (1 + a) : 0;
}

/* The estimate at q for one output: x n x d, y n, scales w (d, doubles as
 * the model uses them). */
static ref_result reference(const double *x, const double *y, size_t n, size_t d,
                            const double *w, nw_kernel kernel, int linear, const double *q)
{
    ref_result res = { NAN, 0, 0, 0, 0, 0 };
    long double *e = malloc(n * sizeof *e);
    assert_non_null(e);
    long double top = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        long double s = kernel == NW_KERNEL_GAUSSIAN ? 0 : 1;
        for (size_t k = 0; k < d; k++) {
            long double u = ((long double) q[k] - (long double) x[i * d + k]) * (long double) w[k];
            if (kernel == NW_KERNEL_GAUSSIAN) s += ref_log_gauss(u);
            else s *= ref_epan(u);
        }
        e[i] = s;
        if (s > top) top = s;
    }
    if (kernel == NW_KERNEL_GAUSSIAN) {
        /* Far away (|u| ~ 1e15 and beyond) the scores -u^2/2 of the nearest
         * points differ by less than their rounding in double: the points
         * are equally near to working precision (at q = 1e300, data in
         * [0, 5] all are) and any weighting of them is right.  The band is
         * 4 ulps of the largest score; it matters only if over 1e-3. */
        long double band = 4 * DBL_EPSILON * fabsl(top);
        size_t tied = 0;
        res.lo = INFINITY, res.hi = -INFINITY;
        for (size_t i = 0; band > 1e-3L && i < n; i++)
            if (top - e[i] <= band) {
                tied++;
                res.lo = fmin(res.lo, y[i]), res.hi = fmax(res.hi, y[i]);
            }
        res.tie = tied > 1;
        for (size_t i = 0; i < n; i++) e[i] = e[i] - top < MIN_LOG_WEIGHT ? 0 : expl(e[i] - top);
    }
    long double s0 = 0, s1 = 0;
    for (size_t i = 0; i < n; i++) { s0 += e[i]; s1 += e[i] * y[i]; }
    if (!(s0 > 0)) {
        res.empty = 1;
        free(e);
        return res;
    }
    res.yhat = (double) (s1 / s0);
    if (!linear || d > 2) { free(e); return res; }

    /* local linear: weighted least squares about the weighted means, so the
     * slope solve is y - ybar on x - xbar (d <= 2: Cramer's rule) */
    long double xbar[2] = { 0, 0 }, ybar = s1 / s0, S[2][2] = { { 0, 0 }, { 0, 0 } }, T[2] = { 0, 0 };
    for (size_t k = 0; k < d; k++) {
        for (size_t i = 0; i < n; i++) xbar[k] += e[i] * x[i * d + k];
        xbar[k] /= s0;
    }
    for (size_t i = 0; i < n; i++) {
        if (e[i] == 0) continue;
        long double dx[2] = { 0, 0 }, dy = y[i] - ybar;
        for (size_t k = 0; k < d; k++) dx[k] = x[i * d + k] - xbar[k];
        for (size_t a = 0; a < d; a++) {
            T[a] += e[i] * dx[a] * dy;
            for (size_t b = 0; b < d; b++) S[a][b] += e[i] * dx[a] * dx[b];
        }
    }
    long double slope[2] = { 0, 0 };
    /* nearly singular: the weighted spread of an input is a tiny part of
     * its second moment about the query (the raw design's relative pivot),
     * or (d = 2) the two inputs are nearly collinear under the weights */
    for (size_t k = 0; k < d; k++) {
        long double raw = 0;
        for (size_t i = 0; i < n; i++) {
            long double t = x[i * d + k] - (long double) q[k];
            raw += e[i] * t * t;
        }
        if (S[k][k] < LL_SINGULAR * raw) res.ill = 1;
    }
    if (d == 1) {
        if (!(S[0][0] > 0)) { res.ill = 0; free(e); return res; }  /* one distinct x: local constant */
        slope[0] = T[0] / S[0][0];
    } else {
        long double det = S[0][0] * S[1][1] - S[0][1] * S[1][0];
        if (!(S[0][0] > 0 && S[1][1] > 0 && det > 0)) { res.ill = 0; free(e); return res; }
        if (det < LL_SINGULAR * S[0][0] * S[1][1]) res.ill = 1;
        slope[0] = (S[1][1] * T[0] - S[0][1] * T[1]) / det;
        slope[1] = (S[0][0] * T[1] - S[1][0] * T[0]) / det;
    }
    long double v = ybar;
    for (size_t k = 0; k < d; k++) v += slope[k] * ((long double) q[k] - xbar[k]);
    res.yhat = (double) v;
    free(e);
    return res;
}

/* ---------------------------------------------------------- the check */

typedef struct dataset {
    const double *x, *y;
    size_t n, d;
} dataset;

static double max_abs(const double *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

/* Predict at m queries with bandwidths h under every combination of
 * estimator and engine and compare with the reference. */
static void check_against_reference(const dataset *ds, nw_kernel kernel, const double *h,
                                    const double *q, size_t m, const char *what)
{
    const size_t n = ds->n, d = ds->d;
    const double ymax = max_abs(ds->y, n);
    nw_model *model;
    assert_int_equal(nw_model_new(&model, ds->x, ds->y, n, d, 1), NW_OK);
    assert_int_equal(nw_model_set_kernel(model, kernel), NW_OK);
    assert_int_equal(nw_model_set_bandwidth(model, h), NW_OK);
    double w[2];
    for (size_t k = 0; k < d; k++) w[k] = 1.0 / h[k];
    int failures = 0;
    double *yhat = malloc(m * sizeof *yhat);
    ref_result *ref = malloc(2 * m * sizeof *ref);
    assert_true(yhat && ref);
    for (int linear = 0; linear < 2; linear++)
        for (size_t j = 0; j < m; j++)
            ref[linear * m + j] = reference(ds->x, ds->y, n, d, w, kernel, linear, q + j * d);

    /* every engine; those that do not apply (fgt: Gaussian only; sorted,
     * fgt: d = 1) refuse with NW_ERR_ARG */
    static const nw_engine_kind engines[] = { NW_ENGINE_AUTO, NW_ENGINE_DENSE, NW_ENGINE_SORTED,
                                              NW_ENGINE_TREE, NW_ENGINE_FGT };
    for (size_t g = 0; g < sizeof engines / sizeof engines[0]; g++)
        for (int linear = 0; linear < 2; linear++) {
            assert_int_equal(nw_model_set_engine(model, engines[g]), NW_OK);
            assert_int_equal(nw_model_set_estimator(model, linear ? NW_ESTIMATOR_LINEAR
                                                                  : NW_ESTIMATOR_CONSTANT), NW_OK);
            size_t n_empty = 0, expect_empty = 0;
            nw_status st = nw_predict(model, q, m, yhat, &n_empty);
            if (st == NW_ERR_ARG && engines[g] > NW_ENGINE_DENSE) continue;
            assert_int_equal(st, NW_OK);
            for (size_t j = 0; j < m; j++) {
                const ref_result *r = &ref[linear * m + j];
                double got = yhat[j];
                int bad;
                if (r->empty) {
                    expect_empty++;
                    bad = !isnan(got);
                } else if (isinf(r->yhat)) {
                    bad = got != r->yhat;   /* the exact value is beyond DBL_MAX */
                } else if (!isfinite(got)) {
                    bad = 1;
                } else if (r->tie) {
                    double tol = LC_RTOL * ymax;
                    bad = !(got >= r->lo - tol && got <= r->hi + tol);
                } else if (linear && r->ill) {
                    bad = 0;
                } else {
                    double tol = linear ? LL_RTOL * (ymax + fabs(r->yhat)) : LC_RTOL * ymax;
                    bad = !(fabs(got - r->yhat) <= tol);
                }
                if (bad && ++failures <= 8)
                    print_error("%s: %s, %s, engine %s, h[0] = %.17g, q[0] = %.17g: "
                             "got %.17g, reference %.17g%s\n",
                             what, nw_kernel_name(kernel), linear ? "ll" : "lc",
                             nw_engine_name(engines[g]), h[0], q[j * d], got, r->yhat,
                             r->empty ? " (empty)" : "");
            }
            if (n_empty != expect_empty && ++failures <= 8)
                print_error("%s: %s, %s, engine %s, h[0] = %.17g: %zu empty, reference %zu\n",
                            what, nw_kernel_name(kernel), linear ? "ll" : "lc",
                            nw_engine_name(engines[g]), h[0], n_empty, expect_empty);
        }
    free(yhat);
    free(ref);
    nw_model_free(model);
    if (failures) fail_msg("%s: %d mismatches", what, failures);
}

/* The notebook's data (n points of 2 sin x + x^0.8 + noise on [0, 5]),
 * inputs and outputs multiplied by xs and ys. */
static void notebook_data(size_t n, double xs, double ys, double *x, double *y)
{
    assert_int_equal(nw_generate(7, n, x, y), NW_OK);
    for (size_t i = 0; i < n; i++) x[i] *= xs, y[i] *= ys;
}

/* sample standard deviation (in units of the largest deviation, so that
 * inputs near 1e307 do not overflow the squares) */
static double spread(const double *x, size_t n, size_t stride)
{
    double mean = 0, s = 0, unit = 0;
    for (size_t i = 0; i < n; i++) mean += x[i * stride] / (double) n;
    for (size_t i = 0; i < n; i++) unit = fmax(unit, fabs(x[i * stride] - mean));
    for (size_t i = 0; i < n; i++) s += pow((x[i * stride] - mean) / unit, 2);
    return unit * sqrt(s / (double) (n - 1));
}

/* ------------------------------------------------------------- tests */

enum { N = 50 };

/* Queries 1 to 1e15 spreads beyond either end of the data, and at
 * +-1e300 and +-DBL_MAX, with h = the spread. */
static void test_far_queries(void **state)
{
    (void) state;
    double x[N], y[N];
    notebook_data(N, 1, 1, x, y);
    dataset ds = { x, y, N, 1 };
    double s = spread(x, N, 1), q[40];
    size_t m = 0;
    for (double k = 1; k <= 1e15; k *= 10) {
        q[m++] = x[0] - k * s;
        q[m++] = x[N - 1] + k * s;
    }
    q[m++] = -1e300, q[m++] = 1e300, q[m++] = -DBL_MAX, q[m++] = DBL_MAX;
    check_against_reference(&ds, NW_KERNEL_GAUSSIAN, &s, q, m, "far queries");
    check_against_reference(&ds, NW_KERNEL_EPANECHNIKOV, &s, q, m, "far queries");

    /* inputs 1e299 apart, h = 1: every weight underflows, and the nearest
     * point must still be told apart, although the squared distances
     * (and q - x itself at DBL_MAX - -3e299) overflow */
    const double xw[4] = { -3e299, 1e299, 2e299, 3e299 }, yw[4] = { 1, 2, 3, 4 };
    const double qw[5] = { -DBL_MAX, -1e300, 1.6e299, 1e300, DBL_MAX }, one = 1;
    const double nearest[5] = { 1, 1, 3, 4, 4 };
    dataset wide = { xw, yw, 4, 1 };
    check_against_reference(&wide, NW_KERNEL_GAUSSIAN, &one, qw, 5, "wide inputs");
    nw_model *model;
    double att[5 * 4];
    assert_int_equal(nw_model_new(&model, xw, yw, 4, 1, 1), NW_OK);
    assert_int_equal(nw_attention(model, qw, 5, att), NW_OK);
    for (size_t j = 0; j < 5; j++)
        for (size_t i = 0; i < 4; i++) assert_true(att[j * 4 + i] == (yw[i] == nearest[j]));
    nw_model_free(model);
}

/* Queries at the data points, a third of the way between neighbours and
 * just outside, for h = 1e-12 .. 1e12 spreads, in 1-d and 2-d. */
static void test_bandwidth_sweep(void **state)
{
    (void) state;
    double x[N], y[N], q[3 * N];
    notebook_data(N, 1, 1, x, y);
    dataset ds = { x, y, N, 1 };
    double s = spread(x, N, 1);
    size_t m = 0;
    for (size_t i = 0; i < N; i++) q[m++] = x[i];
    for (size_t i = 0; i + 1 < N; i++) q[m++] = x[i] + (x[i + 1] - x[i]) / 3;
    q[m++] = x[0] - 0.5 * s;
    for (int e = -12; e <= 12; e++) {
        double h = s * pow(10, e);
        char what[64];
        snprintf(what, sizeof what, "1-d, h = 1e%d spreads", e);
        check_against_reference(&ds, NW_KERNEL_GAUSSIAN, &h, q, m, what);
        check_against_reference(&ds, NW_KERNEL_EPANECHNIKOV, &h, q, m, what);
    }

    /* 2-d: the second input a scrambled copy of the first, times 3 */
    double x2[2 * N], q2[2 * N];
    for (size_t i = 0; i < N; i++) {
        x2[2 * i] = x[i];
        x2[2 * i + 1] = 3 * x[(i * 17) % N];
    }
    for (size_t j = 0; j < N; j++) {
        q2[2 * j] = x2[2 * j] + (j % 3) * 0.1 * s;
        q2[2 * j + 1] = x2[2 * j + 1] - (j % 2) * 0.2 * s;
    }
    dataset ds2 = { x2, y, N, 2 };
    double s1 = spread(x2, N, 2), s2 = spread(x2 + 1, N, 2);
    for (int e = -12; e <= 12; e += 2) {
        double h[2] = { s1 * pow(10, e), s2 * pow(10, e) };
        char what[64];
        snprintf(what, sizeof what, "2-d, h = 1e%d spreads", e);
        check_against_reference(&ds2, NW_KERNEL_GAUSSIAN, h, q2, N, what);
        check_against_reference(&ds2, NW_KERNEL_EPANECHNIKOV, h, q2, N, what);
    }
}

/* Inputs and outputs near the largest double: x up to 1e307 (differences
 * stay below DBL_MAX), y of either sign up to ~3e307 and all near 1.7e308;
 * the sums of such y overflow unless they are scaled. */
static void test_values_near_dbl_max(void **state)
{
    (void) state;
    double x[N], y[N], q[N + 4];
    notebook_data(N, 2e306, 1e307, x, y);
    dataset ds = { x, y, N, 1 };
    double s = spread(x, N, 1);
    size_t m = 0;
    for (size_t i = 0; i + 1 < N; i++) q[m++] = x[i] + (x[i + 1] - x[i]) / 3;
    q[m++] = -1e307, q[m++] = 1e307, q[m++] = x[0] - 3 * s, q[m++] = x[N - 1] + 3 * s;
    for (int e = -12; e <= 1; e++) {
        double h = s * pow(10, e);
        char what[64];
        snprintf(what, sizeof what, "y ~ 1e307, h = 1e%d spreads", e);
        check_against_reference(&ds, NW_KERNEL_GAUSSIAN, &h, q, m, what);
        check_against_reference(&ds, NW_KERNEL_EPANECHNIKOV, &h, q, m, what);
    }
    /* every y near DBL_MAX, same sign: yhat is a mean of them */
    for (size_t i = 0; i < N; i++) y[i] = DBL_MAX * (0.9 + 0.1 * (double) (i % 7) / 7);
    for (int e = -12; e <= 1; e += 3) {
        double h = s * pow(10, e);
        check_against_reference(&ds, NW_KERNEL_GAUSSIAN, &h, q, m, "y ~ DBL_MAX");
        check_against_reference(&ds, NW_KERNEL_EPANECHNIKOV, &h, q, m, "y ~ DBL_MAX");
    }
}

/* The leave-one-out predictions and loss stay finite when y is near
 * DBL_MAX/50 and all of one sign (their sums would overflow). */
static void test_loo_near_dbl_max(void **state)
{
    (void) state;
    double x[N], y[N], yhat[N], loss;
    notebook_data(N, 1, 1, x, y);
    for (size_t i = 0; i < N; i++) y[i] = 1e307 * (1 + 0.5 * sin((double) i));
    nw_model *model;
    assert_int_equal(nw_model_new(&model, x, y, N, 1, 1), NW_OK);
    double h = 100 * spread(x, N, 1), w = 1 / h;
    assert_int_equal(nw_model_set_bandwidth(model, &h), NW_OK);
    for (int linear = 0; linear < 2; linear++) {
        nw_model_set_estimator(model, linear ? NW_ESTIMATOR_LINEAR : NW_ESTIMATOR_CONSTANT);
        assert_int_equal(nw_loo_predict(model, yhat, NULL), NW_OK);
        double *xo = malloc((N - 1) * sizeof *xo), *yo = malloc((N - 1) * sizeof *yo);
        assert_true(xo && yo);
        for (size_t i = 0; i < N; i++) {
            /* the reference leaves point i out */
            for (size_t j = 0, k = 0; j < N; j++)
                if (j != i) xo[k] = x[j], yo[k++] = y[j];
            ref_result r = reference(xo, yo, N - 1, 1, &w, NW_KERNEL_GAUSSIAN, linear, &x[i]);
            double tol = linear ? LL_RTOL * (1.5e307 + fabs(r.yhat)) : LC_RTOL * 1.5e307;
            if (!(fabs(yhat[i] - r.yhat) <= tol))
                fail_msg("loo %s point %zu: got %.17g, reference %.17g", linear ? "ll" : "lc", i,
                         yhat[i], r.yhat);
        }
        free(xo);
        free(yo);
        /* 1/2 sum of squared residuals ~ 50 (5e306)^2: beyond any double */
        assert_int_equal(nw_loo_loss(model, NULL, &loss, NULL, NULL), NW_OK);
        assert_true(isinf(loss) && loss > 0);
    }
    double mean;
    assert_int_equal(nw_baseline(model, &mean), NW_OK);
    double ref = 0;
    for (size_t i = 0; i < N; i++) ref += y[i] / N;
    assert_close(mean, ref, 1e-14, 0);
    nw_model_free(model);
}

/* A million copies of one point: every prediction is its value (compact
 * kernel far away: empty, NaN).  Exactly so for values whose multiples up
 * to 1e6 are exact doubles (the sums are then exact); for values with a
 * full 53-bit significand (0.1) the sums of 1e6 equal terms round, and
 * the ratio is only within the plain-summation bound n eps |v| (~1e-10
 * relative; 5e-14 is observed): the engines sum without compensation. */
static void test_million_identical_points(void **state)
{
    (void) state;
    const size_t n = 1000000;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    assert_true(x && y);
    static const double values[] = { -0.75, 0x1.8p1000, 0.1, 1.7e308 };
    const size_t n_exact = 2; /* the first two have short significands */
    double q[6] = { 0.3, 0.3 + 1e-9, 0.35, 5, -1e300, DBL_MAX }, yhat[6];
    for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
        for (size_t i = 0; i < n; i++) x[i] = 0.3, y[i] = values[v];
        nw_model *model;
        assert_int_equal(nw_model_new(&model, x, y, n, 1, 1), NW_OK);
        double h = 0.1;
        assert_int_equal(nw_model_set_bandwidth(model, &h), NW_OK);
        for (int kernel = 0; kernel < 2; kernel++)
            for (int linear = 0; linear < 2; linear++)
                for (int dense = 0; dense < 2; dense++) {
                    nw_model_set_kernel(model, kernel ? NW_KERNEL_EPANECHNIKOV : NW_KERNEL_GAUSSIAN);
                    nw_model_set_estimator(model, linear ? NW_ESTIMATOR_LINEAR : NW_ESTIMATOR_CONSTANT);
                    nw_model_set_engine(model, dense ? NW_ENGINE_DENSE : NW_ENGINE_AUTO);
                    size_t n_empty;
                    assert_int_equal(nw_predict(model, q, 6, yhat, &n_empty), NW_OK);
                    for (size_t j = 0; j < 6; j++) {
                        int empty = kernel && fabs(q[j] - 0.3) >= h;
                        double tol = v < n_exact ? 0 : 1e6 * DBL_EPSILON * fabs(values[v]);
                        if (empty ? !isnan(yhat[j]) : !(fabs(yhat[j] - values[v]) <= tol))
                            fail_msg("%s %s %s, y = %.17g, q = %.17g: got %.17g",
                                     kernel ? "epanechnikov" : "gaussian", linear ? "ll" : "lc",
                                     dense ? "dense" : "auto", values[v], q[j], yhat[j]);
                    }
                    assert_int_equal(n_empty, kernel ? 3 : 0);
                }
        nw_model_free(model);
    }
    free(x);
    free(y);
}

/* Bandwidths whose scale 1/h is not a finite double (h subnormal) are
 * refused where they are set, not at the first prediction. */
static void test_subnormal_bandwidth_refused(void **state)
{
    (void) state;
    double x[3] = { 0, 1, 2 }, y[3] = { 1, 2, 3 }, h = 1e-320, w = 1e-320;
    nw_model *model;
    assert_int_equal(nw_model_new(&model, x, y, 3, 1, 1), NW_OK);
    assert_int_equal(nw_model_set_bandwidth(model, &h), NW_ERR_BANDWIDTH);
    assert_int_equal(nw_model_set_scale(model, &w), NW_ERR_BANDWIDTH);
    h = DBL_MIN; /* 1/DBL_MIN = 4.5e307: fine */
    assert_int_equal(nw_model_set_bandwidth(model, &h), NW_OK);
    double q = 1, yh;
    assert_int_equal(nw_predict(model, &q, 1, &yh, NULL), NW_OK);
    assert_true(yh == 2);
    nw_model_free(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_far_queries),
        cmocka_unit_test(test_bandwidth_sweep),
        cmocka_unit_test(test_values_near_dbl_max),
        cmocka_unit_test(test_loo_near_dbl_max),
        cmocka_unit_test(test_million_identical_points),
        cmocka_unit_test(test_subnormal_bandwidth_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
