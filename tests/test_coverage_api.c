/*
 * test_coverage_api.c: every error path of the public API in nwreg.h that
 * does not involve files (those are in test_coverage_io.c), and the edge
 * branches of status.c, kernels.c, model.c, engine.c, estimate.c, loo.c,
 * train.c, select.c and synth.c that the other tests leave out.
 *
 * Each case checks what the header promises: the status, that an output
 * pointer is reset (*model = NULL, *n_empty = 0), that a model keeps its old
 * settings after a refused change, and the values computed, against closed
 * forms worked out by hand in the comments (exact comparisons where the
 * arithmetic is exact, else a stated tolerance).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "estimate.h"
#include "kernels.h"

/* A small 1-d model: x = 0, 1, ..., n-1 and y = x^2 (n <= 16). */
static nw_model *line_model(size_t n)
{
    double x[16], y[16];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++) { x[i] = (double) i; y[i] = (double) (i * i); }
    nw_model *m = NULL;
    assert_int_equal(nw_model_new(&m, x, y, n, 1, 1), NW_OK);
    return m;
}

/* The model from explicit data. */
static nw_model *model_of(const double *x, const double *y, size_t n, size_t d, size_t p)
{
    nw_model *m = NULL;
    assert_int_equal(nw_model_new(&m, x, y, n, d, p), NW_OK);
    assert_non_null(m);
    return m;
}

static double bandwidth0(const nw_model *m)
{
    double h[8];
    assert_int_equal(nw_model_bandwidth(m, h), NW_OK);
    return h[0];
}

/* A progress callback that counts its calls, remembers the last (done,
 * total), and asks to stop once it has been called stop_at times (0: never). */
typedef struct progress_log {
    int calls, stop_at;
    double done, total;
} progress_log;

static int log_progress(double done, double total, void *ctx)
{
    progress_log *p = ctx;
    p->calls++;
    p->done = done;
    p->total = total;
    return p->stop_at && p->calls >= p->stop_at;
}

/* ------------------------------------------------------------ status.c */

static void test_strerror_every_status(void **state)
{
    (void) state;
    /* one distinct sentence per status, "unknown status" outside the enum */
    const char *seen[NW_ERR_STOPPED + 1];
    for (int s = NW_OK; s <= NW_ERR_STOPPED; s++) {
        seen[s] = nw_strerror((nw_status) s);
        assert_non_null(seen[s]);
        assert_true(strlen(seen[s]) > 0);
        assert_string_not_equal(seen[s], "unknown status");
        for (int t = 0; t < s; t++) assert_string_not_equal(seen[s], seen[t]);
    }
    assert_string_equal(nw_strerror(NW_OK), "success");
    assert_string_equal(nw_strerror(NW_ERR_STOPPED), "stopped by callback");
    assert_string_equal(nw_strerror((nw_status) (NW_ERR_STOPPED + 1)), "unknown status");
    assert_string_equal(nw_strerror((nw_status) -1), "unknown status");
}

/* ----------------------------------------------------------- kernels.c */

static void test_names_and_parsers(void **state)
{
    (void) state;
    nw_kernel k = NW_KERNEL_LAPLACE;
    for (int i = 0; i < NW_KERNEL_COUNT; i++) {
        const char *name = nw_kernel_name((nw_kernel) i);
        assert_non_null(name);
        assert_int_equal(nw_kernel_from_name(name, &k), NW_OK);
        assert_int_equal(k, i);
    }
    assert_null(nw_kernel_name(NW_KERNEL_COUNT));
    assert_null(nw_kernel_name((nw_kernel) -1));
    k = NW_KERNEL_COSINE;
    /* exact and lower case only; *kernel unchanged on failure */
    assert_int_equal(nw_kernel_from_name("Gaussian", &k), NW_ERR_ARG);
    assert_int_equal(nw_kernel_from_name("gauss", &k), NW_ERR_ARG);
    assert_int_equal(nw_kernel_from_name("", &k), NW_ERR_ARG);
    assert_int_equal(k, NW_KERNEL_COSINE);
    assert_int_equal(nw_kernel_from_name(NULL, &k), NW_ERR_ARG);
    assert_int_equal(nw_kernel_from_name("gaussian", NULL), NW_ERR_ARG);

    nw_estimator e = NW_ESTIMATOR_LINEAR;
    assert_string_equal(nw_estimator_name(NW_ESTIMATOR_CONSTANT), "lc");
    assert_string_equal(nw_estimator_name(NW_ESTIMATOR_LINEAR), "ll");
    assert_null(nw_estimator_name(NW_ESTIMATOR_COUNT));
    assert_null(nw_estimator_name((nw_estimator) -1));
    const char *constant[] = { "lc", "constant", "nw" }, *linear[] = { "ll", "linear" };
    for (int i = 0; i < 3; i++) {
        e = NW_ESTIMATOR_LINEAR;
        assert_int_equal(nw_estimator_from_name(constant[i], &e), NW_OK);
        assert_int_equal(e, NW_ESTIMATOR_CONSTANT);
    }
    for (int i = 0; i < 2; i++) {
        e = NW_ESTIMATOR_CONSTANT;
        assert_int_equal(nw_estimator_from_name(linear[i], &e), NW_OK);
        assert_int_equal(e, NW_ESTIMATOR_LINEAR);
    }
    assert_int_equal(nw_estimator_from_name("LC", &e), NW_ERR_ARG);
    assert_int_equal(nw_estimator_from_name("local-linear", &e), NW_ERR_ARG);
    assert_int_equal(e, NW_ESTIMATOR_LINEAR);
    assert_int_equal(nw_estimator_from_name(NULL, &e), NW_ERR_ARG);
    assert_int_equal(nw_estimator_from_name("ll", NULL), NW_ERR_ARG);

    const char *engines[] = { "auto", "dense", "sorted", "tree", "fgt" };
    nw_engine_kind g = NW_ENGINE_FGT;
    for (int i = 0; i < NW_ENGINE_COUNT; i++) {
        assert_string_equal(nw_engine_name((nw_engine_kind) i), engines[i]);
        assert_int_equal(nw_engine_from_name(engines[i], &g), NW_OK);
        assert_int_equal(g, i);
    }
    assert_null(nw_engine_name(NW_ENGINE_COUNT));
    assert_null(nw_engine_name((nw_engine_kind) -1));
    g = NW_ENGINE_TREE;
    assert_int_equal(nw_engine_from_name("Dense", &g), NW_ERR_ARG);
    assert_int_equal(nw_engine_from_name("kd-tree", &g), NW_ERR_ARG);
    assert_int_equal(g, NW_ENGINE_TREE);
    assert_int_equal(nw_engine_from_name(NULL, &g), NW_ERR_ARG);
    assert_int_equal(nw_engine_from_name("dense", NULL), NW_ERR_ARG);
}

/* The inline kernel functions of kernels.h answer NaN for a kernel outside
 * the enum rather than a made-up weight, and so does nw_kernel_eval. */
static void test_kernel_out_of_range_is_nan(void **state)
{
    (void) state;
    assert_true(isnan(kernel_value(NW_KERNEL_COUNT, 0.5)));
    assert_true(isnan(kernel_rho(NW_KERNEL_COUNT, 0.5)));
    assert_true(isnan(nw_kernel_eval(NW_KERNEL_COUNT, 0.5)));
    /* rho at and beyond the edge of a compact support is 0 (K = 0 there) */
    for (int k = 0; k < NW_KERNEL_COUNT; k++) {
        if (kernel_is_log((nw_kernel) k)) continue;
        assert_true(kernel_rho((nw_kernel) k, 1.0) == 0);
        assert_true(kernel_rho((nw_kernel) k, -3.0) == 0);
        assert_true(kernel_value((nw_kernel) k, 1.5) == 0);
    }
    /* the log kernels through kernel_value: K(2) = e^-2 (Gaussian), e^-2 (Laplace) */
    assert_close(kernel_value(NW_KERNEL_GAUSSIAN, 2.0), exp(-2.0), 1e-15, 0);
    assert_close(kernel_value(NW_KERNEL_LAPLACE, -2.0), exp(-2.0), 1e-15, 0);
}

/* ------------------------------------------------------------- model.c */

