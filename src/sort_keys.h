/* sort_keys.h: the sort of 1-d keys the sorted engine and the sorted
 * leave-one-out pass share (defined in engine_sorted.c). */
#ifndef NW_SORT_KEYS_H
#define NW_SORT_KEYS_H

#include <stddef.h>

#include "nwreg.h"

/* order[k] = original index of the k-th smallest of x[0..n) (stable LSD
 * radix sort on the IEEE bits, -0 as +0); NW_ERR_NOMEM. */
nw_status nw_sort_keys(const double *x, size_t n, size_t *order);

#endif
