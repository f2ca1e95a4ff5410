/*
 * engine_fgt.c: the fast Gauss transform for d = 1 and the Gaussian kernel,
 * with a certified error.
 *
 * Keys are bucketed into boxes of width BETA = 1 in scaled units (1/w in x).
 * Box b has centre c_b; for a key x in it and a query q write
 *
 *     u = (q - x) w = tau + v,   tau = (q - c_b) w,   v = (c_b - x) w,  |v| <= rho = 1/2.
 *
 * Every moment the estimators need is a sum over keys of f g_a(u) with
 * g_a(u) = u^a e^{-u^2/2}, f = 1 or y_c and a = 0..4 (local constant: a = 0,
 * its bandwidth gradient a = 2; local linear: a <= 2, gradient a <= 4).
 * Taylor in v about tau:
 *
 *     sum_{x in b} f g_a(tau + v) = sum_{k < P} g_a^(k)(tau) M_k[f] + R_P,
 *     M_k[f] = sum_{x in b} f v^k / k!           (the box's moments),
 *     g_a^(k) = sum_{i <= min(a,k)} C(k,i) a!/(a-i)! tau^(a-i) g_0^(k-i),
 *     g_0^(k)(s) = (-1)^k He_k(s) e^{-s^2/2}      (probabilists' Hermite),
 *
 * and by Lagrange's remainder and Cramer's inequality
 * |He_k(s)| e^{-s^2/4} <= K sqrt(k!), K = 1.086435,
 *
 *     |R_P| <= sum |f| rho^P / P! sum_{i<=a} C(P,i) a!/(a-i)! (|tau| + rho)^(a-i)
 *                     K sqrt((P-i)!) e^{-dist^2/4}                 (trunc_bound)
 *
 * dist = max(|tau| - rho, 0), the query's distance to the box.  The
 * rounding of the expansion (large where its terms cancel) is bounded too.
 *
 * Two modes, the cheaper for the expected number of queries:
 *  - per query (perquery_sums): walk the boxes outward from the query's,
 *    expanding each with the fewest terms that meet its share of the budget,
 *    summing small or far boxes directly;
 *  - local (build_locals, local_sums): for every box T, the Taylor
 *    coefficients about c_T of all the sums above (a second expansion in the
 *    query's offset s, see the comment there); a query then costs one Horner
 *    sum of P_LOC terms per moment.  Queries in boxes the local expansions
 *    cannot certify (far from the data) use the per-query mode.
 *
 * Far boxes are pruned: a key at distance >= dist carries at most
 * e^{-dist^2/2}, and |u|^a e^{-u^2/2} decreases for |u| > sqrt(a), so the
 * keys from a box outward add at most count * dist^a e^{-dist^2/2}
 * (dist >= 2).  The budget for everything neglected is tol/1024 of a lower
 * bound on sum_j K_j (the nearest box's keys, at its far edge): errA/errB
 * carry all of it to the estimator, which certifies each prediction (or
 * recomputes it densely).
 *
 * Leave-one-out subtracts the key's own term after the sum; the
 * estimator's check catches the cancellation this can cause.
 *
 * Everything is in scaled form: logscale = -dist_min^2/2 for the nearest
 * non-empty box, so no sum overflows or underflows.
 */
#define _DEFAULT_SOURCE /* lgamma_r */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "exp2_poly.h"

/* lgamma writes the global signgam: two threads calling it race (found by
 * ThreadSanitizer, scripts/tsan).  lgamma_r returns the sign instead. */
static double lgamma_nosign(double x)
{
    int sign;
    return lgamma_r(x, &sign);
}

#define BETA 1.0          /* box width in scaled units: |v| <= 1/2 */
#define P_MAX 40          /* most Taylor terms */
#define P_LOC 30          /* terms of the local (target) expansions (even: local_sums) */
#define LOC_REACH 13      /* boxes a local expansion may gather from, each side */
#define AMAX 4            /* largest power of u any moment needs */
#define DIRECT_DIST 12.0  /* per-query mode: farther boxes are summed directly */
#define DIRECT_KEYS 24    /* per-query mode: boxes of no more keys are summed directly */
#define CRAMER_K 1.086435
#define MIN_EXP_ARG (-700.0)

typedef struct fgt_state {
    size_t nb;            /* boxes */
    double x0, wbox;      /* box b covers [x0 + b wbox, x0 + (b+1) wbox) */
    double w;             /* the scale */
    size_t *start;        /* nb + 1 offsets into the bucketed keys */
    double *xs, *ys;      /* keys and values in box order (n, n x p); in the
                             local mode made only when needed (ensure_buckets) */
    uint32_t *idx;        /* their original indices (n <= UINT32_MAX: fgt_cost) */
    double *centre;       /* nb box centres (x units) */
    size_t na1, nay;      /* powers of u needed: 0..na1-1 for f = 1, 0..nay-1 for y */
    size_t nf;            /* sums per query: na1 + p nay (D_a[1], D_a[y_c]) */
    size_t ns;            /* moment sets per box: 1 + p (f = 1, y_c) */
    size_t nfp;           /* nf rounded up to a multiple of 4 (local layout) */
    double *mom;          /* per box with a slot, ns x P_MAX: M_k[f] = sum f v^k / k! */
    size_t *slot;         /* nb: the box's moments are mom + slot ns P_MAX
                             (SIZE_MAX: none -- the box is always summed directly) */
    int local;            /* local expansions were asked for */
    atomic_int bucketed;  /* xs, ys, idx are made (NULL if there was no memory) */
    pthread_mutex_t bucket_lock;
    int lock_made;
    size_t pmom;          /* moments M_k computed for k < pmom: P_LOC in the
                             local mode (its translations use no more), else P_MAX */
    double *absy;         /* nb x p: sum |y_c| */
    double *cum_count;    /* nb + 1 prefix counts */
    double *cum_absy;     /* (nb + 1) x p prefix sums of |y_c| */
    size_t *next_left, *next_right; /* nearest non-empty box at or left/right of b (nb = none) */
    double half_beta_pow[P_MAX + 1];/* (BETA/2)^k / k! */
    /* local mode: per target box T (the same grid), the Taylor coefficients
     * about its centre of every sum, nb x P_LOC x nf, their absolute error
     * bounds (nb x nf), the box's logscale, and whether T has them */
    double *loc, *loc_err, *loc_logscale;
    unsigned char *loc_ok;
    /* the same coefficients in long double with their (2^11 x smaller)
     * rounding bounds: the second try (fgt_moments_exact) where the first
     * one's bound misses the tolerance (local linear at the data's edge).
     * Made per target box when first asked for (ensure_ld; under
     * bucket_lock): loc_ld[T] is NULL until then, else nfp x P_LOC long
     * doubles followed by the nf bounds.  NULL (the array) where long
     * double is no wider than double, or for local constant. */
    _Atomic(long double *) *loc_ld;
    double tol;                 /* the tolerance the expansions were made for */
    struct offset_table *tab;   /* local mode: the translation tables (ensure_ld) */
} fgt_state;

/* Powers of u needed per f: local constant 1 (gradient: 3), local linear 3 for
 * f = 1 and 2 for y (gradient: 5 and 4). */
static void powers_needed(const nw_problem *pb, size_t *na1, size_t *nay)
{
    if (pb->linear) { *na1 = pb->grad ? 5 : 3; *nay = pb->grad ? 4 : 2; }
    else            { *na1 = pb->grad ? 3 : 1; *nay = pb->grad ? 3 : 1; }
}

static int data_range(const nw_problem *pb, double *lo, double *hi)
{
    if (pb->n == 0) return 0;
    double a = pb->x[0], b = pb->x[0];
#pragma omp simd reduction(min:a) reduction(max:b)
    for (size_t j = 1; j < pb->n; j++) {
        double v = pb->x[j];
        a = v < a ? v : a;
        b = v > b ? v : b;
    }
    *lo = a; *hi = b;
    return 1;
}

static double boxes_for(const nw_problem *pb, double lo, double hi)
{
    return floor((hi - lo) * fabs(pb->w[0]) / BETA) + 1;
}

static double fgt_cost(const nw_problem *pb, size_t m, double tol)
{
    double lo, hi;
    if (pb->d == 2) return nw_fgt2_cost(pb, m, tol);   /* engine_fgt2.c */
    if (pb->d != 1 || pb->kernel != NW_KERNEL_GAUSSIAN || pb->n > UINT32_MAX ||
        !data_range(pb, &lo, &hi))
        return INFINITY;
    double nb = boxes_for(pb, lo, hi);
    if (!(nb <= 4.0 * (double) pb->n + 64)) return INFINITY;
    size_t na1, nay;
    powers_needed(pb, &na1, &nay);
    double nf = (double) (na1 + pb->p * nay);
    /* per-query mode: pruning keeps boxes within ~9 scaled units of the
     * query, each summed directly (few keys) or expanded (~25 terms, a term
     * ~1/4 of a dense evaluation); local mode: the translations, then
     * P_LOC terms per sum and query.  The cheaper is taken in init. */
    double keys_per_box = (double) pb->n / nb;
    double boxes = fmin(nb, 2 * 9.0 / BETA + 1);
    double per_query = boxes * fmin(keys_per_box, 25 * (2 + nf) / 4);
    double local = nb * (2 * LOC_REACH + 1) * nf * P_LOC * P_LOC / 16 + (double) m * P_LOC * nf / 4;
    double setup = (double) pb->n * (2 + (1.0 + (double) pb->p) * P_MAX / 4.0);
    return setup + fmin((double) m * per_query, local);
}

static void fgt_free(void *p)
{
    fgt_state *s = p;
    if (!s) return;
    free(s->start); free(s->xs); free(s->ys); free(s->idx); free(s->centre);
    free(s->mom); free(s->slot); free(s->absy); free(s->cum_count); free(s->cum_absy);
    free(s->next_left); free(s->next_right);
    free(s->loc); free(s->loc_err); free(s->loc_logscale); free(s->loc_ok);
    if (s->loc_ld)
        for (size_t T = 0; T < s->nb; T++) free(atomic_load_explicit(&s->loc_ld[T], memory_order_relaxed));
    free((void *) s->loc_ld); free(s->tab);
    if (s->lock_made) pthread_mutex_destroy(&s->bucket_lock);
    free(s);
}

