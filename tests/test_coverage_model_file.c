/*
 * test_coverage_model_file.c: every way a model file's fields can be wrong
 * that test_model_io.c and test_coverage_io.c leave out, table-driven.
 *
 * Each case takes the text of a valid model file (one input, one output,
 * one point, so that the singular forms of the messages show: "1 row",
 * "1 finite number", "1 string"), replaces one piece of it, loads it with
 * nw_model_load, and expects the status and the exact diag message
 * ("{}" stands for the file's path).  A model file that loads must give a
 * model whose settings are what the file says.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const char valid[] =
    "{\n"
    "  \"format\": \"nwreg-model\",\n"
    "  \"version\": 1,\n"
    "  \"kernel\": \"gaussian\",\n"
    "  \"estimator\": \"lc\",\n"
    "  \"empty\": \"nan\",\n"
    "  \"n\": 1,\n"
    "  \"d\": 1,\n"
    "  \"p\": 1,\n"
    "  \"inputs\": [\"x\"],\n"
    "  \"engine\": \"auto\",\n"
    "  \"tolerance\": 1e-12,\n"
    "  \"precision\": \"f64\",\n"
    "  \"outputs\": [\"y\"],\n"
    "  \"bandwidth\": [0.5],\n"
    "  \"x\": [\n    [0.25]\n  ],\n"
    "  \"y\": [\n    [2]\n  ]\n"
    "}\n";

typedef struct bad_case {
    const char *from, *to;   /* replace the first `from` in valid by `to` */
    nw_status status;
    const char *message;     /* "{}" is the path */
} bad_case;

static const bad_case cases[] = {
    { "\"n\": 1", "\"n\": \"1\"", NW_ERR_FORMAT, "{}: \"n\" must be a positive integer" },
    { "\"p\": 1,\n", "", NW_ERR_FORMAT, "{}: \"p\" is missing" },
    { "\"version\": 1", "\"version\": 1.5", NW_ERR_FORMAT, "{}: \"version\" must be 1, 2 or 3" },
    { "\"version\": 1", "\"version\": 1e999", NW_ERR_FORMAT, "{}: \"version\" must be 1, 2 or 3" },
    { "\"version\": 1", "\"version\": \"1\"", NW_ERR_FORMAT, "{}: \"version\" must be 1, 2 or 3" },
    { "\"empty\": \"nan\"", "\"empty\": 0", NW_ERR_FORMAT, "{}: \"empty\" must be a string" },
    { "\"engine\": \"auto\"", "\"engine\": 1", NW_ERR_FORMAT, "{}: \"engine\" must be a string" },
    { "\"precision\": \"f64\"", "\"precision\": null", NW_ERR_FORMAT,
      "{}: \"precision\" must be a string" },
    { "\"tolerance\": 1e-12", "\"tolerance\": \"1e-12\"", NW_ERR_FORMAT,
      "{}: \"tolerance\" must be a number in [1e-15, 1e-2]" },
    { "\"tolerance\": 1e-12", "\"tolerance\": 1", NW_ERR_FORMAT,
      "{}: \"tolerance\" must be a number in [1e-15, 1e-2]" },
    { "[0.5]", "[0.5, 1]", NW_ERR_FORMAT, "{}: \"bandwidth\" must have 1 positive number" },
    { "[0.5]", "0.5", NW_ERR_FORMAT, "{}: \"bandwidth\" must have 1 positive number" },
    { "[0.5]", "[-0.5]", NW_ERR_FORMAT, "{}: \"bandwidth\" must have 1 positive number" },
    { "[0.5]", "[\"0.5\"]", NW_ERR_FORMAT, "{}: \"bandwidth\" must have 1 positive number" },
    { "\"x\": [\n    [0.25]\n  ]", "\"x\": {}", NW_ERR_FORMAT,
      "{}: \"x\" must be an array of 1 row (\"n\")" },
    { "\"x\": [\n    [0.25]\n  ],\n", "", NW_ERR_FORMAT, "{}: \"x\" is missing" },
    { "[0.25]", "[0.25, 1]", NW_ERR_FORMAT, "{}: \"x\" row 1 must have 1 finite number" },
    { "[0.25]", "0.25", NW_ERR_FORMAT, "{}: \"x\" row 1 must have 1 finite number" },
    { "[2]", "[true]", NW_ERR_FORMAT, "{}: \"y\" row 1 must have 1 finite number" },
    { "[\"x\"]", "[\"x\", \"z\"]", NW_ERR_FORMAT, "{}: \"inputs\" must be an array of 1 string" },
    { "[\"y\"]", "[7]", NW_ERR_FORMAT, "{}: \"outputs\" must be an array of 1 string" },
    { "[\"y\"]", "\"y\"", NW_ERR_FORMAT, "{}: \"outputs\" must be an array of 1 string" },
    /* the ']' after "[2," is on line 20, column 8, byte 305 (counted by hand) */
    { "[2]", "[2,]", NW_ERR_PARSE, "{}:20:8: invalid JSON near byte 305" },
};

