/*
 * engine_dense.c: the exact reference engine.
 *
 * Three ways through, the fastest that applies:
 *
 * The prepared paths (d = 1 and 2, one output, a log kernel; keys sorted by
 * nw_dense_prepare when nw_engine_new makes a dense engine for enough
 * queries, pb->dense): the nearest key -- the largest weight -- is found by
 * a search, then ONE fused loop over all keys computes u, the weight
 * relative to the nearest key by the inline exp2_poly, and every moment:
 * no range pass, no rescaling.  Details at "the prepared paths" below.
 *
 * The 1-d tile path (no prepared keys, or |u| beyond 1e150, or recentred
 * slope columns): one input, one output, a log kernel (Gaussian, Laplace),
 * local constant or linear, with or without the derivative moments.  Keys
 * are visited in tiles of FAST_TILE; per tile
 *
 *   1. range: the tile's smallest |u| (the largest weight; the skipped key
 *             left out); if it beats the running smallest s, the sums so
 *             far are multiplied by K(new)/K(old) (online softmax);
 *   2. sums:  one fused loop: u = (q - x) w, the weight K(u)/K(s) =
 *             2^exponent2(|u|, s) by the inline exp2_poly, and every
 *             moment's accumulator.
 *
 * Nothing in the fused loops calls out, so they run at the speed of the
 * polynomial (bench/limit.c measures the loops alone).  In single precision
 * (pb->f32) u = (q - x) w is formed in double and rounded once to float, y
 * is rounded to float, and the sums run in float, 16 lanes per AVX-512
 * vector, carried in float within a tile and in double across tiles (error
 * analysis at dense1d_f32).  Other kernels, d > 2 (d = 2 without prepared
 * keys) and p > 1 take the general path in double whatever pb->f32 says.
 *
 * The general path (any kernel, d, p).  Log kernels: first one pass of
 * scores sum_k log K(u_jk) over all keys (largest_score) finds the key j*
 * with the largest score (the skipped key excluded); logscale is that score.
 * Then tiles of TILE points through two named passes:
 *
 *   1. weights: u_jk and each weight relative to j* (tile_weights), its
 *               exponent a sum over inputs of products of differences,
 *               Gaussian -sum_k (|u_jk| - |u*_k|)(|u_jk| + |u*_k|) / 2,
 *               Laplace  -sum_k (|u_jk| - |u*_k|):
 *               exactly 0 for j*, and exact to a few ulps of the terms
 *               however far q is from the keys, where score - max would
 *               lose eps |max| (1e-11 relative at 3000 bandwidths); no
 *               rescaling pass;
 *   2. moments: the weighted sums of engine.h.
 *
 * Compact kernels: the weights prod_k K(u_jk) (tile_scores), then moments.
 *
 * In these two, terms more than e^700 below the largest are dropped (weight
 * 0, not e^-700: a floor would put fake relative weights on far points, and
 * local linear would fit a slope through them); the prepared paths drop
 * them from 2^-1021 = e^-707.7 (DROP_EXP2_ARG).
 *
 * Nothing is allocated here: the scratch lives in nw_moments.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "exp2_poly.h"
#include "kernels.h"
#include "sort_keys.h"

#define TILE 256
#define FAST_TILE 512
/* MIN_EXP2_ARG(F), LOG2E: exp2_poly.h */
/* exp2_poly's domain ends here (p 2^k normal; float: -125): the prepared
 * paths drop the terms below (weight exactly 0, a mask on the last
 * instruction), those above keep their true weights. */
#define DROP_EXP2_ARG (-1021.0)
#define DROP_EXP2_ARGF (-125.0f)

#ifndef M_LN2
#define M_LN2 0.69314718055994530942
#endif

/* Zeroed memory in whole cache lines of its own: each thread's moments are
 * written for every query, and made one after another by one thread
 * (nw_predict_info), so plain small allocations shared lines between two
 * threads' moments (false sharing: n = m = 1e7 on 2 threads took 0.64-0.97
 * s instead of 0.45). */
static void *line_calloc(size_t count, size_t size)
{
    size_t bytes = ((count * size) + 63) & ~(size_t) 63;
    void *ptr = aligned_alloc(64, bytes ? bytes : 64);
    if (ptr) memset(ptr, 0, bytes ? bytes : 64);
    return ptr;
}

