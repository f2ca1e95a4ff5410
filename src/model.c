/* model.c: the nw_model handle: training data, kernel, estimator, bandwidths. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void free_names(char **names, size_t k)
{
    if (!names) return;
    for (size_t i = 0; i < k; i++) free(names[i]);
    free(names);
}

static nw_status copy_names(char ***dst, const char *const *src, size_t k);

/* Above this, an output column is scaled for the sums (internal.h). */
#define Y_SCALE_ABOVE 0x1p512

/* A model for n x d inputs and n x p outputs whose largest |y| in column
 * c is ymax[c], with everything allocated but the data (y_sums and y_exp
 * too when a column needs them: see internal.h), so that handing the data
 * over (model_fill) cannot fail.  NULL if there is no memory. */
static nw_model *model_alloc(size_t n, size_t d, size_t p, const double *ymax)
{
    nw_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->n = n; m->d = d; m->p = p;
    m->h = malloc(d * sizeof(double));
    int scaled = 0;
    for (size_t c = 0; c < p; c++) scaled |= ymax[c] > Y_SCALE_ABOVE;
    if (scaled) {
        m->y_exp = malloc(p * sizeof(int));
        m->y_sums = malloc(n * p * sizeof(double));
        /* ilogb(ymax) - 511 brings the largest value into [2^511, 2^512) */
        for (size_t c = 0; m->y_exp && c < p; c++)
            m->y_exp[c] = ymax[c] > Y_SCALE_ABOVE ? ilogb(ymax[c]) - 511 : 0;
    }
    if (!m->h || (scaled && (!m->y_sums || !m->y_exp))) { nw_model_free(m); return NULL; }
    for (size_t k = 0; k < d; k++) m->h[k] = 1.0;
    m->kernel = NW_KERNEL_GAUSSIAN;
    m->estimator = NW_ESTIMATOR_CONSTANT;
    m->empty = NW_EMPTY_NAN;
    m->engine = NW_ENGINE_AUTO;
    m->tolerance = 1e-12;
    m->precision = NW_PRECISION_F64;
    return m;
}

/* The model takes over x and y (its own from now on). */
static void model_fill(nw_model *m, double *x, double *y)
{
    m->x = x;
    m->y = y;
    if (!m->y_sums) return;
    const size_t n = m->n, p = m->p;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < p; c++) {
            double v = ldexp(y[i * p + c], -m->y_exp[c]);
            m->y_lossy |= ldexp(v, m->y_exp[c]) != y[i * p + c];
            m->y_sums[i * p + c] = v;
        }
}

/* max |v| over n values with stride `stride`, from v[0] */
static double max_abs_strided(const double *v, size_t n, size_t stride)
{
    double ymax = 0;
    for (size_t i = 0; i < n; i++) ymax = fmax(ymax, fabs(v[i * stride]));
    return ymax;
}

/* The largest |y| of each of the p columns of y (n x p) into ymax; NULL
 * if there is no memory (free it after). */
static double *column_max(const double *y, size_t n, size_t p)
{
    double *ymax = malloc(p * sizeof(double));
    for (size_t c = 0; ymax && c < p; c++) ymax[c] = max_abs_strided(y + c, n, p);
    return ymax;
}

/* The checks of nw_model_new and nw_model_take, in their order. */
static nw_status check_data(const double *x, const double *y, size_t n, size_t d, size_t p)
{
    if (n == 0 || d == 0 || p == 0) return NW_ERR_EMPTY;
    if (!x || !y) return NW_ERR_ARG;
    if (n > SIZE_MAX / sizeof(double) / (d > p ? d : p)) return NW_ERR_NOMEM;
    if (!nw_all_finite(x, n * d) || !nw_all_finite(y, n * p)) return NW_ERR_NONFINITE;
    return NW_OK;
}

nw_status nw_model_new(nw_model **model, const double *x, const double *y,
                       size_t n, size_t d, size_t p)
{
    if (!model) return NW_ERR_ARG;
    *model = NULL;
    nw_status st = check_data(x, y, n, d, p);
    if (st != NW_OK) return st;

    double *ymax = column_max(y, n, p);
    nw_model *m = ymax ? model_alloc(n, d, p, ymax) : NULL;
    free(ymax);
    double *xc = malloc(n * d * sizeof(double)), *yc = malloc(n * p * sizeof(double));
    if (!m || !xc || !yc) { nw_model_free(m); free(xc); free(yc); return NW_ERR_NOMEM; }
    memcpy(xc, x, n * d * sizeof(double));
    memcpy(yc, y, n * p * sizeof(double));
    model_fill(m, xc, yc);
    *model = m;
    return NW_OK;
}

