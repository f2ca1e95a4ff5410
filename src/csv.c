/*
 * csv.c: numeric tables read from CSV (parsed by libcsv), CSV written
 * atomically, and the temp-file-and-rename writer that model files share.
 *
 * Numbers are read and written in the C locale whatever LC_NUMERIC the
 * program has set: the calling thread switches to a private "C" locale
 * object with uselocale() for the duration of a call (nothing global).
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csv.h>

#include "internal.h"
#include "numconv.h"

struct nw_table {
    size_t rows, cols;
    double *data;  /* rows x cols, row-major */
    char **names;  /* cols names, never NULL */
    char delimiter; /* the field delimiter the file was read with */
};

enum {
    READ_CHUNK = 64 * 1024,   /* bytes read and fed to libcsv at a time */
    EXCERPT_MAX = 40,         /* bytes of a bad cell quoted in a message */
    ROWS_FIRST = 256 * 1024,  /* bytes of the first block of rows (grow_rows) */
    WRITE_BUFFER = 64 * 1024, /* the output stream's buffer (nw_write_atomic) */
    WRITE_BLOCK = 64 * 1024,  /* bytes of rows formatted per fwrite (write_csv) */
};

/* What the libcsv callbacks share while one file is read. */
typedef struct reader {
    const char *file;    /* the name messages use */
    nw_diag *diag;
    nw_status status;    /* the first failure; callbacks do nothing once set */
    char comment;        /* comment character, 0 for none */
    size_t line;         /* physical line on which the next field starts */
    int after_cr;        /* the last event ended a row with a CR */
    int ended_line;      /* the last event was a row end at a CR or LF */
    size_t field;        /* fields seen so far in the current row */
    size_t row_line;     /* line on which the current row starts */
    int have_header;
    size_t cols;
    char **names;
    size_t names_cap;
    double *data;
    size_t rows, rows_cap;
} reader;

/* Copy at most EXCERPT_MAX bytes of s[0..len) into dst (one line: control
 * bytes become '?'), with "..." when cut. dst holds EXCERPT_MAX + 4 bytes. */
static void excerpt(char *dst, const char *s, size_t len)
{
    size_t k = len < EXCERPT_MAX ? len : EXCERPT_MAX;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char) s[i];
        dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char) c;
    }
    strcpy(dst + k, len > k ? "..." : "");
}

/* Physical line breaks (LF, CRLF or a lone CR) inside a quoted field. */
static size_t count_line_breaks(const char *s, size_t len)
{
    size_t breaks = 0;
    if (!memchr(s, '\n', len) && !memchr(s, '\r', len)) return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\n' || (s[i] == '\r' && (i + 1 == len || s[i + 1] != '\n'))) breaks++;
    return breaks;
}

static void fail_cell(reader *r, const char *what, const char *cell, size_t len)
{
    char name[EXCERPT_MAX + 4], text[EXCERPT_MAX + 4];
    const char *col_name = r->names[r->field];
    excerpt(name, col_name, strlen(col_name));
    excerpt(text, cell, len);
    nw_diag_set(r->diag, r->line, r->field + 1, "%s:%zu: column %zu ('%s'): %s%s%s%s",
                r->file, r->line, r->field + 1, name, what,
                len ? ": '" : "", len ? text : "", len ? "'" : "");
    r->status = NW_ERR_PARSE;
}

/* Parse one data cell: a finite double, optionally surrounded by blanks,
 * with nothing else in the cell. */
static void parse_cell(reader *r, const char *cell, size_t len, double *out)
{
    const char *s = cell, *end = cell + len;
    char *stop;
    while (s < end && (*s == ' ' || *s == '\t')) s++;
    if (s == end) { fail_cell(r, "empty cell", cell, 0); return; }
    /* strtod's result, faster (numconv.h); cell[len] is libcsv's NUL */
    double v = nw_strtod_n(s, (size_t) (end - s), &stop);
    while (stop < end && (*stop == ' ' || *stop == '\t')) stop++;
    if (stop == s || stop != end || *s == '\n' || *s == '\r' || *s == '\v' || *s == '\f') {
        fail_cell(r, "not a number", cell, len);
        return;
    }
    if (!isfinite(v)) { fail_cell(r, "not a finite number", cell, len); return; }
    *out = v;
}

