/*
 * engine_tree.c: NW_ENGINE_TREE, a k-d tree over the keys, for any d.
 *
 * Preparation (once per engine, O(n log n)): the keys are split at the
 * median of the dimension that is widest in scaled units |w_k| (max - min)
 * until a node holds at most LEAF_MAX keys.  Keys and values are copied
 * into leaf order (rows as in the problem, each leaf a contiguous run);
 * pos[i] is the leaf-order place of the original key i (for skip).  Keys
 * already in leaf order (nw_model_arrange: tree_arrange below) are read
 * where they lie, with no copy and pos = NULL: a node whose keys are
 * already split at its median (every key of the first half <= every key
 * of the second) is left as it is, so such keys come out in their own
 * order.  Each node keeps its keys'
 * bounding box (in the inputs' own units: u is always computed as
 * (q - x) w, as the dense engine does) and sum_j |y_jc| per output.
 *
 * Box bounds.  For a node with box [lo, hi] and a query q, every key x of
 * the node has, in floating point as computed,
 *     |u_k| = |fl(fl(q_k - x_k) w_k)| >= delta_k = fl(fl(dist(q_k, box)) |w_k|),
 *     |u_k| <= umax_k = fl(fl(max(|q_k - lo_k|, |hi_k - q_k|)) |w_k|),
 * because correctly rounded subtraction and multiplication are monotone and
 * the box's faces are keys' own coordinates.  So:
 *
 * Compact kernels (support |u| <= 1 in each dimension, product kernel): a
 * node with delta_k > 1 in some k has only zero weights.  Those nodes are
 * skipped, every other leaf is summed directly: the result is exact (the
 * same weights as the dense engine, summed in another order), approx = 0.
 *
 * Gaussian and Laplace (log kernels): the log-weight of every key of the
 * node is at most maxlog = sum_k log K(delta_k).  Nodes are visited best
 * first (a max-heap on maxlog), so the nearest keys set logscale (the
 * largest log-weight, as in the dense engine) and most of A early.  With
 * kmax = exp(maxlog - logscale) the node's scaled weights are each <= kmax,
 * and a node of `cnt` keys, phi bounded by phimax = (1, umax_1 .. umax_d)
 * (local linear) and value sums S_c = sum |y_jc|, changes the moments by at
 * most
 *     |A_ab| <= cnt kmax phimax_a phimax_b,   |B_ac| <= kmax phimax_a S_c.
 * It is left out (pruned) when, with A and B found so far,
 *     kmax lin <= s A_00 / n   and   kmax S_c lin <= s |B_0c| cnt / n  (all c),
 * lin = 1 + sum_k umax_k^2 (local linear; 1 for local constant), s = tol/8.
 * Summed over pruned nodes (sum cnt <= n) the left-out weight is at most
 * s A_00 and the left-out B_0c at most s |B_0c|, so the local-constant
 * prediction's relative error is about 2 s = tol/4: the estimator checks
 * the bound it gets (errA, errB: the sums of the per-node bounds above) and
 * recomputes a query by the dense engine if it misses the tolerance.  Where
 * maxlog - logscale < -700 the dense engine's weights are exactly 0 (it
 * drops terms below e^-700): such nodes are skipped with no error.  The
 * derivative moments dA, dB are summed over the same keys (no bound, as
 * engine.h allows).
 *
 * A query allocates nothing: the heap and the leaf buffers live in the
 * thread's nw_moments scratch.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "kernels.h"

/* glibc's libmvec SIMD exp and sin, as in engine_dense.c */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(NW_HAVE_LIBMVEC)
#pragma omp declare simd notinbranch
extern double tree_vexp(double) __asm__("exp");
#pragma omp declare simd notinbranch
extern double tree_vsin(double) __asm__("sin");
#else
#define tree_vexp exp
#define tree_vsin sin
#endif

/* TSan: the ifunc resolver would run before its runtime; NW_COVERAGE
 * (scripts/coverage): one copy, so that gcov counts each branch once. */
#if defined(NW_HAVE_LIBMVEC) && defined(__GNUC__) && !defined(__clang__) \
    && !defined(__SANITIZE_THREAD__) && !defined(NW_COVERAGE)
#define NW_TARGET_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NW_TARGET_CLONES
#endif

/* Keys per leaf at most (and more than LEAF_MAX / 2 but for tiny n).
 * Measured at n = 10^6, d = 2 (Epanechnikov and Gaussian at the Scott
 * bandwidth): 128 beats 32 by 2x, 64 by 1.3x (per-node work and memory
 * streams amortised over more keys), 256 is no better. */
#define LEAF_MAX 128
/* Below exp(-700) the dense engine sets a weight to 0 (engine_dense.c). */
#define MIN_EXP_ARG (-700.0)
/* Relative slack on the pruning bounds: exp and the bounds' own products
 * round by a few ulps (the scores' rounding is the margin in try_prune). */
#define BOUND_SLACK (1 + 1e-14)

