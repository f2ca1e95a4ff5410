/* sort_keys.c: the sort of 1-d points that the sorted engine, the sorted
 * leave-one-out sweeps and the dense engine's 1-d keys share (sort_keys.h). */
#include <stdlib.h>
#include <string.h>

#include "sort_keys.h"

/* The order of n values (sort_keys.h): a stable LSD radix sort on their
 * bits, 16 a pass (passes where every value has the same digit are
 * skipped), whose keys are recomputed from x[order[k]] at each pass rather
 * than kept: n 32-bit indices more, no copy of x (n = 1e6: 4 MB while
 * sorting, where keys and indices of 64 bits took 24). */
nw_status nw_sort_order(const double *x, size_t n, uint32_t *order)
{
    if (n > UINT32_MAX) return NW_ERR_NOMEM;
    uint32_t *tmp = malloc(n * sizeof *tmp), *count = malloc(65536 * sizeof *count);
    if (!tmp || !count) {
        free(tmp);
        free(count);
        return NW_ERR_NOMEM;
    }
    for (size_t k = 0; k < n; k++) order[k] = (uint32_t) k;
#define DIGIT(k) ((nw_sort_key(x[order[k]]) >> shift) & 0xffff)
    for (int shift = 0; shift < 64; shift += 16) {
        memset(count, 0, 65536 * sizeof *count);
        for (size_t k = 0; k < n; k++) count[DIGIT(k)]++;
        if (count[DIGIT(0)] == n) continue;
        uint32_t sum = 0;
        for (size_t c = 0; c < 65536; c++) {
            uint32_t t = count[c];
            count[c] = sum;
            sum += t;
        }
        for (size_t k = 0; k < n; k++) tmp[count[DIGIT(k)]++] = order[k];
        memcpy(order, tmp, n * sizeof *tmp);
    }
#undef DIGIT
    free(tmp);
    free(count);
    return NW_OK;
}

nw_status nw_sort_points(const double *x, const double *y, size_t n, size_t p, double *xs,
                         double *ys, uint32_t *order)
{
    nw_status st = nw_sort_order(x, n, order);
    if (st) return st;
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        xs[k] = x[i];
        for (size_t c = 0; c < p; c++) ys[k * p + c] = y[i * p + c];
    }
    return NW_OK;
}
