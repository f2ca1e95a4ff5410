/*
 * test_coverage_io.c: the error paths and edge branches of the file calls
 * (src/csv.c: tables and the atomic writer; src/model_io.c: model files)
 * that test_csv.c and test_model_io.c leave out.  Every case checks the
 * status, the exact diag message where one is promised, and that a failed
 * write leaves the target untouched and no temporary file behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "testutil.h"

/* Read path with a delimiter and comment character, expecting status; the
 * table (NULL unless NW_OK) comes back in *out, the diag message is
 * returned (static). */
static const char *read_status(const char *path, char delimiter, char comment,
                               nw_status want, nw_table **out)
{
    static nw_diag diag;
    nw_table_read_opts opts;
    nw_table_read_opts_init(&opts);
    opts.delimiter = delimiter;
    opts.comment = comment;
    nw_table *t = (nw_table *) &diag; /* any non-NULL value: the call must reset it */
    memset(&diag, 0, sizeof diag);
    nw_status st = nw_table_read_with(path, &opts, &t, &diag);
    if (st != want) fail_msg("%s: status %d, expected %d (%s)", path, st, want, diag.message);
    if (st != NW_OK) assert_null(t);
    if (out) *out = t;
    else nw_table_free(t);
    return diag.message;
}

/* The message for reading text from file NAME in the test directory, which
 * must fail with status; "{}" in want stands for the path. */
static void read_fails_with(const char *name, const char *text, char delimiter, char comment,
                            nw_status status, const char *want)
{
    const char *path = make_file(name, text);
    char expect[700];
    const char *brace = strstr(want, "{}");
    assert_non_null(brace);
    snprintf(expect, sizeof expect, "%.*s%s%s", (int) (brace - want), want, path, brace + 2);
    const char *msg = read_status(path, delimiter, comment, status, NULL);
    assert_string_equal(msg, expect);
}

/* ------------------------------------------------------------ reading */

static void test_read_argument_errors(void **state)
{
    (void) state;
    const char *path = make_file("ok.csv", "a,b\n1,2\n");
    nw_table *t = (nw_table *) path;
    nw_table_read_opts opts;
    nw_table_read_opts_init(NULL); /* a no-op */
    nw_table_read_opts_init(&opts);
    assert_int_equal(opts.delimiter, 0);
    assert_int_equal(opts.comment, 0);
    assert_int_equal(nw_table_read_with(path, NULL, NULL, NULL), NW_ERR_ARG);
    assert_int_equal(nw_table_read_with(NULL, NULL, &t, NULL), NW_ERR_ARG);
    assert_null(t);
    /* delimiters and comment characters that cannot work */
    const char bad_delims[] = { '"', '\n', '\r' };
    for (int i = 0; i < 3; i++) {
        opts.delimiter = bad_delims[i];
        opts.comment = 0;
        assert_int_equal(nw_table_read_with(path, &opts, &t, NULL), NW_ERR_ARG);
        opts.delimiter = 0;
        opts.comment = bad_delims[i];
        assert_int_equal(nw_table_read_with(path, &opts, &t, NULL), NW_ERR_ARG);
    }
    opts.delimiter = opts.comment = ';';
    assert_int_equal(nw_table_read_with(path, &opts, &t, NULL), NW_ERR_ARG);
    assert_null(t);
    /* NULL opts = the defaults */
    assert_int_equal(nw_table_read_with(path, NULL, &t, NULL), NW_OK);
    assert_int_equal(nw_table_delimiter(t), ',');
    nw_table_free(t);
    nw_table_free(NULL);
}

