/*
 * engine_fgt2.c: the fast Gauss transform for d = 2 and the Gaussian
 * kernel, with a certified error (NW_ENGINE_FGT when pb->d == 2; the 1-d
 * transform is engine_fgt.c, whose proof this one extends).
 *
 * ---------------------------------------------------------------- grid
 * Per input k the scale is w_k (its sign only flips odd powers of u_k, and
 * is applied at the end); boxes have side wbox_k = 2^-e_k in x, the power
 * of two with beta_k = wbox_k |w_k| in [1/2, 1) (the fine grid), or twice
 * that, beta_k in [1, 2) (the coarse grid, which the local mode takes at
 * loose tolerances where it is cheaper: nw_fgt2_plan_for): box i covers
 * [(k0 + i) wbox, (k0 + i + 1) wbox) and has centre (k0 + i + 1/2) wbox,
 * exactly representable, so the offset of two centres is exactly
 * delta wbox (delta an integer) and in scaled units exactly delta beta.
 * For a key x in box S, a query q in box T and rho_k = beta_k / 2:
 *
 *     u_k = (q_k - x_k) |w_k| = tau_k + s_k + v_k,   tau_k = delta_k beta_k,
 *     s_k = (q_k - c_Tk) |w_k|,  v_k = (c_Sk - x_k) |w_k|,  |s_k|, |v_k| <= rho_k.
 *
 * Every moment is a sum over keys of f g_a0(u_0) g_a1(u_1), g_a(u) =
 * u^a e^{-u^2/2}, f = 1 or y_c (the product kernel factorises), with
 * a0 + a1 <= 2 for local linear (4 with the gradient, whose rho = -u_k^2).
 *
 * ------------------------------------------------- truncation (the proof)
 * One dimension (as in engine_fgt.c): g_a is entire, so
 *     g_a(tau + s + v) = sum_j g_a^(j)(tau) (s + v)^j / j!
 *                      = sum_{k,l} g_a^(k+l)(tau) s^l v^k / (l! k!).
 * Keeping k + l < P leaves the terms j >= P; by Cramer's inequality
 * |He_j(t)| e^{-t^2/4} <= K sqrt(j!), K = 1.086435, through Leibniz's rule
 *     |g_a^(j)(tau)| <= K e^{-tau^2/4} B_a(j, tau),
 *     B_a(j, tau) = sum_{i <= min(a,j)} C(j,i) a!/(a-i)! |tau|^(a-i) sqrt((j-i)!),
 * and |s + v| <= 2 rho = beta, the remainder per key is at most
 *     e_a(tau) = K e^{-tau^2/4} sum_{j >= P} B_a(j, tau) beta^j / j!.
 * Two dimensions: with T_k the kept part and g_k = g_ak(u_k),
 *     |g_0 g_1 - T_0 T_1| = |g_0 (g_1 - T_1) + (g_0 - T_0) T_1|
 *                         <= G_0 e_1 + e_0 (G_1 + e_1),
 * G_k = max |g_ak| over the box pair's range = (|tau_k| + beta_k)^a
 * e^{-max(|tau_k| - beta_k, 0)^2 / 2} (|T_1| <= |g_1| + e_1).  Summed over a
 * box's keys this is times sum |f|.  The same argument with one Taylor
 * series (v only, |v| <= rho, Lagrange's remainder: rho^P/P! max |g_a^(P)|,
 * Cramer at the nearest point) bounds the per-query expansions.
 *
 * Two modes, the cheaper for the number of queries expected:
 *  - local (build_local): for every target box T the coefficients of
 *        sum_S sum_{k+l<P per dim} prod_k g^(k_k+l_k)(tau_k)/l_k! M_S[k] s^l,
 *        M_S[k0,k1][f] = sum_{x in S} f v0^k0 v1^k1 / (k0! k1!),
 *    over the source boxes S within R boxes in each input (a square).  The
 *    translation is separable: first along input 0 (every target column,
 *    every source row), then along input 1, so a target costs 2 (2R + 1)
 *    one-dimensional translations instead of (2R + 1)^2 two-dimensional
 *    ones.  A query is then one P x P polynomial per sum.
 *    Two savings, exact in the algebra: the offsets +delta and -delta go
 *    through one translation (their tables differ only in signs, fold_pair:
 *    ~R + 1 translations per input instead of 2R + 1), and a far offset
 *    keeps fewer terms, P_k(delta_k) <= P per input: the omitted orders are
 *    then j >= P_k(delta_k) (the kept set of a box pair is still a product
 *    over the inputs, so the two-dimensional argument above holds with e_k
 *    taken at P_k(delta_k)); P_k(delta) is the fewest terms whose e_a is at
 *    most a quarter of e_a(0) with P (dim_tables_fill: the far boxes' share
 *    of the bound stays below the near ones').
 *  - per query (perquery): the boxes within a square around the query,
 *    each expanded (sum_k prod g^(k_k)(tau_k) M[k]) where that is cheaper,
 *    else summed directly, everything farther pruned.
 *
 * ---------------------------------------------------------------- pruning
 * A key in a box outside the square of boxes within R of the query's box
 * (in input k) has |u_k| >= R beta_k >= 2 >= sqrt(a) where |u|^a e^{-u^2/2}
 * decreases, and |u|^a e^{-u^2/2} <= (a/e)^(a/2) in the other input, so the
 * keys outside add at most count_out max_k (R beta_k)^a_k e^{-(R beta_k)^2/2}
 * (a/e)^(a_other/2), counts from a summed-area table (sum |y_c| likewise).
 *
 * ---------------------------------------------------------------- rounding
 * With unit roundoff u, a sum of terms each passing through at most D
 * roundings (additions along its path in the summation tree, and the
 * multiplications that made it) errs by at most 1.01 D u sum |term|
 * (Higham, ch. 3).  The loops are ordered so that the large terms pass
 * through few roundings: the Taylor chains run from high order to low, the
 * box offsets from far to near, and a box's moments are summed in chunks of
 * 16 keys merged pairwise (depth dbox <= 16 + 2 log2(chunks) + 1).  A term
 * of order (k, l) from offset delta passes through at most
 *     dbox + 14 + 2 (|delta_0| + |delta_1|) + 4 (j_0 + j_1),   j_k = k_k + l_k,
 * roundings (moments: dbox + 3 (k_0 + k_1) + 2; tables and products 4; the
 * two translations (k_k + 1) + (2 |delta_k| + 1) each; evaluation at the
 * query, Horner in s_0 then s_1, 2 (l_0 + l_1) + 2; with the offsets +-d
 * folded in pairs added from far to near, d = R..0, a term from +-d passes
 * the fold's rounding and the additions of pairs d..0, d + 2 <= 2 d + 1
 * roundings for d >= 1 (1 for d = 0), within the count), so the bound is per
 * source box
 *     1.01 u sum|f| [(dbox + 14 + 2|delta|_1) Ga_0 Ga_1 + 4 (Ga'_0 Ga_1 + Ga_0 Ga'_1)],
 * Ga = sum_j |g_a^(j)(tau)| beta^j/j!, Ga' = sum_j j |g_a^(j)(tau)| beta^j/j!
 * (|M[k]| <= sum|f| rho^(k0+k1)/(k0! k1!), |s^l| <= rho^l).  The tables
 * g^(j)(tau) are computed in long double: the Hermite recurrence's error
 * there is below j 2^-63 times Cramer's envelope Env, charged as u/8 Env.
 * The decomposition u = tau + s + v is exact but s and v are computed with
 * relative error 2u, which moves a term by at most 2u beta_k max|g_a'|
 * per input (charged too).  Direct sums are accumulated in long double,
 * each term charged its own rounding (the exponent's, about
 * u (|arg| + |logscale| + 3|u|^2), and the powers').
 *
 * Leave-one-out subtracts the key's own term (computed as the dense
 * engine does, its rounding charged); the absolute bounds stay valid, and
 * the estimator's relative check catches the cancellation where the key
 * dominated its sum (then the exact mode, which skips the key, runs).
 *
 * Scale: the local mode keeps logscale = 0 (targets need data within one
 * box, so every sum is at least e^{-2 (beta_0^2 + beta_1^2)}); the per-query
 * mode takes -dn^2/2 for the nearest box with a key, or, far from the data,
 * the largest log-weight itself.
 *
 * Gradient moments (rho_k = -u_k^2) come from the same monomial sums, with
 * the shift of the exact mode undone: u_k^2 = (uc_k + sh_k)^2.
 *
 * The local mode's bound, the per-box bound above summed over the square,
 * is a sum of products of one-input factors, and is summed separably as
 * the translations are (build_local).
 *
 * Cost (measured, mode_costs): the local mode's translations (per target
 * and stage-1 block or sum, ~R + 1 translations of P (P + 1) / 2 x W
 * multiply-adds per input), ~nf P PP / 10 a query and ~P PP (1 + p) / 3 a
 * key; the per-query mode ~boxes within the pruning radius x (10 + 66 a key
 * summed directly, or ~1500 a box expanded) a query.  Memory: the local
 * mode keeps per box sums x P x PP doubles (the polynomials; PP = 32 or
 * 20, below) and per filled box (1 + p) P x PP (the moments); the stage-1
 * blocks of a band of target columns (~4 MiB) per thread while it
 * translates.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* lgamma_r */
#endif
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "team.h"

/* Two builds of this file: rows of 32 doubles (this one, FGT2_WIDE: it
 * also makes the plans), and rows of 20 (engine_fgt2_narrow.c, FGT2_PP =
 * 20: every function again, its entry point nw_fgt2_init_narrow) for the
 * local mode with P <= 20 -- looser tolerances, f32 -- where the padding
 * would be a third of the local mode's memory and work.  The columns past
 * P are zero in both, and every loop visits the same nonzero terms in the
 * same order, so the two give the same bits (test_narrow_rows_same_bits). */
#ifndef FGT2_PP
#define FGT2_PP 32
#define FGT2_WIDE 1
#endif
#define PP FGT2_PP                      /* rows padded to PP doubles */
#define P_MAX PP                        /* Taylor terms per input, at most */
#define P_FINE 30                       /* at most on the fine grid (nw_fgt2_plan_for) */
#define AMAX 4             /* largest power of u_k any moment needs */
#define NMONO 15           /* monomials u0^a0 u1^a1 with a0 + a1 <= 4 */
#define R_MIN 4            /* R beta >= 2 */
#define R_MAX 24           /* local mode: source boxes within R_MAX per input */
#define LOCAL_TAIL 0x1p-52 /* local mode: remainder factor of the terms kept (local_terms) */
#define ERR_TERMS 7       /* one-input products in the local mode's per-box bound */
#define CHUNK 16           /* keys summed before the pairwise merge */
#define LEVELS 48
#define DIRECT_KEYS 32     /* per-query mode: smaller boxes are summed directly */
#define CRAMER_K 1.086435
#define MIN_EXP_ARG (-700.0)
#define UNIT 0x1p-53
#define BUDGET_FRAC (1.0 / 64)   /* share of the tolerance the moments may use */

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(__SANITIZE_THREAD__) && !defined(NW_COVERAGE)
#define NW_TARGET_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NW_TARGET_CLONES
#endif

static double lgamma_nosign(double x)
{
    int sign;
    return lgamma_r(x, &sign);
}

typedef struct fgt2_state {
    size_t nbk[2], nb;          /* boxes per input, in all */
    double wbox[2], beta[2], w[2], k0[2];
    int sgn[2];                 /* sign of w_k */
    size_t *start;              /* nb + 1 offsets into the bucketed keys */
    const double *xs, *ys;      /* keys (n x 2) and values (n x p) in box order */
    uint32_t *pos;              /* bucketed place of each original key (n < 2^32) */
    int in_place;               /* xs, ys are the problem's own (keys already in
                                   box order: nw_fgt2_arrange), pos NULL (= i) */
    double *absy;               /* nb x p: sum |y_c| */
    double *sat;                /* (nb0+1)(nb1+1) x (1+p): count, sum |y_c| over [0,i0) x [0,i1) */
    size_t *nonempty, n_nonempty;
    size_t *slot;               /* box -> moment slot (SIZE_MAX: none) */
    double *mom;                /* per slot: ns x P_MAX x PP */
    size_t P;                   /* Taylor terms per input */
    double dbox;                /* summation depth of the moments */
    size_t p, ns, n1, ny, nf;   /* outputs; moment sets 1 + p; sums per set; all sums */
    int ex1[NMONO][2], exy[NMONO][2];
    int id1[AMAX + 1][AMAX + 1], idy[AMAX + 1][AMAX + 1];
    double cmax[AMAX + 1];      /* max_u |u|^a e^{-u^2/2} = (a/e)^(a/2) */
    /* per-query truncation constants: rho_k^P/P! C(P,i) a!/(a-i)! sqrt((P-i)!) */
    double ctr[2][P_MAX + 1][AMAX + 1][AMAX + 1];
    double hpow[2][P_MAX + 1];  /* rho_k^j / j! */
    /* local mode */
    int local;
    int R;
    double *loc;                /* nb x nf x P x PP: rows l0, columns l1 */
    double *loc_err;            /* nb x nf */
    unsigned char *loc_ok;
    /* streamed (built a column of targets at a time, engine.h's regions):
     * loc holds a group of columns, loc_col[T0] the place of column T0's
     * nb1 x nf x P x PP coefficients in it (NULL: not built), stream the
     * build's kept tables */
    double **loc_col;
    struct fgt2_stream *stream;
} fgt2_state;

static void stream_free(struct fgt2_stream *st);

/* ------------------------------------------------------------ setup */

static int mono_list(int maxdeg, int list[][2])
{
    int n = 0;
    for (int deg = 0; deg <= maxdeg; deg++)
        for (int a0 = deg; a0 >= 0; a0--) {
            list[n][0] = a0;
            list[n][1] = deg - a0;
            n++;
        }
    return n;
}