/* nw_model_new without the copies (see internal.h). */
nw_status nw_model_take(nw_model **model, double *x, double *y, size_t n, size_t d, size_t p)
{
    if (!model) return NW_ERR_ARG;
    *model = NULL;
    nw_status st = check_data(x, y, n, d, p);
    if (st != NW_OK) return st;
    double *ymax = column_max(y, n, p);
    nw_model *m = ymax ? model_alloc(n, d, p, ymax) : NULL;
    free(ymax);
    if (!m) return NW_ERR_NOMEM;
    model_fill(m, x, y);
    *model = m;
    return NW_OK;
}

/* The columns' names first (the split takes them from the table), then
 * the data: the table's own buffer becomes x (nw_table_split). */
nw_status nw_model_new_from_table(nw_model **model, nw_table *table, const size_t *xcols,
                                  size_t d, const size_t *ycols, size_t p)
{
    if (!model) return NW_ERR_ARG;
    *model = NULL;
    if (!table || (d > 0 && !xcols) || (p > 0 && !ycols)) return NW_ERR_ARG;
    const size_t n = nw_table_rows(table), cols = nw_table_cols(table);
    if (n == 0 || d == 0 || p == 0) return NW_ERR_EMPTY;
    for (size_t j = 0; j < d; j++)
        if (xcols[j] >= cols) return NW_ERR_ARG;
    for (size_t j = 0; j < p; j++)
        if (ycols[j] >= cols) return NW_ERR_ARG;
    if (n > SIZE_MAX / sizeof(double) / (d > p ? d : p)) return NW_ERR_NOMEM;
    const double *data = nw_table_data(table);
    if (!nw_all_finite(data, n * cols)) return NW_ERR_NONFINITE;
    double *ymax = malloc(p * sizeof(double));
    const char **names = malloc((d + p) * sizeof *names);
    if (!names || !ymax) { free(names); free(ymax); return NW_ERR_NOMEM; }
    for (size_t j = 0; j < p; j++) ymax[j] = max_abs_strided(data + ycols[j], n, cols);
    for (size_t j = 0; j < d + p; j++) names[j] = nw_table_name(table, j < d ? xcols[j] : ycols[j - d]);
    nw_model *m = model_alloc(n, d, p, ymax);
    free(ymax);
    nw_status st = m ? copy_names(&m->x_names, names, d) : NW_ERR_NOMEM;
    if (!st) st = copy_names(&m->y_names, names + d, p);
    free(names);
    double *x, *y;
    if (st || (st = nw_table_split(table, xcols, d, ycols, p, &x, &y))) {
        nw_model_free(m);
        return st;
    }
    model_fill(m, x, y);
    *model = m;
    return NW_OK;
}

void nw_model_free(nw_model *model)
{
    if (!model) return;
    free(model->x);
    free(model->y);
    free(model->y_sums);
    free(model->y_exp);
    free(model->h);
    free_names(model->x_names, model->d);
    free_names(model->y_names, model->p);
    free(model);
}

size_t nw_model_n(const nw_model *model) { return model ? model->n : 0; }
size_t nw_model_d(const nw_model *model) { return model ? model->d : 0; }
size_t nw_model_p(const nw_model *model) { return model ? model->p : 0; }
const double *nw_model_x(const nw_model *model) { return model ? model->x : NULL; }
const double *nw_model_y(const nw_model *model) { return model ? model->y : NULL; }

nw_status nw_model_set_kernel(nw_model *model, nw_kernel kernel)
{
    if (!model || (unsigned) kernel >= NW_KERNEL_COUNT) return NW_ERR_ARG;
    model->kernel = kernel;
    return NW_OK;
}
nw_kernel nw_model_kernel(const nw_model *model) { return model->kernel; }

nw_status nw_model_set_estimator(nw_model *model, nw_estimator estimator)
{
    if (!model || (unsigned) estimator >= NW_ESTIMATOR_COUNT) return NW_ERR_ARG;
    model->estimator = estimator;
    return NW_OK;
}
nw_estimator nw_model_estimator(const nw_model *model) { return model->estimator; }

nw_status nw_model_set_empty_policy(nw_model *model, nw_empty_policy policy)
{
    if (!model || (policy != NW_EMPTY_NAN && policy != NW_EMPTY_NEAREST)) return NW_ERR_ARG;
    model->empty = policy;
    return NW_OK;
}

nw_empty_policy nw_model_empty_policy(const nw_model *model) { return model->empty; }

nw_status nw_model_set_threads(nw_model *model, int threads)
{
    if (!model || threads < 0) return NW_ERR_ARG;
    model->threads = threads;
    return NW_OK;
}

static const char *const engine_names[NW_ENGINE_COUNT] = {
    "auto", "dense", "sorted", "tree", "fgt"
};

