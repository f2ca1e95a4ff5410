/* test_csv.c: reading CSV tables and writing CSV files (src/csv.c). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "nwreg.h"
#include "testutil.h"

/* ------------------------------------------------------------ helpers */

/* Read a file that must fail with status; return its message (static). */
static const char *read_fails(const char *path, nw_status status, size_t line, size_t column)
{
    static nw_diag diag;
    nw_table *t = (nw_table *) &diag; /* any non-NULL value: the call must reset it */
    memset(&diag, 0, sizeof diag);
    nw_status st = nw_table_read(path, &t, &diag);
    if (st != status) fail_msg("status %d, expected %d (%s)", st, status, diag.message);
    assert_null(t);
    assert_int_equal(diag.line, line);
    assert_int_equal(diag.column, column);
    assert_null(strchr(diag.message, '\n'));
    return diag.message;
}

/* ---------------------------------------------------------- reading */

static void test_good_file(void **state)
{
    const char *path = make_file("good.csv", "x,y,z\n1,2,3\n3.5,-4e-3,1e300\n0x10,+7,.5\n");
    nw_table *t = NULL;
    nw_diag diag = {0};
    size_t col = 99;
    assert_int_equal(nw_table_read(path, &t, &diag), NW_OK);
    assert_int_equal(nw_table_rows(t), 3);
    assert_int_equal(nw_table_cols(t), 3);
    assert_string_equal(nw_table_name(t, 0), "x");
    assert_string_equal(nw_table_name(t, 2), "z");
    assert_null(nw_table_name(t, 3));
    const double want[] = { 1, 2, 3, 3.5, -4e-3, 1e300, 16, 7, 0.5 };
    assert_memory_equal(nw_table_data(t), want, sizeof want);

    assert_int_equal(nw_table_find(t, "y", &col), NW_OK);
    assert_int_equal(col, 1);
    assert_int_equal(nw_table_find(t, "3", &col), NW_OK);
    assert_int_equal(col, 2);
    assert_int_equal(nw_table_find(t, "1", &col), NW_OK);
    assert_int_equal(col, 0);
    assert_int_equal(nw_table_find(t, "4", &col), NW_ERR_ARG);
    assert_int_equal(nw_table_find(t, "0", &col), NW_ERR_ARG);
    assert_int_equal(nw_table_find(t, "", &col), NW_ERR_ARG);
    assert_int_equal(nw_table_find(t, "w", &col), NW_ERR_ARG);
    assert_int_equal(nw_table_find(t, "2x", &col), NW_ERR_ARG);
    assert_int_equal(nw_table_find(t, "99999999999999999999999999", &col), NW_ERR_ARG);
    assert_int_equal(nw_table_find(t, "Y", &col), NW_ERR_ARG);

    const size_t pick[] = { 2, 0 };
    double out[6];
    assert_int_equal(nw_table_columns(t, pick, 2, out), NW_OK);
    const double want_cols[] = { 3, 1, 1e300, 3.5, 0.5, 16 };
    assert_memory_equal(out, want_cols, sizeof want_cols);
    const size_t bad_pick[] = { 0, 3 };
    assert_int_equal(nw_table_columns(t, bad_pick, 2, out), NW_ERR_ARG);
    assert_int_equal(nw_table_columns(t, pick, 0, out), NW_ERR_EMPTY);
    nw_table_free(t);
    nw_table_free(NULL);
}

static void test_names_beat_indices(void **state)
{
    const char *path = make_file("names.csv", "2,a,a\n10,20,30\n");
    nw_table *t = NULL;
    size_t col = 99;
    assert_int_equal(nw_table_read(path, &t, NULL), NW_OK);
    assert_int_equal(nw_table_find(t, "2", &col), NW_OK);
    assert_int_equal(col, 0); /* the column named "2", not the second column */
    assert_int_equal(nw_table_find(t, "a", &col), NW_OK);
    assert_int_equal(col, 1); /* the first of two */
    assert_int_equal(nw_table_find(t, "3", &col), NW_OK);
    assert_int_equal(col, 2);
    nw_table_free(t);
}

