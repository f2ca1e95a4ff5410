/*
 * test_arrange.c: nw_model_arrange (arrange.c), and the engines reading
 * arranged points where they lie (the 1-d sweeps and sorted engine by x,
 * the 2-d FGT box by box, the k-d tree leaf by leaf).  For each engine:
 *
 *   - the arranged model holds the same points, permuted (rows compared
 *     after sorting both, bit for bit);
 *   - arranging again moves nothing: the order the engine would make is
 *     the one the points are in, which is the order its init reads in
 *     place (arrange.c and the engines share that test);
 *   - local-constant predictions are the unarranged model's bit for bit
 *     (the data keep every prediction far from 0, so no query falls back
 *     to the dense sums, whose order of summation follows the points':
 *     checked); local linear's, whose queries outside the data are summed
 *     again by the dense engine about their weighted mean, to 2e-12;
 *   - leave-one-out predictions and nw_fitted follow the points' new order
 *     (each row that of the same point before, to 2e-12 relative: twice the
 *     certified tolerance);
 *   - after a change of bandwidth the engine copies the points again and
 *     the predictions still agree (to 2e-12).
 *
 * And: the dense engine's prepared keys (sorted in 1-d, by grid cell in
 * 2-d where the grid's copy would pass the memory budget) read in place;
 * an engine that does not apply leaves the model as it was; outputs
 * beyond 2^512 (the model's scaled copy, y_sums) move with their points.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

enum { N = 3000, M = 1500 };

typedef struct arrange_case {
    const char *name;
    size_t d, p;
    nw_kernel kernel;
    nw_estimator estimator;
    nw_engine_kind engine;
    double h;
    size_t m;           /* queries (the engine's plan depends on it) */
} arrange_case;

/* n points in [0, 5]^d in no order, outputs 3 + sin x_0 + x_1 / 2 (and
 * 2 + cos x_0 for a second), scaled by `scale`. */
static void make_data(size_t n, size_t d, size_t p, double scale, uint64_t seed, double *x, double *y)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < d; k++) x[i * d + k] = 5 * nwt_unif(&s);
        double x1 = d > 1 ? x[i * d + 1] : 0;
        y[i * p] = scale * (3 + sin(x[i * d]) + 0.5 * x1 + 0.1 * nwt_unif(&s));
        if (p > 1) y[i * p + 1] = scale * (2 + cos(x[i * d]));
    }
}

static nw_model *new_model(const arrange_case *c, const double *x, const double *y)
{
    nw_model *m = NULL;
    double h[3] = { c->h, c->h, c->h };
    assert_int_equal(nw_model_new(&m, x, y, N, c->d, c->p), NW_OK);
    assert_int_equal(nw_model_set_bandwidth(m, h), NW_OK);
    assert_int_equal(nw_model_set_kernel(m, c->kernel), NW_OK);
    assert_int_equal(nw_model_set_estimator(m, c->estimator), NW_OK);
    assert_int_equal(nw_model_set_engine(m, c->engine), NW_OK);
    return m;
}

/* Row order for qsort: the row's d + p values, lexicographically. */
static size_t cmp_width;
static const double *cmp_rows;
static int cmp_row(const void *a, const void *b)
{
    const double *ra = cmp_rows + *(const size_t *) a * cmp_width;
    const double *rb = cmp_rows + *(const size_t *) b * cmp_width;
    for (size_t k = 0; k < cmp_width; k++)
        if (ra[k] != rb[k]) return ra[k] < rb[k] ? -1 : 1;
    return 0;
}

/* rank[i] = the place of row i among the model's rows (x then y), sorted */
static void row_ranks(const nw_model *m, size_t *rank)
{
    const size_t n = nw_model_n(m), d = nw_model_d(m), p = nw_model_p(m), w = d + p;
    double *rows = malloc(n * w * sizeof *rows);
    size_t *idx = malloc(n * sizeof *idx);
    assert_non_null(rows);
    assert_non_null(idx);
    for (size_t i = 0; i < n; i++) {
        memcpy(rows + i * w, nw_model_x(m) + i * d, d * sizeof(double));
        memcpy(rows + i * w + d, nw_model_y(m) + i * p, p * sizeof(double));
        idx[i] = i;
    }
    cmp_width = w;
    cmp_rows = rows;
    qsort(idx, n, sizeof *idx, cmp_row);
    for (size_t k = 0; k < n; k++) rank[idx[k]] = k;
    free(rows);
    free(idx);
}

