/*
 * engine.h: the one narrow interface between estimators and the ways of
 * computing kernel sums.
 *
 * At a query q, with scales w_k = 1/h_k, u_jk = (q_k - x_jk) w_k and the
 * product kernel weight K_j = prod_k K(u_jk), an engine returns the moments
 *
 *     A   = sum_j K_j phi_j phi_j^T                  (r x r)
 *     B   = sum_j K_j phi_j y_j^T                    (r x p)
 *     dA_k = sum_j K_j rho(u_jk) phi_j phi_j^T       (r x r, per input k)
 *     dB_k = sum_j K_j rho(u_jk) phi_j y_j^T         (r x p, per input k)
 *
 * with phi_j = (1) for local constant (r = 1) and phi_j = (1, u_j1..u_jd)
 * for local linear (r = d + 1), and rho(u) = u K'(u)/K(u), so that
 * dK_j/dw_k = K_j rho(u_jk) / w_k: the derivative moments are what the
 * bandwidth gradient needs.  One training index `skip` may be left out
 * (leave-one-out).
 *
 * All sums are carried in scaled form: the stored values are the true sums
 * times exp(-logscale).  For the log kernels logscale is the largest
 * log-weight seen (online softmax), so the largest term is 1 (exactly, but
 * for the dense engine's prepared Gaussian paths, whose pre-scaled
 * exponent gives it to a few ulps; exactly again for a query on a key) and
 * no sum can overflow or underflow to 0; for compact kernels logscale = 0.
 * Partial sums (m1, S1), (m2, S2) merge as (max, S1 e^{m1-max} + S2 e^{m2-max}).
 */
#ifndef NW_ENGINE_H
#define NW_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "nwreg.h"

#define NW_NO_SKIP ((size_t) -1)

typedef struct nw_problem {
    const double *x;    /* n x d keys */
    const double *y;    /* n x p values */
    size_t n, d, p;
    nw_kernel kernel;
    const double *w;    /* d scales (nonzero) */
    int linear;         /* 0: r = 1, 1: r = d + 1 */
    int grad;           /* 1: also the derivative moments */
    int f32;            /* dense engine: single-precision sums (nw_precision) */
    int threads;        /* most threads an engine's own parallel loops may use
                           (the model's setting or OpenMP's default; >= 1) */
    /* the dense engine's prepared keys (nw_dense_prepare), set by
     * nw_engine_new for the dense kind; NULL: nw_engine_dense works without
     * (it then finds the largest weight per tile) */
    const struct nw_dense_state *dense;
    /* NULL: an approximate engine certifies each prediction's relative
     * error, |yhat' - yhat| <= tol |yhat| per output.  Else p values s_c >= 0
     * and the certificate is |yhat' - yhat| <= tol max(|yhat_c|, s_c):
     * a criterion's passes (NW_PASS_CRITERION in loo.h), where a prediction
     * near 0 matters to the loss only through its absolute error */
    const double *floor;
    /* 1: the caller builds an engine's regions before asking for moments
     * in them (nw_engine.regions: nw_predict_info), so an engine may keep
     * its tables a group of regions at a time; 0 (nw_problem_init): it
     * keeps them all */
    int regions;
    /* the model's memory budget for the engines' tables in bytes
     * (nw_model_set_memory; INFINITY for an engine the caller named that
     * cannot keep within it); 0: the default, nw_memory_budget */
    double memory;
} nw_problem;

/* pb->threads, or OpenMP's default where it is 0 (a problem made without
 * nw_problem_init, as some tests do). */
static inline int nw_pb_threads(const nw_problem *pb)
{
#ifdef _OPENMP
    return pb->threads > 0 ? pb->threads : omp_get_max_threads();
#else
    return 1;
#endif
}