static size_t box_of(const fgt_state *s, double x)
{
    double b = floor((x - s->x0) / s->wbox);
    if (!(b >= 0)) return 0;
    if (b >= (double) s->nb) return s->nb - 1;
    return (size_t) b;
}

static nw_status build_locals(fgt_state *s, const nw_problem *pb, double tol);

/* One copy per instruction set, picked at load time (as in engine_dense.c):
 * the moments loop below runs 8 lanes with AVX-512 instead of SSE2's 2. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(__SANITIZE_THREAD__) && !defined(NW_COVERAGE)
#define FGT_TARGET_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FGT_TARGET_CLONES
#endif

#define BATCH 256

/* Add the moments M_k[f] = sum f v^k / k! (k < pmom; f = 1, y_1..y_p; row
 * f of mb has stride P_MAX) of nt <= BATCH keys xs (values ys, n x p) about
 * centre, v = (centre - x) w, in one pass per k across the keys (SIMD):
 * t = v^k / k! advances by t *= v / (k + 1); and sum |y_c| into absy (p).
 * buf: (2 + p) BATCH doubles. */
FGT_TARGET_CLONES
static void batch_moments(const double *xs, const double *ys, size_t nt, size_t p, double centre,
                          double w, size_t pmom, const double *inv, double *buf, double *mb,
                          double *absy)
{
    double *v = buf, *tt = buf + BATCH, *wy = buf + 2 * BATCH;
    for (size_t t = 0; t < nt; t++) {
        v[t] = (centre - xs[t]) * w;
        tt[t] = 1;
        for (size_t c = 0; c < p; c++) {
            wy[c * BATCH + t] = ys[t * p + c];
            absy[c] += fabs(ys[t * p + c]);
        }
    }
    for (size_t k = 0; k < pmom; k++) {
        const double ik = inv[k];
        if (p == 1) {
            /* the common case, fused: one pass over the batch per k */
            double a0 = 0, a1 = 0;
#pragma omp simd reduction(+:a0, a1)
            for (size_t t = 0; t < nt; t++) {
                double tv = tt[t];
                a0 += tv;
                a1 += wy[t] * tv;
                tt[t] = tv * (v[t] * ik);
            }
            mb[k] += a0;
            mb[P_MAX + k] += a1;
            continue;
        }
        double a0 = 0;
#pragma omp simd reduction(+:a0)
        for (size_t t = 0; t < nt; t++) a0 += tt[t];
        mb[k] += a0;
        for (size_t c = 0; c < p; c++) {
            const double *wf = wy + c * BATCH;
            double acc = 0;
#pragma omp simd reduction(+:acc)
            for (size_t t = 0; t < nt; t++) acc += wf[t] * tt[t];
            mb[(1 + c) * P_MAX + k] += acc;
        }
#pragma omp simd
        for (size_t t = 0; t < nt; t++) tt[t] *= v[t] * ik;
    }
}

/* Bucketing the keys into boxes is a stable counting sort, so the order
 * within a box is the keys' order and the result is the same however many
 * threads run it.  Large inputs are cut into `slices` fixed slices (not one
 * per thread) counted and scattered in parallel: slice c's keys of box b go
 * after those of slices < c. */
#define SLICES 16
static size_t slices_for(const fgt_state *s, size_t n)
{
    /* per-slice counters cost SLICES nb: only where boxes are few */
    return n >= 200000 && s->nb <= n / 64 ? SLICES : 1;
}

/* Count the keys per slice and box (cnt: slices x nb, zeroed). */
static void count_keys(const fgt_state *s, const nw_problem *pb, size_t slices, size_t *cnt)
{
    const size_t n = pb->n, nb = s->nb;
#pragma omp parallel for schedule(static, 1) if (slices > 1) num_threads(nw_pb_threads(pb))
    for (size_t c = 0; c < slices; c++) {
        size_t *cc = cnt + c * nb;
        for (size_t j = c * n / slices; j < (c + 1) * n / slices; j++) cc[box_of(s, pb->x[j])]++;
    }
}

/* Copy the keys, values and indices into box order (xs, ys, idx), from the
 * per-slice counts of count_keys (overwritten). */
static void scatter_keys(fgt_state *s, const nw_problem *pb, size_t slices, size_t *cnt)
{
    const size_t n = pb->n, p = pb->p, nb = s->nb;
    for (size_t b = 0; b < nb; b++) {
        size_t at = s->start[b];
        for (size_t c = 0; c < slices; c++) {
            size_t k = cnt[c * nb + b];
            cnt[c * nb + b] = at;
            at += k;
        }
    }
#pragma omp parallel for schedule(static, 1) if (slices > 1) num_threads(nw_pb_threads(pb))
    for (size_t c = 0; c < slices; c++) {
        size_t *cc = cnt + c * nb;
        for (size_t j = c * n / slices; j < (c + 1) * n / slices; j++) {
            size_t t = cc[box_of(s, pb->x[j])]++;
            s->xs[t] = pb->x[j];
            for (size_t k = 0; k < p; k++) s->ys[t * p + k] = pb->y[j * p + k];
            s->idx[t] = (uint32_t) j;
        }
    }
}

/* The keys in box order, made on first use where the local mode did
 * without them (a query it cannot serve, the exact mode): several threads
 * may ask at once.  Returns 0 if there is no memory for them. */
static int ensure_buckets(fgt_state *s, const nw_problem *pb)
{
    if (atomic_load_explicit(&s->bucketed, memory_order_acquire)) return s->xs != NULL;
    pthread_mutex_lock(&s->bucket_lock);
    if (!atomic_load_explicit(&s->bucketed, memory_order_relaxed)) {
        size_t slices = slices_for(s, pb->n);
        size_t *cnt = calloc(slices * s->nb, sizeof *cnt);
        s->xs = malloc(pb->n * sizeof *s->xs);
        s->ys = malloc(pb->n * pb->p * sizeof *s->ys);
        s->idx = malloc(pb->n * sizeof *s->idx);
        if (cnt && s->xs && s->ys && s->idx) {
            count_keys(s, pb, slices, cnt);
            scatter_keys(s, pb, slices, cnt);
        } else {
            free(s->xs); free(s->ys); free(s->idx);
            s->xs = s->ys = NULL;
            s->idx = NULL;
        }
        free(cnt);
        atomic_store_explicit(&s->bucketed, 1, memory_order_release);
    }
    pthread_mutex_unlock(&s->bucket_lock);
    return s->xs != NULL;
}

/* The local mode's moments straight from the keys in their own order (no
 * copy of the data: memory), for few boxes: each fixed slice of keys is
 * bucketed a chunk at a time into a small buffer and its moments summed
 * per box into the slice's partial moments, and the partials are added in
 * slice order (the same sums however many threads).  The slices go in
 * groups of `group`, each group's partials added before the next group
 * starts (memory: with many boxes the partials of all slices at once took
 * 5x the keys' size; the additions keep their order, so the sums do not
 * change).  part: group x nb x ns x P_MAX and group x nb x p (absy)
 * doubles, zeroed.  Returns 0 if a thread found no memory for its buffer. */
#define CHUNK 32768
static int unsorted_moments(fgt_state *s, const nw_problem *pb, size_t slices, size_t group,
                            double *part, double *part_absy, const double *inv)
{
    const size_t n = pb->n, p = pb->p, nb = s->nb, ns = s->ns;
    int failed = 0;
#pragma omp parallel num_threads(nw_pb_threads(pb))
    {
        double *kx = malloc(CHUNK * (1 + p) * sizeof(double));
        double *buf = malloc((2 + p) * BATCH * sizeof(double));
        size_t *fill = malloc((nb + 1) * sizeof *fill);
        if (!kx || !buf || !fill) {
#pragma omp atomic write
            failed = 1;
        }
        double *ky = kx ? kx + CHUNK : NULL;
        for (size_t c0 = 0; c0 < slices; c0 += group) {
            const size_t c1 = slices - c0 < group ? slices : c0 + group;
#pragma omp for schedule(dynamic, 1)
            for (size_t c = c0; c < c1; c++) {
                if (!kx || !buf || !fill) continue;
                double *mc = part + (c - c0) * nb * ns * P_MAX, *ac = part_absy + (c - c0) * nb * p;
                for (size_t j0 = c * n / slices, j1 = (c + 1) * n / slices; j0 < j1; j0 += CHUNK) {
                    size_t len = j1 - j0 < CHUNK ? j1 - j0 : CHUNK;
                    memset(fill, 0, (nb + 1) * sizeof *fill);
                    for (size_t j = j0; j < j0 + len; j++) fill[box_of(s, pb->x[j]) + 1]++;
                    for (size_t b = 0; b < nb; b++) fill[b + 1] += fill[b];
                    for (size_t j = j0; j < j0 + len; j++) {
                        size_t t = fill[box_of(s, pb->x[j])]++;
                        kx[t] = pb->x[j];
                        for (size_t k = 0; k < p; k++) ky[t * p + k] = pb->y[j * p + k];
                    }
                    /* fill[b] is now the end of box b's run */
                    for (size_t b = 0, t0 = 0; b < nb; t0 = fill[b], b++)
                        for (size_t t = t0; t < fill[b]; t += BATCH) {
                            size_t nt = fill[b] - t < BATCH ? fill[b] - t : BATCH;
                            batch_moments(kx + t, ky + t * p, nt, p, s->centre[b], s->w, s->pmom, inv,
                                          buf, mc + b * ns * P_MAX, ac + b * p);
                        }
                }
            }
#pragma omp single
            {
                for (size_t b = 0; b < nb; b++) {
                    if (s->slot[b] == SIZE_MAX) continue;
                    double *mb = s->mom + s->slot[b] * ns * P_MAX;
                    for (size_t c = c0; c < c1; c++) {
                        const double *mc = part + ((c - c0) * nb + b) * ns * P_MAX;
                        for (size_t i = 0; i < ns * P_MAX; i++) mb[i] += mc[i];
                        for (size_t k = 0; k < p; k++)
                            s->absy[b * p + k] += part_absy[((c - c0) * nb + b) * p + k];
                    }
                }
                if (c1 < slices) {
                    memset(part, 0, group * nb * ns * P_MAX * sizeof *part);
                    memset(part_absy, 0, group * nb * p * sizeof *part_absy);
                }
            }
        }
        free(kx);
        free(buf);
        free(fill);
    }
    return !failed;
}

