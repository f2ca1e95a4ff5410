/*
 * test_alloc.c: allocation failure, as SQLite and curl test it.  For each
 * public call, the k-th allocation the library makes fails, for k = 1, 2, ...
 * until the call makes fewer than k allocations and succeeds.  Every run in
 * which an allocation failed must
 *
 *   - return NW_ERR_NOMEM (or NW_OK with the right answer, where the library
 *     can do without the memory, e.g. a shrinking realloc),
 *   - leak nothing and free nothing of the caller's: the allocations made
 *     during the call balance its frees exactly (and, in the ASan build of
 *     CI, LeakSanitizer checks after each call's runs),
 *   - leave the caller's objects as they were and usable: the same call
 *     made again without failures gives the reference answer bit for bit,
 *     a model's bandwidths are unchanged, and a file being written is
 *     either absent or intact, with no temporary file left beside it.
 *
 * Each call is driven twice: the k-th allocation alone fails ("once"), and
 * the k-th and every later one fail ("persistent").
 *
 * How.  The test links the static library and wraps, at link time
 * (-Wl,--wrap=...), malloc, calloc, realloc, aligned_alloc, strdup and free, and newlocale/
 * freelocale (the C-locale objects the file functions make), so src/ needs
 * no hook.  cJSON's allocations go through the same counter by
 * cJSON_InitHooks; libcsv's through csv_set_realloc_func/csv_set_free_func,
 * set on every parser the library makes by wrapping csv_init.  Not covered:
 * allocations inside the C library itself (fopen's FILE and buffer, libgomp's
 * thread teams), which this build cannot make fail.  Models use threads = 1
 * so the allocation order is the same in every run.
 */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <csv.h>

#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK() __lsan_do_recoverable_leak_check()
#else
#define LEAK_CHECK() 0
#endif

/* ------------------------------------------------------------ injection */

static atomic_int armed;          /* count and fail only while set */
static atomic_long seen;          /* allocations while armed */
static atomic_long live;          /* allocations minus frees while armed */
static atomic_int injected;       /* an allocation was made to fail */
static long fail_at;              /* 1-based index of the first failure */
static int persistent;            /* fail every allocation from fail_at on */

/* 1 if this allocation is to fail (and errno is set, as malloc does). */
static int inject(void)
{
    if (!atomic_load(&armed)) return 0;
    long k = atomic_fetch_add(&seen, 1) + 1;
    if (k == fail_at || (persistent && k > fail_at)) {
        atomic_store(&injected, 1);
        errno = ENOMEM;
        return 1;
    }
    return 0;
}

static void count(long delta)
{
    if (atomic_load(&armed)) atomic_fetch_add(&live, delta);
}

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *ptr, size_t size);
char *__real_strdup(const char *s);
void *__real_aligned_alloc(size_t alignment, size_t size);
void __real_free(void *ptr);
locale_t __real_newlocale(int mask, const char *locale, locale_t base);
void __real_freelocale(locale_t locale);
int __real_csv_init(struct csv_parser *p, unsigned char options);

void *__wrap_malloc(size_t size)
{
    if (inject()) return NULL;
    void *p = __real_malloc(size);
    if (p) count(1);
    return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (inject()) return NULL;
    void *p = __real_calloc(n, size);
    if (p) count(1);
    return p;
}

void *__wrap_realloc(void *ptr, size_t size)
{
    if (inject()) return NULL;
    void *p = __real_realloc(ptr, size);
    if (p && !ptr) count(1);
    return p;
}

void *__wrap_aligned_alloc(size_t alignment, size_t size)
{
    if (inject()) return NULL;
    void *p = __real_aligned_alloc(alignment, size);
    if (p) count(1);
    return p;
}

char *__wrap_strdup(const char *s)
{
    if (inject()) return NULL;
    char *p = __real_strdup(s);
    if (p) count(1);
    return p;
}

void __wrap_free(void *ptr)
{
    if (ptr) count(-1);
    __real_free(ptr);
}

locale_t __wrap_newlocale(int mask, const char *locale, locale_t base)
{
    if (inject()) return (locale_t) 0;
    locale_t l = __real_newlocale(mask, locale, base);
    if (l && !base) count(1);
    return l;
}

void __wrap_freelocale(locale_t locale)
{
    count(-1);
    __real_freelocale(locale);
}

/* libcsv's buffer, through the counter */
static void *csv_realloc_hook(void *ptr, size_t size) { return __wrap_realloc(ptr, size); }
static void csv_free_hook(void *ptr) { __wrap_free(ptr); }

