/*
 * test_coverage_write.c: a write that fails at every byte.
 *
 * The writers behind nw_model_save and nw_csv_write check every stdio call
 * they make, but through a buffered FILE a failure only shows at the call
 * that flushes, so most checks can never fail in the other tests.  Here
 * the output is stdout ("-") made unbuffered (setvbuf _IONBF) and
 * redirected to a file whose size is capped at L bytes (RLIMIT_FSIZE, with
 * SIGXFSZ ignored: the write past L fails with EFBIG).  For every L from 0
 * to the full size - 1 the write must fail with NW_ERR_IO and the diag
 * "<stdout>: cannot write: File too large", having written exactly the
 * first L bytes of the full output (nothing garbled before the failure);
 * at L = the full size it must succeed with the full output.  Each save
 * runs in a child process (fork), so the limit and the unbuffered stdout
 * never touch this process's own stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* What one child does: save something to "-" (stdout). */
typedef nw_status (*save_fn)(const void *what, nw_diag *diag);

static nw_status save_model(const void *what, nw_diag *diag)
{
    return nw_model_save(what, "-", diag);
}

typedef struct table {
    const char *const *names;
    const double *data;
    size_t rows, cols;
} table;

static nw_status save_csv(const void *what, nw_diag *diag)
{
    const table *t = what;
    return nw_csv_write("-", t->names, t->data, t->rows, t->cols, diag);
}

/* Exit codes of the child. */
enum { CHILD_OK = 0, CHILD_IO_FAILED = 10, CHILD_OTHER = 20, CHILD_BAD_MESSAGE = 30 };

/* Save `what` with stdout an unbuffered stream onto path, capped at limit
 * bytes (RLIM_INFINITY: the process's own limit), in a child; its exit code. */
static int save_capped(save_fn save, const void *what, const char *path, rlim_t limit)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0) _exit(CHILD_OTHER);
        close(fd);
        setvbuf(stdout, NULL, _IONBF, 0);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit old, lim;
        if (getrlimit(RLIMIT_FSIZE, &old) != 0) _exit(CHILD_OTHER);
        lim = old;
        if (limit != RLIM_INFINITY) { /* lowering the soft limit is always allowed */
            lim.rlim_cur = limit;
            if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(CHILD_OTHER);
        }
        nw_diag diag = { 0 };
        nw_status st = save(what, &diag);
        /* exit (not _exit): a coverage build writes its counts at exit,
         * which needs the old file size limit back (up to the hard limit,
         * which was not lowered) */
        if (setrlimit(RLIMIT_FSIZE, &old) != 0) _exit(CHILD_OTHER);
        if (st == NW_OK) exit(CHILD_OK);
        if (st != NW_ERR_IO) exit(CHILD_OTHER);
        exit(strcmp(diag.message, "<stdout>: cannot write: File too large") == 0
             ? CHILD_IO_FAILED : CHILD_BAD_MESSAGE);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* A whole file's bytes (malloc'd, NUL-terminated) and their count: the
 * outputs may hold binary data (model files of version 3). */
static char *file_bytes(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    assert_non_null(b);
    for (;;) {
        n += fread(b + n, 1, cap - 1 - n, fp);
        if (n < cap - 1) break;
        cap *= 2;
        b = realloc(b, cap);
        assert_non_null(b);
    }
    fclose(fp);
    b[n] = '\0';
    *len = n;
    return b;
}

/* The whole check (see the file comment); returns the full output's size.
 * With sampled set, a large output is capped only at its first 512 bytes,
 * its last 64 and 512 limits spread evenly between. */
