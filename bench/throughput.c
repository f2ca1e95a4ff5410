/*
 * throughput.c: the engine's speed in evaluations (query, key pairs) per
 * second.
 * Usage: bench_throughput [N [M [THREADS [ENGINE [PRECISION [GRAD [D]]]]]]]
 *        (defaults 1000000 200 0 dense f64 0 1)
 * N generated training points (D = 1: the notebook's f, M queries on a grid
 * of [0, 5]; D = 2: keys uniform on [0, 5]^2 with y = f(x0) + f(x1) / 2,
 * as bench_limit's, M queries uniform there), bandwidth 0.1 (each input),
 * Gaussian; ENGINE dense or auto, PRECISION f64 or f32;
 * local constant then local linear, median of 5 runs each, by the wall
 * clock and per second of process CPU time (on a loaded machine the second
 * is the machine's speed; run with OMP_WAIT_POLICY=passive).  GRAD=1 times
 * the leave-one-out loss and its gradient over the N points instead (N^2
 * pairs; M unused).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nwreg.h"

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

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    size_t m = argc > 2 ? strtoul(argv[2], NULL, 10) : 200;
    int threads = argc > 3 ? atoi(argv[3]) : 0;
    int auto_engine = argc > 4 && strcmp(argv[4], "auto") == 0;
    int f32 = argc > 5 && strcmp(argv[5], "f32") == 0;
    int grad = argc > 6 && atoi(argv[6]) != 0;
    size_t d = argc > 7 && atoi(argv[7]) == 2 ? 2 : 1;
    double *x = malloc(n * d * sizeof(double)), *y = malloc(n * sizeof(double));
    double *q = malloc(m * d * sizeof(double)), *yhat = malloc(m * sizeof(double)), h[2] = { 0.1, 0.1 };
    nw_model *model = NULL;
    if (!x || !y || !q || !yhat || (d == 1 && nw_generate(1, n, x, y) != NW_OK)) {
        fprintf(stderr, "bench_throughput: setup failed\n");
        return 1;
    }
    if (d == 1) {
        for (size_t j = 0; j < m; j++) q[j] = 5.0 * (double) j / (double) m;
    } else {
        /* bench_limit's 2-d data (a fixed LCG) */
        uint64_t st = 1;
        for (size_t j = 0; j < n * d; j++) {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            x[j] = 5.0 * (double) (st >> 11) * 0x1.0p-53;
        }
        for (size_t j = 0; j < n; j++)
            y[j] = 2 * sin(x[2 * j]) + pow(x[2 * j], 0.8) + 0.5 * (2 * sin(x[2 * j + 1]) + pow(x[2 * j + 1], 0.8));
        for (size_t i = 0; i < m * d; i++) {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            q[i] = 5.0 * (double) (st >> 11) * 0x1.0p-53;
        }
    }
    if (nw_model_new(&model, x, y, n, d, 1) != NW_OK) {
        fprintf(stderr, "bench_throughput: setup failed\n");
        return 1;
    }
    nw_model_set_bandwidth(model, h);
    nw_model_set_threads(model, threads);
    nw_model_set_engine(model, auto_engine ? NW_ENGINE_AUTO : NW_ENGINE_DENSE);
    nw_model_set_precision(model, f32 ? NW_PRECISION_F32 : NW_PRECISION_F64);
    double pairs = grad ? (double) n * (double) (n - 1) : (double) n * (double) m;
    for (int e = 0; e < 2; e++) {
        double t[5], c[5];
        nw_model_set_estimator(model, (nw_estimator) e);
        for (int r = 0; r < 5; r++) {
            t[r] = clock_s(CLOCK_MONOTONIC);
            c[r] = clock_s(CLOCK_PROCESS_CPUTIME_ID);
            if (grad) {
                double w[2] = { 1 / h[0], 1 / h[1] }, loss, g[2];
                nw_loo_loss(model, w, &loss, g, NULL);
            } else {
                nw_predict(model, q, m, yhat, NULL);
            }
            t[r] = clock_s(CLOCK_MONOTONIC) - t[r];
            c[r] = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c[r];
        }
        qsort(t, 5, sizeof *t, cmp);
        qsort(c, 5, sizeof *c, cmp);
        printf("%s%s %s %s d=%zu n=%zu m=%zu threads=%d: median %.4f s, %.3e /s wall, %.3e /s per cpu-s\n",
               e ? "local linear  " : "local constant", grad ? " LOO+grad" : "",
               auto_engine ? "auto" : "dense", f32 ? "f32" : "f64", d, n, grad ? n : m, threads,
               t[2], pairs / t[2], pairs / c[2]);
    }
    nw_model_free(model);
    free(x); free(y); free(q); free(yhat);
    return 0;
}
