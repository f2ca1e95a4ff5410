/*
 * train.c: the notebook's training loop: full-batch gradient steps on the
 * leave-one-out loss over the scales w (see loo.c for the gradient).
 *
 * Each epoch, as in the notebook:  loss = L(w), grad = dL/dw (computed
 * before the step), then the step.  SGD: w <- w - lr grad.  Adam follows
 * PyTorch's torch.optim.Adam exactly (no weight decay, no amsgrad):
 *     m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,
 *     w <- w - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps).
 */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "loo.h"

void nw_train_options_init(nw_train_options *opts)
{
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->optimizer = NW_OPTIMIZER_SGD;
    opts->lr = 0.5;
    opts->epochs = 5;
    opts->beta1 = 0.9;
    opts->beta2 = 0.999;
    opts->eps = 1e-8;
}

nw_status nw_train(nw_model *model, const nw_train_options *opts_in,
                   const double *w0, double *w_out)
{
    nw_train_options defaults;
    if (!model) return NW_ERR_ARG;
    if (model->n < 2) return NW_ERR_EMPTY;  /* leave-one-out needs two points */
    if (!opts_in) { nw_train_options_init(&defaults); opts_in = &defaults; }
    const nw_train_options *o = opts_in;
    if (!(o->lr > 0) || !isfinite(o->lr) || o->epochs < 0 ||
        (o->optimizer != NW_OPTIMIZER_SGD && o->optimizer != NW_OPTIMIZER_ADAM))
        return NW_ERR_ARG;
    if (o->optimizer == NW_OPTIMIZER_ADAM &&
        (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1) || !(o->eps >= 0)))
        return NW_ERR_ARG;

    const size_t d = model->d;
    double w[d], grad[d], m1[d], m2[d];
    for (size_t k = 0; k < d; k++) {
        w[k] = w0 ? w0[k] : 1.0 / model->h[k];
        if (!isfinite(w[k]) || w[k] == 0) return NW_ERR_BANDWIDTH;
        m1[k] = m2[k] = 0;
    }

    for (int epoch = 1; epoch <= o->epochs; epoch++) {
        double loss;
        nw_pass_result res = { .grad = grad };
        nw_status st = nw_pass(model, w, 1, 1, 0, NULL, &res);
        if (st) return st;
        loss = res.loss;
        if (!isfinite(loss) || !nw_all_finite(grad, d)) return NW_ERR_NUMERIC;
        double bc1 = 1 - pow(o->beta1, epoch), bc2 = 1 - pow(o->beta2, epoch);
        for (size_t k = 0; k < d; k++) {
            if (o->optimizer == NW_OPTIMIZER_SGD) {
                w[k] -= o->lr * grad[k];
            } else {
                m1[k] = o->beta1 * m1[k] + (1 - o->beta1) * grad[k];
                m2[k] = o->beta2 * m2[k] + (1 - o->beta2) * grad[k] * grad[k];
                double denom = sqrt(m2[k]) / sqrt(bc2) + o->eps;
                w[k] -= (o->lr / bc1) * m1[k] / denom;
            }
            if (!isfinite(w[k]) || w[k] == 0 || !isfinite(1.0 / w[k])) return NW_ERR_BANDWIDTH;
        }
        if (model->progress &&
            model->progress((double) epoch, (double) o->epochs, model->progress_ctx))
            return NW_ERR_STOPPED;
        if (o->on_epoch) {
            nw_epoch e = { .epoch = epoch, .loss = loss, .grad = grad, .w = w, .d = d };
            if (o->on_epoch(&e, o->ctx)) return NW_ERR_STOPPED;
        }
    }
    if (w_out) memcpy(w_out, w, d * sizeof(double));
    return nw_model_set_scale(model, w);
}
