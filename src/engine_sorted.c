/*
 * engine_sorted.c: the 1-d sorted engine (NW_ENGINE_SORTED).
 *
 * The keys are sorted once (with their values and original indices); a
 * query's neighbourhood is then a contiguous run of sorted keys, found by
 * binary search with exactly the dense engine's arithmetic, u = (q - x) w.
 *
 * Compact kernels (support |u| <= 1).  Every moment of engine.h is a sum
 * over the window of F(u_j) (times y_j), where F is one of the six
 * "outputs" K u^e and K rho u^e (e = 0, 1, 2; K rho = u K'(u)).  For the
 * polynomial kernels F is a polynomial in u on each side of the query
 * (triangular and tricube have a kink at u = 0, so the window is split
 * there); for the cosine, F is cos(a u) u^k or sin(a u) u^k, a = pi/2.
 *
 *   Blocks: the sorted keys are cut into blocks of BLOCK keys, and each
 *   block keeps the moments of t = (x - c_b) w about its own centre c_b
 *   (t^i, t^i y; cosine: t^i cos(a t), t^i sin(a t)).
 *   Anchors: points c_a = x_0 + a Delta, Delta = h / 2 (h / 4 for the
 *   tricube and biweight, whose high degrees gain from a smaller |U|).  A query q uses the
 *   anchor nearest to it (|q - c_a| <= Delta / 2), whose range
 *   [c_a - h - Delta/2, c_a + h + Delta/2] holds every window it can serve.
 *   For each anchor, the block moments of the blocks inside its range are
 *   re-expanded about c_a (tau = (x - c_a) w = t + delta, binomially) and
 *   accumulated (compensated) into cumulative sums P[k] starting at the
 *   anchor's centre block bc: P[k] = sum of blocks [bc, k) for k >= bc and
 *   minus the sum of [k, bc) for k < bc.  The sum over whole blocks
 *   [bl, br) of a window is P[br] - P[bl]; since the window contains the
 *   anchor's centre, the two terms do not cancel (they are the two halves).
 *   At the query, u = U - tau with U = (q - c_a) w, |U| <= Delta/(2h), so
 *   F(U - tau) = sum_i g_i tau^i with g_i the Taylor coefficients of F at U
 *   (for the cosine, the addition theorem): the moments are sum_i g_i T_i.
 *   Keys of the window's partial blocks (at most BLOCK - 1 at each end and
 *   at the kink) are summed directly, as the dense engine does.  Where the
 *   bound of A or of B (a local-constant prediction's two terms) exceeds
 *   half the tolerance (a prediction near 0), the window is summed directly
 *   instead: exact to the dense engine's rounding, and far cheaper than the
 *   estimator's fallback over all n keys.  The rest the estimator certifies
 *   (where its bound still misses, it asks for the direct sums itself,
 *   sorted_moments_exact).  An eighth of the tolerance, as this was, sent
 *   a fifth of all queries of the tricube (x ~ U(0, 5), y ~ 1.5 +- 0.5,
 *   bounds of A up to 1e-13 of A: errB ~ that times max |y|) to direct sums
 *   of 2e4 - 5e4 keys: 10 - 30 s of an in-sample pass at n = 1e6, now 2 - 3 s.
 *
 *   Every value is re-expanded about a point at most 1.25 h from the keys
 *   it covers, so no power of a large |x| appears: the rounding error of a
 *   moment is bounded by
 *       kappa * sum_i |g|_i  M_i,   M_i >= sum_j (|tau_j| + 2 r)^i
 *   over the blocks between the centre and the window's ends, where |g|_i
 *   are the Taylor coefficients of the polynomial with |coefficients| at
 *   |U| (for the cosine: (|cos aU| + |sin aU|) times those of u^k), r is the
 *   largest block half-width in units of h (the re-expansion works with
 *   |t| + |delta| <= |tau| + 2 r) and kappa counts the rounding steps of one
 *   term: the block sum (BLOCK terms), the powers and the re-expansion
 *   (~4 per degree), the compensated accumulation, the Taylor shift and the
 *   final dot product (see KAPPA below).  The odd abs-moments are bounded by
 *   the even ones, |tau|^i <= (|tau|^(i-1) + |tau|^(i+1)) / 2, and the even
 *   ones are the stored cumulative sums themselves (all terms of one sign).
 *   Errors of B use max |y| over the anchor's range.  These bounds go to
 *   mo->errA / errB (mo->approx = 1): the estimator certifies each
 *   prediction with them and falls back to the dense engine where they miss
 *   the tolerance.  Not counted, as in the whole library: the rounding of
 *   u itself, which the dense engine has too, and that of the direct sums.
 *
 * Gaussian and Laplace.  The largest log-weight L is the nearest key's (the
 * keys next to q in sorted order); the window holds every key with
 * log-weight >= L - Lc, Lc = log(n / (tol * TAIL_MARGIN)), summed directly
 * in the dense engine's scaled form (logscale = L).  Every key outside has
 * |u| > R (R^2 = u_min^2 + 2 Lc, resp. R = u_min + Lc) and scaled weight
 * < e^-Lc; |u|^e K(u) decreases beyond R (R >= 2 here), so the neglected
 * part of the K u^e moment is below N_out R^e e^-Lc, and that of B below
 * the same times max |y|: the errA/errB this engine reports.
 *
 * LOO: the skipped key is left out of the direct parts; inside whole blocks
 * its term is computed directly and subtracted (the error bound is absolute,
 * so a remainder that cancels shows as a large relative bound and the
 * estimator falls back).
 *
 * Windows are found by binary search on every SAMPLE-th key (a small array
 * that stays in cache), then among SAMPLE keys.  Keys that come sorted are
 * used in place (no copy, no rank).  Nothing is allocated per query; the
 * state is read-only once prepared.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "kernels.h"
#include "sort_keys.h"

#define BLOCK 32
#define SAMPLE 64
/* polynomial outputs: degree <= 9 + 2; the count basis has D_c + 1 <= 13 */
#define MAXDEG 12
#define MAXBASIS 13
/* Log kernels: neglected scaled weight per key e^-Lc = tol * margin / n. */
#define TAIL_MARGIN 1e-4
/* Build the block/anchor moments only when a window holds this many keys. */
#define MOMENT_MIN_WINDOW (4 * BLOCK)