int __wrap_csv_init(struct csv_parser *p, unsigned char options)
{
    int rc = __real_csv_init(p, options);
    if (rc == 0) {
        csv_set_realloc_func(p, csv_realloc_hook);
        csv_set_free_func(p, csv_free_hook);
    }
    return rc;
}

static void *cjson_malloc_hook(size_t size) { return __wrap_malloc(size); }
static void cjson_free_hook(void *ptr) { __wrap_free(ptr); }

/* ---------------------------------------------------------------- driver */

/* A call under test.  mode REFERENCE: run without failures and keep the
 * answer; CHECK: run (failures may be armed) and, if it succeeded, compare
 * with the reference.  It returns the call's status and frees whatever the
 * call handed over.  `usable` (may be NULL) checks, after a failed run, the
 * objects the call was given. */
enum { REFERENCE, CHECK };
typedef struct alloc_case {
    const char *name;
    nw_status (*call)(void *ctx, int mode);
    void (*usable)(void *ctx);
    void *ctx;
} alloc_case;

static const alloc_case *current; /* for messages */

/* Every k up to EVERY_UP_TO is made to fail; a call that makes more
 * (select_bandwidth in 2-d: thousands, a scan of ~400 points that repeats
 * the same evaluation) has the rest sampled, SAMPLED of them evenly spread plus the
 * last TAIL, so that each call stays under a few seconds. */
enum { EVERY_UP_TO = 1000, SAMPLED = 200, TAIL = 50 };

/* One run with allocation k failing (alone, or with every later one). */
static void run_failing(const alloc_case *c, long k, int persist, long total)
{
    fail_at = k;
    persistent = persist;
    atomic_store(&seen, 0);
    atomic_store(&live, 0);
    atomic_store(&injected, 0);
    atomic_store(&armed, 1);
    nw_status st = c->call(c->ctx, CHECK);
    atomic_store(&armed, 0);
    const char *how = persist ? "and every later one" : "alone";
    if (!atomic_load(&injected)) {
        if (k <= total)
            fail_msg("%s: made %ld allocations, not %ld as before", c->name, atomic_load(&seen), total);
        if (st != NW_OK) fail_msg("%s: %s with no allocation failing", c->name, nw_strerror(st));
        return;
    }
    if (k > total) fail_msg("%s: made more than %ld allocations", c->name, total);
    if (st != NW_OK) {
        if (st != NW_ERR_NOMEM)
            fail_msg("%s: allocation %ld of %ld failed (%s): %s, not out of memory", c->name, k,
                     total, how, nw_strerror(st));
        if (atomic_load(&live) != 0)
            fail_msg("%s: allocation %ld failed (%s): %ld allocation%s not freed (or caller's memory freed)",
                     c->name, k, how, atomic_load(&live), labs(atomic_load(&live)) == 1 ? "" : "s");
    }
    if (c->usable) c->usable(c->ctx);
}

/* Run one case: the reference, a count of its allocations, then k = 1, 2,
 * ... total (sampled above EVERY_UP_TO) in both failure modes, and
 * k = total + 1, which must run as the reference did. */
static void drive(const alloc_case *c)
{
    current = c;
    assert_int_equal(c->call(c->ctx, REFERENCE), NW_OK);
    run_failing(c, LONG_MAX, 0, LONG_MAX - 1); /* nothing fails: count */
    long total = atomic_load(&seen), tested = 0;
    for (int persist = 0; persist <= 1; persist++) {
        long step = total > EVERY_UP_TO + TAIL ? (total - EVERY_UP_TO - TAIL) / SAMPLED + 1 : 1;
        for (long k = 1; k <= total; k++) {
            if (k > EVERY_UP_TO && k <= total - TAIL && (k - EVERY_UP_TO) % step != 0) continue;
            run_failing(c, k, persist, total);
            tested += !persist;
        }
        run_failing(c, total + 1, persist, total);
    }
    printf("# %-40s %5ld allocation%s, %ld made to fail\n", c->name, total, total == 1 ? "" : "s",
           tested);
    if (c->usable) c->usable(c->ctx);
    /* ASan build: LeakSanitizer over everything the runs left (a heap scan
     * per case, not per run, to keep the test fast) */
    if (LEAK_CHECK()) fail_msg("%s: LeakSanitizer found a leak (report above)", c->name);
}