typedef struct tree_node {
    size_t start, count;    /* keys [start, start + count) in leaf order */
    size_t right;           /* right child (the left one is this + 1); 0: leaf */
} tree_node;

typedef struct tree_state {
    size_t n, d, p, n_nodes;
    /* the keys (n x d) and values (n x p) in leaf order: the tree's copy,
     * or the problem's own arrays (in_place) */
    const double *xs, *ys;
    int in_place;
    uint32_t *pos;          /* n: leaf-order place of original key i; NULL in place */
    tree_node *nodes;       /* n_nodes, preorder (root 0) */
    double *lo, *hi;        /* n_nodes x d: bounding boxes */
    double *sumabs;         /* n_nodes x p: sum_j |y_jc| over the node */
} tree_state;

typedef struct heap_entry {
    double key;             /* maxlog of the node (log kernels) */
    size_t node;
} heap_entry;

/* Per-thread scratch: the traversal heap or stack and one leaf's buffers. */
typedef struct tree_scratch {
    size_t cap;             /* heap entries */
    heap_entry *heap;
    double *u;              /* d x LEAF_MAX: u, then phi = u - shift */
    double *ycols;          /* p x LEAF_MAX: a leaf's values output by output (p > 1) */
    double *score;          /* LEAF_MAX: log-weights or weights */
    double *weight;         /* LEAF_MAX */
    double *erho;           /* d x LEAF_MAX: weight * rho_k */
    double *ones;           /* LEAF_MAX ones: phi_0 */
    double *ustar;          /* d: u of the key that set logscale */
} tree_scratch;

/* ------------------------------------------------------------ building */

static size_t count_nodes(size_t count)
{
    return count <= LEAF_MAX ? 1 : 1 + count_nodes(count / 2) + count_nodes(count - count / 2);
}

/* Reorder idx[0..count) so that idx[mid] holds the key of rank mid in
 * dimension k, smaller-or-equal ones before, greater-or-equal after
 * (Hoare quickselect, median-of-three pivot); keys already so split
 * (max of the first mid <= min of the rest) are left in their order. */
static void select_median(const double *x, size_t d, size_t k, uint32_t *idx,
                          size_t count, size_t mid)
{
    size_t l = 0, r = count - 1;
#define KEY(i) x[(size_t) idx[i] * d + k]
#define SWAP(i, j) do { uint32_t t_ = idx[i]; idx[i] = idx[j]; idx[j] = t_; } while (0)
    double left_max = -INFINITY;
    for (size_t i = 0; i < mid; i++) left_max = KEY(i) > left_max ? KEY(i) : left_max;
    size_t i_low = mid;
    while (i_low < count && KEY(i_low) >= left_max) i_low++;
    if (i_low == count) return;
    while (r > l) {
        size_t m = l + (r - l) / 2;
        if (KEY(m) < KEY(l)) SWAP(m, l);
        if (KEY(r) < KEY(l)) SWAP(r, l);
        if (KEY(r) < KEY(m)) SWAP(r, m);
        double pivot = KEY(m);
        size_t i = l, j = r;
        while (i <= j) {
            while (KEY(i) < pivot) i++;
            while (KEY(j) > pivot) j--;
            if (i <= j) {
                SWAP(i, j);
                i++;
                if (j == 0) break;
                j--;
            }
        }
        /* now [l, j] <= pivot <= [i, r], and j < i */
        if (mid <= j) r = j;
        else if (mid >= i) l = i;
        else break;
    }
#undef KEY
#undef SWAP
}

/* Build the node for idx[start, start + count) at nodes[*next]; returns its index. */
static size_t build_node(tree_state *s, const nw_problem *pb, uint32_t *idx,
                         size_t start, size_t count, size_t *next)
{
    const size_t d = s->d, p = s->p;
    size_t id = (*next)++;
    tree_node *nd = &s->nodes[id];
    nd->start = start;
    nd->count = count;
    nd->right = 0;
    double *lo = s->lo + id * d, *hi = s->hi + id * d;
    for (size_t k = 0; k < d; k++) { lo[k] = INFINITY; hi[k] = -INFINITY; }
    double *sa = s->sumabs + id * p;
    for (size_t c = 0; c < p; c++) sa[c] = 0;
    for (size_t t = 0; t < count; t++) {
        const double *xi = pb->x + (size_t) idx[start + t] * d, *yi = pb->y + (size_t) idx[start + t] * p;
        for (size_t k = 0; k < d; k++) {
            if (xi[k] < lo[k]) lo[k] = xi[k];
            if (xi[k] > hi[k]) hi[k] = xi[k];
        }
        for (size_t c = 0; c < p; c++) sa[c] += fabs(yi[c]);
    }
    if (count <= LEAF_MAX) return id;
    /* split the widest dimension in scaled units at the median (duplicates
     * may straddle the cut; the boxes stay exact either way) */
    size_t kbest = 0;
    double wbest = -1;
    for (size_t k = 0; k < d; k++) {
        double wk = (hi[k] - lo[k]) * fabs(pb->w[k]);
        if (wk > wbest) { wbest = wk; kbest = k; }
    }
    size_t half = count / 2;
    select_median(pb->x, d, kbest, idx + start, count, half);
    build_node(s, pb, idx, start, half, next);
    size_t right = build_node(s, pb, idx, start + half, count - half, next);
    s->nodes[id].right = right;
    return id;
}

