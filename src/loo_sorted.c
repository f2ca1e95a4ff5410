/*
 * loo_sorted.c: the passes of 1-d compact kernels in O(n) per bandwidth,
 * for the queries that ARE the keys: leave-one-out (bandwidth selection,
 * nw_loo_predict) and in-sample (nw_fitted, AICc's residuals and hat-matrix
 * trace: each point's own term kept, see "leave the point out" in
 * process_group); and for any other queries, sorted first
 * (nw_sorted_predict, which nw_predict takes where the sorted engine would
 * run): the same sweeps with the query values read through their order
 * (query_at), none of their own terms left out.
 *
 * The keys are sorted once per context (nw_loo_sorted_new), then every
 * bandwidth costs a few sweeps over the sorted keys, nothing allocated.
 *
 * Groups.  A grid of cells of width Delta (= h for kernels of degree <= 4,
 * h / 2 above; see cell_width) cuts the sorted keys into groups of
 * consecutive keys in one cell (a group never crosses the boundary of one
 * of the pass's 64 fixed chunks).  All queries of a group are expanded
 * about the cell's centre c: with t = (x - c) w and U = (x_i - c) w
 * (|U| <= Delta / 2h), a key's weight is F(u) with u = U - t, and for the
 * polynomial kernels (on each side of the query for the triangular and
 * tricube, which have a kink at u = 0)
 *
 *     sum_j F(U - t_j) [y_j] = sum_k g_k(U) sum_j t_j^k [y_j],
 *
 * g_k(U) = (-1)^k F^(k)(U) / k! (a Taylor shift); for the cosine the
 * addition theorem gives cos(a(U - t)) = cos aU cos at + sin aU sin at.
 *
 * Window sums without catastrophic cancellation.  For group g with first
 * query q0, origin m (the first key equal to x_q0) and lo = j0(q0), the
 * first key of q0's window, the sums of the powers t^k (and t^k y_j, and
 * for the cosine t^k cos at, t^k sin at) are carried by four forward
 * pointers, each a running sum: T_L over [lo, m); S_a from lo to j0(i);
 * R_q from m to the split point jq(i) (first key equal to x_i); R_1 from m
 * to j1(i), the end of the window.  The window of query i is
 * [j0(i), j1(i)) = R_1 - (S_a - T_L) (split: [j0, jq) = R_q - (S_a - T_L),
 * [jq, j1) = R_1 - R_q).  Every key summed is within h + Delta of c:
 * |t| <= 1 + Delta / 2h, so no power of a large |x| appears, and each key
 * is visited about 2 + 2 Delta / h times per group it can serve
 * (4 to 7 visits per key and bandwidth in all).  Pointers only move
 * forward: j0, jq, j1 never decrease with i (the dense engine's test
 * |(x_i - x_j) w| < 1 is monotone in both keys).
 *
 * Values centred per group.  The y sums use y_j - ybar, ybar the mean of
 * the group's values (any number would be exact: the prediction is ybar
 * plus that of the centred values, for local linear too, as its weights
 * sum to 1); their rounding then scales with |y - ybar| (the noise and
 * the variation over a window), not |y|, which is what a loss of
 * residuals ~ noise needs.  The centring's rounding is one more step per
 * term, the final ybar + yhat' one u |yhat| (uncentre).
 *
 * Rounding.  A running sum adds its terms naively in runs of FLUSH and
 * the runs into a Kahan sum: the error of each is at most
 * (FLUSH + 1) u sum |terms|.  With t^k (3k roundings: t, the k - 1
 * products; y: 2), reading the sums and the two differences (4), the dot
 * product sum_k g_k S_k (D + 1) and g_k itself (the Taylor shift and the
 * slope factors: 2 D + 6), the error of output F is below
 *     1.01 u sum_k (FLUSH + 7 + 3k + 3 D + 7) |g|_k M_k + 2 u |U| Lip_F M_0
 * where |g|_k are the Taylor coefficients of the polynomial with
 * |coefficients| at |U| (they bound |g_k| and the shift's rounding),
 * M_k >= sum |t_j|^k over the keys of the running sums that side's
 * difference reads (split kernels: [j0, jq) = R_q - (S_a - T_L) reads
 * T_L, S_a, R_q; [jq, j1) = R_1 - R_q reads R_1, R_q; see make_absmom;
 * even k: their stored sums, all terms >= 0; odd k: the mean of the two
 * even neighbours), and the last term is the rounding of U itself (Lip_F
 * the largest |F'| on [-1, 1]; t's rounding is counted in the 3k).  The
 * cosine's base values, rotation and products add 12 steps.  Errors of B
 * use N_k >= sum |t_j|^k |y_j - ybar| instead of M_k: each running sum
 * also carries sum |t|^k |y'| for even k <= D (odd k as for M_k; or
 * ym M_k, ym the largest |y'|, if smaller).  The prediction's error then
 * follows as in the estimator (prediction_bound in estimate.c).
 *
 * What is certified.  With predictions asked for (nw_loo_predict), each to
 * the tolerance relative, as every engine does: where the bound misses it,
 * local linear is first recomputed from the same sums with its slope
 * columns centred (as the estimator recentres), then the query is summed
 * directly over its window in the dense engine's arithmetic.  For the
 * criterion alone (bandwidth selection), the loss: each prediction's
 * absolute bound d_i goes into sum_i (2 |r_i| d_i + d_i^2), a bound on the
 * error of 2 L, which must be within tol * 2 L, or the pass is redone
 * certifying each prediction; so a prediction near 0 needs no direct sum.
 * The bounds are worst-case.  Measured on `nwreg gen --n 1000000 --seed 7`
 * (x in [0, 5], noise sd 0.5), h = 1e-3 .. 1, the loss's relative bound:
 * uniform 6e-15 .. 5e-14, cosine 2e-14 .. 1.4e-13, epanechnikov 2e-14 ..
 * 1.1e-13, triangular 3e-14 .. 2.5e-13, biweight 5e-14 .. 3.5e-13,
 * tricube 7e-14 .. 3.4e-13; at h = 2 .. 10 the local linear ones grow to
 * 5e-13 (triangular), 7e-13 (biweight), 8e-13 (tricube, with cells of
 * h / 8), so no pass there sums a window directly.  (Before the centring,
 * the N_k and the per-side moments, tricube lc 2.4e-12 and tricube,
 * biweight, triangular ll up to 2e-12 at h ~ 1 missed 1e-12 and summed up
 * to 1e5 windows directly: minutes per selection.)
 *
 * Not counted, as in the whole library: the rounding of u in the direct
 * sums (the dense engine has it too).
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "estimate.h"
#include "kernels.h"
#include "loo.h"
#include "sort_keys.h"
#include "team.h"

#define PASS_CHUNKS 64
/* terms a running sum adds naively before folding them into its Kahan sum */
#define FLUSH 8
/* outputs carried by the fast path */
#define LOO_PMAX 8
/* count entries <= 13 (tricube local linear: t^0..t^12), y entries per
 * output <= 11 */
#define MAXDEG 12
#define EMAX (13 + LOO_PMAX * 18)
/* the estimator's constants (estimate.c): singular pivot, recentring */
#define LL_PIVOT_RTOL 1e-10
#define LL_RECENTRE_PIVOT 1e-1
#define COS_A M_PI_2
#define U_ROUND 0x1p-53

struct nw_loo_sorted {
    const nw_model *model;
    size_t n, p;
    const double *xs, *ys;  /* sorted keys, their values (the sums' scale) */
    uint32_t *order;        /* order[k]: original index of sorted key k (NULL: identity) */
    double *own;            /* xs, ys when made here */
    int threads;
    double *scratch;        /* per thread */
    size_t scratch_stride;
};

/* What one bandwidth needs, shared read-only by the threads. */
typedef struct plan {
    size_t n, p;
    nw_kernel kernel;
    int linear, grad, split, cosine;
    int leave_out;          /* 1: each point left out of its own sums; 0: in-sample */
    double w, delta, inv_delta, x0, xhi, tol;
    int degK;               /* polynomial degree of K in |u| (cosine: -1) */
    double fK[2][MAXDEG + 1], fR[2][MAXDEG + 1]; /* K, u K' in u, side 0 (u >= 0) and 1 */
    double lipK;            /* largest |K'| on [-1, 1] */
    /* the Taylor shifts of fK, fR (taylor): K's nonzero coefficients j =
     * tj[0 .. tnz) and, per [K or R][side][q], (-1)^k C(j, k) f_j and
     * C(j, k) |f_j| for k = 0 .. j (small integers: exact) */
    int tnz, tj[MAXDEG + 1];
    double tC[2][2][MAXDEG + 1][MAXDEG + 1], tCa[2][2][MAXDEG + 1][MAXDEG + 1];
    size_t dabs;            /* highest (even) abs-moment */
    size_t kc, ky;          /* cosine: degrees of t^k cos, t^k sin (counts, y) */
    size_t dy;              /* polynomial: highest power in the y entries */
    size_t nc, ny, E;       /* count entries, y entries per output, total */
    size_t ya;              /* in an output's entries: |y| |t|^(2m), m = 0 .. dabs / 2 */
    size_t ic, it;          /* cosine: first t^k sin entry, first plain t^k entry */
    double kappa;
    const double *xs, *ys;
    int all_direct;
} plan;

