/*
 * arrange.c: nw_model_arrange, the model's points put in place into the
 * order the engine of a prediction reads them.
 *
 * The fast engines read the keys in an order of their own: the 1-d sorted
 * engine and sweeps by x, the 2-d FGT box by box, the k-d tree leaf by
 * leaf.  Each makes that order as a copy of the points (n (d + p) doubles:
 * 24 MB at n = 1e6, d = 2), which, with few queries, is most of a
 * prediction's memory beside the model's own arrays -- unless the points
 * already lie in that order: then the engine reads them where they are
 * (engine.h, nw_engine_impl.arrange).  nw_model_arrange puts them so, for
 * the engine that nw_predict would run now, by permuting the model's rows
 * in place.
 *
 * The permutation follows its cycles: position k takes row order[k], so a
 * cycle k -> order[k] -> ... is walked with the row of its start held
 * aside, each row moved once, and a bit per row marks those done.  Memory:
 * the order (4 bytes a point) and the bits; time O(n (d + p)), in rows
 * visited out of order (a cache miss each: ~30 ms at n = 1e6, d = 2).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "estimate.h"
#include "internal.h"

/* Rows of width `width` in a, permuted so that row k becomes the old row
 * order[k]; done (n bits, zeroed) marks the rows in place, and tmp holds
 * one row. */
static void permute_rows(double *a, size_t width, const uint32_t *order, size_t n,
                         uint64_t *done, double *tmp)
{
    const size_t bytes = width * sizeof(double);
    for (size_t s = 0; s < n; s++) {
        if (done[s >> 6] >> (s & 63) & 1) continue;
        done[s >> 6] |= (uint64_t) 1 << (s & 63);
        if (order[s] == s) continue;
        memcpy(tmp, a + s * width, bytes);
        size_t k = s;
        for (;;) {
            size_t j = order[k];
            if (j == s) {
                memcpy(a + k * width, tmp, bytes);
                break;
            }
            memcpy(a + k * width, a + j * width, bytes);
            done[j >> 6] |= (uint64_t) 1 << (j & 63);
            k = j;
        }
    }
}

nw_status nw_model_arrange(nw_model *model, size_t m, int *moved)
{
    if (moved) *moved = 0;
    if (!model) return NW_ERR_ARG;
    const size_t n = model->n, d = model->d, p = model->p;
    double w[d];
    nw_status st = nw_scales(model, NULL, w);
    if (st) return st;
    if (n < 2 || n > UINT32_MAX) return NW_OK;
    nw_problem pb;
    nw_problem_init(&pb, model, w, 0);
    pb.regions = 1;   /* as nw_predict_info makes it: the same engine and plan */
    uint32_t *order = malloc(n * sizeof *order);
    if (!order) return NW_ERR_NOMEM;
    int done = 0;
    st = nw_engine_arrangement(&pb, model->engine, model->tolerance, m, order, &done);
    size_t first = 0;
    while (done && first < n && order[first] == first) first++;
    if (st || !done || first == n) {
        free(order);
        return st;
    }
    size_t words = (n + 63) / 64, width = d > p ? d : p;
    uint64_t *bits = malloc(words * sizeof *bits);
    double *tmp = malloc(width * sizeof *tmp);
    if (!bits || !tmp) {
        free(order);
        free(bits);
        free(tmp);
        return NW_ERR_NOMEM;
    }
    double *arrays[3] = { model->x, model->y, model->y_sums };
    size_t widths[3] = { d, p, p };
    for (int a = 0; a < 3; a++) {
        if (!arrays[a]) continue;
        memset(bits, 0, words * sizeof *bits);
        permute_rows(arrays[a], widths[a], order, n, bits, tmp);
    }
    free(order);
    free(bits);
    free(tmp);
    if (moved) *moved = 1;
    return NW_OK;
}
