/*
 * engine_dense.c: the exact reference engine.  Keys are visited in tiles of
 * TILE points; each tile goes through three named passes:
 *
 *   1. scores:  log-weights (log kernels) or weights (compact kernels) of the
 *               tile's keys, and the u_jk the moments need;
 *   2. scale:   for log kernels, the tile's largest score; if it beats the
 *               running maximum, every accumulated moment is multiplied by
 *               exp(old - new) (online softmax), then weight = exp(score - max);
 *   3. moments: the weighted sums of engine.h.
 *
 * Nothing is allocated here: the scratch lives in nw_moments.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "kernels.h"

/* glibc's libmvec has SIMD variants of exp (_ZGVbN2v_exp, ...).  math.h
 * declares them only under -ffast-math, which we do not want (it breaks
 * infinities), so declare exp once more under another name with `omp
 * declare simd`: the vectoriser then calls the SIMD variant. */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(NW_HAVE_LIBMVEC)
#pragma omp declare simd notinbranch
extern double vexp(double) __asm__("exp");
#else
#define vexp exp
#endif

#define TILE 256
/* exp(-700) ~ 1e-304: terms this far below the largest are negligible (they
 * are set to 0), and clamping keeps libmvec's exp off its slow underflow path. */
#define MIN_EXP_ARG (-700.0)

nw_status nw_moments_new(const nw_problem *pb, nw_moments **out)
{
    size_t d = pb->d, p = pb->p, r = pb->linear ? d + 1 : 1;
    size_t nA = r * r, nB = r * p, g = pb->grad ? d : 0;
    nw_moments *mo = calloc(1, sizeof *mo);
    if (!mo) return NW_ERR_NOMEM;
    mo->r = r;
    mo->A = calloc(nA + nB + g * (nA + nB), sizeof(double));
    mo->score = malloc(TILE * (2 + 2 * d) * sizeof(double));
    mo->work = malloc((nA + nB + 2 * r) * sizeof(double));
    mo->shift = calloc(d, sizeof(double));
    /* features and weights of the general moment path */
    mo->feat = malloc(TILE * (r * (r + 1) / 2 + r * p + d + 1) * sizeof(double));
    mo->errA = calloc(nA + nB, sizeof(double));
    if (!mo->A || !mo->score || !mo->work || !mo->shift || !mo->feat || !mo->errA) {
        nw_moments_free(mo);
        return NW_ERR_NOMEM;
    }
    mo->B = mo->A + nA;
    mo->dA = mo->B + nB;
    mo->dB = mo->dA + g * nA;
    mo->weight = mo->score + TILE;
    mo->u = mo->weight + TILE;
    mo->rho = mo->u + TILE * d;
    mo->errB = mo->errA + nA;
    *out = mo;
    return NW_OK;
}

void nw_moments_free(nw_moments *mo)
{
    if (!mo) return;
    free(mo->A);
    free(mo->score);
    free(mo->work);
    free(mo->shift);
    free(mo->feat);
    free(mo->errA);
    if (mo->scratch && mo->free_scratch) mo->free_scratch(mo->scratch);
    free(mo);
}

static size_t moments_size(const nw_problem *pb, const nw_moments *mo)
{
    size_t r = mo->r, base = r * r + r * pb->p;
    return pb->grad ? base * (1 + pb->d) : base;
}

/* Pass 1: u_tk and scores (log kernels: sum_k log K; compact: prod_k K). */
static inline void tile_scores(const nw_problem *pb, const double *q, size_t j0,
                        size_t nt, nw_moments *mo)
{
    const size_t d = pb->d;
    const double *x = pb->x + j0 * d, *w = pb->w;
    double *u = mo->u, *score = mo->score;
    if (d == 1 && pb->kernel == NW_KERNEL_GAUSSIAN) {
        /* the notebook's case: -((q - x) w)^2 / 2, kept in that form (a dot
         * product form would lose up to 1e-9 relative) */
        const double q0 = q[0], w0 = w[0];
#pragma omp simd
        for (size_t t = 0; t < nt; t++) {
            double v = (q0 - x[t]) * w0;
            u[t] = v;
            score[t] = -0.5 * v * v;
        }
        return;
    }
    if (kernel_is_log(pb->kernel)) {
        for (size_t t = 0; t < nt; t++) {
            double s = 0;
            for (size_t k = 0; k < d; k++) {
                double v = (q[k] - x[t * d + k]) * w[k];
                u[t * d + k] = v;
                s += kernel_log(pb->kernel, v);
            }
            score[t] = s;
        }
    } else {
        for (size_t t = 0; t < nt; t++) {
            double s = 1;
            for (size_t k = 0; k < d; k++) {
                double v = (q[k] - x[t * d + k]) * w[k];
                u[t * d + k] = v;
                s *= kernel_value(pb->kernel, v);
            }
            score[t] = s;
        }
    }
}

