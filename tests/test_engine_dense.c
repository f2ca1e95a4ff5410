/*
 * test_engine_dense.c: the dense engine (engine_dense.c) against an
 * independent long-double evaluation of the moments of engine.h, for every
 * kernel, local constant and linear, d = 1..3, p = 1..2, with the
 * derivative moments and with a key left out; hard cases (duplicates,
 * clusters, queries far outside the data, tiny and huge bandwidths, n = 1,
 * 2); predictions against a long-double solve; the f32 arithmetic against
 * its stated error bound; the prepared paths (nw_engine_new's sorted keys,
 * d = 1 and 2) against the same reference and the unprepared paths, with
 * the nearest key's weight exactly 1; queries 300 to 1e4 bandwidths from
 * every key through the general path against a reference on the largest
 * key's scale, within a few ulps (test_far_queries).
 *
 * Tolerances.  Each moment M = sum_j m_j is compared with the reference on
 * the reference's scale (the engine's sums times exp(logscale - ref
 * logscale)) within tol * sum_j |m_j|: the weights are exact to a few ulps
 * (exp2 0.94 ulp, u and the exponent a few more), the sums are plain
 * (8-lane partial sums within a tile of 512, then across tiles): for
 * n <= 5000 the rounding bound is ~(64 + n / 512 + 8) eps; we allow 128
 * eps.  A query far from every key has scores of size |logscale|, each
 * rounded to eps |score| (the general path subtracts the largest score;
 * the scale factor exp(logscale - ref) carries it too): 8 d eps |logscale|
 * more.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "estimate.h"
#include "exp2_poly.h"
#include "testutil.h"

#define EPS DBL_EPSILON
#define MAXR 4     /* d <= 3 */
#define MAXP 2

/* a fixed LCG: the tests are reproducible */
static uint64_t rng_state = 12345;
static double uniform01(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double) (rng_state >> 11) * 0x1.0p-53;
}

/* ------------------------------------------------ long-double reference */

static int is_log(nw_kernel k) { return k == NW_KERNEL_GAUSSIAN || k == NW_KERNEL_LAPLACE; }

static long double ld_log(nw_kernel k, long double u)
{
    return k == NW_KERNEL_LAPLACE ? -fabsl(u) : -u * u / 2;
}

static long double ld_value(nw_kernel k, long double u)
{
    long double a = fabsl(u), t;
    switch (k) {
    case NW_KERNEL_EPANECHNIKOV: return a < 1 ? (1 - a) * (1 + a) : 0;
    case NW_KERNEL_UNIFORM:      return a <= 1 ? 1 : 0;
    case NW_KERNEL_TRIANGULAR:   return a < 1 ? 1 - a : 0;
    case NW_KERNEL_TRICUBE:      t = (1 - a) * (1 + a + a * a); return a < 1 ? t * t * t : 0;
    case NW_KERNEL_BIWEIGHT:     t = (1 - a) * (1 + a); return a < 1 ? t * t : 0;
    case NW_KERNEL_COSINE:       return a < 1 ? sinl(1.5707963267948966192313216916397514L * (1 - a)) : 0;
    default:                     return expl(ld_log(k, u));
    }
}

static long double ld_rho(nw_kernel k, long double u)
{
    long double a = fabsl(u), hp = 1.5707963267948966192313216916397514L;
    switch (k) {
    case NW_KERNEL_GAUSSIAN:     return -u * u;
    case NW_KERNEL_LAPLACE:      return -a;
    case NW_KERNEL_EPANECHNIKOV: return a < 1 ? -2 * u * u / ((1 - a) * (1 + a)) : 0;
    case NW_KERNEL_UNIFORM:      return 0;
    case NW_KERNEL_TRIANGULAR:   return a < 1 ? -a / (1 - a) : 0;
    case NW_KERNEL_TRICUBE:      return a < 1 ? -9 * a * a * a / ((1 - a) * (1 + a + a * a)) : 0;
    case NW_KERNEL_BIWEIGHT:     return a < 1 ? -4 * u * u / ((1 - a) * (1 + a)) : 0;
    default: /* cosine */        if (a < 0.5) return -hp * a * tanl(hp * a);
                                 return a < 1 ? -hp * a * cosl(hp * (1 - a)) / sinl(hp * (1 - a)) : 0;
    }
}

/* The moments of engine.h in long double, and the sums of the terms'
 * absolute values (the scale of each moment's rounding). */
typedef struct ref_moments {
    long double logscale;
    long double A[MAXR * MAXR], B[MAXR * MAXP], dA[3 * MAXR * MAXR], dB[3 * MAXR * MAXP];
    long double sA[MAXR * MAXR], sB[MAXR * MAXP], sdA[3 * MAXR * MAXR], sdB[3 * MAXR * MAXP];
} ref_moments;

static void ref_compute(const nw_problem *pb, const double *q, size_t skip, const double *shift,
                        ref_moments *R)
{
    const size_t n = pb->n, d = pb->d, p = pb->p, r = pb->linear ? d + 1 : 1;
    memset(R, 0, sizeof *R);
    R->logscale = is_log(pb->kernel) ? -INFINITY : 0;
    long double *score = malloc(n * sizeof *score);
    assert_non_null(score);
    for (size_t j = 0; j < n; j++) {
        long double s = is_log(pb->kernel) ? 0 : 1;
        for (size_t k = 0; k < d; k++) {
            long double u = (q[k] - pb->x[j * d + k]) * pb->w[k];   /* as the engine rounds it */
            if (is_log(pb->kernel)) s += ld_log(pb->kernel, u);
            else s *= ld_value(pb->kernel, u);
        }
        score[j] = s;
        if (j != skip && is_log(pb->kernel) && s > R->logscale) R->logscale = s;
    }
    for (size_t j = 0; j < n; j++) {
        if (j == skip) continue;
        long double e = is_log(pb->kernel)
            ? (R->logscale == -INFINITY ? 0 : expl(score[j] - R->logscale)) : score[j];
        if (e == 0) continue;
        long double phi[MAXR], u[3];
        phi[0] = 1;
        for (size_t k = 0; k < d; k++) {
            u[k] = (q[k] - pb->x[j * d + k]) * pb->w[k];
            if (r > 1) phi[k + 1] = u[k] - shift[k];
        }
        for (size_t g = 0; g <= (pb->grad ? d : 0); g++) {
            long double eg = g == 0 ? e : e * ld_rho(pb->kernel, u[g - 1]);
            long double *A = g == 0 ? R->A : R->dA + (g - 1) * r * r;
            long double *B = g == 0 ? R->B : R->dB + (g - 1) * r * p;
            long double *sA = g == 0 ? R->sA : R->sdA + (g - 1) * r * r;
            long double *sB = g == 0 ? R->sB : R->sdB + (g - 1) * r * p;
            for (size_t a = 0; a < r; a++) {
                for (size_t b = 0; b < r; b++) {
                    long double t = eg * phi[a] * phi[b];
                    A[a * r + b] += t;
                    sA[a * r + b] += fabsl(t);
                }
                for (size_t c = 0; c < p; c++) {
                    long double t = eg * phi[a] * pb->y[j * p + c];
                    B[a * p + c] += t;
                    sB[a * p + c] += fabsl(t);
                }
            }
        }
    }
    free(score);
}

/* One moment, normalised by A_00 (which cancels the common scale):
 * |got / got_A00 - ref / ref_A00| <= tol (size + |ref|) / ref_A00. */