static void test_table_accessors(void **state)
{
    (void) state;
    /* 20 columns: the header's name array grows past its first 16 */
    char text[256] = "";
    for (int k = 1; k <= 20; k++) snprintf(text + strlen(text), 16, "c%d%s", k, k < 20 ? "," : "\n");
    for (int k = 1; k <= 20; k++) snprintf(text + strlen(text), 16, "%d%s", k, k < 20 ? "," : "\n");
    nw_table *t = NULL;
    read_status(make_file("wide.csv", text), 0, 0, NW_OK, &t);
    assert_int_equal(nw_table_cols(t), 20);
    assert_string_equal(nw_table_name(t, 16), "c17");
    assert_string_equal(nw_table_name(t, 19), "c20");
    assert_null(nw_table_name(t, 20));
    assert_true(nw_table_data(t)[19] == 20);

    /* NULL tables */
    assert_int_equal(nw_table_rows(NULL), 0);
    assert_int_equal(nw_table_cols(NULL), 0);
    assert_int_equal(nw_table_delimiter(NULL), 0);
    assert_null(nw_table_data(NULL));
    assert_null(nw_table_name(NULL, 0));

    /* find: by name, else a 1-based index of digits only, in range */
    size_t col = 99;
    assert_int_equal(nw_table_find(t, "c3", &col), NW_OK);
    assert_int_equal(col, 2);
    assert_int_equal(nw_table_find(t, "20", &col), NW_OK);
    assert_int_equal(col, 19);
    assert_int_equal(nw_table_find(t, "007", &col), NW_OK);
    assert_int_equal(col, 6);
    col = 99;
    const char *refused[] = { "", "0", "21", "1a", "1-", " 1", "c21", "99999999999999999999999999" };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        if (nw_table_find(t, refused[i], &col) != NW_ERR_ARG) fail_msg("'%s' found", refused[i]);
    assert_int_equal(col, 99);
    assert_int_equal(nw_table_find(NULL, "1", &col), NW_ERR_ARG);
    assert_int_equal(nw_table_find(t, NULL, &col), NW_ERR_ARG);
    assert_int_equal(nw_table_find(t, "1", NULL), NW_ERR_ARG);

    /* columns: repeats allowed, an index out of range or none refused */
    size_t pick[3] = { 19, 0, 19 };
    double out[3] = { 0, 0, 0 };
    assert_int_equal(nw_table_columns(t, pick, 3, out), NW_OK);
    assert_true(out[0] == 20 && out[1] == 1 && out[2] == 20);
    pick[1] = 20;
    assert_int_equal(nw_table_columns(t, pick, 3, out), NW_ERR_ARG);
    assert_int_equal(nw_table_columns(t, pick, 0, out), NW_ERR_EMPTY);
    assert_int_equal(nw_table_columns(NULL, pick, 1, out), NW_ERR_ARG);
    assert_int_equal(nw_table_columns(t, NULL, 1, out), NW_ERR_ARG);
    assert_int_equal(nw_table_columns(t, pick, 1, NULL), NW_ERR_ARG);
    nw_table_free(t);
}

/* Cells that strtod would take but the reader must not: a number after a
 * line break or form feed inside quotes, blanks only, a control byte. */
static void test_cells_refused(void **state)
{
    (void) state;
    read_fails_with("nl.csv", "x\n\"\n1\"\n", 0, 0, NW_ERR_PARSE,
                    "{}:2: column 1 ('x'): not a number: '?1'");
    read_fails_with("cr.csv", "x\n\"\r1\"\n", 0, 0, NW_ERR_PARSE,
                    "{}:2: column 1 ('x'): not a number: '?1'");
    read_fails_with("vt.csv", "x\n\"\v1\"\n", 0, 0, NW_ERR_PARSE,
                    "{}:2: column 1 ('x'): not a number: '?1'");
    read_fails_with("ff.csv", "x\n\"\f1\"\n", 0, 0, NW_ERR_PARSE,
                    "{}:2: column 1 ('x'): not a number: '?1'");
    read_fails_with("blank.csv", "x\n\" \t \"\n", 0, 0, NW_ERR_PARSE,
                    "{}:2: column 1 ('x'): empty cell");
    read_fails_with("ctl.csv", "x,y\n1,2\x01\n", 0, 0, NW_ERR_PARSE,
                    "{}:2: column 2 ('y'): not a number: '2?'");
    read_fails_with("del.csv", "x\n3\x7f\n", 0, 0, NW_ERR_PARSE,
                    "{}:2: column 1 ('x'): not a number: '3?'");
    /* blanks inside quotes around a number are trimmed like unquoted ones */
    nw_table *t = NULL;
    read_status(make_file("padded.csv", "x\n\" 1.5\t\"\n"), 0, 0, NW_OK, &t);
    assert_true(nw_table_data(t)[0] == 1.5);
    nw_table_free(t);
}

