/*
 * test_threads.c: the library is reentrant.  ONE model is read by several
 * POSIX threads at once -- nw_predict, nw_attention, nw_loo_loss (with its
 * gradient), nw_criterion_eval (LOO and AICc, with gradients) -- and every
 * thread must get, bit for bit, what a single thread got alone.
 *
 * The serial answers come from the same model with threads = 1 before any
 * thread starts.  Each configuration (kernel, estimator, d, p) runs with every
 * engine that applies to it (an engine that does not -- sorted or fgt with
 * d > 1, an engine not built in -- answers NW_ERR_ARG serially and is
 * skipped, with a line saying so); the first also in f32.  The threads
 * run twice: with the model's OpenMP threads at 1 (pure pthread concurrency)
 * and at 2, so teams of OpenMP threads run inside each pthread and the
 * answers must not depend on the thread count either.  Under ThreadSanitizer
 * (scripts/tsan) only the first: libgomp is not instrumented, and its own
 * synchronisation would be reported as races.
 *
 * Sizes: n = 1000 keys and 1000 queries, where the approximate engines'
 * cost model prefers them.  Predictions this small run on one thread
 * (nw_threads: below 1e7 kernel evaluations); test_predict_team runs them
 * on teams of threads (team.h) at sizes above that, and test_team the
 * team itself.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "team.h"

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

enum { N = 1000, M = 1000, M_ATT = 40, THREADS = 3, ROUNDS = 1, MAXD = 2, MAXP = 2 };

/* Everything one pass of calls produces. */
typedef struct answers {
    nw_status st_predict, st_attention, st_loss, st_loo, st_aicc;
    double *yhat;        /* M x p */
    size_t n_empty;
    double *weights;     /* M_ATT x N */
    double loss, grad[MAXD];
    size_t loss_empty;
    double loo, loo_grad[MAXD];
    double aicc, aicc_grad[MAXD];
} answers;

static double X[N * MAXD], Y[N * MAXP], Q[M * MAXD];

static void make_data(void)
{
    /* a fixed, irregular design: x in [0, 5)^2, queries partly outside */
    for (int i = 0; i < N; i++) {
        X[i * MAXD] = 5.0 * ((i * 7919) % N) / N;
        X[i * MAXD + 1] = 2.5 + 2.5 * sin(0.37 * i);
        Y[i * MAXP] = 2 * sin(X[i * MAXD]) + pow(X[i * MAXD], 0.8) + 0.3 * cos(11.0 * i);
        Y[i * MAXP + 1] = X[i * MAXD] * X[i * MAXD + 1] / 5 - 0.2 * sin(5.0 * i);
    }
    for (int j = 0; j < M; j++) {
        Q[j * MAXD] = -0.5 + 6.0 * j / M;
        Q[j * MAXD + 1] = 2.5 + 3.0 * cos(0.11 * j);
    }
}

/* The first d input columns and p output columns of the data. */
static nw_model *make_model(size_t d, size_t p, nw_kernel kernel, nw_estimator est,
                            const double *h)
{
    static double x[N * MAXD], y[N * MAXP];
    for (int i = 0; i < N; i++) {
        for (size_t k = 0; k < d; k++) x[i * d + k] = X[i * MAXD + k];
        for (size_t c = 0; c < p; c++) y[i * p + c] = Y[i * MAXP + c];
    }
    nw_model *m;
    assert_int_equal(nw_model_new(&m, x, y, N, d, p), NW_OK);
    assert_int_equal(nw_model_set_kernel(m, kernel), NW_OK);
    assert_int_equal(nw_model_set_estimator(m, est), NW_OK);
    assert_int_equal(nw_model_set_bandwidth(m, h), NW_OK);
    assert_int_equal(nw_model_set_empty_policy(m, NW_EMPTY_NEAREST), NW_OK);
    return m;
}

static void answers_init(answers *a, size_t p)
{
    memset(a, 0, sizeof *a);
    a->yhat = malloc(M * p * sizeof(double));
    a->weights = malloc((size_t) M_ATT * N * sizeof(double));
    assert_non_null(a->yhat);
    assert_non_null(a->weights);
}

static void answers_free(answers *a)
{
    free(a->yhat);
    free(a->weights);
}

/* One pass of every read-only call, from whichever thread runs it.  q holds
 * the M queries (M x d), copied per thread so inputs are not shared either. */