/* Bucket the keys into boxes (counting sort) and compute each box's moments. */
static nw_status fgt_init(nw_engine *e)
{
    const nw_problem *pb = e->pb;
    const size_t n = pb->n, p = pb->p;
    double lo, hi;
    if (!isfinite(fgt_cost(pb, 1, e->tol)) || !data_range(pb, &lo, &hi)) return NW_ERR_ARG;
    fgt_state *s = calloc(1, sizeof *s);
    if (!s) return NW_ERR_NOMEM;
    s->w = fabs(pb->w[0]);
    s->nb = (size_t) boxes_for(pb, lo, hi);
    s->wbox = BETA / s->w;
    /* centre the boxes on the data's span */
    s->x0 = 0.5 * (lo + hi) - 0.5 * (double) s->nb * s->wbox;
    powers_needed(pb, &s->na1, &s->nay);
    s->nf = s->na1 + p * s->nay;
    s->ns = 1 + p;
    s->nfp = (s->nf + 3) & ~(size_t) 3;
    const size_t nb = s->nb;
    s->start = calloc(nb + 1, sizeof *s->start);
    s->centre = malloc(nb * sizeof *s->centre);
    s->slot = malloc(nb * sizeof *s->slot);
    s->absy = calloc(nb * p, sizeof *s->absy);
    s->cum_count = malloc((nb + 1) * sizeof *s->cum_count);
    s->cum_absy = malloc((nb + 1) * p * sizeof *s->cum_absy);
    s->next_left = malloc(nb * sizeof *s->next_left);
    s->next_right = malloc(nb * sizeof *s->next_right);
    const size_t slices = slices_for(s, n);
    size_t *cnt = calloc(slices * nb, sizeof *cnt);
    if (!s->start || !s->centre || !s->slot || !s->absy || !s->cum_count || !s->cum_absy ||
        !s->next_left || !s->next_right || !cnt) {
        free(cnt);
        fgt_free(s);
        return NW_ERR_NOMEM;
    }
    pthread_mutex_init(&s->bucket_lock, NULL);
    s->lock_made = 1;
    count_keys(s, pb, slices, cnt);
    size_t at = 0;
    for (size_t b = 0; b < nb; b++) {
        s->start[b] = at;
        for (size_t c = 0; c < slices; c++) at += cnt[c * nb + b];
    }
    s->start[nb] = at;
    for (size_t b = 0; b < nb; b++) s->centre[b] = s->x0 + ((double) b + 0.5) * s->wbox;

    /* local mode when translating every box's neighbours costs less than
     * expanding each query's boxes one by one; the per-query mode expands
     * only boxes of more than DIRECT_KEYS keys, so only those need moments
     * (memory is not free: a page fault costs ~12 us) */
    size_t filled = 0, slots = 0;
    for (size_t b = 0; b < nb; b++) filled += s->start[b + 1] > s->start[b];
    double local_cost = (double) filled * (2 * LOC_REACH + 1) * (double) s->nf * P_LOC * P_LOC / 4;
    /* per query: boxes of few keys are summed directly, as runs
     * (run_direct: ~1.25 (2 + nf) units a key, ~20 boxes within the
     * pruning distance; measured at n = 3000, local linear with gradient:
     * the modes cross at h ~ 0.025 on [0, 5]); bigger boxes are expanded */
    double keys_per_box = filled ? (double) n / (double) filled : 0;
    double query_cost = keys_per_box <= DIRECT_KEYS
                            ? (double) e->m * 20 * keys_per_box * 1.25 * (2 + (double) s->nf)
                            : (double) e->m * (2 * LOC_REACH + 1) * 20 * (2 + (double) s->nf);
    s->local = local_cost < query_cost;
    s->pmom = s->local ? P_LOC : P_MAX;
    for (size_t b = 0; b < nb; b++) {
        size_t c = s->start[b + 1] - s->start[b];
        s->slot[b] = c > (s->local ? 0 : DIRECT_KEYS) ? slots++ : SIZE_MAX;
    }
    s->mom = calloc(slots ? slots * s->ns * P_MAX : 1, sizeof *s->mom);
    if (!s->mom) {
        free(cnt);
        fgt_free(s);
        return NW_ERR_NOMEM;
    }

    /* moments M_k[f] = sum f v^k / k! per box (batch_moments) */
    const size_t ns = s->ns;
    const size_t pmom = s->pmom;
    double inv[P_MAX];
    for (size_t k = 0; k < P_MAX; k++) inv[k] = 1.0 / (double) (k + 1);
    int done = 0;
    if (s->local && slices > 1) {
        /* without a copy of the keys: the local mode needs none unless a
         * query falls outside its expansions (ensure_buckets) */
        /* all slices' partials at once where they are small beside the
         * keys (few boxes: one pass, no barrier between groups), else one
         * slice per thread at a time */
        size_t group = (double) slices * (double) nb * (double) (ns * P_MAX + p) <= (double) n
                           ? slices : (size_t) nw_pb_threads(pb);
        if (group < 1) group = 1;
        double *part = calloc(group * nb * (ns * P_MAX + p), sizeof *part);
        if (part && unsorted_moments(s, pb, slices, group, part, part + group * nb * ns * P_MAX, inv))
            done = 1;
        else {  /* start again the usual way, with less memory */
            memset(s->absy, 0, nb * p * sizeof *s->absy);
            memset(s->mom, 0, slots * ns * P_MAX * sizeof *s->mom);
        }
        free(part);
    }
    if (!done) {
        s->xs = malloc(n * sizeof *s->xs);
        s->ys = malloc(n * p * sizeof *s->ys);
        s->idx = malloc(n * sizeof *s->idx);
        if (!s->xs || !s->ys || !s->idx) {
            free(cnt);
            fgt_free(s);
            return NW_ERR_NOMEM;
        }
        scatter_keys(s, pb, slices, cnt);
        atomic_store_explicit(&s->bucketed, 1, memory_order_relaxed);
    }
    free(cnt);
    int failed = 0;
#pragma omp parallel if (n > 100000 && !done) num_threads(nw_pb_threads(pb))
    {
        double *buf = done ? NULL : malloc((2 + ns) * BATCH * sizeof(double));
        if (!done && !buf) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (size_t b = 0; b < nb; b++) {
            if (!buf) continue;
            if (s->slot[b] == SIZE_MAX) {
                for (size_t t = s->start[b]; t < s->start[b + 1]; t++)
                    for (size_t c = 0; c < p; c++) s->absy[b * p + c] += fabs(s->ys[t * p + c]);
                continue;
            }
            double *mb = s->mom + s->slot[b] * ns * P_MAX;
            for (size_t t0 = s->start[b]; t0 < s->start[b + 1]; t0 += BATCH) {
                size_t nt = s->start[b + 1] - t0 < BATCH ? s->start[b + 1] - t0 : BATCH;
                batch_moments(s->xs + t0, s->ys + t0 * p, nt, p, s->centre[b], s->w, pmom, inv, buf, mb,
                              s->absy + b * p);
            }
        }
        free(buf);
    }
    if (failed) {
        fgt_free(s);
        return NW_ERR_NOMEM;
    }
    s->cum_count[0] = 0;
    for (size_t c = 0; c < p; c++) s->cum_absy[c] = 0;
    for (size_t b = 0; b < nb; b++) {
        s->cum_count[b + 1] = s->cum_count[b] + (double) (s->start[b + 1] - s->start[b]);
        for (size_t c = 0; c < p; c++)
            s->cum_absy[(b + 1) * p + c] = s->cum_absy[b * p + c] + s->absy[b * p + c];
    }
    size_t last = nb;
    for (size_t b = 0; b < nb; b++) {
        if (s->start[b + 1] > s->start[b]) last = b;
        s->next_left[b] = last;
    }
    last = nb;
    for (size_t b = nb; b-- > 0;) {
        if (s->start[b + 1] > s->start[b]) last = b;
        s->next_right[b] = last;
    }
    double hb = 1;
    for (size_t k = 0; k <= P_MAX; k++) {
        if (k > 0) hb *= (BETA / 2) / (double) k;
        s->half_beta_pow[k] = hb;
    }
    e->state = s;
    e->moments = NULL; /* set by the caller of init (below) */
    if (s->local) return build_locals(s, pb, e->tol);
    return NW_OK;
}

/* ------------------------------------------------------------ local mode
 *
 * Targets are bucketed on the same grid.  For a query q in box T write
 * q = c_T + s / w, |s| <= BETA/2 = rho; for a key x in box S,
 * u = tau + s + v with tau = (c_T - c_S) w = (T - S) BETA.  With
 * g_a(u) = u^a e^{-u^2/2}, the double Taylor series about (s, v) = 0
 *
 *     g_a(tau + s + v) = sum_{k,l} g_a^(k+l)(tau) s^l v^k / (l! k!)
 *
 * converges (g_a is entire), so keeping the terms with k + l < P gives
 * the local coefficients
 *
 *     L_l = (1/l!) sum_S sum_{k<P-l} g_a^(k+l)(tau_TS) M_k^S[f]
 *
 * and a query costs one Horner sum of P terms per moment.  The omitted
 * terms are those with j = k + l >= P, and sum_{k+l=j} 1/(k! l!) = 2^j / j!, so
 * with |s|, |v| <= rho = 1/2 (2 rho = 1) and Cramer's inequality through
 * Leibniz's rule, |g_a^(j)(tau)| <= K e^{-tau^2/4}
 * sum_{i<=min(a,j)} C(j,i) a!/(a-i)! |tau|^(a-i) sqrt((j-i)!) =: K e^{-tau^2/4} B_a(j, tau),
 *
 *     |omitted| <= sum |f| K e^{-tau^2/4} sum_{j>=P} B_a(j, tau) / j!.
 *
 * Rounding: the translation's sums are below 4 P u sum_j |g_a^(j)| / j!
 * times sum |f| (the same splitting), and Horner's at the query below
 * 2 P u sum_l |L_l| rho^l.  Boxes beyond the pruning distance add the tail
 * bound of the per-query mode; a target box whose sums would need a source
 * box farther than LOC_REACH boxes that cannot be pruned (far from the
 * data) is left to the per-query mode.
 */

/* Per offset delta = T - S: g_a^(j)(delta BETA) e^{-tau^2/2} (j < 2 P_LOC),
 * and the truncation and rounding factors above. */