static void test_model_new_errors(void **state)
{
    (void) state;
    double x[2] = { 0, 1 }, y[2] = { 2, 3 }, bad[2] = { 0, INFINITY };
    nw_model *m = (nw_model *) x; /* any non-NULL value: a failure must reset it */
    assert_int_equal(nw_model_new(NULL, x, y, 2, 1, 1), NW_ERR_ARG);
    assert_int_equal(nw_model_new(&m, x, y, 2, 1, 0), NW_ERR_EMPTY);
    assert_null(m);
    m = (nw_model *) x;
    assert_int_equal(nw_model_new(&m, x, NULL, 2, 1, 1), NW_ERR_ARG);
    assert_null(m);
    assert_int_equal(nw_model_new(&m, x, bad, 2, 1, 1), NW_ERR_NONFINITE);
    bad[1] = -INFINITY;
    assert_int_equal(nw_model_new(&m, bad, y, 2, 1, 1), NW_ERR_NONFINITE);
    assert_null(m);
    /* n (d or p) doubles would not fit in size_t: refused before x is read */
    m = (nw_model *) x;
    assert_int_equal(nw_model_new(&m, x, y, SIZE_MAX / 16 + 1, 2, 1), NW_ERR_NOMEM);
    assert_null(m);
    assert_int_equal(nw_model_new(&m, x, y, SIZE_MAX / 16 + 1, 1, 2), NW_ERR_NOMEM);

    /* the model copies: changing the caller's arrays changes nothing */
    assert_int_equal(nw_model_new(&m, x, y, 2, 1, 1), NW_OK);
    x[0] = 42;
    y[0] = 42;
    assert_true(nw_model_x(m)[0] == 0 && nw_model_y(m)[0] == 2);
    assert_true(nw_model_x(m) != x && nw_model_y(m) != y);
    nw_model_free(m);
}

static void test_model_setters_refuse_and_keep(void **state)
{
    (void) state;
    /* NULL models: sizes 0, views NULL, every setter NW_ERR_ARG */
    assert_int_equal(nw_model_n(NULL), 0);
    assert_int_equal(nw_model_d(NULL), 0);
    assert_int_equal(nw_model_p(NULL), 0);
    assert_null(nw_model_x(NULL));
    assert_null(nw_model_y(NULL));
    assert_null(nw_model_x_name(NULL, 0));
    assert_null(nw_model_y_name(NULL, 0));
    double h1 = 1, hh[1];
    assert_int_equal(nw_model_set_kernel(NULL, NW_KERNEL_GAUSSIAN), NW_ERR_ARG);
    assert_int_equal(nw_model_set_estimator(NULL, NW_ESTIMATOR_CONSTANT), NW_ERR_ARG);
    assert_int_equal(nw_model_set_empty_policy(NULL, NW_EMPTY_NAN), NW_ERR_ARG);
    assert_int_equal(nw_model_set_threads(NULL, 1), NW_ERR_ARG);
    assert_int_equal(nw_model_set_engine(NULL, NW_ENGINE_DENSE), NW_ERR_ARG);
    assert_int_equal(nw_model_set_tolerance(NULL, 1e-6), NW_ERR_ARG);
    assert_int_equal(nw_model_set_precision(NULL, NW_PRECISION_F64), NW_ERR_ARG);
    assert_int_equal(nw_model_set_progress(NULL, NULL, NULL), NW_ERR_ARG);
    assert_int_equal(nw_model_set_bandwidth(NULL, &h1), NW_ERR_ARG);
    assert_int_equal(nw_model_bandwidth(NULL, hh), NW_ERR_ARG);
    assert_int_equal(nw_model_set_scale(NULL, &h1), NW_ERR_ARG);
    assert_int_equal(nw_model_set_names(NULL, NULL, NULL), NW_ERR_ARG);

    nw_model *m = line_model(4);
    /* the documented defaults */
    assert_int_equal(nw_model_kernel(m), NW_KERNEL_GAUSSIAN);
    assert_int_equal(nw_model_estimator(m), NW_ESTIMATOR_CONSTANT);
    assert_int_equal(nw_model_empty_policy(m), NW_EMPTY_NAN);
    assert_int_equal(nw_model_engine(m), NW_ENGINE_AUTO);
    assert_int_equal(nw_model_precision(m), NW_PRECISION_F64);
    assert_true(nw_model_tolerance(m) == 1e-12);
    assert_true(bandwidth0(m) == 1.0);
    assert_null(nw_model_x_name(m, 0));

    /* set a non-default value, then refuse bad ones: the value stays */
    assert_int_equal(nw_model_set_kernel(m, NW_KERNEL_TRICUBE), NW_OK);
    assert_int_equal(nw_model_set_kernel(m, NW_KERNEL_COUNT), NW_ERR_ARG);
    assert_int_equal(nw_model_set_kernel(m, (nw_kernel) -1), NW_ERR_ARG);
    assert_int_equal(nw_model_kernel(m), NW_KERNEL_TRICUBE);
    assert_int_equal(nw_model_set_estimator(m, NW_ESTIMATOR_LINEAR), NW_OK);
    assert_int_equal(nw_model_set_estimator(m, NW_ESTIMATOR_COUNT), NW_ERR_ARG);
    assert_int_equal(nw_model_estimator(m), NW_ESTIMATOR_LINEAR);
    assert_int_equal(nw_model_set_empty_policy(m, NW_EMPTY_NEAREST), NW_OK);
    assert_int_equal(nw_model_set_empty_policy(m, (nw_empty_policy) 2), NW_ERR_ARG);
    assert_int_equal(nw_model_set_empty_policy(m, (nw_empty_policy) -1), NW_ERR_ARG);
    assert_int_equal(nw_model_empty_policy(m), NW_EMPTY_NEAREST);
    assert_int_equal(nw_model_set_threads(m, 0), NW_OK);
    assert_int_equal(nw_model_set_threads(m, 3), NW_OK);
    assert_int_equal(nw_model_set_threads(m, -1), NW_ERR_ARG);
    assert_int_equal(nw_model_set_engine(m, NW_ENGINE_TREE), NW_OK);
    assert_int_equal(nw_model_set_engine(m, NW_ENGINE_COUNT), NW_ERR_ARG);
    assert_int_equal(nw_model_set_engine(m, (nw_engine_kind) -1), NW_ERR_ARG);
    assert_int_equal(nw_model_engine(m), NW_ENGINE_TREE);
    /* tolerance: [1e-15, 1e-2], both ends included */
    assert_int_equal(nw_model_set_tolerance(m, 1e-15), NW_OK);
    assert_true(nw_model_tolerance(m) == 1e-15);
    assert_int_equal(nw_model_set_tolerance(m, 1e-2), NW_OK);
    double refused_tol[] = { 9e-16, 0.0100001, 0, -1e-6, NAN, INFINITY };
    for (size_t i = 0; i < sizeof refused_tol / sizeof *refused_tol; i++)
        assert_int_equal(nw_model_set_tolerance(m, refused_tol[i]), NW_ERR_ARG);
    assert_true(nw_model_tolerance(m) == 1e-2);
    assert_int_equal(nw_model_set_precision(m, NW_PRECISION_F32), NW_OK);
    assert_int_equal(nw_model_set_precision(m, (nw_precision) 2), NW_ERR_ARG);
    assert_int_equal(nw_model_set_precision(m, (nw_precision) -1), NW_ERR_ARG);
    assert_int_equal(nw_model_precision(m), NW_PRECISION_F32);
    progress_log log = { 0 };
    assert_int_equal(nw_model_set_progress(m, log_progress, &log), NW_OK);
    assert_int_equal(nw_model_set_progress(m, NULL, NULL), NW_OK);

    /* bandwidths: finite, > 0, and 1/h finite (a subnormal h is refused) */
    double h = 0.5;
    assert_int_equal(nw_model_set_bandwidth(m, &h), NW_OK);
    assert_int_equal(nw_model_set_bandwidth(m, NULL), NW_ERR_ARG);
    assert_int_equal(nw_model_bandwidth(m, NULL), NW_ERR_ARG);
    double refused_h[] = { 0, -0.0, -1, NAN, INFINITY, -INFINITY, 1e-310 };
    for (size_t i = 0; i < sizeof refused_h / sizeof *refused_h; i++)
        assert_int_equal(nw_model_set_bandwidth(m, &refused_h[i]), NW_ERR_BANDWIDTH);
    h = DBL_MIN; /* the smallest normal: 1/h = 2^1022 is finite */
    assert_int_equal(nw_model_set_bandwidth(m, &h), NW_OK);
    assert_true(bandwidth0(m) == DBL_MIN);
    h = 0.5;
    assert_int_equal(nw_model_set_bandwidth(m, &h), NW_OK);
    /* scales: h = 1/|w|; 0, non-finite and w whose 1/|w| overflows refused */
    assert_int_equal(nw_model_set_scale(m, NULL), NW_ERR_ARG);
    double refused_w[] = { 0, -0.0, NAN, INFINITY, -INFINITY, 1e-310, -1e-310 };
    for (size_t i = 0; i < sizeof refused_w / sizeof *refused_w; i++)
        assert_int_equal(nw_model_set_scale(m, &refused_w[i]), NW_ERR_BANDWIDTH);
    assert_true(bandwidth0(m) == 0.5);
    double w = -4;
    assert_int_equal(nw_model_set_scale(m, &w), NW_OK);
    assert_true(bandwidth0(m) == 0.25);
    nw_model_free(m);

    /* d = 2: one bad value refuses the whole vector (all or nothing) */
    double x2[4] = { 0, 0, 1, 1 }, y2[2] = { 0, 1 };
    m = model_of(x2, y2, 2, 2, 1);
    double hb[2] = { 2, -1 }, got[2];
    assert_int_equal(nw_model_set_bandwidth(m, hb), NW_ERR_BANDWIDTH);
    double wb[2] = { 4, 0 };
    assert_int_equal(nw_model_set_scale(m, wb), NW_ERR_BANDWIDTH);
    assert_int_equal(nw_model_bandwidth(m, got), NW_OK);
    assert_true(got[0] == 1 && got[1] == 1);
    nw_model_free(m);
}