#define COS_A M_PI_2

typedef struct anchor {
    long long a;            /* grid index: c = x0 + a delta */
    size_t b_lo, b_hi, bc;  /* its blocks [b_lo, b_hi); the cumulative origin */
    size_t off;             /* first of its b_hi - b_lo + 1 entries in pre */
    double c;               /* centre */
    double r;               /* largest half-width of its blocks, in units of h */
} anchor;

typedef struct sorted_state {
    size_t n, p;
    nw_kernel kernel;
    int linear, grad;
    int threads;            /* the problem's (nw_problem.threads) */
    double w, h;
    const double *xs, *ys;  /* sorted keys, their values (n x p) */
    uint32_t *rank;         /* rank[i]: sorted position of original index i
                               (NULL: the keys came sorted, rank[i] = i) */
    double *own;            /* xs and ys when this engine made them */
    double *sample;         /* xs[k SAMPLE], k < ceil(n / SAMPLE) */
    double *ymax;           /* p: max |y_c| */
    double logcut;          /* log kernels: Lc */
    /* compact kernels */
    int split;              /* triangular, tricube: the sides differ */
    int cosine;
    int degK;               /* polynomial kernels: degree of K in |u| */
    size_t nc, ny, entry;   /* count basis, y basis per output, nc + p ny */
    size_t dabs;            /* highest abs-moment index (even) */
    double poly[2][6][MAXDEG + 1]; /* [side][output] coefficients in u */
    int deg[6];
    double kappa;
    size_t nb, na;
    anchor *anc;
    double *pre;            /* cumulative moments of every anchor */
    double *aymax;          /* na x p: max |y_c| over an anchor's blocks */
    double x0, delta;
} sorted_state;

static double binom[MAXBASIS + 1][MAXBASIS + 1];

static void fill_binom(void)
{
    for (int i = 0; i <= MAXBASIS; i++) {
        binom[i][0] = binom[i][i] = 1;
        for (int k = 1; k < i; k++) binom[i][k] = binom[i - 1][k - 1] + binom[i - 1][k];
    }
}

/* Filled once per process: threads writing it, even the same values, while
 * others read it would be a data race (ThreadSanitizer, scripts/tsan). */
static void init_binom(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, fill_binom);
}

/* ------------------------------------------------ kernel polynomials */


/* Coefficients of F(U + t) in t from those of F (repeated synthetic
 * division), in place. */
static inline void taylor_shift(double *f, int deg, double U)
{
    for (int i = 0; i < deg; i++)
        for (int k = deg - 1; k >= i; k--) f[k] += U * f[k + 1];
}

/* Index in the count basis of the plain moment tau^i (i even, i <= dabs). */
static inline size_t plain_index(const sorted_state *st, size_t i)
{
    return st->cosine ? 8 + i : i;
}

/* ----------------------------------------------------- block moments */

/* Moments of t = (x - c) w over keys [j0, j1) into m (entry values), in
 * four interleaved partial sums (8 terms each: rounding 7 + 2 steps);
 * work: 4 entry values. */
static void block_moments(const sorted_state *st, size_t j0, size_t j1, double c,
                          double *m, double *work)
{
    const size_t nc = st->nc, ny = st->ny, p = st->p, E = st->entry;
    memset(work, 0, 4 * E * sizeof(double));
    for (size_t j = j0; j < j1; j++) {
        double *acc = work + ((j - j0) & 3) * E;
        double t = (st->xs[j] - c) * st->w, f[MAXBASIS];
        if (st->cosine) {
            double ct = cos(COS_A * t), s = sin(COS_A * t), pw = 1;
            for (size_t i = 0; i < 4; i++, pw *= t) { f[i] = pw * ct; f[4 + i] = pw * s; }
            pw = 1;
            for (size_t i = 0; i < 5; i++, pw *= t) f[8 + i] = pw;
        } else {
            double pw = 1;
            for (size_t i = 0; i < nc; i++, pw *= t) f[i] = pw;
        }
        for (size_t i = 0; i < nc; i++) acc[i] += f[i];
        const double *y = st->ys + j * p;
        for (size_t cc = 0; cc < p; cc++)
            for (size_t i = 0; i < ny; i++) acc[nc + cc * ny + i] += f[i] * y[cc];
    }
    for (size_t e = 0; e < E; e++)
        m[e] = (work[e] + work[E + e]) + (work[2 * E + e] + work[3 * E + e]);
}

/* Re-expand block moments m (about c_b) about c_a: delta = (c_b - c_a) w,
 * tau = t + delta. */
static void reexpand(const sorted_state *st, const double *m, double delta, double *out)
{
    const size_t nc = st->nc, ny = st->ny, p = st->p;
    double dp[MAXBASIS + 1];
    dp[0] = 1;
    for (size_t i = 1; i <= MAXBASIS; i++) dp[i] = dp[i - 1] * delta;
    if (st->cosine) {
        double cd = cos(COS_A * delta), sd = sin(COS_A * delta);
        for (size_t g = 0; g <= p; g++) {
            const double *mc = g == 0 ? m : m + nc + (g - 1) * ny;
            double *oc = g == 0 ? out : out + nc + (g - 1) * ny;
            for (size_t i = 0; i < 4; i++) {
                double cs = 0, ss = 0;
                for (size_t k = 0; k <= i; k++) {
                    double b = binom[i][k] * dp[i - k];
                    cs += b * (cd * mc[k] - sd * mc[4 + k]);
                    ss += b * (sd * mc[k] + cd * mc[4 + k]);
                }
                oc[i] = cs;
                oc[4 + i] = ss;
            }
        }
        for (size_t i = 0; i < 5; i++) {
            double s = 0;
            for (size_t k = 0; k <= i; k++) s += binom[i][k] * dp[i - k] * m[8 + k];
            out[8 + i] = s;
        }
        return;
    }
    for (size_t i = 0; i < nc; i++) {
        double s = 0;
        for (size_t k = 0; k <= i; k++) s += binom[i][k] * dp[i - k] * m[k];
        out[i] = s;
    }
    for (size_t cc = 0; cc < p; cc++) {
        const double *mc = m + nc + cc * ny;
        double *oc = out + nc + cc * ny;
        for (size_t i = 0; i < ny; i++) {
            double s = 0;
            for (size_t k = 0; k <= i; k++) s += binom[i][k] * dp[i - k] * mc[k];
            oc[i] = s;
        }
    }
}