/* A running sum of entry vectors over sorted keys [start, pos). */
typedef struct runsum {
    size_t pos;
    int run;
    double cell;            /* cosine: cell of the last rotation */
    double cd, sd;          /* its cos, sin */
    double ymax[LOO_PMAX];  /* largest |y - ybar| summed */
    const double *ybar;     /* the group's centre of the values */
    double s[EMAX], c[EMAX], part[EMAX];
} runsum;

/* What bounds the rounding of one side's window sums: M[k] >= sum |t|^k
 * over every key its running sums added, N[c][k] >= sum |t|^k |y_c|. */
typedef struct absmom {
    double M[MAXDEG + 2];
    double N[LOO_PMAX][MAXDEG + 2];
} absmom;

/* Moments of one query (A symmetric 2 x 2 stored 00, 01, 11). */
typedef struct qmom {
    double A[3], B[2][LOO_PMAX], dA[3], dB[2][LOO_PMAX];
    double eA[3], eB[2][LOO_PMAX];
} qmom;

/* --------------------------------------------------------- the context */

void nw_loo_sorted_free(nw_loo_sorted *ls)
{
    if (!ls) return;
    free(ls->order);
    free(ls->own);
    free(ls->scratch);
    free(ls);
}

int nw_loo_sorted_applies(const nw_model *model)
{
    return model && model->d == 1 && model->n >= 2 && model->n <= UINT32_MAX &&
           model->p <= LOO_PMAX &&
           !kernel_is_log(model->kernel) && (unsigned) model->kernel < NW_KERNEL_COUNT &&
           (model->engine == NW_ENGINE_AUTO || model->engine == NW_ENGINE_SORTED);
}

nw_status nw_loo_sorted_new(const nw_model *model, nw_loo_sorted **out)
{
    *out = NULL;
    if (!nw_loo_sorted_applies(model)) return NW_ERR_ARG;
    const size_t n = model->n, p = model->p;
    const double *x = model->x, *y = model->y_sums ? model->y_sums : model->y;
    nw_loo_sorted *ls = calloc(1, sizeof *ls);
    if (!ls) return NW_ERR_NOMEM;
    ls->model = model;
    ls->n = n;
    ls->p = p;
    size_t run = 1;
    while (run < n && x[run - 1] <= x[run]) run++;
    if (run >= n) {
        ls->xs = x;
        ls->ys = y;
    } else {
        ls->order = malloc(n * sizeof(uint32_t));
        ls->own = malloc(n * (1 + p) * sizeof(double));
        nw_status st = NW_ERR_NOMEM;
        if (!ls->order || !ls->own ||
            (st = nw_sort_points(x, y, n, p, ls->own, ls->own + n, ls->order))) {
            nw_loo_sorted_free(ls);
            return st;
        }
        ls->xs = ls->own;
        ls->ys = ls->own + n;
    }
    ls->threads = nw_threads(model, (size_t) -1);
    if (ls->threads < 1) ls->threads = 1;
    /* per thread: four running sums, then the Taylor coefficients */
    ls->scratch_stride = (4 * sizeof(runsum) + sizeof(double) - 1) / sizeof(double) + 8 * (MAXDEG + 4);
    ls->scratch = malloc((size_t) ls->threads * ls->scratch_stride * sizeof(double));
    if (!ls->scratch) { nw_loo_sorted_free(ls); return NW_ERR_NOMEM; }
    *out = ls;
    return NW_OK;
}

/* ------------------------------------------------------------ the plan */


/* Cell width: the expansion's |U| + |t| <= 1 + Delta / h grows the error
 * bound of degree D like (1 + Delta / h)^D (measured: the tricube's bounds
 * miss 1e-12 with h / 2; its local linear, degree 11, at h ~ 2-4 on x in
 * [0, 5] with h / 4: 1.3e-12, with h / 8: 8e-13); the sweeps cost
 * 2 + 2 h / Delta visits a key.  A loss-only pass whose bound misses is
 * retried once with half the width (nw_loo_sorted_pass), so degrees 10-12
 * take h / 4 there (the search's bandwidths are far below h ~ 2: tricube
 * ll at n = 1e6, 43 evaluations, 12.0 -> 10.7 s), and h / 8 where each
 * prediction is certified (strict), whose misses are summed directly. */
static double cell_width(int degree, double h, int strict)
{
    if (degree <= 3) return h;
    if (degree <= 6) return 0.5 * h;
    return degree <= 9 || (degree <= 12 && !strict) ? 0.25 * h : 0.125 * h;
}

static void set_cells(const nw_loo_sorted *ls, plan *pl, double delta)
{
    pl->delta = delta;
    pl->inv_delta = 1 / delta;
    /* cells would lose their integer index: sum every window directly */
    double range = ls->xs[ls->n - 1] - pl->x0;
    pl->all_direct = !(range * pl->inv_delta < 1e12) || !isfinite(pl->delta);
}

static void make_plan(const nw_loo_sorted *ls, double w, int leave_out, int grad, int strict,
                      plan *pl)
{
    const nw_model *model = ls->model;
    memset(pl, 0, sizeof *pl);
    pl->leave_out = leave_out;
    pl->n = ls->n;
    pl->p = ls->p;
    pl->kernel = model->kernel;
    pl->linear = model->estimator == NW_ESTIMATOR_LINEAR;
    pl->grad = grad;
    pl->w = w;
    pl->tol = model->tolerance;
    pl->xs = ls->xs;
    pl->ys = ls->ys;
    pl->x0 = ls->xs[0];
    pl->xhi = ls->xs[ls->n - 1];
    const double h = 1 / w;
    const size_t lin = (size_t) pl->linear;
    double c[MAXDEG + 1] = { 0 };   /* kernel_poly fills 0..KERNEL_POLY_MAXDEG */
    int dk = kernel_poly(model->kernel, c);
    pl->degK = dk;
    pl->cosine = dk < 0;
    pl->split = model->kernel == NW_KERNEL_TRIANGULAR || model->kernel == NW_KERNEL_TRICUBE;
    int degree;
    if (pl->cosine) {
        pl->kc = 2 * lin + (size_t) grad;   /* u^e and u sin: (U - t)^(e + 1) */
        pl->ky = lin + (size_t) grad;
        pl->dabs = pl->kc + (pl->kc & 1);
        pl->ic = pl->kc + 1;
        pl->it = 2 * (pl->kc + 1);
        pl->nc = pl->it + pl->dabs + 1;
        pl->ya = 2 * (pl->ky + 1);
        pl->ny = pl->ya + pl->dabs / 2 + 1;
        degree = (int) pl->kc;
        pl->lipK = COS_A;
    } else {
        size_t D = (size_t) dk + 2 * lin;
        pl->dabs = D + (D & 1);
        pl->nc = pl->dabs + 1;
        pl->dy = (size_t) dk + lin;
        pl->ya = pl->dy + 1;
        pl->ny = pl->ya + pl->dabs / 2 + 1;
        degree = (int) D;
        for (int side = 0; side < 2; side++) {
            double s = side == 0 ? 1 : -1, sk = 1;
            for (int k = 0; k <= dk; k++, sk *= s) {
                pl->fK[side][k] = c[k] * sk;
                pl->fR[side][k] = k * c[k] * sk;
            }
        }
        /* |K'| <= sum_k k |c_k| on [-1, 1] */
        for (int k = 0; k <= dk; k++) pl->lipK += k * fabs(c[k]);
        for (int j = 0; j <= dk; j++) {
            if (c[j] == 0) continue;
            const int q = pl->tnz++;
            pl->tj[q] = j;
            for (int which = 0; which < 2; which++)
                for (int side = 0; side < 2; side++) {
                    const double fj = which == 0 ? pl->fK[side][j] : pl->fR[side][j];
                    double bin = 1;   /* C(j, k) */
                    for (int k = 0; k <= j; k++) {
                        pl->tC[which][side][q][k] = ((k & 1) ? -bin : bin) * fj;
                        pl->tCa[which][side][q][k] = bin * fabs(fj);
                        bin = bin * (double) (j - k) / (double) (k + 1);
                    }
                }
        }
    }
    pl->E = pl->nc + pl->p * pl->ny;
    set_cells(ls, pl, cell_width(degree, h, strict));
    /* rounding steps of an entry t^k [y] (see add_output for the rest):
     * t (2 per factor) and the powers: 3k; y: 2 (centring, product); the run and the Kahan sum:
     * FLUSH - 1 + 2; reading a value: 2; the two differences: 2; the
     * cosine's base values (base_cos_sin: 3 each), rotation and products:
     * 16 more */
    pl->kappa = (double) FLUSH + 7 + (pl->cosine ? 16 : 0);
}