static int moment_ok(double got, double gotA00, long double ref, long double refA00,
                     long double size, double tol, const char *what, size_t i, const nw_problem *pb)
{
    long double diff = fabsl(got / (long double) gotA00 - ref / refA00);
    /* plus the doubles' underflow: terms below 1e-290 of A_00 may vanish */
    long double allowed = tol * (size + fabsl(ref)) / refA00 + 1e-290L;
    if (fabsl(ref / refA00) > DBL_MAX) {
        /* beyond the doubles: overflow, with its sign, or NaN where terms
         * of both signs overflowed (inf - inf) */
        if (isnan(got) || (isinf(got) && (got > 0) == (ref > 0))) return 1;
    } else if (diff <= allowed) {
        return 1;
    }
    fprintf(stderr, "%s[%zu] / A00: got %.17Lg, reference %.17Lg (diff %.3Lg, allowed %.3Lg): "
            "kernel %d d %zu p %zu n %zu linear %d grad %d f32 %d\n",
            what, i, got / (long double) gotA00, ref / refA00, diff, allowed, (int) pb->kernel,
            pb->d, pb->p, pb->n, pb->linear, pb->grad, pb->f32);
    return 0;
}

/* The engine's moments at q (leaving out skip) against the reference.
 * The reference forms u = (q - x) w in double as the engine does (the
 * input's rounding is part of the problem), then everything in long
 * double.  A_00 itself is checked on the reference's scale where that
 * scale is meaningful (|logscale| eps small); every moment relative to
 * A_00. */
static void check_query(const nw_problem *pb, nw_moments *mo, const double *q, size_t skip,
                        double tol_base)
{
    const size_t d = pb->d, p = pb->p, r = pb->linear ? d + 1 : 1;
    ref_moments R;
    ref_compute(pb, q, skip, mo->shift, &R);
    nw_engine_dense(pb, q, skip, mo);
    assert_int_equal(mo->approx, 0);
    if (R.A[0] == 0) {
        /* nothing in reach: the engine must see nothing either */
        assert_true(mo->A[0] == 0);
        return;
    }
    if (R.logscale < -DBL_MAX) {
        /* the largest score is beyond the doubles: the 1-d fast path keeps
         * the weights relative to the nearest key (logscale -DBL_MAX); the
         * general path sees every score as -inf (empty: the estimator then
         * takes the nearest keys' value, the limit) */
        if (mo->A[0] == 0) return;
        assert_true(mo->logscale == -DBL_MAX);
        R.logscale = -DBL_MAX;
    }
    if (!(isfinite(mo->logscale) && mo->A[0] > 0))
        fail_msg("empty: A00 %g logscale %g, reference A00 %Lg logscale %Lg (kernel %d d %zu linear %d, "
                 "q[0] = %g, w[0] = %g)", mo->A[0], mo->logscale, R.A[0], R.logscale,
                 (int) pb->kernel, d, pb->linear, q[0], pb->w[0]);
    double far = 8 * (double) d * EPS * (double) fabsl(R.logscale);
    if (R.logscale == -DBL_MAX) far = 8 * (double) d * EPS;   /* only ratios are compared */
    double tol = tol_base + far;
    int ok = 1;
    assert_true(fabsl(mo->logscale - R.logscale) <= 8 * (double) d * EPS * fabsl(R.logscale) + 1e-300);
    if (far < 1e-6) {
        long double f = expl((long double) mo->logscale - R.logscale);
        long double diff = fabsl(f * mo->A[0] - R.A[0]);
        if (!(diff <= (tol + 2 * far) * R.A[0])) {
            fprintf(stderr, "A00 on the reference's scale: got %.17Lg, reference %.17Lg\n",
                    f * mo->A[0], R.A[0]);
            ok = 0;
        }
    }
    const double gA = mo->A[0];
    const long double rA = R.A[0];
    for (size_t i = 0; i < r * r; i++)
        ok &= moment_ok(mo->A[i], gA, R.A[i], rA, R.sA[i], tol, "A", i, pb);
    for (size_t i = 0; i < r * p; i++)
        ok &= moment_ok(mo->B[i], gA, R.B[i], rA, R.sB[i], tol, "B", i, pb);
    if (pb->grad) {
        for (size_t i = 0; i < d * r * r; i++)
            ok &= moment_ok(mo->dA[i], gA, R.dA[i], rA, R.sdA[i], tol, "dA", i, pb);
        for (size_t i = 0; i < d * r * p; i++)
            ok &= moment_ok(mo->dB[i], gA, R.dB[i], rA, R.sdB[i], tol, "dB", i, pb);
    }
    if (!ok && getenv("DUMP")) {
        FILE *fp = fopen(getenv("DUMP"), "w");
        for (size_t j = 0; j < pb->n; j++) fprintf(fp, "%a %a\n", pb->x[j], pb->y[j]);
        fclose(fp);
    }
    if (!ok)
        fail_msg("at q[0] = %.17g, w[0] = %.17g, skip %zu (A00 %.17g, reference %.17Lg)", q[0], pb->w[0], skip, mo->A[0], R.A[0]);
}

/* Random data: uniform keys in [0, 1]^d, some repeated, values of both
 * signs. */
static void make_data(size_t n, size_t d, size_t p, double *x, double *y)
{
    for (size_t i = 0; i < n * d; i++) x[i] = uniform01();
    for (size_t i = 5; i < n; i += 7)   /* duplicates */
        memcpy(x + i * d, x + (i - 5) * d, d * sizeof(double));
    for (size_t i = 0; i < n * p; i++) y[i] = 3 * uniform01() - 1;
}

static const nw_kernel all_kernels[] = {
    NW_KERNEL_GAUSSIAN, NW_KERNEL_LAPLACE, NW_KERNEL_EPANECHNIKOV, NW_KERNEL_UNIFORM,
    NW_KERNEL_TRIANGULAR, NW_KERNEL_TRICUBE, NW_KERNEL_BIWEIGHT, NW_KERNEL_COSINE,
};
#define N_KERNELS (sizeof all_kernels / sizeof all_kernels[0])

/* Every kernel, d, p, estimator, grad, with and without a key left out, at
 * queries inside and just outside the data. */
static void run_configs(size_t n, const double *wscale, size_t nw)
{
    for (size_t d = 1; d <= 3; d++)
        for (size_t p = 1; p <= MAXP; p++) {
            double *x = malloc(n * d * sizeof *x), *y = malloc(n * p * sizeof *y);
            assert_true(x && y);
            make_data(n, d, p, x, y);
            for (size_t kk = 0; kk < N_KERNELS; kk++)
                for (int linear = 0; linear <= 1; linear++)
                    for (int grad = 0; grad <= 1; grad++)
                        for (size_t iw = 0; iw < nw; iw++) {
                            double w[3];
                            for (size_t k = 0; k < d; k++) w[k] = wscale[iw] * (1 + 0.3 * (double) k);
                            nw_problem pb = { .x = x, .y = y, .n = n, .d = d, .p = p,
                                              .kernel = all_kernels[kk], .w = w,
                                              .linear = linear, .grad = grad };
                            nw_moments *mo;
                            assert_int_equal(nw_moments_new(&pb, &mo), NW_OK);
                            for (int j = 0; j < 6; j++) {
                                double q[3];
                                for (size_t k = 0; k < d; k++) q[k] = 1.2 * uniform01() - 0.1;
                                size_t skip = j % 2 ? (size_t) (uniform01() * (double) n) : NW_NO_SKIP;
                                if (j == 4) memcpy(q, x + (n / 2) * d, d * sizeof(double)), skip = n / 2;
                                check_query(&pb, mo, q, skip, 128 * EPS);
                            }
                            nw_moments_free(mo);
                        }
            free(x);
            free(y);
        }
}

static void test_moments_all_kernels(void **state)
{
    (void) state;
    const double ws[] = { 2, 15 };
    run_configs(1500, ws, 2);
}

static void test_moments_small_n(void **state)
{
    (void) state;
    const double ws[] = { 0.7, 40 };
    for (size_t n = 1; n <= 3; n++) run_configs(n, ws, 2);
}

