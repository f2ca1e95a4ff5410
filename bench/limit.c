/*
 * limit.c: the machine's limit for the dense engine's hot loops.  Nothing but
 * the Gaussian sums
 *
 *     S0(q) = sum_j exp(-|(q - x_j) w|^2 / 2 - c),   S1(q) = sum_j exp(..) y_j
 *
 * (and, for local linear, the other moments of src/engine.h) for m queries
 * over n keys (c = the largest score, so the largest term is 1), OpenMP over
 * queries, in these variants:
 *
 *   a      libmvec exp, online softmax: per tile of keys the scores, the
 *          tile's max (rescaling the sums when it grows), libmvec's SIMD
 *          exp, the sums;
 *   b      the inline exp of src/exp2_poly.h, the max score known in
 *          advance (found before the clock starts: the engine finds it by a
 *          search in its sorted keys), one fused score + exp + sums loop:
 *          the fastest local-constant loop;
 *   b2     as b, but the max per tile (online softmax with the inline exp):
 *          what the engine does without prepared keys;
 *   ll     as b with the five local-linear sums (e, e u, e u^2, e y, e u y);
 *   f32    as b in single precision from float keys (exp2f_poly), summed in
 *          f32 per tile and in f64 across tiles; f32ll its local linear;
 *   f32d   as f32, but u = (q - x) w formed in double from the double keys
 *          and rounded once, as the engine's f32 error analysis requires
 *          (float keys lose the digits of q - x when the data span many
 *          bandwidths); f32dll its local linear;
 *   2d...  d = 2, the keys as two arrays (x0, x1), as the engine's
 *          prepared state holds them (reading the interleaved pairs of
 *          the problem costs two shuffles a vector and ~15 %), f64, f32
 *          and f32d, local constant and the nine local-linear sums.
 * The loops take shortcuts the engine may not (one bandwidth for both
 * inputs; far terms dropped from 2^-1009 (f32 2^-125), not 2^-1021; f32
 * keys rounded before the difference in f32, f32ll, 2df32, 2df32ll): they
 * bound what the engine's loops can reach.  The engine's prepared paths
 * use the same arithmetic otherwise (the Gaussian score dmin - u^2 in
 * base-2 units, exp2_poly, the drop as a mask, sums per tile of 512), so
 * what they lose to these loops is their own work: the nearest-key search,
 * the key preparation, the solve.  Far terms are dropped, not floored:
 * the drop is a mask on exp2_poly's last instruction, 2-4 % faster than a
 * clamp, and GCC's code for the clamp's merge in 2-d f32 local linear was
 * 1.5x slower.
 *
 * Usage: bench_limit [N [M [VARIANT...]]]   (defaults 10000 10000, every variant)
 * VARIANT: run only the variants so named (the first word of their rows,
 * e.g. 2d 2dll), so that a limit loop and the engine can be timed in turn.
 * Prints evaluations/s (n m / seconds) for 1 and 2 threads, median of 5,
 * by the wall clock and per second of process CPU time (on a loaded machine
 * the second is the machine's speed; run with OMP_WAIT_POLICY=passive), and
 * each variant's largest relative deviation of S1/S0 from a long-double
 * reference on a few queries.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exp2_poly.h"   /* the engine's own exp: the loop is held to the same arithmetic */

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) && defined(__GLIBC__) && defined(NW_HAVE_LIBMVEC)
#pragma omp declare simd notinbranch
extern double vexp(double) __asm__("exp");
#else
#define vexp exp
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define TARGET_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TARGET_CLONES
#endif

#define TILE 512
#define MIN_EXP_ARG (-700.0)
/* the same in base 2, MIN_EXP2_ARG(F) of exp2_poly.h, where the inline-exp
 * loops drop terms (b2 floors) */
/* sqrt(1 / (2 ln 2)): e^{-u^2/2} = 2^{-(c u)^2} */
#define C_BASE2 0x1.b2da4e9808a53p-1