/* Make room for one more header name. */
static int grow_names(reader *r)
{
    if (r->field < r->names_cap) return 1;
    size_t cap = r->names_cap ? 2 * r->names_cap : 16;
    char **names = cap < SIZE_MAX / sizeof *names ? realloc(r->names, cap * sizeof *names) : NULL;
    if (!names) return 0;
    r->names = names;
    r->names_cap = cap;
    return 1;
}

/* Make room for one more data row: the capacity doubles, from a first
 * block of ROWS_FIRST bytes (one row at least).  A block that large is
 * mapped by itself (glibc's malloc, above its mmap threshold): pages
 * never written are never touched, and growing it remaps its pages
 * (mremap), where a small first block grown in the heap is copied at each
 * doubling and leaves the pages it held touched (page faults, ~2 us
 * each).  nw_table_read_with gives back what the rows did not use. */
static int grow_rows(reader *r)
{
    if (r->rows < r->rows_cap) return 1;
    size_t first = ROWS_FIRST / sizeof(double) / r->cols;
    size_t cap = r->rows_cap ? 2 * r->rows_cap : first > 0 ? first : 1;
    if (cap > SIZE_MAX / sizeof(double) / r->cols) return 0;
    double *data = realloc(r->data, cap * r->cols * sizeof(double));
    if (!data) return 0;
    r->data = data;
    r->rows_cap = cap;
    return 1;
}

/* libcsv's end-of-field callback. */
static void on_field(void *s, size_t len, void *ctx)
{
    reader *r = ctx;
    const char *cell = s;
    if (r->status) return;
    if (r->field == 0) {  /* a row begins */
        r->row_line = r->line;
        if (r->have_header && !grow_rows(r)) { r->status = NW_ERR_NOMEM; return; }
    }
    r->after_cr = 0;
    r->ended_line = 0;
    if (!r->have_header) {
        if (!grow_names(r) || !(r->names[r->field] = malloc(len + 1))) {
            r->status = NW_ERR_NOMEM;
            return;
        }
        memcpy(r->names[r->field], cell, len);
        r->names[r->field][len] = '\0';
    } else if (r->field < r->cols) {
        parse_cell(r, cell, len, &r->data[r->rows * r->cols + r->field]);
        if (!r->status) r->field++;
        return; /* a number (blanks around it at most) holds no line break */
    }
    r->field++;
    r->line += count_line_breaks(cell, len);
}

/* libcsv's end-of-row callback: c is CR, LF, or -1 at the end of input.
 * With CSV_REPALL_NL every unquoted CR and LF arrives here, so a CRLF pair
 * is a row end followed by an empty "row" made of the LF alone.  A row of
 * no fields is a blank line (or one of blanks only), and is skipped. */
static void on_row_end(int c, void *ctx)
{
    reader *r = ctx;
    if (r->status) return;
    r->ended_line = (c == '\n' || c == '\r');
    if (r->field == 0) {
        if (c == '\n' && r->after_cr) { r->after_cr = 0; return; } /* the LF of a CRLF */
    } else if (!r->have_header) {
        r->have_header = 1;
        r->cols = r->field;
    } else if (r->field != r->cols) {
        nw_diag_set(r->diag, r->row_line, 0, "%s:%zu: expected %zu column%s, found %zu",
                    r->file, r->row_line, r->cols, r->cols == 1 ? "" : "s", r->field);
        r->status = NW_ERR_PARSE;
        return;
    } else {
        r->rows++;
    }
    r->field = 0;
    if (c == '\n' || c == '\r') r->line++;
    r->after_cr = (c == '\r');
}

/* The delimiter of the header line: of comma, tab and semicolon, the one
 * that occurs most often outside quotes on the first line that is neither
 * blank nor a comment (ties: comma, then tab, then semicolon); comma when
 * none occurs.  Only the first READ_CHUNK bytes are looked at. */