/* Bit-for-bit equality, with the first difference printed. */
static int same_bits(const double *a, const double *b, size_t n, const char *what)
{
    if (memcmp(a, b, n * sizeof(double)) == 0) return 1;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(double)) != 0) {
            print_error("%s: %s[%zu]: %.17g, reference %.17g (allocation %ld failed%s)\n",
                        current ? current->name : "", what, i, a[i], b[i], fail_at,
                        persistent ? " and every later one" : "");
            break;
        }
    return 0;
}

/* --------------------------------------------------------------- fixture */

enum { N = 400, M = 600, NS = 30, D2 = 2, P2 = 2 };
static double X1[N], Y1[N], Q1[M];                 /* 1-d, one output */
static double X2[NS * D2], Y2[NS * P2], Q2[M * D2]; /* 2-d, two outputs */

static void make_data(void)
{
    for (int i = 0; i < N; i++) {
        X1[i] = 5.0 * ((i * 7919) % N) / N;
        Y1[i] = 2 * sin(X1[i]) + pow(X1[i], 0.8) + 0.3 * cos(11.0 * i);
    }
    for (int j = 0; j < M; j++) Q1[j] = -0.5 + 6.0 * j / M;
    for (int i = 0; i < NS; i++) {
        X2[i * D2] = 5.0 * ((i * 13) % NS) / NS;
        X2[i * D2 + 1] = sin(1.3 * i);
        Y2[i * P2] = 2 * sin(X2[i * D2]) + 0.5 * X2[i * D2 + 1] + 0.1 * cos(7.0 * i);
        Y2[i * P2 + 1] = X2[i * D2] * X2[i * D2 + 1] - 0.2 * sin(5.0 * i);
    }
    for (int j = 0; j < M; j++) {
        Q2[j * D2] = -0.5 + 6.0 * j / M;
        Q2[j * D2 + 1] = cos(0.7 * j);
    }
}

/* A model from the fixture: 1-d (n = N) or 2-d (n = NS), threads = 1. */
static nw_model *make_model(int two_d, nw_kernel kernel, nw_estimator est)
{
    nw_model *m;
    if (two_d) {
        double h[2] = { 0.8, 0.9 };
        assert_int_equal(nw_model_new(&m, X2, Y2, NS, D2, P2), NW_OK);
        assert_int_equal(nw_model_set_bandwidth(m, h), NW_OK);
    } else {
        double h = 0.3;
        assert_int_equal(nw_model_new(&m, X1, Y1, N, 1, 1), NW_OK);
        assert_int_equal(nw_model_set_bandwidth(m, &h), NW_OK);
    }
    assert_int_equal(nw_model_set_kernel(m, kernel), NW_OK);
    assert_int_equal(nw_model_set_estimator(m, est), NW_OK);
    assert_int_equal(nw_model_set_threads(m, 1), NW_OK);
    return m;
}

/* ------------------------------------------------- read-only model calls */

typedef struct model_ctx {
    nw_model *model;
    const double *q;
    size_t m;
    double *ref, *out;  /* reference and fresh answers */
    size_t len;         /* doubles in an answer */
    int what;           /* which call (enum below) */
} model_ctx;

enum { C_PREDICT, C_PREDICT_INFO, C_ATTENTION, C_LOO_PREDICT, C_LOO_LOSS, C_CRIT_LOO,
       C_CRIT_AICC, C_RULE, C_BASELINE };

static nw_status model_call(void *vctx, int mode)
{
    model_ctx *c = vctx;
    const nw_model *m = c->model;
    size_t n_empty = 0;
    double *out = mode == REFERENCE ? c->ref : c->out;
    nw_run_info info;
    nw_status st = NW_OK;
    memset(out, 0, c->len * sizeof(double));
    switch (c->what) {
    case C_PREDICT: st = nw_predict(m, c->q, c->m, out, &n_empty); break;
    case C_PREDICT_INFO: st = nw_predict_info(m, c->q, c->m, out, &n_empty, &info); break;
    case C_ATTENTION: st = nw_attention(m, c->q, c->m, out); break;
    case C_LOO_PREDICT: st = nw_loo_predict(m, out, &n_empty); break;
    case C_LOO_LOSS: st = nw_loo_loss(m, NULL, out, out + 1, &n_empty); break;
    case C_CRIT_LOO: st = nw_criterion_eval(m, NW_CRITERION_LOO, NULL, out, out + 1); break;
    case C_CRIT_AICC: st = nw_criterion_eval(m, NW_CRITERION_AICC, NULL, out, out + 1); break;
    case C_RULE: st = nw_rule_of_thumb(m, NW_RULE_SILVERMAN, out); break;
    case C_BASELINE: st = nw_baseline(m, out); break;
    }
    if (st == NW_OK && mode == CHECK) {
        if (atomic_load(&injected) && nw_model_engine(m) != NW_ENGINE_DENSE) {
            /* a fast engine that lacked memory for its scratch answers
             * those queries by the dense engine: predictions agree within
             * the certified tolerance (1e-12 relative, the default; 4e-12
             * with rounding), a loss or criterion value too; gradients,
             * differences of such sums, to 1e-8 of their largest entry */
            int was = atomic_exchange(&armed, 0);
            int sums = c->what == C_LOO_LOSS || c->what == C_CRIT_LOO || c->what == C_CRIT_AICC;
            if (!sums) {
                assert_all_close(c->out, c->ref, c->len, 4e-12, 1e-300);
            } else {
                double gmax = 0;
                for (size_t k = 1; k < c->len; k++) gmax = fmax(gmax, fabs(c->ref[k]));
                assert_close(c->out[0], c->ref[0], 4e-12, 1e-300);
                assert_all_close(c->out + 1, c->ref + 1, c->len - 1, 0, 1e-8 * gmax);
            }
            atomic_store(&armed, was);
        } else {
            assert_true(same_bits(c->out, c->ref, c->len, "answer"));
        }
    }
    return st;
}

