/*
 * internal.h: what the library's files share and the public header hides.
 * Not installed; nothing outside src/ and tests/ includes it.
 */
#ifndef NW_INTERNAL_H
#define NW_INTERNAL_H

#include <math.h>
#include <stdio.h>

#include "nwreg.h"

struct nw_model {
    size_t n, d, p;
    double *x;          /* n x d, row-major (owned) */
    double *y;          /* n x p, row-major (owned) */
    /* Outputs near the largest double would overflow the kernel sums (50
     * values of 1e307 already do).  Each output column c whose max |y|
     * passes 2^512 is scaled by a power of two into [2^511, 2^512), the
     * range unscaled columns already live in: the sums read y_sums (owned,
     * n x p, the other columns copied as they are), y_exp[c] holds the
     * exponent (0 for an unscaled column) and the predictions are scaled
     * back by 2^y_exp[c].  One column's scale leaves the others alone.
     * Powers of two scale exactly unless a value falls below 2^-1022 on
     * the way, which needs |y| < 2^-510 in a column with max |y| > 2^512
     * (a span of 2^1533): y_lossy then says that such values were rounded
     * (each by at most 2^-1075 of its scale, i.e. 2^-1586 of the column's
     * largest value).  Otherwise y_sums and y_exp are NULL, y_lossy 0. */
    double *y_sums;
    int *y_exp;
    int y_lossy;
    double *h;          /* d bandwidths, each finite and > 0 */
    nw_kernel kernel;
    nw_estimator estimator;
    nw_empty_policy empty;
    int threads;        /* 0 = OpenMP's default */
    nw_engine_kind engine;
    double tolerance;   /* certified relative error of a prediction */
    nw_precision precision;
    double memory;      /* the engines' tables' budget in bytes; 0: default */
    nw_progress_fn progress;
    void *progress_ctx;
    char **x_names;     /* d names or NULL */
    char **y_names;     /* p names or NULL */
};

/* nw_model_new for arrays the model may keep: x (n x d) and y (n x p),
 * malloc'd, become the model's (freed by nw_model_free) instead of being
 * copied.  The same checks and statuses as nw_model_new (sizes, finite
 * values; y_sums made when max |y| needs it); on failure *model is NULL and
 * x and y are still the caller's, untouched.  model.c; nw_model_load. */
nw_status nw_model_take(nw_model **model, double *x, double *y, size_t n, size_t d, size_t p);

/* Output c's value v as the sums see it scaled back to y's units
 * (see y_exp above). */
static inline double nw_unscaled(const nw_model *model, size_t c, double v)
{
    return model->y_exp ? ldexp(v, model->y_exp[c]) : v;
}

/* Copy a diag message (printf-style); diag may be NULL. */
void nw_diag_set(nw_diag *diag, size_t line, size_t column, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Write a file atomically: write_fn fills a temporary file beside path,
 * which is renamed over path only if everything succeeded ("-" = stdout).
 * durable: fsync the file before the rename (model files), so that it
 * survives a crash of the machine too; CSV outputs are not synced (as
 * sort -o): that costs a disk flush (~1 ms here, seconds for 10^7 rows).
 * Defined in csv.c; used by model_io.c too. */
typedef nw_status (*nw_write_fn)(FILE *fp, void *ctx);
nw_status nw_write_atomic(const char *path, nw_write_fn write_fn, void *ctx, int durable, nw_diag *diag);

/* v as the shortest decimal that reads back exactly (0.1, not
 * 0.10000000000000001; 5e-324, not 4.94065645841247e-324), in %g's layout
 * with at least 15 digits' worth of fixed notation, as "%.15g" .. "%.17g"
 * would print it (nw_dtoa_shortest, numconv.c); nan, inf, -inf for the
 * non-finite.  buf holds at least 32 bytes; the caller runs it in the C
 * locale. */
void nw_format_double(char *buf, size_t size, double v);

/* 1 if every value of a[0..n) is finite. */
int nw_all_finite(const double *a, size_t n);

/* The columns xcols (d of them) and ycols (p) of table as malloc'd arrays
 * *x (rows x d) and *y (rows x p), row-major, without two copies of the
 * data at once: *x takes over the table's buffer (gathered in place and
 * shrunk), so at most rows x p doubles are allocated beyond the table's
 * (with d > cols, repeated columns, x gets a buffer of its own).
 * On success the table is left with no columns and no data (free it);
 * on failure (NW_ERR_ARG: an index >= cols, NW_ERR_EMPTY: d or p is 0,
 * NW_ERR_NOMEM) it is unchanged.  csv.c; nw_model_new_from_table. */
nw_status nw_table_split(nw_table *table, const size_t *xcols, size_t d, const size_t *ycols,
                         size_t p, double **x, double **y);

#endif