/* Line breaks inside quoted header names (LF, CRLF, lone CR) count as
 * physical lines for the messages; the names keep them. */
static void test_quoted_line_breaks_counted(void **state)
{
    (void) state;
    nw_table *t = NULL;
    const char *text = "\"a\r\nb\",\"c\rd\",\"e\nf\"\n1,2,3\nz,5,6\n";
    read_fails_with("breaks.csv", text, 0, 0, NW_ERR_PARSE,
                    "{}:6: column 1 ('a??b'): not a number: 'z'");
    read_status(make_file("breaks_ok.csv", "\"a\r\nb\",\"c\rd\"\n1,2\n"), 0, 0, NW_OK, &t);
    assert_string_equal(nw_table_name(t, 0), "a\r\nb");
    assert_string_equal(nw_table_name(t, 1), "c\rd");
    nw_table_free(t);
    /* a comment character inside a quoted multi-line name is not a comment */
    read_status(make_file("quoted_hash.csv", "\"a\n#b\",c\n1,2\n#x\n3,4\n"), 0, '#', NW_OK, &t);
    assert_string_equal(nw_table_name(t, 0), "a\n#b");
    assert_int_equal(nw_table_rows(t), 2);
    assert_true(nw_table_data(t)[3] == 4);
    nw_table_free(t);
}

/* The header's delimiter: ties, blank and comment lines before it, and a
 * space delimiter (then tabs are the blanks trimmed around cells). */
static void test_delimiter_choices(void **state)
{
    (void) state;
    nw_table *t = NULL;
    /* tab and semicolon once each: tab wins the tie */
    read_status(make_file("tie2.csv", "a\tb;c\n1\t2\n"), 0, 0, NW_OK, &t);
    assert_int_equal(nw_table_delimiter(t), '\t');
    assert_string_equal(nw_table_name(t, 1), "b;c");
    nw_table_free(t);
    /* two semicolons beat one tab */
    read_status(make_file("semi.csv", "a;b;c\td\n1;2;3\n"), 0, 0, NW_OK, &t);
    assert_int_equal(nw_table_delimiter(t), ';');
    assert_string_equal(nw_table_name(t, 2), "c\td");
    nw_table_free(t);
    /* blank lines (with blanks) and comment lines before the header are
     * skipped when detecting, and the line count still runs */
    read_fails_with("lead.csv", " \t\n\n#a,b,c,d\r\nx;y\n1;q\n", 0, '#', NW_ERR_PARSE,
                    "{}:5: column 2 ('y'): not a number: 'q'");
    /* a space delimiter: tabs around cells are trimmed, spaces split */
    read_status(make_file("space.txt", "x y\n1\t 2\n\t3 4\t\n"), ' ', 0, NW_OK, &t);
    assert_int_equal(nw_table_delimiter(t), ' ');
    assert_int_equal(nw_table_cols(t), 2);
    const double want[] = { 1, 2, 3, 4 };
    assert_memory_equal(nw_table_data(t), want, sizeof want);
    nw_table_free(t);
}

/* A misplaced quote in the header: the names read so far are freed (the
 * sanitizer build checks), and the message names line and column. */
static void test_header_errors(void **state)
{
    (void) state;
    read_fails_with("head_quote.csv", "a,\"b\"x,c\n1,2,3\n", 0, 0, NW_ERR_PARSE,
                    "{}:1: column 2: misplaced quote");
    read_fails_with("head_open.csv", "a,\"b\n", 0, 0, NW_ERR_PARSE,
                    "{}:1: column 2: unterminated quoted field");
    read_fails_with("only_comments.csv", "#a\n#b,c\n", 0, '#', NW_ERR_EMPTY, "{}: empty file");
    read_fails_with("header_only.csv", "a,b\r\n\r\n", 0, 0, NW_ERR_EMPTY, "{}: no data rows");
}

/* More than one 64 KiB read: line numbers and comments carry across the
 * pieces (a comment line split by a piece boundary, a CRLF split too). */
