/*
 * engine.c: choosing and preparing the engine that computes the kernel sums
 * (engine.h).  The dense engine needs no preparation; the approximate ones
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
    e->pb = pb;
    e->tol = tol;
    e->m = m;
    e->kind = NW_ENGINE_DENSE;

    const nw_engine_impl *impl = NULL;
    if (kind == NW_ENGINE_AUTO) {
        /* f32 is a dense-engine arithmetic: the user asked for it */
        double dense = (double) pb->n * (double) m, best = dense;
        if (!pb->f32 && dense > DENSE_ALWAYS_PAIRS) {
            for (size_t i = 0; impls[i]; i++) {
                double c = impls[i]->cost(pb, m);
                if (c < best) { best = c; impl = impls[i]; }
            }
        }
    } else if (kind != NW_ENGINE_DENSE) {
        impl = find_impl(kind);
        if (!impl || pb->f32 || !isfinite(impl->cost(pb, m))) {
            free(e);
            return NW_ERR_ARG;
        }
    }
    if (impl) {
        e->kind = impl->kind;
        nw_status st = impl->init(e);
        if (st) {
            free(e);
            return st;
        }
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