/* hankel computes P_PAD >= P_LOC outputs (whole vectors): its table rows
 * are read up to j = P_LOC - 1 + P_PAD - 1 and are 0 from j = 2 P_LOC on */
#define P_PAD 32
#define G_ROW (P_LOC + P_PAD)

typedef struct offset_table {
    double g[AMAX + 1][G_ROW];
    long double gl[AMAX + 1][2 * P_LOC];  /* the same before rounding to double */
    /* g_a^(j)(-tau) = (-1)^(j + a) g_a^(j)(tau): the tables for S > T */
    double gneg[AMAX + 1][G_ROW];
    long double glneg[AMAX + 1][2 * P_LOC];
    double trunc[AMAX + 1];   /* K e^{-tau^2/4} sum_{j>=P} B_a(j,tau)/j! */
    double round[AMAX + 1];   /* 4 P u sum_j |g_a^(j)| / j! */
    double round_ld[AMAX + 1];/* the same with u = 2^-64 (long double) */
} offset_table;

/* Unit roundoff of long double (x87 extended: 64-bit significand); where
 * long double is double the long-double path is no tighter and not used. */
#define U_LD (LDBL_MANT_DIG >= 64 ? 0x1p-64 : 0x1p-53)

static void offset_fill(offset_table *t, double tau, size_t amax)
{
    enum { J = 2 * P_LOC + AMAX };
    /* in long double: the Hermite recurrence and Leibniz' sums then carry
     * (j + 2) 2^-64 relative error, which the long-double path's bound uses */
    long double he[J], gauss = expl(-0.5L * tau * tau), taul = tau;
    he[0] = 1;
    he[1] = taul;
    for (size_t j = 1; j + 1 < J; j++) he[j + 1] = taul * he[j] - (long double) j * he[j - 1];
    long double g0[J];
    for (size_t j = 0; j < J; j++) g0[j] = (j & 1 ? -he[j] : he[j]) * gauss;
    /* powers of tau (tau = delta BETA: small integers, so exact) */
    long double tpow[AMAX + 1];
    double apow[AMAX + 1];
    tpow[0] = 1;
    apow[0] = 1;
    for (size_t e = 1; e <= AMAX; e++) {
        tpow[e] = tpow[e - 1] * taul;
        apow[e] = apow[e - 1] * fabs(tau);
    }
    for (size_t a = 0; a <= amax; a++) {
        double rsum = 0, fact = 1;
        for (size_t j = 0; j < 2 * P_LOC; j++) {
            /* Leibniz: (tau^a g0)^(j) = sum_i C(j,i) a!/(a-i)! tau^(a-i) g0^(j-i) */
            long double v = 0, cji = 1, fall = 1;
            for (size_t i = 0; i <= a && i <= j; i++) {
                v += cji * fall * tpow[a - i] * g0[j - i];
                cji = cji * (long double) (j - i) / (long double) (i + 1);
                fall *= (long double) (a - i);
            }
            t->gl[a][j] = v;
            t->g[a][j] = (double) v;
            t->glneg[a][j] = (j + a) & 1 ? -v : v;
            t->gneg[a][j] = (double) t->glneg[a][j];
            if (j > 0) fact *= (double) j;
            rsum += fabs((double) v) / fact;
        }
        for (size_t j = 2 * P_LOC; j < G_ROW; j++) t->g[a][j] = t->gneg[a][j] = 0;
        t->round[a] = 4.0 * P_LOC * 0x1p-53 * rsum;
        t->round_ld[a] = 4.0 * P_LOC * U_LD * rsum;
        /* tail = sum_{j>=P} B_a(j,|tau|)/j! = sum_j sum_i r_i(j) a!/(a-i)! |tau|^(a-i)
         * with r_i(j) = C(j,i) sqrt((j-i)!) / j!.  As C(j+1,i)/C(j,i) =
         * (j+1)/(j+1-i), r_i(j+1) = r_i(j) / sqrt(j+1-i) <= r_i(j) q_j,
         * q_j = 1/sqrt(j+1-a): each term is at most the one before times
         * q_j (which decreases with j), so after term b_J the rest is below
         * b_J q_J/(1 - q_J).  Summed until that rest is 2^-60 of the tail,
         * then the rest is added too; the factor 1 + 2^-40 covers the
         * recurrence's roundings (r_i carries under 3 (j - P + 2) u). */
        double r[AMAX + 1], fall[AMAX + 1];
        for (size_t i = 0; i <= a; i++) {
            /* r_i(P) = sqrt((P-i)!) / (i! (P-i)!) */
            r[i] = exp(-lgamma_nosign((double) i + 1) - 0.5 * lgamma_nosign((double) (P_LOC - i) + 1));
            fall[i] = i == 0 ? 1 : fall[i - 1] * (double) (a - i + 1);
        }
        double tail = 0, rest = 0;
        for (size_t j = P_LOC; ; j++) {
            double b = 0;
            for (size_t i = 0; i <= a; i++) b += r[i] * fall[i] * apow[a - i];
            tail += b;
            double q = 1 / sqrt((double) (j + 1 - a));
            rest = b * q / (1 - q);
            if (rest <= 0x1p-60 * tail) break;
            for (size_t i = 0; i <= a; i++) r[i] /= sqrt((double) (j + 1 - i));
        }
        tail = (tail + rest) * (1 + 0x1p-40);
        t->trunc[a] = CRAMER_K * exp(-0.25 * tau * tau) * tail;
    }
}

/* acc_l = sum_{k < P_LOC} G_{k+l} M_k (l < P_PAD; the caller uses l <
 * P_LOC), as axpys of whole vectors over l whose accumulators stay in
 * registers (a dot product per l would be a short reduction; rows of P_LOC
 * - k terms end in scalar remainders).  The terms with k + l >= P_LOC are
 * Taylor terms beyond the truncation (G_j = 0 from j = 2 P_LOC): they only
 * take terms out of the remainder, whose bound (trunc) sums every |term|
 * with k + l >= P_LOC, and the rounding bound (round) already counts P_LOC
 * terms per sum and every j < 2 P_LOC. */
FGT_TARGET_CLONES
static void hankel(const double *restrict G, const double *restrict M, double *restrict acc)
{
    double a[P_PAD] = { 0 };
    for (size_t k = 0; k < P_LOC; k++) {
        const double mk = M[k], *Gk = G + k;
        for (size_t l = 0; l < P_PAD; l++) a[l] += Gk[l] * mk;
    }
    for (size_t l = 0; l < P_PAD; l++) acc[l] = a[l];
}

/* The local expansion of target box T from the moments of the boxes
 * within reach: its Taylor coefficients about T's centre into L (nfp x
 * P_LOC, zeroed) and their error bounds into E (nf, zeroed), in double;
 * with Lld, Eld (zeroed) summed in long double instead, with their own
 * bounds, and L rounded from them.  *logscale_out: T's logscale.  Returns
 * whether T has them (a box beyond LOC_REACH counts: per-query sums). */
static int translate_box(const fgt_state *s, const nw_problem *pb, size_t T,
                         const long double *invfact, double *L, double *E, long double *Lld,
                         double *Eld, double *logscale_out)
{
    const size_t nb = s->nb, nf = s->nf, p = pb->p, na1 = s->na1, nay = s->nay;
    const size_t amax = (na1 > nay ? na1 : nay) - 1, ns = s->ns, nfp = s->nfp;
    const double tol = s->tol;
    const offset_table *tab = s->tab;
    size_t bl = s->next_left[T], br = s->next_right[T];
    double gl = bl < nb ? fmax((double) (T - bl) - 1, 0) * BETA : INFINITY;
    double gr = br < nb ? fmax((double) (br - T) - 1, 0) * BETA : INFINITY;
    size_t bn = gl <= gr ? bl : br;
    double gap = fmin(gl, gr);
    const double logscale = -0.5 * gap * gap;
    *logscale_out = logscale;
    const double scale = exp(-logscale);
    const long double scale_ld = Lld ? expl(-(long double) logscale) : 0;
    double scale_fact[P_LOC];   /* scale / l!, as (double) scale * (double) (1/l!) */
    for (size_t l = 0; l < P_LOC; l++) scale_fact[l] = scale * (double) invfact[l];
    /* every key of box bn lies within (|T - bn| + 1) BETA of every q in T */
    double far = ((double) (bn > T ? bn - T : T - bn) + 1) * BETA;
    double a_lower = (double) (s->start[bn + 1] - s->start[bn]) *
                     exp(fmax(-0.5 * far * far - logscale, MIN_EXP_ARG));
    const double budget = tol / 1024 * a_lower;
    int ok = 1;
    for (int side = 0; side < 2 && ok; side++) {
        for (size_t dlt = side; ; dlt++) {
            if (side == 0 ? dlt > T : T + dlt >= nb) break;
            size_t S = side == 0 ? T - dlt : T + dlt;
            double g = fmax((double) dlt - 1, 0) * BETA;
            if (g >= 2) {
                size_t t0 = side == 0 ? 0 : S, t1 = side == 0 ? S + 1 : nb;
                double wmax = exp(fmax(-0.5 * g * g - logscale, MIN_EXP_ARG - 40));
                double cnt = s->cum_count[t1] - s->cum_count[t0];
                if (cnt * pow(g, (double) amax) * wmax <= budget / 4) {
                    /* the same tail for the long-double path */
                    for (int k = 0; k < (Eld ? 2 : 1); k++) {
                        double *Et = k == 0 ? E : Eld, ga = 1;
                        for (size_t a = 0; a < na1; a++, ga *= g) Et[a] += cnt * ga * wmax;
                        for (size_t c = 0; c < p; c++) {
                            double ay = s->cum_absy[t1 * p + c] - s->cum_absy[t0 * p + c];
                            ga = 1;
                            for (size_t a = 0; a < nay; a++, ga *= g)
                                Et[na1 + c * nay + a] += ay * ga * wmax;
                        }
                    }
                    break;
                }
            }
            if (dlt > LOC_REACH) { ok = 0; break; }
            size_t cnt = s->start[S + 1] - s->start[S];
            if (cnt == 0) continue;
            const offset_table *t = &tab[dlt];
            /* tau = (T - S) BETA: side 1 has S > T, tau < 0: flip signs */
            const double *mb = s->mom + s->slot[S] * ns * P_MAX;
            for (size_t f = 0; f < nf; f++) {
                size_t a = f < na1 ? f : (f - na1) % nay;
                /* the moments of f: set 0 (f = 1) or 1 + c (f = y_c) */
                size_t set = f < na1 ? 0 : 1 + (f - na1) / nay;
                const double *M = mb + set * P_MAX;
                /* L_l += scale / l! sum_{k < P - l} g_a^(k+l)(tau) M_k: a
                 * Hankel product, each row a dot product (any order:
                 * the rounding bound is order-free) */
                if (Lld) {
                    const long double *G = side == 0 ? t->gl[a] : t->glneg[a];
                    for (size_t l = 0; l < P_LOC; l++) {
                        long double acc = 0;
                        for (size_t k = 0; k + l < P_LOC; k++) acc += G[k + l] * M[k];
                        Lld[l * nfp + f] += scale_ld * invfact[l] * acc;
                    }
                } else {
                    double acc[P_PAD];
                    hankel(side == 0 ? t->g[a] : t->gneg[a], M, acc);
                    for (size_t l = 0; l < P_LOC; l++) L[l * nfp + f] += scale_fact[l] * acc[l];
                }
                double absf = f < na1 ? (double) cnt : s->absy[S * p + (f - na1) / nay];
                E[f] += scale * absf * (t->trunc[a] + t->round[a]);
                if (Eld) Eld[f] += scale * absf * (t->trunc[a] + t->round_ld[a]);
            }
        }
    }
    if (Lld)   /* rounded once: within the Horner bound's (2P + 1) u */
        for (size_t i = 0; i < nfp * P_LOC; i++) L[i] = (double) Lld[i];
    if (ok) {
        /* Horner's rounding at the query, (2P + 1) u sum_l |L_l| rho^l
         * (the +1: the coefficients' own rounding to double); the
         * long-double path: 2P u_ld, and rounding its result to double,
         * which local_sums_ld adds per query */
        for (size_t f = 0; f < nf; f++) {
            double h = 0, rl = 1;
            for (size_t l = 0; l < P_LOC; l++, rl *= BETA / 2) h += fabs(L[l * nfp + f]) * rl;
            E[f] += (2.0 * P_LOC + 1) * 0x1p-53 * h;
            if (Eld) Eld[f] += 2.1 * P_LOC * U_LD * h;
        }
    }
    return ok;
}