/* After a failure the model still answers, the same as before. */
static void model_usable(void *vctx)
{
    assert_int_equal(model_call(vctx, CHECK), NW_OK);
}

static void drive_model_call(const char *name, nw_model *model, int what, const double *q,
                             size_t m)
{
    size_t n = nw_model_n(model), d = nw_model_d(model), p = nw_model_p(model), len = 0;
    switch (what) {
    case C_PREDICT: case C_PREDICT_INFO: len = m * p; break;
    case C_ATTENTION: len = m * n; break;
    case C_LOO_PREDICT: len = n * p; break;
    case C_LOO_LOSS: case C_CRIT_LOO: case C_CRIT_AICC: len = 1 + d; break;
    case C_RULE: len = d; break;
    case C_BASELINE: len = p; break;
    }
    model_ctx c = { model, q, m, malloc(len * sizeof(double)), malloc(len * sizeof(double)), len,
                    what };
    assert_non_null(c.ref);
    assert_non_null(c.out);
    alloc_case ac = { name, model_call, model_usable, &c };
    drive(&ac);
    free(c.ref);
    free(c.out);
}

/* Every read-only call on a model, with each engine that applies. */
static void drive_model(const char *label, int two_d, nw_kernel kernel, nw_estimator est)
{
    static const nw_engine_kind engines[] = {
        NW_ENGINE_DENSE, NW_ENGINE_AUTO, NW_ENGINE_SORTED, NW_ENGINE_TREE, NW_ENGINE_FGT,
    };
    const double *q = two_d ? Q2 : Q1;
    for (size_t e = 0; e < sizeof engines / sizeof engines[0]; e++) {
        nw_model *model = make_model(two_d, kernel, est);
        double y[P2];
        assert_int_equal(nw_model_set_engine(model, engines[e]), NW_OK);
        if (nw_predict(model, q, 1, y, NULL) == NW_ERR_ARG) { /* engine does not apply */
            nw_model_free(model);
            continue;
        }
        char name[128];
#define NAME(call) (snprintf(name, sizeof name, "%s %s %s", call, label, nw_engine_name(engines[e])), name)
        drive_model_call(NAME("predict"), model, C_PREDICT, q, M);
        drive_model_call(NAME("predict_info"), model, C_PREDICT_INFO, q, M);
        drive_model_call(NAME("loo_predict"), model, C_LOO_PREDICT, NULL, 0);
        drive_model_call(NAME("loo_loss"), model, C_LOO_LOSS, NULL, 0);
        drive_model_call(NAME("criterion loo"), model, C_CRIT_LOO, NULL, 0);
        drive_model_call(NAME("criterion aicc"), model, C_CRIT_AICC, NULL, 0);
        if (engines[e] == NW_ENGINE_DENSE) {
            drive_model_call(NAME("attention"), model, C_ATTENTION, q, 50);
            drive_model_call(NAME("rule_of_thumb"), model, C_RULE, NULL, 0);
            drive_model_call(NAME("baseline"), model, C_BASELINE, NULL, 0);
        }
#undef NAME
        nw_model_free(model);
    }
}

static void test_model_calls_1d(void **state)
{
    (void) state;
    drive_model("gaussian lc 1-d", 0, NW_KERNEL_GAUSSIAN, NW_ESTIMATOR_CONSTANT);
    drive_model("epanechnikov ll 1-d", 0, NW_KERNEL_EPANECHNIKOV, NW_ESTIMATOR_LINEAR);
}