/* The monomials each set of sums needs (see the header). */
static void sums_needed(const nw_problem *pb, fgt2_state *s)
{
    if (pb->linear) {
        s->n1 = (size_t) mono_list(pb->grad ? 4 : 2, s->ex1);
        s->ny = (size_t) mono_list(pb->grad ? 3 : 1, s->exy);
    } else {
        int g = pb->grad;
        s->ex1[0][0] = s->ex1[0][1] = 0;
        s->exy[0][0] = s->exy[0][1] = 0;
        if (g) {
            s->ex1[1][0] = 2; s->ex1[1][1] = 0; s->ex1[2][0] = 0; s->ex1[2][1] = 2;
            memcpy(s->exy, s->ex1, sizeof s->exy);
        }
        s->n1 = s->ny = g ? 3 : 1;
    }
    s->p = pb->p;
    s->ns = 1 + pb->p;
    s->nf = s->n1 + pb->p * s->ny;
    for (int a = 0; a <= AMAX; a++)
        for (int b = 0; b <= AMAX; b++) s->id1[a][b] = s->idy[a][b] = -1;
    for (size_t i = 0; i < s->n1; i++) s->id1[s->ex1[i][0]][s->ex1[i][1]] = (int) i;
    for (size_t i = 0; i < s->ny; i++) s->idy[s->exy[i][0]][s->exy[i][1]] = (int) i;
}

static int amax_of(const fgt2_state *s)
{
    int m = 0;
    for (size_t i = 0; i < s->n1; i++) m = s->ex1[i][0] > m ? s->ex1[i][0] : m;
    return m;
}

/* The stage-1 blocks per box of the local mode (build_local): (set, a0)
 * for the powers a0 of input 0 each set needs, set 0 first (*npair1
 * blocks, a0_1), then every y set (*npairy each, a0_y); pos1[a], posy[a]:
 * the place of power a among them, -1 if none.  Returns the blocks per
 * box, *npair1 + *npairy p. */
static size_t stage1_layout(const fgt2_state *s, int a0_1[AMAX + 1], int pos1[AMAX + 1], size_t *npair1,
                            int a0_y[AMAX + 1], int posy[AMAX + 1], size_t *npairy)
{
    *npair1 = *npairy = 0;
    for (int a = 0; a <= AMAX; a++) {
        pos1[a] = posy[a] = -1;
        for (size_t i = 0; i < s->n1; i++)
            if (s->ex1[i][0] == a) { pos1[a] = (int) *npair1; a0_1[(*npair1)++] = a; break; }
        for (size_t i = 0; i < s->ny; i++)
            if (s->exy[i][0] == a) { posy[a] = (int) *npairy; a0_y[(*npairy)++] = a; break; }
    }
    return *npair1 + *npairy * s->p;
}

static size_t stage1_count(const fgt2_state *s)
{
    int a0_1[AMAX + 1], a0_y[AMAX + 1], pos1[AMAX + 1], posy[AMAX + 1];
    size_t npair1, npairy;
    return stage1_layout(s, a0_1, pos1, &npair1, a0_y, posy, &npairy);
}

/* Target columns of a band of build_local's stage 1 (engine.h's threads;
 * nst stage-1 blocks of P x rows doubles per box; streamed: one): a band's
 * blocks take at most ~4 MiB, a column's at least, and there are at least
 * ~8 bands a thread (the bands near the edges have less to do, and a
 * helper that starts late still finds its share: team.h). */
static size_t band_width(int threads, const size_t nbk[2], size_t nst, size_t P, size_t rows, int streamed)
{
    double col = (double) nbk[1] * (double) (nst * P * rows) * sizeof(double);
    double nband = floor(0x1p22 / col), nband_par = ceil((double) nbk[0] / (8.0 * threads));
    nband = fmin(fmin(nband, nband_par), 16);
    return nband < 1 || streamed ? 1 : (size_t) nband;
}

/* Bytes of the stage-1 blocks the local mode's build holds at once, a band
 * a thread (a bound for the streamed build too, whose bands are single
 * columns): at h = 13 and 0.0034 on [0, 5]^2, one column of 2900 boxes,
 * 34 MB, beside 34 MB of moments and as much of coefficients. */
static double stage1_bytes(int threads, const size_t nbk[2], size_t nst, size_t P, size_t rows)
{
    const size_t nband = band_width(threads, nbk, nst, P, rows, 0);
    const double bands = ceil((double) nbk[0] / (double) nband);
    return fmin((double) threads, bands) * (double) nband * (double) nbk[1] * (double) (nst * P * rows) *
           sizeof(double);
}

/* Columns of local coefficients held at once: all nbk[0], or, streamed
 * (the local mode's coefficients, nb nf P rows doubles, do not depend on
 * n: at h = 0.3 on [0, 5]^2, 400 boxes, 27 MB for local linear; at h = 0.1,
 * 6400 boxes, 454 MB, against 4.8 MB of arrays at n = m = 1e5)
 * (pb->regions, where all would pass an eighth of nw_memory_budget, or
 * what nw_memory_enable leaves beside other_bytes, the moments' and the
 * stage-1 blocks', where that is less), as many as that holds, at least
 * one per thread.  Each column is built once however
 * they are grouped, so small groups cost no time: an eighth rather than
 * half took 2-d ll at n = m = 1e6, h = 0.3 from 74 to 66 MB in 11.1 s
 * against 10.9 (medians of 3), and n = 1e6 onto 1e4 from 44 to 39 MB.
 * (Half the budget whatever the moments took sent n = m = 1e5, h = 0.25,
 * moments of 12 MB, past the budget, where two columns, 0.8 MB, fit.) */
static size_t local_group(const nw_problem *pb, size_t m, const size_t nbk[2], size_t nf,
                          size_t P, size_t rows, double other_bytes)
{
    double col = (double) nbk[1] * (double) (nf * P * rows) * 8;
    double left = fmin(0.125 * nw_memory_budget(pb, m), nw_memory_enable(pb, m) - other_bytes);
    if (!pb->regions || col * (double) nbk[0] <= left) return nbk[0];
    double g = fmax(floor(left / col), (double) nw_pb_threads(pb));
    return g < (double) nbk[0] ? (size_t) g : nbk[0];
}

/* The grid of pb (per input: wbox, beta, first box k0, boxes); 0 if none.
 * coarse: boxes twice as wide, beta in [1, 2) (nw_fgt2_plan_for). */
