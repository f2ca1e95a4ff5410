/*
 * throughput.c: the engine's speed in nanoseconds per (query, key) pair.
 * Usage: bench_throughput [N [M [THREADS]]]   (defaults 1000000 200 0)
 * N generated training points (the notebook's f), M queries on [0, 5],
 * bandwidth 0.1; local constant then local linear; median of 5 runs each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "nwreg.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
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
    double *x = malloc(n * sizeof(double)), *y = malloc(n * sizeof(double));
    double *q = malloc(m * sizeof(double)), *yhat = malloc(m * sizeof(double)), h = 0.1;
    nw_model *model = NULL;
    if (!x || !y || !q || !yhat || nw_generate(1, n, x, y) != NW_OK ||
        nw_model_new(&model, x, y, n, 1, 1) != NW_OK) {
        fprintf(stderr, "bench_throughput: setup failed\n");
        return 1;
    }
    for (size_t j = 0; j < m; j++) q[j] = 5.0 * (double) j / (double) m;
    nw_model_set_bandwidth(model, &h);
    nw_model_set_threads(model, threads);
    for (int e = 0; e < 2; e++) {
        double t[5];
        nw_model_set_estimator(model, (nw_estimator) e);
        for (int r = 0; r < 5; r++) {
            t[r] = now();
            nw_predict(model, q, m, yhat, NULL);
            t[r] = now() - t[r];
        }
        qsort(t, 5, sizeof *t, cmp);
        printf("%s n=%zu m=%zu threads=%d: median %.4f s, %.3f ns per pair\n",
               e ? "local linear  " : "local constant", n, m, threads, t[2],
               t[2] / (double) n / (double) m * 1e9);
    }
    nw_model_free(model);
    free(x); free(y); free(q); free(yhat);
    return 0;
}