static void check_case(const arrange_case *c, double scale)
{
    const size_t d = c->d, p = c->p;
    double *x = malloc(N * d * sizeof *x), *y = malloc(N * p * sizeof *y);
    double *q = malloc(c->m * d * sizeof *q);
    assert_non_null(x);
    assert_non_null(y);
    assert_non_null(q);
    make_data(N, d, p, scale, 17 + d + p, x, y);
    uint64_t s = 99;
    for (size_t j = 0; j < c->m * d; j++) q[j] = -0.5 + 6 * nwt_unif(&s);
    nw_model *a = new_model(c, x, y), *b = new_model(c, x, y);

    int moved = -1;
    assert_int_equal(nw_model_arrange(b, c->m, &moved), NW_OK);
    assert_int_equal(moved, 1);
    /* the same points: row i of b is row perm[i] of a */
    size_t *ra = malloc(N * sizeof *ra), *rb = malloc(N * sizeof *rb), *by_rank = malloc(N * sizeof *by_rank),
           *perm = malloc(N * sizeof *perm);
    assert_non_null(ra);
    assert_non_null(rb);
    assert_non_null(by_rank);
    assert_non_null(perm);
    row_ranks(a, ra);
    row_ranks(b, rb);
    for (size_t i = 0; i < N; i++) by_rank[ra[i]] = i;
    for (size_t i = 0; i < N; i++) {
        perm[i] = by_rank[rb[i]];
        assert_memory_equal(nw_model_x(b) + i * d, nw_model_x(a) + perm[i] * d, d * sizeof(double));
        assert_memory_equal(nw_model_y(b) + i * p, nw_model_y(a) + perm[i] * p, p * sizeof(double));
    }
    /* once arranged, nothing more moves */
    assert_int_equal(nw_model_arrange(b, c->m, &moved), NW_OK);
    assert_int_equal(moved, 0);

    /* predictions, bit for bit */
    double *ya = malloc(c->m * p * sizeof *ya), *yb = malloc(c->m * p * sizeof *yb);
    assert_non_null(ya);
    assert_non_null(yb);
    nw_run_info ia, ib;
    assert_int_equal(nw_predict_info(a, q, c->m, ya, NULL, &ia), NW_OK);
    assert_int_equal(nw_predict_info(b, q, c->m, yb, NULL, &ib), NW_OK);
    assert_int_equal(ia.engine, ib.engine);
    if (c->engine != NW_ENGINE_AUTO) assert_int_equal(ib.engine, c->engine);
    if (c->estimator == NW_ESTIMATOR_CONSTANT && c->engine != NW_ENGINE_DENSE) {
        assert_int_equal(ia.exact_fallbacks, 0);
        assert_int_equal(ib.exact_fallbacks, 0);
        assert_memory_equal(ya, yb, c->m * p * sizeof(double));
    } else {
        /* local linear recentres its sums by the dense engine at queries
         * outside the data, and falls back to it more often; the dense
         * engine sums the points in their order */
        assert_all_close(yb, ya, c->m * p, 2e-12, 0);
    }

    /* leave-one-out and the in-sample fit follow the points */
    double *la = malloc(N * p * sizeof *la), *lb = malloc(N * p * sizeof *lb);
    double *lb_back = malloc(N * p * sizeof *lb_back);
    assert_non_null(la);
    assert_non_null(lb);
    assert_non_null(lb_back);
    assert_int_equal(nw_loo_predict(a, la, NULL), NW_OK);
    assert_int_equal(nw_loo_predict(b, lb, NULL), NW_OK);
    for (size_t i = 0; i < N; i++) memcpy(lb_back + perm[i] * p, lb + i * p, p * sizeof(double));
    assert_all_close(lb_back, la, N * p, 2e-12, 0);
    assert_int_equal(nw_fitted(a, la, NULL, NULL), NW_OK);
    assert_int_equal(nw_fitted(b, lb, NULL, NULL), NW_OK);
    for (size_t i = 0; i < N; i++) memcpy(lb_back + perm[i] * p, lb + i * p, p * sizeof(double));
    assert_all_close(lb_back, la, N * p, 2e-12, 0);

    /* another bandwidth: the arrangement no longer fits, the answers do */
    double h2[3] = { 0.7 * c->h, 0.7 * c->h, 0.7 * c->h };
    assert_int_equal(nw_model_set_bandwidth(a, h2), NW_OK);
    assert_int_equal(nw_model_set_bandwidth(b, h2), NW_OK);
    assert_int_equal(nw_predict(a, q, c->m, ya, NULL), NW_OK);
    assert_int_equal(nw_predict(b, q, c->m, yb, NULL), NW_OK);
    assert_all_close(yb, ya, c->m * p, 2e-12, 0);

    nw_model_free(a);
    nw_model_free(b);
    free(x); free(y); free(q); free(ya); free(yb); free(la); free(lb); free(lb_back);
    free(ra); free(rb); free(by_rank); free(perm);
}