static void test_model_calls_2d(void **state)
{
    (void) state;
    drive_model("laplace ll 2-d", 1, NW_KERNEL_LAPLACE, NW_ESTIMATOR_LINEAR);
    drive_model("tricube lc 2-d", 1, NW_KERNEL_TRICUBE, NW_ESTIMATOR_CONSTANT);
}

/* --------------------------------------------------- making and changing */

static nw_status new_call(void *ctx, int mode)
{
    (void) ctx;
    nw_model *m = (nw_model *) &m;
    nw_status st = nw_model_new(&m, X2, Y2, NS, D2, P2);
    if (st != NW_OK) {
        assert_null(m);
        return st;
    }
    if (mode == CHECK) {
        assert_int_equal(nw_model_n(m), NS);
        assert_true(same_bits(nw_model_x(m), X2, NS * D2, "x"));
        assert_true(same_bits(nw_model_y(m), Y2, NS * P2, "y"));
    }
    nw_model_free(m);
    return st;
}

static void test_model_new(void **state)
{
    (void) state;
    alloc_case c = { "model_new", new_call, NULL, NULL };
    drive(&c);
}

static const char *const x_old[2] = { "a", "b" }, *const y_old[2] = { "c", "d" };
static const char *const x_new[2] = { "speed", "" }, *const y_new[2] = { "time", "cost" };

/* set_names is all or nothing: after a failure the old names stand. */
static void names_usable(void *ctx)
{
    nw_model *m = ctx;
    assert_string_equal(nw_model_x_name(m, 0), "a");
    assert_string_equal(nw_model_y_name(m, 1), "d");
}

static nw_status names_only_call(void *ctx, int mode)
{
    nw_model *m = ctx;
    nw_status st = nw_model_set_names(m, x_new, y_new);
    if (st == NW_OK) {
        if (mode == CHECK) {
            assert_string_equal(nw_model_x_name(m, 0), "speed");
            assert_string_equal(nw_model_y_name(m, 1), "cost");
        }
        /* back to the old names, unarmed, for the next run */
        int was = atomic_exchange(&armed, 0);
        long live_before = atomic_load(&live);
        assert_int_equal(nw_model_set_names(m, x_old, y_old), NW_OK);
        atomic_store(&live, live_before);
        atomic_store(&armed, was);
    }
    return st;
}

static void test_set_names(void **state)
{
    (void) state;
    nw_model *m = make_model(1, NW_KERNEL_GAUSSIAN, NW_ESTIMATOR_CONSTANT);
    assert_int_equal(nw_model_set_names(m, x_old, y_old), NW_OK);
    alloc_case c = { "model_set_names", names_only_call, names_usable, m };
    drive(&c);
    nw_model_free(m);
}

/* select and train change the model only on success */
typedef struct change_ctx {
    nw_model *model;
    int what;           /* 0: select LOO, 1: select AICc, 2: train SGD, 3: train Adam */
    double h0[D2];      /* bandwidths before */
    double ref[D2];     /* bandwidths after, in the reference run */
} change_ctx;

static nw_status change_call(void *vctx, int mode)
{
    change_ctx *c = vctx;
    size_t d = nw_model_d(c->model);
    double h[D2];
    nw_status st;
    nw_train_options topt;
    nw_select_options sopt;
    nw_select_options_init(&sopt);
    /* few evaluations: the call runs once per allocation it makes */
    sopt.grid_points = 20;
    sopt.starts = 1;
    sopt.max_iter = 10;
    nw_train_options_init(&topt);
    topt.epochs = 3;
    topt.optimizer = c->what == 3 ? NW_OPTIMIZER_ADAM : NW_OPTIMIZER_SGD;
    topt.lr = 0.05;
    switch (c->what) {
    case 0: st = nw_select_bandwidth(c->model, NW_CRITERION_LOO, &sopt, NULL); break;
    case 1: st = nw_select_bandwidth(c->model, NW_CRITERION_AICC, &sopt, NULL); break;
    default: st = nw_train(c->model, &topt, NULL, NULL); break;
    }
    /* leave nothing armed while looking */
    int was = atomic_exchange(&armed, 0);
    assert_int_equal(nw_model_bandwidth(c->model, h), NW_OK);
    if (st == NW_OK) {
        if (mode == REFERENCE) memcpy(c->ref, h, d * sizeof(double));
        else assert_true(same_bits(h, c->ref, d, "bandwidth"));
        assert_int_equal(nw_model_set_bandwidth(c->model, c->h0), NW_OK); /* for the next run */
    } else {
        assert_true(same_bits(h, c->h0, d, "bandwidth after a failed call"));
    }
    atomic_store(&armed, was);
    return st;
}