static char sniff_delimiter(const char *s, size_t len, char comment)
{
    size_t i = 0;
    for (;;) { /* skip blank and comment lines */
        size_t j = i;
        while (j < len && (s[j] == ' ' || s[j] == '\t')) j++;
        if (j < len && (s[j] == '\n' || s[j] == '\r')) { i = j + 1; continue; }
        if (comment && i < len && s[i] == comment) {
            while (i < len && s[i] != '\n' && s[i] != '\r') i++;
            continue;
        }
        break;
    }
    size_t comma = 0, tab = 0, semicolon = 0;
    int quoted = 0;
    for (; i < len; i++) {
        char c = s[i];
        if (c == '"') quoted = !quoted;
        else if (quoted) continue;
        else if (c == '\n' || c == '\r') break;
        else if (c == ',') comma++;
        else if (c == '\t') tab++;
        else if (c == ';') semicolon++;
    }
    if (tab > comma && tab >= semicolon) return '\t';
    if (semicolon > comma && semicolon > tab) return ';';
    return ',';
}

/* Feed s[0..len) to libcsv.  Without a comment character all of it at
 * once.  With one, a line at a time, so that a line that starts (outside
 * quotes) with the comment character can be dropped up to its line break;
 * the break itself is still fed, as a blank line, so lines keep counting. */
static int feed(reader *r, struct csv_parser *parser, const char *s, size_t len,
                int *at_line_start, int *in_comment)
{
    if (!r->comment) {
        size_t used = csv_parse(parser, s, len, on_field, on_row_end, r);
        return used == len;
    }
    size_t pos = 0;
    while (pos < len && !r->status) {
        if (*in_comment) {
            while (pos < len && s[pos] != '\n' && s[pos] != '\r') pos++;
            if (pos < len) *in_comment = 0;
            continue;
        }
        if (*at_line_start && s[pos] == r->comment) {
            *in_comment = 1;
            continue;
        }
        size_t end = pos;
        while (end < len && s[end] != '\n' && s[end] != '\r') end++;
        int whole_line = end < len;
        if (whole_line) end++; /* with its line break */
        r->ended_line = 0;
        if (csv_parse(parser, s + pos, end - pos, on_field, on_row_end, r) != end - pos) return 0;
        /* a line begins here only if that line break ended a row (was not quoted) */
        *at_line_start = whole_line && r->ended_line;
        pos = end;
    }
    return 1;
}

/* What libcsv trims around unquoted cells: blanks, but never the delimiter
 * (its own test, without a function, is space or tab: inline, where a
 * function is a call per character). */
static int is_space(unsigned char c) { return c == ' '; }
static int is_tab(unsigned char c) { return c == '\t'; }

/* Feed the whole stream to libcsv in READ_CHUNK pieces; the first piece
 * loses a UTF-8 byte-order mark and, with delimiter 0, sets the delimiter. */
static nw_status parse_stream(reader *r, FILE *fp, struct csv_parser *parser, char *delimiter)
{
    char *buf = malloc(READ_CHUNK);
    int first = 1, at_line_start = 1, in_comment = 0;
    if (!buf) return r->status = NW_ERR_NOMEM; /* the caller returns r->status */
    for (;;) {
        size_t got = fread(buf, 1, READ_CHUNK, fp), skip = 0;
        if (first) {
            if (got >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) skip = 3; /* UTF-8 BOM */
            if (!*delimiter) *delimiter = sniff_delimiter(buf + skip, got - skip, r->comment);
            csv_set_delim(parser, (unsigned char) *delimiter);
            csv_set_space_func(parser, *delimiter == '\t' ? is_space
                                       : *delimiter == ' ' ? is_tab : NULL);
            first = 0;
        }
        int all = feed(r, parser, buf + skip, got - skip, &at_line_start, &in_comment);
        if (r->status) break;
        if (!all) {
            int err = csv_error(parser);
            r->status = err == CSV_EPARSE ? NW_ERR_PARSE : NW_ERR_NOMEM;
            nw_diag_set(r->diag, r->line, r->field + 1, "%s:%zu: column %zu: %s", r->file,
                        r->line, r->field + 1,
                        err == CSV_EPARSE ? "misplaced quote" : csv_strerror(err));
            break;
        }
        if (got < READ_CHUNK) {
            if (ferror(fp)) {
                nw_diag_set(r->diag, 0, 0, "%s: cannot read: %s", r->file, strerror(errno));
                r->status = NW_ERR_IO;
            } else if (csv_fini(parser, on_field, on_row_end, r) != 0 && !r->status) {
                nw_diag_set(r->diag, r->line, r->field + 1,
                            "%s:%zu: column %zu: unterminated quoted field", r->file, r->line,
                            r->field + 1);
                r->status = NW_ERR_PARSE;
            }
            break;
        }
    }
    free(buf);
    return r->status;
}