/* ------------------------------------------------------- running sums */

static inline double cell_of(const plan *pl, double x)
{
    return floor((x - pl->x0) * pl->inv_delta);
}

/* A cell's centre, kept within the keys' range [x0, xhi]: a cell wider than
 * the data (h far above its range) would otherwise expand about a point far
 * from every key, where t = (x - c) w keeps no digit of the keys' spread
 * (h = 1e9 on [0, 5]: local linear fell back to the mean).  For a key or
 * a query inside the range the clamped centre is no farther than the true
 * one, so |U| <= Delta / 2h and |t| <= 1 + Delta / 2h still hold; a query
 * outside gets |U| <= 1 where its window is not empty (the bounds use the
 * actual U). */
static inline double cell_centre(const plan *pl, double cell)
{
    double c = pl->x0 + (cell + 0.5) * pl->delta;
    return c < pl->x0 ? pl->x0 : c > pl->xhi ? pl->xhi : c;
}

/* The cosine's base values cos(a tau), sin(a tau) of a key at tau = (x - c)
 * w from the centre c of its own cell (|tau| <= 1/2 + rounding: cells are
 * at most h wide), computed where needed (cos_sin_quarter, within 3 u of
 * the true values, absolute; the bound counts 3 steps for each: kappa)
 * rather than kept per key (n = 1e6: 16 MB). */
static inline void base_cos_sin(double tau, double *c, double *s)
{
    cos_sin_quarter(COS_A * tau, c, s);
}

static void runsum_start(const plan *pl, runsum *rs, size_t pos, const double *ybar)
{
    rs->pos = pos;
    rs->ybar = ybar;
    rs->run = 0;
    rs->cell = NAN;
    for (size_t c = 0; c < pl->p; c++) rs->ymax[c] = 0;
    memset(rs->s, 0, pl->E * sizeof(double));
    memset(rs->c, 0, pl->E * sizeof(double));
    memset(rs->part, 0, pl->E * sizeof(double));
}

static inline void runsum_flush(const plan *pl, runsum *rs)
{
    const size_t E = pl->E;
    for (size_t e = 0; e < E; e++) {
        double yv = rs->part[e] - rs->c[e], t = rs->s[e] + yv;
        rs->c[e] = (t - rs->s[e]) - yv;
        rs->s[e] = t;
        rs->part[e] = 0;
    }
    rs->run = 0;
}

/* runsum_to for one output and a polynomial kernel, with the entries'
 * layout (dabs, ya) known when compiled: the run's sums in locals (in
 * registers), not read and written back in memory per key.  The same
 * operations in the same order as the general loop below. */
static inline __attribute__((always_inline)) void
runsum_to_p1(const plan *pl, runsum *rs, size_t to, double c, const size_t dabs, const size_t ya)
{
    const size_t nc = dabs + 1, E = nc + ya + dabs / 2 + 1;
    const double w = pl->w, ybar = rs->ybar[0], *xs = pl->xs, *ys = pl->ys;
    double acc[EMAX], ymax = rs->ymax[0];
    for (size_t e = 0; e < E; e++) acc[e] = rs->part[e];
    int run = rs->run;
    for (size_t j = rs->pos; j < to; j++) {
        const double yv = ys[j] - ybar, ay = fabs(yv), t = (xs[j] - c) * w;
        ymax = ay > ymax ? ay : ymax;
        double pw[MAXDEG + 1];
        pw[0] = 1;
        pw[1] = t;
        for (size_t k = 2; k <= dabs; k++) pw[k] = pw[k / 2] * pw[k - k / 2];
        for (size_t k = 0; k < nc; k++) acc[k] += pw[k];
        for (size_t k = 0; k < ya; k++) acc[nc + k] += pw[k] * yv;
        for (size_t k = 0; k <= dabs; k += 2) acc[nc + ya + k / 2] += pw[k] * ay;
        if (++run == FLUSH) {
            for (size_t e = 0; e < E; e++) rs->part[e] = acc[e];
            runsum_flush(pl, rs);
            for (size_t e = 0; e < E; e++) acc[e] = 0;
            run = 0;
        }
    }
    for (size_t e = 0; e < E; e++) rs->part[e] = acc[e];
    rs->run = run;
    rs->ymax[0] = ymax;
    rs->pos = to > rs->pos ? to : rs->pos;
}

/* Add the terms of keys [rs->pos, to) about centre c (cell gcell). */
static void runsum_to(const plan *pl, runsum *rs, size_t to, double c, double gcell)
{
    if (pl->p == 1 && !pl->cosine) {
        /* the layouts of the six polynomial kernels, lc and ll */
        switch (pl->dabs * 16 + pl->ya) {
        case 0 * 16 + 1:  runsum_to_p1(pl, rs, to, c, 0, 1); return;    /* uniform lc */
        case 2 * 16 + 2:  runsum_to_p1(pl, rs, to, c, 2, 2); return;    /* uniform ll, triangular lc */
        case 2 * 16 + 3:  runsum_to_p1(pl, rs, to, c, 2, 3); return;    /* epanechnikov lc */
        case 4 * 16 + 3:  runsum_to_p1(pl, rs, to, c, 4, 3); return;    /* triangular ll */
        case 4 * 16 + 4:  runsum_to_p1(pl, rs, to, c, 4, 4); return;    /* epanechnikov ll */
        case 4 * 16 + 5:  runsum_to_p1(pl, rs, to, c, 4, 5); return;    /* biweight lc */
        case 6 * 16 + 6:  runsum_to_p1(pl, rs, to, c, 6, 6); return;    /* biweight ll */
        case 10 * 16 + 10: runsum_to_p1(pl, rs, to, c, 10, 10); return; /* tricube lc */
        case 12 * 16 + 11: runsum_to_p1(pl, rs, to, c, 12, 11); return; /* tricube ll */
        default: break;
        }
    }
    const size_t p = pl->p, nc = pl->nc, ny = pl->ny, ya = pl->ya, dabs = pl->dabs;
    const double w = pl->w;
    double *part = rs->part;
    for (size_t j = rs->pos; j < to; j++) {
        const double *yj = pl->ys + j * p;
        double y[LOO_PMAX];
        double t = (pl->xs[j] - c) * w;
        for (size_t cc = 0; cc < p; cc++) {
            y[cc] = yj[cc] - rs->ybar[cc];
            double a = fabs(y[cc]);
            rs->ymax[cc] = a > rs->ymax[cc] ? a : rs->ymax[cc];
        }
        if (!pl->cosine) {
            /* t^k = t^(k/2) t^(k - k/2): a chain of log2 k products, not k
             * (the loop's latency); still k - 1 roundings in all */
            double pw[MAXDEG + 1];
            pw[0] = 1;
            pw[1] = t;
            for (size_t k = 2; k <= pl->dabs; k++) pw[k] = pw[k / 2] * pw[k - k / 2];
            for (size_t k = 0; k < nc; k++) part[k] += pw[k];
            if (p == 1) {
                double yv = y[0], ay = fabs(yv);
                for (size_t k = 0; k < ya; k++) part[nc + k] += pw[k] * yv;
                for (size_t k = 0; k <= dabs; k += 2) part[nc + ya + k / 2] += pw[k] * ay;
            } else {
                for (size_t cc = 0; cc < p; cc++) {
                    double *py = part + nc + cc * ny, ay = fabs(y[cc]);
                    for (size_t k = 0; k < ya; k++) py[k] += pw[k] * y[cc];
                    for (size_t k = 0; k <= dabs; k += 2) py[ya + k / 2] += pw[k] * ay;
                }
            }
        } else {
            /* cos, sin of a t by rotating the key's own values (about its
             * cell's centre) by a (c_cell - c) w */
            double kc = cell_of(pl, pl->xs[j]);
            if (kc != rs->cell) {
                /* the centres as computed (exact difference: Sterbenz), not
                 * (kc - gcell) Delta, which misses x0 + (k + 0.5) Delta's rounding */
                double dl = COS_A * ((cell_centre(pl, kc) - c) * w);
                rs->cell = kc;
                rs->cd = cos(dl);
                rs->sd = sin(dl);
            }
            double cb, sb;
            base_cos_sin((pl->xs[j] - cell_centre(pl, kc)) * w, &cb, &sb);
            double ct = cb * rs->cd - sb * rs->sd, st = sb * rs->cd + cb * rs->sd;
            double pw = 1;
            for (size_t k = 0; k <= pl->kc; k++, pw *= t) {
                part[k] += pw * ct;
                part[pl->ic + k] += pw * st;
            }
            pw = 1;
            double pws[MAXDEG + 1];
            for (size_t k = 0; k <= dabs; k++, pw *= t) {
                part[pl->it + k] += pw;
                pws[k] = pw;
            }
            for (size_t cc = 0; cc < p; cc++) {
                double *py = part + nc + cc * ny, yv = y[cc], ay = fabs(yv);
                for (size_t k = 0; k <= dabs; k += 2) py[ya + k / 2] += pws[k] * ay;
                pw = 1;
                for (size_t k = 0; k <= pl->ky; k++, pw *= t) {
                    py[k] += pw * ct * yv;
                    py[pl->ky + 1 + k] += pw * st * yv;
                }
            }
        }
        if (++rs->run == FLUSH) runsum_flush(pl, rs);
    }
    rs->pos = to > rs->pos ? to : rs->pos;
}

