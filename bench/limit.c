/*
 * limit.c: the machine's limit for the dense engine's hot loop.  Nothing but
 * the 1-d Gaussian sums
 *
 *     S0(q) = sum_j exp(-((q - x_j) w)^2 / 2 - c),   S1(q) = sum_j exp(..) y_j
 *
 * for m queries over n keys (c = the largest score, so the largest term is
 * 1), OpenMP over queries, in four variants:
 *
 *   a    libmvec exp, online softmax: per tile of keys the scores, the tile's
 *        max (rescaling the sums when it grows), libmvec's SIMD exp, the sums;
 *   b    inline polynomial exp (range reduction by 2^k, degree-13 Taylor on
 *        |r| <= ln2/2: ~1 ulp), the max score known in advance (1-d: a
 *        pre-pass for the nearest key), one fused score+exp+sum loop;
 *   b2   as b, but the max per tile (online softmax with the inline exp):
 *        what the engine does, since it works for any kernel and d;
 *   f32  as b in single precision (degree-7 exp), summed in f32 per tile
 *        and in f64 across tiles.
 *
 * Usage: bench_limit [N [M]]   (defaults 10000 10000)
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
/* the same floor in base 2 (e^-700 = 2^-1009.9); f32: 2^-126 */
#define MIN_EXP2_ARG (-1009.0)
#define MIN_EXP2_ARGF (-126.0f)
/* sqrt(1 / (2 ln 2)): e^{-u^2/2} = 2^{-(c u)^2} */
#define C_BASE2 0x1.b2da4e9808a53p-1