/* valid with the first `from` replaced by `to` (static buffer). */
static const char *edited(const char *from, const char *to)
{
    static char text[sizeof valid + 64];
    const char *at = strstr(valid, from);
    if (!at) fail_msg("'%s' is not in the model text", from);
    snprintf(text, sizeof text, "%.*s%s%s", (int) (at - valid), valid, to, at + strlen(from));
    return text;
}

static void test_each_bad_field(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_case *c = &cases[i];
        char name[32];
        snprintf(name, sizeof name, "case%zu.json", i);
        const char *path = make_file(name, edited(c->from, c->to));
        char want[700];
        const char *brace = strstr(c->message, "{}");
        snprintf(want, sizeof want, "%.*s%s%s", (int) (brace - c->message), c->message, path,
                 brace + 2);
        nw_model *m = (nw_model *) &want; /* any non-NULL value: the call must reset it */
        nw_diag diag = { 0 };
        nw_status st = nw_model_load(&m, path, &diag);
        if (st != c->status || strcmp(diag.message, want) != 0)
            fail_msg("case %zu ('%s' -> '%s'): status %d, message '%s'; expected %d, '%s'", i,
                     c->from, c->to, st, diag.message, c->status, want);
        assert_null(m);
    }
}

/* Settings other than the defaults are read back as written: nearest,
 * f32, an explicit engine and tolerance, the local-linear estimator; a
 * file without the optional members gets the defaults. */
static void test_settings_read_back(void **state)
{
    (void) state;
    char text[sizeof valid + 64];
    snprintf(text, sizeof text, "%s", edited("\"nan\"", "\"nearest\""));
    const char *edits[][2] = {
        { "\"f64\"", "\"f32\"" }, { "\"auto\"", "\"tree\"" }, { "1e-12", "1e-9" }, { "\"lc\"", "\"ll\"" },
    };
    for (size_t i = 0; i < 4; i++) {
        char *at = strstr(text, edits[i][0]);
        assert_non_null(at);
        char rest[sizeof text];
        snprintf(rest, sizeof rest, "%s", at + strlen(edits[i][0]));
        snprintf(at, sizeof text - (size_t) (at - text), "%s%s", edits[i][1], rest);
    }
    nw_model *m = NULL;
    assert_int_equal(nw_model_load(&m, make_file("set.json", text), NULL), NW_OK);
    assert_int_equal(nw_model_empty_policy(m), NW_EMPTY_NEAREST);
    assert_int_equal(nw_model_precision(m), NW_PRECISION_F32);
    assert_int_equal(nw_model_engine(m), NW_ENGINE_TREE);
    assert_true(nw_model_tolerance(m) == 1e-9);
    assert_int_equal(nw_model_estimator(m), NW_ESTIMATOR_LINEAR);
    double h;
    assert_int_equal(nw_model_bandwidth(m, &h), NW_OK);
    assert_true(h == 0.5);
    nw_model_free(m);

    /* no empty, engine, tolerance, precision, inputs, outputs: defaults */
    const char *minimal =
        "{\"format\": \"nwreg-model\", \"version\": 1, \"kernel\": \"laplace\", \"estimator\": \"lc\","
        " \"n\": 1, \"d\": 1, \"p\": 1, \"bandwidth\": [2], \"x\": [[1]], \"y\": [[3]]}";
    assert_int_equal(nw_model_load(&m, make_file("min.json", minimal), NULL), NW_OK);
    assert_int_equal(nw_model_kernel(m), NW_KERNEL_LAPLACE);
    assert_int_equal(nw_model_empty_policy(m), NW_EMPTY_NAN);
    assert_int_equal(nw_model_precision(m), NW_PRECISION_F64);
    assert_int_equal(nw_model_engine(m), NW_ENGINE_AUTO);
    assert_true(nw_model_tolerance(m) == 1e-12);
    nw_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_each_bad_field, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_settings_read_back, tmpdir_setup, tmpdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