void nw_table_read_opts_init(nw_table_read_opts *opts)
{
    if (!opts) return;
    opts->delimiter = 0;
    opts->comment = 0;
}

/* Read a CSV table: a header row of names, then rows of finite numbers,
 * every row as long as the header.  Blank lines are skipped anywhere, and
 * so are lines starting with opts->comment when it is set.  See nwreg.h
 * for errors. */
nw_status nw_table_read(const char *path, nw_table **table, nw_diag *diag)
{
    return nw_table_read_with(path, NULL, table, diag);
}

nw_status nw_table_read_with(const char *path, const nw_table_read_opts *opts,
                             nw_table **table, nw_diag *diag)
{
    if (!table) return NW_ERR_ARG;
    *table = NULL;
    if (!path) return NW_ERR_ARG;
    nw_table_read_opts defaults;
    nw_table_read_opts_init(&defaults);
    if (!opts) opts = &defaults;
    char delimiter = opts->delimiter;
    if (delimiter && (delimiter == '"' || delimiter == '\n' || delimiter == '\r'
                      || delimiter == opts->comment))
        return NW_ERR_ARG;
    if (opts->comment && (opts->comment == '"' || opts->comment == '\n' || opts->comment == '\r'))
        return NW_ERR_ARG;

    int from_stdin = strcmp(path, "-") == 0;
    reader r = { .file = from_stdin ? "<stdin>" : path, .diag = diag, .line = 1,
                 .comment = opts->comment };
    struct csv_parser parser;
    int parser_ready = 0;
    nw_table *t = NULL;
    locale_t c_locale = (locale_t) 0, old_locale = (locale_t) 0;
    FILE *fp = from_stdin ? stdin : fopen(path, "rb");
    if (!fp) {
        nw_diag_set(diag, 0, 0, "%s: cannot open: %s", r.file, strerror(errno));
        return NW_ERR_IO;
    }
    r.status = NW_ERR_NOMEM;
    if (!(c_locale = newlocale(LC_ALL_MASK, "C", (locale_t) 0))) goto fail;
    old_locale = uselocale(c_locale);
    if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL | CSV_APPEND_NULL) != 0)
        goto fail;
    parser_ready = 1;
    r.status = NW_OK;
    if (parse_stream(&r, fp, &parser, &delimiter) != NW_OK) goto fail;

    if (!r.have_header) {
        nw_diag_set(diag, 0, 0, "%s: empty file", r.file);
        r.status = NW_ERR_EMPTY;
        goto fail;
    }
    if (r.rows == 0) {
        nw_diag_set(diag, 0, 0, "%s: no data rows", r.file);
        r.status = NW_ERR_EMPTY;
        goto fail;
    }
    if (!(t = malloc(sizeof *t))) { r.status = NW_ERR_NOMEM; goto fail; }
    /* the rows' block, fitted to them: shrunk where it is, or, for a small
     * table, copied into a block of its size (the heap's), so that a small
     * table does not keep a mapping of its own (grow_rows) */
    const size_t bytes = r.rows * r.cols * sizeof(double);
    double *fitted;
    if (bytes > ROWS_FIRST / 4) {
        fitted = realloc(r.data, bytes);
    } else if ((fitted = malloc(bytes))) {
        memcpy(fitted, r.data, bytes);
        free(r.data);
    }
    t->rows = r.rows;
    t->cols = r.cols;
    t->data = fitted ? fitted : r.data;
    t->names = r.names;
    t->delimiter = delimiter;
    r.data = NULL;
    r.names = NULL;
    *table = t;

fail:
    if (parser_ready) csv_free(&parser);
    if (old_locale) uselocale(old_locale);
    if (c_locale) freelocale(c_locale);
    if (!from_stdin) fclose(fp);
    if (r.names) {
        size_t named = r.have_header ? r.cols : r.field;
        for (size_t k = 0; k < named; k++) free(r.names[k]);
        free(r.names);
    }
    free(r.data);
    return r.status;
}