static inline double anchor_centre(const sorted_state *st, long long a)
{
    return st->x0 + (double) a * st->delta;
}

/* Blocks, anchors and the anchors' cumulative moments (compact kernels). */
static nw_status build_moments(sorted_state *st)
{
    const size_t n = st->n, nb = (n + BLOCK - 1) / BLOCK, E = st->entry;
    /* high degrees (tricube, biweight) gain from |U| <= 1/8 */
    const double h = st->h, delta = st->dabs >= 6 ? 0.25 * h : 0.5 * h, half = h + 0.5 * delta;
    st->nb = nb;
    st->x0 = st->xs[0];
    st->delta = delta;
    /* each block lies in the range of at most (2h + delta)/delta + 1 <= 10
     * anchors; 12 leaves room for rounding */
    size_t cap = 12 * nb + 1;
    anchor *anc = malloc(cap * sizeof *anc);
    double *bm = malloc(nb * (E + st->p) * sizeof(double));
    if (!anc || !bm) { free(anc); free(bm); return NW_ERR_NOMEM; }
    double *bymax = bm + nb * E;   /* per block: max |y_c| */

    size_t na = 0;
    for (size_t b = 0; b < nb; b++) {
        size_t j0 = b * BLOCK, j1 = j0 + BLOCK < n ? j0 + BLOCK : n;
        double lo = st->xs[j0], hi = st->xs[j1 - 1];
        double fmin = (hi - half - st->x0) / delta, fmax = (lo + half - st->x0) / delta;
        if (!(fmax - fmin > -2) || fabs(fmin) > 1e15 || fabs(fmax) > 1e15) continue;
        long long amin = (long long) ceil(fmin) - 1, amax = (long long) floor(fmax) + 1;
        for (long long a = amin; a <= amax; a++) {
            double c = anchor_centre(st, a);
            if (!(lo >= c - half && hi <= c + half)) continue;
            size_t k = na;
            while (k > 0 && anc[k - 1].a > a) k--;
            if (k > 0 && anc[k - 1].a == a) {
                anc[k - 1].b_hi = b + 1;
                continue;
            }
            if (k != na || na == cap) continue; /* cannot happen: a grows with b */
            anc[na++] = (anchor) { .a = a, .b_lo = b, .b_hi = b + 1, .c = c };
        }
    }
    if (na == 0) {
        free(anc); free(bm);
        return NW_OK;
    }

    int failed = 0;
#pragma omp parallel if (n > 100000) num_threads(st->threads)
    {
        double *work = malloc(4 * E * sizeof(double));
        if (!work) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (size_t b = 0; b < nb; b++) {
            if (!work) continue;
            size_t j0 = b * BLOCK, j1 = j0 + BLOCK < n ? j0 + BLOCK : n;
            double lo = st->xs[j0], hi = st->xs[j1 - 1];
            block_moments(st, j0, j1, lo + 0.5 * (hi - lo), bm + b * E, work);
            for (size_t c = 0; c < st->p; c++) {
                double m = 0;
                for (size_t j = j0; j < j1; j++) {
                    double v = fabs(st->ys[j * st->p + c]);
                    m = v > m ? v : m;
                }
                bymax[b * st->p + c] = m;
            }
        }
        free(work);
    }

    size_t total = 0;
    for (size_t k = 0; k < na; k++) {
        anchor *A = &anc[k];
        A->off = total;
        total += (A->b_hi - A->b_lo + 1) * E;
        A->bc = A->b_lo;
        double r = 0;
        for (size_t b = A->b_lo; b < A->b_hi; b++) {
            size_t j0 = b * BLOCK, j1 = j0 + BLOCK < n ? j0 + BLOCK : n;
            double lo = st->xs[j0], hi = st->xs[j1 - 1];
            if (lo + 0.5 * (hi - lo) < A->c) A->bc = b + 1;
            double rb = 0.5 * (hi - lo) * fabs(st->w);
            if (rb > r) r = rb;
        }
        A->r = r * (1 + 1e-12);
    }
    double *pre = malloc(total * sizeof(double));
    double *aymax = malloc(na * st->p * sizeof(double));
    if (failed || !pre || !aymax) {
        free(anc); free(bm); free(pre); free(aymax);
        return NW_ERR_NOMEM;
    }
#pragma omp parallel if (n > 100000) num_threads(st->threads)
    {
        double *work = malloc(3 * E * sizeof(double));
        if (!work) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 16)
        for (size_t k = 0; k < na; k++) {
            if (!work) continue;
            const anchor *A = &anc[k];
            double *P = pre + A->off, *s = work, *comp = work + E, *term = work + 2 * E;
            for (size_t c = 0; c < st->p; c++) {
                double m = 0;
                for (size_t b = A->b_lo; b < A->b_hi; b++) {
                    double v = bymax[b * st->p + c];
                    m = v > m ? v : m;
                }
                aymax[k * st->p + c] = m;
            }
            /* Neumaier-compensated cumulative sums outward from bc */
            for (int dir = 0; dir < 2; dir++) {
                memset(s, 0, 2 * E * sizeof(double));
                double sign = dir == 0 ? 1 : -1;
                memset(P + (A->bc - A->b_lo) * E, 0, E * sizeof(double));
                size_t cnt = dir == 0 ? A->b_hi - A->bc : A->bc - A->b_lo;
                for (size_t i = 0; i < cnt; i++) {
                    size_t b = dir == 0 ? A->bc + i : A->bc - 1 - i;
                    size_t j0 = b * BLOCK, j1 = j0 + BLOCK < n ? j0 + BLOCK : n;
                    double lo = st->xs[j0], hi = st->xs[j1 - 1];
                    double cb = lo + 0.5 * (hi - lo);
                    reexpand(st, bm + b * E, (cb - A->c) * st->w, term);
                    size_t slot = dir == 0 ? b + 1 : b;
                    double *out = P + (slot - A->b_lo) * E;
                    for (size_t e = 0; e < E; e++) {
                        double x = sign * term[e], t = s[e] + x;
                        comp[e] += fabs(s[e]) >= fabs(x) ? (s[e] - t) + x : (x - t) + s[e];
                        s[e] = t;
                        out[e] = t + comp[e];
                    }
                }
            }
        }
        free(work);
    }
    free(bm);
    if (failed) { free(anc); free(pre); free(aymax); return NW_ERR_NOMEM; }
    st->na = na;
    st->anc = anc;
    st->pre = pre;
    st->aymax = aymax;
    return NW_OK;
}