static int grid_of(const nw_problem *pb, int coarse, double wbox[2], double beta[2], double k0[2],
                   double nbk[2])
{
    if (pb->n == 0) return 0;
    for (size_t k = 0; k < 2; k++) {
        double lo = INFINITY, hi = -INFINITY;
        /* (not fmin/fmax: without -ffinite-math-only those are calls, and
         * this runs a few times per engine choice; the keys are finite) */
        for (size_t j = 0; j < pb->n; j++) {
            const double v = pb->x[j * 2 + k];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        double w = fabs(pb->w[k]);
        int e;
        double f = frexp(w, &e);          /* w = f 2^e, f in [1/2, 1) */
        if (!isfinite(w) || w == 0) return 0;
        wbox[k] = ldexp(1.0, coarse - e);
        beta[k] = coarse ? 2 * f : f;
        if (!isfinite(wbox[k]) || wbox[k] == 0) return 0;
        double a = floor(lo / wbox[k]), b = floor(hi / wbox[k]);
        if (!(fabs(a) < 0x1p50 && fabs(b) < 0x1p50)) return 0;
        k0[k] = a;
        nbk[k] = b - a + 1;
    }
    return 1;
}

#ifdef FGT2_WIDE   /* the plan: made by the wide build only */

/* The truncation targets below are set for the default tolerance 1e-12;
 * a looser tol (f32 predictions, engine.c, or the user's) allows remainders
 * tol / 1e-12 times larger (the bounds count whatever is kept, and every
 * query is still certified); a tighter one keeps them. */
static double tail_scale(double tol)
{
    return tol > 1e-12 ? tol / 1e-12 : 1;
}

/* Terms per input: the fewest P (even, <= P_FINE) whose remainder factor
 * K sum_{j>=P} B_4(j, 1) beta^j/j! is below 2^-62 (times tail_scale). */
static size_t terms_for(double beta, double tol)
{
    double lgf[P_FINE + 60], lb = log(beta);   /* log j! */
    for (size_t j = 0; j < P_FINE + 60; j++) lgf[j] = lgamma_nosign((double) j + 1);
    for (size_t P = 12; P < P_FINE; P += 2) {
        double t = 0;
        for (size_t j = P; j < P + 60; j++)
            for (size_t i = 0; i <= AMAX; i++)
                t += exp(lgf[j] - lgf[i] - lgf[j - i] + lgf[AMAX] - lgf[AMAX - i] + 0.5 * lgf[j - i] - lgf[j] +
                         (double) j * lb);
        if (CRAMER_K * t < 0x1p-62 * tail_scale(tol)) return P;
    }
    return P_FINE;
}

/* Terms per input of the local mode: the fewest P (< cap, else cap)
 * whose remainder factor K sum_{j>=P} B_amax(j, 1) beta^j/j!, for the
 * largest power amax the sums need, is below LOCAL_TAIL (times
 * tail_scale).  A per-key truncation of
 * that size, summed over the square (far offsets keep theirs below a
 * quarter of it, dim_tables_fill), stays well under the rounding the
 * bound charges anyway (~(dbox + 14) u a key); the bound is computed for
 * the terms kept, whatever they are. */
static size_t local_terms(double beta, int amax, double tol, size_t cap)
{
    double lgf[P_MAX + 61], lb = log(beta);   /* log j!; cap <= P_MAX + 1 */
    for (size_t j = 0; j < cap + 60; j++) lgf[j] = lgamma_nosign((double) j + 1);
    for (size_t P = 12; P < cap; P++) {
        /* B_amax(j, 1) beta^j / j! = sum_i C(j,i) amax!/(amax-i)! sqrt((j-i)!) beta^j / j! */
        double t = 0;
        for (size_t j = P; j < P + 60; j++)
            for (int i = 0; i <= amax; i++)
                t += exp(lgf[amax] - lgf[i] - lgf[amax - i] - 0.5 * lgf[j - (size_t) i] + (double) j * lb);
        if (CRAMER_K * t < LOCAL_TAIL * tail_scale(tol)) return P;
    }
    return cap;
}

/* Source boxes gathered per input by the local mode: the smallest R with
 * n R^amax e^{-(R beta)^2/2} (1 + cmax) below BUDGET tol/4 e^{-(beta0^2 +
 * beta1^2)/2} (a target whose own box holds one key), 0 if over R_MAX.
 * Targets with less data nearby are checked one by one (loc_ok). */
static int reach_for(double n, const double beta[2], double tol, int amax)
{
    double bmin = fmin(beta[0], beta[1]);
    double floor_a = exp(-0.5 * (beta[0] * beta[0] + beta[1] * beta[1]));
    for (int R = R_MIN; R <= R_MAX; R++) {
        double g = R * bmin;
        if (n * pow(g, amax) * 3 * exp(-0.5 * g * g) <= tol * BUDGET_FRAC / 4 * floor_a) return R;
    }
    return 0;
}

/* ------------------------------------------------------------ cost */

/* Translations a target takes per input in the local mode: one for each
 * offset pair +-d (d = 0..R) with a box of the grid (nbk boxes) on either
 * side, averaged over the targets. */
static double pair_calls(double nbk, int R)
{
    if (!(nbk <= 4096)) return R + 1;
    double sum = 0;
    for (double T = 0; T < nbk; T++) sum += fmin(R, fmax(T, nbk - 1 - T)) + 1;
    return sum / nbk;
}

/* The plan for pb and about m queries at tolerance tol (engine.h's
 * nw_fgt2_plan): the cheapest of the per-query mode (on the fine grid) and
 * the local mode on the fine grid or the coarse one, by the estimated
 * work in dense kernel evaluations (measured, see the constants); cost
 * INFINITY where none applies.  The coarse grid (boxes twice as wide,
 * beta in [1, 2)) needs more terms for the same remainder but has a
 * quarter of the boxes and half the reach: it is a candidate only where
 * its terms reach local_terms' target within the rows (P <= 32; loose
 * tolerances, lc: f32's 1e-6 at beta ~1.7 takes 31, where the fine grid
 * takes 19), so its bounds are as tight, relative to the target, as the
 * fine grid's; the local mode then runs in the build whose rows fit P. */
void nw_fgt2_plan_for(const nw_problem *pb, size_t m, double tol, nw_fgt2_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    plan->cost = INFINITY;
    double wbox[2], beta[2], k0[2], nbk[2];
    /* (keys' places are 32-bit: pos) */
    if (pb->d != 2 || pb->kernel != NW_KERNEL_GAUSSIAN || pb->n >= UINT32_MAX ||
        !grid_of(pb, 0, wbox, beta, k0, nbk))
        return;
    double nb = nbk[0] * nbk[1], n = (double) pb->n;
    /* the grid's own arrays (offsets, slots, summed-area table) cost ~40
     * bytes a box: at most ~4 boxes a key, or 2^20 boxes */
    if (!(nb <= 4 * n + 0x1p20)) return;
    fgt2_state tmp;
    sums_needed(pb, &tmp);
    const int amax = amax_of(&tmp);
    double nf = (double) tmp.nf, ns = (double) tmp.ns;
    double P = (double) terms_for(fmax(beta[0], beta[1]), tol);
    /* Constants measured (one thread, CPU time, n = m = 1e3..1e5, h =
     * 0.03..1 on [0,5]^2) in units of a dense evaluation at d = 2 (~0.47 ns;
     * the dense engine's cost, engine.c, is one per pair).
     * Per query, the boxes within the pruning radius (~9 scaled units for
     * tol 1e-12): ~10 a box for the walk, a key summed directly ~66 (long
     * double sums with their rounding bounds), a box expanded ~1500 (its
     * Taylor tables and bounds), both for local constant, p = 1 (nf = 2),
     * and ~(1 + nf/8) as many sums; keys per box taken as n / nb, the data
     * uniform over its bounding box (was 2.5 a key and ~310 a box at most,
     * 1.2x-6x under the times measured). */
    double filled = fmin(nb, n), kpb = n / filled, kb = n / nb;
    double g = sqrt(2 * log(4 / BUDGET_FRAC * n / (tol * fmax(kpb, 1) * 0.3)));
    double Rq = ceil(g / fmin(beta[0], beta[1]));
    double boxes = fmin(2 * Rq + 1, nbk[0]) * fmin(2 * Rq + 1, nbk[1]);
    double sums = (1 + nf / 8) / 1.25;
    double per_box = 10 + (kb >= DIRECT_KEYS ? fmin(66 * kb, 1200 * ns / 2) : 66 * kb) * sums;
    /* memory (nw_memory_enable, where the caller streams: pb->regions): the
     * moments of the boxes with more than DIRECT_KEYS keys (the data taken
     * as uniform, as above), ns P PP doubles each -- ~300 bytes a key at
     * ~33 keys a box, 13x the keys themselves */
    const double budget = pb->regions ? nw_memory_enable(pb, m) : INFINITY;
    double pq_mem = (kb > DIRECT_KEYS ? fmin(nb, n / DIRECT_KEYS) : 0) * ns * P * PP * 8;
    /* (plus the moments of the boxes it expands, as the local mode's) */
    plan->cost = pq_mem > budget ? INFINITY
                                 : n * P * PP * ns / 3 * (kpb > DIRECT_KEYS) + (double) m * boxes * per_box;
    plan->P = (size_t) P;
    plan->rows = PP;
    /* distinct powers of u_0 over the sets: stage-1 blocks per source */
    const double nst = (double) stage1_count(&tmp);
    for (int coarse = 0; coarse < 2; coarse++) {
        if (coarse && !grid_of(pb, 1, wbox, beta, k0, nbk)) break;
        nb = nbk[0] * nbk[1];
        filled = fmin(nb, n);
        int R = reach_for(n, beta, tol, amax);
        if (R == 0) continue;
        size_t Pl = local_terms(fmax(beta[0], beta[1]), amax, tol, coarse ? P_MAX + 1 : P_FINE);
        if (coarse && Pl > P_MAX) continue;
        double rows = Pl <= NW_FGT2_NARROW_PP ? NW_FGT2_NARROW_PP : PP;
        P = (double) Pl;
        /* memory: the local polynomials (nb nf blocks of P x rows, or a
         * group of columns of them: local_group), the moments (a block of
         * P x rows per set and filled box) and, while it builds, the
         * stage-1 blocks (stage1_bytes) */
        double mem = (nb * nf + filled * ns) * P * rows * 8;
        if (mem > 0x1p30) continue;
        if (pb->regions) {
            size_t nbk_[2] = { (size_t) nbk[0], (size_t) nbk[1] };
            double other = filled * ns * P * rows * 8 +
                           stage1_bytes(nw_pb_threads(pb), nbk_, (size_t) nst, Pl, (size_t) rows);
            double cols = (double) local_group(pb, m, nbk_, tmp.nf, Pl, (size_t) rows, other);
            if (cols * nbk[1] * nf * P * rows * 8 + other > budget) continue;
        }
        /* Local mode: translations in both stages, per target and block
         * one per offset pair within R and the grid (translate_W: P (P +
         * 1) / 2 W multiply-adds, W = P rounded up to 4), ~0.13 each (n =
         * 1e4, h = 0.3: ~18 ms of ~28); the moments ~1/3 per multiply-add
         * of their P x rows outer products; ~nf P rows / 10 + 80 a query;
         * ~3000 a page of fresh memory (first touch); ~20 a key to bucket
         * them. */
        double W = 4 * ceil(P / 4), tr = P * (P + 1) / 2 * W * 0.13;
        double calls0 = pair_calls(nbk[0], R), calls1 = pair_calls(nbk[1], R);
        double local = n * P * rows * ns / 3 + nb * (nst * calls0 + nf * calls1) * tr +
                       nb * (2 * R + 1) * (nst + nf) * ERR_TERMS * 2 + (double) m * (nf * P * rows / 10 + 80) +
                       mem / 4096 * 3000 + 20 * n;
        if (local <= plan->cost) {
            plan->local = 1;
            plan->coarse = coarse;
            plan->P = Pl;
            plan->R = R;
            plan->rows = (size_t) rows;
            plan->cost = local;
        }
    }
}

double nw_fgt2_cost(const nw_problem *pb, size_t m, double tol)
{
    nw_fgt2_plan plan;
    nw_fgt2_plan_for(pb, m, tol, &plan);
    return plan.cost;
}
#endif

static void fgt2_free(void *p)
{
    fgt2_state *s = p;
    if (!s) return;
    if (!s->in_place) {
        free((void *) s->xs);
        free((void *) s->ys);
    }
    free(s->start); free(s->pos); free(s->absy);
    free(s->sat); free(s->nonempty); free(s->slot); free(s->mom);
    free(s->loc); free(s->loc_err); free(s->loc_ok);
    free(s->loc_col);
    stream_free(s->stream);
    free(s);
}

/* Target T's local coefficients (nf x P x PP), wherever they are kept. */
static inline double *loc_block(const fgt2_state *s, size_t T)
{
    const size_t blk = s->nf * s->P * PP;
    if (!s->loc_col) return s->loc + T * blk;
    return s->loc_col[T % s->nbk[0]] + (T / s->nbk[0]) * blk;
}

static size_t box_index(const fgt2_state *s, const double *x)
{
    size_t b[2];
    for (size_t k = 0; k < 2; k++) {
        double f = floor(x[k] / s->wbox[k]) - s->k0[k];
        b[k] = !(f >= 0) ? 0 : (f >= (double) s->nbk[k] ? s->nbk[k] - 1 : (size_t) f);
    }
    return b[0] + s->nbk[0] * b[1];
}

static double centre(const fgt2_state *s, size_t k, size_t i)
{
    return (s->k0[k] + (double) i + 0.5) * s->wbox[k];
}

/* Sum over boxes [i0a, i0b] x [i1a, i1b] (inclusive, clamped) of value c
 * (0: count, 1 + c: sum |y_c|). */
static double rect(const fgt2_state *s, long i0a, long i0b, long i1a, long i1b, size_t c)
{
    long n0 = (long) s->nbk[0], n1 = (long) s->nbk[1];
    if (i0a < 0) i0a = 0;
    if (i1a < 0) i1a = 0;
    if (i0b >= n0) i0b = n0 - 1;
    if (i1b >= n1) i1b = n1 - 1;
    if (i0a > i0b || i1a > i1b) return 0;
    const size_t st = 1 + s->p, row = s->nbk[0] + 1;
#define SAT(a, b) s->sat[((size_t) (b) * row + (size_t) (a)) * st + c]
    return SAT(i0b + 1, i1b + 1) - SAT(i0a, i1b + 1) - SAT(i0b + 1, i1a) + SAT(i0a, i1a);
#undef SAT
}

/* The moments of box b: out[set][k0][k1] = sum f v0^k0 v1^k1 / (k0! k1!),
 * in chunks of CHUNK keys merged pairwise.  Returns the summation depth. */
NW_TARGET_CLONES
static double box_moments(const fgt2_state *s, size_t b, double *out, double *work)
{
    const size_t P = s->P, ns = s->ns, p = s->p, blk = ns * P * PP;
    const size_t i0 = b % s->nbk[0], i1 = b / s->nbk[0];
    const double c0 = centre(s, 0, i0), c1 = centre(s, 1, i1), w0 = s->w[0], w1 = s->w[1];
    double inv[P_MAX];
    for (size_t k = 0; k < P; k++) inv[k] = 1.0 / (double) (k + 1);
    double *chunk = work, *lev = work + blk;
    int used[LEVELS] = { 0 }, top = 0;
    double p0[CHUNK][PP], p1[CHUNK][PP], fy[CHUNK];
    for (size_t t0 = s->start[b]; t0 < s->start[b + 1]; t0 += CHUNK) {
        size_t t1 = s->start[b + 1] - t0 < CHUNK ? s->start[b + 1] : t0 + CHUNK, nt = t1 - t0;
        for (size_t i = 0; i < nt; i++) {
            size_t t = t0 + i;
            double v0 = (c0 - s->xs[t * 2]) * w0, v1 = (c1 - s->xs[t * 2 + 1]) * w1;
            p0[i][0] = p1[i][0] = 1;
            for (size_t k = 0; k + 1 < P; k++) {
                p0[i][k + 1] = p0[i][k] * (v0 * inv[k]);
                p1[i][k + 1] = p1[i][k] * (v1 * inv[k]);
            }
            for (size_t k = P; k < PP; k++) p0[i][k] = p1[i][k] = 0;
        }
        /* row a of set f: sum over the chunk's keys, in order, of
         * (f p0[a]) p1[:] (four rows at a time, each row's sum as one key
         * at a time would make it) */
        for (size_t set = 0; set < ns; set++) {
            for (size_t i = 0; i < nt; i++) fy[i] = set ? s->ys[(t0 + i) * p + set - 1] : 1;
            double *C = chunk + set * P * PP;
            size_t a = 0;
            for (; a + 4 <= P; a += 4) {
                double r0[PP] = { 0 }, r1[PP] = { 0 }, r2[PP] = { 0 }, r3[PP] = { 0 };
                for (size_t i = 0; i < nt; i++) {
                    const double f0 = fy[i] * p0[i][a], f1 = fy[i] * p0[i][a + 1];
                    const double f2 = fy[i] * p0[i][a + 2], f3 = fy[i] * p0[i][a + 3], *q1 = p1[i];
#pragma omp simd
                    for (size_t k = 0; k < PP; k++) {
                        r0[k] += f0 * q1[k];
                        r1[k] += f1 * q1[k];
                        r2[k] += f2 * q1[k];
                        r3[k] += f3 * q1[k];
                    }
                }
                memcpy(C + a * PP, r0, sizeof r0);
                memcpy(C + (a + 1) * PP, r1, sizeof r1);
                memcpy(C + (a + 2) * PP, r2, sizeof r2);
                memcpy(C + (a + 3) * PP, r3, sizeof r3);
            }
            for (; a < P; a++) {
                double r0[PP] = { 0 };
                for (size_t i = 0; i < nt; i++) {
                    const double f0 = fy[i] * p0[i][a], *q1 = p1[i];
#pragma omp simd
                    for (size_t k = 0; k < PP; k++) r0[k] += f0 * q1[k];
                }
                memcpy(C + a * PP, r0, sizeof r0);
            }
        }
        /* pairwise: merge equal levels like a binary counter */
        int l = 0;
        while (l < LEVELS - 1 && used[l]) {
            double *L = lev + (size_t) l * blk;
#pragma omp simd
            for (size_t i = 0; i < blk; i++) chunk[i] += L[i];
            used[l] = 0;
            l++;
        }
        memcpy(lev + (size_t) l * blk, chunk, blk * sizeof(double));
        used[l] = 1;
        if (l + 1 > top) top = l + 1;
    }
    memset(out, 0, blk * sizeof(double));
    for (int l = 0; l < top; l++)
        if (used[l]) {
            const double *L = lev + (size_t) l * blk;
            for (size_t i = 0; i < blk; i++) out[i] += L[i];
        }
    return CHUNK + 2.0 * top + 1;
}

/* fgt2_setup's box moments as a team job (team.h): item i is the i-th
 * box with keys; each worker has its pairwise-summation levels (work) and
 * the deepest summation it met (depth, per worker). */
typedef struct moments_job {
    const fgt2_state *s;
    size_t blk;
    double *depth;
} moments_job;

static int moments_begin(void *ctx, int worker, void **scratch)
{
    (void) worker;
    const moments_job *mj = ctx;
    *scratch = malloc((LEVELS + 1) * mj->blk * sizeof(double));
    return *scratch == NULL;
}

static void moments_end(void *ctx, int worker, void *scratch)
{
    (void) ctx, (void) worker;
    free(scratch);
}

static void moments_box(void *ctx, int worker, void *scratch, size_t i)
{
    const moments_job *mj = ctx;
    const fgt2_state *s = mj->s;
    size_t b = s->nonempty[i];
    if (s->slot[b] == SIZE_MAX) return;
    double dp = box_moments(s, b, s->mom + s->slot[b] * mj->blk, scratch);
    if (dp > mj->depth[worker]) mj->depth[worker] = dp;
}

static nw_status build_local(fgt2_state *s, const nw_problem *pb, double tol, size_t group);

/* Carry out plan (nw_fgt2_plan_for, made by the wide build) for e. */
static nw_status fgt2_setup(nw_engine *e, const nw_fgt2_plan *plan)
{
    const nw_problem *pb = e->pb;
    const size_t n = pb->n, p = pb->p;
    double wbox[2], beta[2], k0[2], nbk[2];
    if (!isfinite(plan->cost) || plan->P > P_MAX || plan->P < 2 || (plan->local && plan->R < R_MIN) ||
        !grid_of(pb, plan->coarse, wbox, beta, k0, nbk))
        return NW_ERR_ARG;
    fgt2_state *s = calloc(1, sizeof *s);
    if (!s) return NW_ERR_NOMEM;
    sums_needed(pb, s);
    for (size_t k = 0; k < 2; k++) {
        s->wbox[k] = wbox[k];
        s->beta[k] = beta[k];
        s->k0[k] = k0[k];
        s->nbk[k] = (size_t) nbk[k];
        s->w[k] = fabs(pb->w[k]);
        s->sgn[k] = pb->w[k] < 0 ? -1 : 1;
    }
    s->nb = s->nbk[0] * s->nbk[1];
    s->local = plan->local;
    s->P = plan->P;
    const size_t nb = s->nb, st = 1 + p, row = s->nbk[0] + 1;
    s->start = calloc(nb + 1, sizeof *s->start);
    s->absy = calloc(nb * p, sizeof *s->absy);
    s->sat = calloc(row * (s->nbk[1] + 1) * st, sizeof *s->sat);
    s->nonempty = malloc((nb < n ? nb : n) * sizeof *s->nonempty);
    s->slot = malloc(nb * sizeof *s->slot);
    if (!s->start || !s->absy || !s->sat || !s->nonempty || !s->slot) {
        fgt2_free(s);
        return NW_ERR_NOMEM;
    }
    /* the keys in box order: a stable counting sort into a copy, or, where
     * they already lie so (nw_fgt2_arrange, nw_model_arrange), pb's own */
    int in_order = 1;
    for (size_t j = 0, prev = 0; j < n; j++) {
        size_t b = box_index(s, pb->x + j * 2);
        s->start[b + 1]++;
        in_order &= b >= prev;
        prev = b;
    }
    for (size_t b = 0; b < nb; b++) s->start[b + 1] += s->start[b];
    if (in_order) {
        s->in_place = 1;
        s->xs = pb->x;
        s->ys = pb->y;
    } else {
        double *xs = malloc(n * 2 * sizeof *xs), *ys = malloc(n * p * sizeof *ys);
        size_t *fill = malloc(nb * sizeof *fill);
        s->xs = xs;
        s->ys = ys;
        s->pos = malloc(n * sizeof *s->pos);
        if (!xs || !ys || !fill || !s->pos) {
            free(fill);
            fgt2_free(s);
            return NW_ERR_NOMEM;
        }
        memcpy(fill, s->start, nb * sizeof *fill);
        for (size_t j = 0; j < n; j++) {
            size_t t = fill[box_index(s, pb->x + j * 2)]++;
            xs[t * 2] = pb->x[j * 2];
            xs[t * 2 + 1] = pb->x[j * 2 + 1];
            memcpy(ys + t * p, pb->y + j * p, p * sizeof(double));
            s->pos[j] = (uint32_t) t;
        }
        free(fill);
    }
    size_t slots = 0;
    for (size_t b = 0; b < nb; b++) {
        size_t cnt = s->start[b + 1] - s->start[b];
        if (cnt) s->nonempty[s->n_nonempty++] = b;
        for (size_t t = s->start[b]; t < s->start[b + 1]; t++)
            for (size_t c = 0; c < p; c++) s->absy[b * p + c] += fabs(s->ys[t * p + c]);
        s->slot[b] = cnt > (s->local ? 0 : DIRECT_KEYS) ? slots++ : SIZE_MAX;
    }
    /* summed-area table of counts and sum |y| */
    for (size_t i1 = 0; i1 < s->nbk[1]; i1++)
        for (size_t i0 = 0; i0 < s->nbk[0]; i0++) {
            size_t b = i0 + s->nbk[0] * i1;
            for (size_t c = 0; c < st; c++) {
                double v = c == 0 ? (double) (s->start[b + 1] - s->start[b]) : s->absy[b * p + c - 1];
                s->sat[((i1 + 1) * row + i0 + 1) * st + c] =
                    v + s->sat[((i1 + 1) * row + i0) * st + c] + s->sat[(i1 * row + i0 + 1) * st + c] -
                    s->sat[(i1 * row + i0) * st + c];
            }
        }
    for (int a = 0; a <= AMAX; a++) s->cmax[a] = a == 0 ? 1 : pow(a / M_E, 0.5 * a);
    for (size_t k = 0; k < 2; k++) {
        double rho = 0.5 * s->beta[k], hp = 1;
        for (size_t j = 0; j <= P_MAX; j++) {
            if (j > 0) hp *= rho / (double) j;
            s->hpow[k][j] = hp;
            for (size_t a = 0; a <= AMAX; a++)
                for (size_t i = 0; i <= a; i++) {
                    if (i > j) { s->ctr[k][j][a][i] = 0; continue; }
                    double l = (double) j * log(rho) - lgamma_nosign((double) j + 1) +
                               lgamma_nosign((double) j + 1) - lgamma_nosign((double) i + 1) -
                               lgamma_nosign((double) (j - i) + 1) + lgamma_nosign((double) a + 1) -
                               lgamma_nosign((double) (a - i) + 1) + 0.5 * lgamma_nosign((double) (j - i) + 1);
                    s->ctr[k][j][a][i] = CRAMER_K * exp(l);
                }
        }
    }

    /* the moments of every box with a slot (boxes in parallel) */
    const size_t blk = s->ns * s->P * PP;
    s->mom = malloc((slots ? slots : 1) * blk * sizeof *s->mom);
    if (!s->mom) {
        fgt2_free(s);
        return NW_ERR_NOMEM;
    }
    /* in parallel where the work (~n P PP ns multiply-adds) is worth a team */
    int threads = (double) n * (double) (s->P * PP * s->ns) > 2e6 ? nw_pb_threads(pb) : 1;
    if (threads > NW_TEAM_MAX) threads = NW_TEAM_MAX;
    double depth_w[threads];
    for (int t = 0; t < threads; t++) depth_w[t] = CHUNK + 3;
    moments_job mj = { .s = s, .blk = blk, .depth = depth_w };
    nw_team_job job = { .items = s->n_nonempty, .ctx = &mj, .begin = moments_begin,
                        .run = moments_box, .end = moments_end };
    int failed = nw_team_run(&job, threads) != NW_OK;
    double depth = CHUNK + 3;
    for (int t = 0; t < threads; t++) depth = fmax(depth, depth_w[t]);
    s->dbox = depth;
    if (failed) {
        fgt2_free(s);
        return NW_ERR_NOMEM;
    }
    e->state = s;
    if (s->local) {
        s->R = plan->R;
        double other = (double) (slots * blk * sizeof *s->mom) +
                       stage1_bytes(nw_pb_threads(pb), s->nbk, stage1_count(s), s->P, PP);
        nw_status st2 = build_local(s, pb, e->tol, local_group(pb, e->m, s->nbk, s->nf, s->P, PP, other));
        if (st2) {
            e->state = NULL;
            fgt2_free(s);
            return st2;
        }
    }
    return NW_OK;
}

/* ------------------------------------------------------------ local mode */

/* One input's tables for offsets delta = -R..R and powers a <= amax:
 * H[a][delta][l][k] = g_a^(l+k)(delta beta) / l! for l + k < P (long
 * double, rounded once), and the scalar factors of the bounds. */
typedef struct dim_tables {
    double *H;                               /* (amax+1) x (2R+1) x P_MAX x PP */
    double *Ga, *Ga1, *Env, *Gmax, *Gder, *Etr; /* (amax+1) x (2R+1) */
    size_t Pd[(AMAX + 1) * (2 * R_MAX + 1)];    /* terms kept per offset (Etr's) */
} dim_tables;

/* Cramer's bound on the omitted orders after P' terms, for every P' <= P:
 *     tail[P'] = K e^{-tau^2/4} sum_{j >= P'} B_a(j, tau) beta^j / j!,
 *     B_a(j, tau) beta^j / j! = sum_i a!/(a-i)! |tau|^(a-i) beta^j / (i! sqrt((j-i)!))
 * (the sum to P + 80, past which the terms are negligible), summed from
 * the small terms up; lgf[j] = log j! for j < P + 80. */
static void tail_sums(int a, double at, double beta, size_t P, const double *lgf, double tail[P_MAX + 1])
{
    double acc = 0, lb = log(beta);
    for (size_t j = P + 80; j-- > 1;) {
        double B = 0, fl = 1;
        for (size_t i = 0; i <= (size_t) a && i <= j; i++) {
            B += exp((double) j * lb - lgf[i] - 0.5 * lgf[j - i]) * fl * pow(at, (double) (a - (int) i));
            fl *= (double) (a - (int) i);
        }
        acc += B;
        if (j <= P) tail[j] = CRAMER_K * exp(-0.25 * at * at) * acc;
    }
}

static void dim_tables_fill(dim_tables *t, double beta, int R, int amax, size_t P)
{
    const size_t nd = (size_t) (2 * R + 1);
    double lgf[P_MAX + 80], thr[AMAX + 1];   /* log j!; a quarter of e_a(0) with P terms */
    for (size_t j = 0; j < P + 80; j++) lgf[j] = lgamma_nosign((double) j + 1);
    for (int a = 0; a <= amax; a++) {
        double tail[P_MAX + 1];
        tail_sums(a, 0, beta, P, lgf, tail);
        thr[a] = tail[P] / 4;
    }
    for (int di = 0; di < 2 * R + 1; di++) {
        long double tau = (long double) (di - R) * beta;
        long double he[P_MAX + AMAX + 1], g0[P_MAX + AMAX + 1];
        long double gauss = expl(-0.5L * tau * tau);
        he[0] = 1;
        he[1] = tau;
        for (size_t j = 1; j + 1 < P; j++) he[j + 1] = tau * he[j] - (long double) j * he[j - 1];
        for (size_t j = 0; j < P; j++) g0[j] = (j & 1 ? -he[j] : he[j]) * gauss;
        double at = fabs((double) tau);
        for (int a = 0; a <= amax; a++) {
            long double ga[P_MAX];
            double sabs = 0, sabs1 = 0, senv = 0, bj = 1;   /* bj = beta^j / j! */
            for (size_t j = 0; j < P; j++) {
                long double v = 0, cji = 1, fall = 1;
                for (size_t i = 0; i <= (size_t) a && i <= j; i++) {
                    long double tp = 1;
                    for (int r = 0; r < a - (int) i; r++) tp *= tau;
                    v += cji * fall * tp * g0[j - i];
                    cji = cji * (long double) (j - i) / (long double) (i + 1);
                    fall *= (long double) (a - (int) i);
                }
                ga[j] = v;
                if (j > 0) bj *= beta / (double) j;
                sabs += fabs((double) v) * bj;
                sabs1 += (double) j * fabs((double) v) * bj;
                /* Cramer's envelope K e^{-tau^2/4} B_a(j, tau) */
                double B = 0, lc = 0, fl = 1;
                for (size_t i = 0; i <= (size_t) a && i <= j; i++) {
                    B += exp(lc + 0.5 * lgamma_nosign((double) (j - i) + 1)) * fl * pow(at, (double) (a - (int) i));
                    lc += log((double) (j - i)) - log((double) (i + 1));
                    fl *= (double) (a - (int) i);
                }
                senv += CRAMER_K * exp(-0.25 * at * at) * B * bj;
            }
            double *H = t->H + ((size_t) a * nd + (size_t) di) * P_MAX * PP;
            long double lf = 1;
            for (size_t l = 0; l < P; l++) {
                if (l > 0) lf *= (long double) l;
                for (size_t k = 0; k < PP; k++) H[l * PP + k] = l + k < P ? (double) (ga[l + k] / lf) : 0;
            }
            size_t o = (size_t) a * nd + (size_t) di;
            t->Ga[o] = sabs;
            t->Ga1[o] = sabs1;
            t->Env[o] = senv;
            double dist = fmax(at - beta, 0), top = at + beta;
            t->Gmax[o] = pow(top, a) * exp(-0.5 * dist * dist);
            t->Gder[o] = (a * pow(top, a - 1 > 0 ? a - 1 : 0) * (a > 0) + pow(top, a + 1)) * exp(-0.5 * dist * dist);
            /* e_a(tau) for P' terms: the omitted orders j >= P'; the rows a
             * translation from this offset takes, Pd: the fewest P' <= P
             * whose e_a is at most a quarter of e_a(0) with P terms (far
             * boxes need fewer: e^{-tau^2/4}) */
            if (di > R) {   /* |tau| as at the mirrored offset, done */
                t->Pd[o] = t->Pd[o - (size_t) (2 * (di - R))];
                t->Etr[o] = t->Etr[o - (size_t) (2 * (di - R))];
                continue;
            }
            double tail[P_MAX + 1];
            tail_sums(a, at, beta, P, lgf, tail);
            size_t Pd = P;
            while (Pd > 2 && tail[Pd - 1] <= thr[a]) Pd--;
            t->Pd[o] = Pd;
            t->Etr[o] = tail[Pd];
        }
    }
}

/* out[l][c] += sum_{k < P - l} H[l][k] in_l[k][c] for l < P and c < W,
 * rows of PP doubles, in_l = ine for even l and ino for odd l (the same
 * array for one source; the folded pair of a +-delta, build_local).  Per
 * row the chain runs from high k to low into an accumulator that starts
 * at 0 and is then added to out: the order of operations, and so every
 * rounding, is that of one row at a time; the rows go four at once only
 * to reuse each loaded input row (W = 8, 12, .., 32 >= the columns
 * that can be nonzero: the others stay as they are). */
#define TRANSLATE_W(W)                                                                          \
    NW_TARGET_CLONES                                                                            \
    static void translate_##W(const double *H, const double *ine, const double *ino,           \
                              double *out, size_t P)                                            \
    {                                                                                           \
        size_t l = 0;                                                                           \
        for (; l + 4 <= P; l += 4) {                                                            \
            double a0[W], a1[W], a2[W], a3[W];                                                  \
            for (size_t c = 0; c < W; c++) a0[c] = a1[c] = a2[c] = a3[c] = 0;                   \
            const double *h0 = H + l * PP, *h1 = h0 + PP, *h2 = h1 + PP, *h3 = h2 + PP;         \
            const double *ia = (l & 1) ? ino : ine, *ib = (l & 1) ? ine : ino;                  \
            /* row l + i takes k < P - l - i: the first three k for fewer rows */               \
            size_t k = P - l - 1;                                                               \
            {                                                                                   \
                const double *r = ia + k * PP;                                                  \
                _Pragma("omp simd")                                                             \
                for (size_t c = 0; c < W; c++) a0[c] += h0[k] * r[c];                           \
            }                                                                                   \
            k--;                                                                                \
            {                                                                                   \
                const double *r = ia + k * PP, *t = ib + k * PP;                                \
                _Pragma("omp simd")                                                             \
                for (size_t c = 0; c < W; c++) a0[c] += h0[k] * r[c];                           \
                _Pragma("omp simd")                                                             \
                for (size_t c = 0; c < W; c++) a1[c] += h1[k] * t[c];                           \
            }                                                                                   \
            k--;                                                                                \
            {                                                                                   \
                const double *r = ia + k * PP, *t = ib + k * PP;                                \
                _Pragma("omp simd")                                                             \
                for (size_t c = 0; c < W; c++) a0[c] += h0[k] * r[c];                           \
                _Pragma("omp simd")                                                             \
                for (size_t c = 0; c < W; c++) a1[c] += h1[k] * t[c];                           \
                _Pragma("omp simd")                                                             \
                for (size_t c = 0; c < W; c++) a2[c] += h2[k] * r[c];                           \
            }                                                                                   \
            while (k-- > 0) {                                                                   \
                const double *r = ia + k * PP, *t = ib + k * PP;                                \
                const double g0 = h0[k], g1 = h1[k], g2 = h2[k], g3 = h3[k];                    \
                _Pragma("omp simd")                                                             \
                for (size_t c = 0; c < W; c++) {                                                \
                    a0[c] += g0 * r[c];                                                         \
                    a1[c] += g1 * t[c];                                                         \
                    a2[c] += g2 * r[c];                                                         \
                    a3[c] += g3 * t[c];                                                         \
                }                                                                               \
            }                                                                                   \
            double *o = out + l * PP;                                                           \
            _Pragma("omp simd")                                                                 \
            for (size_t c = 0; c < W; c++) {                                                    \
                o[c] += a0[c];                                                                  \
                o[PP + c] += a1[c];                                                             \
                o[2 * PP + c] += a2[c];                                                         \
                o[3 * PP + c] += a3[c];                                                         \
            }                                                                                   \
        }                                                                                       \
        for (; l < P; l++) {                                                                    \
            double acc[W];                                                                      \
            for (size_t c = 0; c < W; c++) acc[c] = 0;                                          \
            const double *h = H + l * PP, *in = (l & 1) ? ino : ine;                            \
            for (size_t k = P - l; k-- > 0;) {                                                  \
                const double hk = h[k], *r = in + k * PP;                                       \
                _Pragma("omp simd")                                                             \
                for (size_t c = 0; c < W; c++) acc[c] += hk * r[c];                             \
            }                                                                                   \
            double *o = out + l * PP;                                                           \
            for (size_t c = 0; c < W; c++) o[c] += acc[c];                                      \
        }                                                                                       \
    }