static const arrange_case cases[] = {
    { "1-d tricube lc, sweeps", 1, 1, NW_KERNEL_TRICUBE, NW_ESTIMATOR_CONSTANT, NW_ENGINE_SORTED, 0.3, M },
    { "1-d epanechnikov ll p = 2, sweeps", 1, 2, NW_KERNEL_EPANECHNIKOV, NW_ESTIMATOR_LINEAR, NW_ENGINE_SORTED, 0.2, 40 },
    { "2-d gaussian lc, fgt", 2, 1, NW_KERNEL_GAUSSIAN, NW_ESTIMATOR_CONSTANT, NW_ENGINE_FGT, 0.3, M },
    { "2-d gaussian lc, fgt, few queries", 2, 1, NW_KERNEL_GAUSSIAN, NW_ESTIMATOR_CONSTANT, NW_ENGINE_FGT, 0.1, 20 },
    { "2-d gaussian ll p = 2, fgt", 2, 2, NW_KERNEL_GAUSSIAN, NW_ESTIMATOR_LINEAR, NW_ENGINE_FGT, 0.4, M },
    { "2-d epanechnikov ll, tree", 2, 1, NW_KERNEL_EPANECHNIKOV, NW_ESTIMATOR_LINEAR, NW_ENGINE_TREE, 0.4, M },
    { "2-d laplace lc p = 2, tree", 2, 2, NW_KERNEL_LAPLACE, NW_ESTIMATOR_CONSTANT, NW_ENGINE_TREE, 0.3, M },
    { "3-d gaussian ll, tree", 3, 1, NW_KERNEL_GAUSSIAN, NW_ESTIMATOR_LINEAR, NW_ENGINE_TREE, 0.5, 300 },
    { "1-d laplace lc, dense (its sorted keys)", 1, 1, NW_KERNEL_LAPLACE, NW_ESTIMATOR_CONSTANT, NW_ENGINE_DENSE, 0.3, M },
    { "1-d gaussian ll, dense (its sorted keys)", 1, 1, NW_KERNEL_GAUSSIAN, NW_ESTIMATOR_LINEAR, NW_ENGINE_DENSE, 0.3, M },
};

static void test_engines(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("# %s\n", cases[i].name);
        check_case(&cases[i], 1);
    }
}

/* Outputs near the largest double: the model sums a scaled copy, which
 * must move with its points (else the predictions would mix points). */
static void test_huge_outputs(void **state)
{
    (void) state;
    check_case(&cases[0], 1e300);
    check_case(&cases[5], 1e300);
}

/* The 2-d dense engine's grid: its copy of the keys is left out (the keys
 * arranged by cell and read in place) only where it would pass the memory
 * budget, 16 MiB here: n = 8e5 points (19 MB of copy), 300 queries; the
 * predictions are the copy's bit for bit (the same sums in the same order,
 * read from the interleaved keys), f64 and f32. */