static void change_usable(void *vctx)
{
    change_ctx *c = vctx;
    double y[2];
    assert_int_equal(nw_predict(c->model, nw_model_x(c->model), 1, y, NULL), NW_OK);
}

static void drive_change(const char *name, int two_d, int what)
{
    change_ctx c = { make_model(two_d, NW_KERNEL_GAUSSIAN, NW_ESTIMATOR_CONSTANT), what, { 0 }, { 0 } };
    if (!two_d) { /* a smaller 1-d model: selection runs many times */
        nw_model_free(c.model);
        double h = 0.3;
        assert_int_equal(nw_model_new(&c.model, X1, Y1, 60, 1, 1), NW_OK);
        assert_int_equal(nw_model_set_bandwidth(c.model, &h), NW_OK);
        assert_int_equal(nw_model_set_threads(c.model, 1), NW_OK);
    }
    assert_int_equal(nw_model_bandwidth(c.model, c.h0), NW_OK);
    alloc_case ac = { name, change_call, change_usable, &c };
    drive(&ac);
    nw_model_free(c.model);
}

/* nw_model_arrange on a fresh model each run (made and freed unarmed):
 * after a failure the points are as they were, bit for bit; after success
 * as the reference run put them. */
typedef struct arrange_ctx {
    int two_d;
    nw_kernel kernel;
    nw_engine_kind engine;
    double *ref_x, *ref_y;      /* the reference arrangement */
} arrange_ctx;

static nw_status arrange_call(void *vctx, int mode)
{
    arrange_ctx *c = vctx;
    int was = atomic_exchange(&armed, 0);
    nw_model *m = make_model(c->two_d, c->kernel, NW_ESTIMATOR_LINEAR);
    assert_int_equal(nw_model_set_engine(m, c->engine), NW_OK);
    const size_t n = nw_model_n(m), d = nw_model_d(m), p = nw_model_p(m);
    atomic_store(&armed, was);
    int moved = -1;
    nw_status st = nw_model_arrange(m, 1000, &moved);
    was = atomic_exchange(&armed, 0);
    if (st != NW_OK) {
        assert_int_equal(moved, 0);
        assert_true(same_bits(nw_model_x(m), c->two_d ? X2 : X1, n * d, "x after a failed arrange"));
        assert_true(same_bits(nw_model_y(m), c->two_d ? Y2 : Y1, n * p, "y after a failed arrange"));
    } else if (mode == REFERENCE) {
        assert_int_equal(moved, 1);
        memcpy(c->ref_x, nw_model_x(m), n * d * sizeof(double));
        memcpy(c->ref_y, nw_model_y(m), n * p * sizeof(double));
    } else {
        assert_int_equal(moved, 1);
        assert_true(same_bits(nw_model_x(m), c->ref_x, n * d, "x"));
        assert_true(same_bits(nw_model_y(m), c->ref_y, n * p, "y"));
    }
    nw_model_free(m);
    atomic_store(&armed, was);
    return st;
}

static void test_arrange(void **state)
{
    (void) state;
    static const struct { const char *name; int two_d; nw_kernel kernel; nw_engine_kind engine; } cases[] = {
        { "arrange 1-d sorted", 0, NW_KERNEL_EPANECHNIKOV, NW_ENGINE_SORTED },
        { "arrange 1-d tree", 0, NW_KERNEL_TRICUBE, NW_ENGINE_TREE },
        { "arrange 2-d fgt", 1, NW_KERNEL_GAUSSIAN, NW_ENGINE_FGT },
    };
    double rx[N * D2], ry[N * P2];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        arrange_ctx c = { cases[i].two_d, cases[i].kernel, cases[i].engine, rx, ry };
        alloc_case ac = { cases[i].name, arrange_call, NULL, &c };
        drive(&ac);
    }
}

static void test_select_and_train(void **state)
{
    (void) state;
    drive_change("select_bandwidth aicc 1-d", 0, 1);
    drive_change("select_bandwidth loo 2-d", 1, 0);
    drive_change("train sgd 1-d", 0, 2);
    drive_change("train adam 2-d", 1, 3);
}

/* ----------------------------------------------------------------- files */

static const char csv_text[] =
    "x,\"y, in m\",z\n0.5,1,2\n1.5,-2,3e-3\n2.5,4,5\n";

