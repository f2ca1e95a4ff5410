/*
 * loo.c: passes over the training points as queries: leave-one-out
 * predictions, the notebook's leave-one-out loss and its exact gradient,
 * and the in-sample fit with the hat-matrix trace (for AICc).
 *
 * The gradient.  With scales w_k, residuals r_ic = y_ic - yhat_{-i,c} and
 *
 *     L(w) = 1/2 sum_i sum_c r_ic^2,
 *
 *     dL/dw_k = - sum_i sum_c r_ic  d yhat_{-i,c} / d w_k.
 *
 * For local constant, yhat_{-i} = sum_{j != i} K_ij y_j / sum_{j != i} K_ij
 * with K_ij = prod_k K(u_ijk), u_ijk = (x_ik - x_jk) w_k.  Since
 * dK_ij/dw_k = K_ij rho(u_ijk) / w_k, rho(u) = u K'(u)/K(u),
 *
 *     d yhat_{-i,c}/d w_k = sum_{j != i} a_ij rho(u_ijk) (y_jc - yhat_{-i,c}) / w_k,
 *
 * a_ij the attention weights.  For the notebook's Gaussian, rho(u) = -u^2, so
 * rho/w_k = -(x_ik - x_jk)^2 w_k: exactly what autograd gives for
 * softmax(-((x_i - x_j) w)^2 / 2).  Local linear: see nw_solve.  The engine
 * returns the needed sums (dA_k, dB_k) in the same pass as the estimate.
 *
 * Reductions run over a fixed number of blocks of points, summed in order,
 * so the result does not depend on the number of threads.
 *
 * Passes of 1-d compact kernels (engine auto or sorted, w > 0), leave-one-out
 * and in-sample, go to the O(n) sweeps of loo_sorted.c instead.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "estimate.h"
#include "kernels.h"
#include "loo.h"

#define PASS_BLOCKS 64

#ifdef _OPENMP
#include <omp.h>
static int omp_thread_id(void) { return omp_get_thread_num(); }
#else
static int omp_thread_id(void) { return 0; }
#endif

/* The standard deviation of each output column of the problem's values
 * (as the sums see them: model->y_sums where set) into s (p values; 0
 * where it overflows). */
static void output_spread(const nw_problem *pb, double *s)
{
    for (size_t c = 0; c < pb->p; c++) {
        double sd = nw_column_sd(pb->y + c, pb->n, pb->p);
        s[c] = isfinite(sd) ? sd : 0;
    }
}

/* One pass's queries (the training points) in positions [first, end) of
 * order (NULL: their own), as nb blocks of consecutive positions summed
 * into blocks (per block: loss, trace, empties, grad[d]) by a team of
 * OpenMP threads.  The block boundaries depend on nothing but the
 * positions, so neither does the result. */
typedef struct pass_run {
    const nw_model *model;
    const nw_problem *pb;
    const nw_engine *eng;
    const double *w;
    int leave_out, want_grad;
    double *yhat_out;
    const uint32_t *order;
    nw_progress_fn progress;
    size_t blocks_total, blocks_done;   /* progress: blocks over all ranges */
    int failed, stopped;
    double bound;
    size_t fallbacks;
} pass_run;