/* n = 2 with the second key at distance z: A_00 = 1 + e^{-z^2/2} checks the
 * inline exp over the whole range of exponents it sees (and n = 1 gives
 * exactly 1). */
static void test_exp_accuracy(void **state)
{
    (void) state;
    double x[2] = { 0, 0 }, y[2] = { 1, 1 }, w = 1, q = 0;
    nw_problem pb = { .x = x, .y = y, .n = 2, .d = 1, .p = 1, .kernel = NW_KERNEL_GAUSSIAN, .w = &w };
    nw_moments *mo;
    assert_int_equal(nw_moments_new(&pb, &mo), NW_OK);
    double worst = 0;
    for (int i = 0; i < 20000; i++) {
        x[1] = 37.4 * (double) i / 20000.0;  /* exponents 0 .. -700 */
        nw_engine_dense(&pb, &q, NW_NO_SKIP, mo);
        assert_true(mo->logscale == 0);
        long double e = expl(-(long double) x[1] * x[1] / 2);
        /* the second weight is A_00 - 1 only to the rounding of A_00 */
        double got = mo->A[0] - 1, err = fabs((double) ((got - e) / e));
        double allowed = (2 + 0.5 * x[1] * x[1] * 4) * EPS + (double) (EPS / e);
        if (err > allowed) fail_msg("x = %.17g: e = %.17Lg, got %.17g", x[1], e, got);
        if (e > 0.5 && err > worst) worst = err;
    }
    /* two equal keys: exactly 2 (the largest term is exactly 1) */
    x[1] = 0;
    nw_engine_dense(&pb, &q, NW_NO_SKIP, mo);
    assert_true(mo->A[0] == 2);
    pb.n = 1;
    nw_engine_dense(&pb, &q, NW_NO_SKIP, mo);
    assert_true(mo->A[0] == 1 && mo->B[0] == 1 && mo->logscale == 0);
    nw_engine_dense(&pb, &q, 0, mo);   /* the only key left out */
    assert_true(mo->A[0] == 0);
    printf("# exp: worst relative error of weights in (0.5, 1]: %.2g eps\n", worst / EPS);
    nw_moments_free(mo);
}

/* exp2_poly and exp2f_poly over their whole domains, [-1021, 0] and
 * [-125, 0], against exp2l, in ulps of the result: 2^k is applied by an
 * integer add to the exponent field (exact while the result is normal), so
 * the error is the polynomial's on [-1/2, 1/2] (Horner's rounding).  With
 * fused multiply-adds, as the engine's AVX2 / AVX-512 copies run it: below
 * 1 ulp (exp2_poly.h: 0.94 ulp, measured against mpmath; exp2f_poly 0.89);
 * without (the SSE2 copy, and this file's own arithmetic): below 1.25 ulp
 * (measured 1.12, 1.17).  Exactly 2^a at the integers (f = 0, p = 1): 1 at
 * 0, 2^-1021 (2^-125) at the bottom. */
#define EXP2_DOMAIN_WORST(NAME) \
static void NAME(double *worst, double *worstf) \
{ \
    *worst = *worstf = 0; \
    for (long i = 0; i <= 2042000; i++) { \
        double a = -(double) i / 2000.0 - (double) (i % 7) * 0x1p-30;   /* off the grid a little */ \
        if (a < -1021) a = -1021; \
        long double ref = exp2l((long double) a); \
        double err = (double) fabsl((exp2_poly(a) - ref) / ldexpl(1, ilogbl(ref) - 52)); \
        *worst = err > *worst ? err : *worst; \
    } \
    for (long i = 0; i <= 1250000; i++) { \
        float a = -(float) i / 10000.0f; \
        if (a < -125.0f) a = -125.0f; \
        long double ref = exp2l((long double) a); \
        double err = (double) fabsl((exp2f_poly(a) - ref) / ldexpl(1, ilogbl(ref) - 23)); \
        *worstf = err > *worstf ? err : *worstf; \
    } \
}
EXP2_DOMAIN_WORST(exp2_domain_plain)
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("fma")
#pragma GCC optimize("fp-contract=fast")
EXP2_DOMAIN_WORST(exp2_domain_fma)
#pragma GCC pop_options
#define HAVE_EXP2_DOMAIN_FMA 1
#endif

static void test_exp2_poly_domain(void **state)
{
    (void) state;
    double worst, worstf;
    exp2_domain_plain(&worst, &worstf);
    printf("# exp2_poly, unfused: worst %.3g ulp; exp2f_poly %.3g ulp\n", worst, worstf);
    assert_true(worst < 1.25 && worstf < 1.25);
#ifdef HAVE_EXP2_DOMAIN_FMA
    if (__builtin_cpu_supports("fma")) {
        exp2_domain_fma(&worst, &worstf);
        printf("# exp2_poly, fused: worst %.3g ulp; exp2f_poly %.3g ulp\n", worst, worstf);
        assert_true(worst < 1 && worstf < 1);
    }
#endif
    for (int k = 0; k <= 1021; k++) assert_true(exp2_poly(-(double) k) == ldexp(1, -k));
    for (int k = 0; k <= 125; k++) assert_true(exp2f_poly(-(float) k) == ldexpf(1, -k));
}

/* Hard cases, 1-d and 2-d, log and compact kernels: duplicates and
 * clusters, far queries, tiny and huge bandwidths. */
static void test_hard_cases(void **state)
{
    (void) state;
    const size_t n = 2000;
    for (size_t d = 1; d <= 2; d++) {
        double *x = malloc(n * d * sizeof *x), *y = malloc(n * sizeof *y);
        assert_true(x && y);
        /* three tight clusters and a run of 300 identical keys */
        for (size_t i = 0; i < n; i++) {
            double centre = (double) (i % 3) * 10;
            for (size_t k = 0; k < d; k++)
                x[i * d + k] = i < 300 ? 4.25 : centre + 1e-6 * uniform01();
            y[i] = i < 300 ? 1.5 : sin((double) i);
        }
        const double scales[] = { 1e-12, 1e-3, 1, 1e3, 1e9, 1e200 };
        const double queries[] = { 4.25, 5, 10 + 5e-7, -1e4, 1e12, 20 };
        for (size_t kk = 0; kk < N_KERNELS; kk++)
            for (int linear = 0; linear <= 1; linear++)
                for (int grad = 0; grad <= 1; grad++)
                    for (size_t iw = 0; iw < sizeof scales / sizeof *scales; iw++) {
                        double w[2] = { scales[iw], scales[iw] * 0.5 };
                        nw_problem pb = { .x = x, .y = y, .n = n, .d = d, .p = 1,
                                          .kernel = all_kernels[kk], .w = w,
                                          .linear = linear, .grad = grad };
                        nw_moments *mo;
                        assert_int_equal(nw_moments_new(&pb, &mo), NW_OK);
                        for (size_t iq = 0; iq < sizeof queries / sizeof *queries; iq++) {
                            double q[2] = { queries[iq], queries[iq] };
                            /* a query so far that the scores themselves are
                             * ~1e32: only the tolerance's far term is left */
                            check_query(&pb, mo, q, iq == 0 ? 7 : NW_NO_SKIP, 128 * EPS);
                        }
                        nw_moments_free(mo);
                    }
        free(x);
        free(y);
    }
}