static inline double runsum_value(const runsum *rs, size_t e)
{
    return (rs->s[e] - rs->c[e]) + rs->part[e];
}

/* ------------------------------------------------------ direct sums */

static inline int inside(nw_kernel kernel, double u)
{
    double a = fabs(u);
    return kernel == NW_KERNEL_UNIFORM ? a <= 1 : a < 1;
}

/* The moments of query q over sorted keys [j0, j1) but key `skip` (the
 * query itself when leaving it out; SIZE_MAX: none), in the dense engine's
 * arithmetic; slope columns u - shift. */
static void direct_moments(const plan *pl, double q, size_t skip, size_t j0, size_t j1,
                           double shift, qmom *m)
{
    const size_t p = pl->p;
    const double w = pl->w;
    memset(m, 0, sizeof *m);
    for (size_t j = j0; j < j1; j++) {
        if (j == skip) continue;
        double u = (q - pl->xs[j]) * w, K = kernel_value(pl->kernel, u);
        if (K == 0) continue;
        const double *y = pl->ys + j * p;
        double ph = u - shift;
        m->A[0] += K;
        for (size_t c = 0; c < p; c++) m->B[0][c] += K * y[c];
        if (pl->linear) {
            double kp = K * ph;
            m->A[1] += kp;
            m->A[2] += kp * ph;
            for (size_t c = 0; c < p; c++) m->B[1][c] += kp * y[c];
        }
        if (pl->grad) {
            double kr = K * kernel_rho(pl->kernel, u);
            m->dA[0] += kr;
            for (size_t c = 0; c < p; c++) m->dB[0][c] += kr * y[c];
            if (pl->linear) {
                double kp = kr * ph;
                m->dA[1] += kp;
                m->dA[2] += kp * ph;
                for (size_t c = 0; c < p; c++) m->dB[1][c] += kp * y[c];
            }
        }
    }
}

/* Zero the moments of p outputs (the rest of the struct unused). */
static inline void qmom_zero(qmom *m, size_t p)
{
    for (int k = 0; k < 3; k++) m->A[k] = m->dA[k] = m->eA[k] = 0;
    for (int e = 0; e < 2; e++)
        for (size_t c = 0; c < p; c++) m->B[e][c] = m->dB[e][c] = m->eB[e][c] = 0;
}

/* ------------------------------------------------------------ solving */

typedef struct qsol {
    double yhat[LOO_PMAX], dyhat[LOO_PMAX];
    double err[LOO_PMAX];   /* absolute error bounds of yhat (0: direct sums) */
    double pivot, bound;    /* bound: the largest relative one */
    double hii;             /* the weight of a key at u = 0 (K(0) = 1) in the
                               prediction: the hat matrix's diagonal entry */
    int empty;
} qsol;

/* nw_solve for r <= 2, d = 1: local constant, or local linear by the same
 * Cholesky steps (falling back to local constant where singular).  With
 * bound = 1, also the predictions' absolute error bounds err (estimate.c's
 * prediction_bound) from m->eA, eB, and bound = INFINITY where local
 * linear is too ill-conditioned to bound (uncentre makes bound relative). */
static void solve(const plan *pl, const qmom *m, double shift, int bound, qsol *s)
{
    const size_t p = pl->p;
    const double A00 = m->A[0];
    s->empty = 0;
    s->pivot = 1;
    s->bound = 0;
    s->hii = 0;
    for (size_t c = 0; c < p; c++) s->err[c] = 0;
    if (!(A00 > 0)) {
        s->empty = 1;
        for (size_t c = 0; c < p; c++) { s->yhat[c] = NAN; s->dyhat[c] = 0; }
        s->bound = INFINITY;
        return;
    }
    if (pl->linear) {
        const double A01 = m->A[1], A11 = m->A[2];
        double L00 = sqrt(A00), L10 = A01 / L00, s11 = A11 - L10 * L10;
        double rel = s11 / A11;
        s->pivot = rel < 1 ? rel : 1;
        if (s11 > LL_PIVOT_RTOL * A11) {
            double L11 = sqrt(s11);
            /* a = A^-1 z, z = (1, -shift) */
            double z0 = 1, z1 = -shift;
            double v0 = z0 / L00, v1 = (z1 - L10 * v0) / L11;
            double a1 = v1 / L11, a0 = (v0 - L10 * a1) / L00;
            /* a key at u = 0 has the row z: its weight is z' A^-1 z */
            s->hii = z0 * a0 + z1 * a1;
            double worst = 0, rel_err = 0;
            if (bound) {
                const double sq[3] = { A00, sqrt(A00 * A11), A11 };
                for (int k = 0; k < 3; k++) {
                    double e = m->eA[k] / sq[k];
                    if (!(e <= rel_err)) rel_err = e;
                }
                if (!(rel_err / s->pivot < 1e-3)) {
                    worst = INFINITY;
                    for (size_t c = 0; c < p; c++) s->err[c] = INFINITY;
                }
            }
            for (size_t c = 0; c < p; c++) {
                double b0 = m->B[0][c] / L00, b1 = (m->B[1][c] - L10 * b0) / L11;
                double be1 = b1 / L11, be0 = (b0 - L10 * be1) / L00;
                double yh = z0 * be0 + z1 * be1;
                s->yhat[c] = yh;
                if (pl->grad) {
                    double t0 = m->dB[0][c] - (m->dA[0] * be0 + m->dA[1] * be1);
                    double t1 = m->dB[1][c] - (m->dA[1] * be0 + m->dA[2] * be1);
                    s->dyhat[c] = (a0 * t0 + a1 * t1) / pl->w;
                }
                if (bound && worst < INFINITY) {
                    double g = 0x1p-50;
                    double t0 = m->eB[0][c] + (m->eA[0] + g * A00) * fabs(be0) +
                                (m->eA[1] + g * sqrt(A00 * A11)) * fabs(be1);
                    double t1 = m->eB[1][c] + (m->eA[1] + g * sqrt(A00 * A11)) * fabs(be0) +
                                (m->eA[2] + g * A11) * fabs(be1);
                    s->err[c] = 1.002 * (fabs(a0) * t0 + fabs(a1) * t1);
                }
            }
            s->bound = worst;
            return;
        }
        s->pivot = rel < 0 ? 0 : rel;   /* singular: local constant below */
    }
    double worst = 0;
    s->hii = 1 / A00;
    for (size_t c = 0; c < p; c++) {
        double yh = m->B[0][c] / A00;
        s->yhat[c] = yh;
        if (pl->grad) s->dyhat[c] = (m->dB[0][c] - yh * m->dA[0]) / (A00 * pl->w);
        if (bound) {
            s->err[c] = !(m->eA[0] < A00) ? INFINITY
                                          : (m->eB[0][c] + fabs(yh) * m->eA[0]) / (A00 - m->eA[0]);
        }
    }
    s->bound = worst;
}

/* Predictions ybar + yhat (solved with the values centred at ybar): the
 * error bounds gain the addition's rounding, u |sum| <= u (|result| + err)
 * / (1 - u), and the relative bound is recomputed against the result. */
static void uncentre(const plan *pl, const double *ybar, int relative, qsol *s)
{
    if (s->empty) return;
    double worst = 0;
    for (size_t c = 0; c < pl->p; c++) {
        double yh = s->yhat[c] + ybar[c];
        s->yhat[c] = yh;
        s->err[c] = s->err[c] * (1 + 2 * U_ROUND) + 1.01 * U_ROUND * fabs(yh);
        if (!relative) continue;    /* (the loss needs the absolute ones only) */
        double r = s->err[c] / fabs(yh);
        if (!(r <= worst)) worst = r;
    }
    s->bound = relative ? worst : NAN;
}

/* ----------------------------------------------------- the fast path */

/* out_k = sum over the nonzero f_j (j = tj[q] >= k) of C[q][k] up[j - k],
 * k outer, the sum in a register (accumulating out in memory stalled on
 * store forwarding). */
static inline void taylor_sums(const plan *pl, const double (*C)[MAXDEG + 1], const double *up,
                               int deg, double *out)
{
    const int nz = pl->tnz, *tj = pl->tj;
    for (int k = 0, q0 = 0; k <= deg; k++) {
        while (q0 < nz && tj[q0] < k) q0++;
        double v = 0;
        for (int q = q0; q < nz; q++) v += C[q][k] * up[tj[q] - k];
        out[k] = v;
    }
}