typedef struct job {
    size_t d;                /* 1 or 2 inputs */
    const double *x, *y, *q; /* n x d keys, n values, m x d queries */
    const float *xf, *yf;    /* the keys and values rounded to float */
    const double *xs;        /* d = 2: the keys as two arrays, x0 then x1 */
    const float *xsf;        /* the same rounded to float */
    size_t n, m;
    double w;
    double *dmin;            /* per query: the nearest key's u2^2 (the max score, in base 2) */
    float *dminf;            /* the same from the float keys, in float */
    double *s0, *s1, *sx;    /* the sums (s1 / s0: the local-constant prediction; sx: the rest) */
} job;

/* (a) libmvec exp, online softmax over tiles. */
TARGET_CLONES
static void run_a(const job *jb, int threads)
{
    const double w = jb->w;
#pragma omp parallel num_threads(threads)
    {
        double score[TILE];
#pragma omp for schedule(static)
        for (size_t i = 0; i < jb->m; i++) {
            const double q = jb->q[i];
            double top = -INFINITY, s0 = 0, s1 = 0;
            for (size_t j0 = 0; j0 < jb->n; j0 += TILE) {
                size_t nt = jb->n - j0 < TILE ? jb->n - j0 : TILE;
                const double *x = jb->x + j0, *y = jb->y + j0;
                double tmax = -INFINITY;
#pragma omp simd reduction(max:tmax)
                for (size_t t = 0; t < nt; t++) {
                    double u = (q - x[t]) * w;
                    score[t] = -0.5 * u * u;
                    tmax = tmax > score[t] ? tmax : score[t];
                }
                if (tmax > top) {
                    double f = exp(top - tmax);
                    s0 *= f; s1 *= f; top = tmax;
                }
#pragma omp simd
                for (size_t t = 0; t < nt; t++) {
                    double a = score[t] - top;
                    score[t] = a < MIN_EXP_ARG ? MIN_EXP_ARG : a;
                }
                double a0 = 0, a1 = 0;
#pragma omp simd reduction(+:a0, a1)
                for (size_t t = 0; t < nt; t++) {
                    double e = vexp(score[t]);
                    a0 += e; a1 += e * y[t];
                }
                s0 += a0; s1 += a1;
            }
            jb->s0[i] = s0; jb->s1[i] = s1;
        }
    }
}

/* (b) inline exp, the max known in advance: per query the nearest key's
 * squared distance (dmin, in the base-2 units below), found before the
 * clock starts, so the loop is the fused score + exp + sums alone.  In
 * base 2: u2 = (q - x) w c with c^2 = 1/(2 ln 2), so e^{-u^2/2} = 2^{-u2^2}. */
TARGET_CLONES
static void run_b(const job *jb, int threads)
{
    const double w2 = jb->w * C_BASE2;
    const size_t n = jb->n;
    const double *x = jb->x, *y = jb->y;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < jb->m; i++) {
        const double q = jb->q[i], dmin = jb->dmin[i];
        double s0 = 0, s1 = 0;
#pragma omp simd reduction(+:s0, s1)
        for (size_t j = 0; j < n; j++) {
            double u = (q - x[j]) * w2, a = dmin - u * u;
            double e = exp2_poly(a);
            e = a < MIN_EXP2_ARG ? 0 : e;
            s0 += e; s1 += e * y[j];
        }
        jb->s0[i] = s0; jb->s1[i] = s1;
    }
}

/* (ll) as b, with the five local-linear sums of the engine: sum e, e u,
 * e u^2, e y, e u y (u in the loop's units: their scale does not matter). */