/* A million identical keys: the sums are exact (the weights are exactly 1). */
static void test_identical_keys_exact(void **state)
{
    (void) state;
    const size_t n = 100000;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), w = 3;
    assert_true(x && y);
    for (size_t i = 0; i < n; i++) x[i] = 0.3, y[i] = -0.75;
    for (int laplace = 0; laplace <= 1; laplace++)
        for (int linear = 0; linear <= 1; linear++) {
            nw_problem pb = { .x = x, .y = y, .n = n, .d = 1, .p = 1, .w = &w, .linear = linear,
                              .kernel = laplace ? NW_KERNEL_LAPLACE : NW_KERNEL_GAUSSIAN };
            nw_moments *mo;
            assert_int_equal(nw_moments_new(&pb, &mo), NW_OK);
            double q = 17;
            nw_engine_dense(&pb, &q, 5, mo);
            assert_true(mo->A[0] == (double) (n - 1));
            assert_true(mo->B[0] == -0.75 * (double) (n - 1));
            /* |u| ~ 1e308: u^2 and |u| + |u| overflow, the weights are still 1 */
            double wbig = 0x1.8p1023;
            pb.w = &wbig;
            q = 1.05;   /* u = (1.05 - 0.3) w ~ 1e308 */
            nw_engine_dense(&pb, &q, NW_NO_SKIP, mo);
            assert_true(mo->A[0] == (double) n);
            assert_true(mo->B[0] == -0.75 * (double) n);
            pb.w = &w;
            nw_moments_free(mo);
        }
    free(x);
    free(y);
}

/* ----------------------------------------------------- predictions */

/* Reference prediction at q in long double (from u = (q - x) w rounded as
 * the engine rounds it): local constant B/A, local linear by the normal
 * equations about the weighted mean (1-d, p = 1). */
static long double ref_predict(const double *x, const double *y, size_t n, double w,
                               nw_kernel kernel, int linear, double q, size_t skip,
                               long double *ymean_abs)
{
    long double top = -INFINITY, s0 = 0, s1 = 0, s2 = 0, t0 = 0, t1 = 0, sy = 0;
    for (size_t j = 0; j < n; j++)
        if (j != skip) {
            long double u = (q - x[j]) * w;
            if (ld_log(kernel, u) > top) top = ld_log(kernel, u);
        }
    long double m = 0, tot = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t j = 0; j < n; j++) {
            if (j == skip) continue;
            long double u = (q - x[j]) * w, e = expl(ld_log(kernel, u) - top);
            if (pass == 0) { m += e * u; tot += e; continue; }
            long double v = u - m / tot;
            s0 += e; s1 += e * v; s2 += e * v * v; t0 += e * y[j]; t1 += e * v * y[j];
            sy += e * fabsl(y[j]);
        }
    *ymean_abs = sy / s0;
    if (!linear) return t0 / s0;
    /* [s0 s1; s1 s2] beta = [t0; t1], yhat = beta_0 - (m / tot) beta_1 */
    long double det = s0 * s2 - s1 * s1;
    long double b0 = (s2 * t0 - s1 * t1) / det, b1 = (s0 * t1 - s1 * t0) / det;
    return b0 - (m / tot) * b1;
}

/* The notebook's data (nw_generate) and uniform random data, predictions
 * by nw_predict and nw_loo_predict with the dense engine, f64 and f32,
 * against the long-double reference: f64 within 1e-13 (lc) / 1e-12 (ll) of
 * the weighted mean |y|; f32 within NW_F32_ERROR_BOUND of it. */
static void test_predictions(void **state)
{
    (void) state;
    const size_t n = 2000, m = 200;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    double *q = malloc(m * sizeof *q), *yhat = malloc(n * sizeof *yhat);
    assert_true(x && y && q && yhat);
    double worst32[2] = { 0, 0 }, worst64[2] = { 0, 0 };
    for (int data = 0; data < 3; data++) {
        if (data == 0) {
            assert_int_equal(nw_generate(7, n, x, y), NW_OK);
        } else if (data == 1) {
            for (size_t i = 0; i < n; i++) x[i] = 10 * uniform01(), y[i] = uniform01() - 0.3;
        } else {
            /* two narrow clusters: most queries far from every key (f32
             * must sum those in double) */
            for (size_t i = 0; i < n; i++)
                x[i] = (i % 2 ? 10 : 0) + 0.01 * uniform01(), y[i] = uniform01() - 0.3;
        }
        for (size_t j = 0; j < m; j++) q[j] = (data ? 10.0 : 5.0) * (double) j / (double) (m - 1);
        for (int laplace = 0; laplace <= 1; laplace++)
            for (int linear = 0; linear <= 1; linear++)
                for (int f32 = 0; f32 <= 1; f32++)
                    for (int hh = 0; hh < 3; hh++) {
                        const double hs[] = { 0.02, 0.1, 1 };
                        double h = hs[hh];
                        nw_kernel kernel = laplace ? NW_KERNEL_LAPLACE : NW_KERNEL_GAUSSIAN;
                        nw_model *model;
                        assert_int_equal(nw_model_new(&model, x, y, n, 1, 1), NW_OK);
                        nw_model_set_bandwidth(model, &h);
                        nw_model_set_kernel(model, kernel);
                        nw_model_set_estimator(model, linear ? NW_ESTIMATOR_LINEAR : NW_ESTIMATOR_CONSTANT);
                        nw_model_set_engine(model, NW_ENGINE_DENSE);
                        nw_model_set_precision(model, f32 ? NW_PRECISION_F32 : NW_PRECISION_F64);
                        for (int loo = 0; loo <= 1; loo++) {
                            size_t count = loo ? n : m;
                            if (loo) assert_int_equal(nw_loo_predict(model, yhat, NULL), NW_OK);
                            else assert_int_equal(nw_predict(model, q, m, yhat, NULL), NW_OK);
                            double tol = f32 ? NW_F32_ERROR_BOUND : linear ? 1e-12 : 1e-13;
                            for (size_t j = 0; j < count; j += loo ? 7 : 1) {
                                long double scale;
                                double qj = loo ? x[j] : q[j];
                                long double ref = ref_predict(x, y, n, 1 / h, kernel, linear, qj,
                                                              loo ? j : NW_NO_SKIP, &scale);
                                /* local linear extrapolates: relative to the
                                 * larger of the weighted mean |y| and |yhat| */
                                long double size = fabsl(ref) > scale ? fabsl(ref) : scale;
                                double err = (double) (fabsl(yhat[j] - ref) / size);
                                double *worst = f32 ? &worst32[linear] : &worst64[linear];
                                if (err > *worst) *worst = err;
                                if (!(err <= tol))
                                    fail_msg("%s %s %s h=%g %s q=%.17g: got %.17g, reference %.17Lg "
                                             "(error %.3g of max(weighted mean |y|, |yhat|))",
                                             data == 0 ? "notebook" : data == 1 ? "random" : "clusters", laplace ? "laplace" : "gaussian",
                                             linear ? "ll" : "lc", h, f32 ? "f32" : "f64", qj, yhat[j],
                                             ref, err);
                            }
                        }
                        nw_model_free(model);
                    }
    }
    printf("# worst error / max(weighted mean |y|, |yhat|): f64 lc %.2g ll %.2g; f32 lc %.2g ll %.2g "
           "(NW_F32_ERROR_BOUND %.1g)\n", worst64[0], worst64[1], worst32[0], worst32[1],
           NW_F32_ERROR_BOUND);
    free(x); free(y); free(q); free(yhat);
}

/* ------------------------------------------------ the prepared paths */

/* A dense engine made by nw_engine_new with its keys prepared (sorted: the
 * nearest key by a search, then one fused pass; d = 1 and 2). */
static nw_engine *prepared_engine(const nw_problem *pb)
{
    nw_engine *e = NULL;
    assert_int_equal(nw_engine_new(pb, NW_ENGINE_DENSE, 0, 1000000, &e), NW_OK);
    assert_int_equal(e->kind, NW_ENGINE_DENSE);
    assert_non_null(e->pb->dense);
    return e;
}

/* The same problem with the lean 2-d preparation (nw_dense_prepare's
 * lean, a fast engine's fallback: no copy of the keys, no grid); *st is
 * the caller's to free. */