void nw_table_free(nw_table *table)
{
    if (!table) return;
    for (size_t k = 0; k < table->cols; k++) free(table->names[k]);
    free(table->names);
    free(table->data);
    free(table);
}

size_t nw_table_rows(const nw_table *table) { return table ? table->rows : 0; }
size_t nw_table_cols(const nw_table *table) { return table ? table->cols : 0; }
char nw_table_delimiter(const nw_table *table) { return table ? table->delimiter : 0; }
const double *nw_table_data(const nw_table *table) { return table ? table->data : NULL; }

const char *nw_table_name(const nw_table *table, size_t col)
{
    return (table && col < table->cols) ? table->names[col] : NULL;
}

/* A column by exact name (the first of equal names), else by a 1-based
 * index written in decimal digits only. */
nw_status nw_table_find(const nw_table *table, const char *name_or_index, size_t *col)
{
    if (!table || !name_or_index || !col) return NW_ERR_ARG;
    for (size_t k = 0; k < table->cols; k++)
        if (strcmp(table->names[k], name_or_index) == 0) { *col = k; return NW_OK; }
    size_t index = 0;
    const char *s = name_or_index;
    if (!*s) return NW_ERR_ARG;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return NW_ERR_ARG;
        if (index > table->cols) return NW_ERR_ARG; /* already out of range; no overflow */
        index = 10 * index + (size_t) (*s - '0');
    }
    if (index < 1 || index > table->cols) return NW_ERR_ARG;
    *col = index - 1;
    return NW_OK;
}

/* out[i * ncols + j] = table[i][cols[j]] for every row i. */
nw_status nw_table_columns(const nw_table *table, const size_t *cols, size_t ncols, double *out)
{
    if (!table || !cols || !out) return NW_ERR_ARG;
    if (ncols == 0) return NW_ERR_EMPTY;
    for (size_t j = 0; j < ncols; j++)
        if (cols[j] >= table->cols) return NW_ERR_ARG;
    for (size_t i = 0; i < table->rows; i++)
        for (size_t j = 0; j < ncols; j++)
            out[i * ncols + j] = table->data[i * table->cols + cols[j]];
    return NW_OK;
}

/* Whether column c is among cols[0..ncols). */
static int chosen(const size_t *cols, size_t ncols, size_t c)
{
    for (size_t j = 0; j < ncols; j++)
        if (cols[j] == c) return 1;
    return 0;
}

/* Remove the chosen columns in place: each row's kept values move down to
 * the row's new start, which is never past the old one (rows shrink), so a
 * row is never overwritten before it is read; then the buffer shrinks
 * (realloc to less: glibc returns the tail of a large block's pages). */
nw_status nw_table_drop_columns(nw_table *table, const size_t *cols, size_t ncols)
{
    if (!table || (ncols > 0 && !cols)) return NW_ERR_ARG;
    for (size_t j = 0; j < ncols; j++)
        if (cols[j] >= table->cols) return NW_ERR_ARG;
    size_t keep = 0;
    for (size_t c = 0; c < table->cols; c++) keep += !chosen(cols, ncols, c);
    if (keep == table->cols) return NW_OK;
    size_t *kept = malloc((keep ? keep : 1) * sizeof *kept);
    if (!kept) return NW_ERR_NOMEM;
    keep = 0;
    for (size_t c = 0; c < table->cols; c++) {
        if (!chosen(cols, ncols, c)) kept[keep++] = c;
        else free(table->names[c]);
    }
    for (size_t k = 0; k < keep; k++) table->names[k] = table->names[kept[k]];
    for (size_t i = 0; i < table->rows; i++)
        for (size_t k = 0; k < keep; k++)   /* kept[k] >= k: in-row moves go down too */
            table->data[i * keep + k] = table->data[i * table->cols + kept[k]];
    free(kept);
    table->cols = keep;
    if (keep == 0) {
        free(table->data);
        table->data = NULL;
    } else {
        double *fitted = realloc(table->data, table->rows * keep * sizeof(double));
        if (fitted) table->data = fitted;
    }
    return NW_OK;
}