typedef struct nw_moments {
    size_t r;
    double logscale;    /* -INFINITY while no term has been added */
    double *A, *B, *dA, *dB;
    /* scratch for one tile of keys */
    double *score, *weight, *u, *rho;
    /* scratch for nw_solve: Cholesky factor (r x r), beta (r x p), a (r), z (r) */
    double *work;
    double *shift;      /* d values: the centre of the slope columns */
    double *feat;       /* scratch: per-tile features and weights */
    /* Approximate engines: absolute bounds on the error of A and B (same
     * layout and scale as A and B) and approx = 1; exact engines set
     * approx = 0 and leave them alone. */
    double *errA, *errB;
    int approx;
    /* an engine's own per-thread scratch, made on first use by that engine
     * and freed (with free_scratch) by nw_moments_free */
    void *scratch;
    void (*free_scratch)(void *scratch);
} nw_moments;

/* Allocate moments and scratch for a problem (one per thread). */
nw_status nw_moments_new(const nw_problem *pb, nw_moments **mo);
void nw_moments_free(nw_moments *mo);

/* Compute the moments at query q (d values), leaving out index skip
 * (NW_NO_SKIP for none).  Exact, dense, O(n d).  For local linear the slope
 * columns are phi_jk = u_jk - mo->shift[k] (shift = 0 unless a caller set
 * it: see nw_estimate_at). */
void nw_engine_dense(const nw_problem *pb, const double *q, size_t skip,
                     nw_moments *mo);

/* The dense engine's preparation for about m queries of pb (engine_dense.c):
 * for d = 1 and 2, p = 1, the Gaussian and Laplace kernels, the keys sorted
 * (d = 1) or bucketed in a grid (d = 2), so that each query finds its
 * nearest key, the largest weight, by a search instead of a pass over the
 * keys, and, for f32, y rounded to float.  lean (d = 2): no copy of the
 * keys and no grid (a fast engine's fallback, beside the engine's own copy:
 * at n = 1e6 the grid's 28 MB pushed a 2-d prediction to 2.5x its arrays);
 * the nearest key then comes from a pass over pb's keys, and the sums read
 * them as they are (AoS, ~15 % slower than the grid's two arrays).  *out
 * = NULL where that does not apply or would not pay for itself (few
 * queries); NW_ERR_NOMEM.  Results with and without it agree to rounding. */
typedef struct nw_dense_state nw_dense_state;
nw_status nw_dense_prepare(const nw_problem *pb, size_t m, int lean, nw_dense_state **out);
/* Memory.  A prediction's peak is to stay within twice its arrays (x, y,
 * q and yhat: 8 (n + m)(d + p) bytes), the model's and the queries' own
 * taking one share: so where an engine's tables can be kept smaller at some
 * cost (the 2-d FGT's coefficients streamed, the dense engine's grid left
 * out), they are kept within half the other share, or 16 MiB where that is
 * more (a small problem: the process's own few MB are as much).  In bytes;
 * pb->memory instead where the model sets one (nw_model_set_memory). */
static inline double nw_memory_budget(const nw_problem *pb, size_t m)
{
    if (pb->memory > 0) return pb->memory;
    double half = 4.0 * ((double) pb->n + (double) m) * (double) (pb->d + pb->p);
    return half > 0x1p24 ? half : 0x1p24;
}

/* The tables without which an engine cannot run at all (the 2-d FGT's
 * moments, beside its smallest group of coefficients) may take more, up
 * to 64 MiB, where the arrays are small: at n = m = 1e5 in 2-d, h = 0.2
 * (Scott's rule there), the moments take 19 MB against 4.8 MB of arrays,
 * and the engine that fits 16 MiB, the dense one, took 3.0 s and 12 MB
 * where the FGT takes 0.22 s and 35 MB (whole predict runs; 2-d fit
 * --select loo at n = 1e5: 865 s and 34 MB, 255 s and 72 MB).  Above 128
 * MiB of arrays this is nw_memory_budget, and the
 * tables that only save a little time (the coefficients' groups, the
 * dense grid) keep to that one whatever the arrays.  pb->memory bounds
 * both where the model sets one. */