static void test_model_names(void **state)
{
    (void) state;
    double x[4] = { 0, 0, 1, 1 }, y[4] = { 0, 1, 2, 3 };
    nw_model *m = model_of(x, y, 2, 2, 2);
    char buf[8] = "alpha";
    const char *xn[2] = { buf, NULL }, *yn[2] = { "u", "v" };
    assert_int_equal(nw_model_set_names(m, xn, NULL), NW_OK);
    strcpy(buf, "beta"); /* copied: the model keeps "alpha" */
    assert_string_equal(nw_model_x_name(m, 0), "alpha");
    assert_string_equal(nw_model_x_name(m, 1), ""); /* a NULL entry is stored as "" */
    assert_null(nw_model_x_name(m, 2));             /* out of range */
    assert_null(nw_model_y_name(m, 0));             /* y names not given */
    assert_int_equal(nw_model_set_names(m, NULL, yn), NW_OK);
    assert_null(nw_model_x_name(m, 0));             /* replaced by none */
    assert_string_equal(nw_model_y_name(m, 1), "v");
    assert_null(nw_model_y_name(m, 2));
    assert_int_equal(nw_model_set_names(m, NULL, NULL), NW_OK);
    assert_null(nw_model_y_name(m, 0));
    nw_model_free(m);
}

/* ---------------------------------------------- estimate.c and engine.c */

static void test_predict_errors(void **state)
{
    (void) state;
    nw_model *m = line_model(5);
    double q[2] = { 0.5, 1.5 }, out[2] = { -1, -1 };
    size_t n_empty = 99;
    nw_run_info info;
    memset(&info, 0xff, sizeof info);
    assert_int_equal(nw_predict_info(NULL, q, 2, out, &n_empty, &info), NW_ERR_ARG);
    /* *n_empty and *info are reset even when the call fails */
    assert_int_equal(n_empty, 0);
    assert_int_equal(info.exact_fallbacks, 0);
    assert_true(info.seconds == 0 && info.error_bound == 0);
    assert_int_equal(nw_predict(m, NULL, 2, out, NULL), NW_ERR_ARG);
    assert_int_equal(nw_predict(m, q, 2, NULL, NULL), NW_ERR_ARG);
    assert_int_equal(nw_predict(m, NULL, 0, NULL, &n_empty), NW_OK); /* m = 0: nothing */
    q[1] = NAN;
    assert_int_equal(nw_predict(m, q, 2, out, NULL), NW_ERR_NONFINITE);
    q[1] = -INFINITY;
    assert_int_equal(nw_predict(m, q, 2, out, NULL), NW_ERR_NONFINITE);
    q[1] = 1.5;

    /* an engine that does not apply: fgt needs the Gaussian kernel */
    assert_int_equal(nw_model_engine_applies(NULL), NW_ERR_ARG);
    assert_int_equal(nw_model_engine_applies(m), NW_OK); /* AUTO */
    assert_int_equal(nw_model_set_kernel(m, NW_KERNEL_EPANECHNIKOV), NW_OK);
    assert_int_equal(nw_model_set_engine(m, NW_ENGINE_FGT), NW_OK);
    assert_int_equal(nw_model_engine_applies(m), NW_ERR_ARG);
    assert_int_equal(nw_predict(m, q, 2, out, NULL), NW_ERR_ARG);
    assert_int_equal(nw_model_set_kernel(m, NW_KERNEL_GAUSSIAN), NW_OK);
    assert_int_equal(nw_model_engine_applies(m), NW_OK);
    assert_int_equal(nw_model_set_precision(m, NW_PRECISION_F32), NW_OK);
    /* AUTO in f32 is the dense engine, with the measured f32 error bound */
    assert_int_equal(nw_model_set_engine(m, NW_ENGINE_AUTO), NW_OK);
    assert_int_equal(nw_predict_info(m, q, 2, out, &n_empty, &info), NW_OK);
    assert_int_equal(info.engine, NW_ENGINE_DENSE);
    assert_true(info.error_bound == NW_F32_ERROR_BOUND);
    assert_int_equal(info.certified, 0);
    assert_int_equal(info.exact_fallbacks, 0);
    assert_true(info.seconds >= 0);
    /* yhat(0.5) with h = 1: weights e^{-(0.5 - i)^2/2}, y = i^2, float sums */
    double num = 0, den = 0;
    for (int i = 0; i < 5; i++) {
        double k = exp(-0.5 * (0.5 - i) * (0.5 - i));
        num += k * i * i;
        den += k;
    }
    assert_close(out[0], num / den, 1e-5, 0);
    nw_model_free(m);

    /* fgt needs d <= 2 */
    double x3[6] = { 0, 0, 1, 1, 0, 1 }, y3[2] = { 1, 2 }, q3[3] = { 0.5, 0.5, 0.5 };
    m = model_of(x3, y3, 2, 3, 1);
    assert_int_equal(nw_model_set_engine(m, NW_ENGINE_FGT), NW_OK);
    assert_int_equal(nw_model_engine_applies(m), NW_ERR_ARG);
    assert_int_equal(nw_predict(m, q3, 1, out, NULL), NW_ERR_ARG);
    nw_model_free(m);

    /* sorted needs d = 1 */
    double x2[6] = { 0, 0, 1, 0, 0, 1 }, y2[3] = { 1, 2, 3 }, q2[2] = { 0.5, 0.5 };
    m = model_of(x2, y2, 3, 2, 1);
    assert_int_equal(nw_model_set_engine(m, NW_ENGINE_TREE), NW_OK);
    assert_int_equal(nw_model_engine_applies(m), NW_OK);
    assert_int_equal(nw_model_set_engine(m, NW_ENGINE_SORTED), NW_OK);
    assert_int_equal(nw_model_engine_applies(m), NW_ERR_ARG);
    assert_int_equal(nw_predict(m, q2, 1, out, NULL), NW_ERR_ARG);
    /* ... and so does every pass over the training points */
    assert_int_equal(nw_loo_predict(m, out, NULL), NW_ERR_ARG);
    double loss;
    assert_int_equal(nw_loo_loss(m, NULL, &loss, NULL, NULL), NW_ERR_ARG);
    assert_int_equal(nw_criterion_eval(m, NW_CRITERION_AICC, NULL, &loss, NULL), NW_ERR_ARG);
    nw_model_free(m);
}

/* AUTO with few (query, key) pairs is the dense engine, with many a fast
 * one (the cheapest by the cost model): both give the same predictions to
 * the model's tolerance. */
static void test_auto_engine_choice(void **state)
{
    (void) state;
    enum { N = 1000, M = 400 }; /* N M = 4e5 pairs, above the dense-only limit */
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    double *q = malloc(M * sizeof *q), *fast = malloc(M * sizeof *fast), *exact = malloc(M * sizeof *exact);
    assert_int_equal(nw_generate(7, N, x, y), NW_OK);
    for (int j = 0; j < M; j++) q[j] = 5.0 * j / M;
    nw_model *m = model_of(x, y, N, 1, 1);
    double h = 0.3;
    assert_int_equal(nw_model_set_bandwidth(m, &h), NW_OK);
    nw_run_info info;
    assert_int_equal(nw_predict_info(m, q, 2, exact, NULL, &info), NW_OK);
    assert_int_equal(info.engine, NW_ENGINE_DENSE); /* 2000 pairs */
    assert_int_equal(nw_predict_info(m, q, M, fast, NULL, &info), NW_OK);
    assert_int_not_equal(info.engine, NW_ENGINE_DENSE);
    assert_int_not_equal(info.engine, NW_ENGINE_AUTO);
    assert_true(info.error_bound <= 1e-12);
    assert_int_equal(nw_model_set_engine(m, NW_ENGINE_DENSE), NW_OK);
    assert_int_equal(nw_predict_info(m, q, M, exact, NULL, &info), NW_OK);
    assert_int_equal(info.engine, NW_ENGINE_DENSE);
    assert_true(info.error_bound == 0);
    assert_int_equal(info.certified, 1);
    /* tolerance 1e-12 relative, plus rounding of the dense sums (~1e-14) */
    assert_all_close(fast, exact, M, 1e-12 + 1e-13, 0);
    nw_model_free(m);
    free(x); free(y); free(q); free(fast); free(exact);
}

/* A progress callback that asks to stop makes every long call return
 * NW_ERR_STOPPED and leaves the model's bandwidths unchanged. */
