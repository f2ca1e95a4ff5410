/* test_kernels.c: every kernel against its formula, names, rho = u K'/K. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "kernels.h"

static double formula(nw_kernel k, double u)
{
    double a = fabs(u);
    switch (k) {
    case NW_KERNEL_GAUSSIAN:     return exp(-u * u / 2);
    case NW_KERNEL_EPANECHNIKOV: return a <= 1 ? 1 - u * u : 0;
    case NW_KERNEL_UNIFORM:      return a <= 1 ? 1 : 0;
    case NW_KERNEL_TRIANGULAR:   return a <= 1 ? 1 - a : 0;
    case NW_KERNEL_TRICUBE:      return a <= 1 ? pow(1 - a * a * a, 3) : 0;
    case NW_KERNEL_BIWEIGHT:     return a <= 1 ? pow(1 - u * u, 2) : 0;
    case NW_KERNEL_COSINE:       return a <= 1 ? cos(M_PI_2 * u) : 0;
    case NW_KERNEL_LAPLACE:      return exp(-a);
    default:                     return NAN;
    }
}

static void test_values_match_formulas(void **state)
{
    (void) state;
    for (int k = 0; k < NW_KERNEL_COUNT; k++) {
        assert_close(nw_kernel_eval((nw_kernel) k, 0), 1.0, 0, 0);
        for (double u = -2.5; u <= 2.5; u += 0.0625) {
            assert_close(nw_kernel_eval((nw_kernel) k, u), formula((nw_kernel) k, u), 1e-15, 1e-16);
            assert_close(nw_kernel_eval((nw_kernel) k, -u), nw_kernel_eval((nw_kernel) k, u), 0, 0);
        }
    }
    /* the tricube trap statsmodels falls into: outside the support the weight is 0 */
    assert_true(nw_kernel_eval(NW_KERNEL_TRICUBE, 1.5) == 0);
    assert_true(nw_kernel_eval(NW_KERNEL_TRICUBE, -7) == 0);
}

static void test_rho_is_log_derivative(void **state)
{
    (void) state;
    /* rho(u) = u K'(u) / K(u): compare with central differences of log K */
    for (int k = 0; k < NW_KERNEL_COUNT; k++) {
        for (double u = -0.95; u <= 0.95; u += 0.1) {
            double e = 1e-6, K = kernel_value((nw_kernel) k, u);
            double dK = (kernel_value((nw_kernel) k, u + e) - kernel_value((nw_kernel) k, u - e)) / (2 * e);
            if (k == NW_KERNEL_LAPLACE && fabs(u) < 2 * e) continue;
            assert_close(kernel_rho((nw_kernel) k, u), u * dK / K, 1e-6, 1e-8);
        }
        assert_true(kernel_rho((nw_kernel) k, 0.0) == 0);
    }
}

static void test_names_round_trip(void **state)
{
    (void) state;
    for (int k = 0; k < NW_KERNEL_COUNT; k++) {
        nw_kernel back;
        assert_int_equal(nw_kernel_from_name(nw_kernel_name((nw_kernel) k), &back), NW_OK);
        assert_int_equal(back, k);
    }
    nw_kernel kk;
    assert_int_equal(nw_kernel_from_name("gauss", &kk), NW_ERR_ARG);
    assert_null(nw_kernel_name(NW_KERNEL_COUNT));
    nw_estimator e;
    assert_int_equal(nw_estimator_from_name("ll", &e), NW_OK);
    assert_int_equal(e, NW_ESTIMATOR_LINEAR);
    assert_int_equal(nw_estimator_from_name("nw", &e), NW_OK);
    assert_int_equal(e, NW_ESTIMATOR_CONSTANT);
    assert_int_equal(nw_estimator_from_name("lp", &e), NW_ERR_ARG);
    assert_string_equal(nw_estimator_name(NW_ESTIMATOR_LINEAR), "ll");
}

