/* test_model_io.c: model files saved and loaded (src/model_io.c). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h" /* nw_model_take */
#include "nwreg.h"
#include "testutil.h"

/* ------------------------------------------------------------ helpers */

/* A copy of text with the first occurrence of from replaced by to. */
static char *replaced(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    if (!at) fail_msg("\"%s\" not in the model text", from);
    size_t head = (size_t) (at - text), len = strlen(text) - strlen(from) + strlen(to);
    char *out = malloc(len + 1);
    memcpy(out, text, head);
    strcpy(out + head, to);
    strcat(out, at + strlen(from));
    return out;
}

/* A small valid model file; tests break it one field at a time. */
static const char valid_model[] =
    "{\n"
    "  \"format\": \"nwreg-model\",\n"
    "  \"version\": 1,\n"
    "  \"kernel\": \"gaussian\",\n"
    "  \"estimator\": \"lc\",\n"
    "  \"empty\": \"nan\",\n"
    "  \"n\": 3, \"d\": 1, \"p\": 1,\n"
    "  \"inputs\": [\"x\"], \"outputs\": [\"y\"],\n"
    "  \"bandwidth\": [0.25],\n"
    "  \"x\": [[0], [1], [2]],\n"
    "  \"y\": [[1], [3], [2]]\n"
    "}\n";

/* Load text (valid_model with from replaced by to) expecting status; return
 * the diag message (static). */
static const char *load_fails(const char *from, const char *to, nw_status status)
{
    static nw_diag diag;
    char *text = replaced(valid_model, from, to);
    const char *path = make_file("broken.json", text);
    free(text);
    nw_model *m = (nw_model *) &diag; /* any non-NULL value: the call must reset it */
    memset(&diag, 0, sizeof diag);
    nw_status st = nw_model_load(&m, path, &diag);
    if (st != status) fail_msg("status %d, expected %d (%s)", st, status, diag.message);
    assert_null(m);
    assert_non_null(strstr(diag.message, path));
    assert_null(strchr(diag.message, '\n'));
    return diag.message;
}

static int same_bits(const double *a, const double *b, size_t n)
{
    return memcmp(a, b, n * sizeof *a) == 0;
}

/* A loaded model holds these sizes, data and bandwidths, bit for bit. */
static void assert_same_data(const nw_model *m, const double *x, const double *y,
                             const double *h, size_t n, size_t d, size_t p)
{
    assert_int_equal(nw_model_n(m), n);
    assert_int_equal(nw_model_d(m), d);
    assert_int_equal(nw_model_p(m), p);
    assert_true(same_bits(nw_model_x(m), x, n * d));
    assert_true(same_bits(nw_model_y(m), y, n * p));
    double hb[8];
    assert_true(d <= 8);
    assert_int_equal(nw_model_bandwidth(m, hb), NW_OK);
    assert_true(same_bits(hb, h, d));
}

/* ------------------------------------------------------------- tests */

static const double tricky[] = {
    0.1, 1.0 / 3.0, 1e-300, 5e-324, DBL_MAX, -DBL_MAX, 0.1 + 0.2, -0.0, 2.0 / 3.0,
    123456789.123456789, -1.5e-310, 9007199254740993.0, 1e23, DBL_MIN, 1, 7e22,
};
enum { TRICKY_N = sizeof tricky / sizeof *tricky };

static void test_round_trip(void **state)
{
    enum { N = TRICKY_N / 2, D = 2, P = 2 };
    double y[N * P];
    for (size_t i = 0; i < N * P; i++) y[i] = tricky[TRICKY_N - 1 - i] / 3;
    const double h[D] = { 0.1 + 0.2, 1.0 / 3.0 };
    const char *x_names[D] = { "age, years", "weight \"kg\"" };
    const char *y_names[P] = { "h\xc3\xb6he", "tab\there" };
    nw_model *m = NULL, *back = NULL;
    nw_diag diag = {0};
    assert_int_equal(nw_model_new(&m, tricky, y, N, D, P), NW_OK);
    assert_int_equal(nw_model_set_kernel(m, NW_KERNEL_EPANECHNIKOV), NW_OK);
    assert_int_equal(nw_model_set_estimator(m, NW_ESTIMATOR_LINEAR), NW_OK);
    assert_int_equal(nw_model_set_empty_policy(m, NW_EMPTY_NEAREST), NW_OK);
    assert_int_equal(nw_model_set_bandwidth(m, h), NW_OK);
    assert_int_equal(nw_model_set_names(m, x_names, y_names), NW_OK);

    const char *path = in_dir("model.json");
    assert_int_equal(nw_model_save(m, path, &diag), NW_OK);
    assert_int_equal(count_entries(test_dir), 1);
    assert_int_equal(nw_model_load(&back, path, &diag), NW_OK);
    assert_same_data(back, tricky, y, h, N, D, P);
    assert_int_equal(nw_model_kernel(back), NW_KERNEL_EPANECHNIKOV);
    assert_int_equal(nw_model_estimator(back), NW_ESTIMATOR_LINEAR);
    for (size_t k = 0; k < D; k++) assert_string_equal(nw_model_x_name(back, k), x_names[k]);
    for (size_t c = 0; c < P; c++) assert_string_equal(nw_model_y_name(back, c), y_names[c]);

    char *text = slurp(path);
    assert_contains(text, "\"format\": \"nwreg-model\"");
    assert_contains(text, "\"version\": 1,");
    assert_contains(text, "\"kernel\": \"epanechnikov\"");
    assert_contains(text, "\"estimator\": \"ll\"");
    assert_contains(text, "\"empty\": \"nearest\"");
    assert_contains(text, "\"bandwidth\": [0.30000000000000004, 0.3333333333333333]");
    assert_contains(text, "[0.1, 0.3333333333333333]"); /* shortest exact form */
    assert_contains(text, "\"inputs\": [\"age, years\",\"weight \\\"kg\\\"\"]");
    free(text);

    /* saving the loaded model gives the same file */
    const char *again = in_dir("again.json");
    assert_int_equal(nw_model_save(back, again, &diag), NW_OK);
    char *a = slurp(path), *b = slurp(again);
    assert_string_equal(a, b);
    free(a);
    free(b);
    nw_model_free(m);
    nw_model_free(back);
}

