/* loo.h: passes over the training points (see loo.c). */
#ifndef NW_LOO_H
#define NW_LOO_H

#include "internal.h"

typedef struct nw_pass_result {
    double loss;     /* 1/2 sum_i sum_c r_ic^2 (INFINITY if a point was empty under policy NaN) */
    double trace;    /* sum_i H_ii (in-sample passes only) */
    size_t n_empty;  /* points with an empty neighbourhood */
    double *grad;    /* d values dL/dw_k (caller's buffer; needed if want_grad) */
    double bound;    /* largest certified relative error of a prediction */
    size_t fallbacks;/* points recomputed by the dense engine */
} nw_pass_result;

/* Evaluate every training point as a query at scales w: leave_out = 1 leaves
 * the point itself out.  yhat_out (n x p) may be NULL.  report = 1: call the
 * model's progress callback (NW_ERR_STOPPED if it asks to stop). */
nw_status nw_pass(const nw_model *model, const double *w, int leave_out,
                  int want_grad, int report, double *yhat_out, nw_pass_result *res);

#endif
