/* test_kernels.c: every kernel against its formula, names, rho = u K'/K. */
#include <math.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_match_formulas),
        cmocka_unit_test(test_rho_is_log_derivative),
        cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_strerror_covers_every_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