static void test_progress_stops_every_call(void **state)
{
    (void) state;
    nw_model *m = line_model(8);
    double h = 0.75, q[3] = { 0.5, 1.5, 2.5 }, out[8], loss, grad[1];
    assert_int_equal(nw_model_set_bandwidth(m, &h), NW_OK);

    /* without a stop: predict reports (m, m) once for a small m */
    progress_log log = { 0 };
    assert_int_equal(nw_model_set_progress(m, log_progress, &log), NW_OK);
    assert_int_equal(nw_predict(m, q, 3, out, NULL), NW_OK);
    assert_int_equal(log.calls, 1);
    assert_true(log.done == 3 && log.total == 3);
    /* leave-one-out: blocks of points, done counts up to total = n = 8 */
    log = (progress_log) { 0 };
    assert_int_equal(nw_loo_predict(m, out, NULL), NW_OK);
    /* 8 blocks of one point, serial for so little work: 8 reports, the last (8, 8) */
    assert_int_equal(log.calls, 8);
    assert_true(log.done == 8 && log.total == 8);

    log = (progress_log) { .stop_at = 1 };
    assert_int_equal(nw_predict(m, q, 3, out, NULL), NW_ERR_STOPPED);
    log = (progress_log) { .stop_at = 1 };
    assert_int_equal(nw_loo_predict(m, out, NULL), NW_ERR_STOPPED);
    log = (progress_log) { .stop_at = 1 };
    assert_int_equal(nw_loo_loss(m, NULL, &loss, grad, NULL), NW_ERR_STOPPED);
    log = (progress_log) { .stop_at = 2 };
    assert_int_equal(nw_train(m, NULL, NULL, NULL), NW_ERR_STOPPED);
    assert_int_equal(log.calls, 2);
    assert_true(log.done == 2 && log.total == 5); /* epoch 2 of the default 5 */
    assert_true(bandwidth0(m) == 0.75);
    log = (progress_log) { .stop_at = 3 };
    assert_int_equal(nw_select_bandwidth(m, NW_CRITERION_LOO, NULL, NULL), NW_ERR_STOPPED);
    assert_int_equal(log.calls, 3);
    assert_true(log.done == 3 && log.total > 3);
    assert_true(bandwidth0(m) == 0.75);
    /* d > 1 selection stops too */
    double x2[12], y2[6];
    for (int i = 0; i < 6; i++) { x2[2 * i] = i; x2[2 * i + 1] = (i * 7) % 6; y2[i] = i % 3; }
    nw_model *m2 = model_of(x2, y2, 6, 2, 1);
    log = (progress_log) { .stop_at = 5 };
    assert_int_equal(nw_model_set_progress(m2, log_progress, &log), NW_OK);
    assert_int_equal(nw_select_bandwidth(m2, NW_CRITERION_AICC, NULL, NULL), NW_ERR_STOPPED);
    assert_int_equal(log.calls, 5);
    nw_model_free(m2);
    nw_model_free(m);
}

/* The attention matrix: argument errors, and rows where every weight is
 * zero (a compact kernel's empty window, or Gaussian scores that overflow). */
static void test_attention_edges(void **state)
{
    (void) state;
    double x[4] = { 0, 1, 1, 3 }, y[4] = { 10, 20, 30, 40 }, q[2] = { 1.2, 10 }, a[8];
    nw_model *m = model_of(x, y, 4, 1, 1);
    assert_int_equal(nw_attention(NULL, q, 1, a), NW_ERR_ARG);
    assert_int_equal(nw_attention(m, NULL, 1, a), NW_ERR_ARG);
    assert_int_equal(nw_attention(m, q, 1, NULL), NW_ERR_ARG);
    assert_int_equal(nw_attention(m, NULL, 0, NULL), NW_OK);
    double bad = NAN;
    assert_int_equal(nw_attention(m, &bad, 1, a), NW_ERR_NONFINITE);

    /* w = 1e300: u = 0.2e300 squares to +inf, every Gaussian score is -inf:
     * the row is spread over the nearest points, the two at x = 1 */
    double w = 1e300;
    assert_int_equal(nw_model_set_scale(m, &w), NW_OK);
    assert_int_equal(nw_attention(m, q, 1, a), NW_OK);
    const double tie[4] = { 0, 0.5, 0.5, 0 };
    assert_memory_equal(a, tie, sizeof tie);
    /* the prediction there is the nearest points' mean, (20 + 30) / 2 */
    double out[2];
    assert_int_equal(nw_predict(m, q, 1, out, NULL), NW_OK);
    assert_true(out[0] == 25);
    /* Laplace: scores -|u| stay finite; the nearest pair shares the weight */
    assert_int_equal(nw_model_set_kernel(m, NW_KERNEL_LAPLACE), NW_OK);
    assert_int_equal(nw_attention(m, q, 1, a), NW_OK);
    assert_memory_equal(a, tie, sizeof tie);

    /* uniform, h = 1: query 10 has no point within 1 */
    double h = 1;
    assert_int_equal(nw_model_set_bandwidth(m, &h), NW_OK);
    assert_int_equal(nw_model_set_kernel(m, NW_KERNEL_UNIFORM), NW_OK);
    assert_int_equal(nw_attention(m, q, 2, a), NW_OK);
    /* query 1.2: x = 0 is 1.2 away (out), x = 1 twice in, x = 3 out */
    assert_memory_equal(a, tie, sizeof tie);
    for (int i = 4; i < 8; i++) assert_true(isnan(a[i]));
    size_t n_empty = 0;
    assert_int_equal(nw_predict(m, q, 2, out, &n_empty), NW_OK);
    assert_int_equal(n_empty, 1);
    assert_true(out[0] == 25 && isnan(out[1]));
    assert_int_equal(nw_model_set_empty_policy(m, NW_EMPTY_NEAREST), NW_OK);
    assert_int_equal(nw_attention(m, q + 1, 1, a), NW_OK);
    const double last[4] = { 0, 0, 0, 1 };
    assert_memory_equal(a, last, sizeof last);
    assert_int_equal(nw_predict(m, q, 2, out, &n_empty), NW_OK);
    assert_int_equal(n_empty, 1); /* still counted, now given the nearest value */
    assert_true(out[0] == 25 && out[1] == 40);
    nw_model_free(m);
}

static void test_baseline(void **state)
{
    (void) state;
    double x[3] = { 0, 1, 2 }, y[6] = { 1, -1, 2, -2, 6, -6 }, mean[2];
    nw_model *m = model_of(x, y, 3, 1, 2);
    assert_int_equal(nw_baseline(NULL, mean), NW_ERR_ARG);
    assert_int_equal(nw_baseline(m, NULL), NW_ERR_ARG);
    assert_int_equal(nw_baseline(m, mean), NW_OK);
    assert_true(mean[0] == 3 && mean[1] == -3);
    nw_model_free(m);
}

/* Outputs near the largest double: the sums run on y 2^-y_exp (internal.h)
 * and every result is scaled back, so nothing overflows. */
static void test_huge_outputs(void **state)
{
    (void) state;
    const double big = 1.5e308;
    double x[4] = { 0, 1, 2, 3 }, y[4] = { big, big, -big, big }, mean, out[4], q = 0.5;
    nw_model *m = model_of(x, y, 4, 1, 1);
    /* baseline: (3 big - big) / 4 = big / 2 (would overflow as a plain sum) */
    assert_int_equal(nw_baseline(m, &mean), NW_OK);
    assert_close(mean, big / 2, 1e-15, 0);
    /* far query with w = 1e300 (every weight underflows): the nearest value */
    double w = 1e300;
    assert_int_equal(nw_model_set_scale(m, &w), NW_OK);
    assert_int_equal(nw_predict(m, &q, 1, out, NULL), NW_OK);
    assert_true(out[0] == big); /* x = 0 and x = 1 tie, both big */
    /* h = 0.5: predictions are weighted means of +-big, finite */
    double h = 0.5;
    assert_int_equal(nw_model_set_bandwidth(m, &h), NW_OK);
    assert_int_equal(nw_predict(m, &q, 1, out, NULL), NW_OK);
    double e1 = exp(-0.5), e2 = exp(-0.5 * 9), e3 = exp(-0.5 * 25); /* u = 1, 3, 5 */
    double expect = big * (e1 + e1 - e2 + e3) / (e1 + e1 + e2 + e3);
    assert_close(out[0], expect, 1e-14, 0);
    /* leave-one-out at x = 0: points 1, 2, 3 at u = 2, 4, 6 */
    assert_int_equal(nw_loo_predict(m, out, NULL), NW_OK);
    double k1 = exp(-2), k2 = exp(-8), k3 = exp(-18);
    assert_close(out[0], big * (k1 - k2 + k3) / (k1 + k2 + k3), 1e-14, 0);
    for (int i = 0; i < 4; i++) assert_true(isfinite(out[i]));
    nw_model_free(m);
}