typedef struct job {
    const double *x, *y, *q;
    const float *xf, *yf;
    size_t n, m;
    double w;
    double *s0, *s1;
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

/* (b) inline exp, max from a pre-pass for the nearest key.  In base 2:
 * u2 = (q - x) w c with c^2 = 1/(2 ln 2), so e^{-u^2/2} = 2^{-u2^2}. */
TARGET_CLONES
static void run_b(const job *jb, int threads)
{
    const double w2 = jb->w * C_BASE2;
    const size_t n = jb->n;
    const double *x = jb->x, *y = jb->y;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < jb->m; i++) {
        const double q = jb->q[i];
        double dmin = INFINITY;
#pragma omp simd reduction(min:dmin)
        for (size_t j = 0; j < n; j++) {
            double v = (q - x[j]) * w2;
            dmin = dmin < v * v ? dmin : v * v;
        }
        double s0 = 0, s1 = 0;
#pragma omp simd reduction(+:s0, s1)
        for (size_t j = 0; j < n; j++) {
            double u = (q - x[j]) * w2, a = dmin - u * u;
            double e = exp2_poly(a < MIN_EXP2_ARG ? MIN_EXP2_ARG : a);
            s0 += e; s1 += e * y[j];
        }
        jb->s0[i] = s0; jb->s1[i] = s1;
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
 * f32 sums per tile, f64 across tiles. */
TARGET_CLONES
static void run_f32(const job *jb, int threads)
{
    const float w2 = (float) (jb->w * C_BASE2);
    const size_t n = jb->n;
    const float *x = jb->xf, *y = jb->yf;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < jb->m; i++) {
        const float q = (float) jb->q[i];
        float dmin = INFINITY;
#pragma omp simd reduction(min:dmin)
        for (size_t j = 0; j < n; j++) {
            float v = (q - x[j]) * w2;
            dmin = dmin < v * v ? dmin : v * v;
        }
        double s0 = 0, s1 = 0;
        for (size_t j0 = 0; j0 < n; j0 += TILE) {
            size_t nt = n - j0 < TILE ? n - j0 : TILE;
            float a0 = 0, a1 = 0;
#pragma omp simd reduction(+:a0, a1)
            for (size_t t = j0; t < j0 + nt; t++) {
                float u = (q - x[t]) * w2, a = dmin - u * u;
                float e = exp2f_poly(a < MIN_EXP2_ARGF ? MIN_EXP2_ARGF : a);
                a0 += e; a1 += e * y[t];
            }
            s0 += a0; s1 += a1;
        }
        jb->s0[i] = s0; jb->s1[i] = s1;
    }
}

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

/* largest relative deviation of S1/S0 from long double, on 16 queries */
static double check(const job *jb)
{
    double worst = 0;
    for (size_t i = 0; i < jb->m; i += jb->m / 16 ? jb->m / 16 : 1) {
        long double top = -INFINITY, s0 = 0, s1 = 0;
        for (size_t j = 0; j < jb->n; j++) {
            long double u = ((long double) jb->q[i] - jb->x[j]) * jb->w;
            if (-u * u / 2 > top) top = -u * u / 2;
        }
        for (size_t j = 0; j < jb->n; j++) {
            long double u = ((long double) jb->q[i] - jb->x[j]) * jb->w;
            long double e = expl(-u * u / 2 - top);
            s0 += e; s1 += e * jb->y[j];
        }
        double ref = (double) (s1 / s0), got = jb->s1[i] / jb->s0[i];
        double rel = fabs(got - ref) / fabs(ref);
        if (rel > worst) worst = rel;
    }
    return worst;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    size_t m = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000;
    job jb = { .n = n, .m = m, .w = 10.0 };
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    double *q = malloc(m * sizeof *q), *s0 = malloc(m * sizeof *s0), *s1 = malloc(m * sizeof *s1);
    float *xf = malloc(n * sizeof *xf), *yf = malloc(n * sizeof *yf);
    if (!x || !y || !q || !s0 || !s1 || !xf || !yf) return 1;
    /* the notebook's f on [0, 5] (a fixed LCG: no noise needed here) */
    uint64_t st = 1;
    for (size_t j = 0; j < n; j++) {
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        x[j] = 5.0 * (double) (st >> 11) * 0x1.0p-53;
        y[j] = 2 * sin(x[j]) + pow(x[j], 0.8);
        xf[j] = (float) x[j];
        yf[j] = (float) y[j];
    }
    for (size_t i = 0; i < m; i++) q[i] = 5.0 * (double) i / (double) m;
    jb.x = x; jb.y = y; jb.q = q; jb.xf = xf; jb.yf = yf; jb.s0 = s0; jb.s1 = s1;

    static const struct { const char *name; void (*fn)(const job *, int); } variants[] = {
        { "a   libmvec exp, online softmax", run_a },
        { "b   inline exp, max in advance ", run_b },
        { "b2  inline exp, max per tile   ", run_b2 },
        { "f32 inline expf, max in advance", run_f32 },
    };
    printf("n=%zu m=%zu (evaluations/s, median of 5)\n", n, m);
    for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
        for (int threads = 1; threads <= 2; threads++) {
            double t[5], c[5];
            for (int r = 0; r < 5; r++) {
                t[r] = clock_s(CLOCK_MONOTONIC);
                c[r] = clock_s(CLOCK_PROCESS_CPUTIME_ID);
                variants[v].fn(&jb, threads);
                t[r] = clock_s(CLOCK_MONOTONIC) - t[r];
                c[r] = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c[r];
            }
            qsort(t, 5, sizeof *t, cmp);
            qsort(c, 5, sizeof *c, cmp);
            /* wall clock, and per CPU-second (robust to other load on the
             * machine; OMP_WAIT_POLICY=passive keeps idle threads off it) */
            printf("%s threads=%d: %.3e /s wall, %.3e /s per cpu-s", variants[v].name, threads,
                   (double) n * (double) m / t[2], (double) n * (double) m / c[2]);
            if (threads == 2) printf("  max rel dev %.1e", check(&jb));
            printf("\n");
        }
    }
    free(x); free(y); free(q); free(s0); free(s1); free(xf); free(yf);
    return 0;
}
