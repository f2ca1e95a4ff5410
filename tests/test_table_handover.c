/*
 * test_table_handover.c: the memory-saving table calls predict is built on
 * (csv.c, model.c): nw_table_drop_columns, nw_model_new_from_table (the
 * model takes the table's buffer) and nw_csv_write_columns (columns of
 * several arrays written side by side).  Each is compared with the plain
 * calls it replaces -- nw_table_columns copies, nw_model_new, and
 * nw_csv_write_digits of the joined array -- which must agree exactly
 * (memcmp, byte-for-byte files): the hand-overs move numbers, they never
 * compute them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

enum { ROWS = 5000, COLS = 4 };

/* A CSV file of ROWS rows: a, b, c, d with distinct values per cell (and
 * c's values around 1e300 when huge: the model's scaled outputs then). */
static void write_table_file(const char *path, int huge)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "a,b,c,d\n");
    for (int i = 0; i < ROWS; i++)
        fprintf(fp, "%.17g,%.17g,%.17g,%.17g\n", sin(i * 0.37) * 3 + i * 1e-3, cos(i * 0.11),
                (huge ? 1e300 : 1.0) * (0.5 + sin(i * 0.05)), i * 0.25 - 7);
    assert_int_equal(fclose(fp), 0);
}

static nw_table *read_table(const char *path)
{
    nw_table *t = NULL;
    assert_int_equal(nw_table_read(path, &t, NULL), NW_OK);
    assert_int_equal(nw_table_rows(t), ROWS);
    assert_int_equal(nw_table_cols(t), COLS);
    return t;
}

static char *temp_path(const char *tag)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/nw-handover-%s-%ld.csv", P_tmpdir, tag, (long) getpid());
    return path;
}

/* Dropping columns keeps the others, in order, with their names and
 * values; a bad index removes nothing; repeats count once. */
static void test_drop_columns(void **state)
{
    (void) state;
    const char *path = temp_path("drop");
    write_table_file(path, 0);
    nw_table *t = read_table(path), *orig = read_table(path);
    const double *o = nw_table_data(orig);

    size_t bad[] = { 1, COLS };
    assert_int_equal(nw_table_drop_columns(t, bad, 2), NW_ERR_ARG);
    assert_int_equal(nw_table_cols(t), COLS);
    assert_memory_equal(nw_table_data(t), o, ROWS * COLS * sizeof(double));
    assert_int_equal(nw_table_drop_columns(NULL, bad, 1), NW_ERR_ARG);
    assert_int_equal(nw_table_drop_columns(t, NULL, 1), NW_ERR_ARG);
    assert_int_equal(nw_table_drop_columns(t, NULL, 0), NW_OK);   /* nothing to drop */
    assert_int_equal(nw_table_cols(t), COLS);

    size_t drop[] = { 3, 1, 3 };   /* d, b (d twice) */
    assert_int_equal(nw_table_drop_columns(t, drop, 3), NW_OK);
    assert_int_equal(nw_table_cols(t), 2);
    assert_int_equal(nw_table_rows(t), ROWS);
    assert_string_equal(nw_table_name(t, 0), "a");
    assert_string_equal(nw_table_name(t, 1), "c");
    size_t keep[] = { 0, 2 };
    double *want = malloc(ROWS * 2 * sizeof *want);
    assert_non_null(want);
    assert_int_equal(nw_table_columns(orig, keep, 2, want), NW_OK);
    assert_memory_equal(nw_table_data(t), want, ROWS * 2 * sizeof(double));

    size_t all[] = { 0, 1 };
    assert_int_equal(nw_table_drop_columns(t, all, 2), NW_OK);
    assert_int_equal(nw_table_cols(t), 0);
    assert_int_equal(nw_table_rows(t), ROWS);
    assert_null(nw_table_data(t));
    free(want);
    nw_table_free(t);
    nw_table_free(orig);
    unlink(path);
}

/* nw_model_new_from_table against nw_model_new on nw_table_columns copies:
 * the same x, y, names and predictions, bit for bit; the table is left
 * empty.  Inputs in any order, repeated (d > cols: x gets its own buffer),
 * outputs before inputs, scaled outputs (|y| > 2^512). */
