/*
 * engine.c: choosing and preparing the engine that computes the kernel sums
 * (engine.h).  The dense engine's preparation is its keys sorted or gridded
 * (nw_dense_prepare, where it pays); the approximate ones
 * (engine_*.c) register an entry in `impls` with their constructor and a
 * cost estimate, and NW_ENGINE_AUTO takes the cheapest that applies.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine.h"
#include "kernels.h"

static const nw_engine_impl *const impls[] = {
    &nw_engine_fgt_impl,
    &nw_engine_tree_impl,
    &nw_engine_sorted_impl,
    NULL /* end */
};

static const nw_engine_impl *find_impl(nw_engine_kind kind)
{
    for (size_t i = 0; impls[i]; i++)
        if (impls[i]->kind == kind) return impls[i];
    return NULL;
}

/* Below this many pairs the dense engine's simplicity wins whatever the
 * estimates say (preparing a fast engine costs a sort or a tree). */
#define DENSE_ALWAYS_PAIRS 2e5

/* The engine nw_engine_new takes for pb (its f64 form), `kind` and about m
 * queries at tolerance tol (already raised for f32), and its cost
 * estimate; NULL: the dense engine.  *applies = 0 if a named engine does
 * not apply.  *unbudgeted = 1 where a named engine can only run beyond the
 * memory budget (engine.h): named, it takes what it needs (with the budget,
 * `--engine fgt` at n = m = 1e5, h = 0.2 in 2-d failed with "invalid
 * argument"), so its problem's memory is then INFINITY. */
static const nw_engine_impl *pick_impl(const nw_problem *pb, nw_engine_kind kind, double tol,
                                       size_t m, double *cost, int *applies, int *unbudgeted)
{
    *unbudgeted = 0;
    /* the fast engines always work in f64 (f32 is the dense engine's
     * arithmetic); a cost is asked of the f64 problem */
    nw_problem f64 = *pb;
    f64.f32 = 0;
    const nw_engine_impl *impl = NULL;
    *applies = 1;
    /* the f32 dense sums (log kernels, d <= 2, p = 1: the rest runs in
     * double) are ~2x faster than f64 in 1-d, ~1.65x in 2-d
     * (bench_throughput, n = m = 1e4, one thread: 4.78e9 against 2.38e9
     * pairs a second; 3.52e9 against 2.11e9); this said 4x, and AUTO took
     * them, uncertified, where the 2-d FGT certifies 1e-6 in 0.7x their
     * time (n = m = 1e4, h = 0.2) */
    double f32_speed = pb->f32 && kernel_is_log(pb->kernel) && pb->p == 1 ? (pb->d == 1 ? 2.0 : pb->d == 2 ? 1.65 : 1) : 1;
    double pairs = (double) pb->n * (double) m, best = pairs / f32_speed;
    if (kind == NW_ENGINE_AUTO) {
        /* a fast engine is taken when it beats the dense sums */
        if (pairs > DENSE_ALWAYS_PAIRS) {
            for (size_t i = 0; impls[i]; i++) {
                double c = impls[i]->cost(&f64, m, tol);
                if (c < best) { best = c; impl = impls[i]; }
            }
        }
    } else if (kind != NW_ENGINE_DENSE) {
        if (!nw_engine_applies(pb, kind)) {
            *applies = 0;
            return NULL;
        }
        impl = find_impl(kind);
        best = impl->cost(&f64, m, tol);
        if (!(best < INFINITY)) {
            f64.memory = INFINITY;
            best = impl->cost(&f64, m, tol);
            *unbudgeted = 1;
        }
    }
    *cost = best;
    return impl;
}

/* f32 predictions: the fast engines certify single precision's few ulps,
 * not the model's f64 tolerance (a looser tol costs less: fewer expansion
 * terms, a smaller reach) */
static double engine_tol(const nw_problem *pb, double tol)
{
    return pb->f32 && tol < NW_F32_TOLERANCE ? NW_F32_TOLERANCE : tol;
}

nw_engine_kind nw_engine_choice(const nw_problem *pb, nw_engine_kind kind, double tol, size_t m)
{
    double cost;
    int applies, unbudgeted;
    if ((unsigned) kind >= NW_ENGINE_COUNT) return NW_ENGINE_COUNT;
    const nw_engine_impl *impl = pick_impl(pb, kind, engine_tol(pb, tol), m, &cost, &applies, &unbudgeted);
    if (!applies) return NW_ENGINE_COUNT;
    return impl ? impl->kind : NW_ENGINE_DENSE;
}