TARGET_CLONES
static void run_ll(const job *jb, int threads)
{
    const double w2 = jb->w * C_BASE2;
    const size_t n = jb->n;
    const double *x = jb->x, *y = jb->y;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < jb->m; i++) {
        const double q = jb->q[i], dmin = jb->dmin[i];
        double s0 = 0, s1 = 0, s2 = 0, t0 = 0, t1 = 0;
#pragma omp simd reduction(+:s0, s1, s2, t0, t1)
        for (size_t j = 0; j < n; j++) {
            double u = (q - x[j]) * w2, a = dmin - u * u;
            double e = exp2_poly(a);
            e = a < MIN_EXP2_ARG ? 0 : e;
            double eu = e * u;
            s0 += e; s1 += eu; s2 += eu * u; t0 += e * y[j]; t1 += eu * y[j];
        }
        jb->s0[i] = s0; jb->s1[i] = t0;
        jb->sx[i] = s1 + s2 + t1;   /* kept, so no sum is optimised away */
    }
}

/* (b2) inline exp, online softmax per tile (tile max pass + fused pass). */
TARGET_CLONES
static void run_b2(const job *jb, int threads)
{
    const double w2 = jb->w * C_BASE2;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < jb->m; i++) {
        const double q = jb->q[i];
        double dtop = INFINITY, s0 = 0, s1 = 0;
        for (size_t j0 = 0; j0 < jb->n; j0 += TILE) {
            size_t nt = jb->n - j0 < TILE ? jb->n - j0 : TILE;
            const double *x = jb->x + j0, *y = jb->y + j0;
            double dmin = INFINITY;
#pragma omp simd reduction(min:dmin)
            for (size_t t = 0; t < nt; t++) {
                double v = (q - x[t]) * w2;
                dmin = dmin < v * v ? dmin : v * v;
            }
            if (dmin < dtop) {
                double f = exp2(dmin - dtop);
                s0 *= f; s1 *= f; dtop = dmin;
            }
            double a0 = 0, a1 = 0;
#pragma omp simd reduction(+:a0, a1)
            for (size_t t = 0; t < nt; t++) {
                double u = (q - x[t]) * w2, a = dtop - u * u;
                double e = exp2_poly(a < MIN_EXP2_ARG ? MIN_EXP2_ARG : a);
                a0 += e; a1 += e * y[t];
            }
            s0 += a0; s1 += a1;
        }
        jb->s0[i] = s0; jb->s1[i] = s1;
    }
}

/* (f32) single precision, the keys as floats and the query rounded once;
 * the max known in advance (computed in float); f32 sums per tile, f64
 * across tiles.  LINEAR: the five local-linear sums.  (A macro, not an
 * inline helper: OpenMP outlines the parallel body of the function it is
 * written in, and only the target clones' own bodies get AVX.) */
#define LIMIT_F32(NAME, LINEAR, D, XS) \
TARGET_CLONES \
static void NAME(const job *jb, int threads) \
{ \
    const D w2 = (D) (jb->w * C_BASE2); \
    const size_t n = jb->n; \
    const D *x = jb->XS; \
    const float *y = jb->yf; \
    _Pragma("omp parallel for num_threads(threads) schedule(static)") \
    for (size_t i = 0; i < jb->m; i++) { \
        const D q = (D) jb->q[i]; \
        const float dmin = jb->dminf[i]; \
        double s0 = 0, s1 = 0, s2 = 0, t0 = 0, t1 = 0; \
        for (size_t j0 = 0; j0 < n; j0 += TILE) { \
            size_t nt = n - j0 < TILE ? n - j0 : TILE; \
            float a0 = 0, a1 = 0, a2 = 0, c0 = 0, c1 = 0; \
            _Pragma("omp simd reduction(+:a0, a1, a2, c0, c1)") \
            for (size_t t = j0; t < j0 + nt; t++) { \
                float u = (float) ((q - x[t]) * w2), a = dmin - u * u; \
                float e = exp2f_poly(a); \
                e = a < MIN_EXP2_ARGF ? 0 : e; \
                a0 += e; c0 += e * y[t]; \
                if (LINEAR) { \
                    float eu = e * u; \
                    a1 += eu; a2 += eu * u; c1 += eu * y[t]; \
                } \
            } \
            s0 += a0; s1 += a1; s2 += a2; t0 += c0; t1 += c1; \
        } \
        jb->s0[i] = s0; jb->s1[i] = t0; jb->sx[i] = s1 + s2 + t1; \
    } \
}