static void check_from_table(const size_t *xc, size_t d, const size_t *yc, size_t p, int huge)
{
    const char *path = temp_path("model");
    write_table_file(path, huge);
    nw_table *t = read_table(path);
    double *x = malloc(ROWS * d * sizeof *x), *y = malloc(ROWS * p * sizeof *y);
    assert_true(x && y);
    assert_int_equal(nw_table_columns(t, xc, d, x), NW_OK);
    assert_int_equal(nw_table_columns(t, yc, p, y), NW_OK);
    const char *xn[8], *yn[8];
    for (size_t k = 0; k < d; k++) xn[k] = nw_table_name(t, xc[k]);
    for (size_t c = 0; c < p; c++) yn[c] = nw_table_name(t, yc[c]);
    nw_model *want = NULL, *got = NULL;
    assert_int_equal(nw_model_new(&want, x, y, ROWS, d, p), NW_OK);
    assert_int_equal(nw_model_set_names(want, xn, yn), NW_OK);

    assert_int_equal(nw_model_new_from_table(&got, t, xc, d, yc, p), NW_OK);
    assert_int_equal(nw_table_cols(t), 0);
    assert_null(nw_table_data(t));
    nw_table_free(t);
    assert_int_equal(nw_model_n(got), ROWS);
    assert_int_equal(nw_model_d(got), d);
    assert_int_equal(nw_model_p(got), p);
    assert_memory_equal(nw_model_x(got), x, ROWS * d * sizeof(double));
    assert_memory_equal(nw_model_y(got), y, ROWS * p * sizeof(double));
    for (size_t k = 0; k < d; k++) assert_string_equal(nw_model_x_name(got, k), nw_model_x_name(want, k));
    for (size_t c = 0; c < p; c++) assert_string_equal(nw_model_y_name(got, c), nw_model_y_name(want, c));

    /* predictions at 300 of the points, local linear, fixed bandwidths */
    double h[8];
    for (size_t k = 0; k < d; k++) h[k] = 0.7;
    enum { M = 300 };
    double *a = malloc(M * p * sizeof *a), *b = malloc(M * p * sizeof *b);
    assert_true(a && b);
    for (int i = 0; i < 2; i++) {
        nw_model *mod = i ? got : want;
        assert_int_equal(nw_model_set_bandwidth(mod, h), NW_OK);
        assert_int_equal(nw_model_set_estimator(mod, NW_ESTIMATOR_LINEAR), NW_OK);
        assert_int_equal(nw_predict(mod, x, M, i ? b : a, NULL), NW_OK);
    }
    assert_memory_equal(a, b, M * p * sizeof(double));
    if (huge) assert_true(fabs(a[0]) > 1e200);   /* the scaled path really ran */
    free(a);
    free(b);
    nw_model_free(want);
    nw_model_free(got);
    free(x);
    free(y);
    unlink(path);
}

static void test_from_table_plain(void **state)
{
    (void) state;
    const size_t xc[] = { 0 }, yc[] = { 1 };
    check_from_table(xc, 1, yc, 1, 0);
}

static void test_from_table_shuffled(void **state)
{
    (void) state;
    const size_t xc[] = { 3, 0 }, yc[] = { 2, 1 };   /* outputs before inputs in the file */
    check_from_table(xc, 2, yc, 2, 0);
}

static void test_from_table_repeated(void **state)
{
    (void) state;
    const size_t xc[] = { 1, 0, 1, 3, 0 }, yc[] = { 2 };   /* d = 5 > 4 columns */
    check_from_table(xc, 5, yc, 1, 0);
}

static void test_from_table_scaled(void **state)
{
    (void) state;
    const size_t xc[] = { 0, 1 }, yc[] = { 2, 3 };   /* c ~ 1e300 */
    check_from_table(xc, 2, yc, 2, 1);
}