static inline double nw_memory_enable(const nw_problem *pb, size_t m)
{
    double budget = nw_memory_budget(pb, m);
    return pb->memory > 0 || budget > 0x1p26 ? budget : 0x1p26;
}

/* 1 if nw_dense_prepare(pb, m, ...) would prepare anything (d = 1 and 2,
 * p = 1, the log kernels, enough queries). */
int nw_dense_prepares(const nw_problem *pb, size_t m);
/* The order of pb's keys that nw_dense_prepare(pb, m, 0, ...) reads in
 * place (d = 1: sorted; d = 2: by its grid's cell, where its copy of the
 * keys would pass nw_memory_budget: read in place, interleaved, its sums
 * take ~18 % longer), as engine.h's arrange: 1 and order filled, 0 where
 * nothing is prepared (or d = 2 within the budget), -1 out of memory. */
int nw_dense_arrange(const nw_problem *pb, size_t m, uint32_t *order);
void nw_dense_state_free(void *state);

/* ------------------------------------------------------------ engines
 *
 * An engine is prepared once per problem (sorting keys, building a tree or
 * expansions: whatever does not depend on the query), then asked for the
 * moments at any number of queries, from any number of threads at once
 * (each thread with its own nw_moments).  Contract of `moments`:
 *   - fill mo->A, B (and dA, dB when pb->grad) at q, in scaled form with
 *     mo->logscale, exactly as nw_engine_dense does, leaving out index skip;
 *   - set mo->approx = 1 and fill mo->errA, errB with absolute bounds on the
 *     error of A and B (the moments' truncation and pruning errors; the
 *     derivative moments need no bound), or set mo->approx = 0 if exact;
 *   - local linear: slope columns u - mo->shift with mo->shift = 0 (the
 *     estimator recentres through the dense engine when it must);
 *   - allocate nothing per query (use mo->scratch, made once per thread).
 * The estimator (nw_estimate_at) turns the bounds into a bound on each
 * prediction and recomputes with the dense engine where it misses pb's
 * tolerance. */
typedef struct nw_engine nw_engine;
typedef void (*nw_engine_moments_fn)(const nw_engine *e, const double *q,
                                     size_t skip, nw_moments *mo);
struct nw_engine {
    nw_engine_kind kind;     /* never NW_ENGINE_AUTO */
    const nw_problem *pb;    /* = &problem */
    nw_problem problem;      /* the caller's, f32 cleared for the fast engines
                                (they work in f64, more exactly than f32) */
    double tol;              /* certified relative error per prediction */
    size_t m;                /* queries expected (for choices inside an engine) */
    double cost;             /* estimated work of the m queries, in dense kernel
                                evaluations (how many threads pay, nw_threads) */
    void *state;             /* the engine's prepared data */
    nw_engine_moments_fn moments;
    /* optional: a slower, tighter `moments` (e.g. direct sums over the keys
     * that matter) that the estimator tries before the dense engine when
     * the bound of `moments` misses the tolerance or local linear must be
     * recentred: it honours mo->shift; NULL if none */
    nw_engine_moments_fn moments_exact;
    void (*free_state)(void *state);
    /* The last resort of nw_estimate_at, where a fast engine's sums miss
     * the tolerance: the dense engine, on keys prepared once enough
     * queries have needed it (nw_engine_fallback; fast engines only). */
    pthread_mutex_t fallback_lock;
    int fallback_lock_made;
    atomic_size_t fallback_count;   /* queries that fell back so far */
    atomic_int fallback_ready;      /* fallback is set (with its keys or without) */
    nw_problem fallback;
    nw_dense_state *fallback_dense;
    /* Regions (pb->regions only; regions = 0: none): an engine whose
     * tables are built a group of regions at a time (the 2-d FGT's local
     * mode where all its coefficients would pass the memory budget: a
     * region is a column of target boxes).  region_of(e, q) is q's region
     * (regions: none, any time), region_build(e, r0, r1) builds regions
     * [r0, r1), at most region_group of them, and drops the others
     * (NW_ERR_NOMEM; not while moments run: the caller runs it between
     * its passes over the queries).  Moments at a query outside the built
     * regions are as right, computed the slower way. */
    size_t regions, region_group;
    size_t (*region_of)(const nw_engine *e, const double *q);
    nw_status (*region_build)(nw_engine *e, size_t r0, size_t r1);
};