TRANSLATE_W(8)
TRANSLATE_W(12)
TRANSLATE_W(16)
TRANSLATE_W(20)
#if PP >= 32
TRANSLATE_W(24)
TRANSLATE_W(28)
TRANSLATE_W(32)
#endif
#undef TRANSLATE_W

/* translate_W for the width w (columns that can be nonzero, <= PP) */
static void translate(const double *H, const double *ine, const double *ino, double *out,
                      size_t P, size_t w)
{
    if (w <= 8) translate_8(H, ine, ino, out, P);
    else if (w <= 12) translate_12(H, ine, ino, out, P);
    else if (w <= 16) translate_16(H, ine, ino, out, P);
#if PP >= 32
    else if (w <= 20) translate_20(H, ine, ino, out, P);
    else if (w <= 24) translate_24(H, ine, ino, out, P);
    else if (w <= 28) translate_28(H, ine, ino, out, P);
    else translate_32(H, ine, ino, out, P);
#else
    else translate_20(H, ine, ino, out, P);
#endif
}

/* The sources at offsets +delta (X) and -delta (Y) of one translation,
 * folded: H_{-delta}[l][k] = sigma (-1)^(l+k) H_delta[l][k] exactly
 * (sigma = (-1)^a: g_a^(j)(-tau) = (-1)^(a+j) g_a^(j)(tau), and the tables'
 * long double recurrence only changes sign with tau), so
 *     H_delta X + H_{-delta} Y = H_delta Z_(l even ? + : -),
 *     Z_+-[k] = X[k] +- sigma (-1)^k Y[k],
 * one translation for two at the cost of one rounding per element of Z
 * (rows k < P, all PP columns: those past the data's are 0 in X and Y). */
