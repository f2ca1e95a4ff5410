/* test_synth.c: the seeded synthetic data and the test grid. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void test_same_seed_same_data(void **state)
{
    (void) state;
    double x1[50], y1[50], x2[50], y2[50], x3[50], y3[50];
    assert_int_equal(nw_generate(7, 50, x1, y1), NW_OK);
    assert_int_equal(nw_generate(7, 50, x2, y2), NW_OK);
    assert_int_equal(nw_generate(8, 50, x3, y3), NW_OK);
    assert_memory_equal(x1, x2, sizeof x1);
    assert_memory_equal(y1, y2, sizeof y1);
    assert_memory_not_equal(x1, x3, sizeof x1);
    for (int i = 0; i < 50; i++) {
        assert_true(x1[i] >= 0 && x1[i] < 5);
        if (i) assert_true(x1[i] >= x1[i - 1]);
    }
    /* pinned values: the generator must not drift between versions */
    assert_close(x1[0], 0.20458533360422193, 1e-15, 0);
    assert_close(y1[0], 1.0629586638876654, 1e-14, 0);
    assert_close(x1[49], 4.9543013941653413, 1e-15, 0);
    assert_close(y1[49], 0.89750683818555865, 1e-14, 0);
    assert_int_equal(nw_generate(7, 0, x1, y1), NW_ERR_EMPTY);
}

static void test_distribution(void **state)
{
    (void) state;
    enum { N = 200000 };
    double *x = malloc(N * sizeof(double)), *y = malloc(N * sizeof(double));
    assert_int_equal(nw_generate(1, N, x, y), NW_OK);
    double mx = 0, me = 0, ve = 0;
    for (int i = 0; i < N; i++) {
        double e = y[i] - nw_notebook_f(x[i]);
        mx += x[i]; me += e; ve += e * e;
    }
    mx /= N; me /= N; ve = ve / N - me * me;
    /* 5 standard errors: U(0,5) mean 2.5 (sd 1.44), noise mean 0 sd 0.5 */
    assert_close(mx, 2.5, 0, 5 * 1.4434 / sqrt(N));
    assert_close(me, 0, 0, 5 * 0.5 / sqrt(N));
    assert_close(sqrt(ve), 0.5, 0, 5 * 0.5 / sqrt(2.0 * N));
    free(x);
    free(y);
}

static void test_grid_and_truth(void **state)
{
    (void) state;
    double x[50], t[50];
    assert_int_equal(nw_generate_grid(50, x, t), NW_OK);
    assert_true(x[0] == 0 && x[49] == 4.9 && x[10] == 1.0);
    for (int j = 0; j < 50; j++) assert_close(t[j], 2 * sin(x[j]) + pow(x[j], 0.8), 1e-15, 0);
    assert_close(nw_notebook_f(1), 2 * sin(1.0) + 1, 1e-15, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_data),
        cmocka_unit_test(test_distribution),
        cmocka_unit_test(test_grid_and_truth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