/* The tolerance of f32 predictions through a fast engine (at least; the
 * model's where that is looser): certified, ~8 f32 ulps.  The f32 dense
 * engine's sums have their own stated bound (NW_F32_ERROR_BOUND). */
#define NW_F32_TOLERANCE 1e-6

/* Prepare engine `kind` for pb and about m queries (AUTO: the cheapest by
 * the engines' cost estimates).  NW_ERR_ARG if the engine does not apply
 * (e.g. sorted with d > 1), NW_ERR_NOMEM.  pb must outlive the engine. */
nw_status nw_engine_new(const nw_problem *pb, nw_engine_kind kind, double tol,
                        size_t m, nw_engine **out);
void nw_engine_free(nw_engine *e);
/* The problem whose dense sums nw_estimate_at falls back to: e->pb, or,
 * once FALLBACK_PREPARE queries of a fast engine have fallen back, the
 * same problem with the dense engine's prepared keys (nw_dense_prepare,
 * lean: the nearest key by a pass, then one fused loop, ~3x the general
 * path at d = 2, and no copy of the keys), made once under e's lock.  Safe
 * from any number of threads. */
const nw_problem *nw_engine_fallback(const nw_engine *e);
/* 1 if engine `kind` can compute pb's sums (cost estimate finite). */
int nw_engine_applies(const nw_problem *pb, nw_engine_kind kind);
/* The engine nw_engine_new(pb, kind, tol, m) would make (never AUTO), or
 * NW_ENGINE_COUNT if `kind` does not apply; nothing is built. */
nw_engine_kind nw_engine_choice(const nw_problem *pb, nw_engine_kind kind, double tol, size_t m);
/* The moments at q by engine e (the dense engine when e->kind is dense). */
void nw_engine_moments(const nw_engine *e, const double *q, size_t skip,
                       nw_moments *mo);

/* One entry per approximate engine (engine_*.c).  init fills e->state,
 * e->moments and e->free_state, or returns NW_ERR_ARG if it does not apply
 * to e->pb; cost estimates the work of m queries in units of one dense
 * kernel evaluation at tolerance tol (INFINITY if it does not apply). */
typedef struct nw_engine_impl {
    nw_engine_kind kind;
    nw_status (*init)(nw_engine *e);
    double (*cost)(const nw_problem *pb, size_t m, double tol);
    /* optional (NULL: none): the order in which init, for the same pb, m
     * and tol, would copy the keys into its own arrays -- order[k] = the
     * key it puts k-th, a stable order -- returning 1, or 0 where this
     * problem's engine keeps no such copy.  Keys that already lie in that
     * order (order[k] = k) are read in place by init, without the copy.
     * NW_ERR_NOMEM as a negative return: -1. */
    int (*arrange)(const nw_problem *pb, size_t m, double tol, uint32_t *order);
} nw_engine_impl;

/* The order of pb's keys that the engine nw_engine_new(pb, kind, tol, m)
 * would make reads in place (impl->arrange above; the sorted engine's,
 * the keys by x, is also the order the 1-d sweeps read in place): *done =
 * 1 and order (n entries) filled, or *done = 0 where that engine copies
 * nothing (the dense engine; n < 2; more than 2^32 keys).  NW_ERR_ARG for
 * an engine that does not apply, NW_ERR_NOMEM.  (arrange.c puts a model's
 * points in this order: nw_model_arrange.) */