typedef struct file_ctx {
    const char *path;   /* in test_dir */
    int what;           /* 0 read, 1 read_with, 2 csv_write, 3 csv_write_digits, 4 save, 5 load,
                           6 load version 3, 7 load a version-2 file, 8 version 3 from a pipe */
    nw_model *model;    /* for save; for 6, the model saved */
    char *before;       /* the target's content before a write (NULL: absent) */
} file_ctx;

/* The target's state after a write: as before (absent, or the old
 * content) when the write failed, and no temporary file beside it. */
static void check_target(const file_ctx *c, nw_status st)
{
    int was = atomic_exchange(&armed, 0); /* slurp allocates */
    char *now = slurp(c->path);
    if (st != NW_OK) {
        if (c->before) {
            assert_non_null(now);
            assert_string_equal(now, c->before);
        } else {
            assert_null(now);
        }
    }
    free(now);
    assert_int_equal(count_entries(test_dir), st == NW_OK || c->before ? 1 : 0);
    atomic_store(&armed, was);
}

/* m holds the same points as want, bit for bit. */
static void check_same_data(const nw_model *m, const nw_model *want)
{
    size_t n = nw_model_n(want);
    assert_int_equal(nw_model_n(m), n);
    assert_true(same_bits(nw_model_x(m), nw_model_x(want), n, "x"));
    assert_true(same_bits(nw_model_y(m), nw_model_y(want), n, "y"));
}

static nw_status file_call(void *vctx, int mode)
{
    file_ctx *c = vctx;
    nw_diag diag = { { 0 }, 0, 0 };
    nw_table *t = (nw_table *) &diag;
    nw_model *m = (nw_model *) &diag;
    nw_status st = NW_OK;
    static const double data[6] = { 1, 2.5, -3, 0.1, 1e300, 7 };
    static const char *const names[2] = { "a, b", "c" };
    nw_table_read_opts opts;
    if (c->what >= 2 && c->what <= 4 && !c->before) unlink(c->path); /* onto no file */
    switch (c->what) {
    case 0:
    case 1:
        nw_table_read_opts_init(&opts);
        opts.comment = '#';
        st = c->what == 0 ? nw_table_read(c->path, &t, &diag)
                          : nw_table_read_with(c->path, &opts, &t, &diag);
        if (st != NW_OK) { assert_null(t); break; }
        if (mode == CHECK) {
            assert_int_equal(nw_table_rows(t), 3);
            assert_int_equal(nw_table_cols(t), 3);
            assert_string_equal(nw_table_name(t, 1), "y, in m");
            assert_true(nw_table_data(t)[5] == 3e-3);
        }
        nw_table_free(t);
        break;
    case 2: st = nw_csv_write(c->path, names, data, 3, 2, &diag); break;
    case 3: st = nw_csv_write_digits(c->path, names, data, 3, 2, 6, &diag); break;
    case 4: st = nw_model_save(c->model, c->path, &diag); break;
    case 5:
        st = nw_model_load(&m, c->path, &diag);
        if (st != NW_OK) { assert_null(m); break; }
        if (mode == CHECK) {
            assert_int_equal(nw_model_n(m), NS);
            assert_true(same_bits(nw_model_x(m), X2, NS * D2, "x"));
            assert_string_equal(nw_model_y_name(m, 1), "cost");
        }
        nw_model_free(m);
        break;
    case 6: /* the data read after the header line, the arrays taken over */
        st = nw_model_load(&m, c->path, &diag);
        if (st != NW_OK) { assert_null(m); break; }
        if (mode == CHECK) check_same_data(m, c->model);
        nw_model_free(m);
        break;
    case 8: { /* version 3 through a pipe: the arrays grow as bytes come */
        int was = atomic_exchange(&armed, 0);   /* popen allocates */
        char cmd[600], fdpath[64];
        snprintf(cmd, sizeof cmd, "cat '%s'", c->path);
        FILE *pp = popen(cmd, "r");
        assert_non_null(pp);
        snprintf(fdpath, sizeof fdpath, "/dev/fd/%d", fileno(pp));
        atomic_store(&armed, was);
        st = nw_model_load(&m, fdpath, &diag);
        was = atomic_exchange(&armed, 0);
        pclose(pp);
        atomic_store(&armed, was);
        if (st != NW_OK) { assert_null(m); break; }
        if (mode == CHECK) check_same_data(m, c->model);
        nw_model_free(m);
        break;
    }
    case 7: /* version 2 (still read): the base64 strings decoded */
        st = nw_model_load(&m, c->path, &diag);
        if (st != NW_OK) { assert_null(m); break; }
        if (mode == CHECK) {
            const double x[2] = { 0, 1 }, y[2] = { 1, 3 };
            assert_int_equal(nw_model_n(m), 2);
            assert_true(same_bits(nw_model_x(m), x, 2, "x"));
            assert_true(same_bits(nw_model_y(m), y, 2, "y"));
        }
        nw_model_free(m);
        break;
    }
    if (st != NW_OK && st != NW_ERR_NOMEM) print_error("diag: %s\n", diag.message);
    if (c->what >= 2 && c->what <= 4) check_target(c, st);
    return st;
}

