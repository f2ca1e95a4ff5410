/* sort_keys.h: the sort of 1-d points the sorted engine, the sorted
 * leave-one-out pass and the dense engine share (sort_keys.c). */
#ifndef NW_SORT_KEYS_H
#define NW_SORT_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nwreg.h"

/* order[k] = the index of the k-th smallest of x[0..n) (a stable sort, -0
 * as +0; order caller-allocated, n entries).  NW_ERR_NOMEM (also for
 * n > UINT32_MAX). */
nw_status nw_sort_order(const double *x, size_t n, uint32_t *order);

/* The points (x: n keys, y: n x p values) sorted by key: xs[k], ys[k * p ..]
 * are those of the k-th smallest key, order[k] its original index
 * (nw_sort_order).  NW_ERR_NOMEM. */
nw_status nw_sort_points(const double *x, const double *y, size_t n, size_t p, double *xs,
                         double *ys, uint32_t *order);

/* A double's bits made to sort as an unsigned integer (-0 as +0): the radix
 * sorts' key. */
static inline uint64_t nw_sort_key(double v)
{
    uint64_t b;
    v = v == 0 ? 0.0 : v;
    memcpy(&b, &v, sizeof b);
    return (b >> 63) ? ~b : b | (UINT64_C(1) << 63);
}

#endif