static nw_problem lean_problem(const nw_problem *pb, nw_dense_state **st)
{
    nw_problem lp = *pb;
    lp.dense = NULL;
    assert_int_equal(nw_dense_prepare(&lp, 1000000, 1, st), NW_OK);
    assert_non_null(*st);
    lp.dense = *st;
    return lp;
}

/* The prepared paths against the long-double reference, and the same
 * queries without preparation (the tile and general paths) too: d = 1 and
 * 2, both log kernels, local constant and linear, with the derivative
 * moments, n = 1, 2, 3, 700 (duplicated keys), leaving out a duplicated
 * key, a unique key and random ones, queries on keys, inside, just outside
 * and far (1e4) outside, bandwidths from tiny (1e-12) to huge (1e200: |u|
 * beyond 1e150, where the prepared path hands over to the others).  d = 2
 * also with the lean preparation (the nearest key by a pass over pb's
 * keys, the sums over them as they are). */
static void test_prepared_moments(void **state)
{
    (void) state;
    const size_t ns[] = { 1, 2, 3, 700 };
    const double ws[] = { 1e-12, 0.7, 15, 1e9, 1e200 };
    const nw_kernel kernels[] = { NW_KERNEL_GAUSSIAN, NW_KERNEL_LAPLACE };
    for (size_t d = 1; d <= 2; d++)
        for (size_t in = 0; in < sizeof ns / sizeof *ns; in++) {
            const size_t n = ns[in];
            double *x = malloc(n * d * sizeof *x), *y = malloc(n * sizeof *y);
            assert_true(x && y);
            make_data(n, d, 1, x, y);
            if (n >= 3) memcpy(x + d, x, d * sizeof *x);   /* key 1 = key 0 */
            for (size_t kk = 0; kk < 2; kk++)
                for (int linear = 0; linear <= 1; linear++)
                    for (int grad = 0; grad <= 1; grad++)
                        for (size_t iw = 0; iw < sizeof ws / sizeof *ws; iw++) {
                            double w[2] = { ws[iw], 1.3 * ws[iw] };
                            nw_problem pb = { .x = x, .y = y, .n = n, .d = d, .p = 1,
                                              .kernel = kernels[kk], .w = w,
                                              .linear = linear, .grad = grad };
                            nw_engine *e = prepared_engine(&pb);
                            nw_dense_state *ls = NULL;
                            nw_problem lp = pb;
                            if (d == 2) lp = lean_problem(&pb, &ls);
                            nw_moments *mo, *plain;
                            assert_int_equal(nw_moments_new(&pb, &mo), NW_OK);
                            assert_int_equal(nw_moments_new(&pb, &plain), NW_OK);
                            for (int j = 0; j < 10; j++) {
                                double q[2];
                                size_t skip = NW_NO_SKIP;
                                if (j < 3) {
                                    /* on key 0 (duplicated if n >= 3) or the last key, left out */
                                    memcpy(q, x + (j == 2 ? n - 1 : 0) * d, d * sizeof *q);
                                    skip = j == 0 ? NW_NO_SKIP : j == 1 ? 0 : n - 1;
                                } else {
                                    for (size_t k = 0; k < d; k++)
                                        q[k] = j == 9 ? 1e4 : j >= 7 ? 1.6 * uniform01() - 0.3 : uniform01();
                                    if (j % 2) skip = (size_t) (uniform01() * (double) n);
                                }
                                check_query(e->pb, mo, q, skip, 128 * EPS);
                                check_query(&pb, plain, q, skip, 128 * EPS);
                                if (ls) check_query(&lp, mo, q, skip, 128 * EPS);
                            }
                            nw_moments_free(mo);
                            nw_moments_free(plain);
                            nw_dense_state_free(ls);
                            nw_engine_free(e);
                        }
            free(x);
            free(y);
        }
}

/* The nearest key's weight is 1 in the prepared paths: one key; two equal
 * nearest keys and a far one (2; one of them left out: 1, the other
 * duplicate found by the search); the unique nearest key left out (the
 * next one is 1); f32 the same.  Exactly for Laplace; the Gaussian's
 * exponents s^2 - v^2 and (s - v0^2) - v1^2 are within ~eps s^2, ~eps s
 * of 0 for the nearest key (engine_dense.c, "the prepared paths"): there
 * within 8 ulps of the precision (s < 2 here), and exactly 1 for a query
 * on the key. */
static void test_prepared_exact(void **state)
{
    (void) state;
    for (size_t d = 1; d <= 2; d++)
        for (int laplace = 0; laplace <= 1; laplace++)
            for (int f32 = 0; f32 <= 1; f32++) {
                /* keys: a, a, b (far), c (unique, near) */
                double x[8] = { 0.3, 0.35, 0.3, 0.35, 50, -40, 0.9, 0.2 }, y[4] = { 1.5, -2, 7, 0.25 };
                double w[2] = { 3, 2 }, q[2] = { 0.41, 0.17 };
                double x1[4];
                for (size_t j = 0; j < 4; j++) x1[j] = x[j * 2];
                nw_problem pb = { .x = d == 1 ? x1 : x, .y = y, .n = 1, .d = d, .p = 1, .w = w,
                                  .kernel = laplace ? NW_KERNEL_LAPLACE : NW_KERNEL_GAUSSIAN,
                                  .f32 = f32 };
                nw_engine *e = prepared_engine(&pb);
                nw_moments *mo;
                assert_int_equal(nw_moments_new(&pb, &mo), NW_OK);
                /* exact, or within 8 ulps (Gaussian) */
                const double ulps = !laplace ? 8 * (f32 ? 0x1p-24 : EPS) : 0;
#define NEAR(v, ref) (fabs((v) - (ref)) <= ulps * fabs((double) (ref)))
                nw_engine_moments(e, q, NW_NO_SKIP, mo);
                assert_true(NEAR(mo->A[0], 1) && NEAR(mo->B[0], 1.5));
                nw_engine_moments(e, x1 + 0, NW_NO_SKIP, mo);   /* on the key (d = 2: its x0) */
                if (d == 1) assert_true(mo->A[0] == 1 && mo->B[0] == 1.5);
                nw_engine_moments(e, x, NW_NO_SKIP, mo);        /* d = 2: on the key */
                if (d == 2) assert_true(mo->A[0] == 1 && mo->B[0] == 1.5);
                nw_engine_moments(e, q, 0, mo);
                assert_true(mo->A[0] == 0 && mo->logscale == -INFINITY);
                nw_engine_free(e);
                pb.n = 3;
                e = prepared_engine(&pb);
                nw_engine_moments(e, q, NW_NO_SKIP, mo);
                assert_true(NEAR(mo->A[0], 2) && NEAR(mo->B[0], -0.5));
                nw_engine_moments(e, q, 1, mo);
                assert_true(NEAR(mo->A[0], 1) && NEAR(mo->B[0], 1.5));
                nw_engine_free(e);
                pb.n = 4;   /* key 3 nearest to this query, unique */
                double q3[2] = { 0.85, 0.25 };
                e = prepared_engine(&pb);
                nw_engine_moments(e, q3, 3, mo);   /* keys 0 and 1 nearest, key 2 far */
                assert_true(NEAR(mo->A[0], 2) && NEAR(mo->B[0], -0.5));
                if (d == 1) {
                    nw_engine_moments(e, x1 + 3, 3, mo);   /* at the key left out */
                    assert_true(NEAR(mo->A[0], 2) && NEAR(mo->B[0], -0.5));
                }
#undef NEAR
                nw_engine_moments(e, q3, NW_NO_SKIP, mo);
                assert_true(mo->A[0] > 1 && mo->A[0] < 2);
                nw_moments_free(mo);
                nw_engine_free(e);
            }
}

