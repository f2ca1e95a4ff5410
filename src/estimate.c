/*
 * estimate.c: estimators on top of the engine's moments: predictions
 * (local constant and local linear), the attention matrix, the baseline.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "estimate.h"
#include "kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Relative pivot below which the local-linear design counts as singular. */
#define LL_PIVOT_RTOL 1e-10

/* In-place Cholesky of the r x r matrix L (upper part read, lower written).
 * Returns 0 if some pivot is not clearly positive. */
static int cholesky(double *L, const double *A, size_t r, double *min_pivot)
{
    *min_pivot = 1;
    for (size_t j = 0; j < r; j++) {
        double s = A[j * r + j];
        for (size_t k = 0; k < j; k++) s -= L[j * r + k] * L[j * r + k];
        double rel = s / A[j * r + j];
        if (rel < *min_pivot) *min_pivot = rel;
        if (!(s > LL_PIVOT_RTOL * A[j * r + j])) return 0;
        L[j * r + j] = sqrt(s);
        for (size_t i = j + 1; i < r; i++) {
            double t = A[i * r + j];
            for (size_t k = 0; k < j; k++) t -= L[i * r + k] * L[j * r + k];
            L[i * r + j] = t / L[j * r + j];
        }
    }
    return 1;
}

/* Solve L L^T x = b in place for one right-hand side with stride `stride`. */
static void cholesky_solve(const double *L, size_t r, double *b, size_t stride)
{
    for (size_t i = 0; i < r; i++) {
        double t = b[i * stride];
        for (size_t k = 0; k < i; k++) t -= L[i * r + k] * b[k * stride];
        b[i * stride] = t / L[i * r + i];
    }
    for (size_t i = r; i-- > 0;) {
        double t = b[i * stride];
        for (size_t k = i + 1; k < r; k++) t -= L[k * r + i] * b[k * stride];
        b[i * stride] = t / L[i * r + i];
    }
}

void nw_solve(const nw_problem *pb, nw_moments *mo, nw_estimate *est)
{
    const size_t r = mo->r, p = pb->p, d = pb->d;
    const double A00 = mo->A[0];
    est->empty = 0;
    est->pivot = 1;
    if (!(A00 > 0)) {
        est->empty = 1;
        est->a00 = NAN;
        for (size_t c = 0; c < p; c++) est->yhat[c] = NAN;
        if (pb->grad && est->dyhat)
            for (size_t i = 0; i < d * p; i++) est->dyhat[i] = 0;
        return;
    }
    if (r > 1) {
        /* local linear: beta = A^-1 B (r x p), yhat = beta_0.  With
         * a = A^-1 e_1 (A is symmetric) the derivative of beta_0 is
         *   d beta_0 / d w_k = a . (dB_k - dA_k beta) / w_k
         * (differentiate A beta = B: dA beta + A dbeta = dB).  The design
         * columns u_jk scale with w_k, but beta_0 is invariant to rescaling
         * the slope columns, so only the weights' dependence counts. */
        /* With slope columns centred at `shift` (phi = (1, u - shift)),
         * the query u = 0 sits at z = (1, -shift): yhat = z . beta, and with
         * a = A^-1 z the derivative is a . (dB_k - dA_k beta) / w_k and the
         * hat diagonal K(0) z^T A^-1 z. */
        double *L = mo->work, *beta = L + r * r, *a = beta + r * p, *z = a + r;
        if (cholesky(L, mo->A, r, &est->pivot)) {
            z[0] = 1;
            for (size_t i = 1; i < r; i++) z[i] = -mo->shift[i - 1];
            memcpy(beta, mo->B, r * p * sizeof(double));
            for (size_t c = 0; c < p; c++) cholesky_solve(L, r, beta + c, p);
            memcpy(a, z, r * sizeof(double));
            cholesky_solve(L, r, a, 1);
            est->a00 = 0;
            for (size_t i = 0; i < r; i++) est->a00 += a[i] * z[i];
            for (size_t c = 0; c < p; c++) {
                double v = 0;
                for (size_t i = 0; i < r; i++) v += z[i] * beta[i * p + c];
                est->yhat[c] = v;
            }
            if (pb->grad && est->dyhat) {
                for (size_t k = 0; k < d; k++) {
                    const double *dA = mo->dA + k * r * r, *dB = mo->dB + k * r * p;
                    for (size_t c = 0; c < p; c++) {
                        double v = 0;
                        for (size_t i = 0; i < r; i++) {
                            double t = dB[i * p + c];
                            for (size_t j = 0; j < r; j++) t -= dA[i * r + j] * beta[j * p + c];
                            v += a[i] * t;
                        }
                        est->dyhat[k * p + c] = v / pb->w[k];
                    }
                }
            }
            return;
        }
        /* singular local design: fall through to local constant */
    }
    /* local constant: yhat = B_0 / A_00 and, from dK_j/dw_k = K_j rho_jk / w_k,
     *   d yhat_c / d w_k = (dB_k,c - yhat_c dA_k) / (A_00 w_k). */
    for (size_t c = 0; c < p; c++) est->yhat[c] = mo->B[c] / A00;
    est->a00 = 1.0 / A00;
    if (pb->grad && est->dyhat) {
        for (size_t k = 0; k < d; k++) {
            const double dA0 = mo->dA[k * r * r], *dB = mo->dB + k * r * p;
            for (size_t c = 0; c < p; c++)
                est->dyhat[k * p + c] = (dB[c] - est->yhat[c] * dA0) / (A00 * pb->w[k]);
        }
    }
}