static void test_multi_chunk_file(void **state)
{
    (void) state;
    enum { ROWS = 12000 };
    size_t cap = (size_t) ROWS * 24 + 256, len = 0;
    char *text = malloc(cap);
    len += (size_t) snprintf(text + len, cap - len, "x,y\r\n");
    for (int i = 0; i < ROWS; i++) {
        if (i % 1000 == 999) len += (size_t) snprintf(text + len, cap - len, "# row %d,,,,\r\n", i);
        len += (size_t) snprintf(text + len, cap - len, "%d,%d.5\r\n", i, i);
    }
    len += (size_t) snprintf(text + len, cap - len, "1,oops\r\n");
    assert_true(len > 2 * 65536);
    const char *path = make_file("big.csv", text);
    /* the bad row: 1 header line, ROWS data lines, 12 comment lines */
    char want[600];
    snprintf(want, sizeof want, "%s:%d: column 2 ('y'): not a number: 'oops'", path, 1 + ROWS + 12 + 1);
    const char *msg = read_status(path, 0, '#', NW_ERR_PARSE, NULL);
    assert_string_equal(msg, want);
    /* without the bad row: every value read */
    text[len - strlen("1,oops\r\n")] = '\0';
    path = make_file("big_ok.csv", text);
    nw_table *t = NULL;
    read_status(path, 0, '#', NW_OK, &t);
    assert_int_equal(nw_table_rows(t), ROWS);
    assert_true(nw_table_data(t)[2 * (ROWS - 1)] == ROWS - 1);
    assert_true(nw_table_data(t)[2 * (ROWS - 1) + 1] == ROWS - 1 + 0.5);
    nw_table_free(t);
    free(text);
}

/* A directory opens for reading on Linux but cannot be read. */
static void test_read_directory(void **state)
{
    (void) state;
    char want[600];
    snprintf(want, sizeof want, "%s: cannot read: Is a directory", test_dir);
    assert_string_equal(read_status(test_dir, 0, 0, NW_ERR_IO, NULL), want);
    nw_model *m = (nw_model *) test_dir;
    nw_diag diag = { 0 };
    assert_int_equal(nw_model_load(&m, test_dir, &diag), NW_ERR_IO);
    assert_null(m);
    assert_string_equal(diag.message, want);
}

/* ------------------------------------------------------------ writing */

static void test_write_argument_errors(void **state)
{
    (void) state;
    const double v[2] = { 1, 2 };
    const char *path = in_dir("out.csv");
    assert_int_equal(nw_csv_write(NULL, NULL, v, 1, 2, NULL), NW_ERR_ARG);
    assert_int_equal(nw_csv_write(path, NULL, NULL, 1, 2, NULL), NW_ERR_ARG);
    assert_int_equal(nw_csv_write_digits(path, NULL, v, 1, 2, -1, NULL), NW_ERR_ARG);
    assert_int_equal(nw_csv_write_digits(path, NULL, v, 1, 2, 18, NULL), NW_ERR_ARG);
    assert_int_equal(nw_csv_write(path, NULL, v, 1, 0, NULL), NW_ERR_EMPTY);
    assert_int_equal(count_entries(test_dir), 0); /* nothing written */
    /* rows = 0 needs no data: the header alone */
    const char *names[2] = { "a", NULL }; /* a NULL name is written as "" */
    assert_int_equal(nw_csv_write(path, names, NULL, 0, 2, NULL), NW_OK);
    char *text = slurp(path);
    assert_string_equal(text, "a,\"\"\n");
    free(text);
    /* digits 1 and 17 are the ends of the range */
    const double third = 1.0 / 3;
    assert_int_equal(nw_csv_write_digits(path, NULL, &third, 1, 1, 1, NULL), NW_OK);
    text = slurp(path);
    assert_string_equal(text, "0.3\n");
    free(text);
    assert_int_equal(nw_csv_write_digits(path, NULL, &third, 1, 1, 17, NULL), NW_OK);
    text = slurp(path);
    assert_string_equal(text, "0.33333333333333331\n");
    free(text);
}

/* Header names are quoted where a reader would otherwise split, trim or
 * skip them, and read back as written. */