LIMIT_F32(run_f32, 0, float, xf)
LIMIT_F32(run_f32_ll, 1, float, xf)
/* f32d: the same with u formed in double from the double keys and rounded
 * once (the engine's f32 contract: float keys lose digits of q - x when
 * the data span many bandwidths) */
LIMIT_F32(run_f32d, 0, double, x)
LIMIT_F32(run_f32d_ll, 1, double, x)

/* (2d) d = 2: keys x0 = XS[0, n), x1 = XS[n, 2n), score
 * -(u0^2 + u1^2) in base 2, the max known in advance; LINEAR: the nine
 * local-linear sums (A's upper triangle and B for phi = (1, u0, u1)). */
#define LIMIT2D(NAME, LINEAR, R, D, XS, YS, DMIN, EXP2, MINARG, TILE_SUMS) \
TARGET_CLONES \
static void NAME(const job *jb, int threads) \
{ \
    const D w2 = (D) (jb->w * C_BASE2); \
    const size_t n = jb->n; \
    const D *x = jb->XS; \
    const R *y = jb->YS; \
    _Pragma("omp parallel for num_threads(threads) schedule(static)") \
    for (size_t i = 0; i < jb->m; i++) { \
        const D q0 = (D) jb->q[2 * i], q1 = (D) jb->q[2 * i + 1]; \
        const R dmin = jb->DMIN[i]; \
        double s[9] = { 0 }; \
        for (size_t j0 = 0; j0 < n; j0 += TILE_SUMS) { \
            size_t j1 = n - j0 < TILE_SUMS ? n : j0 + TILE_SUMS; \
            R a00 = 0, a01 = 0, a02 = 0, a11 = 0, a12 = 0, a22 = 0, b0 = 0, b1 = 0, b2 = 0; \
            _Pragma("omp simd reduction(+:a00, a01, a02, a11, a12, a22, b0, b1, b2)") \
            for (size_t j = j0; j < j1; j++) { \
                R u0 = (R) ((q0 - x[j]) * w2), u1 = (R) ((q1 - x[n + j]) * w2); \
                R a = dmin - u0 * u0 - u1 * u1; \
                R e = EXP2(a), yt = y[j]; \
                e = a < MINARG ? 0 : e; \
                a00 += e; b0 += e * yt; \
                if (LINEAR) { \
                    R e0 = e * u0, e1 = e * u1; \
                    a01 += e0; a02 += e1; a11 += e0 * u0; a12 += e0 * u1; a22 += e1 * u1; \
                    b1 += e0 * yt; b2 += e1 * yt; \
                } \
            } \
            s[0] += a00; s[1] += b0; s[2] += a01 + a02 + a11; s[3] += a12 + a22 + b1 + b2; \
        } \
        jb->s0[i] = s[0]; jb->s1[i] = s[1]; jb->sx[i] = s[2] + s[3]; \
    } \
}

LIMIT2D(run_2d, 0, double, double, xs, y, dmin, exp2_poly, MIN_EXP2_ARG, TILE)
LIMIT2D(run_2d_f32, 0, float, float, xsf, yf, dminf, exp2f_poly, MIN_EXP2_ARGF, TILE)
LIMIT2D(run_2d_ll, 1, double, double, xs, y, dmin, exp2_poly, MIN_EXP2_ARG, TILE)
LIMIT2D(run_2d_ll_f32, 1, float, float, xsf, yf, dminf, exp2f_poly, MIN_EXP2_ARGF, TILE)
LIMIT2D(run_2d_f32d, 0, float, double, xs, yf, dminf, exp2f_poly, MIN_EXP2_ARGF, TILE)
LIMIT2D(run_2d_ll_f32d, 1, float, double, xs, yf, dminf, exp2f_poly, MIN_EXP2_ARGF, TILE)

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