static void tree_free_state(void *state)
{
    tree_state *s = state;
    if (!s) return;
    if (!s->in_place) {
        free((void *) s->xs);
        free((void *) s->ys);
    }
    free(s->pos);
    free(s->nodes);
    free(s->lo);
    free(s->sumabs);
    free(s);
}

/* idx (a permutation of 0..n-1, n <= 2^31) replaced by its inverse, in
 * place: along each cycle i -> idx[i], the entry at idx[i] is set to i,
 * marked done by its top bit until the end. */
static void invert_in_place(uint32_t *idx, size_t n)
{
    const uint32_t DONE = 0x80000000u;
    for (size_t s0 = 0; s0 < n; s0++) {
        if (idx[s0] & DONE) continue;
        uint32_t i = (uint32_t) s0, j = idx[i];
        while (!(idx[j] & DONE)) {
            uint32_t next = idx[j];
            idx[j] = i | DONE;
            i = j;
            j = next;
        }
    }
    for (size_t t = 0; t < n; t++) idx[t] &= ~DONE;
}

/* The nodes of pb's tree (s->nodes, lo, hi, sumabs allocated), and in idx
 * (n entries) the keys in leaf order. */
static nw_status build_tree(tree_state *s, const nw_problem *pb, uint32_t *idx)
{
    const size_t n = pb->n, d = pb->d, p = pb->p;
    if (n == 0 || d == 0 || n > UINT32_MAX) return NW_ERR_ARG;
    s->n = n;
    s->d = d;
    s->p = p;
    s->n_nodes = count_nodes(n);
    s->nodes = malloc(s->n_nodes * sizeof(tree_node));
    s->lo = malloc(2 * s->n_nodes * d * sizeof(double));
    s->sumabs = malloc(s->n_nodes * p * sizeof(double));
    if (!s->nodes || !s->lo || !s->sumabs) return NW_ERR_NOMEM;
    s->hi = s->lo + s->n_nodes * d;
    for (size_t i = 0; i < n; i++) idx[i] = (uint32_t) i;
    size_t next = 0;
    build_node(s, pb, idx, 0, n, &next);
    return NW_OK;
}

static nw_status tree_init(nw_engine *e)
{
    const nw_problem *pb = e->pb;
    const size_t n = pb->n, d = pb->d, p = pb->p;
    if (n == 0 || d == 0 || n > UINT32_MAX) return NW_ERR_ARG;
    tree_state *s = calloc(1, sizeof *s);
    uint32_t *idx = malloc(n * sizeof *idx);
    nw_status st = s && idx ? build_tree(s, pb, idx) : NW_ERR_NOMEM;
    if (st) {
        free(idx);
        tree_free_state(s);
        return st;
    }
    size_t first = 0;
    while (first < n && idx[first] == first) first++;
    if (first == n) {
        /* already in leaf order: the problem's arrays, which outlive the
         * engine (engine.h) */
        s->in_place = 1;
        s->xs = pb->x;
        s->ys = pb->y;
        free(idx);
    } else {
        /* idx becomes pos; the copy in leaf order */
        double *xs = malloc(n * d * sizeof *xs), *ys = malloc(n * p * sizeof *ys);
        s->xs = xs;
        s->ys = ys;
        s->pos = idx;
        if (!xs || !ys) {
            tree_free_state(s);
            return NW_ERR_NOMEM;
        }
        for (size_t t = 0; t < n; t++) {
            size_t j = idx[t];
            memcpy(xs + t * d, pb->x + j * d, d * sizeof *xs);
            memcpy(ys + t * p, pb->y + j * p, p * sizeof *ys);
        }
        /* pos[i] = leaf-order place of key i: the inverse of idx, in place
         * (cycle by cycle, the entries done marked by their top bit, as
         * n <= 2^31 allows; else a second array) */
        if (n <= 0x80000000u) {
            invert_in_place(idx, n);
        } else {
            uint32_t *pos = malloc(n * sizeof *pos);
            if (!pos) {
                tree_free_state(s);
                return NW_ERR_NOMEM;
            }
            for (size_t t = 0; t < n; t++) pos[idx[t]] = (uint32_t) t;
            free(idx);
            s->pos = pos;
        }
    }
    e->state = s;
    e->free_state = tree_free_state;
    e->moments = NULL;  /* set below, once the function is declared */
    return NW_OK;
}

/* The keys' leaf order (engine.h's arrange): the tree built as tree_init
 * builds it; keys already in that order give order[k] = k (select_median
 * leaves split nodes as they are). */
static int tree_arrange(const nw_problem *pb, size_t m, double tol, uint32_t *order)
{
    (void) m, (void) tol;
    tree_state s;
    memset(&s, 0, sizeof s);
    nw_status st = build_tree(&s, pb, order);
    free(s.nodes);
    free(s.lo);
    free(s.sumabs);
    return st == NW_OK ? 1 : st == NW_ERR_NOMEM ? -1 : 0;
}