static void test_quoted_fields(void **state)
{
    const char *path = make_file("quoted.csv",
                                 "\"x, 1\",\"say \"\"hi\"\"\",\" padded \",\"\"\n"
                                 "\"1.5\", 2 ,\t3\t,\" 4 \"\n");
    nw_table *t = NULL;
    assert_int_equal(nw_table_read(path, &t, NULL), NW_OK);
    assert_int_equal(nw_table_cols(t), 4);
    assert_string_equal(nw_table_name(t, 0), "x, 1");
    assert_string_equal(nw_table_name(t, 1), "say \"hi\"");
    assert_string_equal(nw_table_name(t, 2), " padded ");
    assert_string_equal(nw_table_name(t, 3), "");
    const double want[] = { 1.5, 2, 3, 4 };
    assert_memory_equal(nw_table_data(t), want, sizeof want);
    nw_table_free(t);
}

static void test_crlf_blank_lines_bom(void **state)
{
    nw_table *t = NULL;
    const char *path = make_file("crlf.csv", "\xEF\xBB\xBFx,y\r\n1,2\r\n3,4\r\n\r\n\r\n");
    assert_int_equal(nw_table_read(path, &t, NULL), NW_OK);
    assert_int_equal(nw_table_rows(t), 2);
    assert_string_equal(nw_table_name(t, 0), "x");
    const double want[] = { 1, 2, 3, 4 };
    assert_memory_equal(nw_table_data(t), want, sizeof want);
    nw_table_free(t);

    /* no final newline, trailing blank lines with spaces */
    path = make_file("nonl.csv", "a\n1\n2\n  \n\n");
    assert_int_equal(nw_table_read(path, &t, NULL), NW_OK);
    assert_int_equal(nw_table_rows(t), 2);
    nw_table_free(t);
    path = make_file("nonl2.csv", "a\n1\n2");
    assert_int_equal(nw_table_read(path, &t, NULL), NW_OK);
    assert_int_equal(nw_table_rows(t), 2);
    assert_true(nw_table_data(t)[1] == 2);
    nw_table_free(t);

    /* line numbers count CRLF, lone CR and LF once each */
    path = make_file("crlf_bad.csv", "x,y\r\n1,2\r\n3,4\r5,6\n7,oops\r\n");
    assert_contains(read_fails(path, NW_ERR_PARSE, 5, 2), ":5: column 2 ('y'): not a number: 'oops'");
}

/* Blank lines (and lines of blanks) are skipped wherever they are, and
 * the lines after them keep their physical numbers. */
static void test_blank_lines_skipped(void **state)
{
    nw_table *t = NULL;
    const char *path = make_file("gap.csv", "\n \nx\n1\n\n\t\n2\r\n\r\n3\n");
    assert_int_equal(nw_table_read(path, &t, NULL), NW_OK);
    assert_int_equal(nw_table_rows(t), 3);
    assert_string_equal(nw_table_name(t, 0), "x");
    const double want[] = { 1, 2, 3 };
    assert_memory_equal(nw_table_data(t), want, sizeof want);
    nw_table_free(t);
    path = make_file("gap_bad.csv", "a\n\n1\n\r\n\nzz\n");
    assert_contains(read_fails(path, NW_ERR_PARSE, 6, 1), ":6: column 1 ('a'): not a number: 'zz'");
}

/* Read with options; fails the test on an error. */
static nw_table *read_with(const char *path, char delimiter, char comment)
{
    nw_table_read_opts opts;
    nw_table_read_opts_init(&opts);
    assert_int_equal(opts.delimiter, 0);
    assert_int_equal(opts.comment, 0);
    opts.delimiter = delimiter;
    opts.comment = comment;
    nw_table *t = NULL;
    nw_diag diag = {0};
    nw_status st = nw_table_read_with(path, &opts, &t, &diag);
    if (st != NW_OK) fail_msg("status %d: %s", st, diag.message);
    return t;
}