static size_t fails_at_bytes(save_fn save, const void *what, int sampled)
{
    char path[512];
    snprintf(path, sizeof path, "%s", in_dir("out"));
    assert_int_equal(save_capped(save, what, path, RLIM_INFINITY), CHILD_OK);
    size_t size = 0, got = 0;
    char *full = file_bytes(path, &size);
    assert_non_null(full);
    assert_true(size > 0);
    size_t step = sampled && size > 1024 ? (size - 576) / 512 + 1 : 1;
    for (size_t limit = 0; limit < size; limit++) {
        if (limit >= 512 && limit + 64 < size && (limit - 512) % step != 0) continue;
        int code = save_capped(save, what, path, (rlim_t) limit);
        if (code != CHILD_IO_FAILED)
            fail_msg("capped at %zu of %zu bytes: child exit %d, expected %d", limit, size, code,
                     CHILD_IO_FAILED);
        char *part = file_bytes(path, &got);
        assert_non_null(part);
        if (got != limit || memcmp(part, full, limit) != 0)
            fail_msg("capped at %zu bytes: wrote %zu bytes, not the output's first %zu",
                     limit, got, limit);
        free(part);
    }
    assert_int_equal(save_capped(save, what, path, (rlim_t) size), CHILD_OK);
    char *again = file_bytes(path, &got);
    assert_int_equal(got, size);
    assert_memory_equal(again, full, size);
    free(again);
    free(full);
    return size;
}

static size_t fails_at_every_byte(save_fn save, const void *what)
{
    return fails_at_bytes(save, what, 0);
}

/* A model with d = 2 inputs and p = 2 outputs, named (cJSON escapes the
 * quote), nearest-value empty policy and f32 sums, and a 1-d one without
 * names (written as "x" and "y"), and a 3-d one without names
 * ("x1".."x3"): every call of model_io.c's writer. */
static void test_model_save_fails_at_every_byte(void **state)
{
    (void) state;
    const double x2[6] = { 0, 1, 0.5, -2, 3, 1e-300 }, y2[6] = { 1, 2, 3, 4, 5.25, -6 };
    const char *xn[2] = { "a\"b", "c" }, *yn[2] = { "u", "v" };
    nw_model *m = NULL;
    assert_int_equal(nw_model_new(&m, x2, y2, 3, 2, 2), NW_OK);
    assert_int_equal(nw_model_set_names(m, xn, yn), NW_OK);
    assert_int_equal(nw_model_set_empty_policy(m, NW_EMPTY_NEAREST), NW_OK);
    assert_int_equal(nw_model_set_precision(m, NW_PRECISION_F32), NW_OK);
    size_t size = fails_at_every_byte(save_model, m);
    nw_model_free(m);
    assert_true(size > 300);

    const double x1[2] = { 0, 1 }, y1[2] = { 3, 4 };
    assert_int_equal(nw_model_new(&m, x1, y1, 2, 1, 1), NW_OK);
    fails_at_every_byte(save_model, m);
    nw_model_free(m);

    const double x3[3] = { 1, 2, 3 }, y3[1] = { 7 };
    assert_int_equal(nw_model_new(&m, x3, y3, 1, 3, 1), NW_OK);
    fails_at_every_byte(save_model, m);
    nw_model_free(m);
}

/* A model saved as version 3 (2 x 32769 values): the header line and the
 * data after it, chunk by chunk, fails as the one of the numbers does
 * (sampled: the output is ~520 KB). */
static void test_model_v3_save_fails(void **state)
{
    (void) state;
    enum { N = 32769 };
    double *v = malloc(2 * N * sizeof *v);
    assert_non_null(v);
    for (int i = 0; i < 2 * N; i++) v[i] = (i % 5 - 2) * 0.37 + i;
    nw_model *m = NULL;
    assert_int_equal(nw_model_new(&m, v, v + N, N, 1, 1), NW_OK);
    free(v);
    size_t size = fails_at_bytes(save_model, m, 1);
    nw_model_free(m);
    assert_true(size > 8 * 2 * N);
}

/* A CSV table with a header (a name that needs quoting, a NULL name) and
 * one without: every call of csv.c's writer. */
static void test_csv_write_fails_at_every_byte(void **state)
{
    (void) state;
    const double v[6] = { 1, -2.5, NAN, INFINITY, 1e-310, 3 };
    const char *names[3] = { "plain", "with,comma", NULL };
    table named = { names, v, 2, 3 }, bare = { NULL, v, 3, 2 };
    fails_at_every_byte(save_csv, &named);
    fails_at_every_byte(save_csv, &bare);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_model_save_fails_at_every_byte, tmpdir_setup,
                                        tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_csv_write_fails_at_every_byte, tmpdir_setup,
                                        tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_model_v3_save_fails, tmpdir_setup, tmpdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