/* ------------------------------------------------------------ scratch */

static void tree_free_scratch(void *scratch)
{
    tree_scratch *sc = scratch;
    if (!sc) return;
    free(sc->heap);
    free(sc->u);
    free(sc->ycols);
    free(sc);
}

/* The thread's scratch for this tree, made on first use (or when the
 * moments last served a larger problem of another engine). */
static tree_scratch *get_scratch(const tree_state *s, nw_moments *mo)
{
    if (mo->scratch && mo->free_scratch == tree_free_scratch &&
        ((tree_scratch *) mo->scratch)->cap >= s->n_nodes + 1)
        return mo->scratch;
    if (mo->scratch && mo->free_scratch) mo->free_scratch(mo->scratch);
    mo->scratch = NULL;
    mo->free_scratch = NULL;
    tree_scratch *sc = calloc(1, sizeof *sc);
    if (!sc) return NULL;
    sc->cap = s->n_nodes + 1;
    sc->heap = malloc(sc->cap * sizeof(heap_entry));
    sc->u = malloc((3 * s->d + 3) * LEAF_MAX * sizeof(double));
    sc->ycols = s->p > 1 ? malloc(s->p * LEAF_MAX * sizeof(double)) : NULL;
    if (!sc->heap || !sc->u || (s->p > 1 && !sc->ycols)) {
        tree_free_scratch(sc);
        return NULL;
    }
    sc->erho = sc->u + s->d * LEAF_MAX;
    sc->score = sc->erho + s->d * LEAF_MAX;
    sc->weight = sc->score + LEAF_MAX;
    sc->ones = sc->weight + LEAF_MAX;
    sc->ustar = sc->ones + LEAF_MAX;
    for (size_t t = 0; t < LEAF_MAX; t++) sc->ones[t] = 1;
    mo->scratch = sc;
    mo->free_scratch = tree_free_scratch;
    return sc;
}

/* Max-heap on key. */
static inline void heap_push(heap_entry *h, size_t *len, double key, size_t node)
{
    size_t i = (*len)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!(h[parent].key < key)) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i].key = key;
    h[i].node = node;
}

static inline heap_entry heap_pop(heap_entry *h, size_t *len)
{
    heap_entry top = h[0], last = h[--(*len)];
    size_t i = 0, n = *len;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && h[c + 1].key > h[c].key) c++;
        if (!(h[c].key > last.key)) break;
        h[i] = h[c];
        i = c;
    }
    if (n > 0) h[i] = last;
    return top;
}

/* ------------------------------------------------------------ one leaf */

/* s[t] *= K(u[t]) for a compact kernel: kernel_value's formulas, in loops
 * the compiler vectorises. */
static inline void compact_mul(nw_kernel kernel, const double *u, size_t nt, double *s)
{
    switch (kernel) {
    case NW_KERNEL_EPANECHNIKOV:
#pragma omp simd
        for (size_t t = 0; t < nt; t++) {
            double a = fabs(u[t]);
            s[t] *= a < 1 ? (1 - a) * (1 + a) : 0;
        }
        break;
    case NW_KERNEL_UNIFORM:
#pragma omp simd
        for (size_t t = 0; t < nt; t++) s[t] *= fabs(u[t]) <= 1 ? 1 : 0;
        break;
    case NW_KERNEL_TRIANGULAR:
#pragma omp simd
        for (size_t t = 0; t < nt; t++) {
            double a = fabs(u[t]);
            s[t] *= a < 1 ? 1 - a : 0;
        }
        break;
    case NW_KERNEL_TRICUBE:
#pragma omp simd
        for (size_t t = 0; t < nt; t++) {
            double a = fabs(u[t]), v = (1 - a) * (1 + a + a * a);
            s[t] *= a < 1 ? v * v * v : 0;
        }
        break;
    case NW_KERNEL_BIWEIGHT:
#pragma omp simd
        for (size_t t = 0; t < nt; t++) {
            double a = fabs(u[t]), v = (1 - a) * (1 + a);
            s[t] *= a < 1 ? v * v : 0;
        }
        break;
    case NW_KERNEL_COSINE:
#pragma omp simd
        for (size_t t = 0; t < nt; t++) {
            double a = fabs(u[t]);
            double v = tree_vsin(M_PI_2 * (1 - (a < 1 ? a : 1)));
            s[t] *= a < 1 ? v : 0;
        }
        break;
    /* LCOV_EXCL_START: leaf_sum calls this for the six compact kernels
     * above only (the log kernels take its other path); kept as the
     * general formula should a compact kernel be added */
    default:
        for (size_t t = 0; t < nt; t++) s[t] *= kernel_value(kernel, u[t]);
        break;
    /* LCOV_EXCL_STOP */
    }
}