/* Pass 2 (log kernels): the tile's largest score, with the skipped key
 * removed; -INFINITY if the tile adds nothing. */
static inline double tile_max(size_t nt, size_t skip_t, nw_moments *mo)
{
    double *score = mo->score;
    if (skip_t < nt) score[skip_t] = -INFINITY;
    double tmax = -INFINITY;
    for (size_t t = 0; t < nt; t++) tmax = score[t] > tmax ? score[t] : tmax;
    return tmax;
}

static inline void tile_exp(size_t nt, size_t skip_t, double logscale, nw_moments *mo)
{
    const double *score = mo->score;
    double *weight = mo->weight;
    for (size_t t = 0; t < nt; t++) {
        double a = score[t] - logscale;
        weight[t] = a < MIN_EXP_ARG ? MIN_EXP_ARG : a;
    }
#pragma omp simd
    for (size_t t = 0; t < nt; t++) weight[t] = vexp(weight[t]);
    /* below the clamp the weight is taken as 0, not e^-700: a floor would
     * put fake relative weights on far points (local linear would fit a
     * slope through them) */
    for (size_t t = 0; t < nt; t++)
        if (score[t] - logscale < MIN_EXP_ARG) weight[t] = 0;
    if (skip_t < nt) weight[skip_t] = 0;
}

/* Pass 3: accumulate the moments of one tile. */
static inline void tile_moments(const nw_problem *pb, size_t j0, size_t nt, nw_moments *mo)
{
    const size_t d = pb->d, p = pb->p, r = mo->r;
    const double *y = pb->y + j0 * p, *weight = mo->weight, *u = mo->u;
    double *A = mo->A, *B = mo->B;

    if (pb->grad) {
        double *rho = mo->rho;
        for (size_t t = 0; t < nt; t++)
            for (size_t k = 0; k < d; k++)
                rho[t * d + k] = weight[t] != 0 ? kernel_rho(pb->kernel, u[t * d + k]) : 0;
    }

    if (r == 1 && p == 1) {                     /* local constant, one output */
        double s0 = 0, s1 = 0;
#pragma omp simd reduction(+:s0, s1)
        for (size_t t = 0; t < nt; t++) { s0 += weight[t]; s1 += weight[t] * y[t]; }
        A[0] += s0; B[0] += s1;
        for (size_t k = 0; pb->grad && k < d; k++) {
            double g0 = 0, g1 = 0;
            for (size_t t = 0; t < nt; t++) {
                double e = weight[t] * mo->rho[t * d + k];
                g0 += e; g1 += e * y[t];
            }
            mo->dA[k] += g0; mo->dB[k] += g1;
        }
        return;
    }

    if (r == 2 && p == 1) {                     /* local linear, 1-d, one output */
        const double c = mo->shift[0];
        double s0 = 0, s1 = 0, s2 = 0, t0 = 0, t1 = 0;
#pragma omp simd reduction(+:s0, s1, s2, t0, t1)
        for (size_t t = 0; t < nt; t++) {
            double v = u[t] - c, e = weight[t], eu = e * v;
            s0 += e; s1 += eu; s2 += eu * v; t0 += e * y[t]; t1 += eu * y[t];
        }
        A[0] += s0; A[1] += s1; A[3] += s2; B[0] += t0; B[1] += t1;
        if (pb->grad) {
            const double *rho = mo->rho;
            double g0 = 0, g1 = 0, g2 = 0, h0 = 0, h1 = 0;
#pragma omp simd reduction(+:g0, g1, g2, h0, h1)
            for (size_t t = 0; t < nt; t++) {
                double v = u[t] - c, e = weight[t] * rho[t], eu = e * v;
                g0 += e; g1 += eu; g2 += eu * v; h0 += e * y[t]; h1 += eu * y[t];
            }
            mo->dA[0] += g0; mo->dA[1] += g1; mo->dA[3] += g2;
            mo->dB[0] += h0; mo->dB[1] += h1;
        }
        return;
    }

    /* general case, as a small matrix product: per tile, the features
     * F_j(t) (the products phi_a phi_b, a <= b, then phi_a y_c) and the
     * weights E_g(t) (g = 0: e_t; g = k: e_t rho_tk) give every moment as
     * sum_t E_g(t) F_j(t), a loop the compiler vectorises. */
    const size_t nf = r * (r + 1) / 2 + r * p, ng = pb->grad ? d + 1 : 1;
    double *F = mo->feat, *E = mo->feat + nf * TILE;
    for (size_t t = 0; t < nt; t++) {
        double phi[r];
        phi[0] = 1;
        for (size_t k = 1; k < r; k++) phi[k] = u[t * d + k - 1] - mo->shift[k - 1];
        size_t j = 0;
        for (size_t a = 0; a < r; a++)
            for (size_t b = a; b < r; b++) F[j++ * TILE + t] = phi[a] * phi[b];
        for (size_t a = 0; a < r; a++)
            for (size_t c = 0; c < p; c++) F[j++ * TILE + t] = phi[a] * y[t * p + c];
        E[t] = weight[t];
        for (size_t k = 1; k < ng; k++) E[k * TILE + t] = weight[t] * mo->rho[t * d + k - 1];
    }
    for (size_t g = 0; g < ng; g++) {
        double *Ag = g == 0 ? A : mo->dA + (g - 1) * r * r;
        double *Bg = g == 0 ? B : mo->dB + (g - 1) * r * p;
        const double *Eg = E + g * TILE;
        size_t j = 0;
        for (size_t a = 0; a < r; a++)
            for (size_t b = a; b < r; b++, j++) {
                const double *Fj = F + j * TILE;
                double acc = 0;
#pragma omp simd reduction(+:acc)
                for (size_t t = 0; t < nt; t++) acc += Eg[t] * Fj[t];
                Ag[a * r + b] += acc;
            }
        for (size_t a = 0; a < r; a++)
            for (size_t c = 0; c < p; c++, j++) {
                const double *Fj = F + j * TILE;
                double acc = 0;
#pragma omp simd reduction(+:acc)
                for (size_t t = 0; t < nt; t++) acc += Eg[t] * Fj[t];
                Bg[a * p + c] += acc;
            }
    }
}