NW_TARGET_CLONES
static void fold_pair(const double *X, const double *Y, int sigma, double *zp, double *zm, size_t P)
{
    for (size_t k = 0; k < P; k++) {
        const double *x = X + k * PP, *y = Y + k * PP;
        double *p = zp + k * PP, *m = zm + k * PP;
        const double sg = (sigma > 0) == !(k & 1) ? 1.0 : -1.0;   /* exact: a sign */
#pragma omp simd
        for (size_t c = 0; c < PP; c++) {
            double t = sg * y[c];
            p[c] = x[c] + t;
            m[c] = x[c] - t;
        }
    }
}

/* out += the sources at offsets +d (src[0]) and -d (src[1]), either NULL
 * where that box is empty or off the grid, translated by one input's
 * table t for the power a (reach R): folded into one translation where
 * both are there (fold_pair), the table's own terms Pd for the offset;
 * zp, zm: scratch of P_MAX x PP. */
static void translate_pair(const dim_tables *t, int a, int R, int d, const double *const src[2],
                           double *zp, double *zm, double *out, size_t P)
{
    const size_t nd = (size_t) (2 * R + 1), blk = P_MAX * PP;
    const double *H = t->H + ((size_t) a * nd + (size_t) (R + d)) * blk;
    const size_t Pd = t->Pd[(size_t) a * nd + (size_t) (R + d)];
    if (src[0] && src[1]) {
        fold_pair(src[0], src[1], a & 1 ? -1 : 1, zp, zm, Pd);
        translate(H, zp, zm, out, Pd, P);
    } else if (src[0]) {
        translate(H, src[0], src[0], out, Pd, P);
    } else if (src[1]) {
        H = t->H + ((size_t) a * nd + (size_t) (R - d)) * blk;
        translate(H, src[1], src[1], out, Pd, P);
    }
}

/* build_local's bands of target columns as a team job (team.h): the
 * shared parameters, and each worker's stage-1 blocks. */
typedef struct local_job {
    fgt2_state *s;
    const dim_tables *tab;   /* [2] */
    double tol, dbase, cu;
    size_t nst, npair1, npairy, nband;   /* stage-1 blocks (build_local) */
    size_t band0;                        /* item i of the team: band band0 + i */
    int a0_1[AMAX + 1], a0_y[AMAX + 1], pos1[AMAX + 1], posy[AMAX + 1];
} local_job;

typedef struct local_scratch {
    double *Nc, *rr;
    unsigned char *nz;
} local_scratch;

static void local_end(void *ctx, int worker, void *scratch)
{
    (void) ctx, (void) worker;
    local_scratch *w = scratch;
    if (!w) return;
    free(w->Nc);
    free(w->rr);
    free(w->nz);
    free(w);
}

static int local_begin(void *ctx, int worker, void **scratch)
{
    const local_job *lj = ctx;
    local_scratch *w = calloc(1, sizeof *w);
    *scratch = w;
    if (!w) return 1;
    const size_t blocks = lj->nband * lj->s->nbk[1];
    w->Nc = malloc(blocks * lj->nst * lj->s->P * PP * sizeof(double));
    w->rr = malloc(blocks * lj->nst * ERR_TERMS * sizeof(double));
    w->nz = malloc(blocks);
    if (w->Nc && w->rr && w->nz) return 0;
    local_end(ctx, worker, w);
    *scratch = NULL;
    return 1;
}

static void local_band(void *ctx, int worker, void *scratch, size_t band)
{
    (void) worker;
    const local_job *lj = ctx;
    fgt2_state *s = lj->s;
    const dim_tables *tab = lj->tab;
    const double tol = lj->tol, dbase = lj->dbase, cu = lj->cu;
    const int R = s->R;
    const size_t nd = (size_t) (2 * R + 1), P = s->P, nb = s->nb, nf = s->nf, p = s->p;
    const size_t nb0 = s->nbk[0], nb1 = s->nbk[1], mblk = s->ns * P * PP;
    const size_t lblk = P * PP, nblk = P * PP;   /* a sum's polynomial; a transposed stage-1 block */
    const size_t nst = lj->nst, npair1 = lj->npair1, npairy = lj->npairy, nband = lj->nband;
    const int *a0_1 = lj->a0_1, *a0_y = lj->a0_y, *pos1 = lj->pos1, *posy = lj->posy;
    local_scratch *w = scratch;
    double *Nc = w->Nc, *rr = w->rr;
    unsigned char *nz = w->nz;
    double tmp[P_MAX * PP], zp[P_MAX * PP], zm[P_MAX * PP];

    const size_t T0a = (lj->band0 + band) * nband, T0b = T0a + nband < nb0 ? T0a + nband : nb0;
    /* stage 1 */
    for (size_t S1 = 0; S1 < nb1; S1++)
    for (size_t T0 = T0a; T0 < T0b; T0++) {
        const size_t cS = (T0 - T0a) * nb1 + S1;   /* the band's block (T0, S1) */
        nz[cS] = rect(s, (long) T0 - R, (long) T0 + R, (long) S1, (long) S1, 0) > 0;
        if (!nz[cS]) continue;
        for (size_t gi = 0; gi < nst; gi++) {
            size_t set = gi < npair1 ? 0 : 1 + (gi - npair1) / npairy;
            int a0 = gi < npair1 ? a0_1[gi] : a0_y[(gi - npair1) % npairy];
            memset(tmp, 0, sizeof tmp);
            /* offsets +-d from far to near, each pair folded
             * (fold_pair): the source at offset delta is box T0 - delta */
            for (int d = R; d >= 0; d--) {
                const double *src[2] = { NULL, NULL };   /* offsets +d, -d */
                for (int side = 0; side < (d ? 2 : 1); side++) {
                    long S0 = (long) T0 - (side ? -d : d);
                    if (S0 < 0 || S0 >= (long) nb0) continue;
                    size_t Sb = (size_t) S0 + nb0 * S1;
                    if (s->start[Sb + 1] == s->start[Sb]) continue;
                    src[side] = s->mom + s->slot[Sb] * mblk + set * P * PP;
                }
                translate_pair(&tab[0], a0, R, d, src, zp, zm, tmp, P);
            }
            double *out = Nc + (cS * nst + gi) * nblk;
            for (size_t k1 = 0; k1 < P; k1++)
                for (size_t l0 = 0; l0 < PP; l0++) out[k1 * PP + l0] = l0 < P ? tmp[l0 * PP + k1] : 0;
            /* the row's error sums r_i (ERR_TERMS) */
            double *r = rr + (cS * nst + gi) * ERR_TERMS;
            for (size_t i = 0; i < ERR_TERMS; i++) r[i] = 0;
            for (int d0 = -R; d0 <= R; d0++) {
                long S0 = (long) T0 - d0;
                if (S0 < 0 || S0 >= (long) nb0) continue;
                size_t Sb = (size_t) S0 + nb0 * S1;
                if (s->start[Sb + 1] == s->start[Sb]) continue;
                double absf = set ? s->absy[Sb * p + set - 1] : (double) (s->start[Sb + 1] - s->start[Sb]);
                size_t o0 = (size_t) a0 * nd + (size_t) (d0 + R);
                double G0 = tab[0].Gmax[o0], e0 = tab[0].Etr[o0], A0 = tab[0].Ga[o0];
                double ai[ERR_TERMS] = {
                    G0 + e0,                                   /* x e1 */
                    e0 + cu * 2 * s->beta[0] * tab[0].Gder[o0], /* x G1 */
                    cu * ((dbase + 2.0 * abs(d0)) * A0 + 4 * tab[0].Ga1[o0] + tab[0].Env[o0] / 8), /* x A1 */
                    cu * A0,                                   /* x 2 |delta1| A1 */
                    cu * 4 * A0,                               /* x Ga1_1 */
                    cu * (tab[0].Env[o0] + A0) / 8,            /* x Env1 */
                    cu * 2 * s->beta[1] * G0,                  /* x Gder1 */
                };
                for (size_t i = 0; i < ERR_TERMS; i++) r[i] += absf * ai[i];
            }
        }
    }
    /* stage 2 and the targets' bounds */
    for (size_t T0 = T0a; T0 < T0b; T0++)
    for (size_t T1 = 0; T1 < nb1; T1++) {
        const size_t c0 = (T0 - T0a) * nb1;   /* the band's column T0 */
        size_t T = T0 + nb0 * T1;
        /* data within one box: a lower bound on A */
        double alow = 0;
        for (long d1 = -1; d1 <= 1; d1++)
            for (long d0 = -1; d0 <= 1; d0++) {
                long S0 = (long) T0 + d0, S1 = (long) T1 + d1;
                if (S0 < 0 || S1 < 0 || S0 >= (long) nb0 || S1 >= (long) nb1) continue;
                size_t Sb = (size_t) S0 + nb0 * (size_t) S1;
                double cnt = (double) (s->start[Sb + 1] - s->start[Sb]);
                double f0 = (labs(d0) + 1) * s->beta[0], f1 = (labs(d1) + 1) * s->beta[1];
                alow = fmax(alow, cnt * exp(-0.5 * (f0 * f0 + f1 * f1)));
            }
        if (alow == 0) continue;
        double *L = loc_block(s, T), *E = s->loc_err + T * nf;
        for (size_t f = 0; f < nf; f++) {
            size_t set = f < s->n1 ? 0 : 1 + (f - s->n1) / s->ny;
            const int *ex = f < s->n1 ? s->ex1[f] : s->exy[(f - s->n1) % s->ny];
            int a0 = ex[0], a1 = ex[1];
            size_t gi = set == 0 ? (size_t) pos1[a0] : npair1 + (set - 1) * npairy + (size_t) posy[a0];
            double *Lf = L + f * lblk;
            memset(tmp, 0, lblk * sizeof(double));
            /* as stage 1: offsets +-d from far to near, folded in pairs */
            for (int d = R; d >= 0; d--) {
                const double *src[2] = { NULL, NULL };   /* offsets +d, -d */
                for (int side = 0; side < (d ? 2 : 1); side++) {
                    long S1 = (long) T1 - (side ? -d : d);
                    if (S1 < 0 || S1 >= (long) nb1 || !nz[c0 + (size_t) S1]) continue;
                    src[side] = Nc + ((c0 + (size_t) S1) * nst + gi) * nblk;
                }
                translate_pair(&tab[1], a1, R, d, src, zp, zm, tmp, P);
            }
            /* stored transposed (rows l0, columns l1) for Horner at the query */
            for (size_t l0 = 0; l0 < P; l0++)
                for (size_t l1 = 0; l1 < PP; l1++) Lf[l0 * PP + l1] = l1 < P ? tmp[l1 * PP + l0] : 0;
            /* truncation and rounding of the boxes in the square
             * (the header's bound, summed separably) */
            double err = 0;
            for (int d1 = -R; d1 <= R; d1++) {
                long S1 = (long) T1 - d1;
                if (S1 < 0 || S1 >= (long) nb1 || !nz[c0 + (size_t) S1]) continue;
                size_t o1 = (size_t) a1 * nd + (size_t) (d1 + R);
                const double *r = rr + ((c0 + (size_t) S1) * nst + gi) * ERR_TERMS;
                double A1 = tab[1].Ga[o1];
                err += r[0] * tab[1].Etr[o1] + r[1] * tab[1].Gmax[o1] + r[2] * A1 +
                       r[3] * 2.0 * abs(d1) * A1 + r[4] * tab[1].Ga1[o1] + r[5] * tab[1].Env[o1] +
                       r[6] * tab[1].Gder[o1];
            }
            /* pruned: keys outside the square */
            double out = set == 0 ? (double) (s->start[nb] - 0) : 0;
            double inside = rect(s, (long) T0 - R, (long) T0 + R, (long) T1 - R, (long) T1 + R, set);
            if (set) out = rect(s, 0, (long) nb0 - 1, 0, (long) nb1 - 1, set);
            out -= inside;
            if (out > 0) {
                double g0 = R * s->beta[0], g1 = R * s->beta[1];
                double t0 = pow(g0, a0) * s->cmax[a1] * exp(-0.5 * g0 * g0);
                double t1 = s->cmax[a0] * pow(g1, a1) * exp(-0.5 * g1 * g1);
                err += out * fmax(t0, t1);
            }
            E[f] = err;
        }
        /* the mode's choice only (the estimator certifies every
         * prediction): local where the bound is small against the
         * sum at the centre */
        s->loc_ok[T] = E[0] <= tol / 16 * L[0];   /* L[0]: A at the centre */
    }
}