static void test_dense_grid_in_place(void **state)
{
    (void) state;
    enum { NB = 800000, MQ = 300 };
    double *x = malloc(NB * 2 * sizeof *x), *y = malloc(NB * sizeof *y), q[MQ * 2], ya[MQ], yb[MQ];
    assert_non_null(x);
    assert_non_null(y);
    make_data(NB, 2, 1, 1, 3, x, y);
    uint64_t s = 4;
    for (size_t j = 0; j < MQ * 2; j++) q[j] = -0.5 + 6 * nwt_unif(&s);
    for (int f32 = 0; f32 < 2; f32++) {
        nw_model *a = NULL, *b = NULL;
        const double h[2] = { 0.3, 0.3 };
        for (int i = 0; i < 2; i++) {
            nw_model **m = i ? &b : &a;
            assert_int_equal(nw_model_new(m, x, y, NB, 2, 1), NW_OK);
            assert_int_equal(nw_model_set_bandwidth(*m, h), NW_OK);
            assert_int_equal(nw_model_set_kernel(*m, NW_KERNEL_LAPLACE), NW_OK);
            assert_int_equal(nw_model_set_engine(*m, NW_ENGINE_DENSE), NW_OK);
            assert_int_equal(nw_model_set_precision(*m, f32 ? NW_PRECISION_F32 : NW_PRECISION_F64), NW_OK);
        }
        int moved = -1;
        assert_int_equal(nw_model_arrange(b, MQ, &moved), NW_OK);
        assert_int_equal(moved, 1);
        assert_int_equal(nw_model_arrange(b, MQ, &moved), NW_OK);
        assert_int_equal(moved, 0);
        assert_int_equal(nw_predict(a, q, MQ, ya, NULL), NW_OK);
        assert_int_equal(nw_predict(b, q, MQ, yb, NULL), NW_OK);
        assert_memory_equal(ya, yb, sizeof ya);
        /* n = 1e4: the copy (240 kB) stays, nothing moves */
        nw_model *small = NULL;
        assert_int_equal(nw_model_new(&small, x, y, 10000, 2, 1), NW_OK);
        assert_int_equal(nw_model_set_bandwidth(small, h), NW_OK);
        assert_int_equal(nw_model_set_kernel(small, NW_KERNEL_LAPLACE), NW_OK);
        assert_int_equal(nw_model_set_engine(small, NW_ENGINE_DENSE), NW_OK);
        assert_int_equal(nw_model_arrange(small, 10000, &moved), NW_OK);
        assert_int_equal(moved, 0);
        nw_model_free(small);
        nw_model_free(a);
        nw_model_free(b);
    }
    free(x);
    free(y);
}

/* The 2-d dense engine within the memory budget keeps its grid's copy:
 * nothing moves (as with a handful of pairs, where nothing is prepared);
 * an engine that does not apply and a NULL model leave the model as it
 * was. */
static void test_nothing_moves(void **state)
{
    (void) state;
    double x[N * 2], y[N];
    make_data(N, 2, 1, 1, 5, x, y);
    nw_model *m = NULL;
    double h[2] = { 0.3, 0.3 };
    assert_int_equal(nw_model_new(&m, x, y, N, 2, 1), NW_OK);
    assert_int_equal(nw_model_set_bandwidth(m, h), NW_OK);
    int moved = -1;
    assert_int_equal(nw_model_set_engine(m, NW_ENGINE_DENSE), NW_OK);
    assert_int_equal(nw_model_arrange(m, N, &moved), NW_OK);
    assert_int_equal(moved, 0);
    assert_memory_equal(nw_model_x(m), x, sizeof x);
    /* auto with a handful of pairs: the dense engine too */
    assert_int_equal(nw_model_set_engine(m, NW_ENGINE_AUTO), NW_OK);
    assert_int_equal(nw_model_arrange(m, 1, &moved), NW_OK);
    assert_int_equal(moved, 0);
    assert_memory_equal(nw_model_x(m), x, sizeof x);
    /* the sorted engine is 1-d only */
    assert_int_equal(nw_model_set_engine(m, NW_ENGINE_SORTED), NW_OK);
    moved = -1;
    assert_int_equal(nw_model_arrange(m, N, &moved), NW_ERR_ARG);
    assert_int_equal(moved, 0);
    assert_memory_equal(nw_model_x(m), x, sizeof x);
    assert_memory_equal(nw_model_y(m), y, sizeof y);
    assert_int_equal(nw_model_arrange(NULL, N, &moved), NW_ERR_ARG);
    nw_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engines),
        cmocka_unit_test(test_huge_outputs),
        cmocka_unit_test(test_dense_grid_in_place),
        cmocka_unit_test(test_nothing_moves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