nw_status nw_moments_new(const nw_problem *pb, nw_moments **out)
{
    size_t d = pb->d, p = pb->p, r = pb->linear ? d + 1 : 1;
    size_t nA = r * r, nB = r * p, g = pb->grad ? d : 0;
    nw_moments *mo = line_calloc(1, sizeof *mo);
    if (!mo) return NW_ERR_NOMEM;
    mo->r = r;
    mo->A = line_calloc(nA + nB + g * (nA + nB), sizeof(double));
    mo->score = line_calloc(TILE * (2 + 2 * d), sizeof(double));
    mo->work = line_calloc(nA + nB + 2 * r, sizeof(double));
    mo->shift = line_calloc(d, sizeof(double));
    /* features and weights of the general moment path */
    mo->feat = line_calloc(TILE * (r * (r + 1) / 2 + r * p + d + 1), sizeof(double));
    mo->errA = line_calloc(nA + nB, sizeof(double));
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

/* Compact kernels: u_tk and the weights prod_k K(u_tk) of a tile's keys
 * (into mo->score). */
static inline void tile_scores(const nw_problem *pb, const double *q, size_t j0,
                        size_t nt, nw_moments *mo)
{
    const size_t d = pb->d;
    const double *x = pb->x + j0 * d, *w = pb->w;
    double *u = mo->u, *score = mo->score;
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

/* Log kernels, before the tiles: the key with the largest score
 * sum_k log K(u_jk) (the first of equals; the skipped key excluded), and
 * that score in *best (rounded as tile_scores rounds it: -0.5 v v summed
 * over k); NW_NO_SKIP and -INFINITY if no key has a finite score (none, or
 * every u^2/2 beyond the doubles).  Scores only, no u stored: one cheap
 * pass, vectorised over a tile's keys, with mo->score as scratch. */
static size_t largest_score(const nw_problem *pb, const double *q, size_t skip,
                            nw_moments *mo, double *best)
{
    const size_t n = pb->n, d = pb->d;
    const int laplace = pb->kernel == NW_KERNEL_LAPLACE;
    double *score = mo->score, top = -INFINITY;
    size_t arg = NW_NO_SKIP;
    for (size_t j0 = 0; j0 < n; j0 += TILE) {
        const size_t nt = n - j0 < TILE ? n - j0 : TILE;
        const double *x = pb->x + j0 * d;
        for (size_t t = 0; t < nt; t++) score[t] = 0;
        for (size_t k = 0; k < d; k++) {
            const double qk = q[k], wk = pb->w[k];
#pragma omp simd
            for (size_t t = 0; t < nt; t++) {
                double v = (qk - x[t * d + k]) * wk;
                score[t] += laplace ? -fabs(v) : -0.5 * v * v;
            }
        }
        if (skip != NW_NO_SKIP && skip >= j0 && skip < j0 + nt) score[skip - j0] = -INFINITY;
        double tmax = -INFINITY;
#pragma omp simd reduction(max:tmax)
        for (size_t t = 0; t < nt; t++) tmax = score[t] > tmax ? score[t] : tmax;
        if (tmax > top) {
            size_t t = 0;
            while (score[t] != tmax) t++;
            top = tmax;
            arg = j0 + t;
        }
    }
    *best = top;
    return arg;
}

/* Pass 1 (log kernels): u_tk of the tile's keys and their weights relative
 * to the key with the largest score, whose u are ustar = (q - x_j*) w
 * (formed as here, so that j* and its duplicates get exactly 1):
 *     Gaussian  exp(-sum_k (|u_tk| - |u*_k|)(|u_tk| + |u*_k|) / 2),
 *     Laplace   exp(-sum_k (|u_tk| - |u*_k|)),
 * the second factor halved before the sum, (|u| / 2 + |u*| / 2), so that
 * nothing overflows short of a term that is +inf anyway (dropped).  Each
 * exponent has an error of a few ulps of sum_k |term_k| (no |max| ulps).
 * Terms below e^-700 (and NaN ones) get weight 0. */
static inline void tile_weights(const nw_problem *pb, const double *q, size_t j0, size_t nt,
                                const double *xstar, nw_moments *mo)
{
    const size_t d = pb->d;
    const int laplace = pb->kernel == NW_KERNEL_LAPLACE;
    const double *x = pb->x + j0 * d;
    double *u = mo->u, *a = mo->score, *weight = mo->weight;
    for (size_t t = 0; t < nt; t++) a[t] = 0;
    for (size_t k = 0; k < d; k++) {
        const double qk = q[k], wk = pb->w[k];
        const double us = fabs((qk - xstar[k]) * wk), hus = 0.5 * us;
#pragma omp simd
        for (size_t t = 0; t < nt; t++) {
            double v = (qk - x[t * d + k]) * wk, av = fabs(v);
            u[t * d + k] = v;
            a[t] += laplace ? av - us : (av - us) * (0.5 * av + hus);
        }
    }
#pragma omp simd
    for (size_t t = 0; t < nt; t++) {
        double e2 = a[t] * -LOG2E;
        int keep = e2 >= MIN_EXP2_ARG;
        double e = exp2_poly(keep ? e2 : MIN_EXP2_ARG);
        weight[t] = keep ? e : 0;
    }
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

/* ------------------------------------------------ the 1-d fast path */

/* Coverage builds: one plain copy of each function, so that gcov counts
 * each source branch once. */
#ifdef NW_COVERAGE
#define ALWAYS_INLINE
#else
#define ALWAYS_INLINE inline __attribute__((always_inline))
#endif

/* The base-2 exponent of the weight K(u) / K(u_min) of the 1-d log
 * kernels, from au = |u| and s = the smallest |u| (the largest weight):
 *     Gaussian  -(au^2 - s^2) / (2 ln 2) = -(au - s)(au + s) / (2 ln 2),
 *     Laplace   -(au - s) / ln 2.
 * Formed as a product of differences, not as score - max: it is exactly 0
 * for the largest term (however fused multiply-adds round) and has a
 * relative error of a few ulps, where score - max loses |max| ulps when
 * the query is far from every key. */
static ALWAYS_INLINE double exponent2(double au, double s, int laplace)
{
    return laplace ? (au - s) * -LOG2E : (au - s) * ((au + s) * (-0.5 * LOG2E));
}

static ALWAYS_INLINE float exponent2f(float au, float s, int laplace)
{
    return laplace ? (au - s) * (float) -LOG2E : (au - s) * ((au + s) * (float) (-0.5 * LOG2E));
}

/* rho(u) = u K'(u) / K(u): Gaussian -u^2, Laplace -|u| */
static ALWAYS_INLINE double rho1d(double u, int laplace) { return laplace ? -fabs(u) : -u * u; }
static ALWAYS_INLINE float rho1df(float u, int laplace) { return laplace ? -fabsf(u) : -u * u; }

/* The moments' accumulators: A = [a0 a1; a1 a2], B = [b0; b1], and the
 * derivative moments dA = [g0 g1; g1 g2], dB = [h0; h1]. */
typedef struct sums1d { double a0, a1, a2, b0, b1, g0, g1, g2, h0, h1; } sums1d;

static void sums1d_scale(sums1d *S, double f)
{
    if (f == 0) {   /* all negligible (and inf * 0 would be NaN) */
        memset(S, 0, sizeof *S);
        return;
    }
    S->a0 *= f; S->a1 *= f; S->a2 *= f; S->b0 *= f; S->b1 *= f;
    S->g0 *= f; S->g1 *= f; S->g2 *= f; S->h0 *= f; S->h1 *= f;
}

/* Smallest and largest |u| = |q - x| |w| of keys [t0, t1) (INFINITY, 0
 * if none). */
static ALWAYS_INLINE void range_abs_u(const double *x, size_t t0, size_t t1, double q, double w,
                                      double *lo, double *hi)
{
    double m = INFINITY, M = 0;
#pragma omp simd reduction(min:m) reduction(max:M)
    for (size_t t = t0; t < t1; t++) {
        double au = fabs((q - x[t]) * w);
        m = m < au ? m : au;
        M = M > au ? M : au;
    }
    *lo = m < *lo ? m : *lo;
    *hi = M > *hi ? M : *hi;
}

/* Pass 2 over keys [t0, t1): weights 2^exponent2 and every moment, in one
 * loop.  A dropped term (below the clamp) gets e = 0; where some |u| may
 * be beyond 1e150 (`safe`), u = 0 too, so no 0 * inf reaches the sums.  `centred`:
 * the slope column is u itself (shift c = 0). */
static ALWAYS_INLINE void sums_f64(const double *x, const double *y, size_t t0, size_t t1,
                                   double q, double w, double c, double s, int laplace,
                                   int linear, int grad, int centred, int safe, sums1d *S)
{
    double a0 = 0, a1 = 0, a2 = 0, b0 = 0, b1 = 0, g0 = 0, g1 = 0, g2 = 0, h0 = 0, h1 = 0;
#pragma omp simd reduction(+:a0, a1, a2, b0, b1, g0, g1, g2, h0, h1)
    for (size_t t = t0; t < t1; t++) {
        double u = (q - x[t]) * w, au = fabs(u);
        /* safe: au + s may overflow (and 0 * inf give NaN): halve first */
        double a = safe && !laplace ? (au - s) * ((0.5 * au + 0.5 * s) * -LOG2E)
                                    : exponent2(au, s, laplace);
        int keep = a >= MIN_EXP2_ARG;
        double e = exp2_poly(keep ? a : MIN_EXP2_ARG);
        e = keep ? e : 0;
        if (safe) u = keep ? u : 0;
        double yt = y[t];
        a0 += e;
        b0 += e * yt;
        if (linear) {
            double v = centred ? u : u - c, ev = e * v;
            a1 += ev; a2 += ev * v; b1 += ev * yt;
        }
        if (grad) {
            double er = e * rho1d(u, laplace);
            g0 += er; h0 += er * yt;
            if (linear) {
                double v = centred ? u : u - c, erv = er * v;
                g1 += erv; g2 += erv * v; h1 += erv * yt;
            }
        }
    }
    S->a0 += a0; S->a1 += a1; S->a2 += a2; S->b0 += b0; S->b1 += b1;
    S->g0 += g0; S->g1 += g1; S->g2 += g2; S->h0 += h0; S->h1 += h1;
}

/* The same in float over the tile's rounded uf, yf (dropped keys: uf =
 * inf), with slope columns vf = u - c rounded from double (vf = uf when
 * c = 0). */
static ALWAYS_INLINE void sums_f32(const float *uf, const float *yf, const float *vf, size_t nt,
                                   float s, int laplace, int linear, int grad, sums1d *S)
{
    float a0 = 0, a1 = 0, a2 = 0, b0 = 0, b1 = 0, g0 = 0, g1 = 0, g2 = 0, h0 = 0, h1 = 0;
#pragma omp simd reduction(+:a0, a1, a2, b0, b1, g0, g1, g2, h0, h1)
    for (size_t t = 0; t < nt; t++) {
        float u = uf[t], yt = yf[t], v = vf[t], a = exponent2f(fabsf(u), s, laplace);
        int keep = a >= MIN_EXP2_ARGF;
        float e = exp2f_poly(keep ? a : MIN_EXP2_ARGF);
        e = keep ? e : 0;
        u = keep ? u : 0;
        v = keep ? v : 0;
        a0 += e;
        b0 += e * yt;
        if (linear) {
            float ev = e * v;
            a1 += ev; a2 += ev * v; b1 += ev * yt;
        }
        if (grad) {
            float er = e * rho1df(u, laplace);
            g0 += er; h0 += er * yt;
            if (linear) {
                float erv = er * v;
                g1 += erv; g2 += erv * v; h1 += erv * yt;
            }
        }
    }
    S->a0 += a0; S->a1 += a1; S->a2 += a2; S->b0 += b0; S->b1 += b1;
    S->g0 += g0; S->g1 += g1; S->g2 += g2; S->h0 += h0; S->h1 += h1;
}

/* Online softmax on the smallest |u|: when a tile brings s_new < s, what
 * was summed so far is multiplied by 2^exponent2(s, s_new). */
static void rescale1d(sums1d *S, double *s, double s_new, int laplace)
{
    if (*s != INFINITY) sums1d_scale(S, exp2(exponent2(*s, s_new, laplace)));
    *s = s_new;
}

/* Store the sums in mo in the engine's layout, with logscale = log K at
 * the smallest |u| = s: -s^2/2 or -s (rounded once; s = 0, the case the hat
 * diagonal reads, is exact; -DBL_MAX where -s^2/2 is beyond the doubles:
 * the weights relative to the nearest key are still right). */
/* The prepared path's sums were formed with v = L u and rho' = R rho
 * (L = R = 1 elsewhere): scaled back by 1 / L per slope column and 1 / R
 * for the derivative weights (exact for 1). */
static void put1d(const nw_problem *pb, const sums1d *S, double L, double R, nw_moments *mo)
{
    const double il = 1 / L, ir = 1 / R;
    if (pb->linear) {
        mo->A[0] = S->a0; mo->A[1] = mo->A[2] = S->a1 * il; mo->A[3] = S->a2 * (il * il);
        mo->B[0] = S->b0; mo->B[1] = S->b1 * il;
        if (pb->grad) {
            mo->dA[0] = S->g0 * ir; mo->dA[1] = mo->dA[2] = S->g1 * (ir * il);
            mo->dA[3] = S->g2 * (ir * il * il);
            mo->dB[0] = S->h0 * ir; mo->dB[1] = S->h1 * (ir * il);
        }
    } else {
        mo->A[0] = S->a0; mo->B[0] = S->b0;
        if (pb->grad) { mo->dA[0] = S->g0 * ir; mo->dB[0] = S->h0 * ir; }
    }
}

static void store1d(const nw_problem *pb, const sums1d *S, double s, int laplace, nw_moments *mo)
{
    mo->logscale = s == INFINITY ? -INFINITY : laplace ? -s : fmax(-0.5 * s * s, -DBL_MAX);
    put1d(pb, S, 1, 1, mo);
}

/* Double precision: the keys [0, skip_t) and (skip_t, nt) of each tile. */
static ALWAYS_INLINE void dense1d_f64(const nw_problem *pb, double q, size_t skip,
                                      nw_moments *mo, int laplace, int linear, int grad)
{
    const size_t n = pb->n;
    const double w = pb->w[0], c = mo->shift[0];
    double s = INFINITY;
    sums1d S = { 0 };
    for (size_t j0 = 0; j0 < n; j0 += FAST_TILE) {
        size_t nt = n - j0 < FAST_TILE ? n - j0 : FAST_TILE;
        size_t sk = (skip != NW_NO_SKIP && skip >= j0 && skip < j0 + nt) ? skip - j0 : nt;
        size_t r1 = sk < nt ? sk + 1 : nt;
        const double *x = pb->x + j0, *y = pb->y + j0;
        double tmin = INFINITY, tmax = 0;
        range_abs_u(x, 0, sk, q, w, &tmin, &tmax);
        range_abs_u(x, r1, nt, q, w, &tmin, &tmax);
        if (tmin == INFINITY) continue;
        if (tmin < s) rescale1d(&S, &s, tmin, laplace);
        /* the common case: slope columns unshifted, every u^2 finite */
        if (c == 0 && tmax <= 1e150) {
            sums_f64(x, y, 0, sk, q, w, 0, s, laplace, linear, grad, 1, 0, &S);
            sums_f64(x, y, r1, nt, q, w, 0, s, laplace, linear, grad, 1, 0, &S);
        } else {
            sums_f64(x, y, 0, sk, q, w, c, s, laplace, linear, grad, 0, 1, &S);
            sums_f64(x, y, r1, nt, q, w, c, s, laplace, linear, grad, 0, 1, &S);
        }
    }
    store1d(pb, &S, s, laplace, mo);
}

/* Beyond this t of the nearest key (u^2, u0^2 + u1^2: 8 bandwidths,
 * Gaussian; |u|, |u0| + |u1| for Laplace) the prepared paths' exponents
 * carry errors of ~3 t ulps, more than 192: the tile path (d = 1) or the
 * general path (d = 2) takes such queries (their exponents are products
 * of differences, exact to a few ulps however far, and speed does not
 * matter there). */
#define FAR_T 64.0

/* Past this smallest |u| (the query more than F32_MAX_S bandwidths from
 * every key) the f32 sums are redone in double: see dense1d_f32. */
#define F32_MAX_S 4.0

/* Single precision.  Per tile, u = (q - x) w is formed in double and
 * rounded once to float, y is rounded to float, and pass 2 runs in float.
 *
 * Error.  A weight is 2^a with a = -(|u|^2 - s^2) / (2 ln 2) (Gaussian; s
 * the smallest |u|).  Rounding u and s to float moves the exponent by
 * |u| du + s ds <= (u^2 + s^2) 2^-24 nats (and by (|u| + s) 2^-24 for the
 * Laplace kernel); forming a rounds twice more (~2 |a| 2^-24); exp2f is
 * within 0.89 ulp, relative 0.89 2^-23 at most (1.17 ulp in the SSE2
 * copy: the "1" below is ~2 there).  So a term at z = (u^2 - s^2) / 2 nats below the largest
 * carries a relative error of about (4 z + 2 s^2 + 1) 2^-24.  That grows
 * with s^2: a query far from every key would lose every digit (s = 100:
 * 6e-4), so where the final s > F32_MAX_S = 4 the query is redone in
 * double (returns 1; at s <= 4 the s^2 part is at most 32 2^-24 = 2e-6).
 * Terms summed while the running s was larger carry larger errors, but
 * are scaled down by the final e^-z: z e^-z is at most 0.37 2^-24 each,
 * relative to the largest term.
 * The sums: float within a tile (each of 16 lanes adds FAST_TILE / 16 = 32
 * terms: <= 31 2^-24 = 1.8e-6 of the tile's sum of |terms| at worst,
 * ~sqrt(32) 2^-24 typically), double across tiles; y rounded: 2^-24.
 * Local constant, yhat = B / A: the relative errors of A and B (B's
 * relative to sum e |y|) add: the prediction is within ~(2 (4 zbar + 2 s^2
 * + 1) + 2 * 31 + 1) 2^-24 of the exact one, times the weighted mean of |y|
 * (zbar the weighted mean of z, <= ~log n + 1 however the keys lie): < 1e-5
 * for n <= 1e6 at worst, ~1e-7 typically.  A prediction near 0 from values
 * of both signs has no relative bound.  Local linear multiplies the
 * moments' errors by the local design's conditioning (the estimator
 * recentres the slope columns when it is poor; vf = u - c is rounded from
 * double for that).  Measured: NW_F32_ERROR_BOUND (estimate.h). */
static ALWAYS_INLINE int dense1d_f32(const nw_problem *pb, double q, size_t skip,
                                     nw_moments *mo, int laplace, int linear, int grad)
{
    const size_t n = pb->n;
    const double w = pb->w[0], c = mo->shift[0];
    /* scratch: mo->score holds TILE * (2 + 2d) >= 3 * FAST_TILE floats */
    float *uf = (float *) mo->score, *yf = uf + FAST_TILE, *vf = yf + FAST_TILE;
    double s = INFINITY;
    sums1d S = { 0 };
    for (size_t j0 = 0; j0 < n; j0 += FAST_TILE) {
        size_t nt = n - j0 < FAST_TILE ? n - j0 : FAST_TILE;
        size_t sk = (skip != NW_NO_SKIP && skip >= j0 && skip < j0 + nt) ? skip - j0 : nt;
        const double *x = pb->x + j0, *y = pb->y + j0;
        float m = INFINITY;
#pragma omp simd reduction(min:m)
        for (size_t t = 0; t < nt; t++) {
            float u = (float) ((q - x[t]) * w), au = fabsf(u);
            uf[t] = u;
            yf[t] = (float) y[t];
            m = m < au ? m : au;
        }
        if (sk < nt) {
            /* leave the key out, and take the smallest |u| again */
            uf[sk] = INFINITY;
            m = INFINITY;
#pragma omp simd reduction(min:m)
            for (size_t t = 0; t < nt; t++) {
                float au = fabsf(uf[t]);
                m = m < au ? m : au;
            }
        }
        if (m == INFINITY) continue;
        if (m < s) rescale1d(&S, &s, m, laplace);
        if (linear && c != 0) {
#pragma omp simd
            for (size_t t = 0; t < nt; t++) vf[t] = (float) ((q - x[t]) * w - c);
            sums_f32(uf, yf, vf, nt, (float) s, laplace, linear, grad, &S);
        } else {
            sums_f32(uf, yf, uf, nt, (float) s, laplace, linear, grad, &S);
        }
    }
    if (s > F32_MAX_S && s != INFINITY) return 1;
    store1d(pb, &S, s, laplace, mo);
    return 0;
}

/* One specialised loop per (kernel, estimator, grad), f64 or f32.  Returns
 * 1 where the f32 sums must be redone in double (a query far from every
 * key). */
static ALWAYS_INLINE int dense1d(const nw_problem *pb, double q, size_t skip, nw_moments *mo)
{
    const int laplace = pb->kernel == NW_KERNEL_LAPLACE;
    const int code = laplace * 4 + (pb->linear ? 2 : 0) + (pb->grad ? 1 : 0);
#define DENSE1D_CASE(k) \
    case k: if (pb->f32) return dense1d_f32(pb, q, skip, mo, (k) >> 2, ((k) >> 1) & 1, (k) & 1); \
            dense1d_f64(pb, q, skip, mo, (k) >> 2, ((k) >> 1) & 1, (k) & 1); \
            return 0;
    switch (code) {
    DENSE1D_CASE(0) DENSE1D_CASE(1) DENSE1D_CASE(2) DENSE1D_CASE(3)
    DENSE1D_CASE(4) DENSE1D_CASE(5) DENSE1D_CASE(6) DENSE1D_CASE(7)
    }
#undef DENSE1D_CASE
    return 0;
}

/* ------------------------------------------------ the prepared paths
 *
 * With the keys prepared (nw_dense_prepare: d = 1 sorted, d = 2 bucketed
 * in a grid of about two keys a cell), a query finds its nearest key -- the
 * largest weight -- by a search (binary; rings of cells), and the sums are one fused loop over all keys with the
 * largest exponent fixed: no range pass, no rescaling.
 *
 * Exponents.  With u = (q - x) w rounded once, as everywhere, and for
 * the Gaussian v = (q - x) (w L) formed the same way, L = sqrt(1 / (2 ln
 * 2)), so that its exponents are in base 2 with no multiplication per term
 * (the limit loop's form; Laplace: v = u, L = 1), and s the nearest key's
 * value of
 *     d = 1:  |v|                  base-2 exponent  s^2 - v^2
 *             (Laplace |u|)                         (Laplace (|u| - s) / -ln 2)
 *     d = 2:  t = v0^2 + v1^2                       (s - v0^2) - v1^2
 *             (Laplace |u0| + |u1|)                 (Laplace (s - t) / ln 2)
 * each Gaussian exponent one or two fused multiply-subtracts, each
 * rounded once.  (Laplace keeps u and the multiplication: its exponents
 * then round as the tree engine's do, which matters where local linear is
 * so ill-conditioned that its answer hangs on the last bits of the
 * weights -- test_engine_tree, Laplace at 3000 / unit.)  (For the
 * Gaussian, forming t first and then s - t, or 1-d's product of
 * differences (|u| - s)(|u| + s), exactly 0 for the nearest key, costs an
 * operation or two more per term: ~4 % f64, ~8 % f32, 1 in 15 of the
 * multiplier slots in 1-d.)  The search and the sums compute s and t by
 * the same expressions (dist2d; |v| in 1-d), so the nearest key's weight
 * is 1 within ~eps s^2 (1-d) or ~eps s (2-d); exactly 1 for a query on a
 * key, v = 0 (the leave-one-out and hat-diagonal case), and for Laplace
 * (exactly 0 for the nearest key).
 * The price of v: v / (L u) = (1 + d_wL)(1 + d_v) / (1 + d_u), so v^2
 * carries ~2 eps more than u^2, and the exponents of the terms that matter
 * (those near the nearest key's, t ~ s) carry ~3 eps t nats (t = u^2,
 * u0^2 + u1^2) against ~eps t for u: ~3 eps
 * relative in a weight for queries among the keys, growing with the
 * distance to the nearest key like score - max does in the general path:
 * queries whose nearest key has t beyond FAR_T (8 bandwidths) go to the
 * tile path (d = 1) or the general path (d = 2), exact to a few ulps
 * however far; below, at most ~3 FAR_T = 192 eps (4e-14) in a weight.
 * d_wL, common to all keys, is a relative change of 1.1e-16 in the
 * bandwidth.  In f32, v is rounded once to float: the double product's
 * roundings are 2^-29 of the float's, and the f32 analysis below is
 * unchanged.  The moments are scaled back by powers of 1 / L in double
 * (put1d, put2d), a rounding more each.
 *
 * Layout, d = 2: the sums read the prepared keys (x0 and x1 as two arrays,
 * in grid order) and y copied into the same order, not pb's interleaved x:
 * no shuffles, and fewer registers (~15 % faster).  The key left out is
 * found at its place in that order (grid_pos).  The lean state (a fast
 * engine's fallback, which holds its own copy of the keys already) keeps
 * neither the copy nor the grid: the nearest key by a pass over pb's keys
 * (nearest2d_pass), the sums over pb's interleaved x and y.
 *
 * Far terms: those with exponents below DROP_EXP2_ARG, where exp2_poly's
 * domain ends, get weight 0 (2^-1021 = e^-707.7; f32 2^-125), never a
 * floor, and those above carry their true weights (the tile path drops
 * from e^-700: the two differ by terms below 1e-304 of the largest).  |u|
 * is at most 1e150 here (1e18 in f32), so no u^2 overflows and no 0 * inf
 * reaches the sums; beyond that, and for recentred local-linear columns,
 * the tile or general path runs.
 *
 * Sums: plain within tiles of FAST_TILE, then across tiles, as in the tile
 * path.  f32: dense1d_f32's analysis holds, with y rounded once when
 * prepared, s fixed (no terms summed at a larger running s) and, in 2-d,
 * u^2 read as u0^2 + u1^2 (each input's rounding adds |u_k| du_k); a query
 * whose nearest key is beyond F32_MAX_S bandwidths goes to the f64 loop
 * before any f32 work. */

struct nw_dense_state {
    size_t n, d;
    int lean;         /* d = 2: no copy, no grid (nw_dense_prepare's `lean`): the
                         nearest key by a pass over pb's keys, the sums over them */
    const double *keys;  /* d = 1: the keys sorted (pb's own where they are: nw_model_arrange);
                            d = 2: x0 by grid cell, then the x1 in that order */
    double *own;      /* the copy keys points to, if any */
    int aos;          /* d = 2: pb's own keys (interleaved), already by grid cell
                         (nw_model_arrange): keys = pb->x, no ys; pb's order is the keys' */
    double *ys;       /* d = 2: y in the keys' order */
    size_t *start;    /* d = 2: cell (i, j)'s keys are [start[c], start[c + 1]), c = j g0 + i */
    size_t g[2];      /* d = 2: cells per input */
    double cw[2];     /* d = 2: cell widths, in the inputs' units */
    float *yf;        /* f32 problems: y rounded to float, in pb's order (d = 1, lean) or the keys' (d = 2) */
    double lo[2], hi[2];   /* per input, the smallest and largest key */
};


/* First index i with a[i] >= v (n if none). */
static size_t lower_bound(const double *a, size_t n, double v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static int double_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

void nw_dense_state_free(void *state)
{
    nw_dense_state *st = state;
    if (!st) return;
    free(st->own);
    free(st->ys);
    free(st->start);
    free(st->yf);
    free(st);
}

/* Worth it when the queries' work dwarfs the sort: in 1-d the search saves
 * ~15 % of a pass per query (the range pass) against ~log2 n compares per
 * key for the sort; in 2-d it turns the general path into the fused one
 * (several times faster) for a counting sort. */
static int prepare_pays(const nw_problem *pb, size_t m)
{
    double lg = log2((double) pb->n + 1);
    return pb->d == 1 ? (double) m >= 16 * lg : (double) m >= lg;
}

int nw_dense_prepares(const nw_problem *pb, size_t m)
{
    return pb->n > 0 && (pb->d == 1 || pb->d == 2) && pb->p == 1 && kernel_is_log(pb->kernel) &&
           prepare_pays(pb, m);
}

/* The cell of coordinate v along input k (clamped to the grid). */
static size_t cell_of(const nw_dense_state *st, size_t k, double v)
{
    double f = floor((v - st->lo[k]) / st->cw[k]);
    return f <= 0 ? 0 : f >= (double) (st->g[k] - 1) ? st->g[k] - 1 : (size_t) f;
}

/* d = 2: the keys bucketed into a grid over their bounding box, about two
 * keys a cell, the cells about square in bandwidths (pb->w), by a counting
 * sort (each key's cell computed twice rather than stored).  Returns 0 out
 * of memory. */
/* The keys' bounding box: st->lo, st->hi. */
static void key_bounds(nw_dense_state *st, const nw_problem *pb)
{
    const size_t n = st->n, d = st->d;
    for (size_t k = 0; k < d; k++) st->lo[k] = INFINITY, st->hi[k] = -INFINITY;
    for (size_t j = 0; j < n; j++)
        for (size_t k = 0; k < d; k++) {
            /* (not fmin/fmax: without -ffinite-math-only those are calls) */
            const double v = pb->x[j * d + k];
            st->lo[k] = v < st->lo[k] ? v : st->lo[k];
            st->hi[k] = v > st->hi[k] ? v : st->hi[k];
        }
}

/* d = 2: the grid over the keys' bounding box (g, cw; lo and hi set). */
static void grid_shape(nw_dense_state *st, const nw_problem *pb)
{
    const size_t n = st->n;
    double e[2], cells = fmax(1, (double) n / 2);
    for (size_t k = 0; k < 2; k++) e[k] = (st->hi[k] - st->lo[k]) * fabs(pb->w[k]);
    double g0 = e[0] > 0 && e[1] > 0 ? sqrt(cells * e[0] / e[1]) : e[0] > 0 ? cells : 1;
    g0 = fmin(fmax(floor(g0), 1), cells);
    double g1 = e[1] > 0 ? fmin(fmax(floor(cells / g0), 1), cells) : 1;
    st->g[0] = (size_t) g0;
    st->g[1] = (size_t) g1;
    for (size_t k = 0; k < 2; k++)
        st->cw[k] = st->hi[k] > st->lo[k] ? (st->hi[k] - st->lo[k]) / (double) st->g[k] : 1;
}

static int grid2d(nw_dense_state *st, const nw_problem *pb)
{
    const size_t n = st->n;
    grid_shape(st, pb);
    const size_t nc = st->g[0] * st->g[1];
    st->start = calloc(nc + 1, sizeof *st->start);
    if (!st->start) return 0;
#define CELL_OF_KEY(j) (cell_of(st, 1, pb->x[2 * (j) + 1]) * st->g[0] + cell_of(st, 0, pb->x[2 * (j)]))
    int in_order = 1;
    for (size_t j = 0, prev = 0; j < n; j++) {
        size_t c = CELL_OF_KEY(j);
        st->start[c + 1]++;
        in_order &= c >= prev;
        prev = c;
    }
    for (size_t c = 0; c < nc; c++) st->start[c + 1] += st->start[c];
    if (in_order) {
        /* already by cell (nw_model_arrange): pb's own keys, read
         * interleaved as the lean sums read them */
        st->aos = 1;
        st->keys = pb->x;
        return 1;
    }
    st->own = malloc(n * 2 * sizeof *st->own);
    st->ys = malloc(n * sizeof *st->ys);
    if (!st->own || !st->ys) return 0;
    st->keys = st->own;
    for (size_t j = 0; j < n; j++) {
        size_t at = st->start[CELL_OF_KEY(j)]++;
        st->own[at] = pb->x[2 * j];
        st->own[n + at] = pb->x[2 * j + 1];
        st->ys[at] = pb->y[j];
    }
    /* start[c] now holds the end of cell c: shift back */
    for (size_t c = nc; c > 0; c--) st->start[c] = st->start[c - 1];
    st->start[0] = 0;
#undef CELL_OF_KEY
    return 1;
}

/* d = 2: the place in the keys' order of key j of pb (n if none): in its
 * cell, the first key with the same bits of x0, x1 and y -- keys equal in
 * all three add the same terms, so leaving out any one of them gives the
 * same sums. */
static size_t grid_pos(const nw_dense_state *st, const nw_problem *pb, size_t j)
{
    const size_t n = st->n;
    const size_t c = cell_of(st, 1, pb->x[2 * j + 1]) * st->g[0] + cell_of(st, 0, pb->x[2 * j]);
    for (size_t a = st->start[c]; a < st->start[c + 1]; a++)
        if (memcmp(&st->keys[a], &pb->x[2 * j], sizeof(double)) == 0 &&
            memcmp(&st->keys[n + a], &pb->x[2 * j + 1], sizeof(double)) == 0 &&
            memcmp(&st->ys[a], &pb->y[j], sizeof(double)) == 0)
            return a;
    return n;
}

nw_status nw_dense_prepare(const nw_problem *pb, size_t m, int lean, nw_dense_state **out)
{
    *out = NULL;
    const size_t n = pb->n, d = pb->d;
    if (n == 0 || (d != 1 && d != 2) || pb->p != 1 || !kernel_is_log(pb->kernel) ||
        !prepare_pays(pb, m))
        return NW_OK;
    nw_dense_state *st = calloc(1, sizeof *st);
    if (!st) return NW_ERR_NOMEM;
    st->n = n;
    st->d = d;
    st->lean = lean && d == 2;
    /* 1-d keys already in order (nw_model_arrange) are searched in place */
    int sorted = d == 1;
    for (size_t j = 1; sorted && j < n; j++) sorted = pb->x[j - 1] <= pb->x[j];
    if (sorted) st->keys = pb->x;
    else if (d == 1) {
        if (!(st->own = malloc(n * sizeof *st->own))) goto nomem;
        st->keys = st->own;
    }
    key_bounds(st, pb);
    if (d == 1 && !sorted) {
        memcpy(st->own, pb->x, n * sizeof *st->own);
        qsort(st->own, n, sizeof *st->own, double_cmp);
    } else if (d == 2 && !st->lean) {
        if (!grid2d(st, pb)) goto nomem;
    }
    if (pb->f32) {
        st->yf = malloc(n * sizeof *st->yf);
        if (!st->yf) goto nomem;
        for (size_t j = 0; j < n; j++) st->yf[j] = (float) (d == 1 || st->lean || st->aos ? pb->y : st->ys)[j];
    }
    *out = st;
    return NW_OK;
nomem:
    nw_dense_state_free(st);
    return NW_ERR_NOMEM;
}

int nw_dense_arrange(const nw_problem *pb, size_t m, uint32_t *order)
{
    const size_t n = pb->n;
    if (!nw_dense_prepares(pb, m)) return 0;
    if (pb->d == 1) return nw_sort_order(pb->x, n, order) == NW_OK ? 1 : -1;
    /* d = 2: by grid cell (grid2d's), each cell's keys in their order,
     * where the grid's copy (keys and values, 24 bytes a key) would pass
     * the budget (n = 1e6 onto 1e4 queries: 2.17x -> 1.33x the arrays,
     * 2.9 -> 3.4 s; at n = m = 1e4 the copy is 240 kB and stays) */
    if (24.0 * (double) n <= nw_memory_budget(pb, m)) return 0;
    nw_dense_state g;
    memset(&g, 0, sizeof g);
    g.n = n;
    g.d = 2;
    key_bounds(&g, pb);
    grid_shape(&g, pb);
    const size_t nc = g.g[0] * g.g[1];
    size_t *fill = calloc(nc + 1, sizeof *fill);
    if (!fill) return -1;
#define CELL_OF_KEY(j) (cell_of(&g, 1, pb->x[2 * (j) + 1]) * g.g[0] + cell_of(&g, 0, pb->x[2 * (j)]))
    for (size_t j = 0; j < n; j++) fill[CELL_OF_KEY(j) + 1]++;
    for (size_t c = 0; c < nc; c++) fill[c + 1] += fill[c];
    for (size_t j = 0; j < n; j++) order[fill[CELL_OF_KEY(j)]++] = (uint32_t) j;
#undef CELL_OF_KEY
    free(fill);
    return 1;
}

/* The nearest key of a query (the skipped key left out). */
typedef struct nearest {
    double s;          /* its |u| (d = 1) or t (d = 2, in the sums' units), as the sums compute it */
    double logscale;   /* log K there: -|u|^2/2 or -(sum |u|), u in the problem's units */
    double dist;       /* |u| (Euclidean, or the sum of |u_k| for Laplace): the f32 check */
    double sv;         /* d = 1: its |v| = |(q - x) (w L)|, as the sums compute it */
} nearest;

/* d = 1: the smallest |u| = |(q - x) w| over the keys but skip, from the
 * two keys around q in the sorted order (|(q - x) w| grows away from q on
 * each side however it rounds).  The skipped key is one copy of x[skip]:
 * only if it has no duplicate is its sorted place passed over.  Returns 0
 * if no key is left (n = 1, skipped). */
static int nearest1d(const nw_dense_state *st, const nw_problem *pb, double q, size_t skip,
                     double w, double wl, int laplace, nearest *nr)
{
    const double *xs = st->keys;
    const size_t n = st->n;
    size_t ex = n;
    if (skip != NW_NO_SKIP) {
        size_t lb = lower_bound(xs, n, pb->x[skip]);
        if (lb + 1 == n || xs[lb + 1] != xs[lb]) ex = lb;
    }
    size_t pos = lower_bound(xs, n, q);
    size_t left = pos > 0 && pos - 1 == ex ? pos - 1 : pos;   /* candidate left - 1 */
    size_t right = pos == ex ? pos + 1 : pos;                   /* candidate right */
    double best = INFINITY, bv = INFINITY;
    if (left > 0) {
        best = fabs((q - xs[left - 1]) * w);
        bv = fabs((q - xs[left - 1]) * wl);
    }
    if (right < n) {
        double t = fabs((q - xs[right]) * w), tv = fabs((q - xs[right]) * wl);
        best = t < best ? t : best;
        bv = tv < bv ? tv : bv;
    }
    if (best == INFINITY) return 0;
    nr->s = best;
    nr->sv = bv;
    nr->dist = best;
    nr->logscale = laplace ? -best : -0.5 * best * best;
    return 1;
}

/* d = 2: the exponent's distance, one function for the search and the sums
 * (so the nearest key's t is the same number in both). */
static ALWAYS_INLINE double dist2d(double u0, double u1, int laplace)
{
    return laplace ? fabs(u0) + fabs(u1) : u0 * u0 + u1 * u1;
}

static ALWAYS_INLINE float dist2df(float u0, float u1, int laplace)
{
    return laplace ? fabsf(u0) + fabsf(u1) : u0 * u0 + u1 * u1;
}

/* d = 2: input k of prepared key i (two arrays, or pb's interleaved keys) */
static ALWAYS_INLINE double key2d(const nw_dense_state *st, size_t i, size_t k)
{
    return st->aos ? st->keys[2 * i + k] : st->keys[k * st->n + i];
}

/* d = 2: t of prepared key i (the key at place `skip` of the keys' order:
 * inf), in the precision and units of the sums (w scaled by L). */
static ALWAYS_INLINE double dist2d_at(const nw_dense_state *st, const double *q, size_t skip,
                                      const double *w, int laplace, int f32, size_t i)
{
    const double v0 = (q[0] - key2d(st, i, 0)) * w[0], v1 = (q[1] - key2d(st, i, 1)) * w[1];
    double t = f32 ? (double) dist2df((float) v0, (float) v1, laplace) : dist2d(v0, v1, laplace);
    return i == skip ? INFINITY : t;
}

/* d = 2: a lower bound on the part of t along input k of any key beyond
 * coordinate `edge` (a cell edge), seen from q_k: the part of the gap,
 * the gap shrunk by 1e-9 cells for the rounding of the bucketing (t is at
 * least that part however it rounds: rounding is monotone). */
static ALWAYS_INLINE double gap_part(const nw_dense_state *st, size_t k, double qk, double edge,
                                     double wk, int laplace, int f32)
{
    double gap = fabs(qk - edge) - 1e-9 * st->cw[k];
    gap = (gap > 0 ? gap : 0) * fabs(wk);
    return f32 ? (double) dist2df((float) gap, 0, laplace) : dist2d(gap, 0, laplace);
}

/* d = 2: the smallest t over the keys but the one at place skip of the
 * keys' order, in the precision and units (w) of the sums, by rings of
 * grid cells around q's cell (clamped to the grid) until every key
 * outside the rings searched is provably
 * farther than the best (or none is left).  A few cells for a query among
 * the keys; O(n) at worst (a query far outside).  Returns 0 if no key is
 * left. */
static ALWAYS_INLINE int nearest2d(const nw_dense_state *st, const nw_problem *pb, const double *q,
                                   size_t skip, const double *w, int laplace, int f32,
                                   nearest *nr)
{
    const size_t n = st->n, g0 = st->g[0], g1 = st->g[1];
    const size_t c0 = cell_of(st, 0, q[0]), c1 = cell_of(st, 1, q[1]);
    double best = INFINITY;
    size_t arg = n;
    for (size_t r = 0;; r++) {
        /* the ring: cells (i, j) with max(|i - c0|, |j - c1|) = r */
        size_t i0 = c0 >= r ? c0 - r : 0, i1 = c0 + r < g0 ? c0 + r : g0 - 1;
        size_t j0 = c1 >= r ? c1 - r : 0, j1 = c1 + r < g1 ? c1 + r : g1 - 1;
        for (size_t j = j0; j <= j1; j++) {
            const int edge_row = j + r == c1 || j == c1 + r;
            for (size_t i = i0; i <= i1; i++) {
                if (!edge_row && i + r != c0 && i != c0 + r) {
                    i = c0 + r - 1;   /* inside the ring: jump to its right side */
                    continue;
                }
                const size_t c = j * g0 + i;
                for (size_t a = st->start[c]; a < st->start[c + 1]; a++) {
                    double t = dist2d_at(st, q, skip, w, laplace, f32, a);
                    if (t < best) {
                        best = t;
                        arg = a;
                    }
                }
            }
        }
        /* any key not searched is beyond one of the block's open sides */
        double bound = INFINITY;
        const size_t cq[2] = { c0, c1 };
        for (size_t k = 0; k < 2; k++)    /* the block's lower and upper edge along input k */
            for (int side = 0; side < 2; side++) {
                if (side == 0 ? cq[k] < r + 1 : cq[k] + r + 1 >= st->g[k]) continue;
                size_t edge = side == 0 ? cq[k] - r : cq[k] + r + 1;
                double b = gap_part(st, k, q[k], st->lo[k] + (double) edge * st->cw[k], w[k], laplace, f32);
                bound = b < bound ? b : bound;
            }
        if (bound == INFINITY || bound >= best) break;
    }
    if (arg == n) return 0;
    double u0 = (q[0] - key2d(st, arg, 0)) * pb->w[0], u1 = (q[1] - key2d(st, arg, 1)) * pb->w[1];
    nr->s = best;
    nr->dist = laplace ? fabs(u0) + fabs(u1) : sqrt(u0 * u0 + u1 * u1);
    nr->logscale = laplace ? -fabs(u0) - fabs(u1) : -0.5 * (u0 * u0 + u1 * u1);
    return 1;
}

/* The 1-d sums over keys [t0, t1) with the nearest key's |v| = s known,
 * v = (q - x) (w L) (wl = w L): the base-2 exponent s^2 - v^2 (one fused
 * multiply-subtract, the limit loop's form; Laplace, L = 1: (|u| - s) /
 * -ln 2); see "the prepared paths". */
static ALWAYS_INLINE void fused1d_f64(const double *x, const double *y, size_t t0, size_t t1,
                                      double q, double wl, double s, int laplace, int linear,
                                      int grad, sums1d *S)
{
    const double s2 = s * s;
    for (size_t j0 = t0; j0 < t1; j0 += FAST_TILE) {
        const size_t j1 = t1 - j0 > FAST_TILE ? j0 + FAST_TILE : t1;
        double a0 = 0, a1 = 0, a2 = 0, b0 = 0, b1 = 0, g0 = 0, g1 = 0, g2 = 0, h0 = 0, h1 = 0;
#pragma omp simd reduction(+:a0, a1, a2, b0, b1, g0, g1, g2, h0, h1)
        for (size_t t = j0; t < j1; t++) {
            double v = (q - x[t]) * wl;
            double a = laplace ? (fabs(v) - s) * -LOG2E : s2 - v * v;
            double e = exp2_poly(a);
            e = a < DROP_EXP2_ARG ? 0 : e;
            double yt = y[t];
            a0 += e;
            b0 += e * yt;
            if (linear) {
                double ev = e * v;
                a1 += ev; a2 += ev * v; b1 += ev * yt;
            }
            if (grad) {
                double er = e * rho1d(v, laplace);
                g0 += er; h0 += er * yt;
                if (linear) {
                    double erv = er * v;
                    g1 += erv; g2 += erv * v; h1 += erv * yt;
                }
            }
        }
        S->a0 += a0; S->a1 += a1; S->a2 += a2; S->b0 += b0; S->b1 += b1;
        S->g0 += g0; S->g1 += g1; S->g2 += g2; S->h0 += h0; S->h1 += h1;
    }
}

/* The same in float: v formed in double and rounded once, y rounded when
 * prepared, float sums within a tile, double across tiles. */
static ALWAYS_INLINE void fused1d_f32(const double *x, const float *yf, size_t t0, size_t t1,
                                      double q, double wl, float s, int laplace, int linear,
                                      int grad, sums1d *S)
{
    const float s2 = s * s;
    for (size_t j0 = t0; j0 < t1; j0 += FAST_TILE) {
        const size_t j1 = t1 - j0 > FAST_TILE ? j0 + FAST_TILE : t1;
        float a0 = 0, a1 = 0, a2 = 0, b0 = 0, b1 = 0, g0 = 0, g1 = 0, g2 = 0, h0 = 0, h1 = 0;
#pragma omp simd reduction(+:a0, a1, a2, b0, b1, g0, g1, g2, h0, h1)
        for (size_t t = j0; t < j1; t++) {
            float v = (float) ((q - x[t]) * wl);
            float a = laplace ? (fabsf(v) - s) * (float) -LOG2E : s2 - v * v;
            float e = exp2f_poly(a);
            e = a < DROP_EXP2_ARGF ? 0 : e;
            float yt = yf[t];
            a0 += e;
            b0 += e * yt;
            if (linear) {
                float ev = e * v;
                a1 += ev; a2 += ev * v; b1 += ev * yt;
            }
            if (grad) {
                float er = e * rho1df(v, laplace);
                g0 += er; h0 += er * yt;
                if (linear) {
                    float erv = er * v;
                    g1 += erv; g2 += erv * v; h1 += erv * yt;
                }
            }
        }
        S->a0 += a0; S->a1 += a1; S->a2 += a2; S->b0 += b0; S->b1 += b1;
        S->g0 += g0; S->g1 += g1; S->g2 += g2; S->h0 += h0; S->h1 += h1;
    }
}

/* d = 1 with prepared keys.  Returns 0 where it does not apply (a shifted
 * slope column, some |v| beyond 1e150 -- 1e18 in f32): the tile path runs. */
static ALWAYS_INLINE int prepared1d(const nw_problem *pb, double q, size_t skip, nw_moments *mo,
                                    int laplace, int linear, int grad)
{
    const nw_dense_state *st = pb->dense;
    const size_t n = pb->n;
    const double w = pb->w[0];
    const double ulim = pb->f32 ? 1e18 : 1e150;
    int f32 = pb->f32;
    if ((linear && mo->shift[0] != 0) || !(fabs((q - st->keys[0]) * w) <= ulim) ||
        !(fabs((q - st->keys[n - 1]) * w) <= ulim))
        return 0;
    /* Gaussian: the weight scaled by L, so that the base-2 exponent is
     * s^2 - v^2 (Laplace: L = 1) */
    const double L = laplace ? 1 : sqrt(0.5 * LOG2E), wl = w * L;
    nearest nr;
    if (!nearest1d(st, pb, q, skip, w, wl, laplace, &nr)) {
        mo->logscale = -INFINITY;   /* no key: the sums are 0 */
        return 1;
    }
    /* Gaussian far from every key: the tile path's exact product of
     * differences (Laplace's exponent here is that already) */
    if (!laplace && nr.s * nr.s > FAR_T) return 0;
    if (nr.dist > F32_MAX_S) f32 = 0;   /* far from every key: in double (dense1d_f32) */
    size_t r1 = skip < n ? skip + 1 : n, r0 = skip < n ? skip : n;
    sums1d S = { 0 };
    if (f32) {
        fused1d_f32(pb->x, st->yf, 0, r0, q, wl, (float) nr.sv, laplace, linear, grad, &S);
        fused1d_f32(pb->x, st->yf, r1, n, q, wl, (float) nr.sv, laplace, linear, grad, &S);
    } else {
        fused1d_f64(pb->x, pb->y, 0, r0, q, wl, nr.sv, laplace, linear, grad, &S);
        fused1d_f64(pb->x, pb->y, r1, n, q, wl, nr.sv, laplace, linear, grad, &S);
    }
    put1d(pb, &S, L, L * L, mo);
    mo->logscale = nr.logscale;
    return 1;
}

/* The 2-d moments' accumulators: A (upper triangle a00 a01 a02 a11 a12
 * a22) and B (b0 b1 b2) for phi = (1, u0, u1); per input k the derivative
 * moments with weight e rho(u_k) (c: k = 0, d: k = 1). */
typedef struct sums2d {
    double a[6], b[3], c[6], cb[3], d[6], db[3];
} sums2d;

/* the moments of weight E at (u0, u1) = (v0, v1) with value yt (local constant: the
 * first and the y sum only), in type R, into accumulators P##00 ... */
#define SUMS2D_ADD(R, P, E) do { \
        R E_ = (E); \
        P##00 += E_; P##b0 += E_ * yt; \
        if (linear) { \
            R E0 = E_ * v0, E1 = E_ * v1; \
            P##01 += E0; P##02 += E1; P##11 += E0 * v0; P##12 += E0 * v1; P##22 += E1 * v1; \
            P##b1 += E0 * yt; P##b2 += E1 * yt; \
        } \
    } while (0)
#define SUMS2D_ZERO(R, P) R P##00 = 0, P##01 = 0, P##02 = 0, P##11 = 0, P##12 = 0, P##22 = 0, \
                               P##b0 = 0, P##b1 = 0, P##b2 = 0
#define SUMS2D_STORE(P, a, b) do { \
        a[0] += P##00; a[1] += P##01; a[2] += P##02; a[3] += P##11; a[4] += P##12; a[5] += P##22; \
        b[0] += P##b0; b[1] += P##b1; b[2] += P##b2; \
    } while (0)

/* The 2-d sums over keys [t0, t1) of the prepared order (x0, x1: the two
 * inputs; y in the same order) with the nearest key's t = s known, one
 * definition for R = double and float: u formed in double and rounded once
 * to R, y of type YT (f32: rounded when prepared), R sums within a tile,
 * double across tiles; the derivative moments have the weights e rho(u_k)
 * (c_: k = 0, d_: k = 1).  Gaussian: the weights w carry L (see "the
 * prepared paths"), t = DIST(v) is in base-2 units and the exponent is
 * (s - v0^2) - v1^2; Laplace: (s - t) / ln 2. */
#define FUSED2D(NAME, R, YT, DIST, EXP2, DROPARG, X0, X1) \
static ALWAYS_INLINE void NAME(const double *x0, const double *x1, const YT *y, size_t t0, \
                               size_t t1, const double *q, const double *w, R s, int laplace, \
                               int linear, int grad, sums2d *S) \
{ \
    const double q0 = q[0], q1 = q[1], w0 = w[0], w1 = w[1]; \
    for (size_t j0 = t0; j0 < t1; j0 += FAST_TILE) { \
        const size_t j1 = t1 - j0 > FAST_TILE ? j0 + FAST_TILE : t1; \
        SUMS2D_ZERO(R, a_); SUMS2D_ZERO(R, c_); SUMS2D_ZERO(R, d_); \
        _Pragma("omp simd reduction(+:a_00, a_01, a_02, a_11, a_12, a_22, a_b0, a_b1, a_b2, c_00, c_01, c_02, c_11, c_12, c_22, c_b0, c_b1, c_b2, d_00, d_01, d_02, d_11, d_12, d_22, d_b0, d_b1, d_b2)") \
        for (size_t t = j0; t < j1; t++) { \
            R v0 = (R) ((q0 - X0) * w0), v1 = (R) ((q1 - X1) * w1); \
            R a = laplace ? (s - DIST(v0, v1, laplace)) * (R) LOG2E : s - v0 * v0 - v1 * v1; \
            R e = EXP2(a); \
            e = a < DROPARG ? 0 : e; \
            R yt = (R) y[t]; \
            SUMS2D_ADD(R, a_, e); \
            if (grad) { \
                SUMS2D_ADD(R, c_, e * -DIST(v0, 0, laplace)); \
                SUMS2D_ADD(R, d_, e * -DIST(0, v1, laplace)); \
            } \
        } \
        SUMS2D_STORE(a_, S->a, S->b); \
        SUMS2D_STORE(c_, S->c, S->cb); \
        SUMS2D_STORE(d_, S->d, S->db); \
    } \
}

FUSED2D(fused2d_f64, double, double, dist2d, exp2_poly, DROP_EXP2_ARG, x0[t], x1[t])
FUSED2D(fused2d_f32, float, float, dist2df, exp2f_poly, DROP_EXP2_ARGF, x0[t], x1[t])
/* the lean state's: pb's interleaved keys (x0 = pb->x; x1 unused) */
FUSED2D(fused2d_aos_f64, double, double, dist2d, exp2_poly, DROP_EXP2_ARG, x0[2 * t], x0[2 * t + 1])
FUSED2D(fused2d_aos_f32, float, float, dist2df, exp2f_poly, DROP_EXP2_ARGF, x0[2 * t],
        x0[2 * t + 1])

/* d = 2, the lean state (no grid): the smallest t over pb's keys but the
 * key skip (pb's index), by one pass, in the precision and units of the
 * sums (dist2d_at's expressions).  The weights are 2^-t (Laplace: e^-t) in
 * double's t, so the logscale is -t ln 2 (-t) at the smallest double t and
 * the distance in bandwidths sqrt(2 ln 2 t) (t) -- no need to know which
 * key it was; in f32 the pass takes both minima, the float one for the
 * sums.  Returns 0 if no key is left. */
static ALWAYS_INLINE int nearest2d_pass(const nw_problem *pb, const double *q, size_t skip,
                                        const double *w, int laplace, int f32, nearest *nr)
{
    const size_t n = pb->n;
    const double *x = pb->x, q0 = q[0], q1 = q[1], w0 = w[0], w1 = w[1];
    double best = INFINITY, best_f = INFINITY;
#pragma omp simd reduction(min:best, best_f)
    for (size_t j = 0; j < n; j++) {
        double v0 = (q0 - x[2 * j]) * w0, v1 = (q1 - x[2 * j + 1]) * w1;
        double t = j == skip ? INFINITY : dist2d(v0, v1, laplace);
        best = t < best ? t : best;
        if (f32) {
            double tf = j == skip ? INFINITY : (double) dist2df((float) v0, (float) v1, laplace);
            best_f = tf < best_f ? tf : best_f;
        }
    }
    if (best == INFINITY) return 0;
    nr->s = f32 ? best_f : best;
    nr->dist = laplace ? best : sqrt(2 * M_LN2 * best);
    nr->logscale = laplace ? -best : -M_LN2 * best;
    return 1;
}

/* Store 2-d sums as moments: r = 1 or 3.  The sums were formed with
 * v = L u and rho' = -dist(v) = Rs rho (Gaussian Rs = L^2; Laplace L = 1):
 * each moment is scaled back by 1 / L per slope column and 1 / Rs for the
 * derivative weights, in double. */
static void put2d(const nw_problem *pb, const sums2d *S, double L, double Rs, nw_moments *mo)
{
    const size_t r = mo->r;
    const double *a[3] = { S->a, S->c, S->d }, *b[3] = { S->b, S->cb, S->db };
    static const int tri[3][3] = { { 0, 1, 2 }, { 1, 3, 4 }, { 2, 4, 5 } };
    const double il = 1 / L, col[3] = { 1, il, il };
    for (size_t g = 0; g <= (pb->grad ? 2u : 0u); g++) {
        double *A = g == 0 ? mo->A : mo->dA + (g - 1) * r * r;
        double *B = g == 0 ? mo->B : mo->dB + (g - 1) * r;
        const double f = g == 0 ? 1 : 1 / Rs;
        for (size_t i = 0; i < r; i++) {
            for (size_t j = 0; j < r; j++) A[i * r + j] = a[g][tri[i][j]] * (f * col[i] * col[j]);
            B[i] = b[g][i] * (f * col[i]);
        }
    }
}

/* d = 2 with prepared keys.  Returns 0 where it does not apply (shifted
 * slope columns, some |u| beyond 1e150 -- 1e18 in f32, the nearest key
 * beyond FAR_T): the general path runs. */
static ALWAYS_INLINE int prepared2d(const nw_problem *pb, const double *q, size_t skip,
                                    nw_moments *mo, int laplace, int linear, int grad)
{
    const nw_dense_state *st = pb->dense;
    const size_t n = pb->n;
    const double *w = pb->w;
    int f32 = pb->f32;
    for (size_t k = 0; k < 2; k++) {
        const double ulim = f32 ? 1e18 : 1e150;
        if ((linear && mo->shift[k] != 0) || !(fabs((q[k] - st->lo[k]) * w[k]) <= ulim) ||
            !(fabs((q[k] - st->hi[k]) * w[k]) <= ulim))
            return 0;
    }
    /* the key left out, at its place in the keys' order (lean: pb's) */
    size_t pos = n;
    if (st->lean || st->aos) pos = skip < n ? skip : n;
    else if (skip < n && (pos = grid_pos(st, pb, skip)) == n) return 0;
    /* Gaussian: the weights scaled by L, so that the base-2 exponent is
     * (s - v0^2) - v1^2 (Laplace: L = 1) */
    const double L = laplace ? 1 : sqrt(0.5 * LOG2E);
    const double wl[2] = { w[0] * L, w[1] * L };
    nearest nr;
#define NEAREST(F) (st->lean ? nearest2d_pass(pb, q, pos, wl, laplace, F, &nr) \
                             : nearest2d(st, pb, q, pos, wl, laplace, F, &nr))
    if (f32) {
        if (!NEAREST(1)) {
            mo->logscale = -INFINITY;
            return 1;
        }
        if (nr.dist > F32_MAX_S) f32 = 0;   /* far from every key: in double */
    }
    if (!f32 && !NEAREST(0)) {
        mo->logscale = -INFINITY;
        return 1;
    }
#undef NEAREST
    if ((laplace ? nr.dist : nr.dist * nr.dist) > FAR_T) return 0;
    size_t r1 = pos < n ? pos + 1 : n;
    sums2d S;
    memset(&S, 0, sizeof S);
    /* the keys before and after the one left out (lean: pb's interleaved
     * keys, x1 unused) */
    const int aos = st->lean || st->aos;
    const double *x0 = aos ? pb->x : st->keys, *x1 = aos ? pb->x : st->keys + n;
#define BOTH_SIDES(fn, y, s) do {                                                 \
        fn(x0, x1, y, 0, pos, q, wl, s, laplace, linear, grad, &S);              \
        fn(x0, x1, y, r1, n, q, wl, s, laplace, linear, grad, &S);               \
    } while (0)
    if (aos && f32) BOTH_SIDES(fused2d_aos_f32, st->yf, (float) nr.s);
    else if (aos) BOTH_SIDES(fused2d_aos_f64, pb->y, nr.s);
    else if (f32) BOTH_SIDES(fused2d_f32, st->yf, (float) nr.s);
    else BOTH_SIDES(fused2d_f64, st->ys, nr.s);
#undef BOTH_SIDES
    put2d(pb, &S, L, L * L, mo);
    mo->logscale = nr.logscale;
    return 1;
}