static void drive_file(const char *name, int what, nw_model *model)
{
    remove_tree(test_dir);
    assert_int_equal(mkdir(test_dir, 0700), 0);
    file_ctx c = { NULL, what, model, NULL };
    if (what < 2) {
        c.path = make_file("in.csv", csv_text);
    } else if (what == 7) {
        c.path = make_file("v2.json",
                           "{\"format\": \"nwreg-model\", \"version\": 2, \"encoding\": \"f64le-base64\",\n"
                           " \"kernel\": \"gaussian\", \"estimator\": \"lc\", \"n\": 2, \"d\": 1, \"p\": 1,\n"
                           " \"bandwidth\": [0.25], \"x\": \"AAAAAAAAAAAAAAAAAADwPw==\",\n"
                           " \"y\": \"AAAAAAAA8D8AAAAAAAAIQA==\"}\n");
    } else if (what >= 5) {
        c.path = in_dir("model.json");
        assert_int_equal(nw_model_save(model, c.path, NULL), NW_OK);
    } else {
        c.path = in_dir("out.file");
    }
    const char *path = strdup(c.path);
    c.path = path;
    if (what >= 2 && what <= 4) {
        /* first onto no file (before = NULL), then over an existing one */
        alloc_case ac = { name, file_call, NULL, &c };
        drive(&ac);
        c.before = slurp(c.path);
        assert_non_null(c.before);
        drive(&ac);
        free(c.before);
    } else {
        alloc_case ac = { name, file_call, NULL, &c };
        drive(&ac);
    }
    free((void *) path);
}

static void test_files(void **state)
{
    (void) state;
    nw_model *m = make_model(1, NW_KERNEL_BIWEIGHT, NW_ESTIMATOR_LINEAR);
    assert_int_equal(nw_model_set_names(m, x_new, y_new), NW_OK);
    drive_file("table_read", 0, NULL);
    drive_file("table_read_with", 1, NULL);
    drive_file("csv_write", 2, NULL);
    drive_file("csv_write_digits", 3, NULL);
    drive_file("model_save", 4, m);
    drive_file("model_load", 5, m);
    nw_model_free(m);
    /* 2 x 32769 values: saved as version 3 */
    enum { NV2 = 32769 };
    double *v = malloc(2 * NV2 * sizeof *v);
    assert_non_null(v);
    for (int i = 0; i < 2 * NV2; i++) v[i] = sin(0.001 * i) * 1e300;
    assert_int_equal(nw_model_new(&m, v, v + NV2, NV2, 1, 1), NW_OK);
    free(v);
    drive_file("model_save (version 3)", 4, m);
    drive_file("model_load (version 3)", 6, m);
    drive_file("model_load (version 2)", 7, NULL);
    nw_model_free(m);
    /* 2 x 150000 values through a pipe: x grows from 1 MiB to 1.2 MB */
    enum { NV3 = 150000 };
    v = malloc(2 * NV3 * sizeof *v);
    assert_non_null(v);
    for (int i = 0; i < 2 * NV3; i++) v[i] = cos(0.001 * i) * 1e-300;
    assert_int_equal(nw_model_new(&m, v, v + NV3, NV3, 1, 1), NW_OK);
    free(v);
    drive_file("model_load (version 3, a pipe)", 8, m);
    nw_model_free(m);
}

int main(void)
{
    make_data();
    cJSON_Hooks hooks = { cjson_malloc_hook, cjson_free_hook };
    cJSON_InitHooks(&hooks);
    if (getenv("NW_TEST_FILTER")) cmocka_set_test_filter(getenv("NW_TEST_FILTER")); /* e.g. test_files */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_new),
        cmocka_unit_test(test_set_names),
        cmocka_unit_test(test_model_calls_1d),
        cmocka_unit_test(test_model_calls_2d),
        cmocka_unit_test(test_select_and_train),
        cmocka_unit_test(test_arrange),
        cmocka_unit_test_setup_teardown(test_files, tmpdir_setup, tmpdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