/* The prepared paths, d = 1 and 2 (2-d: keys in grid order, y copied into
 * it, the key left out found by grid_pos; and the lean preparation, pb's
 * keys as they are, the nearest by a pass; Gaussian exponents s^2 - v^2 and
 * (s - v0^2) - v1^2 with v = u L) against the long-double reference, f64
 * and f32, both log kernels, local constant and linear, with the
 * derivative moments: queries at 0.3 to 7.9 bandwidths beyond the data
 * (the nearest key's t up to ~64 = FAR_T, where the exponents lose ~3 eps
 * t; beyond, the tile or general path), on keys duplicated in x only (y
 * differs: leaving out one must not leave out the other) and in x and y,
 * left out either way.  f64 within check_query's 16 eps + 8 d eps
 * |logscale| (the stated ~3 eps t nats per weight, t = 2 |logscale|; sums
 * ~(8 + n / 512) eps); f32 within 128 2^-24 of each moment's sum of
 * |terms| (dense1d_f32's analysis: u rounding (2 s^2 + 1) 2^-24 with
 * s <= 4, tile sums 31 2^-24, exp2f and y ~2^-23 each; beyond s = 4
 * bandwidths the f64 loop runs). */
static void test_prepared_distance(void **state)
{
    (void) state;
    const size_t n = 700;
    double worst[2][2] = { { 0, 0 }, { 0, 0 } };
    for (size_t d = 1; d <= 2; d++) {
        double *x = malloc(d * n * sizeof *x), *y = malloc(n * sizeof *y);
        assert_true(x && y);
        make_data(n, d, 1, x, y);                 /* key i + 5 = key i in x, y differs (i % 7 == 0) */
        memcpy(x + d * 11, x + d * 10, d * sizeof *x);
        y[11] = y[10];                            /* key 11 = key 10 in x and y */
        const double bw[] = { 0.3, 1, 2, 3, 4, 4.5, 5, 6, 7, 7.9 };
        for (int f32 = 0; f32 <= 1; f32++)
            for (int laplace = 0; laplace <= 1; laplace++)
                for (int linear = 0; linear <= 1; linear++)
                    for (int grad = 0; grad <= 1; grad++) {
                        double w[2] = { 7, 9 };
                        nw_problem pb = { .x = x, .y = y, .n = n, .d = d, .p = 1, .w = w,
                                          .kernel = laplace ? NW_KERNEL_LAPLACE : NW_KERNEL_GAUSSIAN,
                                          .linear = linear, .grad = grad, .f32 = f32 };
                        nw_engine *e = prepared_engine(&pb);
                        nw_moments *mo;
                        assert_int_equal(nw_moments_new(&pb, &mo), NW_OK);
                        for (int lean = 0; lean <= (d == 2); lean++) {
                            nw_dense_state *ls = NULL;
                            nw_problem lp;
                            const nw_problem *P = e->pb;
                            if (lean) {
                                lp = lean_problem(&pb, &ls);
                                P = &lp;
                            }
                            const double tol = f32 ? 128 * 0x1p-24 : 16 * EPS;
                            for (size_t i = 0; i < sizeof bw / sizeof *bw; i++)
                                for (int side = 0; side < 2; side++) {
                                    /* beyond the right edge (x0 = 1 + ...) or below (x1 = -...) */
                                    double q[2] = { side ? 0.37 : 1 + bw[i] / w[0], side ? -bw[i] / w[1] : 0.61 };
                                    if (d == 1 && side) q[0] = -bw[i] / w[0];
                                    check_query(P, mo, q, NW_NO_SKIP, tol);
                                    check_query(P, mo, q, (size_t) (i * 67 + side), tol);
                                }
                            /* on duplicated keys, left out */
                            const size_t on[] = { 0, 5, 0, 5, 10, 11, 10, 11 }, out[] = { 0, 0, 5, 5, 10, 10, 11, 11 };
                            for (size_t i = 0; i < 8; i++) check_query(P, mo, x + d * on[i], out[i], tol);
                            /* the prediction at the farthest queries, against the
                             * long-double moments: error / the weighted mean |y| */
                            for (size_t i = 0; i < sizeof bw / sizeof *bw; i++) {
                                double q[2] = { 1 + bw[i] / w[0], 0.61 };
                                ref_moments R;
                                const double zero[2] = { 0, 0 };
                                nw_engine_dense(P, q, NW_NO_SKIP, mo);
                                ref_compute(&pb, q, NW_NO_SKIP, zero, &R);
                                double err = (double) fabsl((mo->B[0] / mo->A[0] - R.B[0] / R.A[0]) / (R.sB[0] / R.A[0]));
                                if (!linear && err > worst[d - 1][f32]) worst[d - 1][f32] = err;
                            }
                            nw_dense_state_free(ls);
                        }
                        nw_moments_free(mo);
                        nw_engine_free(e);
                    }
        free(x);
        free(y);
    }
    printf("# prepared, queries to 7.9 bandwidths out: worst local-constant error / weighted mean |y|: "
           "d = 1 f64 %.2g eps, f32 %.2g 2^-24; d = 2 f64 %.2g eps, f32 %.2g 2^-24\n", worst[0][0] / EPS,
           worst[0][1] / 0x1p-24, worst[1][0] / EPS, worst[1][1] / 0x1p-24);
}

/* Solve the long-double moments (r = 1 or 3, p = 1) for the prediction. */
static long double ref_solve(const ref_moments *R, size_t r)
{
    long double M[3][4];
    for (size_t i = 0; i < r; i++) {
        for (size_t j = 0; j < r; j++) M[i][j] = R->A[i * r + j];
        M[i][r] = R->B[i];
    }
    for (size_t c = 0; c < r; c++)
        for (size_t i = c + 1; i < r; i++) {
            long double f = M[i][c] / M[c][c];
            for (size_t j = c; j <= r; j++) M[i][j] -= f * M[c][j];
        }
    long double beta[3];
    for (size_t i = r; i-- > 0;) {
        long double t = M[i][r];
        for (size_t j = i + 1; j < r; j++) t -= M[i][j] * beta[j];
        beta[i] = t / M[i][i];
    }
    return beta[0];
}

/* d = 2 predictions through nw_predict and nw_loo_predict (prepared: many
 * queries), f64 within 1e-13 (lc) / 1e-12 (ll) and f32 within
 * NW_F32_ERROR_BOUND of the larger of the weighted mean |y| and |yhat|,
 * against the long-double moments solved in long double. */