/* One specialised copy of fn per (kernel, estimator, grad) with the flags
 * as constants; under NW_COVERAGE one copy with the flags as variables
 * (each source branch counted once). */
#ifdef NW_COVERAGE
#define SPECIALISE(fn, laplace, linear, grad, ...) return fn(__VA_ARGS__, laplace, linear, grad)
#else
#define SPECIALISE(fn, laplace, linear, grad, ...) \
    switch ((laplace) * 4 + ((linear) ? 2 : 0) + ((grad) ? 1 : 0)) { \
    case 0: return fn(__VA_ARGS__, 0, 0, 0); \
    case 1: return fn(__VA_ARGS__, 0, 0, 1); \
    case 2: return fn(__VA_ARGS__, 0, 1, 0); \
    case 3: return fn(__VA_ARGS__, 0, 1, 1); \
    case 4: return fn(__VA_ARGS__, 1, 0, 0); \
    case 5: return fn(__VA_ARGS__, 1, 0, 1); \
    case 6: return fn(__VA_ARGS__, 1, 1, 0); \
    default: return fn(__VA_ARGS__, 1, 1, 1); \
    }
#endif

/* The prepared paths: returns 1 if they did the sums. */
static ALWAYS_INLINE int prepared(const nw_problem *pb, const double *q, size_t skip, nw_moments *mo)
{
    const nw_dense_state *st = pb->dense;
    const int laplace = pb->kernel == NW_KERNEL_LAPLACE;
    /* the problem it was made for (f32: with y rounded) */
    if (st->n != pb->n || st->d != pb->d || pb->p != 1 || !kernel_is_log(pb->kernel) ||
        (pb->f32 && !st->yf))
        return 0;
    if (pb->d == 1) {
        SPECIALISE(prepared1d, laplace, pb->linear, pb->grad, pb, q[0], skip, mo);
    }
    SPECIALISE(prepared2d, laplace, pb->linear, pb->grad, pb, q, skip, mo);
}