static void run_blocks(pass_run *pr, size_t first, size_t end, size_t nb, double *blocks)
{
    const nw_model *model = pr->model;
    const size_t d = model->d, p = model->p, stride = 3 + d, len = end - first;
    const int leave_out = pr->leave_out, want_grad = pr->want_grad;
    const uint32_t *order = pr->order;
    double bound = 0;
    size_t fallbacks = 0;
    memset(blocks, 0, nb * stride * sizeof(double));

    /* the engine's work is that of all n points: this range's share */
    const int threads = nw_threads(model, (size_t) ((double) nw_engine_work(pr->eng) * (double) len / (double) model->n));
    (void) threads;   /* (unused without OpenMP) */
#pragma omp parallel num_threads(threads) reduction(max:bound) reduction(+:fallbacks)
    {
        nw_moments *mo = NULL;
        double *buf = malloc((p + d * p) * sizeof(double));
        if (nw_moments_new(pr->pb, &mo) != NW_OK || !buf) {
#pragma omp atomic write
            pr->failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (size_t b = 0; b < nb; b++) {
            int stop_now;
#pragma omp atomic read
            stop_now = pr->stopped;
            if (!mo || !buf || stop_now) continue;
            double *blk = blocks + b * stride;
            size_t i0 = first + len * b / nb, i1 = first + len * (b + 1) / nb;
            for (size_t ii = i0; ii < i1; ii++) {
                size_t i = order ? order[ii] : ii;
                const double *xi = model->x + i * d, *yi = model->y + i * p;
                double *yh = pr->yhat_out ? pr->yhat_out + i * p : buf;
                nw_estimate est = { .yhat = yh, .dyhat = buf + p };
                nw_estimate_at(pr->eng, xi, leave_out ? i : NW_NO_SKIP, mo, &est);
                nw_unscale(model, &est, want_grad);
                fallbacks += (size_t) est.fallback;
                if (est.bound > bound) bound = est.bound;
                if (est.empty) {
                    /* log kernels: only when every weight underflowed, whose
                     * limit is the nearest value (see nw_predict) */
                    int log_kernel = kernel_is_log(pr->pb->kernel);
                    if (!log_kernel) blk[2] += 1;
                    if (log_kernel || model->empty == NW_EMPTY_NEAREST) {
                        nw_nearest_value(model, pr->w, xi, leave_out ? i : NW_NO_SKIP, yh);
                        for (size_t c = 0; c < p; c++) {
                            double r = yi[c] - yh[c];
                            blk[0] += 0.5 * r * r;
                        }
                    } else {
                        blk[0] = INFINITY;
                    }
                    continue;
                }
                /* hat diagonal: own weight K(0) = 1, scaled by exp(-logscale) */
                if (!leave_out) blk[1] += est.a00 * exp(-mo->logscale);
                for (size_t c = 0; c < p; c++) {
                    double r = yi[c] - yh[c];
                    blk[0] += 0.5 * r * r;
                    for (size_t k = 0; want_grad && k < d; k++)
                        blk[3 + k] -= r * est.dyhat[k * p + c];
                }
            }
            size_t done;
#pragma omp atomic capture
            done = ++pr->blocks_done;
            /* progress from the caller's thread only (thread 0), never
             * the last report: nw_pass makes it once every block is done */
            if (pr->progress && omp_thread_id() == 0 && done < pr->blocks_total &&
                pr->progress((double) done, (double) pr->blocks_total, model->progress_ctx)) {
#pragma omp atomic write
                pr->stopped = 1;
            }
        }
        nw_moments_free(mo);
        free(buf);
    }
    if (bound > pr->bound) pr->bound = bound;
    pr->fallbacks += fallbacks;
}

/* Add nb blocks (run_blocks') into res, in order. */
static void add_blocks(const double *blocks, size_t nb, size_t d, int want_grad, nw_pass_result *res)
{
    for (size_t b = 0; b < nb; b++) {
        const double *blk = blocks + b * (3 + d);
        res->loss += blk[0];
        res->trace += blk[1];
        res->n_empty += (size_t) blk[2];
        for (size_t k = 0; want_grad && k < d; k++) res->grad[k] += blk[3 + k];
    }
}

nw_status nw_pass(const nw_model *model, const double *w, int leave_out,
                  int want_grad, int flags, double *yhat_out, nw_pass_result *res)
{
    const size_t n = model->n, d = model->d, p = model->p;
    const int report = (flags & NW_PASS_REPORT) != 0;
    if (w[0] > 0 && nw_loo_sorted_applies(model)) {
        /* 1-d compact kernels: the O(n) sweeps (loo_sorted.c) */
        nw_loo_sorted *ls = NULL;
        nw_status st = nw_loo_sorted_new(model, &ls);
        if (st) return st;
        st = nw_loo_sorted_pass(ls, w[0], leave_out, want_grad, report, yhat_out, res);
        nw_loo_sorted_free(ls);
        return st;
    }
    nw_problem pb;
    nw_problem_init(&pb, model, w, want_grad);
    /* an engine that keeps its tables a group of regions at a time (the
     * 2-d FGT's local coefficients at small bandwidths: hundreds of MB
     * whole) is given the points region by region, as nw_predict_info
     * gives its queries */
    pb.regions = 1;
    double *floor_buf = NULL;   /* freed with the engine */
    if (flags & NW_PASS_CRITERION) {
        if (!(floor_buf = malloc(p * sizeof(double)))) return NW_ERR_NOMEM;
        output_spread(&pb, floor_buf);
        pb.floor = floor_buf;
    }
    nw_engine *eng = NULL;
    nw_status st = nw_engine_new(&pb, model->engine, model->tolerance, n, &eng);
    if (st) { free(floor_buf); return st; }
    uint32_t *order = NULL;
    size_t *rstart = NULL;
    if (eng->regions) {
        order = nw_spatial_order(model->x, n, d, w);
        if ((st = nw_region_order(eng, model->x, n, d, &order, &rstart))) {
            nw_engine_free(eng);
            free(floor_buf);
            free(order);
            return st;
        }
    }
    /* per block: loss, trace, empties, grad[d] */
    double *blocks = malloc(PASS_BLOCKS * (3 + d) * sizeof(double));
    if (!blocks) {
        nw_engine_free(eng); free(floor_buf); free(order); free(rstart);
        return NW_ERR_NOMEM;
    }
    pass_run pr = { .model = model, .pb = &pb, .eng = eng, .w = w, .leave_out = leave_out,
                    .want_grad = want_grad, .yhat_out = yhat_out, .order = order,
                    .progress = report ? model->progress : NULL };
    double *grad = res->grad;
    memset(res, 0, sizeof *res);
    res->grad = grad;
    for (size_t k = 0; k < d && want_grad; k++) grad[k] = 0;
    /* a group of regions at a time: their tables built, then their points
     * (the points outside every region, none here, need no build); an
     * engine without regions: one group of every point */
    const size_t whole[2] = { 0, n }, *starts = eng->regions ? rstart : whole;
    const size_t nr = eng->regions;
    for (size_t r0 = 0, r1; r0 <= nr; r0 = r1) {
        r1 = nw_region_group(eng, starts, &r0);
        size_t len = starts[r1] - starts[r0];
        pr.blocks_total += len < PASS_BLOCKS ? len : PASS_BLOCKS;
    }
    for (size_t r0 = 0, r1; r0 <= nr && !pr.failed && !pr.stopped; r0 = r1) {
        r1 = nw_region_group(eng, starts, &r0);
        size_t len = starts[r1] - starts[r0], nb = len < PASS_BLOCKS ? len : PASS_BLOCKS;
        if (len == 0) continue;
        if (r0 < nr && eng->region_build(eng, r0, r1) != NW_OK) {
            pr.failed = 1;
            break;
        }
        run_blocks(&pr, starts[r0], starts[r1], nb, blocks);
        add_blocks(blocks, nb, d, want_grad, res);
    }
    nw_engine_free(eng);
    free(floor_buf);
    free(order);
    free(rstart);
    free(blocks);
    if (!pr.failed && !pr.stopped && pr.progress &&
        pr.progress((double) pr.blocks_total, (double) pr.blocks_total, model->progress_ctx))
        pr.stopped = 1;
    if (pr.failed) return NW_ERR_NOMEM;
    if (pr.stopped) return NW_ERR_STOPPED;
    res->bound = pr.bound;
    res->fallbacks = pr.fallbacks;
    return NW_OK;
}

nw_status nw_fitted(const nw_model *model, double *yhat, size_t *n_empty, nw_run_info *info)
{
    double t0 = nw_clock();
    if (n_empty) *n_empty = 0;
    if (info) memset(info, 0, sizeof *info);
    if (!model || !yhat) return NW_ERR_ARG;
    double w[model->d];
    nw_status st = nw_scales(model, NULL, w);
    if (st) return st;
    if (!(w[0] > 0 && nw_loo_sorted_applies(model)))
        return nw_predict_info(model, model->x, model->n, yhat, n_empty, info);
    nw_pass_result res = { 0 };
    if ((st = nw_pass(model, w, 0, 0, NW_PASS_REPORT, yhat, &res))) return st;
    nw_sweep_report(model, &res, t0, n_empty, info);
    return NW_OK;
}

void nw_sweep_report(const nw_model *model, const nw_pass_result *res, double t0,
                     size_t *n_empty, nw_run_info *info)
{
    if (n_empty) *n_empty = res->n_empty;
    if (info) {
        info->engine = NW_ENGINE_SORTED;
        info->certified = !model->y_lossy;
        info->error_bound = res->bound;
        info->exact_fallbacks = res->fallbacks;
        info->seconds = nw_clock() - t0;
    }
}

nw_status nw_loo_predict(const nw_model *model, double *yhat, size_t *n_empty)
{
    if (n_empty) *n_empty = 0;
    if (!model || !yhat) return NW_ERR_ARG;
    if (model->n < 2) return NW_ERR_EMPTY;
    double w[model->d];
    nw_status st = nw_scales(model, NULL, w);
    if (st) return st;
    nw_pass_result res = { 0 };
    st = nw_pass(model, w, 1, 0, NW_PASS_REPORT, yhat, &res);
    if (st == NW_OK && n_empty) *n_empty = res.n_empty;
    return st;
}

nw_status nw_loo_loss(const nw_model *model, const double *w_in, double *loss,
                      double *grad, size_t *n_empty)
{
    if (n_empty) *n_empty = 0;
    if (!model || !loss) return NW_ERR_ARG;
    if (model->n < 2) return NW_ERR_EMPTY;
    const size_t d = model->d;
    double w[d], g[d];
    nw_status st = nw_scales(model, w_in, w);
    if (st) return st;
    nw_pass_result res = { .grad = g };
    st = nw_pass(model, w, 1, grad != NULL, NW_PASS_REPORT, NULL, &res);
    if (st) return st;
    *loss = res.loss;
    if (grad) memcpy(grad, g, d * sizeof(double));
    if (n_empty) *n_empty = res.n_empty;
    return NW_OK;
}