/* Multiply every moment and error bound by f (a new logscale). */
static void rescale(const nw_problem *pb, nw_moments *mo, double f)
{
    size_t r = mo->r, nA = r * r, nB = r * pb->p;
    size_t total = pb->grad ? (nA + nB) * (1 + pb->d) : nA + nB;
    for (size_t i = 0; i < total; i++) mo->A[i] *= f;
    for (size_t i = 0; i < nA + nB; i++) mo->errA[i] *= f;
}

/* acc = sum_t e[t] a[t] b[t] */
static inline double dot3(const double *e, const double *a, const double *b, size_t nt)
{
    double acc = 0;
#pragma omp simd reduction(+:acc)
    for (size_t t = 0; t < nt; t++) acc += e[t] * a[t] * b[t];
    return acc;
}

/* Add the keys [start, start + nt) (leaf order) to the moments; skip_t is
 * the leaf-local place of the skipped key or >= nt.  One copy per
 * instruction set (as the dense engine): libmvec's 4- or 8-lane exp. */
NW_TARGET_CLONES
static void leaf_sum(const tree_state *s, const nw_problem *pb, const double *q,
                            size_t start, size_t nt, size_t skip_t, nw_moments *mo,
                            tree_scratch *sc)
{
    const size_t d = s->d, p = s->p, r = mo->r;
    const double *w = pb->w;
    double *u = sc->u, *score = sc->score, *weight = sc->weight;
    const int log_kernel = kernel_is_log(pb->kernel);
    const double *xs = s->xs + start * d, *ys = s->ys + start * p;

    /* pass 1: u and scores, in the dense engine's order of operations */
    if (d == 2) {
        const double q0 = q[0], q1 = q[1], w0 = w[0], w1 = w[1];
        double *u0 = u, *u1 = u + LEAF_MAX;
#pragma omp simd
        for (size_t t = 0; t < nt; t++) {
            u0[t] = (q0 - xs[2 * t]) * w0;
            u1[t] = (q1 - xs[2 * t + 1]) * w1;
        }
    } else {
        for (size_t k = 0; k < d; k++) {
            const double qk = q[k], wk = w[k];
            double *uk = u + k * LEAF_MAX;
#pragma omp simd
            for (size_t t = 0; t < nt; t++) uk[t] = (qk - xs[t * d + k]) * wk;
        }
    }
    if (p > 1) {   /* the values output by output, as pass 3 reads them */
        for (size_t c = 0; c < p; c++)
            for (size_t t = 0; t < nt; t++) sc->ycols[c * LEAF_MAX + t] = ys[t * p + c];
    }
    if (log_kernel) {
        for (size_t t = 0; t < nt; t++) score[t] = 0;
        for (size_t k = 0; k < d; k++) {
            const double *uk = u + k * LEAF_MAX;
            if (pb->kernel == NW_KERNEL_GAUSSIAN) {
#pragma omp simd
                for (size_t t = 0; t < nt; t++) score[t] += -0.5 * uk[t] * uk[t];
            } else {
#pragma omp simd
                for (size_t t = 0; t < nt; t++) score[t] += -fabs(uk[t]);
            }
        }
        /* pass 2: the largest score, online softmax, exp.  Exponents are
         * taken relative to the key that set logscale (u* = its u), as sums
         * of products of differences -(|u| - |u*|)(|u| + |u*|)/2 (Laplace
         * -(|u| - |u*|)), as the dense engine forms them: score - logscale
         * would lose |logscale| ulps far from the data (1.5e-11 at 1e3
         * bandwidths). */
        if (skip_t < nt) score[skip_t] = -INFINITY;
        double tmax = -INFINITY;
        size_t tbest = 0;
        for (size_t t = 0; t < nt; t++)
            if (score[t] > tmax) { tmax = score[t]; tbest = t; }
        if (tmax == -INFINITY) return;
        const int gauss = pb->kernel == NW_KERNEL_GAUSSIAN;
        double *us = sc->ustar;
        if (tmax > mo->logscale) {
            if (mo->logscale != -INFINITY) {
                /* the old reference's weight relative to the new one */
                double a = 0;
                for (size_t k = 0; k < d; k++) {
                    double o = fabs(us[k]), nw = fabs(u[k * LEAF_MAX + tbest]);
                    a += gauss ? -(o - nw) * (0.5 * o + 0.5 * nw) : -(o - nw);
                }
                rescale(pb, mo, a < MIN_EXP_ARG ? 0 : exp(a));
            }
            for (size_t k = 0; k < d; k++) us[k] = u[k * LEAF_MAX + tbest];
            mo->logscale = tmax;
        }
        for (size_t t = 0; t < nt; t++) weight[t] = 0;
        for (size_t k = 0; k < d; k++) {
            const double *uk = u + k * LEAF_MAX, usk = fabs(us[k]);
            if (gauss) {
#pragma omp simd
                for (size_t t = 0; t < nt; t++) {
                    double au = fabs(uk[t]);
                    weight[t] += -(au - usk) * (0.5 * au + 0.5 * usk);
                }
            } else {
#pragma omp simd
                for (size_t t = 0; t < nt; t++) weight[t] += -(fabs(uk[t]) - usk);
            }
        }
        if (skip_t < nt) weight[skip_t] = -INFINITY;
        for (size_t t = 0; t < nt; t++) {
            double a = weight[t];
            score[t] = a;   /* keep the exponent to drop the negligible below */
            weight[t] = a < MIN_EXP_ARG ? MIN_EXP_ARG : a;
        }
#pragma omp simd
        for (size_t t = 0; t < nt; t++) weight[t] = tree_vexp(weight[t]);
        for (size_t t = 0; t < nt; t++)
            if (!(score[t] >= MIN_EXP_ARG)) weight[t] = 0;
    } else {
        for (size_t t = 0; t < nt; t++) weight[t] = 1;
        for (size_t k = 0; k < d; k++) compact_mul(pb->kernel, u + k * LEAF_MAX, nt, weight);
        if (skip_t < nt) weight[skip_t] = 0;
    }

    /* pass 3: the moments */
    if (pb->grad) {
        for (size_t k = 0; k < d; k++) {
            const double *uk = u + k * LEAF_MAX;
            double *ek = sc->erho + k * LEAF_MAX;
            for (size_t t = 0; t < nt; t++)
                ek[t] = weight[t] != 0 ? weight[t] * kernel_rho(pb->kernel, uk[t]) : 0;
        }
    }
    if (r == 1 && p == 1) {                 /* local constant, one output */
        const double *y = ys;
        double s0 = 0, s1 = 0;
#pragma omp simd reduction(+:s0, s1)
        for (size_t t = 0; t < nt; t++) { s0 += weight[t]; s1 += weight[t] * y[t]; }
        mo->A[0] += s0;
        mo->B[0] += s1;
        for (size_t k = 0; pb->grad && k < d; k++) {
            const double *ek = sc->erho + k * LEAF_MAX;
            double g0 = 0, g1 = 0;
#pragma omp simd reduction(+:g0, g1)
            for (size_t t = 0; t < nt; t++) { g0 += ek[t]; g1 += ek[t] * y[t]; }
            mo->dA[k] += g0;
            mo->dB[k] += g1;
        }
        return;
    }
    /* general: phi_0 = 1, phi_k = u_k - shift_k; each moment is a sum
     * over the leaf of (weight or weight rho_k) phi_a phi_b (or phi_a y_c),
     * upper triangles of A (mirrored at the end) */
    if (r > 1)
        for (size_t k = 0; k < d; k++) {
            double *uk = u + k * LEAF_MAX, c = mo->shift[k];
            for (size_t t = 0; t < nt; t++) uk[t] -= c;
        }
    const size_t ng = pb->grad ? d + 1 : 1;
    for (size_t g = 0; g < ng; g++) {
        const double *E = g == 0 ? weight : sc->erho + (g - 1) * LEAF_MAX;
        double *Ag = g == 0 ? mo->A : mo->dA + (g - 1) * r * r;
        double *Bg = g == 0 ? mo->B : mo->dB + (g - 1) * r * p;
        for (size_t a = 0; a < r; a++) {
            const double *pa = a == 0 ? sc->ones : u + (a - 1) * LEAF_MAX;
            for (size_t b = a; b < r; b++) {
                const double *pbv = b == 0 ? sc->ones : u + (b - 1) * LEAF_MAX;
                Ag[a * r + b] += dot3(E, pa, pbv, nt);
            }
            for (size_t c = 0; c < p; c++)
                Bg[a * p + c] += dot3(E, pa, p > 1 ? sc->ycols + c * LEAF_MAX : ys, nt);
        }
    }
}