/* Coefficients in t of P(U - t) for P = fK (which = 0) or fR (1) on
 * `side`, of degree deg: g_k = (-1)^k P^(k)(U) / k! = sum_j (-1)^k C(j, k)
 * f_j U^(j - k) over P's nonzero f_j (the tricube's 4 of 10: independent
 * products, not the (deg + 1) deg / 2 dependent steps of synthetic
 * division, which were a third of a pass); ga: the same for |f| at |U|,
 * unsigned (NULL: not wanted).  Rounding: U^m m - 1 steps, the product 1,
 * the sum of at most deg + 1 terms: below 2 deg + 2 steps relative to ga_k,
 * inside add_output's 2 deg + 6. */
static void taylor(const plan *pl, int which, int side, int deg, double U, double *g,
                   double *ga)
{
    double up[MAXDEG + 1];
    up[0] = 1;
    for (int k = 1; k <= deg; k++) up[k] = up[k - 1] * U;
    taylor_sums(pl, pl->tC[which][side], up, deg, g);
    if (!ga) return;   /* (the gradient's sums carry no bound) */
    for (int k = 0; k <= deg; k++) up[k] = fabs(up[k]);
    taylor_sums(pl, pl->tCa[which][side], up, deg, ga);
}

/* Multiply the polynomial in t (degree deg) by (U - t), in place; ga by (|U| + t). */
static void times_u(double *g, double *ga, int deg, double U)
{
    double aU = fabs(U);
    g[deg + 1] = -g[deg];
    for (int k = deg; k >= 1; k--) g[k] = U * g[k] - g[k - 1];
    g[0] *= U;
    if (!ga) return;
    ga[deg + 1] = ga[deg];
    for (int k = deg; k >= 1; k--) ga[k] = aU * ga[k] + ga[k - 1];
    ga[0] *= aU;
}

/* |d/du (K (u - s)^e)| on [-1, 1]: lipK (1 + |s|)^e + e (1 + |s|)^(e - 1) (K <= 1). */
static double lip_shifted(double lipK, int e, double shift)
{
    double r = 1 + fabs(shift);
    return e == 0 ? lipK : e == 1 ? lipK * r + 1 : (lipK * r + 2) * r;
}

/* Add the terms of one output polynomial in t (g signed, ga its size,
 * degree deg) to the moments: value from S, error bound from am->M (A) and
 * am->N (B). */
static void add_output(const plan *pl, const double *g, const double *ga, int deg, int e,
                       int pass, const double *S, const absmom *am, double lipU, qmom *m)
{
    const double *M = am->M;
    const size_t p = pl->p, nc = pl->nc, ny = pl->ny;
    /* error of sum_k g_k S_k: the entries (kappa + 3k steps), the dot
     * product (deg + 1) and g_k itself (the Taylor shift and the factors
     * (V - t): 2 deg + 6), each relative to |g|_k M_k */
    const double fixed = pl->kappa + (double) (3 * deg + 7);
    if (pass == 0 && p == 1 && e <= 1) {
        /* one output: the four sums in one loop (as below, term for term) */
        const double *Y = S + nc, *N = am->N[0];
        double v = 0, b = 0, vb = 0, bb = 0;
        for (int k = 0; k <= deg; k++) {
            const double wkk = (fixed + 3 * k) * ga[k];
            v += g[k] * S[k];
            b += wkk * M[k];
            vb += g[k] * Y[k];
            bb += wkk * N[k];
        }
        m->A[e] += v;
        m->eA[e] += 1.01 * U_ROUND * b + lipU * M[0];
        m->B[e][0] += vb;
        m->eB[e][0] += 1.01 * U_ROUND * bb + lipU * N[0];
        return;
    }
    double v = 0, b = 0, wk[MAXDEG + 2];
    for (int k = 0; k <= deg; k++) v += g[k] * S[k];
    double err = 0;
    if (pass == 0) {
        for (int k = 0; k <= deg; k++) {
            wk[k] = (fixed + 3 * k) * ga[k];
            b += wk[k] * M[k];
        }
        err = 1.01 * U_ROUND * b + lipU * M[0];
    }
    double *A = pass == 0 ? m->A : m->dA;
    A[e] += v;
    if (pass == 0) m->eA[e] += err;
    if (e > 1) return;
    for (size_t c = 0; c < p; c++) {
        const double *Y = S + nc + c * ny, *N = am->N[c];
        double vb = 0, bb = 0;
        for (int k = 0; k <= deg; k++) vb += g[k] * Y[k];
        if (pass == 0) {
            for (int k = 0; k <= deg; k++) bb += wk[k] * N[k];
            m->B[e][c] += vb;
            m->eB[e][c] += 1.01 * U_ROUND * bb + lipU * N[0];
        } else {
            m->dB[e][c] += vb;
        }
    }
}

/* Add one polynomial side to the moments of query i: S = window entries,
 * am = the bounds' moments, U = (x_i - c) w; slope columns u - shift
 * (so (u - shift)^e = (U - shift - t)^e). */
static void add_side(const plan *pl, const double *S, const absmom *am,
                     double U, double shift, int side, qmom *m)
{
    const int dk = pl->degK, emax = pl->linear ? 2 : 0;
    const double V = U - shift;
    double g[MAXDEG + 2], ga[MAXDEG + 2];
    for (int pass = 0; pass < (pl->grad ? 2 : 1); pass++) {
        double *gb = pass == 0 ? ga : NULL;
        taylor(pl, pass, side, dk, U, g, gb);
        for (int e = 0; e <= emax; e++) {
            if (e > 0) times_u(g, gb, dk + e - 1, V);
            double lipU = 2 * U_ROUND * fabs(U) * lip_shifted(pl->lipK, e, shift);
            add_output(pl, g, ga, dk + e, e, pass, S, am, lipU, m);
        }
    }
}

/* The cosine: K (u - s)^e = cos(a(U - t)) (V - t)^e and
 * u K' (u - s)^e = -a sin(a(U - t)) (U - t) (V - t)^e, V = U - s, with
 * cos(a(U - t)) = cU cos at + sU sin at, sin(a(U - t)) = sU cos at - cU sin at:
 * the polynomial P(t) times the entries t^l cos at (S[l]) and t^l sin at
 * (S[ic + l]). */
static void add_cosine(const plan *pl, const double *S, const absmom *am,
                       double U, double shift, double cU, double sU, qmom *m)
{
    const double *M = am->M;
    const size_t p = pl->p, nc = pl->nc, ny = pl->ny, ky = pl->ky, ic = pl->ic;
    const int emax = pl->linear ? 2 : 0;
    const double V = U - shift, cs = fabs(cU) + fabs(sU);
    for (int pass = 0; pass < (pl->grad ? 2 : 1); pass++) {
        double P[6], Pa[6];
        int deg = 0;
        P[0] = 1; Pa[0] = 1;
        if (pass == 1) { P[0] = U; P[1] = -1; Pa[0] = fabs(U); Pa[1] = 1; deg = 1; }
        for (int e = 0; e <= emax; e++) {
            if (e > 0) times_u(P, Pa, deg++, V);
            double kc = pass == 0 ? cU : -COS_A * sU, ks = pass == 0 ? sU : COS_A * cU;
            double v = 0, b = 0;
            for (int l = 0; l <= deg; l++) {
                v += P[l] * (kc * S[l] + ks * S[ic + l]);
                b += Pa[l] * M[l];
            }
            const double scale = cs * (pass == 0 ? 1 : COS_A) * (pl->kappa + 3.0 * deg + 3 * deg + 7);
            const double lipU = 2 * U_ROUND * fabs(U) * lip_shifted(pl->lipK, e, shift);
            b *= scale;
            double *A = pass == 0 ? m->A : m->dA;
            A[e] += v;
            if (pass == 0) m->eA[e] += 1.01 * U_ROUND * b + lipU * M[0];
            if (e > 1) continue;
            for (size_t c = 0; c < p; c++) {
                const double *Y = S + nc + c * ny, *N = am->N[c];
                double vb = 0, bb = 0;
                for (int l = 0; l <= deg; l++) vb += P[l] * (kc * Y[l] + ks * Y[ky + 1 + l]);
                if (pass == 0) {
                    for (int l = 0; l <= deg; l++) bb += Pa[l] * N[l];
                    m->B[e][c] += vb;
                    m->eB[e][c] += 1.01 * U_ROUND * bb * scale + lipU * N[0];
                } else {
                    m->dB[e][c] += vb;
                }
            }
        }
    }
}

/* ------------------------------------------------------------ the pass */

typedef struct chunk_acc {
    double loss, n_empty, grad, bound, fallbacks, direct;
    double trace;   /* in-sample passes: sum of the hat diagonal */
    double dloss;   /* bound on the error of 2 loss (loss-only passes) */
} chunk_acc;