static void test_delimiter_detected(void **state)
{
    const double want[] = { 1.5, 2, 3, 4 };
    /* tab: blanks around cells still trimmed, a quoted tab or comma kept */
    nw_table *t = read_with(make_file("tab.tsv", "\"a,b\"\t\"c\td\"\n 1.5 \t2\n3\t 4\n"), 0, 0);
    assert_int_equal(nw_table_delimiter(t), '\t');
    assert_int_equal(nw_table_cols(t), 2);
    assert_string_equal(nw_table_name(t, 0), "a,b");
    assert_string_equal(nw_table_name(t, 1), "c\td");
    assert_memory_equal(nw_table_data(t), want, sizeof want);
    nw_table_free(t);
    /* semicolon, after a BOM and CRLF; commas inside quotes do not count */
    t = read_with(make_file("semi.csv", "\xEF\xBB\xBF\"x,1,2,3\";y\r\n1.5;2\r\n3;4\r\n"), 0, 0);
    assert_int_equal(nw_table_delimiter(t), ';');
    assert_string_equal(nw_table_name(t, 0), "x,1,2,3");
    assert_memory_equal(nw_table_data(t), want, sizeof want);
    nw_table_free(t);
    /* comma wins over a semicolon inside quotes; a single column is comma */
    t = read_with(make_file("comma.csv", "\"a;b;c\",d\n1.5,2\n3,4\n"), 0, 0);
    assert_int_equal(nw_table_delimiter(t), ',');
    assert_memory_equal(nw_table_data(t), want, sizeof want);
    nw_table_free(t);
    t = read_with(make_file("one.csv", "only\n1\n"), 0, 0);
    assert_int_equal(nw_table_delimiter(t), ',');
    assert_int_equal(nw_table_cols(t), 1);
    nw_table_free(t);
    /* detection looks past blank lines and, with the option, comments */
    t = read_with(make_file("late.csv", "\n# a,b,c,d\nx;y\n1.5;2\n3;4\n"), 0, '#');
    assert_int_equal(nw_table_delimiter(t), ';');
    assert_memory_equal(nw_table_data(t), want, sizeof want);
    nw_table_free(t);
    /* nw_table_read detects too */
    t = NULL;
    assert_int_equal(nw_table_read(make_file("t2.tsv", "x\ty\n1.5\t2\n3\t4\n"), &t, NULL), NW_OK);
    assert_memory_equal(nw_table_data(t), want, sizeof want);
    nw_table_free(t);
}

static void test_delimiter_forced(void **state)
{
    /* forced ';' on a comma file: one column named "x,y" whose cells fail */
    const char *path = make_file("forced.csv", "x,y\n1,2\n");
    nw_table_read_opts opts = { ';', 0 };
    nw_table *t = NULL;
    nw_diag diag = {0};
    assert_int_equal(nw_table_read_with(path, &opts, &t, &diag), NW_ERR_PARSE);
    assert_contains(diag.message, ":2: column 1 ('x,y'): not a number: '1,2'");
    assert_null(t);
    /* forced tab on a file whose header has more commas than tabs */
    t = read_with(make_file("forced.tsv", "a,b,c\td\n1\t2\n"), '\t', 0);
    assert_int_equal(nw_table_cols(t), 2);
    assert_string_equal(nw_table_name(t, 0), "a,b,c");
    nw_table_free(t);
    /* '|' is allowed when forced */
    t = read_with(make_file("pipe.csv", "a|b\n1|2\n"), '|', 0);
    assert_int_equal(nw_table_cols(t), 2);
    assert_true(nw_table_data(t)[1] == 2);
    nw_table_free(t);
    /* impossible options */
    static const nw_table_read_opts bad[] = { { '"', 0 }, { '\n', 0 }, { '#', '#' }, { 0, '"' }, { 0, '\r' } };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        t = (nw_table *) &diag;
        assert_int_equal(nw_table_read_with(path, &bad[i], &t, NULL), NW_ERR_ARG);
        assert_null(t);
    }
}