/* ------------------------------------------------------------ traversal */

/* Per-dimension lower bound delta_k on |u_k| over the node's box (see the
 * file comment), and for log kernels the bound on the log-weight. */
static inline double box_maxlog(const tree_state *s, const nw_problem *pb, size_t id,
                                const double *q)
{
    const size_t d = s->d;
    const double *lo = s->lo + id * d, *hi = s->hi + id * d;
    double sum = 0;
    for (size_t k = 0; k < d; k++) {
        double gap = q[k] < lo[k] ? lo[k] - q[k] : q[k] > hi[k] ? q[k] - hi[k] : 0;
        double delta = gap * fabs(pb->w[k]);
        sum += kernel_log(pb->kernel, delta);
    }
    return sum;
}

/* 1 if every key of the node lies outside a compact kernel's support. */
static inline int box_outside(const tree_state *s, const nw_problem *pb, size_t id,
                              const double *q)
{
    const size_t d = s->d;
    const double *lo = s->lo + id * d, *hi = s->hi + id * d;
    for (size_t k = 0; k < d; k++) {
        double gap = q[k] < lo[k] ? lo[k] - q[k] : q[k] > hi[k] ? q[k] - hi[k] : 0;
        if (gap * fabs(pb->w[k]) > 1) return 1;
    }
    return 0;
}

/* Try to leave out a node of a log kernel (file comment); 1 if pruned, its
 * bounds added to errA, errB. */