nw_status nw_engine_arrangement(const nw_problem *pb, nw_engine_kind kind, double tol,
                                size_t m, uint32_t *order, int *done);

extern const nw_engine_impl nw_engine_fgt_impl;     /* engine_fgt.c */
/* its d = 2 transform (engine_fgt2.c): cost and init as above, which
 * engine_fgt.c's entry dispatches to when pb->d == 2 */
double nw_fgt2_cost(const nw_problem *pb, size_t m, double tol);
nw_status nw_fgt2_init(nw_engine *e);
/* and its arrange (engine_fgt2.c: the keys box by box) */
int nw_fgt2_arrange(const nw_problem *pb, size_t m, double tol, uint32_t *order);
/* What the 2-d transform does for a problem (engine_fgt2.c, nw_fgt2_plan_for):
 * the mode, the grid, the terms and reach, and the build that runs it --
 * rows of 32 doubles, or of NW_FGT2_NARROW_PP (engine_fgt2_narrow.c: the
 * same code built again) for the local mode with at most that many terms
 * (loose tolerances, f32): the same results, bit for bit, with a third
 * less memory and work.  nw_fgt2_init makes the plan and runs it in its
 * build; nw_fgt2_init_wide runs it in the 32-double build whatever P is
 * (for the tests). */
#define NW_FGT2_NARROW_PP 20
typedef struct nw_fgt2_plan {
    int local;      /* 1: local mode; 0: per query */
    int coarse;     /* 1: boxes twice as wide (beta in [1, 2)), local mode only */
    size_t P;       /* Taylor terms per input */
    int R;          /* local mode: boxes gathered per input */
    size_t rows;    /* row width of the build that runs it: NW_FGT2_NARROW_PP or 32 */
    double cost;    /* estimated work in dense kernel evaluations; INFINITY: n/a */
} nw_fgt2_plan;
void nw_fgt2_plan_for(const nw_problem *pb, size_t m, double tol, nw_fgt2_plan *plan);
nw_status nw_fgt2_init_narrow(nw_engine *e, const nw_fgt2_plan *plan);
nw_status nw_fgt2_init_wide(nw_engine *e);

extern const nw_engine_impl nw_engine_tree_impl;    /* engine_tree.c */

extern const nw_engine_impl nw_engine_sorted_impl;  /* engine_sorted.c */

/* What the estimator makes of the moments at one query. */
typedef struct nw_estimate {
    double *yhat;   /* p values (out) */
    double *dyhat;  /* d x p: d yhat_c / d w_k (out, if the problem has grad; may be NULL) */
    double a00;     /* z^T A^-1 z of the scaled sums (z = e_1 when unshifted):
                       the hat-matrix diagonal is a00 * exp(-logscale) */
    int empty;      /* 1: every weight was zero: yhat is NaN */
    double pivot;   /* local linear: smallest relative Cholesky pivot (1 = perfect) */
    double bound;   /* certified relative error of yhat (0: exact engine) */
    int fallback;   /* 1: recomputed by the dense engine (bound missed tol) */
} nw_estimate;

/* Moments and estimate at one query, in one call: for local linear, when
 * the raw moments are ill-conditioned (the weighted mean of u far from 0
 * relative to its spread, as for a query far outside the data), the sums
 * are recomputed about their weighted mean, which gives the centred solve's
 * accuracy. */
void nw_estimate_at(const nw_engine *eng, const double *q, size_t skip,
                    nw_moments *mo, nw_estimate *est);

/* Solve the moments into an estimate (local constant: ratios; local linear:
 * a Cholesky solve of A, falling back to the local-constant ratio when the
 * local design is rank-deficient). */
void nw_solve(const nw_problem *pb, nw_moments *mo, nw_estimate *est);

#endif