static void test_names_quoted_where_needed(void **state)
{
    (void) state;
    const char *names[] = { "plain", "semi;colon", "tab\tin", " lead", "trail ", "\tlead",
                            "trail\t", "\xEF\xBB\xBF" "bom", "a\"q", "line\nbreak", "cr\rx", "mid space" };
    enum { K = sizeof names / sizeof *names };
    double row[K];
    for (int k = 0; k < K; k++) row[k] = k;
    const char *path = in_dir("names.csv");
    assert_int_equal(nw_csv_write(path, names, row, 1, K, NULL), NW_OK);
    char *text = slurp(path);
    assert_string_equal(text, "plain,\"semi;colon\",\"tab\tin\",\" lead\",\"trail \",\"\tlead\","
                              "\"trail\t\",\"\xEF\xBB\xBF" "bom\",\"a\"\"q\",\"line\nbreak\",\"cr\rx\","
                              "mid space\n0,1,2,3,4,5,6,7,8,9,10,11\n");
    free(text);
    nw_table *t = NULL;
    read_status(path, 0, 0, NW_OK, &t);
    assert_int_equal(nw_table_cols(t), K);
    for (int k = 0; k < K; k++) assert_string_equal(nw_table_name(t, k), names[k]);
    assert_memory_equal(nw_table_data(t), row, sizeof row);
    nw_table_free(t);
}

/* Replacing a file keeps its permission bits; a new file gets 0666 less
 * the umask. */
static void test_write_permissions(void **state)
{
    (void) state;
    const double v = 1;
    const char *path = in_dir("perm.csv");
    struct stat st;
    mode_t old = umask(027);
    assert_int_equal(nw_csv_write(path, NULL, &v, 1, 1, NULL), NW_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    assert_int_equal(chmod(path, 0604), 0);
    assert_int_equal(nw_csv_write(path, NULL, &v, 1, 1, NULL), NW_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0604);
    umask(old);
}

/* A path that is a directory: the temporary file is written beside it,
 * then cannot replace it; it is removed again. */
static void test_write_over_directory(void **state)
{
    (void) state;
    const double v = 1;
    const char *dir = in_dir("adir");
    assert_int_equal(mkdir(dir, 0755), 0);
    nw_diag diag = { 0 };
    char want[600];
    assert_int_equal(nw_csv_write(dir, NULL, &v, 1, 1, &diag), NW_ERR_IO);
    snprintf(want, sizeof want, "%s: cannot replace: Is a directory", dir);
    assert_string_equal(diag.message, want);
    assert_int_equal(count_entries(test_dir), 1); /* adir only: no temporary file */
    assert_int_equal(count_entries(dir), 0);
}

/* A path that exists and is neither a file nor a directory, and cannot be
 * opened (a UNIX socket): NW_ERR_IO "cannot open", the socket stays. */
static void test_write_to_socket(void **state)
{
    (void) state;
    const double v = 1;
    const char *path = in_dir("sock");
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof addr.sun_path) { print_message("      (path too long for a socket)\n"); return; }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *) &addr, sizeof addr), 0);
    nw_diag diag = { 0 };
    assert_int_equal(nw_csv_write(path, NULL, &v, 1, 1, &diag), NW_ERR_IO);
    char want[600];
    snprintf(want, sizeof want, "%s: cannot open: No such device or address", path);
    assert_string_equal(diag.message, want);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    close(fd);
    /* a model file likewise */
    double x = 0, y = 1;
    nw_model *m = NULL;
    assert_int_equal(nw_model_new(&m, &x, &y, 1, 1, 1), NW_OK);
    assert_int_equal(nw_model_save(m, path, &diag), NW_ERR_IO);
    assert_string_equal(diag.message, want);
    nw_model_free(m);
}

/* The file size limit (RLIMIT_FSIZE) makes the temporary file's writes
 * fail with EFBIG: NW_ERR_IO, the old file intact, no temporary file. */