/* Each output column has its own scale (internal.h): a column of values
 * near 1e300 leaves a column near 1e-300 alone.  Before, one exponent for
 * every column sent the small one below 2^-1074, and its predictions came
 * out 0 (found by fuzz_model: fuzz/regressions/model/column-scales.bin).
 * Each column must match a model holding it alone, through every path:
 * Gaussian and Epanechnikov (sorted sweeps), lc and ll, predictions,
 * leave-one-out and the in-sample fit. */
static void test_column_scales(void **state)
{
    (void) state;
    enum { N = 9 };
    double x[N], y[2 * N], ysmall[N], ybig[N], q[3] = { 0.3, 2.5, 7.9 };
    for (int i = 0; i < N; i++) {
        x[i] = i + 0.1 * (i % 3);
        ysmall[i] = y[2 * i] = 1e-300 * (1 + 0.37 * i) * (i % 2 ? -1 : 1.5);
        ybig[i] = y[2 * i + 1] = 1e300 * (2 - 0.21 * i);
    }
    nw_model *both = model_of(x, y, N, 1, 2), *small = model_of(x, ysmall, N, 1, 1),
             *big = model_of(x, ybig, N, 1, 1);
    nw_model *models[3] = { both, small, big };
    const nw_kernel kernels[2] = { NW_KERNEL_GAUSSIAN, NW_KERNEL_EPANECHNIKOV };
    const nw_estimator ests[2] = { NW_ESTIMATOR_CONSTANT, NW_ESTIMATOR_LINEAR };
    double h = 1.7;
    for (int k = 0; k < 2; k++)
        for (int e = 0; e < 2; e++) {
            for (int j = 0; j < 3; j++) {
                assert_int_equal(nw_model_set_kernel(models[j], kernels[k]), NW_OK);
                assert_int_equal(nw_model_set_estimator(models[j], ests[e]), NW_OK);
                assert_int_equal(nw_model_set_bandwidth(models[j], &h), NW_OK);
            }
            for (int path = 0; path < 3; path++) {
                double o2[2 * N], o_small[N], o_big[N];
                size_t m = path == 0 ? 3 : N;
                nw_run_info info;
                if (path == 0) {
                    assert_int_equal(nw_predict_info(both, q, 3, o2, NULL, &info), NW_OK);
                    assert_true(info.certified);
                    assert_int_equal(nw_predict(small, q, 3, o_small, NULL), NW_OK);
                    assert_int_equal(nw_predict(big, q, 3, o_big, NULL), NW_OK);
                } else if (path == 1) {
                    assert_int_equal(nw_loo_predict(both, o2, NULL), NW_OK);
                    assert_int_equal(nw_loo_predict(small, o_small, NULL), NW_OK);
                    assert_int_equal(nw_loo_predict(big, o_big, NULL), NW_OK);
                } else {
                    assert_int_equal(nw_fitted(both, o2, NULL, &info), NW_OK);
                    assert_true(info.certified);
                    assert_int_equal(nw_fitted(small, o_small, NULL, NULL), NW_OK);
                    assert_int_equal(nw_fitted(big, o_big, NULL, NULL), NW_OK);
                }
                for (size_t i = 0; i < m; i++) {
                    assert_true(o_small[i] != 0 && o_big[i] != 0);
                    assert_close(o2[2 * i], o_small[i], 1e-13, 0);
                    assert_close(o2[2 * i + 1], o_big[i], 1e-13, 0);
                }
            }
        }
    /* one column spanning 1e300 .. 1e-300 (past 2^1533): its smallest
     * values are rounded for the sums, and the run says it is uncertified */
    double mixed[N];
    for (int i = 0; i < N; i++) mixed[i] = i == 4 ? 1e300 : ysmall[i];
    nw_model *lossy = model_of(x, mixed, N, 1, 1);
    nw_run_info info;
    double out[3];
    assert_int_equal(nw_predict_info(lossy, q, 3, out, NULL, &info), NW_OK);
    assert_false(info.certified);
    assert_int_equal(nw_fitted(lossy, mixed, NULL, &info), NW_OK);
    assert_false(info.certified);
    assert_int_equal(nw_predict_info(small, q, 3, out, NULL, &info), NW_OK);
    assert_true(info.certified);
    for (int j = 0; j < 3; j++) nw_model_free(models[j]);
    nw_model_free(lossy);
}

/* ------------------------------------------------------------- loo.c */

/* x = 0, 1, 10, y = 1, 2, 5, uniform kernel with h = 2: leave-one-out,
 * point 0 sees only point 1 (yhat 2), point 1 only point 0 (yhat 1), and
 * point 2 nothing (empty). */
static void test_loo_errors_and_empty(void **state)
{
    (void) state;
    double x[3] = { 0, 1, 10 }, y[3] = { 1, 2, 5 }, out[3], loss = -1, grad[1] = { -1 };
    size_t n_empty = 99;
    nw_model *m = model_of(x, y, 3, 1, 1);
    assert_int_equal(nw_loo_predict(NULL, out, &n_empty), NW_ERR_ARG);
    assert_int_equal(n_empty, 0);
    assert_int_equal(nw_loo_predict(m, NULL, NULL), NW_ERR_ARG);
    n_empty = 99;
    assert_int_equal(nw_loo_loss(NULL, NULL, &loss, NULL, &n_empty), NW_ERR_ARG);
    assert_int_equal(n_empty, 0);
    assert_int_equal(nw_loo_loss(m, NULL, NULL, NULL, NULL), NW_ERR_ARG);
    double bad_w[] = { 0, NAN, INFINITY, -INFINITY };
    for (int i = 0; i < 4; i++)
        assert_int_equal(nw_loo_loss(m, &bad_w[i], &loss, grad, NULL), NW_ERR_BANDWIDTH);

    double h = 2;
    assert_int_equal(nw_model_set_bandwidth(m, &h), NW_OK);
    assert_int_equal(nw_model_set_kernel(m, NW_KERNEL_UNIFORM), NW_OK);
    assert_int_equal(nw_loo_predict(m, out, &n_empty), NW_OK);
    assert_int_equal(n_empty, 1);
    assert_true(out[0] == 2 && out[1] == 1 && isnan(out[2]));
    assert_int_equal(nw_loo_loss(m, NULL, &loss, grad, &n_empty), NW_OK);
    assert_int_equal(n_empty, 1);
    assert_true(isinf(loss) && loss > 0); /* NaN policy: +inf */
    /* nearest policy: point 2 gets its nearest other point's y = 2:
     * L = (1 + 1 + 9) / 2; the uniform kernel's rho is 0: gradient 0 */
    assert_int_equal(nw_model_set_empty_policy(m, NW_EMPTY_NEAREST), NW_OK);
    assert_int_equal(nw_loo_predict(m, out, &n_empty), NW_OK);
    assert_true(out[0] == 2 && out[1] == 1 && out[2] == 2);
    assert_int_equal(nw_loo_loss(m, NULL, &loss, grad, &n_empty), NW_OK);
    assert_int_equal(n_empty, 1);
    assert_true(loss == 5.5 && grad[0] == 0);
    /* explicit w = 1/2 is the same as the model's h = 2; the sign of w does not matter */
    double w = -0.5, loss2;
    assert_int_equal(nw_loo_loss(m, &w, &loss2, NULL, NULL), NW_OK);
    assert_true(loss2 == 5.5);
    nw_model_free(m);

    /* n = 1: nothing is left */
    m = line_model(1);
    assert_int_equal(nw_loo_predict(m, out, NULL), NW_ERR_EMPTY);
    assert_int_equal(nw_loo_loss(m, NULL, &loss, NULL, NULL), NW_ERR_EMPTY);
    assert_int_equal(nw_criterion_eval(m, NW_CRITERION_LOO, NULL, &loss, NULL), NW_ERR_EMPTY);
    assert_int_equal(nw_select_bandwidth(m, NW_CRITERION_LOO, NULL, NULL), NW_ERR_EMPTY);
    nw_model_free(m);
}

/* Local linear where the local design is singular falls back to local
 * constant: with the uniform kernel and h = 1.5, the window of x = 0 holds
 * x = 0 and 1 (a line: exact), but leaving out x = 0 leaves x = 1 alone. */