/* See internal.h.  y is copied out first (the only allocation as large as
 * the data); x is then gathered into the table's own buffer, row i to
 * i d: with d <= cols that never passes row i's old start, and row i's
 * values are read into `row` before any is written.  With d > cols
 * (repeated columns) x gets a buffer of its own. */
nw_status nw_table_split(nw_table *table, const size_t *xcols, size_t d, const size_t *ycols,
                         size_t p, double **x, double **y)
{
    const size_t n = table->rows, cols = table->cols;
    *x = *y = NULL;
    if (d == 0 || p == 0) return NW_ERR_EMPTY;
    for (size_t j = 0; j < d; j++)
        if (xcols[j] >= cols) return NW_ERR_ARG;
    for (size_t j = 0; j < p; j++)
        if (ycols[j] >= cols) return NW_ERR_ARG;
    if (n > SIZE_MAX / sizeof(double) / (d > p ? d : p)) return NW_ERR_NOMEM;
    double *yv = malloc(n * p * sizeof *yv), *row = malloc(d * sizeof *row);
    double *xv = d <= cols ? table->data : malloc(n * d * sizeof *xv);
    if (!yv || !row || !xv) {
        free(yv);
        free(row);
        if (xv != table->data) free(xv);
        return NW_ERR_NOMEM;
    }
    nw_table_columns(table, ycols, p, yv);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) row[j] = table->data[i * cols + xcols[j]];
        memcpy(xv + i * d, row, d * sizeof *row);
    }
    free(row);
    if (xv == table->data) {
        double *fitted = realloc(xv, n * d * sizeof *xv);
        if (fitted) xv = fitted;
    } else {
        free(table->data);
    }
    table->data = NULL;
    for (size_t k = 0; k < cols; k++) free(table->names[k]);
    table->cols = 0;
    *x = xv;
    *y = yv;
    return NW_OK;
}

/* ------------------------------------------------------------- writing */

/* The process's umask, read without changing it (umask() would, for every
 * thread); 022 where /proc/self/status does not say. */
static mode_t process_umask(void)
{
    unsigned mask = 022;
    char line[128];
    FILE *fp = fopen("/proc/self/status", "r");
    if (!fp) return (mode_t) mask;
    while (fgets(line, sizeof line, fp))
        if (sscanf(line, "Umask: %o", &mask) == 1) break;
    fclose(fp);
    return (mode_t) (mask & 0777);
}

/* Write a file atomically: write_fn(fp, ctx) fills a temporary file created
 * beside path, which then replaces path by rename; on any failure the
 * temporary file is removed and path is left as it was.  "-" writes to
 * stdout instead; so does a path that exists and is not a regular file (a
 * device such as /dev/null or /dev/full, a FIFO): that is written in place,
 * never replaced.  write runs in the C locale and returns NW_OK, NW_ERR_IO
 * (a stream call failed, errno set) or another status.  The new file keeps
 * the permissions of the file it replaces, else gets 0666 less the umask.
 * durable: fsync before the rename (see internal.h). */