static void test_write_fails_midway(void **state)
{
    (void) state;
    enum { ROWS = 20000 };
    double *v = malloc(ROWS * sizeof *v);
    for (int i = 0; i < ROWS; i++) v[i] = i + 0.25;
    char path[512]; /* in_dir's buffers are reused */
    snprintf(path, sizeof path, "%s", make_file("limited.csv", "old\n1\n"));
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 4096;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    nw_diag diag = { 0 };
    nw_status st = nw_csv_write(path, NULL, v, ROWS, 1, &diag);
    nw_diag mdiag = { 0 };
    nw_model *m = NULL;
    double *x = malloc(ROWS * sizeof *x);
    for (int i = 0; i < ROWS; i++) x[i] = i;
    assert_int_equal(nw_model_new(&m, x, v, ROWS, 1, 1), NW_OK);
    nw_status mst = nw_model_save(m, in_dir("limited.json"), &mdiag);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(st, NW_ERR_IO);
    char want[600];
    snprintf(want, sizeof want, "%s: cannot write: File too large", path);
    assert_string_equal(diag.message, want);
    char *text = slurp(path);
    assert_string_equal(text, "old\n1\n");
    free(text);
    assert_int_equal(mst, NW_ERR_IO);
    assert_contains(mdiag.message, "limited.json: cannot write: File too large");
    assert_int_equal(count_entries(test_dir), 1); /* limited.csv only */
    nw_model_free(m);
    free(x);
    free(v);
}

/* Writing "-" when stdout cannot take it (/dev/full): NW_ERR_IO naming
 * <stdout>. */
static void test_stdout_full(void **state)
{
    (void) state;
    int full = open("/dev/full", O_WRONLY);
    if (full < 0) { print_message("      (no /dev/full)\n"); return; }
    const double v[2] = { 1, 2 };
    fflush(stdout);
    int saved = dup(1);
    assert_true(saved >= 0);
    dup2(full, 1);
    close(full);
    nw_diag diag = { 0 }, mdiag = { 0 };
    nw_status st = nw_csv_write("-", NULL, v, 2, 1, &diag);
    __fpurge(stdout);
    clearerr(stdout);
    double x = 0, y = 1;
    nw_model *m = NULL;
    assert_int_equal(nw_model_new(&m, &x, &y, 1, 1, 1), NW_OK);
    nw_status mst = nw_model_save(m, "-", &mdiag);
    __fpurge(stdout); /* what could not be written */
    clearerr(stdout);
    dup2(saved, 1);
    close(saved);
    nw_model_free(m);
    assert_int_equal(st, NW_ERR_IO);
    assert_string_equal(diag.message, "<stdout>: cannot write: No space left on device");
    assert_int_equal(mst, NW_ERR_IO);
    assert_string_equal(mdiag.message, "<stdout>: cannot write: No space left on device");
}

/* ---------------------------------------------------------- model files */

static void test_model_file_arguments(void **state)
{
    (void) state;
    double x[2] = { 0, 1 }, y[2] = { 1, 2 };
    nw_model *m = NULL, *back = (nw_model *) x;
    assert_int_equal(nw_model_new(&m, x, y, 2, 1, 1), NW_OK);
    assert_int_equal(nw_model_save(NULL, in_dir("m.json"), NULL), NW_ERR_ARG);
    assert_int_equal(nw_model_save(m, NULL, NULL), NW_ERR_ARG);
    assert_int_equal(count_entries(test_dir), 0);
    assert_int_equal(nw_model_load(NULL, in_dir("m.json"), NULL), NW_ERR_ARG);
    assert_int_equal(nw_model_load(&back, NULL, NULL), NW_ERR_ARG);
    assert_null(back);
    /* a missing file, with and without a diag */
    nw_diag diag = { 0 };
    back = (nw_model *) x;
    assert_int_equal(nw_model_load(&back, in_dir("none.json"), NULL), NW_ERR_IO);
    assert_null(back);
    assert_int_equal(nw_model_load(&back, in_dir("none.json"), &diag), NW_ERR_IO);
    char want[600];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", in_dir("none.json"));
    assert_string_equal(diag.message, want);
    nw_model_free(m);
}