static nw_status build_locals(fgt_state *s, const nw_problem *pb, double tol)
{
    const size_t nb = s->nb, nf = s->nf, na1 = s->na1, nay = s->nay;
    const size_t amax = (na1 > nay ? na1 : nay) - 1;
    const size_t nfp = s->nfp;
    s->tol = tol;
    s->tab = malloc((LOC_REACH + 1) * sizeof *s->tab);
    s->loc = calloc(nb * nfp * P_LOC, sizeof *s->loc);
    s->loc_err = calloc(nb * nf, sizeof *s->loc_err);
    s->loc_logscale = calloc(nb, sizeof *s->loc_logscale);
    s->loc_ok = calloc(nb, 1);
    if (!s->tab || !s->loc || !s->loc_err || !s->loc_logscale || !s->loc_ok) {
        free(s->tab);
        free(s->loc); free(s->loc_err); free(s->loc_logscale); free(s->loc_ok);
        s->tab = NULL;
        s->loc = s->loc_err = s->loc_logscale = NULL;
        s->loc_ok = NULL;
        return NW_OK;  /* the per-query mode needs none of it */
    }
    /* the long-double second try: local linear (whose predictions at the
     * data's edge amplify the moments' errors), made per box on demand (a
     * table for every box took up to 32 bytes a key: 20 MB of a selection's
     * pass at n = 1e6, h ~ 1e-3) */
    if (pb->linear && LDBL_MANT_DIG >= 64 && (s->loc_ld = malloc(nb * sizeof *s->loc_ld)))
        for (size_t T = 0; T < nb; T++) atomic_init(&s->loc_ld[T], NULL);
    /* g_a^(j)(-tau) = (-1)^(j+a) g_a^(j)(tau): one table per |delta| */
    for (size_t dlt = 0; dlt <= LOC_REACH; dlt++) offset_fill(&s->tab[dlt], (double) dlt * BETA, amax);
    /* threads only for ~3 ms of translations or more (~10 source boxes a
     * side, P^2/2 terms each): below that waking a thread costs more than
     * it saves, above all on a loaded machine */
    const int parallel = (double) nb * (double) nf * P_LOC * P_LOC * 10 > 2e7;
    (void) parallel;   /* (read by the OpenMP pragma only: unused without OpenMP) */
    long double invfact[P_LOC];
    invfact[0] = 1;
    for (size_t l = 1; l < P_LOC; l++) invfact[l] = invfact[l - 1] / (long double) l;

#pragma omp parallel for schedule(dynamic, 16) if (parallel) num_threads(nw_pb_threads(pb))
    for (size_t T = 0; T < nb; T++) {
        double logscale;
        int ok = translate_box(s, pb, T, invfact, s->loc + T * nfp * P_LOC, s->loc_err + T * nf,
                               NULL, NULL, &logscale);
        s->loc_logscale[T] = logscale;
        s->loc_ok[T] = (unsigned char) ok;
    }
    return NW_OK;
}

/* Target box T's long-double coefficients (loc_ld) for the second try,
 * made on first use (several threads may ask at once).  NULL if there is
 * no memory for them. */
static const long double *ensure_ld(fgt_state *s, const nw_problem *pb, size_t T)
{
    long double *ld = atomic_load_explicit(&s->loc_ld[T], memory_order_acquire);
    if (ld) return ld;
    const size_t nf = s->nf, nfp = s->nfp;
    pthread_mutex_lock(&s->bucket_lock);
    ld = atomic_load_explicit(&s->loc_ld[T], memory_order_relaxed);
    if (!ld && (ld = calloc(nfp * P_LOC + (nf + 1) / 2 + 1, sizeof(long double)))) {
        long double invfact[P_LOC];
        invfact[0] = 1;
        for (size_t l = 1; l < P_LOC; l++) invfact[l] = invfact[l - 1] / (long double) l;
        double L[(8 + 4 * AMAX + 3) * P_LOC], E[8 + 4 * AMAX], logscale;
        memset(L, 0, nfp * P_LOC * sizeof *L);
        memset(E, 0, nf * sizeof *E);
        translate_box(s, pb, T, invfact, L, E, ld, (double *) (void *) (ld + nfp * P_LOC),
                      &logscale);
        atomic_store_explicit(&s->loc_ld[T], ld, memory_order_release);
    }
    pthread_mutex_unlock(&s->bucket_lock);
    return ld;
}

/* Per-thread scratch: the sums D_a[f] and their error bounds. */
typedef struct fgt_acc {
    double D1[AMAX + 1], E1[AMAX + 1];   /* f = 1 */
    double *Dy, *Ey;                     /* p x (AMAX + 1) */
    double *Hbuf;                        /* nf values (many outputs) */
    double shift;                        /* exact mode: powers of u - shift */
} fgt_acc;

static void acc_free(void *p)
{
    fgt_acc *a = p;
    if (a) free(a->Dy);
    free(a);
}

static fgt_acc *acc_get(nw_moments *mo, size_t p)
{
    if (mo->scratch && mo->free_scratch != acc_free) {
        /* another engine's scratch: replace it */
        if (mo->free_scratch) mo->free_scratch(mo->scratch);
        mo->scratch = NULL;
    }
    if (!mo->scratch) {
        fgt_acc *a = calloc(1, sizeof *a);
        if (!a) return NULL;
        a->Dy = calloc(2 * p * (AMAX + 1) + AMAX + 1 + p * (AMAX + 1) + 4, sizeof(double));
        if (!a->Dy) { free(a); return NULL; }
        a->Ey = a->Dy + p * (AMAX + 1);
        a->Hbuf = a->Ey + p * (AMAX + 1);
        mo->scratch = a;
        mo->free_scratch = acc_free;
    }
    return mo->scratch;
}

/* Add one box by direct summation, accumulated in long double (this is
 * the exact mode's path, used where a prediction is ill-conditioned --
 * near 0, or local linear extrapolating -- so its sums must be as good as
 * the dense engine's pairwise-blocked ones, not n ulps off). */
static void box_direct(const fgt_state *s, const nw_problem *pb, size_t b, double q,
                       double dn, size_t skip, fgt_acc *acc)
{
    const size_t p = pb->p;
    if (p == 1) {   /* one output: each key's weight once for both sets */
        const size_t na1 = s->na1, nay = s->nay;
        long double s1[AMAX + 1] = { 0 }, sy[AMAX + 1] = { 0 };
        for (size_t t = s->start[b]; t < s->start[b + 1]; t++) {
            if (s->idx[t] == skip) continue;
            double u = (q - s->xs[t]) * s->w, au = fabs(u);   /* as below */
            double a = -(au - dn) * (0.5 * au + 0.5 * dn);
            if (a < MIN_EXP_ARG) continue;
            double uc = u - acc->shift, ex = exp(a), ua = ex;
            for (size_t i = 0; i < na1; i++, ua *= uc) s1[i] += ua;
            ua = ex * s->ys[t];
            for (size_t i = 0; i < nay; i++, ua *= uc) sy[i] += ua;
        }
        for (size_t i = 0; i < na1; i++) acc->D1[i] += (double) s1[i];
        for (size_t i = 0; i < nay; i++) acc->Dy[i] += (double) sy[i];
        return;
    }
    for (size_t c = 0; c <= p; c++) {
        const size_t na = c == 0 ? s->na1 : s->nay;
        long double sum[AMAX + 1] = { 0 };
        for (size_t t = s->start[b]; t < s->start[b + 1]; t++) {
            if (s->idx[t] == skip) continue;
            /* the exponent -(u^2 - dn^2)/2 (logscale = -dn^2/2) as a product
             * of differences, accurate to a few ulps of itself: -u^2/2 -
             * logscale would lose |logscale| ulps far from the data (q 100
             * bandwidths away: 5e-13 relative per term); halved terms keep
             * |u| + dn from overflowing */
            double u = (q - s->xs[t]) * s->w, au = fabs(u);
            double a = -(au - dn) * (0.5 * au + 0.5 * dn);
            if (a < MIN_EXP_ARG) continue;
            double uc = u - acc->shift, ua = exp(a) * (c == 0 ? 1 : s->ys[t * p + c - 1]);
            for (size_t i = 0; i < na; i++, ua *= uc) sum[i] += ua;
        }
        double *D = c == 0 ? acc->D1 : acc->Dy + (c - 1) * (AMAX + 1);
        for (size_t i = 0; i < na; i++) D[i] += (double) sum[i];
    }
}