static void test_comments(void **state)
{
    /* off by default: "# note" is the header, so line 2 has too many cells */
    const char *path = make_file("hash.csv", "# note\n1,2\n");
    assert_contains(read_fails(path, NW_ERR_PARSE, 2, 0), ":2: expected 1 column, found 2");

    /* on: whole lines starting with '#' go, quotes and delimiters in them too */
    path = make_file("comments.csv",
                     "# made by hand, \"quoted\n# x;y;z\r\nx,y\n1,2\n#3,4\n# \"unbalanced\n5,6\n#");
    nw_table *t = read_with(path, 0, '#');
    assert_int_equal(nw_table_delimiter(t), ',');
    assert_int_equal(nw_table_rows(t), 2);
    assert_string_equal(nw_table_name(t, 1), "y");
    const double want[] = { 1, 2, 5, 6 };
    assert_memory_equal(nw_table_data(t), want, sizeof want);
    nw_table_free(t);

    /* comment lines still count for the line numbers */
    nw_table_read_opts opts = { 0, '#' };
    nw_diag diag = {0};
    t = NULL;
    path = make_file("comments_bad.csv", "#c\nx\n#d\r\n1\n\n#e\rzz\n");
    assert_int_equal(nw_table_read_with(path, &opts, &t, &diag), NW_ERR_PARSE);
    assert_int_equal(diag.line, 7);
    assert_contains(diag.message, ":7: column 1 ('x'): not a number: 'zz'");

    /* a '#' that does not start a line, or starts one inside quotes, is data */
    path = make_file("hash_cell.csv", "x,y\n1,#2\n");
    assert_int_equal(nw_table_read_with(path, &opts, &t, &diag), NW_ERR_PARSE);
    assert_contains(diag.message, ":2: column 2 ('y'): not a number: '#2'");
    t = read_with(make_file("hash_quoted.csv", "\"a\n#b\",c\n1,2\n"), 0, '#');
    assert_string_equal(nw_table_name(t, 0), "a\n#b");
    assert_int_equal(nw_table_rows(t), 1);
    nw_table_free(t);

    /* a comment longer than the read buffer, across its boundary */
    size_t big = 200000;
    char *text = malloc(big + 64);
    assert_non_null(text);
    strcpy(text, "x,y\n1,2\n#");
    size_t len = strlen(text);
    memset(text + len, 'c', big);
    text[len + 20] = '"';
    strcpy(text + len + big, "\n3,4\n");
    t = read_with(make_file("long_comment.csv", text), 0, '#');
    free(text);
    const double want2[] = { 1, 2, 3, 4 };
    assert_int_equal(nw_table_rows(t), 2);
    assert_memory_equal(nw_table_data(t), want2, sizeof want2);
    nw_table_free(t);
}

static void test_missing_file(void **state)
{
    const char *path = in_dir("no_such.csv");
    const char *msg = read_fails(path, NW_ERR_IO, 0, 0);
    char want[600];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    assert_string_equal(msg, want);
}

static void test_not_a_number(void **state)
{
    const char *path = make_file("nan.csv", "a,b\n1,2\n3,abc\n");
    char want[600];
    snprintf(want, sizeof want, "%s:3: column 2 ('b'): not a number: 'abc'", path);
    assert_string_equal(read_fails(path, NW_ERR_PARSE, 3, 2), want);

    path = make_file("partial.csv", "a\n1\n2.5x\n");
    assert_contains(read_fails(path, NW_ERR_PARSE, 3, 1), ":3: column 1 ('a'): not a number: '2.5x'");
    path = make_file("comma.csv", "a,b\n\"1,5\",2\n");
    assert_contains(read_fails(path, NW_ERR_PARSE, 2, 1), "not a number: '1,5'");
    path = make_file("inner.csv", "a\n\"1 2\"\n");
    assert_contains(read_fails(path, NW_ERR_PARSE, 2, 1), "not a number: '1 2'");
    /* a quoted newline in the header moves every later line down */
    path = make_file("multiline.csv", "\"a\nb\",c\n1,2\nx,3\n");
    assert_contains(read_fails(path, NW_ERR_PARSE, 4, 1), ":4: column 1 ('a?b'): not a number: 'x'");
}

static void test_non_finite(void **state)
{
    static const char *const cells[] = { "nan", "NaN", "inf", "-inf", "Infinity", "1e999", "nan(0x1)" };
    for (size_t i = 0; i < sizeof cells / sizeof *cells; i++) {
        char text[64], want[80];
        snprintf(text, sizeof text, "a,b\n1,2\n3,%s\n", cells[i]);
        snprintf(want, sizeof want, ":3: column 2 ('b'): not a finite number: '%s'", cells[i]);
        assert_contains(read_fails(make_file("inf.csv", text), NW_ERR_PARSE, 3, 2), want);
    }
}

static void test_ragged_rows(void **state)
{
    char want[600];
    const char *path = make_file("short.csv", "a,b,c\n1,2,3\n4,5\n");
    snprintf(want, sizeof want, "%s:3: expected 3 columns, found 2", path);
    assert_string_equal(read_fails(path, NW_ERR_PARSE, 3, 0), want);
    path = make_file("long.csv", "a,b\n1,2\n4,5,6\n7,8\n");
    assert_contains(read_fails(path, NW_ERR_PARSE, 3, 0), ":3: expected 2 columns, found 3");
    path = make_file("trailing_comma.csv", "a,b\n1,2,\n");
    assert_contains(read_fails(path, NW_ERR_PARSE, 2, 0), ":2: expected 2 columns, found 3");
}