/* ------------------------------------------------------------ queries */

static void zero_moments(const sorted_state *st, nw_moments *mo)
{
    const size_t r = mo->r, p = st->p;
    size_t total = r * r + r * p;
    if (st->grad) total *= 2;
    memset(mo->A, 0, total * sizeof(double));
    memset(mo->errA, 0, (r * r + r * p) * sizeof(double));
}

/* Add weight K at u (with rho, and y), with sign sg, to moments M laid out
 * as in nw_moments (A r x r, B r x p, dA, dB). */
static inline void add_term(const sorted_state *st, double *M, size_t r, double sg, double K,
                            double u, double rho, const double *y)
{
    const size_t p = st->p;
    double *A = M, *B = M + r * r;
    double k = sg * K;
    A[0] += k;
    for (size_t c = 0; c < p; c++) B[c] += k * y[c];
    if (st->linear) {
        double ku = k * u;
        A[1] += ku; A[3] += ku * u;
        for (size_t c = 0; c < p; c++) B[p + c] += ku * y[c];
    }
    if (st->grad) {
        double kr = k * rho, *dA = B + r * p, *dB = dA + r * r;
        dA[0] += kr;
        for (size_t c = 0; c < p; c++) dB[c] += kr * y[c];
        if (st->linear) {
            double kru = kr * u;
            dA[1] += kru; dA[3] += kru * u;
            for (size_t c = 0; c < p; c++) dB[p + c] += kru * y[c];
        }
    }
}

/* Direct sums over sorted keys [j0, j1) but sp, in the dense engine's
 * scaled form (compact kernels: logscale 0, K itself), summed in chunks of
 * CHUNK keys into mo->feat (the dense engine's scratch, free between its
 * calls) and then into the moments, for the dense engine's accuracy. */
#define CHUNK 64
static void direct_sum(const sorted_state *st, double q, size_t j0, size_t j1,
                       size_t sp, double logscale, double shift, nw_moments *mo)
{
    const double w = st->w;
    const nw_kernel kern = st->kernel;
    const int log_kernel = kernel_is_log(kern);
    const size_t r = mo->r, p = st->p;
    const size_t total = (r * r + r * p) * (st->grad ? 2 : 1);
    double *acc = mo->feat;
    if (p == 1 && !log_kernel) {
        /* the common case: one output, compact kernel */
        const int grad = st->grad, lin = r > 1;
        double *dA = mo->B + r, *dB = dA + r * r;
        for (size_t c0 = j0; c0 < j1; c0 += CHUNK) {
            size_t c1 = j1 - c0 < CHUNK ? j1 : c0 + CHUNK;
            double s0 = 0, s1 = 0, s2 = 0, t0 = 0, t1 = 0;
            double g0 = 0, g1 = 0, g2 = 0, e0 = 0, e1 = 0;
            for (size_t j = c0; j < c1; j++) {
                double u = (q - st->xs[j]) * w, K = kernel_value(kern, u), yj = st->ys[j];
                if (K == 0 || j == sp) continue;
                double uc = u - shift, ku = K * uc;   /* the slope column, recentred */
                s0 += K; t0 += K * yj;
                s1 += ku; s2 += ku * uc; t1 += ku * yj;
                if (grad) {
                    double kr = K * kernel_rho(kern, u), kru = kr * uc;
                    g0 += kr; e0 += kr * yj;
                    g1 += kru; g2 += kru * uc; e1 += kru * yj;
                }
            }
            mo->A[0] += s0; mo->B[0] += t0;
            if (lin) { mo->A[1] += s1; mo->A[3] += s2; mo->B[1] += t1; }
            if (grad) {
                dA[0] += g0; dB[0] += e0;
                if (lin) { dA[1] += g1; dA[3] += g2; dB[1] += e1; }
            }
        }
        return;
    }
    for (size_t c0 = j0; c0 < j1; c0 += CHUNK) {
        size_t c1 = j1 - c0 < CHUNK ? j1 : c0 + CHUNK;
        memset(acc, 0, total * sizeof(double));
        for (size_t j = c0; j < c1; j++) {
            if (j == sp) continue;
            double u = (q - st->xs[j]) * w;
            double K = log_kernel ? exp(kernel_log(kern, u) - logscale) : kernel_value(kern, u);
            if (K == 0) continue;
            add_term(st, acc, r, 1, K, u - shift, st->grad ? kernel_rho(kern, u) : 0, st->ys + j * p);
        }
        for (size_t i = 0; i < total; i++) mo->A[i] += acc[i];
    }
}