static void test_default_names(void **state)
{
    const double x[] = { 1, 2, 3, 4 }, y[] = { 5, 6 };
    nw_model *m = NULL, *back = NULL;
    const char *path = in_dir("unnamed.json");

    assert_int_equal(nw_model_new(&m, x, y, 2, 2, 1), NW_OK);
    assert_int_equal(nw_model_save(m, path, NULL), NW_OK);
    assert_int_equal(nw_model_load(&back, path, NULL), NW_OK);
    assert_string_equal(nw_model_x_name(back, 0), "x1");
    assert_string_equal(nw_model_x_name(back, 1), "x2");
    assert_string_equal(nw_model_y_name(back, 0), "y");
    assert_int_equal(nw_model_kernel(back), NW_KERNEL_GAUSSIAN);
    assert_int_equal(nw_model_estimator(back), NW_ESTIMATOR_CONSTANT);
    nw_model_free(m);
    nw_model_free(back);

    assert_int_equal(nw_model_new(&m, x, y, 2, 1, 1), NW_OK);
    assert_int_equal(nw_model_save(m, path, NULL), NW_OK);
    char *text = slurp(path);
    assert_contains(text, "\"inputs\": [\"x\"]");
    assert_contains(text, "\"outputs\": [\"y\"]");
    assert_contains(text, "\"empty\": \"nan\"");
    free(text);
    nw_model_free(m);
}

static void test_valid_model_loads(void **state)
{
    nw_model *m = NULL;
    nw_diag diag = {0};
    assert_int_equal(nw_model_load(&m, make_file("valid.json", valid_model), &diag), NW_OK);
    assert_int_equal(nw_model_n(m), 3);
    const double y[] = { 1, 3, 2 };
    assert_memory_equal(nw_model_y(m), y, sizeof y);
    nw_model_free(m);

    /* names and "empty" are optional; estimator aliases are accepted */
    char *a = replaced(valid_model, "\"inputs\": [\"x\"], \"outputs\": [\"y\"],", "");
    char *b = replaced(a, "\"empty\": \"nan\",", "");
    char *c = replaced(b, "\"lc\"", "\"nw\"");
    assert_int_equal(nw_model_load(&m, make_file("minimal.json", c), &diag), NW_OK);
    assert_null(nw_model_x_name(m, 0));
    nw_model_free(m);
    free(a);
    free(b);
    free(c);
}

/* The engine settings survive a save and load; files without them (as
 * written before they existed) load with the defaults; bad ones are refused. */
static void test_engine_settings(void **state)
{
    nw_model *m = NULL, *back = NULL;
    nw_diag diag = {0};
    assert_int_equal(nw_model_load(&m, make_file("valid.json", valid_model), &diag), NW_OK);
    assert_int_equal(nw_model_engine(m), NW_ENGINE_AUTO);
    assert_true(nw_model_tolerance(m) == 1e-12);
    assert_int_equal(nw_model_precision(m), NW_PRECISION_F64);
    assert_int_equal(nw_model_set_engine(m, NW_ENGINE_FGT), NW_OK);
    assert_int_equal(nw_model_set_tolerance(m, 3e-11), NW_OK);
    assert_int_equal(nw_model_set_precision(m, NW_PRECISION_F32), NW_OK);
    const char *path = in_dir("engine.json");
    assert_int_equal(nw_model_save(m, path, &diag), NW_OK);
    assert_int_equal(nw_model_load(&back, path, &diag), NW_OK);
    assert_int_equal(nw_model_engine(back), NW_ENGINE_FGT);
    assert_true(nw_model_tolerance(back) == 3e-11);
    assert_int_equal(nw_model_precision(back), NW_PRECISION_F32);
    nw_model_free(back);
    nw_model_free(m);

    const char *bad[][2] = {
        { "\"empty\": \"nan\",", "\"empty\": \"nan\", \"engine\": \"warp\"," },
        { "\"empty\": \"nan\",", "\"empty\": \"nan\", \"tolerance\": 0.5," },
        { "\"empty\": \"nan\",", "\"empty\": \"nan\", \"tolerance\": \"1e-12\"," },
        { "\"empty\": \"nan\",", "\"empty\": \"nan\", \"precision\": \"f16\"," },
    };
    const char *field[] = { "engine", "tolerance", "tolerance", "precision" };
    for (size_t i = 0; i < 4; i++) {
        char *text = replaced(valid_model, bad[i][0], bad[i][1]);
        assert_int_equal(nw_model_load(&m, make_file("bad_engine.json", text), &diag), NW_ERR_FORMAT);
        assert_null(m);
        assert_non_null(strstr(diag.message, field[i]));
        free(text);
    }
}

static void test_wrong_version(void **state)
{
    char want[600];
    const char *msg = load_fails("\"version\": 1", "\"version\": 7", NW_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: model version 7 is newer than this nwreg supports (3)",
             in_dir("broken.json"));
    assert_string_equal(msg, want);
    assert_contains(load_fails("\"version\": 1", "\"version\": 0", NW_ERR_FORMAT), "\"version\" must be 1, 2 or 3");
    assert_contains(load_fails("\"version\": 1", "\"version\": \"1\"", NW_ERR_FORMAT), "\"version\" must be 1, 2 or 3");
    assert_contains(load_fails("\"version\": 1,", "", NW_ERR_FORMAT), "\"version\" is missing");
}