static void test_strerror_covers_every_status(void **state)
{
    (void) state;
    for (int s = NW_OK; s <= NW_ERR_STOPPED; s++) {
        const char *m = nw_strerror((nw_status) s);
        assert_non_null(m);
        assert_true(strlen(m) > 3);
        assert_true(strcmp(m, "unknown status") != 0);
    }
    assert_string_equal(nw_strerror((nw_status) 999), "unknown status");
}

/* Every kernel's predictions against its formula: tests/reference/
 * kernels_ref.py evaluates sum K y / sum K (lc) and the weighted least-squares
 * line (ll) in 100-digit arithmetic on d1.csv at h = 0.8.  Tolerance 1e-10
 * relative (the local-linear solve amplifies rounding by its condition). */
static void test_kernel_predictions_match_formulas(void **state)
{
    (void) state;
    nwt_ref *ref = nwt_ref_load("kernels_ref.txt");
    const char *cols[2] = { "x", "y" };
    size_t n, nq, nu;
    double *xy = nwt_read_columns("tests/reference/data/d1.csv", cols, 2, &n);
    double *x = malloc(n * sizeof(double)), *y = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) { x[i] = xy[2 * i]; y[i] = xy[2 * i + 1]; }
    const double h = nwt_ref_get(ref, "k_h", NULL)[0];
    const double *q = nwt_ref_get(ref, "k_queries", &nq);
    const double *u = nwt_ref_get(ref, "k_u", &nu);
    double *yh = malloc(n * sizeof(double));
    nw_model *m;
    assert_int_equal(nw_model_new(&m, x, y, n, 1, 1), NW_OK);
    nw_model_set_bandwidth(m, &h);
    for (int k = 0; k < NW_KERNEL_COUNT; k++) {
        char name[64];
        const char *kn = nw_kernel_name((nw_kernel) k);
        nw_model_set_kernel(m, (nw_kernel) k);
        snprintf(name, sizeof name, "k_%s_K", kn);
        const double *K = nwt_ref_get(ref, name, NULL);
        /* atol: the reference is 100-digit arithmetic, where cos(pi/2)
         * comes out as 1.4e-102 instead of 0 */
        for (size_t i = 0; i < nu; i++) assert_close(nw_kernel_eval((nw_kernel) k, u[i]), K[i], 1e-15, 1e-90);
        for (int e = 0; e < 2; e++) {
            nw_model_set_estimator(m, (nw_estimator) e);
            size_t empty;
            assert_int_equal(nw_predict(m, q, nq, yh, &empty), NW_OK);
            snprintf(name, sizeof name, "k_%s_%s", kn, e ? "ll" : "lc");
            const double *want = nwt_ref_get(ref, name, NULL);
            fprintf(stderr, "  %s\n", name);
            /* includes x = 1000, 1238 bandwidths out, where the Gaussian
             * local-linear fit extrapolates the line through the two nearest
             * points (-12246.28...) */
            assert_all_close(yh, want, nq, 1e-10, 1e-12);
            assert_int_equal(empty, kernel_is_log((nw_kernel) k) ? 0 : 1);
            double cv;
            snprintf(name, sizeof name, "k_%s_cv_%s", kn, e ? "ll" : "lc");
            assert_int_equal(nw_criterion_eval(m, NW_CRITERION_LOO, &h, &cv, NULL), NW_OK);
            assert_close(cv, nwt_ref_get(ref, name, NULL)[0], 1e-10, 0);
        }
        nw_model_set_estimator(m, NW_ESTIMATOR_CONSTANT);
        assert_int_equal(nw_loo_predict(m, yh, NULL), NW_OK);
        snprintf(name, sizeof name, "k_%s_loo_lc", kn);
        assert_all_close(yh, nwt_ref_get(ref, name, NULL), n, 1e-10, 1e-12);
    }
    nw_model_free(m);
    free(xy); free(x); free(y); free(yh);
    nwt_ref_free(ref);
}

/* Where a peer is wrong: statsmodels' tricube gives points outside the
 * support the largest weight (it sets u = 0 there).  nwreg gives them 0,
 * and agrees with statsmodels (up to its constant 70/81) inside. */