/* A model read from stdin ("-") is the model saved; errors name <stdin>. */
static void test_model_stdin(void **state)
{
    (void) state;
    double x[3] = { 0, 1, 2 }, y[3] = { 1, 4, 9 }, h = 0.75;
    nw_model *m = NULL, *back = NULL;
    assert_int_equal(nw_model_new(&m, x, y, 3, 1, 1), NW_OK);
    assert_int_equal(nw_model_set_bandwidth(m, &h), NW_OK);
    const char *path = in_dir("m.json");
    assert_int_equal(nw_model_save(m, path, NULL), NW_OK);
    const char *bad = make_file("bad.json", "{\n  \"format\": nope\n}\n");
    const char *inputs[2] = { path, bad };
    nw_status st[2];
    nw_diag diag[2];
    nw_model *got[2] = { NULL, NULL };
    for (int i = 0; i < 2; i++) {
        memset(&diag[i], 0, sizeof diag[i]);
        int saved = dup(0), fd = open(inputs[i], O_RDONLY);
        assert_true(saved >= 0 && fd >= 0);
        dup2(fd, 0);
        close(fd);
        clearerr(stdin);
        st[i] = nw_model_load(&got[i], "-", &diag[i]);
        dup2(saved, 0);
        close(saved);
        clearerr(stdin);
    }
    back = got[0];
    assert_int_equal(st[0], NW_OK);
    double hb;
    assert_int_equal(nw_model_bandwidth(back, &hb), NW_OK);
    assert_true(hb == 0.75 && nw_model_n(back) == 3 && nw_model_y(back)[2] == 9);
    assert_int_equal(st[1], NW_ERR_PARSE);
    assert_null(got[1]);
    assert_string_equal(diag[1].message, "<stdin>:2:13: invalid JSON near byte 15");
    assert_int_equal(diag[1].line, 2);
    assert_int_equal(diag[1].column, 13);
    nw_model_free(back);
    nw_model_free(m);
}

/* A large model (more than the reader's first 64 KiB buffer) survives
 * save and load bit for bit, with names that need JSON escapes. */
static void test_model_large_and_escaped(void **state)
{
    (void) state;
    enum { N = 4000 };
    double *x = malloc(2 * N * sizeof *x), *y = malloc(N * sizeof *y);
    for (int i = 0; i < N; i++) {
        x[2 * i] = i / 7.0;
        x[2 * i + 1] = -i / 3.0;
        y[i] = sin(i);
    }
    nw_model *m = NULL, *back = NULL;
    assert_int_equal(nw_model_new(&m, x, y, N, 2, 1), NW_OK);
    const char *xn[2] = { "quote\"d", "back\\slash\ttab" }, *yn[1] = { "\xc3\xa9t\xc3\xa9" };
    assert_int_equal(nw_model_set_names(m, xn, yn), NW_OK);
    const char *path = in_dir("big.json");
    assert_int_equal(nw_model_save(m, path, NULL), NW_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 2 * 65536);
    assert_int_equal(nw_model_load(&back, path, NULL), NW_OK);
    assert_int_equal(nw_model_n(back), N);
    assert_memory_equal(nw_model_x(back), x, 2 * N * sizeof *x);
    assert_memory_equal(nw_model_y(back), y, N * sizeof *y);
    assert_string_equal(nw_model_x_name(back, 0), xn[0]);
    assert_string_equal(nw_model_x_name(back, 1), xn[1]);
    assert_string_equal(nw_model_y_name(back, 0), yn[0]);
    nw_model_free(back);
    nw_model_free(m);
    free(x);
    free(y);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, tmpdir_setup, tmpdir_teardown)
    const struct CMUnitTest tests[] = {
        T(test_read_argument_errors),
        T(test_table_accessors),
        T(test_cells_refused),
        T(test_quoted_line_breaks_counted),
        T(test_delimiter_choices),
        T(test_header_errors),
        T(test_multi_chunk_file),
        T(test_read_directory),
        T(test_write_argument_errors),
        T(test_names_quoted_where_needed),
        T(test_write_permissions),
        T(test_write_over_directory),
        T(test_write_to_socket),
        T(test_write_fails_midway),
        T(test_stdout_full),
        T(test_model_file_arguments),
        T(test_model_stdin),
        T(test_model_large_and_escaped),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
