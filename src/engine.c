/*
 * engine.c: choosing and preparing the engine that computes the kernel sums
 * (engine.h).  The dense engine's preparation is its keys sorted or gridded
 * (nw_dense_prepare, where it pays); the approximate ones
 * (engine_*.c) register an entry in `impls` with their constructor and a
 * cost estimate, and NW_ENGINE_AUTO takes the cheapest that applies.
 */
#include <math.h>
#include <stdlib.h>

#include "engine.h"

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
    e->tol = tol;
    e->m = m;
    e->kind = NW_ENGINE_DENSE;

    /* the fast engines always work in f64 (f32 is the dense engine's
     * arithmetic); a cost is asked of the f64 problem */
    nw_problem f64 = *pb;
    f64.f32 = 0;
    const nw_engine_impl *impl = NULL;
    /* the f32 dense sums are ~4x faster than f64 */
    double pairs = (double) pb->n * (double) m, best = pb->f32 ? pairs / 4 : pairs;
    if (kind == NW_ENGINE_AUTO) {
        /* a fast engine is taken when it beats the dense sums */
        if (pairs > DENSE_ALWAYS_PAIRS) {
            for (size_t i = 0; impls[i]; i++) {
                double c = impls[i]->cost(&f64, m);
                if (c < best) { best = c; impl = impls[i]; }
            }
        }
    } else if (kind != NW_ENGINE_DENSE) {
        if (!nw_engine_applies(pb, kind)) {
            free(e);
            return NW_ERR_ARG;
        }
        impl = find_impl(kind);
        best = impl->cost(&f64, m);
    }
    e->cost = best;
    if (impl) {
        e->problem.f32 = 0;
        e->kind = impl->kind;
        nw_status st = impl->init(e);
        if (st) {
            free(e);
            return st;
        }
    } else {
        /* the dense engine's sorted keys, where they pay */
        nw_dense_state *dense = NULL;
        nw_status st = nw_dense_prepare(&e->problem, m, &dense);
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
    free(e);
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
    return impl && isfinite(impl->cost(&f64, 1));
}
