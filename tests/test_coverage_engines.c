/*
 * test_coverage_engines.c: the branches of the engine layer (engine.c,
 * engine_tree.c, and the engine-dependent parts of estimate.c) that the
 * per-engine tests leave out: the tree engine's query order for many 2-d
 * queries, refused engine kinds, and the per-thread scratch handed from
 * one engine to another.
 *
 * The reference is always the dense engine (exact): an approximate engine
 * must agree with it to the model's tolerance (1e-12 relative, the
 * default) plus the rounding of sums of up to n terms (RND relative to the
 * largest |y|).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "estimate.h"
#include "testutil.h"

#define TOL 1e-12
#define RND 1e-13

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static double uniform01(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double) (rng_state >> 11) * 0x1p-53;
}

/* n points uniform on [0, 10]^2 with y = sin(x1) + x2 / 4 + 2. */
static void make_data_2d(size_t n, double *x, double *y)
{
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = 10 * uniform01();
        x[2 * i + 1] = 10 * uniform01();
        y[i] = sin(x[2 * i]) + x[2 * i + 1] / 4 + 2;
    }
}

/* ------------------------------------------------- estimate.c: query order */

/* The tree engine visits >= 4096 queries of d >= 2 in a spatial order
 * (estimate.c, spatial_order: cells of 4 bandwidths, alternate rows
 * backwards); each prediction must still land in its own query's slot.
 * The queries: a 65 x 65 grid over [-1, 11]^2 (so that both ends of each
 * axis fall on the cell edges, rows of both parities, and queries outside
 * the data, where the Epanechnikov kernel leaves some empty: NaN in both
 * engines), in a scrambled order, plus a third input the kernel barely
 * weighs (h = 1e3) to make d = 3 > 2. */
static void test_tree_spatial_order(void **state)
{
    (void) state;
    enum { N = 400, G = 65, M = G * G };
    double *x = malloc(N * 3 * sizeof *x), *y = malloc(N * sizeof *y);
    double *x2 = malloc(N * 2 * sizeof *x2);
    double *q = malloc(M * 3 * sizeof *q), *yt = malloc(M * sizeof *yt), *yd = malloc(M * sizeof *yd);
    make_data_2d(N, x2, y);
    for (size_t i = 0; i < N; i++) {
        x[3 * i] = x2[2 * i];
        x[3 * i + 1] = x2[2 * i + 1];
        x[3 * i + 2] = uniform01();
    }
    size_t perm[M];
    for (size_t j = 0; j < M; j++) perm[j] = j;
    for (size_t j = M - 1; j > 0; j--) { /* Fisher-Yates */
        size_t k = (size_t) (uniform01() * (double) (j + 1)), t = perm[j];
        perm[j] = perm[k];
        perm[k] = t;
    }
    for (size_t j = 0; j < M; j++) {
        size_t g = perm[j];
        q[3 * j] = -1 + 12.0 * (double) (g % G) / (G - 1);
        q[3 * j + 1] = -1 + 12.0 * (double) (g / G) / (G - 1);
        q[3 * j + 2] = 0.5;
    }
    const double h[3] = { 0.7, 0.7, 1e3 };
    nw_model *mt = NULL, *md = NULL;
    assert_int_equal(nw_model_new(&mt, x, y, N, 3, 1), NW_OK);
    assert_int_equal(nw_model_new(&md, x, y, N, 3, 1), NW_OK);
    nw_model *both[2] = { mt, md };
    for (int i = 0; i < 2; i++) {
        assert_int_equal(nw_model_set_kernel(both[i], NW_KERNEL_EPANECHNIKOV), NW_OK);
        assert_int_equal(nw_model_set_bandwidth(both[i], h), NW_OK);
    }
    assert_int_equal(nw_model_set_engine(mt, NW_ENGINE_TREE), NW_OK);
    assert_int_equal(nw_model_set_engine(md, NW_ENGINE_DENSE), NW_OK);
    nw_run_info info;
    size_t et = 0, ed = 0;
    assert_int_equal(nw_predict_info(mt, q, M, yt, &et, &info), NW_OK);
    assert_int_equal(info.engine, NW_ENGINE_TREE);
    assert_int_equal(nw_predict(md, q, M, yd, &ed), NW_OK);
    assert_true(et > 0 && et < M / 2); /* the corners are empty, the middle not */
    assert_int_equal(et, ed);
    const double ymax = 2 + 1 + 10.0 / 4;
    for (size_t j = 0; j < M; j++) assert_close(yt[j], yd[j], TOL, RND * ymax);
    nw_model_free(mt);
    nw_model_free(md);
    free(x);
    free(x2);
    free(y);
    free(q);
    free(yt);
    free(yd);
}

/* ------------------------------------------------------------ engine.c */