static void test_local_linear_fallbacks(void **state)
{
    (void) state;
    double x[4] = { 0, 1, 5, 6 }, y[4] = { 1, 3, 7, 8 }, out[4], q[2] = { 0.5, 3e9 };
    nw_model *m = model_of(x, y, 4, 1, 1);
    double h = 1.5;
    assert_int_equal(nw_model_set_bandwidth(m, &h), NW_OK);
    assert_int_equal(nw_model_set_kernel(m, NW_KERNEL_UNIFORM), NW_OK);
    assert_int_equal(nw_model_set_estimator(m, NW_ESTIMATOR_LINEAR), NW_OK);
    /* q = 0.5: the line through (0, 1) and (1, 3) gives 2 */
    assert_int_equal(nw_predict(m, q, 1, out, NULL), NW_OK);
    assert_close(out[0], 2, 1e-15, 0);
    /* leave-one-out: each point's window holds one other point: local constant */
    assert_int_equal(nw_loo_predict(m, out, NULL), NW_OK);
    assert_true(out[0] == 3 && out[1] == 1 && out[2] == 8 && out[3] == 7);

    /* Gaussian, h = 1, a query 3e9 bandwidths away: log-weights ~ -4.5e18 <
     * -2^52, so the slope is noise and the estimate is the nearest value */
    assert_int_equal(nw_model_set_kernel(m, NW_KERNEL_GAUSSIAN), NW_OK);
    h = 1;
    assert_int_equal(nw_model_set_bandwidth(m, &h), NW_OK);
    assert_int_equal(nw_predict(m, q + 1, 1, out, NULL), NW_OK);
    assert_true(out[0] == 8);
    nw_model_free(m);
}

/* ------------------------------------------------------------ train.c */

typedef struct epoch_log { int calls, stop_at, last_epoch; double last_loss, w; } epoch_log;

static int log_epoch(const nw_epoch *e, void *ctx)
{
    epoch_log *l = ctx;
    l->calls++;
    l->last_epoch = e->epoch;
    l->last_loss = e->loss;
    l->w = e->w[0];
    assert_int_equal(e->d, 1);
    return l->stop_at && l->calls >= l->stop_at;
}

static void test_train_errors(void **state)
{
    (void) state;
    nw_train_options o;
    nw_train_options_init(NULL); /* a no-op */
    nw_train_options_init(&o);
    assert_int_equal(o.optimizer, NW_OPTIMIZER_SGD);
    assert_true(o.lr == 0.5 && o.epochs == 5 && o.beta1 == 0.9 && o.beta2 == 0.999 && o.eps == 1e-8);
    assert_null(o.on_epoch);
    assert_null(o.ctx);

    nw_model *m = line_model(6);
    double h = 2;
    assert_int_equal(nw_model_set_bandwidth(m, &h), NW_OK);
    assert_int_equal(nw_train(NULL, NULL, NULL, NULL), NW_ERR_ARG);
    /* bad options: each refused, the model unchanged */
    nw_train_options bad[12];
    for (int i = 0; i < 12; i++) nw_train_options_init(&bad[i]);
    bad[0].lr = 0;
    bad[1].lr = -0.1;
    bad[2].lr = NAN;
    bad[3].lr = INFINITY;
    bad[4].epochs = -1;
    bad[5].optimizer = (nw_optimizer) 2;
    for (int i = 6; i < 12; i++) bad[i].optimizer = NW_OPTIMIZER_ADAM;
    bad[6].beta1 = 1;
    bad[7].beta1 = -0.1;
    bad[8].beta2 = 1;
    bad[9].beta2 = NAN;
    bad[10].eps = -1e-8;
    bad[11].eps = NAN;
    for (int i = 0; i < 12; i++) {
        if (nw_train(m, &bad[i], NULL, NULL) != NW_ERR_ARG) fail_msg("bad option set %d accepted", i);
    }
    /* Adam's edge values that are allowed: beta1 = beta2 = eps = 0.  Then
     * m = g, v = g^2 and the bias corrections are 1: the step is lr g / |g|,
     * so w0 = 2 goes to exactly 2 - 0.5 sign(g). */
    nw_train_options edge;
    nw_train_options_init(&edge);
    edge.optimizer = NW_OPTIMIZER_ADAM;
    edge.beta1 = edge.beta2 = edge.eps = 0;
    edge.epochs = 1;
    double w0 = 2, w1, loss, g;
    assert_int_equal(nw_loo_loss(m, &w0, &loss, &g, NULL), NW_OK);
    assert_true(g != 0);
    assert_int_equal(nw_train(m, &edge, &w0, &w1), NW_OK);
    assert_true(w1 == (g > 0 ? 1.5 : 2.5));
    assert_true(bandwidth0(m) == 1 / w1);
    assert_int_equal(nw_model_set_bandwidth(m, &h), NW_OK);

    double bad_w0[] = { 0, NAN, INFINITY };
    for (int i = 0; i < 3; i++)
        assert_int_equal(nw_train(m, NULL, &bad_w0[i], NULL), NW_ERR_BANDWIDTH);
    assert_true(bandwidth0(m) == 2);

    /* epochs = 0: no step; the bandwidth becomes 1/|w0| */
    nw_train_options zero;
    nw_train_options_init(&zero);
    zero.epochs = 0;
    w0 = -4;
    assert_int_equal(nw_train(m, &zero, &w0, &w1), NW_OK);
    assert_true(w1 == -4 && bandwidth0(m) == 0.25);

    /* NULL opts are the defaults, step for step */
    nw_model *a = line_model(6), *b = line_model(6);
    nw_train_options def;
    nw_train_options_init(&def);
    double wa, wb;
    assert_int_equal(nw_train(a, NULL, NULL, &wa), NW_OK);
    assert_int_equal(nw_train(b, &def, NULL, &wb), NW_OK);
    assert_true(wa == wb && bandwidth0(a) == bandwidth0(b));
    /* on_epoch sees each epoch and can stop; the model is then unchanged */
    epoch_log log = { .stop_at = 2 };
    def.on_epoch = log_epoch;
    def.ctx = &log;
    h = 2;
    assert_int_equal(nw_model_set_bandwidth(b, &h), NW_OK);
    assert_int_equal(nw_train(b, &def, NULL, NULL), NW_ERR_STOPPED);
    assert_int_equal(log.calls, 2);
    assert_int_equal(log.last_epoch, 2);
    assert_true(isfinite(log.last_loss) && log.last_loss > 0);
    assert_true(bandwidth0(b) == 2);
    nw_model_free(a);
    nw_model_free(b);
    nw_model_free(m);
}

/* A non-finite loss (an empty leave-one-out window under the NaN policy)
 * is NW_ERR_NUMERIC; a step that leaves the finite numbers is
 * NW_ERR_BANDWIDTH; the model is unchanged either way. */
static void test_train_breakdowns(void **state)
{
    (void) state;
    double x[3] = { 0, 1, 10 }, y[3] = { 1, 2, 5 }, h = 2, w_out = 0;
    nw_model *m = model_of(x, y, 3, 1, 1);
    assert_int_equal(nw_model_set_bandwidth(m, &h), NW_OK);
    assert_int_equal(nw_model_set_kernel(m, NW_KERNEL_EPANECHNIKOV), NW_OK);
    assert_int_equal(nw_train(m, NULL, NULL, &w_out), NW_ERR_NUMERIC);
    assert_true(w_out == 0); /* w_out only on success */
    assert_true(bandwidth0(m) == 2);

    /* Gaussian, lr = DBL_MAX: with |g| >= 2 (checked) lr g overflows and the
     * first step takes w to +-inf */
    assert_int_equal(nw_model_set_kernel(m, NW_KERNEL_GAUSSIAN), NW_OK);
    double w = 0.5, loss, g;
    assert_int_equal(nw_loo_loss(m, &w, &loss, &g, NULL), NW_OK);
    assert_true(fabs(g) >= 2);
    nw_train_options o;
    nw_train_options_init(&o);
    o.lr = DBL_MAX;
    assert_int_equal(nw_train(m, &o, &w, NULL), NW_ERR_BANDWIDTH);
    assert_true(bandwidth0(m) == 2);
    nw_model_free(m);
}

/* A step may land on a scale that is finite but unusable: exactly 0, or
 * so small (subnormal) that the bandwidth 1/w overflows: NW_ERR_BANDWIDTH,
 * the model unchanged.
 *  - Adam with beta1 = beta2 = eps = 0 steps by exactly lr sign(g) (see
 *    test_train_errors): from w0 = lr with g > 0 to w = 0;
 *  - with every x equal each u is 0, so the gradient is exactly 0 and w
 *    stays at w0 = 1e-310, whose 1/w is +inf. */
static void test_train_steps_to_unusable_scale(void **state)
{
    (void) state;
    /* y alternates, so wide windows (small w) predict best: a w0 where the
     * loss rises (g > 0), and the step w0 - lr sign(g) with lr = w0 is
     * then exactly 0 */
    double xa[6] = { 0, 1, 2, 3, 4, 5 }, ya[6] = { 1, 3, 1, 3, 1, 3 };
    nw_model *m = model_of(xa, ya, 6, 1, 1);
    double h = 2, w0 = 0, loss, g = 0;
    assert_int_equal(nw_model_set_bandwidth(m, &h), NW_OK);
    for (double w = 0.25; w <= 64 && !(g > 0); w *= 2) {
        w0 = w;
        assert_int_equal(nw_loo_loss(m, &w0, &loss, &g, NULL), NW_OK);
    }
    assert_true(g > 0);
    nw_train_options o;
    nw_train_options_init(&o);
    o.optimizer = NW_OPTIMIZER_ADAM;
    o.beta1 = o.beta2 = o.eps = 0;
    o.epochs = 1;
    o.lr = w0;
    assert_int_equal(nw_train(m, &o, &w0, NULL), NW_ERR_BANDWIDTH);
    assert_true(bandwidth0(m) == 2);
    nw_model_free(m);

    double x[3] = { 4, 4, 4 }, y[3] = { 1, 2, 6 };
    m = model_of(x, y, 3, 1, 1);
    assert_int_equal(nw_model_set_bandwidth(m, &h), NW_OK);
    double tiny = 1e-310;
    assert_int_equal(nw_loo_loss(m, &tiny, &loss, &g, NULL), NW_OK);
    assert_true(g == 0);
    assert_int_equal(nw_train(m, NULL, &tiny, NULL), NW_ERR_BANDWIDTH);
    assert_true(bandwidth0(m) == 2);
    nw_model_free(m);
}