static inline int try_prune(const tree_state *s, const nw_problem *pb, const double *q,
                            size_t id, double maxlog, double share, nw_moments *mo)
{
    const size_t d = s->d, p = s->p, r = mo->r;
    /* a key's score and maxlog each round in up to d + 1 operations (and
     * may be contracted to fmas differently): widen the gap by that */
    double margin = 2 * (double) (d + 2) * DBL_EPSILON * (fabs(maxlog) + fabs(mo->logscale));
    double gap = maxlog - mo->logscale + margin;
    if (!(gap <= 0)) return 0;                  /* nothing found yet, or NaN */
    if (gap < MIN_EXP_ARG) return 1;            /* dense weights are all 0 */
    double kmax = exp(gap) * BOUND_SLACK;
    const double cnt = (double) s->nodes[id].count, nn = (double) s->n;
    const double *sa = s->sumabs + id * p;
    double phimax[r];
    phimax[0] = 1;
    double lin = 1;
    if (r > 1) {
        const double *lo = s->lo + id * d, *hi = s->hi + id * d;
        for (size_t k = 0; k < d; k++) {
            double far = fmax(fabs(q[k] - lo[k]), fabs(hi[k] - q[k]));
            phimax[k + 1] = far * fabs(pb->w[k]) + fabs(mo->shift[k]);
            lin += phimax[k + 1] * phimax[k + 1];
        }
    }
    if (!(kmax * lin <= share * mo->A[0] / nn)) return 0;
    for (size_t c = 0; c < p; c++)
        if (!(kmax * sa[c] * lin <= share * fabs(mo->B[c]) * cnt / nn)) return 0;
    for (size_t a = 0; a < r; a++) {
        for (size_t b = 0; b < r; b++) mo->errA[a * r + b] += cnt * kmax * phimax[a] * phimax[b];
        for (size_t c = 0; c < p; c++) mo->errB[a * p + c] += kmax * phimax[a] * sa[c];
    }
    return 1;
}

static void tree_moments(const nw_engine *e, const double *q, size_t skip, nw_moments *mo)
{
    const nw_problem *pb = e->pb;
    const tree_state *s = e->state;
    const size_t r = mo->r, p = pb->p, nA = r * r, nB = r * p;
    const size_t total = pb->grad ? (nA + nB) * (1 + pb->d) : nA + nB;
    const int log_kernel = kernel_is_log(pb->kernel);
    tree_scratch *sc = get_scratch(s, mo);
    if (!sc) {
        /* no memory for the scratch: the exact answer the slow way */
        nw_engine_dense(pb, q, skip, mo);
        return;
    }
    memset(mo->A, 0, total * sizeof(double));
    memset(mo->errA, 0, (nA + nB) * sizeof(double));
    mo->approx = log_kernel;
    mo->logscale = log_kernel ? -INFINITY : 0;
    const size_t skip_pos = skip >= s->n ? (size_t) -1 : s->pos ? s->pos[skip] : skip;
    const double share = e->tol / 8;

    heap_entry *h = sc->heap;
    size_t len = 0;
    if (log_kernel) heap_push(h, &len, box_maxlog(s, pb, 0, q), 0);
    else if (!box_outside(s, pb, 0, q)) h[len++].node = 0;
    while (len > 0) {
        size_t id;
        if (log_kernel) {
            heap_entry top = heap_pop(h, &len);
            id = top.node;
            if (try_prune(s, pb, q, id, top.key, share, mo)) continue;
        } else {
            id = h[--len].node;                 /* a stack: any order is exact */
        }
        const tree_node *nd = &s->nodes[id];
        if (nd->right == 0) {
            size_t skip_t = skip_pos - nd->start;   /* wraps to huge if before */
            leaf_sum(s, pb, q, nd->start, nd->count, skip_t, mo, sc);
            continue;
        }
        size_t kids[2] = { id + 1, nd->right };
        for (int i = 0; i < 2; i++) {
            if (log_kernel) {
                double key = box_maxlog(s, pb, kids[i], q);
                /* exactly zero in the dense engine: never pushed (2 MIN_EXP_ARG:
                 * far beyond any rounding of the scores) */
                if (mo->logscale != -INFINITY && key - mo->logscale < 2 * MIN_EXP_ARG) continue;
                heap_push(h, &len, key, kids[i]);
            } else if (!box_outside(s, pb, kids[i], q)) {
                h[len++].node = kids[i];
            }
        }
    }

    if (r > 1) {
        for (size_t g = 0; g <= (pb->grad ? pb->d : 0); g++) {
            double *Ag = g == 0 ? mo->A : mo->dA + (g - 1) * r * r;
            for (size_t a = 0; a < r; a++)
                for (size_t b = 0; b < a; b++) Ag[a * r + b] = Ag[b * r + a];
        }
    }
}

static nw_status tree_init_engine(nw_engine *e)
{
    nw_status st = tree_init(e);
    if (st == NW_OK) e->moments = tree_moments;
    return st;
}