/* What a streamed local mode keeps between the builds of its column
 * groups (fgt2_region_build): the build's tables and job. */
struct fgt2_stream {
    dim_tables tab[2];
    local_job lj;
    int threads;
    size_t group;               /* columns held at once */
    size_t built0, built1;      /* the columns built now: [built0, built1) */
};

static void stream_free(struct fgt2_stream *st)
{
    if (!st) return;
    for (size_t k = 0; k < 2; k++) { free(st->tab[k].H); free(st->tab[k].Ga); }
    free(st);
}

/* The local mode's coefficients: for every target at once (group = nb0:
 * nb nf P PP doubles), or streamed, group columns of targets at a time
 * (group < nb0: the engine's regions, built by fgt2_region_build as the
 * caller asks, each column's coefficients the same as the whole build's,
 * bit for bit). */
static nw_status build_local(fgt2_state *s, const nw_problem *pb, double tol, size_t group)
{
    const int R = s->R, amax = amax_of(s);
    const size_t nd = (size_t) (2 * R + 1), P = s->P, nb = s->nb, nf = s->nf;
    const size_t nb0 = s->nbk[0], nb1 = s->nbk[1], blk = P_MAX * PP;
    const int streamed = group < nb0;
    int a0_1[AMAX + 1], a0_y[AMAX + 1], pos1[AMAX + 1], posy[AMAX + 1];
    size_t npair1, npairy;
    const size_t nst = stage1_layout(s, a0_1, pos1, &npair1, a0_y, posy, &npairy);

    struct fgt2_stream *st = calloc(1, sizeof *st);
    int failed = st == NULL;
    dim_tables *tab = st ? st->tab : NULL;
    for (size_t k = 0; k < 2 && !failed; k++) {
        size_t nt = (size_t) (amax + 1) * nd;
        tab[k].H = malloc(nt * blk * sizeof(double));
        tab[k].Ga = malloc(6 * nt * sizeof(double));
        if (!tab[k].H || !tab[k].Ga) failed = 1;
        else {
            tab[k].Ga1 = tab[k].Ga + nt;
            tab[k].Env = tab[k].Ga + 2 * nt;
            tab[k].Gmax = tab[k].Ga + 3 * nt;
            tab[k].Gder = tab[k].Ga + 4 * nt;
            tab[k].Etr = tab[k].Ga + 5 * nt;
        }
    }
    const size_t lblk = P * PP;   /* one sum's polynomial: rows l0, columns l1 */
    /* malloc, not calloc: each block is written whole before it is read
     * (a calloc'd block read first maps the zero page, and the write after
     * it costs a second fault and, with a team running, a TLB shootdown) */
    s->loc = failed ? NULL : malloc((streamed ? group * nb1 : nb) * nf * lblk * sizeof(double));
    s->loc_err = calloc(nb * nf, sizeof(double));
    s->loc_ok = calloc(nb, 1);
    if (streamed && !failed) s->loc_col = calloc(nb0, sizeof *s->loc_col);
    if (failed || !s->loc || !s->loc_err || !s->loc_ok || (streamed && !s->loc_col)) {
        stream_free(st);
        free(s->loc); free(s->loc_err); free(s->loc_ok); free(s->loc_col);
        s->loc = s->loc_err = NULL;
        s->loc_ok = NULL;
        s->loc_col = NULL;
        return NW_ERR_NOMEM;
    }
    for (size_t k = 0; k < 2; k++) dim_tables_fill(&tab[k], s->beta[k], R, amax, P);

    /* Per target column T0 (bands of columns in parallel), two stages:
     * stage 1: N[S1][g] (rows l0, columns k1) = sum_{delta0} H0 M[T0 - delta0, S1]
     *   for every source row S1, stored transposed (rows k1, columns l0),
     *   with the error sums of the row (below);
     * stage 2: every target T = (T0, T1) of the column,
     *   L[T][f] = sum_{delta1} H1 N[T1 - delta1][g(f)].
     * The per-box bound of the header is a sum of seven products
     * a_i(delta0) b_i(delta1) of one-input factors (ERR_TERMS), so its sum
     * over the square, sum_S |f|_S sum_i a_i b_i, is separable too: stage 1
     * keeps r_i[S1][g] = sum_{delta0} |f|_{T0 - delta0, S1} a_i(delta0), and
     * a target's bound is sum_{delta1} sum_i b_i(delta1) r_i[T1 - delta1][g]. */
    const double dbase = s->dbox + 14;
    const double cu = 1.01 * UNIT;
    /* columns go in bands of nband (band_width), stage 1 row by row
     * across the band so that neighbouring targets reuse the source row's
     * moments from cache; streamed, a column a band */
    const int threads = nw_pb_threads(pb);
    const size_t nband = band_width(threads, s->nbk, nst, P, PP, streamed);
    const size_t nbands = (nb0 + nband - 1) / nband;
    local_job lj = { .s = s, .tab = tab, .tol = tol, .dbase = dbase, .cu = cu, .nst = nst,
                     .npair1 = npair1, .npairy = npairy, .nband = nband };
    memcpy(lj.a0_1, a0_1, sizeof a0_1);
    memcpy(lj.a0_y, a0_y, sizeof a0_y);
    memcpy(lj.pos1, pos1, sizeof pos1);
    memcpy(lj.posy, posy, sizeof posy);
    if (streamed) {
        st->lj = lj;
        st->threads = threads;
        st->group = group;
        s->stream = st;
        return NW_OK;
    }
    nw_team_job job = { .items = nbands, .ctx = &lj, .begin = local_begin, .run = local_band,
                        .end = local_end };
    int nomem = nw_team_run(&job, nb > 16 ? threads : 1) != NW_OK;
    stream_free(st);
    if (nomem) {
        free(s->loc); free(s->loc_err); free(s->loc_ok);
        s->loc = s->loc_err = NULL;
        s->loc_ok = NULL;
        return NW_ERR_NOMEM;
    }
    return NW_OK;
}

/* engine.h's regions for a streamed local mode: a query's target column
 * (nb0: outside the grid, where the local mode never serves) */
static size_t fgt2_region_of(const nw_engine *e, const double *q)
{
    const fgt2_state *s = e->state;
    double f = floor(q[0] / s->wbox[0]) - s->k0[0];
    return f >= 0 && f < (double) s->nbk[0] ? (size_t) f : s->nbk[0];
}

/* Build columns [r0, r1) (at most the group), dropping the others: their
 * targets are served per query until built again. */
static nw_status fgt2_region_build(nw_engine *e, size_t r0, size_t r1)
{
    fgt2_state *s = e->state;
    struct fgt2_stream *st = s->stream;
    const size_t nb0 = s->nbk[0], nb1 = s->nbk[1], col = nb1 * s->nf * s->P * PP;
    if (r1 > nb0) r1 = nb0;
    if (r0 >= r1) return NW_OK;
    if (r1 - r0 > st->group) return NW_ERR_ARG;
    for (size_t c = st->built0; c < st->built1; c++) {
        s->loc_col[c] = NULL;
        for (size_t T1 = 0; T1 < nb1; T1++) s->loc_ok[c + nb0 * T1] = 0;
    }
    st->built0 = st->built1 = 0;
    for (size_t c = r0; c < r1; c++) s->loc_col[c] = s->loc + (c - r0) * col;
    st->lj.band0 = r0;
    nw_team_job job = { .items = r1 - r0, .ctx = &st->lj, .begin = local_begin, .run = local_band,
                        .end = local_end };
    if (nw_team_run(&job, r1 - r0 > 1 ? st->threads : 1) != NW_OK) {
        for (size_t c = r0; c < r1; c++) {
            s->loc_col[c] = NULL;
            for (size_t T1 = 0; T1 < nb1; T1++) s->loc_ok[c + nb0 * T1] = 0;
        }
        return NW_ERR_NOMEM;
    }
    st->built0 = r0;
    st->built1 = r1;
    return NW_OK;
}

/* ------------------------------------------------------------ queries */

/* Per-thread scratch. */
typedef struct fgt2_acc {
    size_t nf;
    double *D, *E, *ABS;          /* nf each: sums, error bounds, sum |term| of direct sums */
    long double *LD;              /* nf: long double sums of the per-query mode */
    double visited;               /* terms added into LD */
    double sh[2];                 /* exact mode: shift of the slope columns (|w| units) */
} fgt2_acc;

static void acc_free(void *p)
{
    fgt2_acc *a = p;
    if (a) { free(a->D); free(a->LD); }
    free(a);
}

static fgt2_acc *acc_get(nw_moments *mo, size_t nf)
{
    if (mo->scratch && mo->free_scratch != acc_free) {
        if (mo->free_scratch) mo->free_scratch(mo->scratch);
        mo->scratch = NULL;
    }
    if (mo->scratch && ((fgt2_acc *) mo->scratch)->nf != nf) {
        acc_free(mo->scratch);
        mo->scratch = NULL;
    }
    if (!mo->scratch) {
        fgt2_acc *a = calloc(1, sizeof *a);
        if (!a) return NULL;
        a->nf = nf;
        a->D = calloc(3 * nf, sizeof(double));
        a->LD = calloc(nf, sizeof(long double));
        if (!a->D || !a->LD) { acc_free(a); return NULL; }
        a->E = a->D + nf;
        a->ABS = a->E + nf;
        mo->scratch = a;
        mo->free_scratch = acc_free;
    }
    return mo->scratch;
}

/* Sum index of monomial (a0, a1) of set (0: f = 1, 1 + c: y_c), -1 if none. */
static int sum_id(const fgt2_state *s, size_t set, int a0, int a1)
{
    if (a0 < 0 || a1 < 0 || a0 > AMAX || a1 > AMAX) return -1;
    int i = set ? s->idy[a0][a1] : s->id1[a0][a1];
    if (i < 0) return -1;
    return set ? (int) (s->n1 + (set - 1) * s->ny) + i : i;
}

/* One key's terms, computed as a direct sum computes them, into D (sign
 * -1: leave-one-out), with their rounding into E. */
static void key_terms(const fgt2_state *s, const double *q, size_t t, double logscale,
                      double sign, fgt2_acc *acc)
{
    double u0 = (q[0] - s->xs[t * 2]) * s->w[0], u1 = (q[1] - s->xs[t * 2 + 1]) * s->w[1];
    double a = -0.5 * (u0 * u0 + u1 * u1) - logscale;
    if (a < MIN_EXP_ARG) return;  /* as the dense engine: below e^-700 counts as 0 */
    double ex = exp(a), rel = UNIT * (2 * fabs(a) + 2 * fabs(logscale) + 3 * (u0 * u0 + u1 * u1) + 8 + 4 * AMAX);
    double pw0[AMAX + 1], pw1[AMAX + 1];
    pw0[0] = pw1[0] = 1;
    for (int i = 1; i <= AMAX; i++) { pw0[i] = pw0[i - 1] * u0; pw1[i] = pw1[i - 1] * u1; }
    for (size_t set = 0; set < s->ns; set++) {
        double f = set ? s->ys[t * s->p + set - 1] : 1;
        size_t cnt = set ? s->ny : s->n1;
        const int (*ex_)[2] = set ? s->exy : s->ex1;
        for (size_t i = 0; i < cnt; i++) {
            int id = sum_id(s, set, ex_[i][0], ex_[i][1]);
            double term = ex * f * pw0[ex_[i][0]] * pw1[ex_[i][1]];
            acc->D[id] += sign * term;
            acc->E[id] += 2 * rel * fabs(term);
        }
    }
}

/* A box summed directly in long double, leaving out the key at bucketed
 * place ts (SIZE_MAX: none), slope columns u - sh. */