static void test_empty_cells(void **state)
{
    const char *path = make_file("empty_cell.csv", "a,b\n1,\n");
    char want[600];
    snprintf(want, sizeof want, "%s:2: column 2 ('b'): empty cell", path);
    assert_string_equal(read_fails(path, NW_ERR_PARSE, 2, 2), want);
    path = make_file("empty_quoted.csv", "a,b\n1,2\n\"  \",2\n");
    assert_contains(read_fails(path, NW_ERR_PARSE, 3, 1), ":3: column 1 ('a'): empty cell");
}

static void test_no_data(void **state)
{
    char want[600];
    const char *path = make_file("header_only.csv", "x,y\n");
    snprintf(want, sizeof want, "%s: no data rows", path);
    assert_string_equal(read_fails(path, NW_ERR_EMPTY, 0, 0), want);
    path = make_file("header_only2.csv", "x,y\n\n\n");
    assert_contains(read_fails(path, NW_ERR_EMPTY, 0, 0), ": no data rows");
    path = make_file("empty.csv", "");
    snprintf(want, sizeof want, "%s: empty file", path);
    assert_string_equal(read_fails(path, NW_ERR_EMPTY, 0, 0), want);
    path = make_file("blank.csv", "\n \r\n");
    assert_contains(read_fails(path, NW_ERR_EMPTY, 0, 0), ": empty file");
    path = make_file("comments_only.csv", "# a\n# b\n");
    nw_table_read_opts opts = { 0, '#' };
    nw_table *t = (nw_table *) &opts;
    nw_diag diag = {0};
    assert_int_equal(nw_table_read_with(path, &opts, &t, &diag), NW_ERR_EMPTY);
    assert_null(t);
    assert_contains(diag.message, ": empty file");
}

static void test_bad_quotes(void **state)
{
    const char *path = make_file("stray.csv", "a,b\n1,2\n\"3\"x,4\n");
    assert_contains(read_fails(path, NW_ERR_PARSE, 3, 1), ":3: column 1: misplaced quote");
    path = make_file("open.csv", "a,b\n1,2\n3,\"4\n5,6\n");
    assert_contains(read_fails(path, NW_ERR_PARSE, 3, 2), ":3: column 2: unterminated quoted field");
}

static void test_long_cell_is_cut(void **state)
{
    char text[400];
    memset(text, 0, sizeof text);
    strcpy(text, "a\n");
    memset(text + 2, 'z', 300);
    strcat(text, "\n");
    const char *msg = read_fails(make_file("long_cell.csv", text), NW_ERR_PARSE, 2, 1);
    assert_contains(msg, "zzz...'");
    assert_true(strlen(msg) < 200);
}

static void test_stdin(void **state)
{
    const char *path = make_file("in.csv", "a\n1\nb\n");
    int saved = dup(0), fd = open(path, O_RDONLY);
    assert_true(saved >= 0 && fd >= 0);
    assert_int_equal(dup2(fd, 0), 0);
    close(fd);
    clearerr(stdin);
    nw_table *t = NULL;
    nw_diag diag = {0};
    nw_status st = nw_table_read("-", &t, &diag);
    dup2(saved, 0);
    close(saved);
    clearerr(stdin);
    assert_int_equal(st, NW_ERR_PARSE);
    assert_string_equal(diag.message, "<stdin>:3: column 1 ('a'): not a number: 'b'");
}

/* ---------------------------------------------------------- writing */

static const double tricky[] = {
    0.1, 1.0 / 3.0, 1e-300, 5e-324, DBL_MAX, -DBL_MAX, 0.1 + 0.2, -0.0, 0, 2.0 / 3.0,
    123456789.123456789, -1.5e-310, 9007199254740993.0, 1e23, DBL_MIN, 1,
};
enum { TRICKY_N = sizeof tricky / sizeof *tricky };

static void test_round_trip(void **state)
{
    const char *names[] = { "plain", "with, comma", "with \"quote\"", "" };
    const char *path = in_dir("rt.csv");
    nw_table *t = NULL;
    nw_diag diag = {0};
    assert_int_equal(TRICKY_N % 4, 0);
    assert_int_equal(nw_csv_write(path, names, tricky, TRICKY_N / 4, 4, &diag), NW_OK);
    assert_int_equal(nw_table_read(path, &t, &diag), NW_OK);
    assert_int_equal(nw_table_rows(t), TRICKY_N / 4);
    assert_int_equal(nw_table_cols(t), 4);
    for (int k = 0; k < 4; k++) assert_string_equal(nw_table_name(t, (size_t) k), names[k]);
    assert_memory_equal(nw_table_data(t), tricky, sizeof tricky); /* bit-exact, -0 too */
    nw_table_free(t);
    assert_int_equal(count_entries(test_dir), 1);

    char *text = slurp(path);
    assert_contains(text, "plain,\"with, comma\",\"with \"\"quote\"\"\",\"\"\n");
    assert_contains(text, "\n0.1,0.3333333333333333,"); /* shortest exact forms */
    free(text);
}