static void compute(const nw_model *m, const double *q, answers *a)
{
    a->st_predict = nw_predict(m, q, M, a->yhat, &a->n_empty);
    a->st_attention = nw_attention(m, q, M_ATT, a->weights);
    a->st_loss = nw_loo_loss(m, NULL, &a->loss, a->grad, &a->loss_empty);
    a->st_loo = nw_criterion_eval(m, NW_CRITERION_LOO, NULL, &a->loo, a->loo_grad);
    a->st_aicc = nw_criterion_eval(m, NW_CRITERION_AICC, NULL, &a->aicc, a->aicc_grad);
}

/* Bit-for-bit equality (NaN payloads included), with the first difference
 * printed. */
static int same_bits(const double *a, const double *b, size_t n, const char *what)
{
    if (memcmp(a, b, n * sizeof(double)) == 0) return 1;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(double)) != 0) {
            print_error("%s[%zu]: %.17g in a thread, %.17g serially\n", what, i, a[i], b[i]);
            break;
        }
    return 0;
}

static void assert_same(const answers *got, const answers *ref, size_t d, size_t p)
{
    assert_int_equal(got->st_predict, ref->st_predict);
    assert_int_equal(got->st_attention, ref->st_attention);
    assert_int_equal(got->st_loss, ref->st_loss);
    assert_int_equal(got->st_loo, ref->st_loo);
    assert_int_equal(got->st_aicc, ref->st_aicc);
    assert_true(same_bits(got->yhat, ref->yhat, M * p, "yhat"));
    assert_int_equal(got->n_empty, ref->n_empty);
    assert_true(same_bits(got->weights, ref->weights, (size_t) M_ATT * N, "attention"));
    assert_true(same_bits(&got->loss, &ref->loss, 1, "loo loss"));
    assert_true(same_bits(got->grad, ref->grad, d, "loo loss gradient"));
    assert_int_equal(got->loss_empty, ref->loss_empty);
    assert_true(same_bits(&got->loo, &ref->loo, 1, "criterion loo"));
    assert_true(same_bits(got->loo_grad, ref->loo_grad, d, "criterion loo gradient"));
    assert_true(same_bits(&got->aicc, &ref->aicc, 1, "criterion aicc"));
    assert_true(same_bits(got->aicc_grad, ref->aicc_grad, d, "criterion aicc gradient"));
}

typedef struct worker {
    const nw_model *model;
    pthread_barrier_t *start;
    answers out[ROUNDS];
    double q[M * MAXD];
} worker;

static void *run_worker(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(w->start); /* all threads enter the library together */
    for (int r = 0; r < ROUNDS; r++) compute(w->model, w->q, &w->out[r]);
    return NULL;
}