/* One copy of the engine per instruction set, picked at load time (glibc
 * ifunc): with AVX2 or AVX-512 the exp loop calls libmvec's 4- or 8-lane
 * exp instead of the 2-lane SSE2 one. */
#if defined(NW_HAVE_LIBMVEC) && defined(__GNUC__) && !defined(__clang__)
#define NW_TARGET_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NW_TARGET_CLONES
#endif

NW_TARGET_CLONES
void nw_engine_dense(const nw_problem *pb, const double *q, size_t skip,
                     nw_moments *mo)
{
    const size_t n = pb->n, total = moments_size(pb, mo);
    memset(mo->A, 0, total * sizeof(double));
    mo->approx = 0;
    mo->logscale = kernel_is_log(pb->kernel) ? -INFINITY : 0;

    for (size_t j0 = 0; j0 < n; j0 += TILE) {
        size_t nt = n - j0 < TILE ? n - j0 : TILE;
        size_t skip_t = (skip != NW_NO_SKIP && skip >= j0 && skip < j0 + nt) ? skip - j0 : (size_t) -1;
        tile_scores(pb, q, j0, nt, mo);
        if (kernel_is_log(pb->kernel)) {
            double tmax = tile_max(nt, skip_t, mo);
            if (tmax == -INFINITY) continue;
            if (tmax > mo->logscale) {
                /* online softmax: rescale what was summed so far */
                if (mo->logscale != -INFINITY) {
                    double f = exp(mo->logscale - tmax);
                    for (size_t i = 0; i < total; i++) mo->A[i] *= f;
                }
                mo->logscale = tmax;
            }
            tile_exp(nt, skip_t, mo->logscale, mo);
        } else {
            memcpy(mo->weight, mo->score, nt * sizeof(double));
            if (skip_t < nt) mo->weight[skip_t] = 0;
        }
        tile_moments(pb, j0, nt, mo);
    }

    /* local linear: mirror the upper triangles */
    size_t r = mo->r;
    if (r > 1) {
        for (size_t g = 0; g <= (pb->grad ? pb->d : 0); g++) {
            double *Ag = g == 0 ? mo->A : mo->dA + (g - 1) * r * r;
            for (size_t a = 0; a < r; a++)
                for (size_t b = 0; b < a; b++) Ag[a * r + b] = Ag[b * r + a];
        }
    }
}
