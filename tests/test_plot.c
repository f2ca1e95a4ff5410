/*
 * test_plot.c: every figure of cli/plot.h in PNG, SVG and PDF, drawn from
 * the notebook's kind of data into a fresh temporary directory; checks the
 * files' magic, and that failures return -1 with a message naming the path,
 * leave nothing behind and do not let PLplot exit() the process; and that
 * PLplot, opened at run time, loads once from concurrent threads.
 *
 * NW_PLOT_KEEP=1 keeps the directory (its name is printed) for a look.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L   /* mkdtemp, fork */
#endif
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plot.h"

enum { N = 50, M = 50, EPOCHS = 5, K = 40, K1 = 25, K2 = 20 };

typedef struct fixture {
    char dir[80];
    double xtrain[N], ytrain[N], xq[M], truth[M];
    double w1[M * N], w8[M * N], pred1[M], pred8[M];
    double loss[EPOCHS];
    double h[K], cv[K], hopt, vopt;
    double h1[K1], h2[K2], cv2[K1 * K2], h1opt, h2opt;
} fixture;

static double f(double x) { return 2.0 * sin(x) + pow(x, 0.8); }

/* Deterministic U(0, 1) from an LCG, and N(0, 0.5^2) through Box-Muller. */
static double uniform(unsigned long long *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
}