nw_status nw_write_atomic(const char *path, nw_write_fn write_fn, void *ctx, int durable, nw_diag *diag)
{
    if (!path || !write_fn) return NW_ERR_ARG;
    int to_stdout = strcmp(path, "-") == 0, fd = -1, err = 0, closed;
    const char *file = to_stdout ? "<stdout>" : path;
    char *tmp = NULL, *iobuf = NULL;
    FILE *fp = NULL;
    struct stat st;
    int exists;
    mode_t mode;
    size_t len;
    nw_status status = NW_ERR_NOMEM;
    locale_t c_locale = newlocale(LC_ALL_MASK, "C", (locale_t) 0);
    if (!c_locale) return NW_ERR_NOMEM;
    locale_t old_locale = uselocale(c_locale);

    if (to_stdout) {
        status = write_fn(stdout, ctx);
        err = errno;
        if (status == NW_OK && (fflush(stdout) != 0 || ferror(stdout))) {
            status = NW_ERR_IO;
            err = errno;
        }
        if (status == NW_ERR_IO)
            nw_diag_set(diag, 0, 0, "%s: cannot write: %s", file, strerror(err));
        goto done;
    }
    exists = stat(path, &st) == 0;
    if (exists && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        status = NW_ERR_IO;
        if (!(fp = fopen(path, "wb"))) {
            nw_diag_set(diag, 0, 0, "%s: cannot open: %s", file, strerror(errno));
            goto done;
        }
        status = write_fn(fp, ctx);
        err = errno;
        if (status == NW_OK && (fflush(fp) != 0 || ferror(fp))) status = NW_ERR_IO, err = errno;
        if (fclose(fp) != 0 && status == NW_OK) status = NW_ERR_IO, err = errno;
        fp = NULL;
        if (status == NW_ERR_IO)
            nw_diag_set(diag, 0, 0, "%s: cannot write: %s", file, strerror(err));
        goto done;
    }
    mode = (exists && S_ISREG(st.st_mode)) ? (st.st_mode & 0777) : (0666 & ~process_umask());
    len = strlen(path);
    if (!(tmp = malloc(len + sizeof ".tmpXXXXXX"))) goto fail;
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmpXXXXXX", sizeof ".tmpXXXXXX");
    status = NW_ERR_IO;
    if ((fd = mkstemp(tmp)) < 0) {
        nw_diag_set(diag, 0, 0, "%s: cannot create a temporary file: %s", file, strerror(errno));
        free(tmp);
        tmp = NULL; /* nothing to remove */
        goto fail;
    }
    if (!(fp = fdopen(fd, "wb"))) { err = errno; goto io_fail; }
    fd = -1; /* fp owns it now */
    /* 64 KiB writes, not the block size's 4 KiB: glibc ignores setvbuf's
     * size without a buffer, so it is given one (freed after fclose) */
    if ((iobuf = malloc(WRITE_BUFFER))) setvbuf(fp, iobuf, _IOFBF, WRITE_BUFFER);
    status = write_fn(fp, ctx);
    err = errno;
    if (status != NW_OK) goto io_fail;
    status = NW_ERR_IO;
    if (fflush(fp) != 0 || ferror(fp)) { err = errno; goto io_fail; }
    if (fchmod(fileno(fp), mode) != 0 || (durable && fsync(fileno(fp)) != 0)) { err = errno; goto io_fail; }
    closed = fclose(fp);
    fp = NULL;
    if (closed != 0) { err = errno; goto io_fail; }
    if (rename(tmp, path) != 0) {
        nw_diag_set(diag, 0, 0, "%s: cannot replace: %s", file, strerror(errno));
        goto fail;
    }
    free(tmp);
    status = NW_OK;
    goto done;

io_fail:
    if (status == NW_ERR_IO) nw_diag_set(diag, 0, 0, "%s: cannot write: %s", file, strerror(err));
fail:
    if (fp) fclose(fp);
    if (fd >= 0) close(fd);
    if (tmp) { unlink(tmp); free(tmp); }
done:
    free(iobuf); /* after fclose: the stream used it to the end */
    uselocale(old_locale);
    freelocale(c_locale);
    return status;
}

/* What write_csv writes: column j of row i is col[j][i * stride[j]]. */
typedef struct csv_source {
    const char *const *names;
    const double *const *col;
    const size_t *stride;
    size_t rows, cols;
    int digits; /* significant digits, 0 = the shortest exact form */
} csv_source;

/* Write one header name, quoted (by libcsv) where a reader would otherwise
 * split, trim or skip it: a tab or semicolon outside quotes would make the
 * reader take it for the delimiter, a leading UTF-8 BOM for the file's. */
static int write_name(FILE *fp, const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || strpbrk(name, ",;\t\"\r\n") || name[0] == ' ' || name[0] == '\t'
        || name[len - 1] == ' ' || name[len - 1] == '\t' || strncmp(name, "\xEF\xBB\xBF", 3) == 0)
        return csv_fwrite(fp, name, len) == 0 ? 0 : -1;
    return fputs(name, fp) == EOF ? -1 : 0;
}

