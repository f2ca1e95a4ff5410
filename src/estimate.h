/* estimate.h: helpers the estimator files share (estimate.c, loo.c, select.c). */
#ifndef NW_ESTIMATE_H
#define NW_ESTIMATE_H

#include "engine.h"
#include "internal.h"

/* Fill a problem from a model and scales w (d values). */
void nw_problem_init(nw_problem *pb, const nw_model *model, const double *w, int grad);
/* w[k] = w_in[k], or 1/h_k if w_in is NULL; NW_ERR_BANDWIDTH if zero or not finite. */
nw_status nw_scales(const nw_model *model, const double *w_in, double *w);
/* Mean value of the training points nearest to q in scaled distance
 * (ties averaged), leaving out index skip. */
void nw_nearest_value(const nw_model *model, const double *w, const double *q,
                      size_t skip, double *out);
/* Seconds on a monotonic clock. */
double nw_clock(void);
/* The error the f32 dense engine is stated to stay within, relative to the
 * larger of the weighted mean of |y| and |yhat| (a prediction near 0 from
 * values of both signs has no relative bound; local linear extrapolating
 * far is measured against its own size).  Analysis at dense1d_f32 in engine_dense.c (local
 * constant: < 1e-5 for n <= 1e6 in the worst case); measured on the
 * notebook's data, uniform random data and two narrow clusters (n = 2e3
 * and 1e5, h = 0.003 .. 3, Gaussian and Laplace): <= 4e-7 local constant,
 * <= 4e-6 local linear in the AVX-512 build, but 1.2e-5 (Laplace, local
 * linear, two clusters) in the build without target clones or fused
 * multiply-adds (the sanitizer build; 1.5e-5 for the prepared 1-d path in
 * the coverage build, -DNW_COVERAGE) and 3.3e-5 seen once during
 * development: the stated bound keeps a factor 3 over the worst seen
 * (tests/test_engine_dense.c prints its worst). */
#define NW_F32_ERROR_BOUND 1e-4
/* Scale an estimate's predictions (and, if grad, derivatives) back by
 * 2^y_exp when the sums read y_sums (see internal.h); no-op if empty. */
void nw_unscale(const nw_model *model, nw_estimate *est, int grad);
/* Threads for a job of `work` kernel evaluations: 1 below ~1e7, where
 * waking a thread can cost more than it saves. */
int nw_threads(const nw_model *model, size_t work);
/* The standard deviation (ddof = 0, as statsmodels) of the n values
 * a[0], a[stride], ...: the mean, then the mean squared deviation. */
double nw_column_sd(const double *a, size_t n, size_t stride);
/* The queries q (m x d) in an order where neighbours in space are near
 * (4 bytes a query), for engines whose neighbouring queries share tables
 * (a tree's leaves, an FGT box's coefficients); NULL where it is not worth
 * it (d = 1, m < 4096) or there is no memory (the queries' own order). */
uint32_t *nw_spatial_order(const double *q, size_t m, size_t d, const double *w);
/* For an engine with regions (engine.h): *order (the spatial order, or
 * NULL for the queries' own) sorted stably by the queries' regions, and
 * *rstart (regions + 2 entries) where each region's queries start, the
 * last those outside every region.  NW_ERR_NOMEM (*order then as it was). */
nw_status nw_region_order(const nw_engine *eng, const double *q, size_t m, size_t d,
                          uint32_t **order, size_t **rstart);
/* The next group of an engine's regions to build and run, from *r0 on
 * (moved past empty regions; rstart as nw_region_order's): returns its
 * end.  *r0 = regions: the group of the queries outside every region,
 * which needs no build. */
size_t nw_region_group(const nw_engine *eng, const size_t *rstart, size_t *r0);
/* An engine's estimated work for its m queries (e->cost), as nw_threads
 * wants it. */
size_t nw_engine_work(const nw_engine *e);

#endif