typedef struct pass_job {
    const nw_loo_sorted *ls;
    const plan *pl;
    double *yhat_out;
    int strict;     /* 1: certify every prediction; 0: the loss only */
    /* predictions at other queries (nw_sorted_predict): their values in the
     * caller's order, qorder[i] the place there of the i-th smallest (NULL:
     * they came sorted), nq of them; qv NULL: the queries are the keys */
    const double *qv;
    const uint32_t *qorder;
    size_t nq;
    /* local linear at such queries: the dense engine and each worker's
     * moments, made before the sweep (dense_query) */
    const nw_engine *dense;
    nw_moments *const *dense_mo;
} pass_job;

/* The i-th query of the pass, in sorted order. */
static inline double query_at(const pass_job *job, size_t i)
{
    if (!job->qv) return job->pl->xs[i];
    return job->qv[job->qorder ? job->qorder[i] : i];
}

/* The dense engine's answer at query q (the model's values as the sums see
 * them: scaled by 2^-y_exp), for a local-linear query whose window must
 * be recentred: an answer that ill-conditioned (a query extrapolating from
 * a cluster: 300 cluster widths at 0.3 bandwidth) hangs on the last bits
 * of the shift, and every engine takes it from the dense sums (estimate.c),
 * so the sweep does too (it differed by 2e-12 where it recentred its own
 * window sums).  Rare, and O(n); *s as direct_query's. */
static void dense_query(const pass_job *job, size_t worker, double q, qsol *s)
{
    double yh[LOO_PMAX];
    nw_estimate est = { .yhat = yh };
    nw_estimate_at(job->dense, &q, NW_NO_SKIP, job->dense_mo[worker], &est);
    memset(s, 0, sizeof *s);
    s->empty = est.empty;
    s->pivot = est.pivot;
    for (size_t c = 0; c < job->pl->p; c++) s->yhat[c] = yh[c];
}

/* Direct sums for query q over its window [j0, j1) (but key skip: see
 * direct_moments), recentred for local linear where the raw design is
 * ill-conditioned (as estimate_dense does); at a query that is not a key
 * (nw_sorted_predict) that recentring is the dense engine's (dense_query). */
static void direct_query(const pass_job *job, size_t worker, double q, size_t skip, size_t j0,
                         size_t j1, qsol *s)
{
    const plan *pl = job->pl;
    qmom m;
    direct_moments(pl, q, skip, j0, j1, 0, &m);
    solve(pl, &m, 0, 0, s);
    if (!pl->linear || s->empty || s->pivot >= LL_RECENTRE_PIVOT) return;
    if (job->qv) {
        dense_query(job, worker, q, s);
        return;
    }
    double shift = m.A[1] / m.A[0];
    direct_moments(pl, q, skip, j0, j1, shift, &m);
    solve(pl, &m, shift, 0, s);
}

/* A prediction at a query that is not a key (nw_sorted_predict): scaled
 * back, written to its place; an empty neighbourhood per the policy. */
static void finish_prediction(const pass_job *job, size_t i, qsol *s, chunk_acc *acc)
{
    const nw_model *model = job->ls->model;
    const size_t p = job->pl->p;
    double *out = job->yhat_out + (size_t) (job->qorder ? job->qorder[i] : i) * p;
    if (s->empty) {
        acc->n_empty += 1;
        if (model->empty == NW_EMPTY_NEAREST) {
            double w = job->pl->w, q = query_at(job, i);
            nw_nearest_value(model, &w, &q, NW_NO_SKIP, out);
        } else {
            for (size_t c = 0; c < p; c++) out[c] = NAN;
        }
        return;
    }
    if (s->bound > acc->bound) acc->bound = s->bound;
    for (size_t c = 0; c < p; c++) out[c] = nw_unscaled(model, c, s->yhat[c]);
}

/* Residuals, loss and gradient of query i from its solution. */
static void finish_query(const pass_job *job, size_t i, qsol *s, chunk_acc *acc)
{
    if (job->qv) {
        finish_prediction(job, i, s, acc);
        return;
    }
    const nw_loo_sorted *ls = job->ls;
    const nw_model *model = ls->model;
    const plan *pl = job->pl;
    const size_t p = pl->p;
    /* the point's own values: the sorted copy's, the same numbers, unless
     * they were scaled (y_exp: model->y_sums); the original index only
     * where needed (a gather from n places) */
    const int need_orig = job->yhat_out || model->y_exp || s->empty;
    const size_t orig = need_orig && ls->order ? ls->order[i] : i;
    const double *yi = model->y_exp ? model->y + orig * p : pl->ys + i * p;
    double *out = job->yhat_out ? job->yhat_out + orig * p : NULL;
    if (!pl->leave_out && !s->empty) acc->trace += s->hii;
    if (s->empty) {
        acc->n_empty += 1;
        if (model->empty == NW_EMPTY_NEAREST) {
            double w = pl->w, yh[LOO_PMAX];
            nw_nearest_value(model, &w, model->x + orig, pl->leave_out ? orig : NW_NO_SKIP, yh);
            for (size_t c = 0; c < p; c++) {
                double r = yi[c] - yh[c];
                acc->loss += 0.5 * r * r;
                if (out) out[c] = yh[c];
            }
        } else {
            acc->loss = INFINITY;
            for (size_t c = 0; c < p && out; c++) out[c] = NAN;
        }
        return;
    }
    for (size_t c = 0; c < p; c++) {
        double yh = nw_unscaled(model, c, s->yhat[c]), dy = nw_unscaled(model, c, s->dyhat[c]);
        double r = yi[c] - yh, e = nw_unscaled(model, c, s->err[c]);
        acc->loss += 0.5 * r * r;
        /* |(r + d)^2 - r^2| <= 2 |r| |d| + d^2 */
        acc->dloss += e * (2 * fabs(r) + e);
        if (pl->grad) acc->grad -= r * dy;
        if (out) out[c] = yh;
    }
}

/* The bounds' moments from the entries of the running sums parts[0..np):
 * M[k] = sum of their sums of t^k (even k: terms >= 0; odd k: the mean of
 * the even neighbours, as |t|^k <= (|t|^(k-1) + |t|^(k+1)) / 2), and
 * N[c][k] the same of their sums of |t|^k |y_c - ybar| (or ym_c M[k],
 * ym the largest |y - ybar|, if smaller).  The factor 1 + 1e-9 covers the
 * rounding of these sums of terms >= 0. */
static void make_absmom(const plan *pl, const double *const *parts, int np, const double *ym,
                        absmom *am)
{
    const size_t t0 = pl->cosine ? pl->it : 0, D = pl->dabs;
    const double up = 1 + 1e-9;
    for (size_t k = 0; k <= D; k += 2) {
        double v = 0;
        for (int q = 0; q < np; q++) v += parts[q][t0 + k];
        am->M[k] = v * up;
    }
    for (size_t k = 1; k < D; k += 2) am->M[k] = 0.5 * (am->M[k - 1] + am->M[k + 1]) * up;
    for (size_t c = 0; c < pl->p; c++) {
        const size_t a = pl->nc + c * pl->ny + pl->ya;
        double *N = am->N[c];
        for (size_t k = 0; k <= D; k += 2) {
            double v = 0;
            for (int q = 0; q < np; q++) v += parts[q][a + k / 2];
            N[k] = v * up;
        }
        for (size_t k = 1; k < D; k += 2) N[k] = 0.5 * (N[k - 1] + N[k + 1]) * up;
        for (size_t k = 0; k <= D; k++) {
            double cap = ym[c] * am->M[k];
            N[k] = N[k] < cap ? N[k] : cap;
        }
    }
}

/* First j in [lo, hi) with pred(j) (false then true), by bisection. */
#define BISECT(lo, hi, PRED, out) do {                                        \
        size_t a_ = (lo), m_ = (hi) - (lo);                                   \
        while (m_ > 0) {                                                      \
            size_t half_ = m_ / 2, j = a_ + half_;                            \
            if (PRED) m_ = half_; else { a_ = j + 1; m_ -= half_ + 1; }       \
        }                                                                     \
        (out) = a_;                                                           \
    } while (0)

/* j0: first key >= x_i or inside; j1: first key > x_i and outside. */
#define PRED0(q, j) (xs[j] >= (q) || inside(kern, ((q) - xs[j]) * w))
#define PRED1(q, j) (xs[j] > (q) && !inside(kern, ((q) - xs[j]) * w))