static void direct_compact(const sorted_state *st, double q, size_t j0, size_t j1,
                           size_t sp, nw_moments *mo)
{
    direct_sum(st, q, j0, j1, sp, 0, 0, mo);
}

/* 1 if key x is inside the compact support around q (the dense engine's test). */
static inline int inside(const sorted_state *st, double q, double x)
{
    double a = fabs((q - x) * st->w);
    return st->kernel == NW_KERNEL_UNIFORM ? a <= 1 : a < 1;
}

/* First j in [lo, hi) where PRED holds for xv = x_j (PRED monotone in j:
 * false, then true), hi if none.  Two levels: the sampled keys
 * x_{k SAMPLE} (a small array that stays in cache), then the SAMPLE keys
 * between two samples. */
#define FIND(st, lo, hi, PRED, out) do {                                       \
        size_t lo_ = (lo), hi_ = (hi);                                         \
        size_t k0_ = (lo_ + SAMPLE - 1) / SAMPLE, n_ = (hi_ + SAMPLE - 1) / SAMPLE - k0_; \
        /* branch-free lower bound: k0_ + n_ is the first true sample */       \
        while (n_ > 0) {                                                       \
            size_t half_ = n_ / 2;                                             \
            double xv = (st)->sample[k0_ + half_];                             \
            int t_ = (PRED);                                                   \
            k0_ = t_ ? k0_ : k0_ + half_ + 1;                                  \
            n_ = t_ ? half_ : n_ - half_ - 1;                                  \
        }                                                                      \
        size_t a_ = k0_ > 0 && (k0_ - 1) * SAMPLE + 1 > lo_ ? (k0_ - 1) * SAMPLE + 1 : lo_; \
        size_t b_ = k0_ * SAMPLE < hi_ ? k0_ * SAMPLE : hi_;                   \
        size_t m_ = b_ - a_;                                                   \
        while (m_ > 0) {                                                       \
            size_t half_ = m_ / 2;                                             \
            double xv = (st)->xs[a_ + half_];                                  \
            int t_ = (PRED);                                                   \
            a_ = t_ ? a_ : a_ + half_ + 1;                                     \
            m_ = t_ ? half_ : m_ - half_ - 1;                                  \
        }                                                                      \
        (out) = a_;                                                            \
    } while (0)

/* Whole blocks [bl, br) of anchor A on side `side` through its cumulative
 * moments, with their error bounds. */
static void prefix_part(const sorted_state *st, const anchor *A, size_t ai, double q,
                        size_t bl, size_t br, int side, nw_moments *mo)
{
    const size_t nc = st->nc, ny = st->ny, p = st->p, E = st->entry;
    const double *P1 = st->pre + A->off + (br - A->b_lo) * E;
    const double *P0 = st->pre + A->off + (bl - A->b_lo) * E;
    double S[MAXBASIS];
    for (size_t e = 0; e < nc; e++) S[e] = P1[e] - P0[e];

    /* abs-moments: even from the cumulative sums (one sign each), odd from
     * their neighbours; then widened by the re-expansion's 2 r */
    const size_t dabs = st->dabs;
    double ev[MAXBASIS + 1], M[MAXBASIS + 1];
    for (size_t i = 0; i <= dabs; i += 2) {
        size_t t = plain_index(st, i);
        ev[i] = (fabs(P1[t]) + fabs(P0[t])) * (1 + 1e-9);
    }
    for (size_t i = 1; i < dabs; i += 2) ev[i] = 0.5 * (ev[i - 1] + ev[i + 1]);
    double r2 = 2 * A->r;
    for (size_t i = 0; i <= dabs; i++) {
        double s = 0, rp = 1;
        for (size_t k = i + 1; k-- > 0; rp *= r2) s += binom[i][k] * rp * ev[k];
        M[i] = s;
    }

    const double U = (q - A->c) * st->w, aU = fabs(U);
    const double *ym = st->aymax + ai * p;
    const int nout = st->grad ? 6 : 3, emax = st->linear ? 2 : 0;
    for (int o = 0; o < nout; o++) {
        int e = o % 3;
        if (e > emax) continue;
        double g[MAXBASIS] = { 0 }, bound = 0, shift_bound = 0;
        size_t ng;
        if (st->cosine) {
            /* o < 3: cos(aU) u^e; o >= 3: -a sin(au) u^(e+1) */
            int k = o < 3 ? e : e + 1;
            double cU = cos(COS_A * U), sU = sin(COS_A * U), up[5], upa[5];
            up[0] = upa[0] = 1;
            for (int i = 1; i <= k; i++) { up[i] = up[i - 1] * U; upa[i] = upa[i - 1] * aU; }
            double f = o < 3 ? 1 : -COS_A, cs = fabs(cU) + fabs(sU);
            for (int i = 0; i <= k; i++) {
                double ci = binom[k][i] * up[k - i] * ((i & 1) ? -1 : 1) * f;
                if (o < 3) { g[i] = ci * cU; g[4 + i] = ci * sU; }
                else       { g[i] = ci * sU; g[4 + i] = -ci * cU; }
                bound += binom[k][i] * upa[k - i] * fabs(f) * cs * M[i];
            }
            ng = 8;
        } else {
            int dg = st->deg[o];
            double ga[MAXDEG + 1];
            for (int i = 0; i <= dg; i++) {
                g[i] = st->poly[side][o][i];
                ga[i] = fabs(g[i]);
            }
            taylor_shift(g, dg, U);
            taylor_shift(ga, dg, aU);
            for (int i = 0; i <= dg; i++) {
                if (i & 1) g[i] = -g[i];
                bound += fabs(g[i]) * M[i];
                shift_bound += ga[i] * M[i];
            }
            ng = (size_t) dg + 1;
            /* the Taylor shift: 2 roundings per degree, on the |f|, |U| sizes */
            shift_bound *= (2 * dg + 2) * 0x1p-53;
        }
        bound = st->kappa * bound + shift_bound;
        double v = 0;
        for (size_t i = 0; i < ng; i++) v += g[i] * S[i];
        /* where o sits in A (and B when e <= 1) */
        size_t ia = e == 0 ? 0 : e == 1 ? 1 : 3;
        if (o < 3) {
            mo->A[ia] += v;
            mo->errA[ia] += bound;
        } else {
            mo->dA[ia] += v;
        }
        if (e > 1) continue;
        for (size_t c = 0; c < p; c++) {
            const double *Q1 = P1 + nc + c * ny, *Q0 = P0 + nc + c * ny;
            double vb = 0;
            for (size_t i = 0; i < ng; i++) vb += g[i] * (Q1[i] - Q0[i]);
            if (o < 3) {
                mo->B[e * p + c] += vb;
                mo->errB[e * p + c] += bound * ym[c];
            } else {
                mo->dB[e * p + c] += vb;
            }
        }
    }
}