static void test_predictions_2d(void **state)
{
    (void) state;
    const size_t n = 1500, m = 120;
    double *x = malloc(2 * n * sizeof *x), *y = malloc(n * sizeof *y);
    double *q = malloc(2 * m * sizeof *q), *yhat = malloc(n * sizeof *yhat);
    assert_true(x && y && q && yhat);
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = uniform01();
        x[2 * i + 1] = uniform01();
        y[i] = sin(3 * x[2 * i]) + x[2 * i + 1] * x[2 * i + 1] + 0.3 * uniform01();
    }
    for (size_t j = 0; j < 2 * m; j++) q[j] = 1.2 * uniform01() - 0.1;
    double worst[2][2] = { { 0, 0 }, { 0, 0 } };
    for (int laplace = 0; laplace <= 1; laplace++)
        for (int linear = 0; linear <= 1; linear++)
            for (int f32 = 0; f32 <= 1; f32++)
                for (int hh = 0; hh < 2; hh++) {
                    double h[2] = { hh ? 0.2 : 0.04, hh ? 0.3 : 0.05 }, w[2] = { 1 / h[0], 1 / h[1] };
                    nw_kernel kernel = laplace ? NW_KERNEL_LAPLACE : NW_KERNEL_GAUSSIAN;
                    nw_model *model;
                    assert_int_equal(nw_model_new(&model, x, y, n, 2, 1), NW_OK);
                    nw_model_set_bandwidth(model, h);
                    nw_model_set_kernel(model, kernel);
                    nw_model_set_estimator(model, linear ? NW_ESTIMATOR_LINEAR : NW_ESTIMATOR_CONSTANT);
                    nw_model_set_engine(model, NW_ENGINE_DENSE);
                    nw_model_set_precision(model, f32 ? NW_PRECISION_F32 : NW_PRECISION_F64);
                    nw_problem pb = { .x = x, .y = y, .n = n, .d = 2, .p = 1, .kernel = kernel,
                                      .w = w, .linear = linear };
                    const double zero[2] = { 0, 0 };
                    for (int loo = 0; loo <= 1; loo++) {
                        size_t count = loo ? n : m;
                        if (loo) assert_int_equal(nw_loo_predict(model, yhat, NULL), NW_OK);
                        else assert_int_equal(nw_predict(model, q, m, yhat, NULL), NW_OK);
                        double tol = f32 ? NW_F32_ERROR_BOUND : linear ? 1e-12 : 1e-13;
                        for (size_t j = 0; j < count; j += loo ? 13 : 1) {
                            const double *qj = loo ? x + 2 * j : q + 2 * j;
                            ref_moments R;
                            ref_compute(&pb, qj, loo ? j : NW_NO_SKIP, zero, &R);
                            long double ref = ref_solve(&R, linear ? 3 : 1), scale = R.sB[0] / R.A[0];
                            long double size = fabsl(ref) > scale ? fabsl(ref) : scale;
                            double err = (double) (fabsl(yhat[j] - ref) / size);
                            if (err > worst[f32][linear]) worst[f32][linear] = err;
                            if (!(err <= tol))
                                fail_msg("2-d %s %s %s h=%g loo=%d q=(%.17g, %.17g): got %.17g, "
                                         "reference %.17Lg (error %.3g)", laplace ? "laplace" : "gaussian",
                                         linear ? "ll" : "lc", f32 ? "f32" : "f64", h[0], loo, qj[0], qj[1],
                                         yhat[j], ref, err);
                        }
                    }
                    nw_model_free(model);
                }
    printf("# 2-d worst error / max(weighted mean |y|, |yhat|): f64 lc %.2g ll %.2g; f32 lc %.2g ll %.2g\n",
           worst[0][0], worst[0][1], worst[1][0], worst[1][1]);
    free(x); free(y); free(q); free(yhat);
}

/* f32 LOO loss and gradient close to f64 (the gradient's moments come
 * from the same float sums). */
static void test_f32_loss_gradient(void **state)
{
    (void) state;
    const size_t n = 3000;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    assert_true(x && y);
    assert_int_equal(nw_generate(3, n, x, y), NW_OK);
    for (int linear = 0; linear <= 1; linear++) {
        nw_model *model;
        assert_int_equal(nw_model_new(&model, x, y, n, 1, 1), NW_OK);
        nw_model_set_estimator(model, linear ? NW_ESTIMATOR_LINEAR : NW_ESTIMATOR_CONSTANT);
        nw_model_set_engine(model, NW_ENGINE_DENSE);
        double w = 8, loss64, grad64, loss32, grad32;
        assert_int_equal(nw_loo_loss(model, &w, &loss64, &grad64, NULL), NW_OK);
        nw_model_set_precision(model, NW_PRECISION_F32);
        assert_int_equal(nw_loo_loss(model, &w, &loss32, &grad32, NULL), NW_OK);
        /* the loss is a sum of squared residuals of size ~0.5: the
         * predictions' 1e-5 moves it by ~2e-5 relative at most */
        assert_close(loss32, loss64, 1e-4, 0);
        assert_close(grad32, grad64, 1e-3, 1e-4 * fabs(loss64));
        nw_model_free(model);
    }
    free(x); free(y);
}

/* ------------------------------------------------ far queries, general path */

/* The moments on the scale of the key with the largest score, j*:
 * e_j = exp(score_j - score_j*), everything in long double with
 * u = (q - x) w formed in long double, the exponent as a sum of products
 * of exact differences (64-bit rounding: 5e-20 relative).  The data below
 * make u exact in double too (asserted), so the engine and the reference
 * see the same u and the comparison measures the engine's arithmetic
 * alone.  Returns j* (or NW_NO_SKIP if every key is left out). */
static size_t ref_far(const nw_problem *pb, const double *q, size_t skip, ref_moments *R,
                      ref_moments *C)
{
    const size_t n = pb->n, d = pb->d, p = pb->p, r = pb->linear ? d + 1 : 1;
    memset(R, 0, sizeof *R);
    memset(C, 0, sizeof *C);
    long double best = -INFINITY;
    size_t jstar = NW_NO_SKIP;
    for (size_t j = 0; j < n; j++) {
        long double s = 0;
        for (size_t k = 0; k < d; k++) {
            long double u = ((long double) q[k] - pb->x[j * d + k]) * pb->w[k];
            assert_true((long double) (double) u == u);
            s += ld_log(pb->kernel, u);
        }
        if (j != skip && s > best) { best = s; jstar = j; }
    }
    R->logscale = best;
    if (jstar == NW_NO_SKIP) return jstar;
    long double ustar[3];
    for (size_t k = 0; k < d; k++)
        ustar[k] = fabsl(((long double) q[k] - pb->x[jstar * d + k]) * pb->w[k]);
    for (size_t j = 0; j < n; j++) {
        if (j == skip) continue;
        long double phi[MAXR], u[3], expo = 0, cond = 0;
        phi[0] = 1;
        for (size_t k = 0; k < d; k++) {
            u[k] = ((long double) q[k] - pb->x[j * d + k]) * pb->w[k];
            /* log K(u_k) - log K(u*_k): the difference exact (both u on one
             * grid, 53 bits), the product rounded once to 64 bits */
            long double dif = fabsl(u[k]) - ustar[k];
            long double term = pb->kernel == NW_KERNEL_LAPLACE ? -dif : -dif * (fabsl(u[k]) + ustar[k]) / 2;
            expo += term;
            cond += fabsl(term);
            if (r > 1) phi[k + 1] = u[k];
        }
        long double e = expl(expo);
        for (size_t g = 0; g <= (pb->grad ? d : 0); g++) {
            long double eg = g == 0 ? e : e * ld_rho(pb->kernel, u[g - 1]);
            long double *A = g == 0 ? R->A : R->dA + (g - 1) * r * r;
            long double *B = g == 0 ? R->B : R->dB + (g - 1) * r * p;
            long double *sA = g == 0 ? R->sA : R->sdA + (g - 1) * r * r;
            long double *sB = g == 0 ? R->sB : R->sdB + (g - 1) * r * p;
            long double *cA = g == 0 ? C->sA : C->sdA + (g - 1) * r * r;
            long double *cB = g == 0 ? C->sB : C->sdB + (g - 1) * r * p;
            for (size_t a = 0; a < r; a++) {
                for (size_t b = 0; b < r; b++) {
                    long double t = eg * phi[a] * phi[b];
                    A[a * r + b] += t;
                    sA[a * r + b] += fabsl(t);
                    cA[a * r + b] += fabsl(t) * cond;
                }
                for (size_t c = 0; c < p; c++) {
                    long double t = eg * phi[a] * pb->y[j * p + c];
                    B[a * p + c] += t;
                    sB[a * p + c] += fabsl(t);
                    cB[a * p + c] += fabsl(t) * cond;
                }
            }
        }
    }
    return jstar;
}

/* |got - ref| <= tol (size + |ref|) + ctol csize, on the same scale (no
 * ratio); *worst: the largest |got - ref| / (size + |ref| + ctol / tol csize)
 * in eps. */