/* Rows wider than the writer's 64 KiB block (3000 columns, mostly of the
 * longest numbers: some 70 KB a row), then a single column over many
 * blocks: the text is exact and reads back bit for bit. */
static void test_write_wide_rows(void **state)
{
    static const double cycle[] = { -2.2250738585072014e-308, -DBL_MAX, 0.1, -0.0, 1e-5 };
    static const char *const text_of[] = { "-2.2250738585072014e-308", "-1.7976931348623157e+308",
                                           "0.1", "-0", "1e-05" };
    const size_t shapes[2][2] = { { 3, 3000 }, { 40000, 1 } }; /* rows, cols */
    for (int k = 0; k < 2; k++) {
        const size_t rows = shapes[k][0], cols = shapes[k][1], cells = rows * cols;
        double *v = malloc(cells * sizeof *v);
        char *expect = malloc(cells * 26 + 1), *o = expect;
        assert_non_null(v);
        assert_non_null(expect);
        for (size_t i = 0; i < cells; i++) {
            size_t c = k == 0 && i % 8 ? i % 2 : (i * 7 + i / 5) % 5; /* wide: longest mostly */
            v[i] = cycle[c];
            o += sprintf(o, "%s%c", text_of[c], (i + 1) % cols ? ',' : '\n');
        }
        const char *path = in_dir("wide.csv");
        assert_int_equal(nw_csv_write(path, NULL, v, rows, cols, NULL), NW_OK);
        char *text = slurp(path);
        assert_non_null(text);
        assert_string_equal(text, expect);
        free(text);
        /* read back, with a header row of names in front */
        char *named = malloc(cells * 26 + cols * 8 + 1);
        assert_non_null(named);
        o = named;
        for (size_t j = 0; j < cols; j++) o += sprintf(o, "c%zu%c", j, j + 1 < cols ? ',' : '\n');
        strcpy(o, expect);
        nw_table *t = NULL;
        assert_int_equal(nw_table_read(make_file("wide_in.csv", named), &t, NULL), NW_OK);
        assert_int_equal(nw_table_rows(t), rows);
        assert_int_equal(nw_table_cols(t), cols);
        assert_memory_equal(nw_table_data(t), v, cells * sizeof *v); /* bit-exact, -0 too */
        nw_table_free(t);
        free(named);
        free(expect);
        free(v);
    }
}

static void test_write_special_values(void **state)
{
    const double v[] = { NAN, INFINITY, -INFINITY, 2.5 };
    const char *path = in_dir("special.csv");
    assert_int_equal(nw_csv_write(path, NULL, v, 2, 2, NULL), NW_OK);
    char *text = slurp(path);
    assert_string_equal(text, "nan,inf\n-inf,2.5\n");
    free(text);
    assert_int_equal(nw_csv_write(path, NULL, v, 2, 0, NULL), NW_ERR_EMPTY);
    assert_int_equal(nw_csv_write(path, NULL, NULL, 2, 2, NULL), NW_ERR_ARG);
    assert_int_equal(nw_csv_write(NULL, NULL, v, 2, 2, NULL), NW_ERR_ARG);
}

static void test_write_digits(void **state)
{
    const double v[] = { 1.0 / 3.0, 0.1, 123456.789, NAN, -INFINITY, 1e-300 };
    const char *names[] = { "a", "b", "c" };
    const char *path = in_dir("digits.csv");
    assert_int_equal(nw_csv_write_digits(path, names, v, 2, 3, 3, NULL), NW_OK);
    char *text = slurp(path);
    assert_string_equal(text, "a,b,c\n0.333,0.1,1.23e+05\nnan,-inf,1e-300\n");
    free(text);
    assert_int_equal(nw_csv_write_digits(path, NULL, v, 1, 2, 17, NULL), NW_OK);
    text = slurp(path);
    assert_string_equal(text, "0.33333333333333331,0.10000000000000001\n");
    free(text);
    /* 0: the shortest exact form, as nw_csv_write */
    assert_int_equal(nw_csv_write_digits(path, NULL, v, 1, 2, 0, NULL), NW_OK);
    text = slurp(path);
    assert_string_equal(text, "0.3333333333333333,0.1\n");
    free(text);
    assert_int_equal(nw_csv_write_digits(path, NULL, v, 1, 2, 18, NULL), NW_ERR_ARG);
    assert_int_equal(nw_csv_write_digits(path, NULL, v, 1, 2, -1, NULL), NW_ERR_ARG);
}