static void test_missing_fields(void **state)
{
    char want[600];
    const char *msg = load_fails("\"format\": \"nwreg-model\",", "", NW_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: not an nwreg model (missing \"format\")", in_dir("broken.json"));
    assert_string_equal(msg, want);
    assert_contains(load_fails("nwreg-model", "other", NW_ERR_FORMAT), "not an nwreg model");
    assert_contains(load_fails("\"kernel\": \"gaussian\",", "", NW_ERR_FORMAT), ": \"kernel\" is missing");
    assert_contains(load_fails("\"estimator\": \"lc\",", "", NW_ERR_FORMAT), ": \"estimator\" is missing");
    assert_contains(load_fails("\"n\": 3, ", "", NW_ERR_FORMAT), ": \"n\" is missing");
    assert_contains(load_fails("\"bandwidth\": [0.25],", "", NW_ERR_FORMAT),
                    ": \"bandwidth\" must have 1 positive number");
    assert_contains(load_fails("\"x\": [[0], [1], [2]],", "", NW_ERR_FORMAT), ": \"x\" is missing");
    /* not an object at all */
    nw_model *m = NULL;
    nw_diag diag = {0};
    assert_int_equal(nw_model_load(&m, make_file("array.json", "[1, 2]"), &diag), NW_ERR_FORMAT);
    assert_contains(diag.message, "not an nwreg model");
}

static void test_bad_values(void **state)
{
    assert_contains(load_fails("[0.25]", "[-0.25]", NW_ERR_FORMAT),
                    ": \"bandwidth\" must have 1 positive number");
    assert_contains(load_fails("[0.25]", "[0]", NW_ERR_FORMAT), "\"bandwidth\"");
    assert_contains(load_fails("[0.25]", "[0.25, 1]", NW_ERR_FORMAT), "\"bandwidth\"");
    assert_contains(load_fails("[0.25]", "[1e999]", NW_ERR_FORMAT), "\"bandwidth\"");
    assert_contains(load_fails("[0.25]", "0.25", NW_ERR_FORMAT), "\"bandwidth\"");
    assert_contains(load_fails("\"gaussian\"", "\"gauss\"", NW_ERR_FORMAT), "\"kernel\" names no known kernel");
    assert_contains(load_fails("\"lc\"", "\"xx\"", NW_ERR_FORMAT), "\"estimator\"");
    assert_contains(load_fails("\"empty\": \"nan\"", "\"empty\": \"zero\"", NW_ERR_FORMAT), "\"empty\"");
    assert_contains(load_fails("\"n\": 3", "\"n\": 2.5", NW_ERR_FORMAT), "\"n\" must be a positive integer");
    assert_contains(load_fails("\"n\": 3", "\"n\": 0", NW_ERR_FORMAT), "\"n\" must be a positive integer");
    assert_contains(load_fails("\"d\": 1", "\"d\": -1", NW_ERR_FORMAT), "\"d\" must be a positive integer");
    assert_contains(load_fails("\"n\": 3", "\"n\": 4", NW_ERR_FORMAT), "\"x\" must be an array of 4 rows");
    assert_contains(load_fails("\"n\": 3", "\"n\": 1e300", NW_ERR_FORMAT), "\"n\" must be a positive integer");
    assert_contains(load_fails("[[0], [1], [2]]", "[[0], [1, 5], [2]]", NW_ERR_FORMAT),
                    "\"x\" row 2 must have 1 finite number");
    assert_contains(load_fails("[[1], [3], [2]]", "[[1], [3], [\"2\"]]", NW_ERR_FORMAT),
                    "\"y\" row 3 must have 1 finite number");
    assert_contains(load_fails("[[1], [3], [2]]", "[[1], [3], [null]]", NW_ERR_FORMAT), "\"y\" row 3");
    assert_contains(load_fails("[[1], [3], [2]]", "[[1], [3], 2]", NW_ERR_FORMAT), "\"y\" row 3");
    assert_contains(load_fails("[[0], [1], [2]]", "[[0], [1], [-1e400]]", NW_ERR_FORMAT), "\"x\" row 3");
    assert_contains(load_fails("[\"x\"]", "[\"x\", \"z\"]", NW_ERR_FORMAT),
                    "\"inputs\" must be an array of 1 string");
    assert_contains(load_fails("[\"y\"]", "[7]", NW_ERR_FORMAT), "\"outputs\"");
}

static void test_bad_json(void **state)
{
    char want[600];
    const char *msg = load_fails("\"kernel\": \"gaussian\",", "\"kernel\": oops,", NW_ERR_PARSE);
    /* line 4 is   "kernel": oops,   the error is at the o of oops */
    snprintf(want, sizeof want, "%s:4:13: invalid JSON near byte 58", in_dir("broken.json"));
    assert_string_equal(msg, want);

    nw_model *m = NULL;
    nw_diag diag = {0};
    assert_int_equal(nw_model_load(&m, make_file("trailing.json", "{\"a\": 1}\n}"), &diag), NW_ERR_PARSE);
    assert_int_equal(diag.line, 2);
    assert_int_equal(diag.column, 1);
    assert_int_equal(nw_model_load(&m, make_file("empty.json", ""), &diag), NW_ERR_PARSE);
    assert_int_equal(nw_model_load(&m, make_file("cut.json", "{\"format\": \"nwreg-"), &diag), NW_ERR_PARSE);
    assert_contains(diag.message, "invalid JSON");
    assert_null(m);
}

static void test_io_errors(void **state)
{
    nw_model *m = NULL;
    nw_diag diag = {0};
    char want[600];
    const char *path = in_dir("no_such.json");
    assert_int_equal(nw_model_load(&m, path, &diag), NW_ERR_IO);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    assert_string_equal(diag.message, want);
    assert_int_equal(nw_model_load(&m, test_dir, &diag), NW_ERR_IO); /* a directory */
    assert_contains(diag.message, "cannot read");

    const double x[] = { 1, 2 }, y[] = { 3, 4 };
    assert_int_equal(nw_model_new(&m, x, y, 2, 1, 1), NW_OK);
    path = in_dir("missing_dir/model.json");
    assert_int_equal(nw_model_save(m, path, &diag), NW_ERR_IO);
    assert_contains(diag.message, path);
    assert_int_equal(count_entries(test_dir), 0);

    /* saving over an existing file replaces it */
    path = make_file("old.json", "not a model");
    assert_int_equal(nw_model_save(m, path, &diag), NW_OK);
    nw_model *back = NULL;
    assert_int_equal(nw_model_load(&back, path, &diag), NW_OK);
    assert_int_equal(count_entries(test_dir), 1);
    nw_model_free(back);
    nw_model_free(m);

    assert_int_equal(nw_model_save(NULL, path, NULL), NW_ERR_ARG);
    assert_int_equal(nw_model_load(NULL, path, NULL), NW_ERR_ARG);
}

/* Numbers are written and read with '.' whatever LC_NUMERIC says. */
static void test_locale_independent(void **state)
{
    const double x[] = { 0.5, 1.25 }, y[] = { 2.75, -3.5 }, h[] = { 0.125 };
    nw_model *m = NULL, *back = NULL;
    const char *path = in_dir("locale.json");
    char saved[64];
    const char *old = setlocale(LC_NUMERIC, NULL);
    snprintf(saved, sizeof saved, "%s", old ? old : "C");
    if (!setlocale(LC_NUMERIC, "de_DE.UTF-8"))
        print_message("      (no de_DE locale: checking the C locale only)\n");
    assert_int_equal(nw_model_new(&m, x, y, 2, 1, 1), NW_OK);
    assert_int_equal(nw_model_set_bandwidth(m, h), NW_OK);
    nw_status saved_st = nw_model_save(m, path, NULL);
    nw_status loaded_st = nw_model_load(&back, path, NULL);
    setlocale(LC_NUMERIC, saved);
    assert_int_equal(saved_st, NW_OK);
    assert_int_equal(loaded_st, NW_OK);
    assert_true(same_bits(nw_model_x(back), x, 2));
    assert_true(same_bits(nw_model_y(back), y, 2));
    char *text = slurp(path);
    assert_contains(text, "\"bandwidth\": [0.125]");
    free(text);
    nw_model_free(m);
    nw_model_free(back);
}

/* ------------------------------------------------------------ version 2 */

/* "version": V in a saved file's text: version 1 pretty JSON with "x" as
 * rows, no "encoding"; version 3 its header line, whose end is the end of
 * text (slurp stops at the data's first NUL: the tests' data has one in
 * its first 8 bytes) or a newline followed by data */
static void assert_version(const char *text, int version)
{
    if (version == 3) {
        static const char start[] = "{\"format\":\"nwreg-model\",\"version\":3,\"encoding\":\"f64le\",";
        assert_true(strncmp(text, start, strlen(start)) == 0);
        assert_null(strstr(text, "\"x\":"));
        assert_null(strstr(text, "\"y\":"));
        return;
    }
    char want[32];
    snprintf(want, sizeof want, "\"version\": %d,", version);
    assert_contains(text, want);
    assert_null(strstr(text, "encoding"));
    assert_contains(text, "\"x\": [\n");
}

/* A whole file's bytes (malloc'd) and their count. */
static unsigned char *file_bytes(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long size = ftell(fp);
    assert_true(size >= 0);
    rewind(fp);
    unsigned char *b = malloc((size_t) size + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t) size, fp), (size_t) size);
    fclose(fp);
    *len = (size_t) size;
    return b;
}