static double noise(unsigned long long *s)
{
    double u = uniform(s), v = uniform(s);
    return 0.5 * sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* softmax(-((q - x) * w)^2 / 2) over the keys, and the weighted average. */
static void attention(const fixture *fx, double w, double *W, double *pred)
{
    for (int q = 0; q < M; q++) {
        double sum = 0.0, dot = 0.0;
        for (int k = 0; k < N; k++) {
            double d = (fx->xq[q] - fx->xtrain[k]) * w;
            sum += W[q * N + k] = exp(-d * d / 2.0);
        }
        for (int k = 0; k < N; k++)
            dot += (W[q * N + k] /= sum) * fx->ytrain[k];
        pred[q] = dot;
    }
}

/* Leave-one-out mean squared error of the Gaussian NW fit, bandwidths h1
 * on x and h2 on a second input z (h2 = INFINITY: z is ignored). */
static double loo(const fixture *fx, const double *z, double h1, double h2)
{
    double sse = 0.0;
    for (int i = 0; i < N; i++) {
        double sw = 0.0, swy = 0.0;
        for (int j = 0; j < N; j++) {
            if (j == i)
                continue;
            double a = (fx->xtrain[i] - fx->xtrain[j]) / h1;
            double b = isinf(h2) ? 0.0 : (z[i] - z[j]) / h2;
            double w = exp(-(a * a + b * b) / 2.0);
            sw += w, swy += w * fx->ytrain[j];
        }
        double e = swy / sw - fx->ytrain[i];
        sse += e * e;
    }
    return sse / N;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    unsigned long long s = 42;
    if (!fx)
        return -1;
    for (int i = 0; i < N; i++)
        fx->xtrain[i] = 5.0 * uniform(&s);
    qsort(fx->xtrain, N, sizeof(double), cmp_double);
    for (int i = 0; i < N; i++)
        fx->ytrain[i] = f(fx->xtrain[i]) + noise(&s);
    for (int q = 0; q < M; q++)
        fx->truth[q] = f(fx->xq[q] = 0.1 * q);
    attention(fx, 1.0, fx->w1, fx->pred1);
    attention(fx, 8.0, fx->w8, fx->pred8);
    const double loss[EPOCHS] = { 27.36, 11.90, 9.71, 9.13, 9.02 };
    memcpy(fx->loss, loss, sizeof loss);

    double z[N];                 /* a second input that barely matters */
    for (int i = 0; i < N; i++)
        z[i] = 2.0 + noise(&s) * 2.0;
    fx->vopt = INFINITY;
    for (int i = 0; i < K; i++) {
        fx->h[i] = pow(10.0, -2.0 + 3.0 * i / (K - 1));
        fx->cv[i] = loo(fx, z, fx->h[i], INFINITY);
        if (fx->cv[i] < fx->vopt)
            fx->vopt = fx->cv[i], fx->hopt = fx->h[i];
    }
    double best = INFINITY;
    for (int i = 0; i < K1; i++)
        fx->h1[i] = pow(10.0, -1.5 + 2.5 * i / (K1 - 1));
    for (int j = 0; j < K2; j++)
        fx->h2[j] = pow(10.0, -1.0 + 2.5 * j / (K2 - 1));
    for (int i = 0; i < K1; i++)
        for (int j = 0; j < K2; j++) {
            double v = fx->cv2[i * K2 + j] = loo(fx, z, fx->h1[i], fx->h2[j]);
            if (v < best)
                best = v, fx->h1opt = fx->h1[i], fx->h2opt = fx->h2[j];
        }

    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp || strlen(tmp) > 60)
        tmp = "/tmp";
    snprintf(fx->dir, sizeof fx->dir, "%s/test_plot.XXXXXX", tmp);
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    if (getenv("NW_PLOT_KEEP")) {
        printf("# figures kept in %s\n", fx->dir);
    } else {
        DIR *d = opendir(fx->dir);
        struct dirent *e;
        char p[512];
        while (d && (e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", fx->dir, e->d_name);
                remove(p);
            }
        if (d)
            closedir(d);
        rmdir(fx->dir);
    }
    free(fx);
    return 0;
}

/* The figure kinds, each drawn by one call into `path`. */
enum { FIT1, FIT8, FIT_NO_TRUTH, HEAT1, HEAT8, LOSS, CURVE, CONTOUR, NKINDS };
static const char *const KIND[NKINDS] = {
    "fit_w1", "fit_w8", "fit_no_truth", "heatmap_w1", "heatmap_w8", "loss", "cv", "contour",
};

static int draw(const fixture *fx, int kind, const char *path, plot_format fmt,
                char *err, size_t errlen)
{
    switch (kind) {
    case FIT1:
        return plot_fit(path, fmt, "Nadaraya-Watson, w = 1", fx->xq, fx->truth, fx->pred1, M,
                        fx->xtrain, fx->ytrain, N, 0, 5, -1, 5, err, errlen);
    case FIT8:
        return plot_fit(path, fmt, NULL, fx->xq, fx->truth, fx->pred8, M,
                        fx->xtrain, fx->ytrain, N, 0, 5, -1, 5, err, errlen);
    case FIT_NO_TRUTH:
        return plot_fit(path, fmt, "fit #1 (no truth)", fx->xq, NULL, fx->pred8, M,
                        fx->xtrain, fx->ytrain, N, 0, 5, -1, 5, err, errlen);
    case HEAT1:
        return plot_heatmap(path, fmt, "Attention weights, w = 1", fx->w1, M, N, err, errlen);
    case HEAT8:
        return plot_heatmap(path, fmt, NULL, fx->w8, M, N, err, errlen);
    case LOSS:
        return plot_loss(path, fmt, "Training", fx->loss, EPOCHS, err, errlen);
    case CURVE:
        return plot_curve(path, fmt, "Bandwidth selection", "bandwidth h",
                          "LOO CV (mean squared error)", fx->h, fx->cv, K,
                          fx->hopt, fx->vopt, err, errlen);
    default:
        return plot_contour(path, fmt, "LOO CV (mean squared error)", "bandwidth h1",
                            "bandwidth h2", fx->h1, K1, fx->h2, K2, fx->cv2,
                            fx->h1opt, fx->h2opt, err, errlen);
    }
}

/* The file's first bytes show the format; a PNG is 800 x 600. */
static void check_file(const char *path, plot_format fmt)
{
    unsigned char head[4096] = { 0 };
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t got = fread(head, 1, sizeof head - 1, fp);
    fclose(fp);
    assert_true(got > 0);
    switch (fmt) {
    case PLOT_PNG:
        assert_memory_equal(head, "\x89PNG\r\n\x1a\n", 8);
        assert_memory_equal(head + 12, "IHDR", 4);
        assert_int_equal((head[16] << 24) | (head[17] << 16) | (head[18] << 8) | head[19], 800);
        assert_int_equal((head[20] << 24) | (head[21] << 16) | (head[22] << 8) | head[23], 600);
        break;
    case PLOT_PDF:
        assert_memory_equal(head, "%PDF", 4);
        break;
    case PLOT_SVG:
        assert_non_null(strstr((const char *)head, "<svg"));
        break;
    }
}

/* Names in dir other than those expected: nothing may be left over. */
static void check_only(const char *dir, const char *const *names, int n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    assert_non_null(d);
    while ((e = readdir(d))) {
        int ok = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
        for (int i = 0; i < n && !ok; i++)
            ok = !strcmp(e->d_name, names[i]);
        if (!ok)
            fail_msg("unexpected file %s/%s", dir, e->d_name);
    }
    closedir(d);
}

static void test_format_names(void **state)
{
    plot_format fmt = PLOT_PDF;
    (void)state;
    assert_int_equal(plot_format_from_name("png", &fmt), 0);
    assert_int_equal(fmt, PLOT_PNG);
    assert_int_equal(plot_format_from_name("svg", &fmt), 0);
    assert_int_equal(fmt, PLOT_SVG);
    assert_int_equal(plot_format_from_name("pdf", &fmt), 0);
    assert_int_equal(fmt, PLOT_PDF);
    assert_int_equal(plot_format_from_name("jpg", &fmt), -1);
    assert_int_equal(plot_format_from_name(NULL, &fmt), -1);
    assert_string_equal(plot_format_ext(PLOT_PNG), "png");
    assert_string_equal(plot_format_ext(PLOT_SVG), "svg");
    assert_string_equal(plot_format_ext(PLOT_PDF), "pdf");
}

/* PLplot loads once, whichever threads ask first: each call sees it loaded
 * and leaves err alone. */
enum { LOAD_ERRLEN = 64 };
static void *load(void *err)
{
    return (void *)(intptr_t)plot_load(err, LOAD_ERRLEN);
}

static void test_load_from_threads(void **state)
{
    enum { THREADS = 4 };
    pthread_t thread[THREADS];
    char err[THREADS][LOAD_ERRLEN];
    (void)state;
    for (int i = 0; i < THREADS; i++) {
        strcpy(err[i], "untouched");
        assert_int_equal(pthread_create(&thread[i], NULL, load, err[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *rc;
        assert_int_equal(pthread_join(thread[i], &rc), 0);
        assert_int_equal((intptr_t)rc, 0);
        assert_string_equal(err[i], "untouched");
    }
    assert_int_equal(plot_load(NULL, 0), 0);
}

static void test_every_figure(void **state)
{
    const fixture *fx = *state;
    char names[NKINDS * 3][32], path[256], err[256];
    const char *list[NKINDS * 3];
    int n = 0;
    for (int fmt = PLOT_PNG; fmt <= PLOT_PDF; fmt++)
        for (int kind = 0; kind < NKINDS; kind++, n++) {
            const char *ext = plot_format_ext((plot_format)fmt);
            snprintf(names[n], sizeof names[n], "%s.%s", KIND[kind], ext);
            snprintf(path, sizeof path, "%s/%s.%s", fx->dir, KIND[kind], ext);
            list[n] = names[n];
            err[0] = '\0';
            int rc = draw(fx, kind, path, (plot_format)fmt, err, sizeof err);
            if (rc != 0)
                fail_msg("%s: %s", path, err);
            check_file(path, (plot_format)fmt);
        }
    /* Drawing again replaces the file in place. */
    snprintf(path, sizeof path, "%s/%s.png", fx->dir, KIND[0]);
    assert_int_equal(draw(fx, 0, path, PLOT_PNG, err, sizeof err), 0);
    check_file(path, PLOT_PNG);
    check_only(fx->dir, list, n);
}

/* Drawing prints nothing on stdout or stderr. */
static void test_quiet(void **state)
{
    const fixture *fx = *state;
    char log[128], path[128], err[256];
    struct stat st;
    snprintf(log, sizeof log, "%s/chatter.txt", fx->dir);
    fflush(NULL);
    int out = dup(1), errfd = dup(2), fd = open(log, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    assert_true(out >= 0 && errfd >= 0 && fd >= 0);
    dup2(fd, 1);
    dup2(fd, 2);
    int rc = 0;
    for (int fmt = PLOT_PNG; fmt <= PLOT_PDF; fmt++)
        for (int kind = 0; kind < NKINDS; kind++) {
            snprintf(path, sizeof path, "%s/quiet.%s", fx->dir, plot_format_ext((plot_format)fmt));
            rc |= draw(fx, kind, path, (plot_format)fmt, err, sizeof err);
            unlink(path);
        }
    fflush(NULL);
    dup2(out, 1);
    dup2(errfd, 2);
    close(out);
    close(errfd);
    close(fd);
    assert_int_equal(rc, 0);
    assert_int_equal(stat(log, &st), 0);
    if (st.st_size != 0)
        fail_msg("PLplot printed %lld bytes, see %s", (long long)st.st_size, log);
    unlink(log);
}

/* Unwritable directory: -1, the path in the message, no file. */
static void test_unwritable(void **state)
{
    const fixture *fx = *state;
    const char *path = "/nonexistent-dir/x.png";
    struct stat st;
    for (int kind = 0; kind < NKINDS; kind++) {
        char err[256] = "";
        assert_int_equal(draw(fx, kind, path, PLOT_PNG, err, sizeof err), -1);
        assert_non_null(strstr(err, path));
        assert_non_null(strstr(err, "No such file or directory"));
        assert_null(strchr(err, '\n'));
        assert_int_not_equal(stat(path, &st), 0);
    }
}

/* Same in a child, so that an exit() inside PLplot shows as such. */
static void test_unwritable_does_not_exit(void **state)
{
    const fixture *fx = *state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char err[256];
        int rc = draw(fx, FIT1, "/nonexistent-dir/x.pdf", PLOT_PDF, err, sizeof err);
        _exit(rc == -1 ? 42 : 43);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 42)
        fail_msg("the child exited with %d (PLplot's exit is 1)", WEXITSTATUS(status));
}

/* The target is a directory: the drawing succeeds, the rename fails, and
 * the temporary beside it is gone. */
static void test_failed_rename_leaves_nothing(void **state)
{
    const fixture *fx = *state;
    char sub[128], inner[160], path[160], err[256] = "";
    snprintf(sub, sizeof sub, "%s/rename", fx->dir);
    snprintf(path, sizeof path, "%s/taken", sub);
    snprintf(inner, sizeof inner, "%s/taken/keep", sub);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(mkdir(inner, 0700), 0);   /* not empty: rename fails */
    for (int kind = 0; kind < NKINDS; kind++) {
        assert_int_equal(draw(fx, kind, path, PLOT_SVG, err, sizeof err), -1);
        assert_non_null(strstr(err, path));
    }
    const char *only[] = { "taken" };
    check_only(sub, only, 1);
    rmdir(inner);
    rmdir(path);
    rmdir(sub);
}

/* Bad arguments fail before anything is created. */
static void test_bad_arguments(void **state)
{
    const fixture *fx = *state;
    char path[128], err[256] = "";
    struct stat st;
    double h[2] = { 1.0, -1.0 }, v[4] = { 1, 2, 3, 4 };
    snprintf(path, sizeof path, "%s/bad.png", fx->dir);
    assert_int_equal(plot_fit(path, PLOT_PNG, NULL, fx->xq, NULL, NULL, M, NULL, NULL, 0,
                              0, 5, -1, 5, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_int_equal(plot_fit(path, PLOT_PNG, NULL, fx->xq, NULL, fx->pred1, M, NULL, NULL, 0,
                              5, 0, -1, 5, err, sizeof err), -1);
    assert_int_equal(plot_heatmap(path, PLOT_PNG, NULL, fx->w1, 0, N, err, sizeof err), -1);
    assert_int_equal(plot_loss(path, PLOT_PNG, NULL, fx->loss, 0, err, sizeof err), -1);
    assert_int_equal(plot_curve(path, PLOT_PNG, NULL, "h", "cv", h, v, 2, 1, 1,
                                err, sizeof err), -1);
    assert_int_equal(plot_contour(path, PLOT_PNG, NULL, "h1", "h2", h, 2, h, 2, v, 1, 1,
                                  err, sizeof err), -1);
    assert_int_equal(plot_loss(path, (plot_format)7, NULL, fx->loss, EPOCHS,
                               err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_int_not_equal(stat(path, &st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_names),
        cmocka_unit_test(test_load_from_threads),
        cmocka_unit_test(test_every_figure),
        cmocka_unit_test(test_quiet),
        cmocka_unit_test(test_unwritable),
        cmocka_unit_test(test_unwritable_does_not_exit),
        cmocka_unit_test(test_failed_rename_leaves_nothing),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