static int far_ok(double got, long double ref, long double size, long double csize, double tol,
                  double ctol, const char *what, size_t i, double *worst)
{
    long double err = fabsl(got - ref) / (size + fabsl(ref) + ctol / tol * csize);
    if (err / EPS > *worst) *worst = (double) (err / EPS);
    if (err <= tol) return 1;
    fprintf(stderr, "%s[%zu]: got %.17g, reference %.21Lg (error %.3Lg eps of the absolute sum)\n",
            what, i, got, ref, err / EPS);
    return 0;
}

/* Queries 300, 3000 and 1e4 bandwidths from every key, through the general
 * path: d = 1 with p = 2 (unprepared), d = 2 (unprepared, and through the
 * prepared engine, which hands queries beyond FAR2D to the general path),
 * d = 3; Gaussian and Laplace, local constant and linear, with the
 * derivative moments, with no key left out, the nearest key left out (the
 * scale moves to the next one) and a random key left out.
 *
 * Data: keys on the grid i 2^-37 in [0, 5] (duplicates included), scales
 * w = 1, 2, 0.5 and queries on the grid, so that u = (q - x) w is exact in
 * double and in long double (|u| < 2^15: 52 bits) but u^2 is not (a grid of
 * 2^-10 would make every score exact, and score - max with it); the
 * reference's weights relative to j* are exact to a few ulps of long
 * double.  The engine's moments are compared
 * with it on the same scale (the largest term 1, no ratio to A00) within
 *     8 eps (sum_j |m_j| + |M|) + (d + 3) eps sum_j |m_j| c_j,
 * c_j = sum_k |term_jk| the exponent's condition: each exponent
 * sum_k (|u_k| - |u*_k|)(|u_k| + |u*_k|) / 2 is formed to (d + 3) eps of
 * c_j (two roundings per term, d - 1 in the sum, one times 1/ln 2); for
 * d = 1, c_j = |a_j| and e^-|a| |a| <= 1/e, so the bound is a few ulps of
 * the absolute sum; for d > 1 a key nearer in one input and farther in
 * another has c_j > |a_j| (up to ~60 here), a limit of the per-input form.
 * exp2_poly adds an ulp, the sums a few more.  Measured: 1.7 eps at worst
 * (NW_VERBOSE=1 prints it).  score - max instead loses eps |max| per
 * weight, 45000 eps at q = -300 (d = 1, Gaussian): the former code fails
 * here by 1.8e3 eps at the first case.  Laplace on this grid has exact
 * scores (score - max was exact too): those cases check the new form's
 * correctness, not the old defect.
 * logscale: the largest score as the engine rounds it, within d eps. */
static void test_far_queries(void **state)
{
    (void) state;
    const size_t n = 700;
    const double far[] = { 300, 3000, 1e4 };
    const nw_kernel kernels[] = { NW_KERNEL_GAUSSIAN, NW_KERNEL_LAPLACE };
    const double tol = 8 * EPS;
    double worst = 0;
    /* configurations: d, p, prepared */
    const size_t cfg[][3] = { { 1, 2, 0 }, { 2, 1, 0 }, { 2, 1, 1 }, { 3, 1, 0 }, { 3, 2, 0 } };
    for (size_t ic = 0; ic < sizeof cfg / sizeof *cfg; ic++) {
        const size_t d = cfg[ic][0], p = cfg[ic][1], prep = cfg[ic][2];
        double *x = malloc(n * d * sizeof *x), *y = malloc(n * p * sizeof *y);
        assert_true(x && y);
        for (size_t i = 0; i < n * d; i++) x[i] = ldexp(floor(uniform01() * ldexp(5, 37)), -37);
        for (size_t i = 5; i < n; i += 7) memcpy(x + i * d, x + (i - 5) * d, d * sizeof *x);
        for (size_t i = 0; i < n * p; i++) y[i] = 3 * uniform01() - 1;
        const double w[3] = { 1, 2, 0.5 };
        for (size_t kk = 0; kk < 2; kk++)
            for (int linear = 0; linear <= 1; linear++)
                for (int grad = 0; grad <= 1; grad++) {
                    nw_problem pb = { .x = x, .y = y, .n = n, .d = d, .p = p, .kernel = kernels[kk],
                                      .w = w, .linear = linear, .grad = grad };
                    nw_engine *e = prep ? prepared_engine(&pb) : NULL;
                    const nw_problem *use = prep ? e->pb : &pb;
                    nw_moments *mo;
                    assert_int_equal(nw_moments_new(use, &mo), NW_OK);
                    for (size_t f = 0; f < sizeof far / sizeof *far; f++)
                        for (int side = 0; side < 4; side++)
                            for (int sk = 0; sk < 3; sk++) {
                                /* side 0, 1: far below, above in input 0, the others
                                 * inside; 2, 3: far in every input */
                                double q[3];
                                for (size_t k = 0; k < d; k++) {
                                    double inside = ldexp(floor(uniform01() * ldexp(5, 37)), -37);
                                    double away = far[f] / w[k];
                                    q[k] = k > 0 && side < 2 ? inside
                                         : side % 2 ? 5 + away : -away;
                                }
                                ref_moments R, C;
                                size_t skip = NW_NO_SKIP;
                                if (sk == 1) skip = ref_far(&pb, q, NW_NO_SKIP, &R, &C);
                                if (sk == 2) skip = (size_t) (uniform01() * (double) n);
                                ref_far(&pb, q, skip, &R, &C);
                                const double ctol = (double) (d + 3) * EPS;
                                if (prep) nw_engine_moments(e, q, skip, mo);
                                else nw_engine_dense(&pb, q, skip, mo);
                                const size_t r = pb.linear ? d + 1 : 1;
                                int ok = fabsl(mo->logscale - R.logscale)
                                         <= (double) d * EPS * fabsl(R.logscale);
                                if (!ok)
                                    fprintf(stderr, "logscale %.17g, reference %.21Lg\n",
                                            mo->logscale, R.logscale);
                                for (size_t i = 0; i < r * r; i++)
                                    ok &= far_ok(mo->A[i], R.A[i], R.sA[i], C.sA[i],
                                                tol, ctol, "A", i, &worst);
                                for (size_t i = 0; i < r * p; i++)
                                    ok &= far_ok(mo->B[i], R.B[i], R.sB[i], C.sB[i],
                                                tol, ctol, "B", i, &worst);
                                for (size_t i = 0; grad && i < d * r * r; i++)
                                    ok &= far_ok(mo->dA[i], R.dA[i], R.sdA[i], C.sdA[i],
                                                tol, ctol, "dA", i, &worst);
                                for (size_t i = 0; grad && i < d * r * p; i++)
                                    ok &= far_ok(mo->dB[i], R.dB[i], R.sdB[i], C.sdB[i],
                                                tol, ctol, "dB", i, &worst);
                                if (!ok)
                                    fail_msg("far query: kernel %d d %zu p %zu prepared %zu linear %d "
                                             "grad %d q[0] = %.17g skip %zu", (int) pb.kernel, d, p,
                                             prep, linear, grad, q[0], skip);
                            }
                    nw_moments_free(mo);
                    nw_engine_free(e);
                }
        free(x);
        free(y);
    }
    if (getenv("NW_VERBOSE")) fprintf(stderr, "far queries: worst error %.3g eps\n", worst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exp_accuracy),
        cmocka_unit_test(test_exp2_poly_domain),
        cmocka_unit_test(test_identical_keys_exact),
        cmocka_unit_test(test_moments_small_n),
        cmocka_unit_test(test_moments_all_kernels),
        cmocka_unit_test(test_hard_cases),
        cmocka_unit_test(test_predictions),
        cmocka_unit_test(test_f32_loss_gradient),
        cmocka_unit_test(test_prepared_moments),
        cmocka_unit_test(test_prepared_exact),
        cmocka_unit_test(test_prepared_distance),
        cmocka_unit_test(test_predictions_2d),
        cmocka_unit_test(test_far_queries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