static void box_direct(const fgt2_state *s, size_t b, const double *q, double logscale,
                       size_t ts, fgt2_acc *acc)
{
    const size_t p = s->p;
    for (size_t t = s->start[b]; t < s->start[b + 1]; t++) {
        if (t == ts) continue;
        double u[2] = { (q[0] - s->xs[t * 2]) * s->w[0], (q[1] - s->xs[t * 2 + 1]) * s->w[1] };
        double a = -0.5 * (u[0] * u[0] + u[1] * u[1]) - logscale;
        double pw[2][AMAX + 1], pe[2][AMAX + 1];
        int tiny = a < MIN_EXP_ARG;
        double ex = tiny ? 0 : exp(a);
        double rel = UNIT * (2 * fabs(a) + 2 * fabs(logscale) + 3 * (u[0] * u[0] + u[1] * u[1]) + 8 + 4 * AMAX);
        for (size_t k = 0; k < 2; k++) {
            double uc = u[k] - acc->sh[k], auc = fabs(uc), del = 3 * UNIT * (fabs(u[k]) + auc);
            pw[k][0] = 1;
            pe[k][0] = 0;
            double up = 1;   /* (|uc| + del)^(a-1) */
            for (int i = 1; i <= AMAX; i++) {
                pw[k][i] = pw[k][i - 1] * uc;
                pe[k][i] = i * del * up;
                up *= auc + del;
            }
        }
        for (size_t set = 0; set <= p; set++) {
            double f = set ? s->ys[t * p + set - 1] : 1, af = fabs(f);
            size_t cnt = set ? s->ny : s->n1;
            const int (*ex_)[2] = set ? s->exy : s->ex1;
            for (size_t i = 0; i < cnt; i++) {
                int a0 = ex_[i][0], a1 = ex_[i][1], id = sum_id(s, set, a0, a1);
                double m0 = fabs(pw[0][a0]), m1 = fabs(pw[1][a1]);
                if (tiny) {   /* left out, as the dense engine does: at most e^-700 */
                    acc->E[id] += 1e-304 * af * (m0 + pe[0][a0]) * (m1 + pe[1][a1]);
                    continue;
                }
                double term = ex * f * pw[0][a0] * pw[1][a1];
                acc->LD[id] += term;
                acc->ABS[id] += fabs(term);
                acc->E[id] += ex * af * (rel * m0 * m1 + (m0 + pe[0][a0]) * (m1 + pe[1][a1]) - m0 * m1);
            }
        }
        acc->visited += 1;
    }
}

/* g_a^(j)(tau) for j < P, a <= amax, times `base` (double; the Hermite
 * recurrence as in engine_fgt.c), their sums |g| rho^j/j! and j |g| rho^j/j!. */
static void gderiv(double tau, double base, int amax, size_t P, const double *hpow,
                   double g[][P_MAX], double *sabs, double *sabs1)
{
    double g0[P_MAX];
    double h0 = 1, h1 = tau;
    g0[0] = base;
    if (P > 1) g0[1] = -tau * base;
    for (size_t j = 2; j < P; j++) {
        double h2 = tau * h1 - (double) (j - 1) * h0;
        g0[j] = (j & 1 ? -h2 : h2) * base;
        h0 = h1;
        h1 = h2;
    }
    double tp[AMAX + 1];
    tp[0] = 1;
    for (int i = 1; i <= AMAX; i++) tp[i] = tp[i - 1] * tau;
    for (int a = 0; a <= amax; a++) {
        double sa = 0, sa1 = 0;
        for (size_t j = 0; j < P; j++) {
            double v = 0, cji = 1, fall = 1;
            for (size_t i = 0; i <= (size_t) a && i <= j; i++) {
                v += cji * fall * tp[a - (int) i] * g0[j - i];
                cji = cji * (double) (j - i) / (double) (i + 1);
                fall *= (double) (a - (int) i);
            }
            g[a][j] = v;
            sa += fabs(v) * hpow[j];
            sa1 += (double) j * fabs(v) * hpow[j];
        }
        sabs[a] = sa;
        sabs1[a] = sa1;
    }
}

/* The per-query truncation bound of input k after P terms (without its
 * exponential e^{-dist^2/4}): sum_i ctr (|tau| + rho)^(a-i). */
static double trunc_poly(const fgt2_state *s, size_t k, size_t P, int a, double tau)
{
    double at = fabs(tau) + 0.5 * s->beta[k], v = 0;
    for (int i = 0; i <= a && (size_t) i <= P; i++) v += s->ctr[k][P][a][i] * pow(at, a - i);
    return v;
}

/* Worst truncation bound per key over the sums of set 0 with P terms. */
static double trunc_worst(const fgt2_state *s, size_t P, const double tau[2], const double dist[2],
                          double logscale)
{
    double worst = 0;
    double eGT = exp(fmin(-0.5 * dist[0] * dist[0] - 0.25 * dist[1] * dist[1] - logscale, 700));
    double eTG = exp(fmin(-0.25 * dist[0] * dist[0] - 0.5 * dist[1] * dist[1] - logscale, 700));
    double eTT = exp(fmin(-0.25 * dist[0] * dist[0] - 0.25 * dist[1] * dist[1] - logscale, 700));
    for (size_t i = 0; i < s->n1; i++) {
        int a0 = s->ex1[i][0], a1 = s->ex1[i][1];
        double G0 = pow(fabs(tau[0]) + 0.5 * s->beta[0], a0), G1 = pow(fabs(tau[1]) + 0.5 * s->beta[1], a1);
        double t0 = trunc_poly(s, 0, P, a0, tau[0]), t1 = trunc_poly(s, 1, P, a1, tau[1]);
        double b = G0 * t1 * eGT + t0 * G1 * eTG + t0 * t1 * eTT;
        if (!(b <= worst)) worst = b;
    }
    return worst;
}

/* Box b expanded at the query: sum_{k0,k1 < P} g^(k0)(tau0) g^(k1)(tau1) M[k0][k1]. */
static void box_expand(const fgt2_state *s, size_t b, const double tau[2], const double dist[2],
                       double logscale, size_t P, fgt2_acc *acc)
{
    const int amax = amax_of(s);
    double g[2][AMAX + 1][P_MAX], sa[2][AMAX + 1], sa1[2][AMAX + 1];
    double base0 = exp(fmax(-0.5 * (tau[0] * tau[0] + tau[1] * tau[1]) - logscale, MIN_EXP_ARG));
    gderiv(tau[0], base0, amax, P, s->hpow[0], g[0], sa[0], sa1[0]);
    gderiv(tau[1], 1.0, amax, P, s->hpow[1], g[1], sa[1], sa1[1]);
    double eGT = exp(fmin(-0.5 * dist[0] * dist[0] - 0.25 * dist[1] * dist[1] - logscale, 700));
    double eTG = exp(fmin(-0.25 * dist[0] * dist[0] - 0.5 * dist[1] * dist[1] - logscale, 700));
    double eTT = exp(fmin(-0.25 * dist[0] * dist[0] - 0.25 * dist[1] * dist[1] - logscale, 700));
    double eGd0 = exp(fmin(-0.5 * dist[0] * dist[0] - 0.5 * dist[1] * dist[1] - logscale, 700));
    const double *mb = s->mom + s->slot[b] * s->ns * s->P * PP;
    const double cnt = (double) (s->start[b + 1] - s->start[b]);
    for (size_t set = 0; set < s->ns; set++) {
        const double *M = mb + set * s->P * PP;
        double absf = set ? s->absy[b * s->p + set - 1] : cnt;
        size_t nl = set ? s->ny : s->n1;
        const int (*ex_)[2] = set ? s->exy : s->ex1;
        double tmp[AMAX + 1][P_MAX];
        int have[AMAX + 1] = { 0 };
        for (size_t i = 0; i < nl; i++) {
            int a0 = ex_[i][0], a1 = ex_[i][1];
            if (!have[a1]) {
                for (size_t k0 = 0; k0 < P; k0++) {
                    const double *row = M + k0 * PP;
                    double v = 0;
                    for (size_t k1 = P; k1-- > 0;) v += row[k1] * g[1][a1][k1];
                    tmp[a1][k0] = v;
                }
                have[a1] = 1;
            }
            double v = 0;
            for (size_t k0 = P; k0-- > 0;) v += g[0][a0][k0] * tmp[a1][k0];
            int id = sum_id(s, set, a0, a1);
            acc->LD[id] += v;
            /* truncation (header), rounding (depth dbox + 22 + 5 (k0 + k1)),
             * and the moved decomposition */
            double G0 = pow(fabs(tau[0]) + 0.5 * s->beta[0], a0), G1 = pow(fabs(tau[1]) + 0.5 * s->beta[1], a1);
            double t0 = trunc_poly(s, 0, P, a0, tau[0]), t1 = trunc_poly(s, 1, P, a1, tau[1]);
            double trunc = G0 * t1 * eGT + t0 * G1 * eTG + t0 * t1 * eTT;
            double round = (s->dbox + 22) * sa[0][a0] * sa[1][a1] +
                           5 * (sa1[0][a0] * sa[1][a1] + sa[0][a0] * sa1[1][a1]);
            double d0 = a0 * pow(fabs(tau[0]) + 0.5 * s->beta[0], a0 > 0 ? a0 - 1 : 0) * (a0 > 0) +
                        pow(fabs(tau[0]) + 0.5 * s->beta[0], a0 + 1);
            double d1 = a1 * pow(fabs(tau[1]) + 0.5 * s->beta[1], a1 > 0 ? a1 - 1 : 0) * (a1 > 0) +
                        pow(fabs(tau[1]) + 0.5 * s->beta[1], a1 + 1);
            double moved = 2 * ((fabs(tau[0]) + 0.5 * s->beta[0]) * d0 * G1 +
                                (fabs(tau[1]) + 0.5 * s->beta[1]) * G0 * d1) * eGd0;
            acc->E[id] += absf * (trunc + 1.01 * UNIT * (round + moved));
            acc->ABS[id] += absf * sa[0][a0] * sa[1][a1];
        }
    }
    acc->visited += 1;
}

/* The sums at q by walking the boxes around it; returns the logscale. */
static double perquery(const nw_engine *e, const double *q, size_t skip, int exact, fgt2_acc *acc)
{
    const fgt2_state *s = e->state;
    const long n0 = (long) s->nbk[0], n1 = (long) s->nbk[1];
    long ib[2];
    for (size_t k = 0; k < 2; k++) {
        double f = floor(q[k] / s->wbox[k]) - s->k0[k];
        ib[k] = !(f >= 0) ? 0 : (f >= (double) s->nbk[k] ? (long) s->nbk[k] - 1 : (long) f);
    }
    /* the key left out: its bucketed place and box */
    const size_t ts = skip == NW_NO_SKIP ? SIZE_MAX : s->pos ? s->pos[skip] : skip;
    const size_t bs = ts != SIZE_MAX ? box_index(s, s->xs + ts * 2) : SIZE_MAX;
#define KEYS(b) (s->start[(b) + 1] - s->start[b] - ((b) == bs))
    /* the nearest boxes with a key: the scale, and a lower bound on A */
    double dn2 = INFINITY;
    for (long i1 = ib[1] - 2; i1 <= ib[1] + 2; i1++)
        for (long i0 = ib[0] - 2; i0 <= ib[0] + 2; i0++) {
            if (i0 < 0 || i1 < 0 || i0 >= n0 || i1 >= n1) continue;
            size_t b = (size_t) i0 + s->nbk[0] * (size_t) i1;
            if (!KEYS(b)) continue;
            double d2 = 0;
            for (size_t k = 0; k < 2; k++) {
                double t = fabs(q[k] - centre(s, k, k ? (size_t) i1 : (size_t) i0)) * s->w[k] - 0.5 * s->beta[k];
                if (t > 0) d2 += t * t;
            }
            dn2 = fmin(dn2, d2);
        }
    double logscale, alow = 0;
    if (dn2 <= 16) {
        logscale = -0.5 * dn2;
        for (long i1 = ib[1] - 2; i1 <= ib[1] + 2; i1++)
            for (long i0 = ib[0] - 2; i0 <= ib[0] + 2; i0++) {
                if (i0 < 0 || i1 < 0 || i0 >= n0 || i1 >= n1) continue;
                size_t b = (size_t) i0 + s->nbk[0] * (size_t) i1;
                if (!KEYS(b)) continue;
                double f2 = 0;
                for (size_t k = 0; k < 2; k++) {
                    double t = fabs(q[k] - centre(s, k, k ? (size_t) i1 : (size_t) i0)) * s->w[k] + 0.5 * s->beta[k];
                    f2 += t * t;
                }
                alow = fmax(alow, (double) KEYS(b) * exp(fmax(-0.5 * f2 - logscale, MIN_EXP_ARG)));
            }
    } else {
        /* far from the data: the largest log-weight itself */
        double best = INFINITY;
        for (size_t i = 0; i < s->n_nonempty; i++) {
            size_t b = s->nonempty[i];
            if (!KEYS(b)) continue;
            double d2 = 0;
            for (size_t k = 0; k < 2; k++) {
                size_t ik = k ? b / s->nbk[0] : b % s->nbk[0];
                double t = fabs(q[k] - centre(s, k, ik)) * s->w[k] - 0.5 * s->beta[k];
                if (t > 0) d2 += t * t;
            }
            if (d2 > best * (1 + 1e-9) + 1) continue;
            for (size_t t = s->start[b]; t < s->start[b + 1]; t++) {
                if (t == ts) continue;
                double u0 = (q[0] - s->xs[t * 2]) * s->w[0], u1 = (q[1] - s->xs[t * 2 + 1]) * s->w[1];
                best = fmin(best, u0 * u0 + u1 * u1);
            }
        }
        if (best == INFINITY) return 0;   /* no key left: every sum is 0 */
        logscale = -0.5 * best;
        alow = 1;
    }
    const double budget = e->tol * BUDGET_FRAC * alow * (exact ? 1e-6 : 1);
    /* the square: the smallest R whose outside fits a quarter of the budget */
    const long Rall = n0 > n1 ? n0 : n1;
    const double total = (double) (s->start[s->nb]) - (bs != SIZE_MAX);
    const int amax = amax_of(s);
    double shm = fmax(fabs(acc->sh[0]), fabs(acc->sh[1]));
    long R = R_MIN;
    double out = 0;
    for (;;) {
        if (R >= Rall) { out = 0; break; }
        double in = rect(s, ib[0] - R, ib[0] + R, ib[1] - R, ib[1] + R, 0) - (bs != SIZE_MAX &&
                   labs((long) (bs % s->nbk[0]) - ib[0]) <= R && labs((long) (bs / s->nbk[0]) - ib[1]) <= R);
        out = total - in;
        if (out <= 0) { out = 0; break; }
        double g = (double) R * fmin(s->beta[0], s->beta[1]);
        double t = out * pow(g + shm, amax) * 3 * exp(fmin(-0.5 * g * g - logscale, 700));
        if (t <= budget / 4) break;
        R = R < 16 ? R + 1 : R + R / 4;
    }
    if (out > 0) {
        /* the tail bound of every sum */
        for (size_t set = 0; set < s->ns; set++) {
            double o = set == 0 ? out : rect(s, 0, n0 - 1, 0, n1 - 1, set) -
                                        rect(s, ib[0] - R, ib[0] + R, ib[1] - R, ib[1] + R, set);
            if (set && bs != SIZE_MAX) o += fabs(s->ys[ts * s->p + set - 1]);
            size_t nl = set ? s->ny : s->n1;
            const int (*ex_)[2] = set ? s->exy : s->ex1;
            for (size_t i = 0; i < nl; i++) {
                int a0 = ex_[i][0], a1 = ex_[i][1];
                double tt = 0;
                for (size_t k = 0; k < 2; k++) {
                    double g = (double) R * s->beta[k];
                    int ak = k ? a1 : a0, ao = k ? a0 : a1;
                    double cm = 0;   /* max (|u| + |sh|)^ao e^{-u^2/2} <= sum C(ao,i) |sh|^(ao-i) cmax[i] */
                    double shk = fabs(acc->sh[1 - k]);
                    for (int ii = 0; ii <= ao; ii++)
                        cm += tgamma(ao + 1.0) / (tgamma(ii + 1.0) * tgamma(ao - ii + 1.0)) * pow(shk, ao - ii) * s->cmax[ii];
                    tt = fmax(tt, pow(g + fabs(acc->sh[k]), ak) * cm * exp(fmin(-0.5 * g * g - logscale, 700)));
                }
                acc->E[sum_id(s, set, a0, a1)] += o * tt;
            }
        }
    }
    const double budget_box = budget / 2 / (double) ((2 * R + 1) * (2 * R + 1));
    int self = 0;
    for (long i1 = ib[1] - R; i1 <= ib[1] + R; i1++) {
        if (i1 < 0 || i1 >= n1) continue;
        for (long i0 = ib[0] - R; i0 <= ib[0] + R; i0++) {
            if (i0 < 0 || i0 >= n0) continue;
            size_t b = (size_t) i0 + s->nbk[0] * (size_t) i1;
            size_t cnt = s->start[b + 1] - s->start[b];
            if (!cnt) continue;
            double tau[2], dist[2];
            for (size_t k = 0; k < 2; k++) {
                tau[k] = (q[k] - centre(s, k, k ? (size_t) i1 : (size_t) i0)) * s->w[k];
                dist[k] = fmax(fabs(tau[k]) - 0.5 * s->beta[k], 0);
            }
            size_t P = 0;
            if (!exact && s->slot[b] != SIZE_MAX && cnt >= DIRECT_KEYS) {
                for (size_t k = 6; k <= s->P; k += 2) {
                    if ((double) (k * k * (s->ns * 3)) > (double) cnt * (4 + 0.5 * (double) s->nf)) break;
                    if ((double) cnt * trunc_worst(s, k, tau, dist, logscale) <= budget_box) { P = k; break; }
                }
            }
            if (P) {
                box_expand(s, b, tau, dist, logscale, P, acc);
                if (b == bs) self = 1;
            } else {
                box_direct(s, b, q, logscale, ts, acc);
            }
        }
    }
#undef KEYS
    for (size_t f = 0; f < s->nf; f++) {
        acc->D[f] = (double) acc->LD[f];
        acc->E[f] += (1.01 * 0x1p-64 * acc->visited + UNIT) * acc->ABS[f];
    }
    if (self) key_terms(s, q, ts, logscale, -1, acc);
    return logscale;
}