/* THREADS pthreads, ROUNDS passes each, against the serial answers. */
static void run_threads(const nw_model *m, const answers *ref)
{
    size_t d = nw_model_d(m), p = nw_model_p(m);
    worker *w = calloc(THREADS, sizeof *w);
    pthread_t tid[THREADS];
    pthread_barrier_t start;
    assert_non_null(w);
    assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
    for (int t = 0; t < THREADS; t++) {
        w[t].model = m;
        w[t].start = &start;
        for (size_t j = 0; j < M; j++)
            for (size_t k = 0; k < d; k++) w[t].q[j * d + k] = Q[j * MAXD + k];
        for (int r = 0; r < ROUNDS; r++) answers_init(&w[t].out[r], p);
        assert_int_equal(pthread_create(&tid[t], NULL, run_worker, &w[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) assert_int_equal(pthread_join(tid[t], NULL), 0);
    pthread_barrier_destroy(&start);
    for (int t = 0; t < THREADS; t++)
        for (int r = 0; r < ROUNDS; r++) {
            assert_same(&w[t].out[r], ref, d, p);
            answers_free(&w[t].out[r]);
        }
    free(w);
}

/* One configuration with every engine (and f32 too if with_f32). */
static void check_config(size_t d, size_t p, nw_kernel kernel, nw_estimator est,
                         const double *h, int with_f32)
{
    static const nw_engine_kind engines[] = {
        NW_ENGINE_DENSE, NW_ENGINE_AUTO, NW_ENGINE_SORTED, NW_ENGINE_TREE, NW_ENGINE_FGT,
    };
    double q[M * MAXD];
    for (size_t j = 0; j < M; j++)
        for (size_t k = 0; k < d; k++) q[j * d + k] = Q[j * MAXD + k];
    for (size_t e = 0; e < sizeof engines / sizeof engines[0]; e++)
        for (int f32 = 0; f32 <= with_f32; f32++) {
            nw_model *m = make_model(d, p, kernel, est, h);
            assert_int_equal(nw_model_set_engine(m, engines[e]), NW_OK);
            assert_int_equal(nw_model_set_precision(m, f32 ? NW_PRECISION_F32 : NW_PRECISION_F64),
                             NW_OK);
            assert_int_equal(nw_model_set_threads(m, 1), NW_OK);
            answers ref;
            answers_init(&ref, p);
            compute(m, q, &ref);
            if (ref.st_predict == NW_ERR_ARG) { /* this engine does not apply here */
                printf("# skip: engine %s%s with %s, d = %zu\n", nw_engine_name(engines[e]),
                       f32 ? " (f32)" : "", nw_kernel_name(kernel), d);
                answers_free(&ref);
                nw_model_free(m);
                continue;
            }
            assert_int_equal(ref.st_predict, NW_OK);
            assert_int_equal(ref.st_attention, NW_OK);
            assert_int_equal(ref.st_loss, NW_OK);
            assert_int_equal(ref.st_loo, NW_OK);
            assert_int_equal(ref.st_aicc, NW_OK);
            run_threads(m, &ref);
            if (!UNDER_TSAN) {
                assert_int_equal(nw_model_set_threads(m, 2), NW_OK);
                run_threads(m, &ref);
            }
            answers_free(&ref);
            nw_model_free(m);
        }
}

static void test_gaussian_1d_lc(void **state)
{
    (void) state;
    double h = 0.3;
    check_config(1, 1, NW_KERNEL_GAUSSIAN, NW_ESTIMATOR_CONSTANT, &h, 1);
}

static void test_gaussian_1d_ll_two_outputs(void **state)
{
    (void) state;
    double h = 0.25;
    check_config(1, 2, NW_KERNEL_GAUSSIAN, NW_ESTIMATOR_LINEAR, &h, 0);
}

static void test_epanechnikov_2d_ll(void **state)
{
    (void) state;
    double h[2] = { 0.6, 1.1 };
    check_config(2, 2, NW_KERNEL_EPANECHNIKOV, NW_ESTIMATOR_LINEAR, h, 0);
}

static void test_laplace_2d_lc(void **state)
{
    (void) state;
    double h[2] = { 0.4, 0.9 };
    check_config(2, 1, NW_KERNEL_LAPLACE, NW_ESTIMATOR_CONSTANT, h, 0);
}

/* Progress calls of a bandwidth search: their count and whether the done
 * counts ran 1, 2, 3, ... */
typedef struct select_log { int calls, in_order; } select_log;

static int log_select(double done, double total, void *ctx)
{
    select_log *log = ctx;
    log->calls++;
    if (done != log->calls || !(total > done)) log->in_order = 0;
    return 0;
}

/* The bandwidth search scans its grid on parallel OpenMP threads at small
 * n (select.c): with the model's threads at 2 it must choose, bit for bit,
 * the bandwidth it chooses with 1, after as many evaluations, with the same
 * criterion value, and report progress once per evaluation in order from
 * the caller's thread.  1-d (grid scan and the derivative's two ends) and
 * 2-d (the Halton/grid scan before L-BFGS). */
static void test_select_parallel_scan(void **state)
{
    (void) state;
    static const struct { size_t d; nw_estimator est; nw_criterion crit; } cases[] = {
        { 1, NW_ESTIMATOR_CONSTANT, NW_CRITERION_LOO },
        { 1, NW_ESTIMATOR_LINEAR, NW_CRITERION_LOO },
        { 1, NW_ESTIMATOR_LINEAR, NW_CRITERION_AICC },
        { 2, NW_ESTIMATOR_CONSTANT, NW_CRITERION_LOO },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double h0[2] = { 1, 1 }, h1[MAXD], h2[MAXD];
        nw_select_result r1, r2;
        select_log l1 = { 0, 1 }, l2 = { 0, 1 };
        nw_model *m = make_model(cases[c].d, 1, NW_KERNEL_GAUSSIAN, cases[c].est, h0);
        assert_int_equal(nw_model_set_threads(m, 1), NW_OK);
        assert_int_equal(nw_model_set_progress(m, log_select, &l1), NW_OK);
        assert_int_equal(nw_select_bandwidth(m, cases[c].crit, NULL, &r1), NW_OK);
        assert_int_equal(nw_model_bandwidth(m, h1), NW_OK);
        assert_int_equal(nw_model_set_bandwidth(m, h0), NW_OK);
        assert_int_equal(nw_model_set_threads(m, 2), NW_OK);
        assert_int_equal(nw_model_set_progress(m, log_select, &l2), NW_OK);
        assert_int_equal(nw_select_bandwidth(m, cases[c].crit, NULL, &r2), NW_OK);
        assert_int_equal(nw_model_bandwidth(m, h2), NW_OK);
        for (size_t k = 0; k < cases[c].d; k++) assert_true(h1[k] == h2[k]);
        assert_true(r1.value == r2.value);
        assert_int_equal(r1.evaluations, r2.evaluations);
        assert_int_equal(l1.calls, r1.evaluations);
        assert_int_equal(l2.calls, r2.evaluations);
        assert_true(l1.in_order && l2.in_order);
        nw_model_free(m);
    }
}

/* team.c (team.h's contract): every item runs exactly once, each worker
 * that took an item began before its first and ended after its last, a
 * worker index is never shared by two threads, a failed begin gives
 * NW_ERR_NOMEM without hanging (whoever is left), and helpers that start
 * after the call has returned touch nothing of the caller's (64 helpers
 * asked for 2 items, 200 times: the ASan and TSan builds would see a late
 * helper read the freed probe). */
typedef struct team_probe {
    int ran[4096];          /* runs per item */
    int began[NW_TEAM_MAX], ended[NW_TEAM_MAX], items_of[NW_TEAM_MAX];
    pthread_t tid[NW_TEAM_MAX];
    int fail_worker;        /* this worker's begin fails (-1: none) */
    int bad;                /* a contract breach seen inside */
} team_probe;

static int probe_begin(void *ctx, int wk, void **scratch)
{
    team_probe *t = ctx;
    if (t->began[wk]++) t->bad = 1;
    t->tid[wk] = pthread_self();
    *scratch = &t->items_of[wk];
    return wk == t->fail_worker;
}

static void probe_run(void *ctx, int wk, void *scratch, size_t item)
{
    team_probe *t = ctx;
    if (!t->began[wk] || t->ended[wk] || scratch != &t->items_of[wk] ||
        !pthread_equal(t->tid[wk], pthread_self()))
        t->bad = 1;
    __atomic_add_fetch(&t->ran[item], 1, __ATOMIC_RELAXED);
    (*(int *) scratch)++;
    volatile double x = 1;   /* a little work, so that helpers get items */
    for (int k = 0; k < 2000; k++) x = x * 1.0000001 + 1e-9;
}

static void probe_end(void *ctx, int wk, void *scratch)
{
    team_probe *t = ctx;
    if (scratch != &t->items_of[wk]) t->bad = 1;
    t->ended[wk]++;
}

static void test_team(void **state)
{
    (void) state;
    static const struct { size_t items; int threads, fail; } cases[] = {
        { 4096, 1, -1 }, { 4096, 2, -1 }, { 4096, 4, -1 }, { 3, 8, -1 }, { 1, 2, -1 },
        { 4096, 1, 0 }, { 4096, 2, 0 }, { 4096, 2, 1 }, { 4096, 3, 2 },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        team_probe *t = calloc(1, sizeof *t);
        assert_non_null(t);
        t->fail_worker = cases[c].fail;
        nw_team_job job = { .items = cases[c].items, .ctx = t, .begin = probe_begin,
                            .run = probe_run, .end = probe_end };
        nw_status st = nw_team_run(&job, cases[c].threads);
        assert_false(t->bad);
        int ran_total = 0;
        for (size_t i = 0; i < cases[c].items; i++) {
            assert_true(t->ran[i] <= 1);
            ran_total += t->ran[i];
        }
        int items_total = 0;
        for (int w = 0; w < NW_TEAM_MAX; w++) {
            assert_true(t->began[w] <= 1);
            /* a worker that began ends, unless its begin failed */
            if (w != cases[c].fail) assert_int_equal(t->ended[w], t->began[w]);
            else assert_int_equal(t->ended[w], 0);
            if (w >= cases[c].threads) assert_int_equal(t->began[w], 0);
            items_total += t->items_of[w];
        }
        assert_int_equal(items_total, ran_total);
        if (cases[c].fail < 0 || !t->began[cases[c].fail]) {
            assert_int_equal(st, NW_OK);
            assert_int_equal(ran_total, (int) cases[c].items);
        } else {
            assert_int_equal(st, NW_ERR_NOMEM);
            assert_true(ran_total < (int) cases[c].items);
        }
        free(t);
    }
    /* late helpers: each call returns with both items run once, and the
     * probe is freed at once */
    for (int rep = 0; rep < 200; rep++) {
        team_probe *t = calloc(1, sizeof *t);
        assert_non_null(t);
        t->fail_worker = -1;
        nw_team_job job = { .items = 2, .ctx = t, .begin = probe_begin, .run = probe_run,
                            .end = probe_end };
        assert_int_equal(nw_team_run(&job, 64), NW_OK);
        assert_int_equal(t->ran[0], 1);
        assert_int_equal(t->ran[1], 1);
        assert_false(t->bad);
        free(t);
    }
    nw_team_job none = { .items = 0, .run = probe_run };
    assert_int_equal(nw_team_run(&none, 4), NW_OK);
    nw_team_job norun = { .items = 3 };
    assert_int_equal(nw_team_run(&norun, 4), NW_ERR_ARG);
    assert_int_equal(nw_team_run(NULL, 4), NW_ERR_ARG);
}

/* nw_predict's queries are a team job (team.h): with the model's threads at
 * 2 and work above nw_threads' threshold (1e7 evaluations), a helper
 * thread takes items, and the predictions must be, bit for bit, those of
 * one thread -- also when two POSIX threads predict at once, each with its
 * own team.  Dense 1-d (n = m = 5000: 2.5e7 pairs), the 2-d FGT (n = m =
 * 20000, whose moments and local expansions are team jobs too) and the
 * tree with a compact kernel.  Runs under TSan too (no OpenMP on these
 * paths). */
typedef struct team_predict {
    const nw_model *model;
    const double *q;
    size_t m;
    double *yhat;
    nw_status st;
} team_predict;

static void *predict_thread(void *arg)
{
    team_predict *t = arg;
    t->st = nw_predict(t->model, t->q, t->m, t->yhat, NULL);
    return NULL;
}

static void test_predict_team(void **state)
{
    (void) state;
    static const struct { size_t d, n; nw_kernel kernel; nw_engine_kind engine; double h; } cases[] = {
        { 1, 5000, NW_KERNEL_GAUSSIAN, NW_ENGINE_DENSE, 0.3 },
        { 2, 20000, NW_KERNEL_GAUSSIAN, NW_ENGINE_FGT, 0.3 },
        { 2, 20000, NW_KERNEL_EPANECHNIKOV, NW_ENGINE_TREE, 0.4 },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const size_t d = cases[c].d, n = cases[c].n, m = n;
        double *x = malloc(n * d * sizeof *x), *y = malloc(n * sizeof *y), *q = malloc(m * d * sizeof *q);
        double *y1 = malloc(m * sizeof *y1), *y2 = malloc(m * sizeof *y2), *y3 = malloc(m * sizeof *y3);
        assert_true(x && y && q && y1 && y2 && y3);
        uint64_t s = 99 + c;
        for (size_t i = 0; i < n; i++) {
            for (size_t k = 0; k < d; k++) x[i * d + k] = 5 * nwt_unif(&s);
            y[i] = 3 + sin(x[i * d]) + 0.3 * nwt_unif(&s);
        }
        for (size_t j = 0; j < m * d; j++) q[j] = 5 * nwt_unif(&s);
        nw_model *model;
        double h[2] = { cases[c].h, cases[c].h };
        assert_int_equal(nw_model_new(&model, x, y, n, d, 1), NW_OK);
        assert_int_equal(nw_model_set_kernel(model, cases[c].kernel), NW_OK);
        assert_int_equal(nw_model_set_bandwidth(model, h), NW_OK);
        assert_int_equal(nw_model_set_engine(model, cases[c].engine), NW_OK);
        assert_int_equal(nw_model_set_empty_policy(model, NW_EMPTY_NEAREST), NW_OK);
        assert_int_equal(nw_model_set_threads(model, 1), NW_OK);
        assert_int_equal(nw_predict(model, q, m, y1, NULL), NW_OK);
        assert_int_equal(nw_model_set_threads(model, 2), NW_OK);
        assert_int_equal(nw_predict(model, q, m, y2, NULL), NW_OK);
        assert_true(same_bits(y2, y1, m, "team predict"));
        team_predict tp[2] = { { model, q, m, y2, NW_ERR_ARG }, { model, q, m, y3, NW_ERR_ARG } };
        pthread_t tid[2];
        for (int t = 0; t < 2; t++) assert_int_equal(pthread_create(&tid[t], NULL, predict_thread, &tp[t]), 0);
        for (int t = 0; t < 2; t++) assert_int_equal(pthread_join(tid[t], NULL), 0);
        assert_int_equal(tp[0].st, NW_OK);
        assert_int_equal(tp[1].st, NW_OK);
        assert_true(same_bits(y2, y1, m, "team predict, 2 pthreads"));
        assert_true(same_bits(y3, y1, m, "team predict, 2 pthreads"));
        nw_model_free(model);
        free(x); free(y); free(q); free(y1); free(y2); free(y3);
    }
}

/* The 1-d FGT's long-double second try (local linear), whose expansions are
 * made per target box on first use (engine_fgt.c, ensure_ld): THREADS
 * threads call moments_exact on ONE fresh engine at the same queries at
 * once, so that they race to make the same boxes' expansions; each must
 * get, bit for bit, what one thread gets from another fresh engine. */
#include "engine.h"

enum { LD_N = 20000, LD_Q = 64 };
static double LDX[LD_N], LDY[LD_N];

typedef struct ld_worker {
    const nw_engine *eng;
    const nw_problem *pb;
    pthread_barrier_t *start;
    double A[LD_Q], B[LD_Q], eA[LD_Q];
} ld_worker;

static void ld_queries(const nw_engine *eng, const nw_problem *pb, double *A, double *B,
                       double *eA)
{
    nw_moments *mo = NULL;
    assert_int_equal(nw_moments_new(pb, &mo), NW_OK);
    for (size_t k = 0; k < LD_Q; k++) {
        /* queries near the data's edges and inside, several per box */
        double q = k % 2 ? 0.004 + 0.011 * (double) k : 4.996 - 0.013 * (double) k;
        mo->shift[0] = 0;
        eng->moments_exact(eng, &q, NW_NO_SKIP, mo);
        A[k] = mo->A[0];
        B[k] = mo->B[0];
        eA[k] = mo->errA[0];
    }
    nw_moments_free(mo);
}

static void *ld_run(void *arg)
{
    ld_worker *wk = arg;
    pthread_barrier_wait(wk->start);
    ld_queries(wk->eng, wk->pb, wk->A, wk->B, wk->eA);
    return NULL;
}

static void test_fgt_second_try_threads(void **state)
{
    (void) state;
    nw_generate(17, LD_N, LDX, LDY);
    double w = 1 / 0.3;
    nw_problem pb = { .x = LDX, .y = LDY, .n = LD_N, .d = 1, .p = 1,
                      .kernel = NW_KERNEL_GAUSSIAN, .w = &w, .linear = 1 };
    nw_engine *ref_eng = NULL, *eng = NULL;
    assert_int_equal(nw_engine_new(&pb, NW_ENGINE_FGT, 1e-12, 10000000, &ref_eng), NW_OK);
    assert_int_equal(nw_engine_new(&pb, NW_ENGINE_FGT, 1e-12, 10000000, &eng), NW_OK);
    assert_non_null(eng->moments_exact);
    double A[LD_Q], B[LD_Q], eA[LD_Q];
    ld_queries(ref_eng, &pb, A, B, eA);
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
    ld_worker wk[THREADS];
    pthread_t tid[THREADS];
    for (int t = 0; t < THREADS; t++) {
        wk[t].eng = eng;
        wk[t].pb = &pb;
        wk[t].start = &start;
        assert_int_equal(pthread_create(&tid[t], NULL, ld_run, &wk[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) assert_int_equal(pthread_join(tid[t], NULL), 0);
    pthread_barrier_destroy(&start);
    int ld_ran = 0;
    for (size_t k = 0; k < LD_Q; k++) {
        /* (the long-double path's bound has the rounding to double) */
        ld_ran += eA[k] >= 0x1p-53 * A[k];
        for (int t = 0; t < THREADS; t++)
            assert_true(wk[t].A[k] == A[k] && wk[t].B[k] == B[k] && wk[t].eA[k] == eA[k]);
    }
    assert_true(ld_ran >= LD_Q / 2);
    nw_engine_free(eng);
    nw_engine_free(ref_eng);
}

int main(void)
{
    make_data();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gaussian_1d_lc),
        cmocka_unit_test(test_gaussian_1d_ll_two_outputs),
        cmocka_unit_test(test_epanechnikov_2d_ll),
        cmocka_unit_test(test_laplace_2d_lc),
        cmocka_unit_test(test_select_parallel_scan),
        cmocka_unit_test(test_team),
        cmocka_unit_test(test_predict_team),
        cmocka_unit_test(test_fgt_second_try_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