/* A model whose engine does not apply cannot be trained; it is unchanged. */
static void test_train_engine_must_apply(void **state)
{
    (void) state;
    double x[6] = { 0, 0, 1, 0, 0, 1 }, y[3] = { 1, 2, 3 }, h[2] = { 0.5, 2 }, got[2];
    nw_model *m = model_of(x, y, 3, 2, 1);
    assert_int_equal(nw_model_set_bandwidth(m, h), NW_OK);
    assert_int_equal(nw_model_set_engine(m, NW_ENGINE_SORTED), NW_OK);
    assert_int_equal(nw_train(m, NULL, NULL, NULL), NW_ERR_ARG);
    assert_int_equal(nw_select_bandwidth(m, NW_CRITERION_LOO, NULL, NULL), NW_ERR_ARG);
    assert_int_equal(nw_model_bandwidth(m, got), NW_OK);
    assert_true(got[0] == 0.5 && got[1] == 2);
    nw_model_free(m);
}

/* The nearest-value fallback with scales so unequal that w_2 / w_1
 * underflows to 0 (w = 1e300, 1e-30): only input 1 then orders the points.
 * Uniform kernel, query (0, 1e31): u_2 = 10 for both points, so the window
 * is empty; the nearest point is (0, 0), y = 1. */
static void test_nearest_with_underflowing_scale(void **state)
{
    (void) state;
    double x[4] = { 0, 0, 1, 0 }, y[2] = { 1, 2 }, w[2] = { 1e300, 1e-30 }, q[2] = { 0, 1e31 }, out;
    nw_model *m = model_of(x, y, 2, 2, 1);
    assert_int_equal(nw_model_set_scale(m, w), NW_OK);
    assert_int_equal(nw_model_set_kernel(m, NW_KERNEL_UNIFORM), NW_OK);
    assert_int_equal(nw_model_set_empty_policy(m, NW_EMPTY_NEAREST), NW_OK);
    size_t n_empty = 0;
    assert_int_equal(nw_predict(m, q, 1, &out, &n_empty), NW_OK);
    assert_int_equal(n_empty, 1);
    assert_true(out == 1);
    double a[2];
    assert_int_equal(nw_attention(m, q, 1, a), NW_OK);
    assert_true(a[0] == 1 && a[1] == 0);
    nw_model_free(m);
}

/* ----------------------------------------------------------- select.c */

static void test_select_errors(void **state)
{
    (void) state;
    nw_select_options o;
    nw_select_options_init(NULL); /* a no-op */
    nw_select_options_init(&o);
    assert_true(o.grid_points == 30 && o.grid_lo == 0.01 && o.grid_hi == 100 && o.starts == 8
                && o.tol == 1e-8 && o.max_iter == 200);
    nw_model *m = line_model(8);
    double h = 0.7, value, grad;
    assert_int_equal(nw_model_set_bandwidth(m, &h), NW_OK);
    assert_int_equal(nw_select_bandwidth(NULL, NW_CRITERION_LOO, NULL, NULL), NW_ERR_ARG);
    assert_int_equal(nw_select_bandwidth(m, (nw_criterion) 2, NULL, NULL), NW_ERR_ARG);
    assert_int_equal(nw_select_bandwidth(m, (nw_criterion) -1, NULL, NULL), NW_ERR_ARG);
    nw_select_options bad[7];
    for (int i = 0; i < 7; i++) nw_select_options_init(&bad[i]);
    bad[0].grid_lo = 0;
    bad[1].grid_lo = -1;
    bad[2].grid_lo = NAN;
    bad[3].grid_hi = bad[3].grid_lo;
    bad[4].grid_hi = NAN;
    bad[5].tol = 0;
    bad[6].tol = NAN;
    for (int i = 0; i < 7; i++)
        if (nw_select_bandwidth(m, NW_CRITERION_LOO, &bad[i], NULL) != NW_ERR_ARG)
            fail_msg("bad select options %d accepted", i);
    assert_true(bandwidth0(m) == 0.7);

    /* the criterion: argument errors */
    assert_int_equal(nw_criterion_eval(NULL, NW_CRITERION_LOO, NULL, &value, NULL), NW_ERR_ARG);
    assert_int_equal(nw_criterion_eval(m, NW_CRITERION_LOO, NULL, NULL, NULL), NW_ERR_ARG);
    assert_int_equal(nw_criterion_eval(m, (nw_criterion) 2, NULL, &value, NULL), NW_ERR_ARG);
    assert_int_equal(nw_criterion_eval(m, (nw_criterion) 2, NULL, &value, &grad), NW_ERR_ARG);
    double bad_h[] = { 0, -1, NAN, INFINITY };
    for (int i = 0; i < 4; i++)
        assert_int_equal(nw_criterion_eval(m, NW_CRITERION_AICC, &bad_h[i], &value, NULL),
                         NW_ERR_BANDWIDTH);
    /* h = NULL is the model's: LOO is 2 L(1/h) / n */
    double loss, h_loo = 0.7;
    assert_int_equal(nw_criterion_eval(m, NW_CRITERION_LOO, NULL, &value, NULL), NW_OK);
    assert_int_equal(nw_loo_loss(m, NULL, &loss, NULL, NULL), NW_OK);
    assert_close(value, 2 * loss / 8, 1e-15, 0);
    double value2;
    assert_int_equal(nw_criterion_eval(m, NW_CRITERION_LOO, &h_loo, &value2, NULL), NW_OK);
    assert_true(value2 == value);

    /* AICc where the fit interpolates (h tiny: H = I, tr H = n): +inf, and
     * its gradient 0 there */
    double tiny = 1e-3;
    assert_int_equal(nw_criterion_eval(m, NW_CRITERION_AICC, &tiny, &value, &grad), NW_OK);
    assert_true(isinf(value) && value > 0);
    assert_true(grad == 0);
    nw_model_free(m);

    /* zero spread: no rule of thumb, no selection */
    double same[4] = { 2, 2, 2, 2 }, y[4] = { 1, 2, 3, 4 };
    m = model_of(same, y, 4, 1, 1);
    assert_int_equal(nw_rule_of_thumb(m, NW_RULE_SCOTT, &h), NW_ERR_BANDWIDTH);
    assert_int_equal(nw_rule_of_thumb(m, NW_RULE_SILVERMAN, &h), NW_ERR_BANDWIDTH);
    assert_int_equal(nw_select_bandwidth(m, NW_CRITERION_LOO, NULL, NULL), NW_ERR_BANDWIDTH);
    assert_int_equal(nw_rule_of_thumb(NULL, NW_RULE_SCOTT, &h), NW_ERR_ARG);
    assert_int_equal(nw_rule_of_thumb(m, NW_RULE_SCOTT, NULL), NW_ERR_ARG);
    assert_int_equal(nw_rule_of_thumb(m, (nw_rule) 2, &h), NW_ERR_ARG);
    nw_model_free(m);
    /* n = 1: zero spread too (Silverman's percentiles of one value) */
    m = line_model(1);
    assert_int_equal(nw_rule_of_thumb(m, NW_RULE_SILVERMAN, &h), NW_ERR_BANDWIDTH);
    nw_model_free(m);
}

/* Silverman's rule takes min(s, IQR/1.349): x = 0, 1, 2, 3, 100 has
 * IQR = 3 - 1 = 2 (numpy's linear percentiles) and a large s; x = 0, 0, 0,
 * 0, 10 has IQR = 0, so s is used. */