/* The local sums at a query in target box T: Horner in s_0 for every
 * power of s_1 at once (rows l0 of the transposed coefficients), then
 * Horner in s_1. */
NW_TARGET_CLONES
static void local_eval(const fgt2_state *s, size_t T, const double *q, fgt2_acc *acc)
{
    const size_t P = s->P, nf = s->nf, blk = P * PP;
    double sq[2];
    for (size_t k = 0; k < 2; k++)
        sq[k] = (q[k] - centre(s, k, k ? T / s->nbk[0] : T % s->nbk[0])) * s->w[k];
    const double *L = loc_block(s, T), *E = s->loc_err + T * nf;
    /* four sums at a time (a missing one is zeros), so that their Horner
     * chains in s_1 -- P dependent steps each, most of the time here --
     * run side by side; every sum's operations are as one at a time */
    for (size_t f0 = 0; f0 < nf; f0 += 4) {
        double h[4][PP];
        for (size_t g = 0; g < 4; g++) {
            if (f0 + g >= nf) {
                for (size_t c = 0; c < PP; c++) h[g][c] = 0;
                continue;
            }
            const double *Lf = L + (f0 + g) * blk;
            double hr[PP];   /* (in registers while the rows go by) */
            for (size_t c = 0; c < PP; c++) hr[c] = Lf[(P - 1) * PP + c];
            for (size_t l0 = P - 1; l0-- > 0;) {
                const double *r = Lf + l0 * PP;
#pragma omp simd
                for (size_t c = 0; c < PP; c++) hr[c] = hr[c] * sq[0] + r[c];
            }
            memcpy(h[g], hr, sizeof hr);
        }
        double v0 = h[0][P - 1], v1 = h[1][P - 1], v2 = h[2][P - 1], v3 = h[3][P - 1];
        for (size_t l1 = P - 1; l1-- > 0;) {
            v0 = v0 * sq[1] + h[0][l1];
            v1 = v1 * sq[1] + h[1][l1];
            v2 = v2 * sq[1] + h[2][l1];
            v3 = v3 * sq[1] + h[3][l1];
        }
        const double v[4] = { v0, v1, v2, v3 };
        for (size_t g = 0; g < 4 && f0 + g < nf; g++) {
            acc->D[f0 + g] = v[g];
            acc->E[f0 + g] = E[f0 + g];
        }
    }
}

static void fgt2_sums(const nw_engine *e, const double *q, size_t skip, int exact, nw_moments *mo)
{
    const nw_problem *pb = e->pb;
    const fgt2_state *s = e->state;
    const size_t p = pb->p, r = mo->r, nf = s->nf;
    fgt2_acc *acc = acc_get(mo, nf);
    if (!acc) {   /* no memory for the scratch: the dense engine needs none */
        nw_engine_dense(pb, q, skip, mo);
        return;
    }
    memset(acc->D, 0, 3 * nf * sizeof(double));
    for (size_t f = 0; f < nf; f++) acc->LD[f] = 0;
    acc->visited = 0;
    double sh[2] = { 0, 0 };
    if (exact)
        for (size_t k = 0; k < 2; k++) sh[k] = mo->shift[k];
    /* in |w| units the slope column is sgn (u - sh) = u' - sgn sh */
    for (size_t k = 0; k < 2; k++) acc->sh[k] = s->sgn[k] * sh[k];
    double logscale = 0;
    int done = 0;
    if (!exact && s->loc_ok) {
        size_t bi[2];
        int inside = 1;
        for (size_t k = 0; k < 2; k++) {
            double f = floor(q[k] / s->wbox[k]) - s->k0[k];
            if (!(f >= 0 && f < (double) s->nbk[k])) inside = 0;
            else bi[k] = (size_t) f;
        }
        if (inside) {
            size_t T = bi[0] + s->nbk[0] * bi[1];
            if (s->loc_ok[T]) {
                local_eval(s, T, q, acc);
                if (skip != NW_NO_SKIP) key_terms(s, q, s->pos ? s->pos[skip] : skip, 0, -1, acc);
                done = 1;
            }
        }
    }
    if (!done) logscale = perquery(e, q, skip, exact, acc);

    /* signs of w: odd powers of u_k flip */
    for (size_t f = 0; f < nf; f++) {
        const int *ex = f < s->n1 ? s->ex1[f] : s->exy[(f - s->n1) % s->ny];
        if (((ex[0] & 1) && s->sgn[0] < 0) != ((ex[1] & 1) && s->sgn[1] < 0)) acc->D[f] = -acc->D[f];
    }
    /* the moments of engine.h: phi = (1, u0 - sh0, u1 - sh1), rho_k = -u_k^2
     * = -(uc_k + sh_k)^2 */
    mo->logscale = logscale;
    mo->approx = 1;
    static const int e_[3][2] = { { 0, 0 }, { 1, 0 }, { 0, 1 } };
    double *A = mo->A, *B = mo->B, *eA = mo->errA, *eB = mo->errB;
#define S1(a0, a1) acc->D[sum_id(s, 0, (a0), (a1))]
#define SY(c, a0, a1) acc->D[sum_id(s, 1 + (c), (a0), (a1))]
    for (size_t i = 0; i < r; i++) {
        for (size_t j = 0; j < r; j++) {
            int id = sum_id(s, 0, e_[i][0] + e_[j][0], e_[i][1] + e_[j][1]);
            A[i * r + j] = acc->D[id];
            eA[i * r + j] = acc->E[id];
        }
        for (size_t c = 0; c < p; c++) {
            int id = sum_id(s, 1 + c, e_[i][0], e_[i][1]);
            B[i * p + c] = acc->D[id];
            eB[i * p + c] = acc->E[id];
        }
    }
    if (pb->grad)
        for (size_t k = 0; k < 2; k++) {
            double *dA = mo->dA + k * r * r, *dB = mo->dB + k * r * p;
            int ek0 = k == 0, ek1 = k == 1;
            double h = sh[k];
            for (size_t i = 0; i < r; i++) {
                for (size_t j = 0; j < r; j++) {
                    int b0 = e_[i][0] + e_[j][0], b1 = e_[i][1] + e_[j][1];
                    double v = S1(b0 + 2 * ek0, b1 + 2 * ek1);
                    if (h != 0) v += 2 * h * S1(b0 + ek0, b1 + ek1) + h * h * S1(b0, b1);
                    dA[i * r + j] = -v;
                }
                for (size_t c = 0; c < p; c++) {
                    int b0 = e_[i][0], b1 = e_[i][1];
                    double v = SY(c, b0 + 2 * ek0, b1 + 2 * ek1);
                    if (h != 0) v += 2 * h * SY(c, b0 + ek0, b1 + ek1) + h * h * SY(c, b0, b1);
                    dB[i * p + c] = -v;
                }
            }
        }
#undef S1
#undef SY
}

static void fgt2_moments(const nw_engine *e, const double *q, size_t skip, nw_moments *mo)
{
    fgt2_sums(e, q, skip, 0, mo);
}

/* The second try (see engine_fgt.c): direct sums in long double over the
 * boxes that matter, the rest bounded, honouring mo->shift. */
static void fgt2_moments_exact(const nw_engine *e, const double *q, size_t skip, nw_moments *mo)
{
    fgt2_sums(e, q, skip, 1, mo);
}

static nw_status fgt2_init_here(nw_engine *e, const nw_fgt2_plan *plan)
{
    nw_status st = fgt2_setup(e, plan);
    if (st == NW_OK) {
        const fgt2_state *s = e->state;
        e->moments = fgt2_moments;
        /* the second try sums every box within ~11 scaled units of the
         * query directly (scalar, long double): where that is a quarter of
         * the boxes or more (n = 2e5 at Scott's bandwidth: 2.4 ms a query,
         * most of a 2.6 s prediction whose answers near 0 need it), the
         * dense engine, on prepared keys after a few fallbacks
         * (nw_engine_fallback), is the cheaper last resort */
        double within = 1;
        for (size_t k = 0; k < 2; k++) within *= fmin((double) s->nbk[k], 2 * 11 / s->beta[k] + 1);
        e->moments_exact = within < 0.25 * (double) s->nb ? fgt2_moments_exact : NULL;
        e->free_state = fgt2_free;
        if (s->stream) {
            e->regions = s->nbk[0];
            e->region_group = s->stream->group;
            e->region_of = fgt2_region_of;
            e->region_build = fgt2_region_build;
        }
    }
    return st;
}

#ifdef FGT2_WIDE
nw_status nw_fgt2_init(nw_engine *e)
{
    nw_fgt2_plan plan;
    nw_fgt2_plan_for(e->pb, e->m, e->tol, &plan);
    if (plan.rows < PP) return nw_fgt2_init_narrow(e, &plan);
    return fgt2_init_here(e, &plan);
}

nw_status nw_fgt2_init_wide(nw_engine *e)
{
    nw_fgt2_plan plan;
    nw_fgt2_plan_for(e->pb, e->m, e->tol, &plan);
    return fgt2_init_here(e, &plan);
}

/* The keys' box order for the plan nw_fgt2_init would take (engine.h's
 * arrange): box by box in fgt2_setup's numbering, each box's keys in their
 * present order, so keys already so give order[k] = k. */
int nw_fgt2_arrange(const nw_problem *pb, size_t m, double tol, uint32_t *order)
{
    nw_fgt2_plan plan;
    nw_fgt2_plan_for(pb, m, tol, &plan);
    fgt2_state g;
    double wbox[2], beta[2], k0[2], nbk[2];
    if (!isfinite(plan.cost) || !grid_of(pb, plan.coarse, wbox, beta, k0, nbk)) return 0;
    memset(&g, 0, sizeof g);
    for (size_t k = 0; k < 2; k++) {
        g.wbox[k] = wbox[k];
        g.k0[k] = k0[k];
        g.nbk[k] = (size_t) nbk[k];
    }
    const size_t n = pb->n, nb = g.nbk[0] * g.nbk[1];
    size_t *fill = calloc(nb + 1, sizeof *fill);
    if (!fill) return -1;
    for (size_t j = 0; j < n; j++) fill[box_index(&g, pb->x + j * 2) + 1]++;
    for (size_t b = 0; b < nb; b++) fill[b + 1] += fill[b];
    for (size_t j = 0; j < n; j++) order[fill[box_index(&g, pb->x + j * 2)]++] = (uint32_t) j;
    free(fill);
    return 1;
}
#else
nw_status nw_fgt2_init_narrow(nw_engine *e, const nw_fgt2_plan *plan)
{
    return fgt2_init_here(e, plan);
}
#endif
