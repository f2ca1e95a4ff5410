/* test_estimate.c: predictions, attention, baseline; the edge cases. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* the direct formula for local constant, 1-d, Gaussian, stable */
static double nw_direct(const double *x, const double *y, size_t n, double w, double q)
{
    double top = -INFINITY, s0 = 0, s1 = 0;
    for (size_t i = 0; i < n; i++) top = fmax(top, -0.5 * pow((q - x[i]) * w, 2));
    for (size_t i = 0; i < n; i++) {
        double e = exp(-0.5 * pow((q - x[i]) * w, 2) - top);
        s0 += e; s1 += e * y[i];
    }
    return s1 / s0;
}

static const double X[6] = { 0.3, 1.1, 1.7, 2.0, 3.4, 4.9 };
static const double Y[6] = { 1.0, 2.5, -0.5, 3.0, 2.0, 0.25 };

static void test_gaussian_matches_direct_formula(void **state)
{
    (void) state;
    nw_model *m;
    assert_int_equal(nw_model_new(&m, X, Y, 6, 1, 1), NW_OK);
    double q[5] = { -1, 0.3, 1.9, 2.05, 7 }, yh[5];
    for (double w = 0.25; w < 40; w *= 2) {
        assert_int_equal(nw_model_set_scale(m, &w), NW_OK);
        assert_int_equal(nw_predict(m, q, 5, yh, NULL), NW_OK);
        for (int j = 0; j < 5; j++) assert_close(yh[j], nw_direct(X, Y, 6, w, q[j]), 1e-14, 1e-15);
    }
    nw_model_free(m);
}

static void test_far_query_gives_nearest_value(void **state)
{
    (void) state;
    nw_model *m;
    assert_int_equal(nw_model_new(&m, X, Y, 6, 1, 1), NW_OK);
    double w = 1;
    nw_model_set_scale(m, &w);
    /* 10^6 bandwidths below the first point and above the last */
    double q[2] = { 0.3 - 1e6, 4.9 + 1e6 }, yh[2];
    for (int est = 0; est < 2; est++) {
        nw_model_set_estimator(m, (nw_estimator) est);
        assert_int_equal(nw_predict(m, q, 2, yh, NULL), NW_OK);
        assert_close(yh[0], 1.0, 1e-12, 0);
        assert_close(yh[1], 0.25, 1e-12, 0);
    }
    /* the Laplace kernel's far field is not the nearest point but a fixed
     * softmax: weights exp(-|q - x_i|) are proportional to exp(x_i) far to
     * the left of the data */
    nw_model_set_kernel(m, NW_KERNEL_LAPLACE);
    nw_model_set_estimator(m, NW_ESTIMATOR_CONSTANT);
    assert_int_equal(nw_predict(m, q, 1, yh, NULL), NW_OK);
    double s0 = 0, s1 = 0;
    for (int i = 0; i < 6; i++) { s0 += exp(-X[i]); s1 += exp(-X[i]) * Y[i]; }
    /* q = 0.3 - 1e6 is itself rounded to ulp(1e6) ~ 1.2e-10, which moves
     * each weight by that much relative */
    assert_close(yh[0], s1 / s0, 1e-9, 0);
    nw_model_free(m);
}

static void test_one_training_point(void **state)
{
    (void) state;
    nw_model *m;
    double x = 2, y = 7, q[3] = { -1e9, 2, 1e9 }, yh[3], wts[3];
    assert_int_equal(nw_model_new(&m, &x, &y, 1, 1, 1), NW_OK);
    for (int est = 0; est < 2; est++) {
        nw_model_set_estimator(m, (nw_estimator) est);
        assert_int_equal(nw_predict(m, q, 3, yh, NULL), NW_OK);
        for (int j = 0; j < 3; j++) assert_close(yh[j], 7, 0, 0);
    }
    assert_int_equal(nw_attention(m, q, 3, wts), NW_OK);
    for (int j = 0; j < 3; j++) assert_close(wts[j], 1, 0, 0);
    double loss, l[1];
    assert_int_equal(nw_loo_loss(m, NULL, &loss, NULL, NULL), NW_ERR_EMPTY);
    assert_int_equal(nw_loo_predict(m, l, NULL), NW_ERR_EMPTY);
    nw_model_free(m);
}