/* Write len bytes to test_dir/name; its path. */
static const char *make_bytes(const char *name, const unsigned char *b, size_t len)
{
    const char *path = in_dir(name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    return path;
}

/* A model of more than 65536 values is saved as version 3 and comes back
 * bit for bit: signed zeros, subnormals, +-DBL_MAX, and random finite bit
 * patterns (every exponent); the bytes are little-endian whatever the host,
 * right after the header line, x and then y, and nothing after them. */
static void test_v3_round_trip(void **state)
{
    enum { N = 13109, D = 3, P = 2 }; /* 65545 values */
    static const double special[] = {
        1.0, 2.0, -0.0, 0.0, 5e-324, -5e-324, DBL_MAX, -DBL_MAX, -1e-300, DBL_MIN,
        -DBL_MIN / 3, 0.1 + 0.2, 1e23, -2.2250738585072009e-308,
    };
    enum { S = sizeof special / sizeof *special };
    double *x = malloc(N * D * sizeof *x), *y = malloc(N * P * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    uint64_t seed = 12345;
    for (size_t i = 0; i < N * D + N * P; i++) {
        double v;
        if (i < S) v = special[i];
        else if (i >= N * D && i < N * D + S) v = special[S - 1 - (i - N * D)];
        else {
            do {
                uint64_t bits = 0;
                for (int k = 0; k < 4; k++) bits = bits << 16 | (uint64_t) (nwt_unif(&seed) * 65536);
                memcpy(&v, &bits, sizeof v);
            } while (!isfinite(v));
        }
        if (i < N * D) x[i] = v;
        else y[i - N * D] = v;
    }
    nw_model *m = NULL, *back = NULL;
    nw_diag diag = {0};
    const double h[D] = { 0.5, 1.0 / 3.0, 2 };
    assert_int_equal(nw_model_new(&m, x, y, N, D, P), NW_OK);
    assert_int_equal(nw_model_set_bandwidth(m, h), NW_OK);
    assert_int_equal(nw_model_set_kernel(m, NW_KERNEL_TRICUBE), NW_OK);
    const char *path = in_dir("v3.json");
    assert_int_equal(nw_model_save(m, path, &diag), NW_OK);
    size_t len;
    unsigned char *bytes = file_bytes(path, &len);
    const unsigned char *nl = memchr(bytes, '\n', len);
    assert_non_null(nl);
    size_t head = (size_t) (nl - bytes) + 1;
    assert_int_equal(len, head + 8 * (N * D + N * P));
    /* the header line: JSON with every member but the data */
    char *line = malloc(head);
    assert_non_null(line);
    memcpy(line, bytes, head - 1);
    line[head - 1] = '\0';
    assert_version(line, 3);
    assert_contains(line, "\"n\":13109,\"d\":3,\"p\":2,\"inputs\":[\"x1\",\"x2\",\"x3\"]");
    assert_contains(line, "\"bandwidth\":[0.5,0.3333333333333333,2]");
    free(line);
    /* 1.0, 2.0, -0.0 as binary64 little-endian: 00..00 f0 3f, 00..00 40, 00..00 80 */
    static const unsigned char first[24] = { 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40,
                                             0, 0, 0, 0, 0, 0, 0, 0x80 };
    assert_memory_equal(bytes + head, first, 24);
    /* y starts after x: its first value is special[S - 1] */
    uint64_t u;
    memcpy(&u, &special[S - 1], 8);
    for (int b = 0; b < 8; b++) assert_int_equal(bytes[head + 8 * N * D + (size_t) b], (u >> (8 * b)) & 0xff);
    free(bytes);

    assert_int_equal(nw_model_load(&back, path, &diag), NW_OK);
    assert_same_data(back, x, y, h, N, D, P);
    assert_int_equal(nw_model_kernel(back), NW_KERNEL_TRICUBE);
    /* outputs near DBL_MAX: the loaded model scales its sums as nw_model_new's does */
    double q[D] = { 1, 2, 3 }, a[P], b[P];
    assert_int_equal(nw_predict(m, q, 1, a, NULL), NW_OK);
    assert_int_equal(nw_predict(back, q, 1, b, NULL), NW_OK);
    assert_true(same_bits(a, b, P));

    /* saved again: the same file */
    const char *again = in_dir("again.json");
    assert_int_equal(nw_model_save(back, again, &diag), NW_OK);
    size_t l1, l2;
    unsigned char *t1 = file_bytes(path, &l1), *t2 = file_bytes(again, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(t1, t2, l1);
    free(t1);
    free(t2);
    nw_model_free(m);
    nw_model_free(back);
    free(x);
    free(y);
}

/* n (d + p) = 65536 values: version 1; one point more: version 3; each
 * loads back bit for bit. */
static void test_version_threshold(void **state)
{
    static const size_t sizes[] = { 32768, 32769, 32770, 32771 };
    double *v = malloc(2 * 32771 * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < 2 * 32771; i++) v[i] = (double) i / 7 - 3e4;
    for (size_t t = 0; t < 4; t++) {
        size_t n = sizes[t];
        nw_model *m = NULL, *back = NULL;
        nw_diag diag = {0};
        assert_int_equal(nw_model_new(&m, v, v + n, n, 1, 1), NW_OK);
        const char *path = in_dir("threshold.json");
        assert_int_equal(nw_model_save(m, path, &diag), NW_OK);
        char *text = slurp(path);
        assert_version(text, n * 2 <= 65536 ? 1 : 3);
        free(text);
        assert_int_equal(nw_model_load(&back, path, &diag), NW_OK);
        assert_true(same_bits(nw_model_x(back), v, n));
        assert_true(same_bits(nw_model_y(back), v + n, n));
        nw_model_free(m);
        nw_model_free(back);
    }
    free(v);
}

/* A small version-2 file by hand: x = [0, 1], y = [1, 3] (16 bytes each:
 * 24 characters, two of them '='). */
static const char valid_v2[] =
    "{\n"
    "  \"format\": \"nwreg-model\",\n"
    "  \"version\": 2,\n"
    "  \"encoding\": \"f64le-base64\",\n"
    "  \"kernel\": \"gaussian\",\n"
    "  \"estimator\": \"lc\",\n"
    "  \"n\": 2, \"d\": 1, \"p\": 1,\n"
    "  \"bandwidth\": [0.25],\n"
    "  \"x\": \"AAAAAAAAAAAAAAAAAADwPw==\",\n"
    "  \"y\": \"AAAAAAAA8D8AAAAAAAAIQA==\"\n"
    "}\n";

/* Load valid_v2 with from replaced by to: its status, the diag in *msg. */
static nw_status load_v2(const char *from, const char *to, nw_model **m, const char **msg)
{
    static nw_diag diag;
    char *text = replaced(valid_v2, from, to);
    const char *path = make_file("v2.json", text);
    free(text);
    memset(&diag, 0, sizeof diag);
    *m = (nw_model *) &diag;
    nw_status st = nw_model_load(m, path, &diag);
    *msg = diag.message;
    return st;
}

/* valid_v2 with from replaced by to fails with NW_ERR_FORMAT and exactly
 * the message "PATH: " want. */
static void v2_fails(const char *from, const char *to, const char *want)
{
    nw_model *m;
    const char *msg;
    char full[600];
    nw_status st = load_v2(from, to, &m, &msg);
    if (st != NW_ERR_FORMAT) fail_msg("%s -> %s: status %d (%s)", from, to, st, msg);
    assert_null(m);
    snprintf(full, sizeof full, "%s: %s", in_dir("v2.json"), want);
    assert_string_equal(msg, full);
}

static void test_v2_loads(void **state)
{
    nw_model *m;
    const char *msg;
    const double x[] = { 0, 1 }, y[] = { 1, 3 };
    assert_int_equal(load_v2("", "", &m, &msg), NW_OK);
    assert_int_equal(nw_model_n(m), 2);
    assert_true(same_bits(nw_model_x(m), x, 2));
    assert_true(same_bits(nw_model_y(m), y, 2));
    nw_model_free(m);
    /* one point: 8 bytes, one '=' */
    assert_int_equal(load_v2("\"n\": 2", "\"n\": 1", &m, &msg), NW_ERR_FORMAT);
    char *a = replaced(valid_v2, "\"n\": 2", "\"n\": 1");
    char *b = replaced(a, "AAAAAAAAAAAAAAAAAADwPw==", "AAAAAAAA8D8=");
    char *c = replaced(b, "AAAAAAAA8D8AAAAAAAAIQA==", "AAAAAAAACEA=");
    assert_int_equal(nw_model_load(&m, make_file("one.json", c), NULL), NW_OK);
    assert_true(nw_model_x(m)[0] == 1 && nw_model_y(m)[0] == 3);
    nw_model_free(m);
    free(a);
    free(b);
    free(c);
    /* a name spelt with an escape: the member "x", as JSON reads it */
    assert_int_equal(load_v2("\"x\": ", "\"\\u0078\": ", &m, &msg), NW_OK);
    assert_true(same_bits(nw_model_x(m), x, 2));
    nw_model_free(m);
    /* an escape in the string: the character it stands for, as JSON reads
     * it ("\u0077" is "w") */
    assert_int_equal(load_v2("AAAAAAAAAAAAAAAAAADwPw==", "AAAAAAAAAAAAAAAAAAD\\u0077Pw==", &m, &msg),
                     NW_OK);
    assert_true(same_bits(nw_model_x(m), x, 2));
    nw_model_free(m);
    /* "x" twice: the first counts, as cJSON finds it */
    assert_int_equal(load_v2("\"y\": ", "\"x\": \"AAAAAAAACEAAAAAAAAAQQA==\", \"y\": ", &m, &msg), NW_OK);
    assert_true(same_bits(nw_model_x(m), x, 2));
    nw_model_free(m);
    assert_int_equal(load_v2("\"x\": ", "\"\\u0078\": \"AAAAAAAACEAAAAAAAAAQQA==\", \"x\": ", &m, &msg), NW_OK);
    assert_true(nw_model_x(m)[0] == 3 && nw_model_x(m)[1] == 4);
    nw_model_free(m);
    /* "x" and "y" in any order, names and other members anywhere */
    assert_int_equal(load_v2("  \"format\"", "  \"y\": \"AAAAAAAA8D8AAAAAAAAIQA==\", \"inputs\": [\"t\"], \"format\"", &m, &msg),
                     NW_OK);
    assert_string_equal(nw_model_x_name(m, 0), "t");
    nw_model_free(m);
    /* a version-1 file still loads */
    assert_int_equal(nw_model_load(&m, make_file("v1.json", valid_model), NULL), NW_OK);
    assert_int_equal(nw_model_n(m), 3);
    nw_model_free(m);
}

static void test_v2_errors(void **state)
{
    const char *x64 = "AAAAAAAAAAAAAAAAAADwPw==", *y64 = "AAAAAAAA8D8AAAAAAAAIQA==";
    /* characters */
    v2_fails(x64, "AAAAAAAAAAAAA!AAAADwPw==", "\"x\" character 14 is not base64");
    v2_fails(x64, "AAAAAAAAAAAAAAAAAADw-w==", "\"x\" character 21 is not base64"); /* base64url */
    v2_fails(x64, "AAAAAAAAAAAA\nAAAAAADwPw=", "\"x\" character 13 is not base64");
    v2_fails(x64, "AAAAAAAAAAAA AAAAAADwPw=", "\"x\" character 13 is not base64");
    v2_fails(y64, "AAAAAAAA8D8AAAAAAAAIQ\xc3\xa9=", "\"y\" character 22 is not base64");
    /* length: exactly that of 8 n p bytes */
    v2_fails(x64, "AAAAAAAAAAAAAAAAAADwPw", "\"x\" must be base64 of 8 x 2 bytes (f64le)");
    v2_fails(x64, "AAAAAAAAAAAAAAAAAADwPw==AAAA", "\"x\" must be base64 of 8 x 2 bytes (f64le)");
    v2_fails(x64, "", "\"x\" must be base64 of 8 x 2 bytes (f64le)");
    v2_fails("\"n\": 2", "\"n\": 3", "\"x\" must be base64 of 8 x 3 bytes (f64le)");
    v2_fails("\"p\": 1", "\"p\": 2", "\"y\" must be base64 of 8 x 4 bytes (f64le)");
    v2_fails("\"n\": 2", "\"n\": 9007199254740992", "\"x\" must be base64 of 8 x 9007199254740992 bytes (f64le)");
    /* n d = 2^61 values: more bytes than a size_t counts */
    char d256[64 + 4 * 256] = "\"d\": 256, \"p\": 1,\n  \"bandwidth\": [1";
    for (int k = 1; k < 256; k++) strcat(d256, ", 1");
    strcat(d256, "]");
    char *wide = replaced(valid_v2, "\"d\": 1, \"p\": 1,\n  \"bandwidth\": [0.25]", d256);
    char *huge = replaced(wide, "\"n\": 2", "\"n\": 9007199254740992");
    nw_model *m = NULL;
    nw_diag diag = {0};
    assert_int_equal(nw_model_load(&m, make_file("huge.json", huge), &diag), NW_ERR_FORMAT);
    assert_contains(diag.message, ": \"x\" must be base64 of 8 x 9007199254740992 x 256 bytes (f64le)");
    free(wide);
    free(huge);
    /* padding */
    v2_fails(x64, "AAAAAAAAAAAAAAAAAADwP===", "\"x\" has bad base64 padding");
    v2_fails(x64, "AAAAAAAAAAAAAAAAAADwPwA=", "\"x\" has bad base64 padding");  /* 17 bytes */
    v2_fails(x64, "AAAAAAAAAAAAAAAAAADwPwAA", "\"x\" has bad base64 padding");  /* 18 bytes */
    v2_fails(x64, "AAAAAAAAAAAAAAAAAADwPx==", "\"x\" has bad base64 padding");  /* bits under '=' */
    v2_fails(x64, "AAA=AAAAAAAAAAAAAADwPw==", "\"x\" has bad base64 padding");
    v2_fails(x64, "AAAAAAAAAAAAAAAAAADw=w==", "\"x\" has bad base64 padding");
    /* values: NaN, infinities */
    v2_fails(y64, "AAAAAAAA8D8AAAAAAAD4fw==", "\"y\" value 2 is not finite");
    v2_fails(x64, "AAAAAAAA8P8AAAAAAADwPw==", "\"x\" value 1 is not finite");
    /* types, members */
    v2_fails("\"AAAAAAAAAAAAAAAAAADwPw==\"", "7", "\"x\" must be a string (base64, version 2)");
    v2_fails("\"AAAAAAAAAAAAAAAAAADwPw==\"", "[[0], [1]]", "\"x\" must be a string (base64, version 2)");
    v2_fails("  \"x\": \"AAAAAAAAAAAAAAAAAADwPw==\",\n", "", "\"x\" is missing");
    v2_fails(",\n  \"y\": \"AAAAAAAA8D8AAAAAAAAIQA==\"", "", "\"y\" is missing");
    v2_fails("  \"encoding\": \"f64le-base64\",\n", "", "\"encoding\" is missing");
    v2_fails("\"f64le-base64\"", "\"f64be-base64\"", "\"encoding\" must be \"f64le-base64\"");
    v2_fails("\"f64le-base64\"", "\"F64LE-BASE64\"", "\"encoding\" must be \"f64le-base64\"");
    v2_fails("\"f64le-base64\"", "1", "\"encoding\" must be a string");
    v2_fails("\"version\": 2", "\"version\": 4",
             "model version 4 is newer than this nwreg supports (3)");
    /* version 3 wants its own encoding, and its header on one line */
    v2_fails("\"version\": 2", "\"version\": 3", "\"encoding\" must be \"f64le\"");
    char *v3a = replaced(valid_v2, "\"version\": 2", "\"version\": 3");
    char *v3b = replaced(v3a, "\"f64le-base64\"", "\"f64le\"");
    assert_int_equal(nw_model_load(&m, make_file("multiline.json", v3b), &diag), NW_ERR_FORMAT);
    assert_contains(diag.message, ": a version-3 header must be the first line, alone, the data after it");
    free(v3a);
    free(v3b);
    /* version 1 with base64 data is no version 1 */
    v2_fails("\"version\": 2", "\"version\": 1", "\"x\" must be an array of 2 rows (\"n\")");
}

/* A JSON error after a long string (and newlines in one) is placed in the
 * file by line, column and byte. */
static void test_v2_json_error_position(void **state)
{
    static const char *const cuts[][2] = {
        { "\"\n}", "\", \"z\": oops\n}" },                         /* after y, same line */
        { "==\",\n  \"y\"", "==\", \"z\": oops,\n  \"y\"" },        /* after x, same line */
        { "AAAAAAAA8D8AAAAAAAAIQA==\"", "AAAA\nAAAA8D8AAAAA\nAAAAIQA==\", \"z\": oops" }, /* newlines in y */
    };
    for (size_t k = 0; k < 3; k++) {
        nw_model *m;
        const char *msg;
        char *text = replaced(valid_v2, cuts[k][0], cuts[k][1]);
        const char *at = strstr(text, "oops");
        size_t line = 1, column = 1;
        for (const char *p = text; p < at; p++) {
            if (*p == '\n') line++, column = 1;
            else column++;
        }
        char want[600];
        snprintf(want, sizeof want, "%s:%zu:%zu: invalid JSON near byte %zu", in_dir("v2.json"),
                 line, column, (size_t) (at - text) + 1);
        free(text);
        assert_int_equal(load_v2(cuts[k][0], cuts[k][1], &m, &msg), NW_ERR_PARSE);
        assert_null(m);
        assert_string_equal(msg, want);
    }
}

/* A version-3 file broken one way at a time: each fails with NW_ERR_FORMAT
 * (or NW_ERR_PARSE) and one line naming the file and what is wrong; data
 * cut short or running on, a value not finite, a header member out of
 * place, an encoding of another name; from stdin ("-") it loads. */
static void test_v3_errors(void **state)
{
    enum { N = 40000 };   /* 80000 values: version 3 */
    double *v = malloc(2 * N * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < 2 * N; i++) v[i] = 1 + (double) i / 3;
    nw_model *m = NULL, *back = NULL;
    nw_diag diag = {0};
    assert_int_equal(nw_model_new(&m, v, v + N, N, 1, 1), NW_OK);
    char path[600];   /* (in_dir's buffers are reused) */
    snprintf(path, sizeof path, "%s", in_dir("good.json"));
    assert_int_equal(nw_model_save(m, path, &diag), NW_OK);
    size_t len;
    unsigned char *good = file_bytes(path, &len);
    size_t head = (size_t) ((const unsigned char *) memchr(good, '\n', len) - good) + 1;
    unsigned char *b = malloc(len + 16);
    assert_non_null(b);
    char want[600];
#define FAILS(bytes_, count_, status_, text_) do { \
        const char *p_ = make_bytes("broken.json", (bytes_), (count_)); \
        memset(&diag, 0, sizeof diag); \
        back = (nw_model *) &diag; \
        assert_int_equal(nw_model_load(&back, p_, &diag), (status_)); \
        assert_null(back); \
        snprintf(want, sizeof want, "%s: %s", p_, (text_)); \
        assert_string_equal(diag.message, want); \
    } while (0)
    /* cut short: by a value, by a byte, to the header alone */
    FAILS(good, len - 8, NW_ERR_FORMAT,
          "the data after the header ends early: 639992 of 640000 bytes (80000 values of \"x\" and \"y\")");
    FAILS(good, len - 1, NW_ERR_FORMAT,
          "the data after the header ends early: 639999 of 640000 bytes (80000 values of \"x\" and \"y\")");
    FAILS(good, head + 100, NW_ERR_FORMAT,
          "the data after the header ends early: 100 of 640000 bytes (80000 values of \"x\" and \"y\")");
    FAILS(good, head, NW_ERR_FORMAT,
          "the data after the header ends early: 0 of 640000 bytes (80000 values of \"x\" and \"y\")");
    /* running on */
    memcpy(b, good, len);
    b[len] = '\n';
    FAILS(b, len + 1, NW_ERR_FORMAT, "more than the 640000 bytes of data the header announces (80000 values)");
    /* a NaN in y, an infinity in x */
    static const unsigned char nan_le[8] = { 0, 0, 0, 0, 0, 0, 0xf8, 0x7f }, inf_le[8] = { 0, 0, 0, 0, 0, 0, 0xf0, 0xff };
    memcpy(b, good, len);
    memcpy(b + head + 8 * (N + 6), nan_le, 8);
    FAILS(b, len, NW_ERR_FORMAT, "\"y\" value 7 is not finite");
    memcpy(b, good, len);
    memcpy(b + head, inf_le, 8);
    FAILS(b, len, NW_ERR_FORMAT, "\"x\" value 1 is not finite");
    /* the header: another encoding; data in it; a number of points more */
    char *line = malloc(head + 64);
    assert_non_null(line);
    memcpy(line, good, head);
    line[head] = '\0';
    static const char *const swaps[][3] = {
        { "\"f64le\"", "\"f64be\"", "\"encoding\" must be \"f64le\"" },
        { "\"bandwidth\"", "\"x\":[1],\"bandwidth\"", "\"x\" belongs after the header line in version 3" },
        { "\"n\":40000", "\"n\":40001",
          "the data after the header ends early: 640000 of 640016 bytes (80002 values of \"x\" and \"y\")" },
        { "\"n\":40000", "\"n\":39999", "more than the 639984 bytes of data the header announces (79998 values)" },
        /* told by the file's size before 64 TB are asked for (fuzz_model:
         * ASan's allocator refused such a malloc) */
        { "\"n\":40000", "\"n\":4000000000000",
          "the data after the header ends early: 640000 of 64000000000000 bytes (8000000000000 values of \"x\" and \"y\")" },
    };
    for (size_t k = 0; k < sizeof swaps / sizeof *swaps; k++) {
        char *h2 = replaced(line, swaps[k][0], swaps[k][1]);
        size_t h2len = strlen(h2);
        unsigned char *c = malloc(h2len + len - head);
        assert_non_null(c);
        memcpy(c, h2, h2len);
        memcpy(c + h2len, good + head, len - head);
        FAILS(c, h2len + len - head, NW_ERR_FORMAT, swaps[k][2]);
        free(c);
        free(h2);
    }
    /* a header that is not JSON: a parse error, placed on line 1 */
    memcpy(b, good, len);
    b[1] = '!';
    const char *p = make_bytes("broken.json", b, len);
    assert_int_equal(nw_model_load(&back, p, &diag), NW_ERR_PARSE);
    assert_contains(diag.message, ":1:");
    /* the good file, from stdin */
    FILE *in = freopen(path, "rb", stdin);
    assert_non_null(in);
    nw_status st_in = nw_model_load(&back, "-", &diag);
    if (st_in != NW_OK) fail_msg("stdin: %s", diag.message);
    assert_true(same_bits(nw_model_x(back), v, N));
    assert_true(same_bits(nw_model_y(back), v + N, N));
    nw_model_free(back);
#undef FAILS
    free(line);
    free(b);
    free(good);
    free(v);
    nw_model_free(m);
}

/* Read stdin from `cmd`'s output (a pipe, which has no size to check). */
static void stdin_from(const char *cmd, FILE **pp)
{
    *pp = popen(cmd, "r");
    assert_non_null(*pp);
    assert_int_equal(dup2(fileno(*pp), 0), 0);
    clearerr(stdin);
}

/* A version-3 model through a pipe: its arrays grow as the bytes come
 * (1 MiB, then doubling), and the whole model arrives bit for bit; cut
 * short, the error counts the bytes that came. */
static void test_v3_pipe(void **state)
{
    (void) state;
    enum { N = 300000 };   /* x: 2.4 MB, read in 1, 2, 2.4 MB */
    double *v = malloc(2 * N * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < 2 * N; i++) v[i] = sin((double) i) * 1e3;
    nw_model *m = NULL, *back = NULL;
    nw_diag diag = {0};
    assert_int_equal(nw_model_new(&m, v, v + N, N, 1, 1), NW_OK);
    char path[600], cmd[700];
    snprintf(path, sizeof path, "%s", in_dir("pipe.json"));
    assert_int_equal(nw_model_save(m, path, &diag), NW_OK);
    FILE *pp;
    snprintf(cmd, sizeof cmd, "cat '%s'", path);
    stdin_from(cmd, &pp);
    nw_status st = nw_model_load(&back, "-", &diag);
    if (st != NW_OK) fail_msg("pipe: %s", diag.message);
    assert_true(same_bits(nw_model_x(back), v, N));
    assert_true(same_bits(nw_model_y(back), v + N, N));
    nw_model_free(back);
    pclose(pp);
    /* cut 1000 bytes short: the header line, then 4.8 MB less 1000 */
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    snprintf(cmd, sizeof cmd, "head -c %lld '%s'", (long long) sb.st_size - 1000, path);
    stdin_from(cmd, &pp);
    back = (nw_model *) &diag;
    assert_int_equal(nw_model_load(&back, "-", &diag), NW_ERR_FORMAT);
    assert_null(back);
    char want[200];
    snprintf(want, sizeof want, "<stdin>: the data after the header ends early: %d of %d bytes", 16 * N - 1000, 16 * N);
    assert_contains(diag.message, want);
    pclose(pp);
    free(v);
    nw_model_free(m);
}

/* nw_model_take: the model owns the arrays on success; on failure they
 * are still the caller's (freed here: a double free would show under ASan). */
static void test_model_take(void **state)
{
    double *x = malloc(2 * sizeof *x), *y = malloc(2 * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    x[0] = 0, x[1] = 1, y[0] = 1e300, y[1] = NAN;
    nw_model *m = (nw_model *) x;
    assert_int_equal(nw_model_take(&m, x, y, 2, 1, 1), NW_ERR_NONFINITE);
    assert_null(m);
    assert_int_equal(nw_model_take(&m, x, y, 0, 1, 1), NW_ERR_EMPTY);
    assert_int_equal(nw_model_take(&m, NULL, y, 2, 1, 1), NW_ERR_ARG);
    assert_int_equal(nw_model_take(NULL, x, y, 2, 1, 1), NW_ERR_ARG);
    assert_int_equal(nw_model_take(&m, x, y, SIZE_MAX / 4, 1, 1), NW_ERR_NOMEM);
    y[1] = DBL_MAX; /* beyond 2^512: the scaled copy y_sums is made */
    assert_int_equal(nw_model_take(&m, x, y, 2, 1, 1), NW_OK);
    assert_ptr_equal(nw_model_x(m), x);
    assert_ptr_equal(nw_model_y(m), y);
    double q = 0.5, yhat;
    assert_int_equal(nw_model_set_bandwidth(m, (const double[]) { 1e6 }), NW_OK);
    assert_int_equal(nw_predict(m, &q, 1, &yhat, NULL), NW_OK);
    assert_true(yhat == 1e300 / 2 + DBL_MAX / 2);
    nw_model_free(m); /* frees x and y */
}

int main(void)
{

    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_default_names, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_valid_model_loads, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_engine_settings, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_version, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_missing_fields, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_bad_values, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_bad_json, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_io_errors, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_locale_independent, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_v3_round_trip, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_v3_errors, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_v3_pipe, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_version_threshold, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_v2_loads, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_v2_errors, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_v2_json_error_position, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_model_take, tmpdir_setup, tmpdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