static void process_group(const pass_job *job, size_t worker, size_t q0, size_t q1, runsum *rs,
                          chunk_acc *acc)
{
    const plan *pl = job->pl;
    const double *xs = pl->xs, w = pl->w;
    const nw_kernel kern = pl->kernel;
    const size_t n = pl->n, p = pl->p, E = pl->E;
    const double xq0 = query_at(job, q0);
    /* the key left out of its own sums: the query itself (leave-one-out;
     * never at other queries: nw_sorted_predict's plan is in-sample) */
    const int own = pl->leave_out;
    size_t j0, m, j1, jq;
    BISECT(0, n, PRED0(xq0, j), j0);
    BISECT(j0, n, xs[j] >= xq0, m);
    BISECT(m, n, PRED1(xq0, j), j1);
    jq = m;
    /* small windows: direct sums cost less than the sweeps */
    const double width = (double) (j1 - j0), G = (double) (q1 - q0);
    const double dcost = G * width * 6;
    const double scost = (2 * width + 3 * G) * (double) (E + 2) +
                         G * 15.0 * (double) (pl->dabs + 2) * (pl->grad ? 2 : 1);
    int direct = pl->all_direct || dcost < scost;
    if (direct) {
        acc->direct += G;
        for (size_t i = q0; i < q1; i++) {
            const double q = query_at(job, i);
            while (j0 < n && !PRED0(q, j0)) j0++;
            while (j1 < n && !PRED1(q, j1)) j1++;
            qsol s;
            direct_query(job, worker, q, own ? i : SIZE_MAX, j0, j1, &s);
            finish_query(job, i, &s, acc);
        }
        return;
    }
    const double gcell = cell_of(pl, xq0), c = cell_centre(pl, gcell);
    /* the values are summed centred at the group's mean (any value is
     * exact: the predictions are ybar + the centred ones) */
    double ybar[LOO_PMAX];
    /* (queries that are not keys: the values of up to 64 keys about the
     * group's first query) */
    const size_t y0 = job->qv ? (m > 32 ? m - 32 : 0) : q0;
    const size_t y1 = job->qv ? (m + 32 < n ? m + 32 : n) : q1;
    for (size_t cc = 0; cc < p; cc++) {
        double sy = 0;
        for (size_t i = y0; i < y1; i++) sy += pl->ys[i * p + cc];
        ybar[cc] = sy / (double) (y1 - y0);
    }
    runsum *TL = rs, *Sa = rs + 1, *Rq = rs + 2, *R1 = rs + 3;
    runsum_start(pl, TL, j0, ybar);
    runsum_to(pl, TL, m, c, gcell);
    double tl[EMAX];
    for (size_t e = 0; e < E; e++) tl[e] = runsum_value(TL, e);
    runsum_start(pl, Sa, j0, ybar);
    runsum_start(pl, Rq, m, ybar);
    runsum_start(pl, R1, m, ybar);
    for (size_t i = q0; i < q1; i++) {
        const double q = query_at(job, i);
        while (j0 < n && !PRED0(q, j0)) j0++;
        while (j1 < n && !PRED1(q, j1)) j1++;
        runsum_to(pl, Sa, j0, c, gcell);
        runsum_to(pl, R1, j1, c, gcell);
        if (pl->split) {
            while (jq < n && xs[jq] < q) jq++;
            runsum_to(pl, Rq, jq, c, gcell);
        }
        /* entries: C0 = S_a - T_L; window = R_1 - C0 (split: R_q - C0, R_1 - R_q) */
        double c0[EMAX], sa[EMAX], r1[EMAX], rq[EMAX], ym[LOO_PMAX];
        for (size_t e = 0; e < E; e++) {
            sa[e] = runsum_value(Sa, e);
            c0[e] = sa[e] - tl[e];
            r1[e] = runsum_value(R1, e);
        }
        for (size_t cc = 0; cc < p; cc++) {
            double a = TL->ymax[cc], b = R1->ymax[cc];
            ym[cc] = a > b ? a : b;
        }
        const double U = (q - c) * w;
        double win[EMAX], right[EMAX], cU = 0, sU = 0;
        if (pl->cosine) {
            /* cos, sin of a U: the key's own values (about its cell, which
             * is the group's: no rotation) */
            base_cos_sin(U, &cU, &sU);
        }
        /* the rounding of each side's sums is bounded by the terms of the
         * running sums its difference reads: [j0, jq) = R_q - (S_a - T_L),
         * [jq, j1) = R_1 - R_q; unsplit [j0, j1) = R_1 - (S_a - T_L) */
        absmom amw, amr;
        if (pl->split) {
            for (size_t e = 0; e < E; e++) {
                rq[e] = runsum_value(Rq, e);
                win[e] = rq[e] - c0[e];
                right[e] = r1[e] - rq[e];
            }
            const double *lw[3] = { tl, sa, rq }, *rw[2] = { r1, rq };
            make_absmom(pl, lw, 3, ym, &amw);
            make_absmom(pl, rw, 2, ym, &amr);
        } else {
            for (size_t e = 0; e < E; e++) win[e] = r1[e] - c0[e];
            const double *lw[3] = { tl, sa, r1 };
            make_absmom(pl, lw, 3, ym, &amw);
        }
        double yi[LOO_PMAX] = { 0 };
        for (size_t cc = 0; cc < p && own; cc++) yi[cc] = pl->ys[i * p + cc] - ybar[cc];
        qmom mo;
        qsol s;
        /* local linear whose bound misses: once more with the slope
         * columns centred at their weighted mean (as the estimator does),
         * from the same window sums */
        double shift = 0;
        int ok = 0;
        for (int attempt = 0; attempt < (pl->linear ? 2 : 1) && !ok; attempt++) {
            qmom_zero(&mo, p);
            if (pl->cosine) {
                add_cosine(pl, win, &amw, U, shift, cU, sU, &mo);
            } else {
                add_side(pl, win, &amw, U, shift, 0, &mo);
                if (pl->split) add_side(pl, right, &amr, U, shift, 1, &mo);
            }
            /* leave the point out: K(0) = 1 at u = 0, slope column -shift
             * (in-sample: the window's sums are the prediction's) */
            if (own) {
                mo.eA[0] += U_ROUND * (fabs(mo.A[0]) + 1);
                mo.A[0] -= 1;
                for (size_t cc = 0; cc < p; cc++) {
                    mo.eB[0][cc] += U_ROUND * (fabs(mo.B[0][cc]) + 2 * fabs(yi[cc]));
                    mo.B[0][cc] -= yi[cc];
                }
            }
            if (own && shift != 0) {
                mo.eA[1] += U_ROUND * (fabs(mo.A[1]) + fabs(shift));
                mo.eA[2] += U_ROUND * (fabs(mo.A[2]) + shift * shift) * 2;
                mo.A[1] += shift;
                mo.A[2] -= shift * shift;
                for (size_t cc = 0; cc < p; cc++) {
                    mo.eB[1][cc] += U_ROUND * (fabs(mo.B[1][cc]) + fabs(shift * yi[cc])) * 3;
                    mo.B[1][cc] += shift * yi[cc];
                }
            }
            solve(pl, &mo, shift, 1, &s);
            uncentre(pl, ybar, job->strict, &s);
            ok = !s.empty && (!pl->linear || s.pivot >= LL_RECENTRE_PIVOT) &&
                 (job->strict ? s.bound <= pl->tol : s.err[0] < INFINITY);
            for (size_t cc = 1; cc < p && ok && !job->strict; cc++) ok = s.err[cc] < INFINITY;
            if (!(mo.A[0] > 0)) break;
            shift = mo.A[1] / mo.A[0];
        }
        if (ok) {
            if (job->strict && s.bound > acc->bound) acc->bound = s.bound;
        } else {
            acc->fallbacks += 1;
            direct_query(job, worker, q, own ? i : SIZE_MAX, j0, j1, &s);
        }
        finish_query(job, i, &s, acc);
    }
}

static void process_chunk(const pass_job *job, size_t worker, size_t i0, size_t i1, runsum *rs,
                          chunk_acc *acc)
{
    const plan *pl = job->pl;
    size_t q0 = i0;
    while (q0 < i1) {
        size_t q1 = i1;
        if (!pl->all_direct) {
            /* the group: the run of queries in q0's cell (cells grow with
             * the sorted queries); galloping, as a group can hold most */
            const double cell = cell_of(pl, query_at(job, q0));
            size_t lo = q0 + 1, hi, step = 1;
            for (;;) {
                hi = lo + step;
                if (hi >= i1) { hi = i1; break; }
                if (cell_of(pl, query_at(job, hi - 1)) != cell) break;
                lo = hi;
                step *= 2;
            }
            BISECT(lo, hi, cell_of(pl, query_at(job, j)) != cell, q1);
        }
        process_group(job, worker, q0, q1, rs, acc);
        q0 = q1;
    }
}

/* One sweep over all chunks into acc[0..nb), as team jobs (team.h: the
 * caller never waits for a thread that took no work, where an OpenMP
 * region's barrier would wait a scheduling quantum on a loaded machine,
 * once per criterion evaluation): the chunks, each worker with its own
 * running sums; progress from the caller's thread. */