static void test_duplicate_x(void **state)
{
    (void) state;
    double x[4] = { 1, 1, 1, 5 }, y[4] = { 1, 3, 5, 100 }, q[2] = { 1, -1e7 }, yh[2];
    nw_model *m;
    assert_int_equal(nw_model_new(&m, x, y, 4, 1, 1), NW_OK);
    double w = 50; /* point 4 is 200 bandwidths away: weight e^-20000 = 0 */
    nw_model_set_scale(m, &w);
    for (int est = 0; est < 2; est++) {
        nw_model_set_estimator(m, (nw_estimator) est);
        assert_int_equal(nw_predict(m, q, 2, yh, NULL), NW_OK);
        assert_close(yh[0], 3, 1e-15, 0);
        assert_close(yh[1], 3, 1e-15, 0); /* ties among the nearest are averaged */
    }
    /* leave-one-out at a duplicate keeps the other duplicates */
    double loo[4];
    nw_model_set_estimator(m, NW_ESTIMATOR_CONSTANT);
    assert_int_equal(nw_loo_predict(m, loo, NULL), NW_OK);
    assert_close(loo[0], 4, 1e-15, 0);
    assert_close(loo[1], 3, 1e-15, 0);
    assert_close(loo[2], 2, 1e-15, 0);
    nw_model_free(m);
}

static void test_huge_and_tiny_w(void **state)
{
    (void) state;
    nw_model *m;
    assert_int_equal(nw_model_new(&m, X, Y, 6, 1, 1), NW_OK);
    double q[3] = { 1.2, 1.85, 4.0 }, yh[3], mean;
    nw_baseline(m, &mean);
    double huge = 1e200, tiny = 1e-200;
    for (int est = 0; est < 2; est++) {
        nw_model_set_estimator(m, (nw_estimator) est);
        assert_int_equal(nw_model_set_scale(m, &huge), NW_OK);
        assert_int_equal(nw_predict(m, q, 3, yh, NULL), NW_OK);
        assert_close(yh[0], 2.5, 0, 0);  /* nearest: 1.1 */
        assert_close(yh[1], 3.0, 0, 0);  /* 1.85 - 1.7 = 0.15 = 2.0 - 1.85 in decimal; in binary 2.0 is nearer */
        assert_close(yh[2], 2.0, 0, 0);
        if (est == 0) {
            assert_int_equal(nw_model_set_scale(m, &tiny), NW_OK);
            assert_int_equal(nw_predict(m, q, 3, yh, NULL), NW_OK);
            for (int j = 0; j < 3; j++) assert_close(yh[j], mean, 1e-15, 0);
        }
    }
    /* huge values: no overflow into NaN */
    double yb[6];
    for (int i = 0; i < 6; i++) yb[i] = Y[i] * 1e300;
    nw_model *mb;
    assert_int_equal(nw_model_new(&mb, X, yb, 6, 1, 1), NW_OK);
    assert_int_equal(nw_predict(mb, q, 3, yh, NULL), NW_OK);
    for (int j = 0; j < 3; j++) assert_true(isfinite(yh[j]));
    nw_model_free(mb);
    nw_model_free(m);
}

static void test_attention_rows(void **state)
{
    (void) state;
    nw_model *m;
    assert_int_equal(nw_model_new(&m, X, Y, 6, 1, 1), NW_OK);
    double w = 2, q[3] = { 0, 2, 1e8 }, a[18], yh[3];
    nw_model_set_scale(m, &w);
    assert_int_equal(nw_attention(m, q, 3, a), NW_OK);
    assert_int_equal(nw_predict(m, q, 3, yh, NULL), NW_OK);
    for (int j = 0; j < 3; j++) {
        double s = 0, top = -INFINITY, z = 0, ay = 0;
        for (int i = 0; i < 6; i++) top = fmax(top, -0.5 * pow((q[j] - X[i]) * w, 2));
        for (int i = 0; i < 6; i++) z += exp(-0.5 * pow((q[j] - X[i]) * w, 2) - top);
        for (int i = 0; i < 6; i++) {
            s += a[j * 6 + i];
            ay += a[j * 6 + i] * Y[i];
            assert_close(a[j * 6 + i], exp(-0.5 * pow((q[j] - X[i]) * w, 2) - top) / z, 1e-14, 1e-300);
        }
        assert_close(s, 1, 1e-15, 0);
        assert_close(ay, yh[j], 1e-14, 1e-15); /* weights . y = the prediction */
    }
    nw_model_free(m);
}