/* One side of a compact window: sorted keys [ja, jb). */
static void compact_part(const sorted_state *st, const anchor *A, size_t ai, double q,
                         size_t ja, size_t jb, int side, size_t sp, nw_moments *mo)
{
    size_t bl = 0, br = 0;
    if (A) {
        bl = (ja + BLOCK - 1) / BLOCK;
        br = jb / BLOCK;
        if (bl < A->b_lo) bl = A->b_lo;
        if (br > A->b_hi) br = A->b_hi;
    }
    if (!A || bl >= br) {
        direct_compact(st, q, ja, jb, sp, mo);
        return;
    }
    direct_compact(st, q, ja, bl * BLOCK, sp, mo);
    direct_compact(st, q, br * BLOCK, jb, sp, mo);
    prefix_part(st, A, ai, q, bl, br, side, mo);
    if (sp >= bl * BLOCK && sp < br * BLOCK) {
        /* leave-one-out inside whole blocks: subtract the term */
        double u = (q - st->xs[sp]) * st->w, K = kernel_value(st->kernel, u);
        if (K != 0) {
            const double *y = st->ys + sp * st->p, eps = 0x1p-52;
            add_term(st, mo->A, mo->r, -1, K, u, st->grad ? kernel_rho(st->kernel, u) : 0, y);
            const size_t p = st->p;
            double au = fabs(u);
            mo->errA[0] += eps * (K + fabs(mo->A[0]));
            for (size_t c = 0; c < p; c++) mo->errB[c] += eps * (K * fabs(y[c]) + fabs(mo->B[c]));
            if (st->linear) {
                mo->errA[1] += eps * (K * au + fabs(mo->A[1]));
                mo->errA[3] += eps * (K * au * au + fabs(mo->A[3]));
                for (size_t c = 0; c < p; c++)
                    mo->errB[p + c] += eps * (K * au * fabs(y[c]) + fabs(mo->B[p + c]));
            }
        }
    }
}

static const anchor *find_anchor(const sorted_state *st, double q, size_t *ai)
{
    if (!st->na) return NULL;
    double f = (q - st->x0) / st->delta;
    if (!(fabs(f) < 1e15)) return NULL;
    long long a = llround(f);
    size_t lo = 0, hi = st->na;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->anc[mid].a < a) lo = mid + 1; else hi = mid;
    }
    if (lo < st->na && st->anc[lo].a == a) {
        *ai = lo;
        return &st->anc[lo];
    }
    return NULL;
}

/* 1 if the moments' bounds leave a local-constant prediction less than 2
 * times inside tol (a prediction near 0, a window that cancels): its
 * relative bound is about errA / A + errB / |B|. */
static int risky(const sorted_state *st, double tol, const nw_moments *mo)
{
    const double t = tol / 2;
    if (!(mo->errA[0] <= t * mo->A[0])) return 1;
    for (size_t c = 0; c < st->p; c++)
        if (!(mo->errB[c] <= t * fabs(mo->B[c]))) return 1;
    return 0;
}

static void compact_moments(const sorted_state *st, double tol, double q, size_t sp,
                            nw_moments *mo)
{
    const size_t n = st->n;
    mo->logscale = 0;
    size_t j0, j1;
    FIND(st, 0, n, xv >= q || inside(st, q, xv), j0);
    FIND(st, j0, n, xv > q && !inside(st, q, xv), j1);
    size_t ai = 0;
    const anchor *A = j1 - j0 >= 2 * BLOCK ? find_anchor(st, q, &ai) : NULL;
    /* side 0: u >= 0, i.e. keys left of q when w > 0 */
    int left_side = st->w > 0 ? 0 : 1;
    if (st->split) {
        size_t jq;
        FIND(st, j0, j1, xv >= q, jq);
        compact_part(st, A, ai, q, j0, jq, left_side, sp, mo);
        compact_part(st, A, ai, q, jq, j1, 1 - left_side, sp, mo);
    } else {
        compact_part(st, A, ai, q, j0, j1, 0, sp, mo);
    }
    /* Where the bounds may not certify the prediction, sum the window
     * directly (no error bound beyond the dense engine's rounding): far
     * cheaper than the estimator's fallback over all n keys. */
    if (A && risky(st, tol, mo)) {
        zero_moments(st, mo);
        direct_compact(st, q, j0, j1, sp, mo);
    }
}

/* Gaussian and Laplace: direct sums over the window of log-weights within
 * Lc of the largest, and the bound on the rest. */