/* Direct sums over the keys [t0, t1) of consecutive boxes (one output,
 * shift 0: the per-query mode's first try), vectorised: the weights
 * e^a, a = -(|u| - dn)(|u|/2 + dn/2) <= 0 (relative to logscale =
 * -dn^2/2, as box_direct), by exp2_poly in tiles, then the power sums in
 * double.  Their rounding goes into the bounds (box_direct's long-double
 * sums need none).  As everywhere, the sums are those of the computed u:
 *  - a weight: a carries 3 roundings (the difference, the sum, the
 *    product), a log2(e) two more (the constant's and the product's), and
 *    2^a' = e^a 2^(a log2(e) theta): relative error <= 5 |a| u, then
 *    exp2_poly's 0.94 ulp and the scaling: <= (5 |a| + 2) u;
 *  - term k: k more products by u (y: one more);
 *  - the sums: a tile's simd reduction and the tiles' sum, <= (N + 8) u
 *    sum |terms| (N = t1 - t0);
 * so E_k += u ((N + 12 + k) P_k + 5 Q_k), P_k = sum e |u|^k (|y|) and
 * Q_k = sum e |a| |u|^k (|y|), both summed here (|a| is ~0 for the keys
 * that matter: far from the data a crude |a| <= u^2/2 would charge
 * 2.5 u^2 ulps, 3e-12 at 100 bandwidths).
 * Weights below 2^-1009 are dropped, each term under 2^-1009 umax^k |y|
 * (umax: the largest |u| in the run, ysum: sum |y| over it).  Separate
 * short loops over a tile, not one loop with every sum: omp simd keeps
 * each reduction's lanes in memory, which cost 3x here. */
#define RUN_TILE 256
FGT_TARGET_CLONES
static void run_direct(const fgt_state *s, size_t t0, size_t t1, double q, double dn,
                       double umax, double ysum, size_t skip, fgt_acc *acc)
{
    const size_t na1 = s->na1, nay = s->nay;
    const double w = s->w, hdn = 0.5 * dn;
    const double *xs = s->xs, *ys = s->ys;
    double D1[AMAX + 1] = { 0 }, Dy[AMAX + 1] = { 0 }, P1[AMAX + 1] = { 0 }, Py[AMAX + 1] = { 0 };
    double Q1[AMAX + 1] = { 0 }, Qy[AMAX + 1] = { 0 };
    double eb[RUN_TILE], ub[RUN_TILE], ab[RUN_TILE], pw[RUN_TILE], pa[RUN_TILE];
    for (size_t j0 = t0; j0 < t1; j0 += RUN_TILE) {
        const size_t nt = t1 - j0 < RUN_TILE ? t1 - j0 : RUN_TILE;
        if (skip == NW_NO_SKIP) {
#pragma omp simd
            for (size_t t = 0; t < nt; t++) {
                double u = (q - xs[j0 + t]) * w, au = fabs(u);
                double a = (au - dn) * (0.5 * au + hdn), e2 = -a * LOG2E;
                int keep = e2 >= MIN_EXP2_ARG;
                double e = exp2_poly(keep ? e2 : MIN_EXP2_ARG);
                eb[t] = keep ? e : 0;
                ub[t] = u;
                ab[t] = fabs(a);
            }
        } else {
            const uint32_t *idx = s->idx + j0;
            /* (an index, as n <= UINT32_MAX: the sentinel is never one) */
            const uint32_t sk = skip < s->start[s->nb] ? (uint32_t) skip : UINT32_MAX;
#pragma omp simd
            for (size_t t = 0; t < nt; t++) {
                double u = (q - xs[j0 + t]) * w, au = fabs(u);
                double a = (au - dn) * (0.5 * au + hdn), e2 = -a * LOG2E;
                int keep = e2 >= MIN_EXP2_ARG, own = idx[t] == sk;
                double e = exp2_poly(keep ? e2 : MIN_EXP2_ARG);
                eb[t] = keep && !own ? e : 0;
                ub[t] = u;
                ab[t] = fabs(a);
            }
        }
        /* f = 1, then y: signed sums u^k and the bounds' sums of |u|^k */
        for (int f = 0; f < 2; f++) {
            const size_t ks = f == 0 ? na1 : nay;
            double *Ds = f == 0 ? D1 : Dy, *Ps = f == 0 ? P1 : Py, *Qs = f == 0 ? Q1 : Qy;
            if (f == 0) {
                for (size_t t = 0; t < nt; t++) pw[t] = pa[t] = eb[t];
            } else {
#pragma omp simd
                for (size_t t = 0; t < nt; t++) {
                    pw[t] = eb[t] * ys[j0 + t];
                    pa[t] = fabs(pw[t]);
                }
            }
            for (size_t k = 0; k < ks; k++) {
                double sd = 0, sa = 0, sq = 0;
#pragma omp simd reduction(+:sd, sa, sq)
                for (size_t t = 0; t < nt; t++) {
                    sd += pw[t];
                    sa += pa[t];
                    sq += pa[t] * ab[t];
                    pw[t] *= ub[t];
                    pa[t] *= fabs(ub[t]);
                }
                Ds[k] += sd;
                Ps[k] += sa;
                Qs[k] += sq;
            }
        }
    }
    const double N = (double) (t1 - t0), u53 = 0x1p-53;
    double drop = N * 0x1p-1009;
    for (size_t k = 0; k < na1; k++, drop *= umax) {
        acc->D1[k] += D1[k];
        acc->E1[k] += u53 * ((N + 12 + (double) k) * P1[k] + 5 * Q1[k]) + drop;
    }
    drop = ysum * 0x1p-1009;
    for (size_t k = 0; k < nay; k++, drop *= umax) {
        acc->Dy[k] += Dy[k];
        acc->Ey[k] += u53 * ((N + 13 + (double) k) * Py[k] + 5 * Qy[k]) + drop;
    }
}

/* The Taylor remainder of g_a(tau + v) after P terms, |v| <= rho = BETA/2,
 * per key and in scaled form: rho^P / P! max |g_a^(P)(xi)| over
 * |xi - tau| <= rho, with (Leibniz and Cramer)
 *     |g_a^(P)(xi)| <= sum_{i<=a} C(P,i) a!/(a-i)! |xi|^(a-i) K sqrt((P-i)!) e^{-xi^2/4},
 * |xi| <= |tau| + rho, e^{-xi^2/4} <= e^{-dist^2/4}. */
static double trunc_bound(size_t a, size_t P, double tau, double dist, double logscale)
{
    const double rho = BETA / 2, at = fabs(tau) + rho;
    double b = 0, cpi = 1, fall = 1;
    for (size_t i = 0; i <= a && i <= P; i++) {
        double l = (double) P * log(rho) - lgamma_nosign((double) P + 1) + 0.5 * lgamma_nosign((double) (P - i) + 1);
        b += cpi * fall * pow(at, (double) (a - i)) * exp(l);
        cpi = cpi * (double) (P - i) / (double) (i + 1);
        fall *= (double) (a - i);
    }
    return CRAMER_K * b * exp(fmax(-0.25 * dist * dist - logscale, MIN_EXP_ARG));
}

/* Add one box by its Taylor expansion with P terms:
 *     D_a[f] += sum_{k<P} g_a^(k)(tau) M_k[f],
 *     g_a^(k) = sum_{i<=min(a,k)} C(k,i) a!/(a-i)! tau^(a-i) g_0^(k-i),
 *     g_0^(k)(tau) = (-1)^k He_k(tau) e^{-tau^2/2}   (scaled by e^{-logscale}),
 * and the truncation and rounding bounds into E. */
static void box_expand(const fgt_state *s, const nw_problem *pb, size_t b, double tau,
                       double dist, double logscale, size_t P, fgt_acc *acc)
{
    const size_t p = pb->p, ns = s->ns, na1 = s->na1, nay = s->nay;
    const size_t amax = (na1 > nay ? na1 : nay) - 1;
    double g0[P_MAX], ga[P_MAX];
    double base = exp(fmax(-0.5 * tau * tau - logscale, MIN_EXP_ARG));
    double h0 = 1, h1 = tau;
    g0[0] = base;
    if (P > 1) g0[1] = -tau * base;
    for (size_t k = 2; k < P; k++) {
        double h2 = tau * h1 - (double) (k - 1) * h0;
        g0[k] = (k & 1 ? -h2 : h2) * base;
        h0 = h1; h1 = h2;
    }
    const double *mb = s->mom + s->slot[b] * ns * P_MAX;
    const double count = (double) (s->start[b + 1] - s->start[b]);
    double tpow[AMAX + 1];   /* tau^i, not pow() in this per-query loop */
    tpow[0] = 1;
    for (size_t i = 1; i <= AMAX; i++) tpow[i] = tpow[i - 1] * tau;
    for (size_t a = 0; a <= amax; a++) {
        double gabs = 0;
        for (size_t k = 0; k < P; k++) {
            double v = 0, cki = 1, fall = 1;
            for (size_t i = 0; i <= a && i <= k; i++) {
                v += cki * fall * tpow[a - i] * g0[k - i];
                cki = cki * (double) (k - i) / (double) (i + 1);
                fall *= (double) (a - i);
            }
            ga[k] = v;
            gabs += fabs(v) * s->half_beta_pow[k];
        }
        /* rounding of the expansion beyond what a direct sum has: with unit
         * roundoff u = 2^-53, the dot product of P terms errs by at most
         * P u sum_k |g_k M_k| (Higham, 3.1), and g_k by about (k + 2) u |g_k|
         * (exp, the Hermite recurrence -- forward-stable here: its solution
         * is the dominant one outside the oscillatory range and grows
         * polynomially inside it -- and Leibniz' few terms);
         * |M_k| <= sum |f| (BETA/2)^k / k!.  Charged: 2 (P + 2) u. */
        const double err = trunc_bound(a, P, tau, dist, logscale) +
                           2 * ((double) P + 2) * 0x1p-53 * gabs;
        for (size_t f = 0; f < ns; f++) {
            if (f == 0 ? a >= na1 : a >= nay) continue;
            const double *mk = mb + f * P_MAX;
            double h = 0;
            for (size_t k = 0; k < P; k++) h += ga[k] * mk[k];
            if (f == 0) {
                acc->D1[a] += h;
                acc->E1[a] += count * err;
            } else {
                acc->Dy[(f - 1) * (AMAX + 1) + a] += h;
                acc->Ey[(f - 1) * (AMAX + 1) + a] += s->absy[b * p + f - 1] * err;
            }
        }
    }
}