static void test_baseline_is_mean(void **state)
{
    (void) state;
    double y2[12];
    for (int i = 0; i < 6; i++) { y2[2 * i] = Y[i]; y2[2 * i + 1] = 10 * i; }
    nw_model *m;
    assert_int_equal(nw_model_new(&m, X, y2, 6, 1, 2), NW_OK);
    double mean[2];
    assert_int_equal(nw_baseline(m, mean), NW_OK);
    assert_close(mean[0], 8.25 / 6, 1e-15, 0);
    assert_close(mean[1], 25, 1e-15, 0);
    nw_model_free(m);
}

static void test_local_linear_reproduces_lines(void **state)
{
    (void) state;
    /* y = 3 + 2 x1 - x2: local linear is exact for any kernel and bandwidth */
    enum { N = 40 };
    double x[2 * N], y[N], q[6] = { 0.5, 0.5, 0.2, 0.9, 0.77, 0.1 }, yh[3];
    for (int i = 0; i < N; i++) {
        /* scattered, not on a lattice (a lattice can make a compact
         * neighbourhood collinear, where local linear is undefined) */
        double a = sin(12.9898 * (i + 1)) * 43758.5453, b = sin(78.233 * (i + 1)) * 12345.6789;
        x[2 * i] = a - floor(a);
        x[2 * i + 1] = b - floor(b);
        y[i] = 3 + 2 * x[2 * i] - x[2 * i + 1];
    }
    nw_model *m;
    assert_int_equal(nw_model_new(&m, x, y, N, 2, 1), NW_OK);
    nw_model_set_estimator(m, NW_ESTIMATOR_LINEAR);
    double h[2] = { 0.3, 0.4 };
    nw_model_set_bandwidth(m, h);
    for (int k = 0; k < NW_KERNEL_COUNT; k++) {
        nw_model_set_kernel(m, (nw_kernel) k);
        assert_int_equal(nw_predict(m, q, 3, yh, NULL), NW_OK);
        for (int j = 0; j < 3; j++)
            assert_close(yh[j], 3 + 2 * q[2 * j] - q[2 * j + 1], 1e-12, 1e-12);
    }
    nw_model_free(m);
}

static void test_compact_kernel_empty_neighbourhood(void **state)
{
    (void) state;
    nw_model *m;
    assert_int_equal(nw_model_new(&m, X, Y, 6, 1, 1), NW_OK);
    double h = 0.1, q[3] = { 1.15, 2.7, 4.85 }, yh[3], a[18];
    nw_model_set_bandwidth(m, &h);
    nw_model_set_kernel(m, NW_KERNEL_EPANECHNIKOV);
    size_t empty = 99;
    assert_int_equal(nw_predict(m, q, 3, yh, &empty), NW_OK);
    assert_int_equal(empty, 1);
    assert_close(yh[0], 2.5, 1e-15, 0);
    assert_true(isnan(yh[1]));
    assert_close(yh[2], 0.25, 1e-15, 0);
    assert_int_equal(nw_attention(m, q, 3, a), NW_OK);
    assert_true(isnan(a[6]));
    nw_model_set_empty_policy(m, NW_EMPTY_NEAREST);
    assert_int_equal(nw_predict(m, q, 3, yh, &empty), NW_OK);
    assert_int_equal(empty, 1);
    assert_close(yh[1], 2.0, 0, 0); /* nearest to 2.7 is 3.4 (2.7 - 2.0 rounds up to 0.7000000000000002) */
    assert_int_equal(nw_attention(m, q, 3, a), NW_OK);
    assert_close(a[6 + 4], 1, 0, 0);
    nw_model_free(m);
}