/* Errors leave the table as it was. */
static void test_from_table_errors(void **state)
{
    (void) state;
    const char *path = temp_path("err");
    write_table_file(path, 0);
    nw_table *t = read_table(path), *orig = read_table(path);
    nw_model *m = (nw_model *) 1;
    const size_t ok[] = { 0 }, bad[] = { COLS };
    assert_int_equal(nw_model_new_from_table(&m, t, bad, 1, ok, 1), NW_ERR_ARG);
    assert_null(m);
    assert_int_equal(nw_model_new_from_table(&m, t, ok, 1, bad, 1), NW_ERR_ARG);
    assert_int_equal(nw_model_new_from_table(&m, t, ok, 0, ok, 1), NW_ERR_EMPTY);
    assert_int_equal(nw_model_new_from_table(&m, t, ok, 1, ok, 0), NW_ERR_EMPTY);
    assert_int_equal(nw_model_new_from_table(&m, NULL, ok, 1, ok, 1), NW_ERR_ARG);
    assert_int_equal(nw_model_new_from_table(&m, t, NULL, 1, ok, 1), NW_ERR_ARG);
    assert_int_equal(nw_model_new_from_table(NULL, t, ok, 1, ok, 1), NW_ERR_ARG);
    assert_int_equal(nw_table_cols(t), COLS);
    assert_memory_equal(nw_table_data(t), nw_table_data(orig), ROWS * COLS * sizeof(double));
    assert_string_equal(nw_table_name(t, 3), "d");
    nw_table_free(t);
    nw_table_free(orig);
    unlink(path);
}

/* Columns of three arrays, with their strides, written side by side: the
 * same bytes as the joined array through nw_csv_write_digits, shortest
 * form and 6 digits, NaN and infinities included. */
static void test_write_columns(void **state)
{
    (void) state;
    enum { R = 1000 };
    double *a = malloc(R * 2 * sizeof *a), *b = malloc(R * sizeof *b), *c = malloc(R * 3 * sizeof *c);
    double *joined = malloc(R * 4 * sizeof *joined);
    assert_true(a && b && c && joined);
    for (int i = 0; i < R; i++) {
        a[2 * i] = i * 0.1;
        a[2 * i + 1] = -1.0 / (i + 1);
        b[i] = i == 7 ? NAN : i == 8 ? INFINITY : i == 9 ? -INFINITY : exp(i * 0.3 - 100);
        for (int k = 0; k < 3; k++) c[3 * i + k] = (k + 1) * 1e-300 * i;
        /* output columns: a[0], b, c[2], a[1] */
        joined[4 * i] = a[2 * i];
        joined[4 * i + 1] = b[i];
        joined[4 * i + 2] = c[3 * i + 2];
        joined[4 * i + 3] = a[2 * i + 1];
    }
    const double *col[] = { a, b, c + 2, a + 1 };
    const size_t stride[] = { 2, 1, 3, 2 };
    const char *names[] = { "a0", "b", "c2", "a,1" };
    char want_path[256], got_path[256];
    snprintf(want_path, sizeof want_path, "%s", temp_path("want"));
    snprintf(got_path, sizeof got_path, "%s", temp_path("got"));
    for (int digits = 0; digits <= 6; digits += 6) {
        assert_int_equal(nw_csv_write_digits(want_path, names, joined, R, 4, digits, NULL), NW_OK);
        assert_int_equal(nw_csv_write_columns(got_path, names, col, stride, R, 4, digits, NULL), NW_OK);
        FILE *fw = fopen(want_path, "rb"), *fg = fopen(got_path, "rb");
        assert_true(fw && fg);
        int cw, cg;
        long at = 0;
        do {
            cw = getc(fw);
            cg = getc(fg);
            if (cw != cg) fail_msg("digits %d: the files differ at byte %ld", digits, at);
            at++;
        } while (cw != EOF);
        assert_true(at > R * 4);
        fclose(fw);
        fclose(fg);
    }
    const double *bad_col[] = { a, NULL, c, a };
    assert_int_equal(nw_csv_write_columns(got_path, names, bad_col, stride, R, 4, 0, NULL), NW_ERR_ARG);
    assert_int_equal(nw_csv_write_columns(got_path, names, col, stride, R, 0, 0, NULL), NW_ERR_EMPTY);
    assert_int_equal(nw_csv_write_columns(got_path, names, col, stride, R, 4, 18, NULL), NW_ERR_ARG);
    assert_int_equal(nw_csv_write_columns(NULL, names, col, stride, R, 4, 0, NULL), NW_ERR_ARG);
    assert_int_equal(nw_csv_write_columns(got_path, names, NULL, NULL, 0, 4, 0, NULL), NW_OK);
    unlink(want_path);
    unlink(got_path);
    free(a);
    free(b);
    free(c);
    free(joined);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drop_columns),
        cmocka_unit_test(test_from_table_plain),
        cmocka_unit_test(test_from_table_shuffled),
        cmocka_unit_test(test_from_table_repeated),
        cmocka_unit_test(test_from_table_scaled),
        cmocka_unit_test(test_from_table_errors),
        cmocka_unit_test(test_write_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