/* ------------------------------------------------------------ cost */

/* Keys visited per query, from the data's spread in bandwidths per
 * dimension (data taken as uniform over a box of side sqrt(12) sd, or its
 * range if smaller), the kernel's reach R (compact: 1; Gaussian and
 * Laplace: where the weight falls below the pruning threshold) and the
 * leaves' side; plus a dense-like cost per visited key, a cost per visited
 * leaf and the build.  In units of one dense kernel evaluation. */
static double tree_cost(const nw_problem *pb, size_t m, double tol)
{
    const size_t n = pb->n, d = pb->d;
    if (n == 0 || d == 0) return INFINITY;
    double side[d], frac = 1, nd = (double) n;
    for (size_t k = 0; k < d; k++) {
        /* the spread about the first value (shifted sums: one cheap pass
         * that vectorises; an estimate, so their rounding is immaterial) */
        const double x0 = pb->x[k];
        double s1 = 0, s2 = 0, lo = x0, hi = x0;
#pragma omp simd reduction(+:s1, s2) reduction(min:lo) reduction(max:hi)
        for (size_t i = 0; i < n; i++) {
            double v = pb->x[i * d + k], dv = v - x0;
            s1 += dv;
            s2 += dv * dv;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        double var = fmax(s2 / nd - (s1 / nd) * (s1 / nd), 0);
        double extent = fmin(hi - lo, sqrt(12 * var));
        side[k] = extent * fabs(pb->w[k]);      /* in bandwidths */
    }
    /* the kernel's reach in u: compact 1; log kernels where the weight
     * relative to the nearest drops below tol/8 A / n, A ~ the count within
     * one bandwidth (at least 1) */
    double reach = 1, shape = 1;
    if (kernel_is_log(pb->kernel)) {
        double near = nd;
        for (size_t k = 0; k < d; k++) near *= side[k] > 2 ? 2 / side[k] : 1;
        double ln = log(nd / (tol / 8 * fmax(near, 1)));
        reach = pb->kernel == NW_KERNEL_GAUSSIAN ? sqrt(2 * ln) : ln;
        /* ball (Gaussian) or cross-polytope (Laplace) within the box */
        double g = tgamma((double) d / 2 + 1);
        shape = pb->kernel == NW_KERNEL_GAUSSIAN ? pow(2 * M_PI_2, (double) d / 2) / (g * pow(2, (double) d))
                                                 : 1 / tgamma((double) d + 1);
    }
    for (size_t k = 0; k < d; k++) {
        if (!(side[k] > 0)) continue;           /* one value: all within reach */
        /* a window of half-width reach about a query spread uniformly
         * over [0, side] overlaps the data by 2 reach - reach^2 / side on
         * average (all of it once reach >= side) */
        double leaf = side[k] * pow(LEAF_MAX / nd, 1.0 / (double) d);
        double overlap = reach >= side[k] ? side[k] : 2 * reach - reach * reach / side[k];
        frac *= fmin(1, (overlap + leaf) / side[k]);
    }
    frac = fmin(1, frac * (frac < 1 ? shape : 1));
    double visited = fmax(frac * nd, fmin(nd, LEAF_MAX));
    /* Measured (d = 2, 2 threads, the computation's wall time): a key the
     * estimate counts as visited costs about six dense evaluations for the
     * log kernels (the dense engine's prepared paths take ~0.5 ns a pair;
     * the tree, against this estimate: Gaussian, n = m = 1e4, h = 0.05,
     * 0.1, 0.2 on [0, 5]^2: 0.48, 1.05, 2.6x the dense engine's time where
     * two a key estimated 0.15, 0.34, 0.82x; n = m = 1e5, h = 0.03, 0.1:
     * 0.12, 0.69x for 0.036, 0.22x; Laplace, n = m = 1e4, h = 0.05, 0.1,
     * 0.2: 1.9, 4.1, 6x for 0.62, 2.3, 2.3x: about three times what two
     * gave, which made AUTO take the tree at twice the dense engine's time)
     * and about 0.4 of one for the compact kernels (the dense engine's
     * general path evaluates them one by one); a visited node ~20; the
     * build ~6 per key and level.  At n = 10^6 a log-kernel key costs
     * ~1.5x more (the ~2e5 keys a query visits no longer stay in cache,
     * while the dense engine streams). */
    double per_key = kernel_is_log(pb->kernel) ? 6.0 * (1.0 + 0.5 * fmin(1, fmax(0, log10(nd / 1e5)))) : 0.5;
    double per_query = per_key * visited + 20.0 * 2 * visited / LEAF_MAX;
    double cost = (double) m * per_query + 6.0 * nd * log2(nd + 1);
    /* d = 1 is the sorted and fgt engines' ground: the tree stays
     * available on request but AUTO should not prefer it */
    return d == 1 ? 8 * cost : cost;
}

const nw_engine_impl nw_engine_tree_impl = {
    .kind = NW_ENGINE_TREE,
    .init = tree_init_engine,
    .cost = tree_cost,
    .arrange = tree_arrange,
};