const char *nw_engine_name(nw_engine_kind engine)
{
    return (unsigned) engine < NW_ENGINE_COUNT ? engine_names[engine] : NULL;
}

nw_status nw_engine_from_name(const char *name, nw_engine_kind *engine)
{
    if (!name || !engine) return NW_ERR_ARG;
    for (int e = 0; e < NW_ENGINE_COUNT; e++)
        if (strcmp(name, engine_names[e]) == 0) {
            *engine = (nw_engine_kind) e;
            return NW_OK;
        }
    return NW_ERR_ARG;
}

nw_status nw_model_set_engine(nw_model *model, nw_engine_kind engine)
{
    if (!model || (unsigned) engine >= NW_ENGINE_COUNT) return NW_ERR_ARG;
    model->engine = engine;
    return NW_OK;
}
nw_engine_kind nw_model_engine(const nw_model *model) { return model->engine; }

nw_status nw_model_set_tolerance(nw_model *model, double tol)
{
    if (!model || !(tol >= 1e-15 && tol <= 1e-2)) return NW_ERR_ARG;
    model->tolerance = tol;
    return NW_OK;
}
double nw_model_tolerance(const nw_model *model) { return model->tolerance; }

nw_status nw_model_set_memory(nw_model *model, double bytes)
{
    if (!model || !(bytes >= 0 && bytes <= 0x1p62)) return NW_ERR_ARG;
    model->memory = bytes;
    return NW_OK;
}
double nw_model_memory(const nw_model *model) { return model ? model->memory : 0; }

nw_status nw_model_set_precision(nw_model *model, nw_precision precision)
{
    if (!model || (precision != NW_PRECISION_F64 && precision != NW_PRECISION_F32))
        return NW_ERR_ARG;
    model->precision = precision;
    return NW_OK;
}
nw_precision nw_model_precision(const nw_model *model) { return model->precision; }

nw_status nw_model_set_progress(nw_model *model, nw_progress_fn fn, void *ctx)
{
    if (!model) return NW_ERR_ARG;
    model->progress = fn;
    model->progress_ctx = ctx;
    return NW_OK;
}

nw_status nw_model_set_bandwidth(nw_model *model, const double *h)
{
    if (!model || !h) return NW_ERR_ARG;
    /* h so small (subnormal) that the scale 1/h overflows is refused too:
     * no sum could use it */
    for (size_t k = 0; k < model->d; k++)
        if (!isfinite(h[k]) || !(h[k] > 0) || !isfinite(1.0 / h[k])) return NW_ERR_BANDWIDTH;
    memcpy(model->h, h, model->d * sizeof(double));
    return NW_OK;
}

nw_status nw_model_bandwidth(const nw_model *model, double *h)
{
    if (!model || !h) return NW_ERR_ARG;
    memcpy(h, model->h, model->d * sizeof(double));
    return NW_OK;
}

nw_status nw_model_set_scale(nw_model *model, const double *w)
{
    if (!model || !w) return NW_ERR_ARG;
    for (size_t k = 0; k < model->d; k++) {
        double h = 1.0 / fabs(w[k]);
        if (!isfinite(w[k]) || w[k] == 0 || !isfinite(h)) return NW_ERR_BANDWIDTH;
    }
    for (size_t k = 0; k < model->d; k++) model->h[k] = 1.0 / fabs(w[k]);
    return NW_OK;
}

static nw_status copy_names(char ***dst, const char *const *src, size_t k)
{
    *dst = NULL;
    if (!src) return NW_OK;
    char **names = calloc(k, sizeof *names);
    if (!names) return NW_ERR_NOMEM;
    for (size_t i = 0; i < k; i++) {
        const char *s = src[i] ? src[i] : "";
        names[i] = malloc(strlen(s) + 1);
        if (!names[i]) { free_names(names, k); return NW_ERR_NOMEM; }
        strcpy(names[i], s);
    }
    *dst = names;
    return NW_OK;
}

nw_status nw_model_set_names(nw_model *model, const char *const *x_names,
                             const char *const *y_names)
{
    if (!model) return NW_ERR_ARG;
    char **xn, **yn;
    nw_status st = copy_names(&xn, x_names, model->d);
    if (st) return st;
    st = copy_names(&yn, y_names, model->p);
    if (st) { free_names(xn, model->d); return st; }
    free_names(model->x_names, model->d);
    free_names(model->y_names, model->p);
    model->x_names = xn;
    model->y_names = yn;
    return NW_OK;
}

const char *nw_model_x_name(const nw_model *model, size_t k)
{
    return (model && model->x_names && k < model->d) ? model->x_names[k] : NULL;
}

const char *nw_model_y_name(const nw_model *model, size_t c)
{
    return (model && model->y_names && c < model->p) ? model->y_names[c] : NULL;
}