/* Below this relative pivot the raw local-linear moments have lost more
 * than ~4 of their 16 digits to cancellation: recentre. */
#define LL_RECENTRE_PIVOT 1e-4

void nw_estimate_at(const nw_problem *pb, const double *q, size_t skip,
                    nw_moments *mo, nw_estimate *est)
{
    const size_t d = pb->d;
    for (size_t k = 0; k < d; k++) mo->shift[k] = 0;
    nw_engine_dense(pb, q, skip, mo);
    nw_solve(pb, mo, est);
    if (!pb->linear || est->empty || est->pivot >= LL_RECENTRE_PIVOT) return;
    /* recentre the slope columns at their weighted means sum e u / sum e */
    for (size_t k = 0; k < d; k++) mo->shift[k] = mo->A[k + 1] / mo->A[0];
    nw_engine_dense(pb, q, skip, mo);
    nw_solve(pb, mo, est);
}

void nw_problem_init(nw_problem *pb, const nw_model *model, const double *w,
                     int grad)
{
    pb->x = model->x;
    pb->y = model->y;
    pb->n = model->n;
    pb->d = model->d;
    pb->p = model->p;
    pb->kernel = model->kernel;
    pb->w = w;
    pb->linear = model->estimator == NW_ESTIMATOR_LINEAR;
    pb->grad = grad;
}

nw_status nw_scales(const nw_model *model, const double *w_in, double *w)
{
    for (size_t k = 0; k < model->d; k++) {
        w[k] = w_in ? w_in[k] : 1.0 / model->h[k];
        if (!isfinite(w[k]) || w[k] == 0) return NW_ERR_BANDWIDTH;
    }
    return NW_OK;
}

/* Squared distance from q to point i in units of the largest scale wmax:
 * the order of ((q - x) w)^2 without its overflow when w is huge. */
static double scaled_dist2(const nw_model *model, const double *w, double wmax,
                           const double *q, size_t i)
{
    double s = 0;
    for (size_t k = 0; k < model->d; k++) {
        double u = (q[k] - model->x[i * model->d + k]) * (w[k] / wmax);
        s += u * u;
    }
    return s;
}

static double max_abs(const double *w, size_t d)
{
    double m = 0;
    for (size_t k = 0; k < d; k++) m = fmax(m, fabs(w[k]));
    return m;
}

void nw_nearest_value(const nw_model *model, const double *w, const double *q,
                      size_t skip, double *out)
{
    const size_t n = model->n, d = model->d, p = model->p;
    double best = INFINITY, wmax = max_abs(w, d);
    size_t count = 0;
    for (size_t c = 0; c < p; c++) out[c] = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == skip) continue;
        double s = scaled_dist2(model, w, wmax, q, i);
        if (s < best) {
            best = s;
            count = 0;
            for (size_t c = 0; c < p; c++) out[c] = 0;
        }
        if (s == best) {
            count++;
            for (size_t c = 0; c < p; c++) out[c] += model->y[i * p + c];
        }
    }
    for (size_t c = 0; c < p; c++) out[c] = count ? out[c] / (double) count : NAN;
}

int nw_threads(const nw_model *model, size_t work)
{
    /* below ~1e6 kernel evaluations (~2 ms) waking threads costs more than
     * it saves, above all on a loaded machine */
    if (work < 1000000) return 1;
#ifdef _OPENMP
    return model->threads > 0 ? model->threads : omp_get_max_threads();
#else
    (void) model;
    return 1;
#endif
}