/* Bound on the keys of boxes [b0, b1) (all at scaled distance >= dist >= 2
 * from q): count dist^a e^{-dist^2/2 - logscale}, and likewise with sum |y|. */
static void add_tail(const fgt_state *s, const nw_problem *pb, size_t b0, size_t b1,
                     double dist, double logscale, fgt_acc *acc)
{
    if (b1 <= b0) return;
    const size_t p = pb->p;
    double wmax = exp(fmax(-0.5 * dist * dist - logscale, MIN_EXP_ARG - 40));
    /* |u - shift|^a e^{-u^2/2} <= (|u| + |shift|)^a e^{-u^2/2}, decreasing in
     * |u| for |u| >= 2 >= sqrt(a) */
    double cnt = s->cum_count[b1] - s->cum_count[b0], da = 1, reach = dist + fabs(acc->shift);
    for (size_t a = 0; a < s->na1; a++, da *= reach) acc->E1[a] += cnt * da * wmax;
    for (size_t c = 0; c < p; c++) {
        double ay = s->cum_absy[b1 * p + c] - s->cum_absy[b0 * p + c];
        da = 1;
        for (size_t a = 0; a < s->nay; a++, da *= reach) acc->Ey[c * (AMAX + 1) + a] += ay * da * wmax;
    }
}

/* The sums D_a[f] of one query by expanding its boxes one by one (any
 * query; far from the data the boxes are summed directly).  Returns the
 * logscale. */
static double perquery_sums(const nw_engine *e, double q, size_t skip, int exact, fgt_acc *acc)
{
    const nw_problem *pb = e->pb;
    const fgt_state *s = e->state;
    const size_t p = pb->p, nb = s->nb;
    const double hb = BETA / 2;
    /* the nearest box with a key other than the skipped one: logscale and
     * a lower bound on sum K */
    const size_t bs = skip != NW_NO_SKIP ? box_of(s, pb->x[skip]) : nb;
#define KEYS(b) (s->start[(b) + 1] - s->start[b] - ((b) == bs))
    size_t bq = box_of(s, q), bl = s->next_left[bq], br = s->next_right[bq], bn;
    while (bl < nb && KEYS(bl) == 0) bl = bl > 0 ? s->next_left[bl - 1] : nb;
    while (br < nb && KEYS(br) == 0) br = br + 1 < nb ? s->next_right[br + 1] : nb;
    if (bl == nb && br == nb) return 0;   /* no key left: every sum is 0, exactly */
    double dl = bl < nb ? fmax(fabs(q - s->centre[bl]) * s->w - hb, 0) : INFINITY;
    double dr = br < nb ? fmax(fabs(q - s->centre[br]) * s->w - hb, 0) : INFINITY;
    bn = dl <= dr ? bl : br;
    double dn = fmin(dl, dr);
    /* the scale: -dn^2/2 is at most 2 dn + 2 above the largest log-weight;
     * far from the data (dn > 4) take the exact largest, from the nearest
     * box's keys (then every box is summed directly anyway) */
    if (dn > 4) {
        double best = INFINITY;
        for (size_t t = s->start[bn]; t < s->start[bn + 1]; t++) {
            if (s->idx[t] == skip) continue;
            double u = fabs(q - s->xs[t]) * s->w;
            if (u < best) best = u;
        }
        if (best < INFINITY) dn = best;
    }
    const double logscale = -0.5 * dn * dn;
    double cn = (double) KEYS(bn);
#undef KEYS
    double far = dn + BETA;                             /* the far edge of the nearest box */
    double a_lower = cn * exp(fmax(-0.5 * far * far - logscale, MIN_EXP_ARG));

    int self_added = 0;
    /* the budget: tol/1024 of the lower bound (so that the bound stays well
     * below tol even where a_lower underestimates the sum, and predictions
     * near 0 are still certified), half for pruning, half for
     * truncation shared over the boxes that get expanded (a skipped key that
     * was alone in the nearest box leaves a_lower = 0: everything is then
     * summed directly, exactly) */
    /* exact: every box that is not pruned is summed directly, and the
     * pruning keeps a 1e-6 smaller share (the estimator's second try) */
    const double budget = e->tol / 1024 * a_lower * (exact ? 1e-6 : 1);
    const double budget_box = budget / 2 / (2 * DIRECT_DIST / BETA + 4);
    /* where to prune: from scaled distance D >= 2 outward the keys weigh at
     * most n (D + |shift|)^(na1-1) e^{-D^2/2 - logscale}; D is where that
     * falls to budget/4 (the fixed point D = sqrt(2 (C + a log(D + |shift|)))
     * rises to it from below).  add_tail charges what is pruned, so D
     * only decides the work, never the bound's truth. */
    double dprune = INFINITY;
    if (budget > 0 && isfinite(budget)) {
        /* C = log(4 n / budget) - logscale, with budget = tol' a_lower and
         * log(a_lower) = log(cn) - far^2/2 - logscale (or more, where
         * a_lower's exponent was clamped: then D only comes out larger) */
        const double sh = fabs(acc->shift), am = (double) (s->na1 - 1);
        const double C = log(4 * (double) pb->n / cn / (e->tol / 1024 * (exact ? 1e-6 : 1))) +
                         0.5 * far * far;
        dprune = sqrt(2 * C > 4 ? 2 * C : 4);
        for (int it = 0; it < 3 && am > 0; it++) {
            double c2 = 2 * (C + am * log(dprune + sh));
            dprune = sqrt(c2 > 4 ? c2 : 4);
        }
    }
    /* one output, the first try: consecutive boxes summed directly form one
     * run of keys, summed at once (run_direct) */
    const int runs = !exact && p == 1;

    /* walk outwards from the query's box, both ways; a run that reaches the
     * end of the query's box stays open into the right side (one run of
     * keys for both, where every box near the query is summed directly) */
    size_t run0 = 0, run1 = 0;                /* the run's keys [run0, run1) */
    double run_umax = 0, run_ysum = 0;
    for (int side = 0; side < 2; side++) {
        size_t b = side == 0 ? bq : bq + 1;
        for (;;) {
            if (side == 0 ? (b == (size_t) -1) : (b >= nb)) break;
            size_t cnt = s->start[b + 1] - s->start[b];
            double tau = (q - s->centre[b]) * s->w, dist = fabs(tau) - hb;
            dist = dist > 0 ? dist : 0;
            /* prune everything from here outward */
            if (dist >= dprune) {
                size_t t0 = side == 0 ? 0 : b, t1 = side == 0 ? b + 1 : nb;
                add_tail(s, pb, t0, t1, dist, logscale, acc);
                break;
            }
            if (cnt > 0) {
                /* the fewest terms whose remainder (for the largest power
                 * of u, the worst) fits the box's share of the budget */
                const size_t amax = (s->na1 > s->nay ? s->na1 : s->nay) - 1;
                size_t P = 0;
                /* a box of few keys is cheaper summed directly than expanded */
                if (!exact && dist <= DIRECT_DIST && s->slot[b] != SIZE_MAX) {
                    for (size_t k = 8; k <= s->pmom; k += 4)
                        if ((double) cnt * trunc_bound(amax, k, tau, dist, logscale) <= budget_box) {
                            P = k;
                            break;
                        }
                }
                if (P > 0) {
                    box_expand(s, pb, b, tau, dist, logscale, P, acc);
                    if (b == bs) self_added = 1;
                } else if (runs) {
                    if (run1 == run0) { run0 = s->start[b]; run1 = s->start[b + 1]; }
                    else if (side == 0) run0 = s->start[b];
                    else run1 = s->start[b + 1];
                    run_umax = run_umax > fabs(tau) + hb ? run_umax : fabs(tau) + hb;
                    run_ysum += s->absy[b];
                } else {
                    box_direct(s, pb, b, q, dn, skip, acc);
                }
                if (P > 0 && run1 > run0) {   /* the run ends at an expanded box */
                    run_direct(s, run0, run1, q, dn, run_umax, run_ysum, skip, acc);
                    run0 = run1 = 0;
                    run_umax = run_ysum = 0;
                }
            }
            if (side == 0) b--; else b++;
        }
        if (run1 > run0 && (side == 1 || run1 != s->start[bq + 1])) {
            run_direct(s, run0, run1, q, dn, run_umax, run_ysum, skip, acc);
            run0 = run1 = 0;
            run_umax = run_ysum = 0;
        }
    }

    /* leave-one-out: subtract the key's own term where its box was expanded
     * (a box summed directly skipped it; a pruned one only widened the
     * bound).  For nw_pass q is the key itself: u = 0, the term is
     * e^{-logscale} (1, y) in the a = 0 sums. */
    if (self_added) {
        double u = (q - pb->x[skip]) * s->w, ex = exp(fmax(-0.5 * u * u - logscale, MIN_EXP_ARG));
        double ua = ex;
        for (size_t a = 0; a < s->na1; a++, ua *= u) acc->D1[a] -= ua;
        for (size_t c = 0; c < p; c++) {
            ua = ex * pb->y[skip * p + c];
            for (size_t a = 0; a < s->nay; a++, ua *= u) acc->Dy[c * (AMAX + 1) + a] -= ua;
        }
    }

    return logscale;
}

/* out[j] = sum_l L[l nfp + j] s^l for j < W (W <= 8, a constant where
 * inlined: the chains stay in registers), as E(s^2) + s O(s^2) over the
 * even and the odd coefficients (P_LOC even). */
static inline void horner_even_odd(const double *L, size_t nfp, double sq, double s2,
                                   double *out, const size_t W)
{
    double ev[8], od[8];
    for (size_t j = 0; j < W; j++) {
        ev[j] = L[(P_LOC - 2) * nfp + j];
        od[j] = L[(P_LOC - 1) * nfp + j];
    }
    for (size_t l = P_LOC - 2; l >= 2;) {
        l -= 2;
        const double *Le = L + l * nfp, *Lo = Le + nfp;
        for (size_t j = 0; j < W; j++) {
            ev[j] = ev[j] * s2 + Le[j];
            od[j] = od[j] * s2 + Lo[j];
        }
    }
    for (size_t j = 0; j < W; j++) out[j] = ev[j] + sq * od[j];
}

