/*
 * engine_dense.c: the exact reference engine.
 *
 * The fast path: one input, one output, a log kernel (Gaussian, Laplace),
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
 * Nothing in the fused loop calls out, so it runs at the speed of the
 * polynomial (bench/limit.c measures the loop alone: local constant reaches
 * ~87% of it).  In single precision (pb->f32) pass 1 also rounds
 * u = (q - x) w (formed in double) and y to float into scratch, and pass 2
 * runs in float, 16 lanes per AVX-512 vector, its sums carried in float
 * within a tile and in double across tiles (error analysis at dense1d_f32).
 * Other kernels, d > 1 and p > 1 take the general path in double whatever
 * pb->f32 says.
 *
 * The general path (any kernel, d, p): tiles of TILE points through three
 * named passes:
 *
 *   1. scores:  log-weights (log kernels) or weights (compact kernels) of the
 *               tile's keys, and the u_jk the moments need;
 *   2. scale:   for log kernels, the tile's largest score; if it beats the
 *               running maximum, every accumulated moment is multiplied by
 *               exp(old - new) (online softmax), then weight = exp(score - max);
 *   3. moments: the weighted sums of engine.h.
 *
 * In both, terms more than e^700 below the largest are dropped (weight 0,
 * not e^-700: a floor would put fake relative weights on far points, and
 * local linear would fit a slope through them).
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

#define TILE 256
#define FAST_TILE 512
/* exp(-700) ~ 1e-304: terms this far below the largest are negligible (they
 * are set to 0).  In base 2: 700 / ln 2 = 1009.9; the clamp keeps 2^k a
 * normal number.  Single precision: 2^-126 (e^-87.3). */
#define MIN_EXP2_ARG (-1009.0)
#define MIN_EXP2_ARGF (-126.0f)
#define LOG2E 0x1.71547652b82fep0          /* 1 / ln 2 */

#ifndef M_LN2
#define M_LN2 0.69314718055994530942
#endif

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
#pragma omp simd
    for (size_t t = 0; t < nt; t++) {
        double a = (score[t] - logscale) * LOG2E;
        int keep = a >= MIN_EXP2_ARG;
        double e = exp2_poly(keep ? a : MIN_EXP2_ARG);
        weight[t] = keep ? e : 0;
    }
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

/* ------------------------------------------------ the 1-d fast path */

#define ALWAYS_INLINE inline __attribute__((always_inline))

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
static void store1d(const nw_problem *pb, const sums1d *S, double s, int laplace, nw_moments *mo)
{
    mo->logscale = s == INFINITY ? -INFINITY : laplace ? -s : fmax(-0.5 * s * s, -DBL_MAX);
    if (pb->linear) {
        mo->A[0] = S->a0; mo->A[1] = mo->A[2] = S->a1; mo->A[3] = S->a2;
        mo->B[0] = S->b0; mo->B[1] = S->b1;
        if (pb->grad) {
            mo->dA[0] = S->g0; mo->dA[1] = mo->dA[2] = S->g1; mo->dA[3] = S->g2;
            mo->dB[0] = S->h0; mo->dB[1] = S->h1;
        }
    } else {
        mo->A[0] = S->a0; mo->B[0] = S->b0;
        if (pb->grad) { mo->dA[0] = S->g0; mo->dB[0] = S->h0; }
    }
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
 * within 0.75 ulp.  So a term at z = (u^2 - s^2) / 2 nats below the largest
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

/* ------------------------------------------------------------ the engine */

/* One copy of the engine per instruction set, picked at load time (glibc
 * ifunc): with AVX2 or AVX-512 the loops run 4 or 8 lanes of double (8 or
 * 16 of float) instead of SSE2's 2. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(__SANITIZE_THREAD__) /* TSan: the ifunc resolver would run before its runtime */
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
    if (pb->d == 1 && pb->p == 1 && kernel_is_log(pb->kernel)) {
        if (dense1d(pb, q[0], skip, mo)) {
            /* f32 far from every key: in double */
            nw_problem pb64 = *pb;
            pb64.f32 = 0;
            nw_engine_dense(&pb64, q, skip, mo);
        }
        return;
    }
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
                    for (size_t i = 0; i < total; i++) mo->A[i] = f == 0 ? 0 : mo->A[i] * f;
                }
                mo->logscale = tmax;
            }
            tile_exp(nt, skip_t, mo->logscale, mo);
        } else {
            memcpy(mo->weight, mo->score, nt * sizeof(double));
            if (skip_t < nt) mo->weight[skip_t] = 0;
        }
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