nw_status nw_predict(const nw_model *model, const double *q, size_t m,
                     double *yhat, size_t *n_empty)
{
    if (n_empty) *n_empty = 0;
    if (!model || (m > 0 && (!q || !yhat))) return NW_ERR_ARG;
    if (!nw_all_finite(q, m * model->d)) return NW_ERR_NONFINITE;
    const size_t d = model->d, p = model->p;
    double w[d];
    nw_status st = nw_scales(model, NULL, w);
    if (st) return st;
    nw_problem pb;
    nw_problem_init(&pb, model, w, 0);

    size_t empties = 0;
    int failed = 0;
#pragma omp parallel num_threads(nw_threads(model, m * model->n)) reduction(+:empties)
    {
        nw_moments *mo = NULL;
        if (nw_moments_new(&pb, &mo) != NW_OK) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 8)
        for (size_t j = 0; j < m; j++) {
            if (!mo) continue;
            nw_estimate est = { .yhat = yhat + j * p };
            nw_estimate_at(&pb, q + j * d, NW_NO_SKIP, mo, &est);
            if (est.empty) {
                /* log kernels are never empty: every weight underflowed
                 * (w so large that ((q - x) w)^2 overflows), whose limit is
                 * the nearest points' value */
                if (kernel_is_log(pb.kernel) || model->empty == NW_EMPTY_NEAREST)
                    nw_nearest_value(model, w, q + j * d, NW_NO_SKIP, yhat + j * p);
                if (!kernel_is_log(pb.kernel)) empties++;
            }
        }
        nw_moments_free(mo);
    }
    if (failed) return NW_ERR_NOMEM;
    if (n_empty) *n_empty = empties;
    return NW_OK;
}

nw_status nw_attention(const nw_model *model, const double *q, size_t m,
                       double *weights)
{
    if (!model || (m > 0 && (!q || !weights))) return NW_ERR_ARG;
    if (!nw_all_finite(q, m * model->d)) return NW_ERR_NONFINITE;
    const size_t n = model->n, d = model->d;
    const nw_kernel kernel = model->kernel;
    double w[d];
    nw_status st = nw_scales(model, NULL, w);
    if (st) return st;

#pragma omp parallel for num_threads(nw_threads(model, m * n)) schedule(static)
    for (size_t j = 0; j < m; j++) {
        double *row = weights + j * n;
        const double *qj = q + j * d;
        /* pass 1: scores; pass 2: max and exp; pass 3: normalise */
        double top = -INFINITY, sum = 0;
        for (size_t i = 0; i < n; i++) {
            double s = kernel_is_log(kernel) ? 0 : 1;
            for (size_t k = 0; k < d; k++) {
                double u = (qj[k] - model->x[i * d + k]) * w[k];
                if (kernel_is_log(kernel)) s += kernel_log(kernel, u);
                else s *= kernel_value(kernel, u);
            }
            row[i] = s;
            if (s > top) top = s;
        }
        if (kernel_is_log(kernel) && top > -INFINITY)
            for (size_t i = 0; i < n; i++) row[i] = exp(row[i] - top);
        else if (kernel_is_log(kernel))
            for (size_t i = 0; i < n; i++) row[i] = 0;
        for (size_t i = 0; i < n; i++) sum += row[i];
        if (sum > 0) {
            for (size_t i = 0; i < n; i++) row[i] /= sum;
            continue;
        }
        /* empty neighbourhood: compact kernels, or scores that overflowed */
        if (model->empty == NW_EMPTY_NAN && !kernel_is_log(kernel)) {
            for (size_t i = 0; i < n; i++) row[i] = NAN;
            continue;
        }
        double best = INFINITY, wmax = max_abs(w, d);
        size_t ties = 0;
        for (size_t i = 0; i < n; i++) {
            double s = scaled_dist2(model, w, wmax, qj, i);
            row[i] = s;
            if (s < best) { best = s; ties = 0; }
            if (s == best) ties++;
        }
        for (size_t i = 0; i < n; i++) row[i] = row[i] == best ? 1.0 / (double) ties : 0;
    }
    return NW_OK;
}

nw_status nw_baseline(const nw_model *model, double *mean)
{
    if (!model || !mean) return NW_ERR_ARG;
    const size_t n = model->n, p = model->p;
    for (size_t c = 0; c < p; c++) {
        double s = 0;
        for (size_t i = 0; i < n; i++) s += model->y[i * p + c];
        mean[c] = s / (double) n;
    }
    return NW_OK;
}