/* The sums of a query in box T from T's local expansions. */
static double local_sums(const fgt_state *s, const nw_problem *pb, size_t T, double q,
                         size_t skip, fgt_acc *acc)
{
    const size_t p = pb->p, nf = s->nf, na1 = s->na1, nay = s->nay;
    const double sq = (q - s->centre[T]) * s->w, logscale = s->loc_logscale[T];
    const size_t nfp = s->nfp;
    const double *L = s->loc + T * nfp * P_LOC, *E = s->loc_err + T * nf;
    /* Horner for every sum at once (L is l-major with rows padded to nfp to
     * a multiple of 4), in s^2 on the even and the odd coefficients apart,
     * sum_l L_l s^l = E(s^2) + s O(s^2): two independent chains of P/2
     * steps per sum (half the latency), eight or four sums at a time held
     * in registers.  Its rounding -- Horner of degree P/2 - 1 in s^2,
     * (P - 2) u, with s^2's own rounding compounding to (P/2 - 1) u in the
     * top power, and 2 u to combine -- stays below (3P/2 + 1) u
     * sum_l |L_l| |s|^l, within the 2P u of the bound (build_locals). */
    double *hv = acc->Hbuf;
    const double s2 = sq * sq;
    size_t f0 = 0;
    for (; f0 + 8 <= nfp; f0 += 8) horner_even_odd(L + f0, nfp, sq, s2, hv + f0, 8);
    for (; f0 < nfp; f0 += 4) horner_even_odd(L + f0, nfp, sq, s2, hv + f0, 4);
    for (size_t f = 0; f < nf; f++) {
        if (f < na1) { acc->D1[f] = hv[f]; acc->E1[f] = E[f]; }
        else {
            size_t c = (f - na1) / nay, a = (f - na1) % nay;
            acc->Dy[c * (AMAX + 1) + a] = hv[f];
            acc->Ey[c * (AMAX + 1) + a] = E[f];
        }
    }
    if (skip != NW_NO_SKIP) {
        /* leave-one-out: the key's own term, exactly */
        double u = (q - pb->x[skip]) * s->w, ex = exp(fmax(-0.5 * u * u - logscale, MIN_EXP_ARG));
        double ua = ex;
        for (size_t a = 0; a < na1; a++, ua *= u) acc->D1[a] -= ua;
        for (size_t c = 0; c < p; c++) {
            ua = ex * pb->y[skip * p + c];
            for (size_t a = 0; a < nay; a++, ua *= u) acc->Dy[c * (AMAX + 1) + a] -= ua;
        }
    }
    return logscale;
}

/* local_sums from the long-double coefficients (the second try): Horner
 * and the leave-one-out subtraction in long double, the sums rounded to
 * double once (u |D| added to each bound). */
static double local_sums_ld(const fgt_state *s, const nw_problem *pb, size_t T,
                            const long double *L, double q, size_t skip, fgt_acc *acc)
{
    const size_t p = pb->p, nf = s->nf, na1 = s->na1, nay = s->nay, nfp = s->nfp;
    const long double sq = (q - s->centre[T]) * s->w;
    const double logscale = s->loc_logscale[T];
    const double *E = (const double *) (const void *) (L + nfp * P_LOC);
    long double D[8 + 4 * AMAX];
    long double *h = nf <= 8 + 4 * AMAX ? D : NULL;
    if (!h) return NAN;   /* not reached: local linear has nf = 3 + 2p, p small here */
    for (size_t f = 0; f < nf; f++) {
        long double v = L[(P_LOC - 1) * nfp + f];
        for (size_t l = P_LOC - 1; l-- > 0;) v = v * sq + L[l * nfp + f];
        h[f] = v;
    }
    double self_err = 0;
    if (skip != NW_NO_SKIP) {
        /* the key's own term: exp carries a few ulps, charged below */
        double u = (q - pb->x[skip]) * s->w;
        long double ex = exp(fmax(-0.5 * u * u - logscale, MIN_EXP_ARG)), ua = ex;
        self_err = 4 * 0x1p-53 * (double) ex * fmax(1, fabs(u)) * fmax(1, fabs(u));
        for (size_t a = 0; a < na1; a++, ua *= u) h[a] -= ua;
        for (size_t c = 0; c < p; c++) {
            ua = ex * pb->y[skip * p + c];
            for (size_t a = 0; a < nay; a++, ua *= u) h[na1 + c * nay + a] -= ua;
        }
    }
    for (size_t f = 0; f < nf; f++) {
        double v = (double) h[f];
        double ysc = f < na1 ? 1 : fabs(pb->y[skip != NW_NO_SKIP ? skip * p + (f - na1) / nay : 0]);
        double err = E[f] + 0x1p-53 * fabs(v) + self_err * (skip != NW_NO_SKIP ? ysc : 0);
        if (f < na1) { acc->D1[f] = v; acc->E1[f] = err; }
        else {
            size_t c = (f - na1) / nay, a = (f - na1) % nay;
            acc->Dy[c * (AMAX + 1) + a] = v;
            acc->Ey[c * (AMAX + 1) + a] = err;
        }
    }
    return logscale;
}

static void fgt_sums(const nw_engine *e, const double *qp, size_t skip, int exact, nw_moments *mo)
{
    const nw_problem *pb = e->pb;
    const fgt_state *s = e->state;
    const size_t p = pb->p, r = mo->r;
    const double q = qp[0];
    fgt_acc *acc = acc_get(mo, p);
    if (!acc) {   /* no memory for the scratch: the dense engine needs none */
        nw_engine_dense(pb, qp, skip, mo);
        return;
    }
    memset(acc->D1, 0, sizeof acc->D1);
    memset(acc->E1, 0, sizeof acc->E1);
    memset(acc->Dy, 0, 2 * p * (AMAX + 1) * sizeof(double));
    /* only the exact mode (direct sums) honours a shift of the slope column */
    acc->shift = exact ? mo->shift[0] : 0;
    double logscale, bf = floor((q - s->x0) / s->wbox);
    int local = s->loc_ok && bf >= 0 && bf < (double) s->nb && s->loc_ok[(size_t) bf];
    const long double *ld = NULL;
    if (!exact && local)
        logscale = local_sums(s, pb, (size_t) bf, q, skip, acc);
    else if (exact && local && s->loc_ld && mo->shift[0] == 0 && s->nf <= 8 + 4 * AMAX &&
             (ld = ensure_ld(e->state, pb, (size_t) bf)))
        /* the second try, unshifted: the long-double expansions */
        logscale = local_sums_ld(s, pb, (size_t) bf, ld, q, skip, acc);
    else if (ensure_buckets(e->state, pb))
        logscale = perquery_sums(e, q, skip, exact, acc);
    else {  /* no memory for the keys in box order */
        nw_engine_dense(pb, qp, skip, mo);
        return;
    }

    /* the moments of engine.h */
    double *A = mo->A, *B = mo->B, *eA = mo->errA, *eB = mo->errB;
    mo->logscale = logscale;
    mo->approx = 1;
    if (r == 1) {
        A[0] = acc->D1[0]; eA[0] = acc->E1[0];
        for (size_t c = 0; c < p; c++) {
            B[c] = acc->Dy[c * (AMAX + 1)];
            eB[c] = acc->Ey[c * (AMAX + 1)];
        }
        if (pb->grad) {
            mo->dA[0] = -acc->D1[2];
            for (size_t c = 0; c < p; c++) mo->dB[c] = -acc->Dy[c * (AMAX + 1) + 2];
        }
    } else {
        A[0] = acc->D1[0]; A[1] = A[2] = acc->D1[1]; A[3] = acc->D1[2];
        eA[0] = acc->E1[0]; eA[1] = eA[2] = acc->E1[1]; eA[3] = acc->E1[2];
        for (size_t c = 0; c < p; c++) {
            B[c] = acc->Dy[c * (AMAX + 1)];
            B[p + c] = acc->Dy[c * (AMAX + 1) + 1];
            eB[c] = acc->Ey[c * (AMAX + 1)];
            eB[p + c] = acc->Ey[c * (AMAX + 1) + 1];
        }
        if (pb->grad) {
            double *dA = mo->dA, *dB = mo->dB;
            dA[0] = -acc->D1[2]; dA[1] = dA[2] = -acc->D1[3]; dA[3] = -acc->D1[4];
            for (size_t c = 0; c < p; c++) {
                dB[c] = -acc->Dy[c * (AMAX + 1) + 2];
                dB[p + c] = -acc->Dy[c * (AMAX + 1) + 3];
            }
        }
    }
}

static void fgt_moments(const nw_engine *e, const double *q, size_t skip, nw_moments *mo)
{
    fgt_sums(e, q, skip, 0, mo);
}

/* The second try where the expansions' bound missed the tolerance (a
 * prediction near 0) or local linear needs its slope column recentred
 * (mo->shift, honoured here): direct sums over the keys that matter, the
 * rest bounded -- O(keys within ~9 bandwidths), not O(n) as the dense
 * engine. */
static void fgt_moments_exact(const nw_engine *e, const double *q, size_t skip, nw_moments *mo)
{
    fgt_sums(e, q, skip, 1, mo);
}

static nw_status fgt_init_engine(nw_engine *e)
{
    if (e->pb->d == 2) return nw_fgt2_init(e);     /* engine_fgt2.c */
    nw_status st = fgt_init(e);
    if (st == NW_OK) {
        e->moments = fgt_moments;
        e->moments_exact = fgt_moments_exact;
        e->free_state = fgt_free;
    }
    return st;
}

/* d = 2: the 2-d transform's box order; the 1-d transform reads the keys
 * as they lie (the local mode) or buckets them itself, and keeps none. */
static int fgt_arrange(const nw_problem *pb, size_t m, double tol, uint32_t *order)
{
    return pb->d == 2 ? nw_fgt2_arrange(pb, m, tol, order) : 0;
}

const nw_engine_impl nw_engine_fgt_impl = {
    .kind = NW_ENGINE_FGT,
    .init = fgt_init_engine,
    .cost = fgt_cost,
    .arrange = fgt_arrange,
};