static void test_threads_do_not_change_results(void **state)
{
    (void) state;
    enum { N = 3000, M = 500 };
    double *x = malloc(N * sizeof(double)), *y = malloc(N * sizeof(double));
    double *q = malloc(M * sizeof(double)), *a = malloc(M * sizeof(double)), *b = malloc(M * sizeof(double));
    nw_generate(11, N, x, y);
    for (int j = 0; j < M; j++) q[j] = -1 + 7.0 * j / M;
    nw_model *m;
    assert_int_equal(nw_model_new(&m, x, y, N, 1, 1), NW_OK);
    for (int est = 0; est < 2; est++) {
        nw_model_set_estimator(m, (nw_estimator) est);
        nw_model_set_threads(m, 1);
        assert_int_equal(nw_predict(m, q, M, a, NULL), NW_OK);
        nw_model_set_threads(m, 2);
        assert_int_equal(nw_predict(m, q, M, b, NULL), NW_OK);
        assert_memory_equal(a, b, M * sizeof(double));
        double l1, l2, g1, g2;
        nw_model_set_threads(m, 1);
        nw_loo_loss(m, NULL, &l1, &g1, NULL);
        nw_model_set_threads(m, 2);
        nw_loo_loss(m, NULL, &l2, &g2, NULL);
        assert_true(l1 == l2 && g1 == g2);
    }
    nw_model_free(m);
    free(x); free(y); free(q); free(a); free(b);
}

static void test_bad_arguments(void **state)
{
    (void) state;
    nw_model *m = (nw_model *) 1;
    double nanx[2] = { 1, NAN }, y[2] = { 1, 2 }, x[2] = { 1, 2 };
    assert_int_equal(nw_model_new(&m, nanx, y, 2, 1, 1), NW_ERR_NONFINITE);
    assert_null(m);
    assert_int_equal(nw_model_new(&m, x, y, 0, 1, 1), NW_ERR_EMPTY);
    assert_int_equal(nw_model_new(&m, x, y, 2, 0, 1), NW_ERR_EMPTY);
    assert_int_equal(nw_model_new(&m, NULL, y, 2, 1, 1), NW_ERR_ARG);
    assert_int_equal(nw_model_new(&m, x, y, 2, 1, 1), NW_OK);
    double zero = 0, neg = -1, inf = INFINITY, h;
    assert_int_equal(nw_model_set_bandwidth(m, &zero), NW_ERR_BANDWIDTH);
    assert_int_equal(nw_model_set_bandwidth(m, &neg), NW_ERR_BANDWIDTH);
    assert_int_equal(nw_model_set_bandwidth(m, &inf), NW_ERR_BANDWIDTH);
    assert_int_equal(nw_model_set_scale(m, &zero), NW_ERR_BANDWIDTH);
    assert_int_equal(nw_model_set_scale(m, &neg), NW_OK); /* w = -1: h = 1 */
    nw_model_bandwidth(m, &h);
    assert_close(h, 1, 0, 0);
    double q = NAN, out;
    assert_int_equal(nw_predict(m, &q, 1, &out, NULL), NW_ERR_NONFINITE);
    assert_int_equal(nw_predict(m, NULL, 1, &out, NULL), NW_ERR_ARG);
    assert_int_equal(nw_predict(m, NULL, 0, NULL, NULL), NW_OK);
    assert_int_equal(nw_loo_loss(m, &zero, &out, NULL, NULL), NW_ERR_BANDWIDTH);
    assert_int_equal(nw_model_set_kernel(m, NW_KERNEL_COUNT), NW_ERR_ARG);
    assert_int_equal(nw_model_set_threads(m, -1), NW_ERR_ARG);
    nw_model_free(m);
    nw_model_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gaussian_matches_direct_formula),
        cmocka_unit_test(test_far_query_gives_nearest_value),
        cmocka_unit_test(test_one_training_point),
        cmocka_unit_test(test_duplicate_x),
        cmocka_unit_test(test_huge_and_tiny_w),
        cmocka_unit_test(test_attention_rows),
        cmocka_unit_test(test_baseline_is_mean),
        cmocka_unit_test(test_local_linear_reproduces_lines),
        cmocka_unit_test(test_compact_kernel_empty_neighbourhood),
        cmocka_unit_test(test_threads_do_not_change_results),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