/* nw_write_fn for nw_csv_write. */
static nw_status write_csv(FILE *fp, void *ctx)
{
    const csv_source *src = ctx;
    if (src->names) {
        for (size_t j = 0; j < src->cols; j++) {
            if (j > 0 && putc(',', fp) == EOF) return NW_ERR_IO;
            if (write_name(fp, src->names[j] ? src->names[j] : "") != 0) return NW_ERR_IO;
        }
        if (putc('\n', fp) == EOF) return NW_ERR_IO;
    }
    /* Rows are formatted into a block of WRITE_BLOCK bytes or more, and a
     * block is written with one fwrite once it may not hold another row.
     * A number takes at most 24 bytes (the shortest form, or %.17g, of a
     * finite double: "-2.2250738585072014e-308") and its NUL, and its
     * formatter may write anywhere in the NW_DTOA_SIZE (32) bytes from
     * where it starts; with the comma, or the row's newline, 32 bytes a
     * column are enough for any row, and no write passes that. */
    if (src->cols > SIZE_MAX / NW_DTOA_SIZE) return NW_ERR_NOMEM;
    const size_t row_max = src->cols * NW_DTOA_SIZE;
    const size_t size = row_max > WRITE_BLOCK ? row_max : WRITE_BLOCK;
    char *block = malloc(size), *o = block;
    if (!block) return NW_ERR_NOMEM;
    nw_status status = NW_OK;
    for (size_t i = 0; i < src->rows && status == NW_OK; i++) {
        for (size_t j = 0; j < src->cols; j++) {
            double v = src->col[j][i * src->stride[j]];
            if (j > 0) *o++ = ',';
            if (src->digits > 0 && isfinite(v))
                o += snprintf(o, NW_DTOA_SIZE, "%.*g", src->digits, v);
            else
                o += nw_dtoa_shortest(o, v);
        }
        *o++ = '\n';
        if ((size_t) (block + size - o) < row_max || i + 1 == src->rows) {
            size_t len = (size_t) (o - block);
            if (fwrite(block, 1, len, fp) != len) status = NW_ERR_IO;
            o = block;
        }
    }
    int err = errno; /* what the caller reports on NW_ERR_IO */
    free(block);
    errno = err;
    return status;
}

/* Write rows x cols doubles as CSV (shortest exact form, C locale; NaN and
 * infinities as nan, inf, -inf), with a header row when names is not NULL; atomically. */
nw_status nw_csv_write(const char *path, const char *const *names, const double *data,
                       size_t rows, size_t cols, nw_diag *diag)
{
    return nw_csv_write_digits(path, names, data, rows, cols, 0, diag);
}

/* As nw_csv_write, finite numbers with `digits` significant digits (%.*g)
 * when digits is 1..17, the shortest exact form when it is 0. */
nw_status nw_csv_write_digits(const char *path, const char *const *names, const double *data,
                              size_t rows, size_t cols, int digits, nw_diag *diag)
{
    if (!path || (rows > 0 && !data) || digits < 0 || digits > 17) return NW_ERR_ARG;
    if (cols == 0) return NW_ERR_EMPTY;
    if (cols > SIZE_MAX / (sizeof(double *) + sizeof(size_t))) return NW_ERR_NOMEM;
    const double **col = malloc(cols * sizeof *col);
    size_t *stride = malloc(cols * sizeof *stride);
    nw_status status = NW_ERR_NOMEM;
    if (col && stride) {
        for (size_t j = 0; j < cols; j++) {
            col[j] = data ? data + j : NULL;
            stride[j] = cols;
        }
        csv_source src = { names, col, stride, rows, cols, digits };
        status = nw_write_atomic(path, write_csv, &src, 0, diag);
    }
    free(col);
    free(stride);
    return status;
}

/* As nw_csv_write_digits, column j of row i from col[j][i * stride[j]]:
 * columns of several arrays written side by side without joining them. */
nw_status nw_csv_write_columns(const char *path, const char *const *names,
                               const double *const *col, const size_t *stride, size_t rows,
                               size_t cols, int digits, nw_diag *diag)
{
    if (!path || digits < 0 || digits > 17) return NW_ERR_ARG;
    if (cols == 0) return NW_ERR_EMPTY;
    if (rows > 0 && (!col || !stride)) return NW_ERR_ARG;
    for (size_t j = 0; j < cols && rows > 0; j++)
        if (!col[j]) return NW_ERR_ARG;
    csv_source src = { names, col, stride, rows, cols, digits };
    return nw_write_atomic(path, write_csv, &src, 0, diag);
}