typedef struct sweep_job {
    const nw_loo_sorted *ls;
    const plan *pl;
    const pass_job *job;
    const size_t *cut;
    size_t nb;
    chunk_acc *acc;
    nw_progress_fn progress;
    atomic_size_t chunks_done;
    atomic_int stopped;
} sweep_job;

static void sweep_chunk(void *ctx, int worker, void *scratch, size_t b)
{
    (void) scratch;
    sweep_job *sj = ctx;
    const nw_loo_sorted *ls = sj->ls;
    if (atomic_load_explicit(&sj->stopped, memory_order_relaxed)) return;
    runsum *rs = (runsum *) (ls->scratch + (size_t) worker * ls->scratch_stride);
    process_chunk(sj->job, (size_t) worker, sj->cut[b], sj->cut[b + 1], rs, &sj->acc[b]);
    size_t done = atomic_fetch_add_explicit(&sj->chunks_done, 1, memory_order_relaxed) + 1;
    if (sj->progress && worker == 0 &&
        sj->progress((double) done, (double) sj->nb, ls->model->progress_ctx))
        atomic_store_explicit(&sj->stopped, 1, memory_order_relaxed);
}

static nw_status run_chunks(const nw_loo_sorted *ls, const plan *pl, const pass_job *job,
                            const size_t *cut, size_t nb, int report, chunk_acc *acc)
{
    const nw_model *model = ls->model;
    const size_t n = ls->n;
    memset(acc, 0, nb * sizeof *acc);
    int threads = nw_threads(model, n * 64);
    if (threads > ls->threads) threads = ls->threads;
    sweep_job sj = { .ls = ls, .pl = pl, .job = job, .cut = cut, .nb = nb, .acc = acc,
                     .progress = report ? model->progress : NULL };
    atomic_init(&sj.chunks_done, 0);
    atomic_init(&sj.stopped, 0);
    nw_team_job chunks = { .items = nb, .ctx = &sj, .run = sweep_chunk };
    nw_status st = nw_team_run(&chunks, threads);
    if (st) return st;
    return atomic_load(&sj.stopped) ? NW_ERR_STOPPED : NW_OK;
}

/* The chunks of the sorted queries: cut[b] at the start of the cell of
 * query n b / nb (no cell split between chunks). */
static void make_cuts(const pass_job *job, size_t nb, size_t *cut)
{
    const plan *pl = job->pl;
    const size_t n = job->qv ? job->nq : pl->n;
    cut[nb] = n;
    for (size_t b = 0; b < nb; b++) {
        size_t k = n * b / nb;
        cut[b] = k;
        if (!pl->all_direct && k > 0) {
            const double cell = cell_of(pl, query_at(job, k));
            BISECT(0, k, cell_of(pl, query_at(job, j)) == cell, cut[b]);
        }
    }
}

nw_status nw_loo_sorted_pass(nw_loo_sorted *ls, double w, int leave_out, int want_grad,
                             int report, double *yhat_out, nw_pass_result *res)
{
    if (!ls || !res) return NW_ERR_ARG;
    if (!isfinite(w) || !(w > 0)) return NW_ERR_BANDWIDTH;
    const size_t n = ls->n;
    plan pl;
    make_plan(ls, w, leave_out, want_grad, yhat_out != NULL, &pl);
    const size_t nb = n < PASS_CHUNKS ? n : PASS_CHUNKS;
    /* chunk b: keys [cut[b], cut[b + 1]), cut at the start of the cell of
     * key n b / nb, so that no cell is split (a group's sweeps cost its
     * window's width however few queries it has) */
    size_t cut[PASS_CHUNKS + 1];
    pass_job job = { .ls = ls, .pl = &pl, .yhat_out = yhat_out, .strict = yhat_out != NULL };
    make_cuts(&job, nb, cut);
    /* Predictions asked for: each certified to the tolerance.  The loss
     * only: each prediction's absolute bound d_i counts in a bound on the
     * loss, sum_i (2 |r_i| d_i + d_i^2) >= |error of 2 loss|, which must
     * stay within tol * 2 loss (else the pass is redone once with cells of
     * half the width, then certifying every prediction): predictions near
     * 0 need no exact sums then. */
    chunk_acc acc[PASS_CHUNKS];
    double loss = 0, dloss = 0;
    int halved = 0;
    for (;;) {
        nw_status st = run_chunks(ls, &pl, &job, cut, nb, report, acc);
        if (st) return st;
        loss = 0;
        dloss = 0;
        for (size_t b = 0; b < nb; b++) {
            loss += acc[b].loss;
            dloss += acc[b].dloss;
        }
        if (job.strict || !(loss < INFINITY) || dloss <= pl.tol * 2 * loss) break;
        if (!halved && !pl.all_direct) {
            halved = 1;
            set_cells(ls, &pl, 0.5 * pl.delta);
            make_cuts(&job, nb, cut);
            continue;
        }
        job.strict = 1;
    }
    double *grad = res->grad;
    memset(res, 0, sizeof *res);
    res->grad = grad;
    res->loss = loss;
    if (want_grad) grad[0] = 0;
    for (size_t b = 0; b < nb; b++) {
        res->trace += acc[b].trace;
        res->n_empty += (size_t) acc[b].n_empty;
        res->fallbacks += (size_t) acc[b].fallbacks;
        res->direct += (size_t) acc[b].direct;
        if (acc[b].bound > res->bound) res->bound = acc[b].bound;
        if (want_grad) grad[0] += acc[b].grad;
    }
    if (!job.strict) res->bound = loss > 0 ? dloss / (2 * loss) : 0;
    return NW_OK;
}

/* ------------------------------------------- predictions at other queries */

/* The order of m queries by value (nw_sort_order; NULL if they come
 * sorted): 4 bytes a query, no copy of q.  NW_ERR_NOMEM. */
static nw_status sort_queries(const double *q, size_t m, uint32_t **out)
{
    *out = NULL;
    size_t run = 1;
    while (run < m && q[run - 1] <= q[run]) run++;
    if (run >= m) return NW_OK;
    uint32_t *ord = m <= UINT32_MAX ? malloc(m * sizeof *ord) : NULL;
    nw_status st = ord ? nw_sort_order(q, m, ord) : NW_ERR_NOMEM;
    if (st) free(ord);
    else *out = ord;
    return st;
}

nw_status nw_sorted_predict(const nw_model *model, const double *q, size_t m, double *yhat,
                            nw_pass_result *res)
{
    if (!model || !res || (m > 0 && (!q || !yhat))) return NW_ERR_ARG;
    memset(res, 0, sizeof *res);
    if (m == 0) return NW_OK;
    double w;
    nw_status st = nw_scales(model, NULL, &w);
    if (st) return st;
    if (!(w > 0)) return NW_ERR_ARG;
    nw_loo_sorted *ls = NULL;
    uint32_t *qorder = NULL;
    if ((st = nw_loo_sorted_new(model, &ls))) return st;
    /* the keys' original places serve the passes at the keys only */
    free(ls->order);
    ls->order = NULL;
    if ((st = sort_queries(q, m, &qorder))) {
        nw_loo_sorted_free(ls);
        return st;
    }
    plan pl;
    make_plan(ls, w, 0, 0, 1, &pl);
    /* local linear: the dense engine for the windows to recentre, with
     * each worker's moments (dense_query) */
    nw_problem pb;
    nw_problem_init(&pb, model, &w, 0);
    nw_engine *dense = NULL;
    nw_moments **dmo = NULL;
    if (pl.linear) {
        if (!(dmo = calloc((size_t) ls->threads, sizeof *dmo)) ||
            (st = nw_engine_new(&pb, NW_ENGINE_DENSE, model->tolerance, 1, &dense)))
            st = st ? st : NW_ERR_NOMEM;
        for (int t = 0; st == NW_OK && t < ls->threads; t++) st = nw_moments_new(&pb, &dmo[t]);
    }
    const size_t nb = m < PASS_CHUNKS ? m : PASS_CHUNKS;
    size_t cut[PASS_CHUNKS + 1];
    pass_job job = { .ls = ls, .pl = &pl, .yhat_out = yhat, .strict = 1,
                     .qv = q, .qorder = qorder, .nq = m, .dense = dense, .dense_mo = dmo };
    make_cuts(&job, nb, cut);
    chunk_acc acc[PASS_CHUNKS];
    if (st == NW_OK) st = run_chunks(ls, &pl, &job, cut, nb, 1, acc);
    for (size_t b = 0; st == NW_OK && b < nb; b++) {
        res->n_empty += (size_t) acc[b].n_empty;
        res->fallbacks += (size_t) acc[b].fallbacks;
        res->direct += (size_t) acc[b].direct;
        if (acc[b].bound > res->bound) res->bound = acc[b].bound;
    }
    for (int t = 0; dmo && t < ls->threads; t++) nw_moments_free(dmo[t]);
    free(dmo);
    nw_engine_free(dense);
    free(qorder);
    nw_loo_sorted_free(ls);
    return st;
}
