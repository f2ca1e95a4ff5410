/*
 * synth.c: the notebook's synthetic data, reproducible from a seed on every
 * platform: xoshiro256** seeded through splitmix64, uniforms from the top 53
 * bits, normals by the Box–Muller transform.
 */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

typedef struct rng { uint64_t s[4]; } rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 45);
    return out;
}

/* uniform in [0, 1) */
static double rng_uniform(rng *r) { return (double) (rng_next(r) >> 11) * 0x1.0p-53; }

/* standard normal (Box–Muller; 1 - u keeps the log argument in (0, 1]) */
static double rng_normal(rng *r)
{
    double u1 = 1.0 - rng_uniform(r), u2 = rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double nw_notebook_f(double x) { return 2.0 * sin(x) + pow(x, 0.8); }

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

nw_status nw_generate(uint64_t seed, size_t n, double *x, double *y)
{
    if (n == 0) return NW_ERR_EMPTY;
    if (!x || !y) return NW_ERR_ARG;
    rng r;
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++) r.s[i] = splitmix64(&sm);
    /* as the notebook: draw x, sort it, then draw the noise */
    for (size_t i = 0; i < n; i++) x[i] = 5.0 * rng_uniform(&r);
    qsort(x, n, sizeof *x, cmp_double);
    for (size_t i = 0; i < n; i++) y[i] = nw_notebook_f(x[i]) + 0.5 * rng_normal(&r);
    return NW_OK;
}

nw_status nw_generate_grid(size_t m, double *x, double *truth)
{
    if (m == 0) return NW_ERR_EMPTY;
    if (!x || !truth) return NW_ERR_ARG;
    for (size_t j = 0; j < m; j++) {
        x[j] = (double) j / 10.0;
        truth[j] = nw_notebook_f(x[j]);
    }
    return NW_OK;
}