static void log_moments(const sorted_state *st, double q, size_t sp, nw_moments *mo)
{
    const size_t n = st->n, p = st->p;
    const double *xs = st->xs, w = st->w;
    const nw_kernel kern = st->kernel;
    size_t jq;
    FIND(st, 0, n, xv >= q, jq);
    /* the nearest keys (other than sp) on either side */
    double L = -INFINITY;
    size_t cand[2];
    cand[0] = jq > 0 ? (jq - 1 == sp ? (jq >= 2 ? jq - 2 : n) : jq - 1) : n;
    cand[1] = jq < n ? (jq == sp ? jq + 1 : jq) : n;
    for (int k = 0; k < 2; k++) {
        if (cand[k] >= n) continue;
        double s = kernel_log(kern, (q - xs[cand[k]]) * w);
        if (s > L) L = s;
    }
    mo->logscale = L;
    if (!(L > -INFINITY)) {
        mo->logscale = -INFINITY;
        return;   /* every weight underflows: empty, certainly (errA = 0) */
    }
    const double cut = L - st->logcut;
    size_t j0, j1;
    FIND(st, 0, jq, kernel_log(kern, (q - xv) * w) >= cut, j0);
    FIND(st, jq, n, kernel_log(kern, (q - xv) * w) < cut, j1);
    direct_sum(st, q, j0, j1, sp, L, 0, mo);
    size_t out = j0 + (n - j1);
    if (sp != NW_NO_SKIP && (sp < j0 || sp >= j1)) out--;
    if (out == 0) return;
    double R = kern == NW_KERNEL_GAUSSIAN ? sqrt(-2 * cut) : -cut;
    double tail = (double) out * exp(-st->logcut) * (1 + 1e-9);
    mo->errA[0] = tail;
    for (size_t c = 0; c < p; c++) mo->errB[c] = tail * st->ymax[c];
    if (st->linear) {
        mo->errA[1] = mo->errA[2] = tail * R;
        mo->errA[3] = tail * R * R;
        for (size_t c = 0; c < p; c++) mo->errB[p + c] = tail * R * st->ymax[c];
    }
}

static void sorted_moments(const nw_engine *e, const double *q, size_t skip, nw_moments *mo)
{
    const sorted_state *st = e->state;
    zero_moments(st, mo);
    mo->approx = 1;
    size_t sp = skip != NW_NO_SKIP && skip < st->n ? (st->rank ? st->rank[skip] : skip)
                                                   : NW_NO_SKIP;
    if (kernel_is_log(st->kernel)) log_moments(st, q[0], sp, mo);
    else compact_moments(st, e->tol, q[0], sp, mo);
    if (mo->r > 1) {
        mo->A[2] = mo->A[1];
        mo->errA[2] = mo->errA[1];
        if (st->grad) mo->dA[2] = mo->dA[1];
    }
}

/* The second try (compact kernels): the query's window summed directly,
 * with the slope column centred at mo->shift (local linear recentred by
 * the estimator, whose raw moments lost digits to cancellation at the
 * data's edge): O(window) where the estimator's last resort, the dense
 * engine, is O(n).  No error bound beyond the dense engine's rounding, as
 * compact_moments' direct sums. */
static void sorted_moments_exact(const nw_engine *e, const double *q, size_t skip,
                                 nw_moments *mo)
{
    const sorted_state *st = e->state;
    zero_moments(st, mo);
    mo->approx = 1;
    mo->logscale = 0;
    const size_t n = st->n;
    size_t sp = skip != NW_NO_SKIP && skip < n ? (st->rank ? st->rank[skip] : skip) : NW_NO_SKIP;
    size_t j0, j1;
    FIND(st, 0, n, xv >= q[0] || inside(st, q[0], xv), j0);
    FIND(st, j0, n, xv > q[0] && !inside(st, q[0], xv), j1);
    direct_sum(st, q[0], j0, j1, sp, 0, mo->shift[0], mo);
    if (mo->r > 1) {
        mo->A[2] = mo->A[1];
        if (st->grad) mo->dA[2] = mo->dA[1];
    }
}

/* --------------------------------------------------------- preparation */

static void sorted_free(void *state)
{
    sorted_state *st = state;
    if (!st) return;
    free(st->own);
    free(st->sample);
    free(st->rank);
    free(st->ymax);
    free(st->anc);
    free(st->pre);
    free(st->aymax);
    free(st);
}

/* Keys in a window of half-width `radius` (in units of h), on average. */
static double window_keys(const nw_problem *pb, double radius)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < pb->n; i++) {
        double v = pb->x[i];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    double width = 2 * radius / fabs(pb->w[0]), range = hi - lo;
    double n = (double) pb->n;
    if (!(range > 0)) return n;
    return fmin(n, n * width / range + 1);
}

static double log_cut(size_t n, double tol)
{
    if (!(tol > 0)) tol = 1e-15;
    return log((double) n / (tol * TAIL_MARGIN));
}

static void setup_compact(sorted_state *st)
{
    double c[MAXDEG + 1] = { 0 };   /* kernel_poly fills 0..KERNEL_POLY_MAXDEG */
    int dk = kernel_poly(st->kernel, c);
    st->cosine = dk < 0;
    st->split = st->kernel == NW_KERNEL_TRIANGULAR || st->kernel == NW_KERNEL_TRICUBE;
    size_t lin = (size_t) st->linear;
    if (st->cosine) {
        st->nc = 13;        /* t^i cos, t^i sin (i <= 3), t^i (i <= 4) */
        st->ny = 8;
        st->dabs = 4;
    } else {
        st->degK = dk;
        size_t D = (size_t) dk + 2 * lin;
        st->dabs = D + (D & 1);
        st->nc = st->dabs + 1;
        st->ny = (size_t) dk + lin + 1;
        for (int side = 0; side < 2; side++) {
            double s = side == 0 ? 1 : -1;
            for (int o = 0; o < 6; o++) {
                int e = o % 3;
                double *f = st->poly[side][o];
                memset(f, 0, sizeof st->poly[side][o]);
                double sk = 1;
                for (int k = 0; k <= dk; k++, sk *= s)
                    f[k + e] = (o < 3 ? c[k] : k * c[k]) * sk;
                st->deg[o] = dk + e;
            }
        }
    }
    st->entry = st->nc + st->p * st->ny;
    /* rounding steps per term of degree <= dabs (see the header comment):
     * the block sum (4 partial sums: BLOCK/4 + 1), the power t^i and the
     * value y (i), the re-expansion (delta^(i-k), binomial, product and a
     * sum of i + 1 terms: 2 i + 2), compensated accumulation, difference
     * and the final dot product (nc + 3), slack 8; the cosine's addition
     * theorem doubles the sizes.  The Taylor shift's own error is bounded
     * separately (prefix_part). */
    double steps = BLOCK / 4 + 1 + 3.0 * (double) st->dabs + 2 + (double) st->nc + 3 + 8;
    st->kappa = (st->cosine ? 2 : 1) * steps * 0x1p-53 * 1.01;
}