/* Kinds out of range or that do not apply are refused with *out = NULL;
 * nw_engine_applies says no for them; freeing NULL is a no-op. */
static void test_engine_kinds_refused(void **state)
{
    (void) state;
    double x[4] = { 0, 1, 2, 3 }, y[4] = { 1, 2, 3, 4 }, w[2] = { 1, 1 };
    nw_problem pb1 = { .x = x, .y = y, .n = 4, .d = 1, .p = 1, .kernel = NW_KERNEL_GAUSSIAN, .w = w };
    nw_problem pb2 = { .x = x, .y = y, .n = 2, .d = 2, .p = 1, .kernel = NW_KERNEL_GAUSSIAN, .w = w };
    nw_engine *e = (nw_engine *) x; /* any non-NULL value: the call must reset it */
    assert_int_equal(nw_engine_new(&pb1, NW_ENGINE_COUNT, 1e-12, 10, &e), NW_ERR_ARG);
    assert_null(e);
    e = (nw_engine *) x;
    assert_int_equal(nw_engine_new(&pb1, (nw_engine_kind) -1, 1e-12, 10, &e), NW_ERR_ARG);
    assert_null(e);
    assert_false(nw_engine_applies(&pb1, NW_ENGINE_COUNT)); /* no such impl */
    assert_true(nw_engine_applies(&pb1, NW_ENGINE_AUTO));
    assert_true(nw_engine_applies(&pb1, NW_ENGINE_DENSE));
    /* the sorted engine is 1-d only */
    assert_false(nw_engine_applies(&pb2, NW_ENGINE_SORTED));
    e = (nw_engine *) x;
    assert_int_equal(nw_engine_new(&pb2, NW_ENGINE_SORTED, 1e-12, 10, &e), NW_ERR_ARG);
    assert_null(e);
    nw_engine_free(NULL);
}

/* mo's A[0] and B[0] against the dense engine's ref, on ref's logscale:
 * within mo's bounds (0 for an exact engine) plus RND of their size. */
static void check_against_dense(const nw_moments *mo, const nw_moments *ref)
{
    assert_false(isinf(ref->logscale));
    double f = exp(mo->logscale - ref->logscale);
    double ea = mo->approx ? f * mo->errA[0] : 0, eb = mo->approx ? f * mo->errB[0] : 0;
    assert_close(f * mo->A[0], ref->A[0], RND, ea);
    assert_close(f * mo->B[0], ref->B[0], RND, eb);
}

/* One thread's moments serve engine after engine: each engine that keeps
 * per-thread scratch in mo->scratch must replace another engine's scratch
 * (engine_fgt.c, engine_tree.c: get_scratch), and the tree's own when it
 * is too small for a larger tree, and then compute the right sums. */
static void test_scratch_passed_between_engines(void **state)
{
    (void) state;
    enum { N = 3000, SMALL = 40 };
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), w = 1 / 0.05;
    for (size_t i = 0; i < N; i++) {
        x[i] = 5 * uniform01();
        y[i] = 2 + sin(x[i]);
    }
    nw_problem small = { .x = x, .y = y, .n = SMALL, .d = 1, .p = 1,
                         .kernel = NW_KERNEL_GAUSSIAN, .w = &w };
    nw_problem big = small;
    big.n = N;
    nw_engine *tree_small = NULL, *tree_big = NULL, *fgt = NULL;
    assert_int_equal(nw_engine_new(&small, NW_ENGINE_TREE, TOL, 100, &tree_small), NW_OK);
    assert_int_equal(nw_engine_new(&big, NW_ENGINE_TREE, TOL, 100, &tree_big), NW_OK);
    assert_int_equal(nw_engine_new(&big, NW_ENGINE_FGT, TOL, 100, &fgt), NW_OK);
    nw_moments *mo = NULL, *ref = NULL;
    assert_int_equal(nw_moments_new(&big, &mo), NW_OK);
    assert_int_equal(nw_moments_new(&big, &ref), NW_OK);
    const nw_engine *order[] = { tree_small, tree_big, fgt, tree_small, fgt, tree_big };
    const double q = 2.5;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const nw_engine *e = order[i];
        nw_engine_moments(e, &q, NW_NO_SKIP, mo);
        nw_engine_dense(e->pb, &q, NW_NO_SKIP, ref);
        check_against_dense(mo, ref);
        assert_non_null(mo->scratch);
    }
    nw_moments_free(mo);
    nw_moments_free(ref);
    nw_engine_free(tree_small);
    nw_engine_free(tree_big);
    nw_engine_free(fgt);
    free(x);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_spatial_order),
        cmocka_unit_test(test_engine_kinds_refused),
        cmocka_unit_test(test_scratch_passed_between_engines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