/* Per query, the nearest key's squared distance in the loops' base-2 units
 * (the max score), in double and, from the float keys, in float. */
static void nearest_keys(job *jb)
{
    const double w2 = jb->w * C_BASE2;
    const float w2f = (float) w2;
    for (size_t i = 0; i < jb->m; i++) {
        double best = INFINITY;
        float bestf = INFINITY;
        for (size_t j = 0; j < jb->n; j++) {
            double t = 0;
            float tf = 0;
            for (size_t k = 0; k < jb->d; k++) {
                double u = (jb->q[i * jb->d + k] - jb->x[j * jb->d + k]) * w2;
                float uf = ((float) jb->q[i * jb->d + k] - jb->xf[j * jb->d + k]) * w2f;
                t += u * u;
                tf += uf * uf;
            }
            best = t < best ? t : best;
            bestf = tf < bestf ? tf : bestf;
        }
        jb->dmin[i] = best;
        jb->dminf[i] = bestf;
    }
}

/* largest relative deviation of S1/S0 from long double, on 16 queries */
static double check(const job *jb)
{
    double worst = 0;
    for (size_t i = 0; i < jb->m; i += jb->m / 16 ? jb->m / 16 : 1) {
        long double top = -INFINITY, s0 = 0, s1 = 0;
        for (size_t pass = 0; pass < 2; pass++)
            for (size_t j = 0; j < jb->n; j++) {
                long double score = 0;
                for (size_t k = 0; k < jb->d; k++) {
                    long double u = ((long double) jb->q[i * jb->d + k] - jb->x[j * jb->d + k]) * jb->w;
                    score -= u * u / 2;
                }
                if (pass == 0 && score > top) top = score;
                if (pass == 1) {
                    long double e = expl(score - top);
                    s0 += e; s1 += e * jb->y[j];
                }
            }
        double ref = (double) (s1 / s0), got = jb->s1[i] / jb->s0[i];
        double rel = fabs(got - ref) / fabs(ref);
        if (rel > worst) worst = rel;
    }
    return worst;
}

/* A job of n keys and m queries in d = 1 or 2: the notebook's f on [0, 5]
 * (1-d: queries on a grid; 2-d: f(x0) + f(x1) / 2, queries uniform), keys
 * from a fixed LCG (no noise needed here). */
static int make_job(job *jb, size_t d, size_t n, size_t m)
{
    double *x = malloc(n * d * sizeof *x), *y = malloc(n * sizeof *y), *q = malloc(m * d * sizeof *q);
    float *xf = malloc(n * d * sizeof *xf), *yf = malloc(n * sizeof *yf);
    double *xs = malloc(n * d * sizeof *xs);
    float *xsf = malloc(n * d * sizeof *xsf);
    *jb = (job) { .d = d, .n = n, .m = m, .w = 10.0, .x = x, .y = y, .q = q, .xf = xf, .yf = yf,
                  .xs = xs, .xsf = xsf,
                  .dmin = malloc(m * sizeof(double)), .dminf = malloc(m * sizeof(float)),
                  .s0 = malloc(m * sizeof(double)), .s1 = malloc(m * sizeof(double)),
                  .sx = malloc(m * sizeof(double)) };
    if (!x || !y || !q || !xf || !yf || !xs || !xsf || !jb->dmin || !jb->dminf || !jb->s0 || !jb->s1 || !jb->sx)
        return 0;
    uint64_t st = 1;
    for (size_t j = 0; j < n * d; j++) {
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        x[j] = 5.0 * (double) (st >> 11) * 0x1.0p-53;
        xf[j] = (float) x[j];
    }
    for (size_t j = 0; j < n; j++)
        for (size_t k = 0; k < d; k++) {
            xs[k * n + j] = x[j * d + k];
            xsf[k * n + j] = xf[j * d + k];
        }
    for (size_t j = 0; j < n; j++) {
        y[j] = 2 * sin(x[j * d]) + pow(x[j * d], 0.8);
        if (d == 2) y[j] += 0.5 * (2 * sin(x[j * d + 1]) + pow(x[j * d + 1], 0.8));
        yf[j] = (float) y[j];
    }
    for (size_t i = 0; i < m * d; i++) {
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        q[i] = d == 1 ? 5.0 * (double) i / (double) m : 5.0 * (double) (st >> 11) * 0x1.0p-53;
    }
    nearest_keys(jb);
    return 1;
}