nw_status nw_engine_arrangement(const nw_problem *pb, nw_engine_kind kind, double tol,
                                size_t m, uint32_t *order, int *done)
{
    double cost;
    int applies, unbudgeted;
    *done = 0;
    if ((unsigned) kind >= NW_ENGINE_COUNT) return NW_ERR_ARG;
    tol = engine_tol(pb, tol);
    const nw_engine_impl *impl = pick_impl(pb, kind, tol, m, &cost, &applies, &unbudgeted);
    if (!applies) return NW_ERR_ARG;
    if (pb->n < 2 || pb->n > UINT32_MAX) return NW_OK;
    if (!impl) {
        /* the dense engine's prepared keys: sorted (d = 1) or by grid cell
         * (d = 2), read in place where they lie so */
        int r = nw_dense_arrange(pb, m, order);
        if (r < 0) return NW_ERR_NOMEM;
        *done = r;
        return NW_OK;
    }
    if (!impl->arrange) return NW_OK;
    /* the engines run on the f64 problem (nw_engine_new) */
    nw_problem f64 = *pb;
    f64.f32 = 0;
    f64.dense = NULL;
    if (unbudgeted) f64.memory = INFINITY;
    int r = impl->arrange(&f64, m, tol, order);
    if (r < 0) return NW_ERR_NOMEM;
    *done = r;
    return NW_OK;
}

nw_status nw_engine_new(const nw_problem *pb, nw_engine_kind kind, double tol,
                        size_t m, nw_engine **out)
{
    *out = NULL;
    if ((unsigned) kind >= NW_ENGINE_COUNT) return NW_ERR_ARG;
    nw_engine *e = calloc(1, sizeof *e);
    if (!e) return NW_ERR_NOMEM;
    e->problem = *pb;
    e->problem.dense = NULL;
    e->pb = &e->problem;
    tol = engine_tol(pb, tol);
    e->tol = tol;
    e->m = m;
    e->kind = NW_ENGINE_DENSE;
    double best;
    int applies, unbudgeted;
    const nw_engine_impl *impl = pick_impl(pb, kind, tol, m, &best, &applies, &unbudgeted);
    if (!applies) {
        free(e);
        return NW_ERR_ARG;
    }
    if (unbudgeted) e->problem.memory = INFINITY;
    e->cost = best;
    if (impl) {
        e->problem.f32 = 0;
        e->kind = impl->kind;
        nw_status st = impl->init(e);
        if (st) {
            free(e);
            return st;
        }
        e->fallback_lock_made = pthread_mutex_init(&e->fallback_lock, NULL) == 0;
    } else {
        /* the dense engine's sorted keys, where they pay */
        nw_dense_state *dense = NULL;
        nw_status st = nw_dense_prepare(&e->problem, m, 0, &dense);
        if (st) {
            free(e);
            return st;
        }
        e->state = dense;
        e->free_state = nw_dense_state_free;
        e->problem.dense = dense;
    }
    *out = e;
    return NW_OK;
}

void nw_engine_free(nw_engine *e)
{
    if (!e) return;
    if (e->state && e->free_state) e->free_state(e->state);
    if (e->fallback_lock_made) pthread_mutex_destroy(&e->fallback_lock);
    nw_dense_state_free(e->fallback_dense);
    free(e);
}

/* Fallbacks before the keys are prepared: a sort or a grid of the n keys
 * costs about as much as a few general dense passes, so a handful of
 * fallbacks (typical: predictions near 0, whose relative error no sum
 * certifies) stay on the general path. */
#define FALLBACK_PREPARE 16

const nw_problem *nw_engine_fallback(const nw_engine *ce)
{
    /* the fallback fields are the engine's only mutable part, filled once
     * under fallback_lock and published by fallback_ready */
    nw_engine *e = (nw_engine *) ce;
    if (!e->fallback_lock_made) return e->pb;
    if (atomic_load_explicit(&e->fallback_ready, memory_order_acquire)) return &e->fallback;
    if (atomic_fetch_add_explicit(&e->fallback_count, 1, memory_order_relaxed) + 1 < FALLBACK_PREPARE)
        return e->pb;
    pthread_mutex_lock(&e->fallback_lock);
    if (!atomic_load_explicit(&e->fallback_ready, memory_order_relaxed)) {
        e->fallback = e->problem;
        e->fallback.dense = NULL;
        nw_dense_state *dense = NULL;
        /* as many queries as could still fall back: all of them */
        if (nw_dense_prepare(&e->fallback, e->m > 0 ? e->m : 1, 1, &dense) == NW_OK) {
            e->fallback_dense = dense;
            e->fallback.dense = dense;
        }
        atomic_store_explicit(&e->fallback_ready, 1, memory_order_release);
    }
    pthread_mutex_unlock(&e->fallback_lock);
    return &e->fallback;
}

void nw_engine_moments(const nw_engine *e, const double *q, size_t skip,
                       nw_moments *mo)
{
    if (e->kind == NW_ENGINE_DENSE) nw_engine_dense(e->pb, q, skip, mo);
    else e->moments(e, q, skip, mo);
}

int nw_engine_applies(const nw_problem *pb, nw_engine_kind kind)
{
    if (kind == NW_ENGINE_AUTO || kind == NW_ENGINE_DENSE) return 1;
    const nw_engine_impl *impl = find_impl(kind);
    nw_problem f64 = *pb;
    f64.f32 = 0;
    f64.memory = INFINITY;   /* a named engine takes what it needs (pick_impl) */
    return impl && isfinite(impl->cost(&f64, 1, 1e-12));
}