/* ------------------------------------------------------------ the engine */

/* One copy of the engine per instruction set, picked at load time (glibc
 * ifunc): with AVX2 or AVX-512 the loops run 4 or 8 lanes of double (8 or
 * 16 of float) instead of SSE2's 2. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(__SANITIZE_THREAD__) /* TSan: the ifunc resolver would run before its runtime */ \
    && !defined(NW_COVERAGE)
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
    if (pb->dense && prepared(pb, q, skip, mo)) return;
    if (pb->d == 1 && pb->p == 1 && kernel_is_log(pb->kernel)) {
        if (dense1d(pb, q[0], skip, mo)) {
            /* f32 far from every key: in double */
            nw_problem pb64 = *pb;
            pb64.f32 = 0;
            nw_engine_dense(&pb64, q, skip, mo);
        }
        return;
    }
    const int logk = kernel_is_log(pb->kernel);
    const double *xstar = NULL;
    mo->logscale = 0;
    if (logk) {
        /* the largest weight first: every other relative to it */
        size_t jstar = largest_score(pb, q, skip, mo, &mo->logscale);
        if (jstar == NW_NO_SKIP) return;   /* no term: the sums are 0 */
        xstar = pb->x + jstar * pb->d;
    }

    for (size_t j0 = 0; j0 < n; j0 += TILE) {
        size_t nt = n - j0 < TILE ? n - j0 : TILE;
        size_t skip_t = (skip != NW_NO_SKIP && skip >= j0 && skip < j0 + nt) ? skip - j0 : (size_t) -1;
        if (logk) {
            tile_weights(pb, q, j0, nt, xstar, mo);
        } else {
            tile_scores(pb, q, j0, nt, mo);
            memcpy(mo->weight, mo->score, nt * sizeof(double));
        }
        if (skip_t < nt) mo->weight[skip_t] = 0;
        /* a dropped key's u may be infinite: zero it so no 0 * inf reaches
         * the moments */
        for (size_t t = 0; t < nt; t++)
            if (mo->weight[t] == 0)
                for (size_t k = 0; k < pb->d; k++) mo->u[t * pb->d + k] = 0;
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