static void free_job(job *jb)
{
    free((void *) jb->x); free((void *) jb->y); free((void *) jb->q);
    free((void *) jb->xf); free((void *) jb->yf);
    free((void *) jb->xs); free((void *) jb->xsf);
    free(jb->dmin); free(jb->dminf); free(jb->s0); free(jb->s1); free(jb->sx);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    size_t m = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000;
    job jobs[2];
    if (!make_job(&jobs[0], 1, n, m) || !make_job(&jobs[1], 2, n, m)) return 1;

    static const struct { const char *name; size_t d; void (*fn)(const job *, int); } variants[] = {
        { "a      libmvec exp, online softmax ", 1, run_a },
        { "b      inline exp, max known       ", 1, run_b },
        { "b2     inline exp, max per tile    ", 1, run_b2 },
        { "ll     as b, local-linear sums     ", 1, run_ll },
        { "f32    inline expf, max known      ", 1, run_f32 },
        { "f32ll  as f32, local-linear sums   ", 1, run_f32_ll },
        { "f32d   f32, u from double keys     ", 1, run_f32d },
        { "f32dll f32d, local-linear sums     ", 1, run_f32d_ll },
        { "2d     d = 2, as b                 ", 2, run_2d },
        { "2dll   d = 2, local-linear sums    ", 2, run_2d_ll },
        { "2df32  d = 2, as f32               ", 2, run_2d_f32 },
        { "2df32ll d = 2, f32 local-linear    ", 2, run_2d_ll_f32 },
        { "2df32d d = 2, as f32d              ", 2, run_2d_f32d },
        { "2df32dll d = 2, f32d local-linear  ", 2, run_2d_ll_f32d },
    };
    printf("n=%zu m=%zu (evaluations/s, median of 5)\n", n, m);
    for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
        const job *jb = &jobs[variants[v].d - 1];
        int wanted = argc <= 3;
        for (int a = 3; a < argc && !wanted; a++) {
            size_t len = strlen(argv[a]);
            wanted = strncmp(variants[v].name, argv[a], len) == 0 && variants[v].name[len] == ' ';
        }
        if (!wanted) continue;
        for (int threads = 1; threads <= 2; threads++) {
            double t[5], c[5];
            for (int r = 0; r < 5; r++) {
                t[r] = clock_s(CLOCK_MONOTONIC);
                c[r] = clock_s(CLOCK_PROCESS_CPUTIME_ID);
                variants[v].fn(jb, threads);
                t[r] = clock_s(CLOCK_MONOTONIC) - t[r];
                c[r] = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c[r];
            }
            qsort(t, 5, sizeof *t, cmp);
            qsort(c, 5, sizeof *c, cmp);
            /* wall clock, and per CPU-second (robust to other load on the
             * machine; OMP_WAIT_POLICY=passive keeps idle threads off it) */
            printf("%s threads=%d: %.3e /s wall, %.3e /s per cpu-s", variants[v].name, threads,
                   (double) n * (double) m / t[2], (double) n * (double) m / c[2]);
            if (threads == 2) printf("  max rel dev %.1e", check(jb));
            printf("\n");
        }
    }
    free_job(&jobs[0]);
    free_job(&jobs[1]);
    return 0;
}