static void test_rules_of_thumb_branches(void **state)
{
    (void) state;
    double x1[5] = { 3, 0, 100, 2, 1 }, x2[5] = { 0, 0, 10, 0, 0 }, y[5] = { 0, 1, 2, 3, 4 }, h;
    const double factor = pow(5.0, -0.2); /* n^(-1/(4+d)) */
    nw_model *m = model_of(x1, y, 5, 1, 1);
    assert_int_equal(nw_rule_of_thumb(m, NW_RULE_SILVERMAN, &h), NW_OK);
    assert_close(h, 0.9 * (2 / 1.349) * factor, 1e-15, 0);
    double mean = 106.0 / 5, var = 0;
    for (int i = 0; i < 5; i++) var += (x1[i] - mean) * (x1[i] - mean);
    assert_int_equal(nw_rule_of_thumb(m, NW_RULE_SCOTT, &h), NW_OK);
    assert_close(h, 1.06 * sqrt(var / 5) * factor, 1e-15, 0);
    nw_model_free(m);
    m = model_of(x2, y, 5, 1, 1);
    assert_int_equal(nw_rule_of_thumb(m, NW_RULE_SILVERMAN, &h), NW_OK);
    assert_close(h, 0.9 * 4 * factor, 1e-15, 0); /* s = sqrt(80/5 - 4) = sqrt(16) */
    nw_model_free(m);
}

/* No finite criterion anywhere on the scan: AICc with n = 3 needs
 * tr(H) + 2 < 3, but tr(H) >= 1 for local constant (H_ii >= 1/n summed). */
static void test_select_no_finite_criterion(void **state)
{
    (void) state;
    nw_model *m = line_model(3);
    double h = 0.7;
    assert_int_equal(nw_model_set_bandwidth(m, &h), NW_OK);
    assert_int_equal(nw_select_bandwidth(m, NW_CRITERION_AICC, NULL, NULL), NW_ERR_NUMERIC);
    assert_true(bandwidth0(m) == 0.7);
    /* d = 2 likewise */
    double x[6] = { 0, 1, 1, 0, 2, 2 }, y[3] = { 1, 2, 3 };
    nw_model *m2 = model_of(x, y, 3, 2, 1);
    assert_int_equal(nw_select_bandwidth(m2, NW_CRITERION_AICC, NULL, NULL), NW_ERR_NUMERIC);
    nw_model_free(m2);
    nw_model_free(m);
}

/* y that does not depend on x: the leave-one-out criterion decreases all
 * the way to h -> infinity, and selection returns the widened scan's upper
 * edge (more than grid_hi times Scott's rule). */
static void test_select_edge_when_input_does_not_matter(void **state)
{
    (void) state;
    double x[8] = { 0, 1, 2, 3, 4, 5, 6, 7 }, y[8] = { 1, -1, 1, -1, -1, 1, -1, 1 }, scott;
    nw_model *m = model_of(x, y, 8, 1, 1);
    assert_int_equal(nw_rule_of_thumb(m, NW_RULE_SCOTT, &scott), NW_OK);
    nw_select_options o;
    nw_select_options_init(&o);
    o.grid_points = 2; /* raised to the minimum of 5 */
    nw_select_result r = { 0 };
    assert_int_equal(nw_select_bandwidth(m, NW_CRITERION_LOO, &o, &r), NW_OK);
    /* at least 4 scans of 5 points (the range widened 3 times: the
     * criterion flattens out only far beyond grid_hi) */
    assert_true(r.evaluations >= 20);
    assert_true(bandwidth0(m) > 1e4 * scott);
    /* as h -> infinity every yhat_{-i} tends to the mean of the others,
     * -y_i / 7, so the criterion tends to (8/7)^2 from above */
    assert_true(r.value >= 64.0 / 49 * (1 - 1e-15));
    assert_close(r.value, 64.0 / 49, 1e-6, 0);
    nw_model_free(m);
}

/* Every x twice, with the same y: leave-one-out at a small h predicts each
 * point from its twin exactly, so the criterion is 0 for every h below
 * about 0.1 and its best scan point is always the lowest: selection widens
 * the scan downwards 3 times (4 scans of grid_points, no refinement) and
 * keeps the first point that reached the minimum, grid_lo times Scott's
 * rule (later zeros do not beat it). */
static void test_select_lower_edge_with_twins(void **state)
{
    (void) state;
    double x[8] = { 0, 0, 1, 1, 2, 2, 3, 3 }, y[8] = { 1, 1, 5, 5, 2, 2, 7, 7 }, scott;
    nw_model *m = model_of(x, y, 8, 1, 1);
    assert_int_equal(nw_rule_of_thumb(m, NW_RULE_SCOTT, &scott), NW_OK);
    nw_select_result r = { 0 };
    assert_int_equal(nw_select_bandwidth(m, NW_CRITERION_LOO, NULL, &r), NW_OK);
    assert_true(r.value == 0);
    nw_select_options o;
    nw_select_options_init(&o);
    assert_int_equal(r.evaluations, 4 * o.grid_points);
    assert_close(bandwidth0(m), 0.01 * scott, 1e-14, 0);
    /* AICc: the in-sample fit is exact there too (sigma^2 = 0), where
     * log sigma^2 is -inf: the criterion counts that as undefined (+inf) */
    double value, h = 1e-3;
    assert_int_equal(nw_criterion_eval(m, NW_CRITERION_AICC, &h, &value, NULL), NW_OK);
    assert_true(isinf(value) && value > 0);
    nw_model_free(m);
}

/* d = 6: a full grid would need 3^6 = 729 > 400 points, so the scan is a
 * Halton sample of 400 points; one L-BFGS start (starts = 0 counts as 1),
 * then the coordinate polish.  (d = 5 still gets the full 3^5 = 243 grid.) */
static void test_select_halton_6d(void **state)
{
    (void) state;
    enum { N = 24, D = 6 };
    double x[N * D], y[N];
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < D; k++) x[i * D + k] = fmod(0.37 * (i + 1) * (k + 2), 3.0);
        y[i] = sin(x[i * D]) + 0.1 * x[i * D + 1];
    }
    nw_model *m = model_of(x, y, N, D, 1);
    nw_select_options o;
    nw_select_options_init(&o);
    o.starts = 0;
    o.max_iter = 20;
    nw_select_result r = { 0 };
    assert_int_equal(nw_select_bandwidth(m, NW_CRITERION_LOO, &o, &r), NW_OK);
    assert_true(r.evaluations > 400);
    /* the result is the criterion at the chosen bandwidths */
    double h[D], value;
    assert_int_equal(nw_model_bandwidth(m, h), NW_OK);
    assert_int_equal(nw_criterion_eval(m, NW_CRITERION_LOO, h, &value, NULL), NW_OK);
    assert_close(value, r.value, 1e-12, 0); /* h = e^t: t is not recovered bit for bit */
    nw_model_free(m);
}

/* ------------------------------------------------------------ synth.c */

static void test_synth_errors(void **state)
{
    (void) state;
    double x[3], y[3];
    assert_int_equal(nw_generate(1, 0, x, y), NW_ERR_EMPTY);
    assert_int_equal(nw_generate(1, 3, NULL, y), NW_ERR_ARG);
    assert_int_equal(nw_generate(1, 3, x, NULL), NW_ERR_ARG);
    assert_int_equal(nw_generate_grid(0, x, y), NW_ERR_EMPTY);
    assert_int_equal(nw_generate_grid(3, NULL, y), NW_ERR_ARG);
    assert_int_equal(nw_generate_grid(3, x, NULL), NW_ERR_ARG);
    assert_int_equal(nw_generate_grid(3, x, y), NW_OK);
    /* f(0) = 0, f(0.1) = 2 sin 0.1 + 0.1^0.8 */
    assert_true(x[0] == 0 && y[0] == 0 && x[1] == 0.1);
    assert_close(y[1], 2 * sin(0.1) + pow(0.1, 0.8), 1e-15, 0);
    assert_close(nw_notebook_f(1), 2 * sin(1.0) + 1, 1e-15, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_every_status),
        cmocka_unit_test(test_names_and_parsers),
        cmocka_unit_test(test_kernel_out_of_range_is_nan),
        cmocka_unit_test(test_model_new_errors),
        cmocka_unit_test(test_model_setters_refuse_and_keep),
        cmocka_unit_test(test_model_names),
        cmocka_unit_test(test_predict_errors),
        cmocka_unit_test(test_auto_engine_choice),
        cmocka_unit_test(test_progress_stops_every_call),
        cmocka_unit_test(test_attention_edges),
        cmocka_unit_test(test_baseline),
        cmocka_unit_test(test_huge_outputs),
        cmocka_unit_test(test_column_scales),
        cmocka_unit_test(test_loo_errors_and_empty),
        cmocka_unit_test(test_local_linear_fallbacks),
        cmocka_unit_test(test_train_errors),
        cmocka_unit_test(test_train_breakdowns),
        cmocka_unit_test(test_train_steps_to_unusable_scale),
        cmocka_unit_test(test_select_errors),
        cmocka_unit_test(test_rules_of_thumb_branches),
        cmocka_unit_test(test_select_no_finite_criterion),
        cmocka_unit_test(test_select_edge_when_input_does_not_matter),
        cmocka_unit_test(test_select_lower_edge_with_twins),
        cmocka_unit_test(test_select_halton_6d),
        cmocka_unit_test(test_train_engine_must_apply),
        cmocka_unit_test(test_nearest_with_underflowing_scale),
        cmocka_unit_test(test_synth_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