static nw_status sorted_init(nw_engine *e)
{
    const nw_problem *pb = e->pb;
    if (pb->d != 1 || pb->n == 0) return NW_ERR_ARG;
    init_binom();
    const size_t n = pb->n, p = pb->p;
    sorted_state *st = calloc(1, sizeof *st);
    if (!st) return NW_ERR_NOMEM;
    st->n = n;
    st->p = p;
    st->kernel = pb->kernel;
    st->linear = pb->linear;
    st->grad = pb->grad;
    st->threads = nw_pb_threads(pb);
    st->w = pb->w[0];
    st->h = 1 / fabs(st->w);
    st->ymax = calloc(p, sizeof(double));
    uint32_t *order = NULL;
    nw_status status = NW_ERR_NOMEM;
    if (!st->ymax) goto fail;
    size_t sorted_run = 1;
    while (sorted_run < n && pb->x[sorted_run - 1] <= pb->x[sorted_run]) sorted_run++;
    if (sorted_run >= n) {
        /* already sorted (a grid, a sorted file): use the caller's arrays,
         * which outlive the engine (engine.h), and touch no new memory */
        st->xs = pb->x;
        st->ys = pb->y;
    } else {
        double *own = malloc(n * (1 + p) * sizeof(double));
        st->own = own;
        st->rank = malloc(n * sizeof(uint32_t));
        order = malloc(n * sizeof(uint32_t));
        if (!own || !st->rank || !order) goto fail;
        double *xs = own, *ys = own + n;
        if ((status = nw_sort_points(pb->x, pb->y, n, p, xs, ys, order))) goto fail;
        for (size_t k = 0; k < n; k++) st->rank[order[k]] = (uint32_t) k;
        st->xs = xs;
        st->ys = ys;
        free(order);
        order = NULL;
    }
    st->sample = malloc((n / SAMPLE + 1) * sizeof(double));
    status = NW_ERR_NOMEM; /* nw_sort_points set it to NW_OK */
    if (!st->sample) goto fail;
    for (size_t k = 0; k * SAMPLE < n; k++) st->sample[k] = st->xs[k * SAMPLE];
    for (size_t k = 0; k < n; k++)
        for (size_t c = 0; c < p; c++) {
            double v = fabs(st->ys[k * p + c]);
            st->ymax[c] = v > st->ymax[c] ? v : st->ymax[c];
        }
    if (kernel_is_log(st->kernel)) {
        st->logcut = log_cut(n, e->tol);
    } else {
        setup_compact(st);
        if (n >= 2 * BLOCK && isfinite(st->h) && st->h > 0 &&
            window_keys(pb, 1) >= MOMENT_MIN_WINDOW &&
            (status = build_moments(st)))
            goto fail;
    }
    e->state = st;
    e->moments = sorted_moments;
    e->moments_exact = kernel_is_log(pb->kernel) ? NULL : sorted_moments_exact;
    e->free_state = sorted_free;
    return NW_OK;
fail:
    free(order);
    sorted_free(st);
    return status;
}

/* Work of m queries in dense kernel evaluations.  Compact kernels: three
 * binary searches, the partial blocks (at most ~1.5 BLOCK keys on average)
 * or the whole window if smaller, and the polynomial algebra; preparing:
 * the sort and, for wide windows, the block and anchor moments.  Log
 * kernels: binary searches and the window of radius R (a scalar exp per
 * key, ~8 dense evaluations). */
static double sorted_cost(const nw_problem *pb, size_t m, double tol)
{
    /* (more than 2^32 keys: beyond nw_sort_points' 32-bit indices) */
    if (pb->d != 1 || pb->n == 0 || pb->n > UINT32_MAX || !(pb->w[0] != 0)) return INFINITY;
    const double n = (double) pb->n, logn = log2(n + 1);
    double prep = 8 * n, per;
    if (kernel_is_log(pb->kernel)) {
        double L = log_cut(pb->n, tol);
        double R = pb->kernel == NW_KERNEL_GAUSSIAN ? sqrt(2 * L) : L;
        per = 4 * logn + 8 * window_keys(pb, R);
    } else {
        double W = window_keys(pb, 1);
        double poly = pb->kernel == NW_KERNEL_TRICUBE ? 11 : 5;
        if (pb->linear) poly += 2;
        double outs = (pb->linear ? 2 : 1) * (pb->grad ? 2 : 1);
        per = 6 * logn;
        if (W >= MOMENT_MIN_WINDOW) {
            per += 3 * BLOCK + outs * poly * poly;
            prep += n * (poly + 2) * (1 + (double) pb->p) * 2;
        } else {
            per += 2 * W;
        }
    }
    return prep + (double) m * per;
}

/* The keys by x (stable): what sorted_init, and the sweeps of
 * loo_sorted.c, read in place when they are already so. */
static int sorted_arrange(const nw_problem *pb, size_t m, double tol, uint32_t *order)
{
    (void) m, (void) tol;
    return nw_sort_order(pb->x, pb->n, order) == NW_OK ? 1 : -1;
}

const nw_engine_impl nw_engine_sorted_impl = {
    .kind = NW_ENGINE_SORTED,
    .init = sorted_init,
    .cost = sorted_cost,
    .arrange = sorted_arrange,
};
