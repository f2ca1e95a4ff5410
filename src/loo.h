/* loo.h: passes over the training points (see loo.c). */
#ifndef NW_LOO_H
#define NW_LOO_H

#include "internal.h"

typedef struct nw_pass_result {
    double loss;     /* 1/2 sum_i sum_c r_ic^2 (INFINITY if a point was empty under policy NaN) */
    double trace;    /* sum_i H_ii (in-sample passes only) */
    size_t n_empty;  /* points with an empty neighbourhood */
    double *grad;    /* d values dL/dw_k (caller's buffer; needed if want_grad) */
    double bound;    /* largest certified relative error of a prediction (the
                        sorted pass without yhat_out: of the loss) */
    size_t fallbacks;/* points recomputed by the dense engine */
    size_t direct;   /* the sorted pass: points whose (small) windows it
                        summed directly rather than expanded (not in bound) */
} nw_pass_result;

/* nw_pass flags. */
enum {
    /* call the model's progress callback (NW_ERR_STOPPED if it asks to stop) */
    NW_PASS_REPORT = 1,
    /* the pass serves a criterion (its loss), not predictions: approximate
     * engines certify |yhat' - yhat| <= tol max(|yhat_c|, s_c), s_c the
     * standard deviation of output c over the points, instead of tol |yhat|.
     * A prediction near 0 then needs no exact second try.  The loss
     * L = 1/2 sum r_i^2 changes by at most sum |r_i| |dyhat_i| (+ second
     * order), so by Cauchy-Schwarz its relative error is below
     * 2 tol rms(|yhat| + s) / rms(r): the same order as with relative
     * certificates (2 tol rms(yhat) / rms(r)) where predictions are of the
     * order of s.  res->bound is then that mixed relative error. */
    NW_PASS_CRITERION = 2
};

/* Evaluate every training point as a query at scales w: leave_out = 1 leaves
 * the point itself out.  yhat_out (n x p) may be NULL.  flags: NW_PASS_*. */
nw_status nw_pass(const nw_model *model, const double *w, int leave_out,
                  int want_grad, int flags, double *yhat_out, nw_pass_result *res);

/* The passes of 1-d compact kernels over the training points in O(n) per
 * bandwidth (loo_sorted.c), leave-one-out or in-sample: the keys sorted
 * once, then any number of scales w > 0.
 * Applies when d = 1, the kernel is compact, p <= 8 and the model's engine
 * is auto or sorted; nw_loo_sorted_new returns NW_ERR_ARG otherwise.  One
 * pass at a time per context; the model must outlive it. */
typedef struct nw_loo_sorted nw_loo_sorted;
int nw_loo_sorted_applies(const nw_model *model);
nw_status nw_loo_sorted_new(const nw_model *model, nw_loo_sorted **out);
/* As nw_pass with scale w (d = 1); leave_out = 0 is the in-sample pass
 * (its res->trace the hat matrix's). */
nw_status nw_loo_sorted_pass(nw_loo_sorted *ls, double w, int leave_out, int want_grad,
                             int report, double *yhat_out, nw_pass_result *res);
void nw_loo_sorted_free(nw_loo_sorted *ls);

/* Predictions at m queries q (any order, finite) of a model the sweeps
 * apply to (nw_loo_sorted_applies): the queries sorted (their order only),
 * then swept with the running sums of the leave-one-out pass, none of
 * their own terms left out, each prediction certified to the model's
 * tolerance relative (or summed directly over its window).  O(n + m log m)
 * with no tables: the keys' sorted copy (none if they come sorted) and 4
 * bytes a query.  yhat (m x p) as nw_predict's, the empty policy too; res:
 * n_empty, the largest bound, fallbacks (windows summed directly after a
 * missed bound) and direct (small windows summed directly). */
nw_status nw_sorted_predict(const nw_model *model, const double *q, size_t m, double *yhat,
                            nw_pass_result *res);
/* What a pass of the sweeps did, as nw_predict_info reports it: *n_empty
 * and *info (either may be NULL; the engine: sorted), t0 its start. */
void nw_sweep_report(const nw_model *model, const nw_pass_result *res, double t0,
                     size_t *n_empty, nw_run_info *info);

#endif