static void test_write_unwritable(void **state)
{
    const double v[] = { 1, 2 };
    nw_diag diag = {0};
    char want[600];

    /* a directory that does not exist */
    const char *path = in_dir("missing_dir/out.csv");
    assert_int_equal(nw_csv_write(path, NULL, v, 2, 1, &diag), NW_ERR_IO);
    snprintf(want, sizeof want, "%s: cannot create a temporary file: No such file or directory", path);
    assert_string_equal(diag.message, want);

    /* a "directory" that is a file (this fails even for root) */
    make_file("plain_file", "x");
    path = in_dir("plain_file/out.csv");
    assert_int_equal(nw_csv_write(path, NULL, v, 2, 1, &diag), NW_ERR_IO);
    assert_contains(diag.message, path);

    /* a directory without write permission (root ignores permissions) */
    const char *ro = in_dir("read_only");
    assert_int_equal(mkdir(ro, 0755), 0);
    if (geteuid() != 0) {
        assert_int_equal(chmod(ro, 0555), 0);
        path = in_dir("read_only/out.csv");
        assert_int_equal(nw_csv_write(path, NULL, v, 2, 1, &diag), NW_ERR_IO);
        assert_contains(diag.message, "Permission denied");
        chmod(ro, 0755);
    }
    assert_int_equal(count_entries(ro), 0);
    assert_int_equal(count_entries(test_dir), 2); /* plain_file and read_only */

    /* a path that is a directory: the temporary file is made, the rename fails */
    assert_int_equal(nw_csv_write(ro, NULL, v, 2, 1, &diag), NW_ERR_IO);
    assert_contains(diag.message, "cannot replace");
    assert_int_equal(count_entries(test_dir), 2);
}

static void test_write_replaces_atomically(void **state)
{
    const char *path = make_file("out.csv", "old,content\n1,2\n");
    assert_int_equal(chmod(path, 0640), 0);
    const double v[] = { 1, 2, 3, 4 };
    const char *names[] = { "x", "y" };
    assert_int_equal(nw_csv_write(path, names, v, 2, 2, NULL), NW_OK);
    char *text = slurp(path);
    assert_string_equal(text, "x,y\n1,2\n3,4\n");
    free(text);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640); /* the replaced file's mode */
    assert_int_equal(count_entries(test_dir), 1);

    /* a new file gets 0666 less the umask */
    mode_t old_mask = umask(027);
    const char *fresh = in_dir("fresh.csv");
    assert_int_equal(nw_csv_write(fresh, names, v, 2, 2, NULL), NW_OK);
    umask(old_mask);
    assert_int_equal(stat(fresh, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
}

/* A write that fails half way (file size limit) leaves the old file and
 * no temporary file behind. */
static void test_write_failure_keeps_old_file(void **state)
{
    const char *path = make_file("keep.csv", "old\n1\n");
    enum { N = 20000 };
    double *v = malloc(N * sizeof *v);
    for (int i = 0; i < N; i++) v[i] = i / 7.0;
    struct rlimit old_limit, limit;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
    limit = old_limit;
    limit.rlim_cur = 4096;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &limit), 0);
    nw_diag diag = {0};
    nw_status st = nw_csv_write(path, NULL, v, N, 1, &diag);
    setrlimit(RLIMIT_FSIZE, &old_limit);
    signal(SIGXFSZ, old_handler);
    free(v);
    assert_int_equal(st, NW_ERR_IO);
    assert_contains(diag.message, "cannot write: File too large");
    char *text = slurp(path);
    assert_string_equal(text, "old\n1\n");
    free(text);
    assert_int_equal(count_entries(test_dir), 1);
}

/* A path that is a device is written in place, never renamed over: a
 * private null device (c 1 3) stays a device, a private full device (c 1 7)
 * gives NW_ERR_IO naming it.  Needs mknod (root); skipped otherwise. */