static void test_tricube_fixes_statsmodels(void **state)
{
    (void) state;
    nwt_ref *ref = nwt_ref_load("kernels_ref.txt");
    size_t n;
    const double *u = nwt_ref_get(ref, "sm_tricube_u", &n);
    const double *sm = nwt_ref_get(ref, "sm_tricube_K", NULL);
    int outside = 0;
    for (size_t i = 0; i < n; i++) {
        double ours = nw_kernel_eval(NW_KERNEL_TRICUBE, u[i]);
        if (fabs(u[i]) > 1) {
            outside++;
            assert_close(sm[i], 70.0 / 81.0, 1e-15, 0); /* statsmodels: the maximum */
            assert_true(ours == 0);                     /* nwreg: no weight */
        } else {
            assert_close(70.0 / 81.0 * ours, sm[i], 1e-12, 1e-300);
        }
    }
    assert_true(outside >= 4);
    nwt_ref_free(ref);
}

/* Near u = 0 rho is O(u^2) and must keep its relative accuracy there:
 * rho = -(pi/2) u tan(pi u/2) ~ -(pi^2/4) u^2 (1 + (pi^2/12) u^2) for the
 * cosine kernel; the epanechnikov and biweight forms -2u^2/(1-u^2) and
 * -4u^2/(1-u^2) likewise. */
static void test_rho_relative_near_zero(void **state)
{
    (void) state;
    const double pi = 3.14159265358979323846;
    for (double u = 1e-12; u < 2e-4; u *= 10) {   /* the next term, (2/15) x^6, is below 1e-15 relative */
        double c = -(pi * pi / 4) * u * u * (1 + pi * pi / 12 * u * u);
        assert_close(kernel_rho(NW_KERNEL_COSINE, u), c, 1e-14, 0);
        assert_close(kernel_rho(NW_KERNEL_COSINE, -u), c, 1e-14, 0);
        assert_close(kernel_rho(NW_KERNEL_EPANECHNIKOV, u), -2 * u * u / (1 - u * u), 1e-14, 0);
        assert_close(kernel_rho(NW_KERNEL_BIWEIGHT, u), -4 * u * u / (1 - u * u), 1e-14, 0);
    }
}
/* cos_sin_quarter (the cosine's sorted passes) against long double cosl,
 * sinl on 2e5 points of |z| <= pi/4 (1 + 1e-6) and the ends: within 3 u
 * absolute, as its comment and the passes' error bound (kappa in
 * loo_sorted.c) count it; measured 1.1-1.5 u. */
static void test_cos_sin_quarter(void **state)
{
    (void) state;
    const double zmax = M_PI_4 * (1 + 1e-6), u = 0x1p-53;
    double worst_c = 0, worst_s = 0;
    for (int i = -100000; i <= 100000; i++) {
        double z = zmax * i / 100000.0, c, s;
        if (i == 1) z = 0x1p-1022;
        cos_sin_quarter(z, &c, &s);
        long double ec = fabsl((long double) c - cosl((long double) z));
        long double es = fabsl((long double) s - sinl((long double) z));
        if ((double) ec > worst_c) worst_c = (double) ec;
        if ((double) es > worst_s) worst_s = (double) es;
    }
    print_message("cos_sin_quarter: worst error cos %.2f u, sin %.2f u\n", worst_c / u,
                  worst_s / u);
    assert_true(worst_c <= 3 * u);
    assert_true(worst_s <= 3 * u);
    double c, s;
    cos_sin_quarter(0, &c, &s);
    assert_true(c == 1 && s == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_match_formulas),
        cmocka_unit_test(test_rho_is_log_derivative),
        cmocka_unit_test(test_rho_relative_near_zero),
        cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_strerror_covers_every_status),
        cmocka_unit_test(test_kernel_predictions_match_formulas),
        cmocka_unit_test(test_tricube_fixes_statsmodels),
        cmocka_unit_test(test_cos_sin_quarter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