static void test_write_to_device(void **state)
{
    const double v[] = { 1, 2 };
    const char *null_path = in_dir("null");
    if (mknod(null_path, S_IFCHR | 0666, makedev(1, 3)) != 0) {
        print_message("      (no mknod: device writes not checked)\n");
        return;
    }
    struct stat st;
    assert_int_equal(nw_csv_write(null_path, NULL, v, 2, 1, NULL), NW_OK);
    assert_int_equal(stat(null_path, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    const char *full_path = in_dir("full");
    assert_int_equal(mknod(full_path, S_IFCHR | 0666, makedev(1, 7)), 0);
    nw_diag diag = {0};
    assert_int_equal(nw_csv_write(full_path, NULL, v, 2, 1, &diag), NW_ERR_IO);
    assert_contains(diag.message, "full: cannot write: No space left on device");
    assert_int_equal(stat(full_path, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(count_entries(test_dir), 2); /* no temporary file left */
}

static void test_stdout(void **state)
{
    const char *path = in_dir("stdout.txt");
    const double v[] = { 0.5, -2 };
    const char *names[] = { "a", "b" };
    fflush(stdout);
    int saved = dup(1), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    close(fd);
    nw_status st = nw_csv_write("-", names, v, 1, 2, NULL);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    assert_int_equal(st, NW_OK);
    char *text = slurp(path);
    assert_string_equal(text, "a,b\n0.5,-2\n");
    free(text);
}

/* A program that set a locale with a decimal comma still gets '.'. */
static void test_locale_independent(void **state)
{
    const char *old = setlocale(LC_NUMERIC, NULL);
    char saved[64];
    snprintf(saved, sizeof saved, "%s", old ? old : "C");
    if (!setlocale(LC_NUMERIC, "de_DE.UTF-8") && !setlocale(LC_NUMERIC, "de_DE")) {
        print_message("      (no de_DE locale: checking the C locale only)\n");
    }
    const double v[] = { 0.25, 1.5 };
    const char *path = in_dir("locale.csv");
    nw_table *t = NULL;
    assert_int_equal(nw_csv_write(path, NULL, v, 1, 2, NULL), NW_OK);
    char *text = slurp(path);
    setlocale(LC_NUMERIC, saved);
    assert_string_equal(text, "0.25,1.5\n");
    free(text);
    make_file("locale_in.csv", "a,b\n0.25,1.5\n");
    setlocale(LC_NUMERIC, "de_DE.UTF-8");
    nw_status st = nw_table_read(in_dir("locale_in.csv"), &t, NULL);
    setlocale(LC_NUMERIC, saved);
    assert_int_equal(st, NW_OK);
    assert_memory_equal(nw_table_data(t), v, sizeof v);
    nw_table_free(t);
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A million rows: written and read back exactly, in reasonable time. */
static void test_million_rows(void **state)
{
    enum { N = 1000000 };
    double *v = malloc(2 * N * sizeof *v);
    for (size_t i = 0; i < N; i++) {
        v[2 * i] = i * 5e-6;
        v[2 * i + 1] = sin((double) i) * 1e3;
    }
    const char *names[] = { "x", "y" };
    const char *path = in_dir("big.csv");
    double t0 = seconds();
    assert_int_equal(nw_csv_write(path, names, v, N, 2, NULL), NW_OK);
    double t1 = seconds();
    nw_table *t = NULL;
    assert_int_equal(nw_table_read(path, &t, NULL), NW_OK);
    double t2 = seconds();
    print_message("      1e6 x 2: write %.2f s, read %.2f s\n", t1 - t0, t2 - t1);
    assert_int_equal(nw_table_rows(t), N);
    assert_memory_equal(nw_table_data(t), v, 2 * N * sizeof *v);
#ifndef NW_COVERAGE   /* the -O0 coverage build is many times slower */
    assert_true(t2 - t1 < 5.0); /* generous: about 0.3 s expected */
#endif
    nw_table_free(t);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_file, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_names_beat_indices, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_quoted_fields, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_crlf_blank_lines_bom, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_blank_lines_skipped, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_delimiter_detected, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_delimiter_forced, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_comments, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_not_a_number, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_non_finite, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_ragged_rows, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_empty_cells, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_no_data, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_bad_quotes, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_long_cell_is_cut, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_stdin, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_write_wide_rows, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_write_special_values, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_write_digits, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_write_unwritable, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_write_replaces_atomically, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_write_failure_keeps_old_file, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_write_to_device, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_stdout, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_locale_independent, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_million_rows, tmpdir_setup, tmpdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
