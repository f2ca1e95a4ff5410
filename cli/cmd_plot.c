/*
 * cmd_plot.c: `nwreg plot FIGURE ...`: figures drawn from files.
 *
 *   plot fit MODEL      the fit over a fine grid with the points (and the
 *                       truth) for one input; a heatmap of the fitted
 *                       surface with the points on it for two
 *   plot weights MODEL QUERIES   the attention matrix (nw_attention)
 *   plot cv MODEL [DATA] | CV.csv  a criterion over bandwidths: computed
 *                       for the model's kernel and estimator, or read from
 *                       what `nwreg cv` printed; a curve (one input) or
 *                       contours (two)
 *   plot loss LOG       loss per epoch, from what `nwreg train` printed (or
 *                       any CSV with a column named loss)
 *
 * The drawing is cli/plot.c's; this file reads the inputs, computes what is
 * drawn, and maps failures to exit statuses: 2 for a usage error or an input
 * that cannot be used (missing, malformed, wrong shape), 1 for anything
 * else (the output cannot be written, out of memory).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L   /* mkstemp, fdopen */
#endif
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static const char usage[] =
    "usage: nwreg plot fit MODEL.json [--data CSV] [--truth CSV] -o FILE [options]\n"
    "       nwreg plot weights MODEL.json QUERIES.csv -o FILE [options]\n"
    "       nwreg plot cv MODEL.json [DATA.csv] -o FILE [options]\n"
    "       nwreg plot cv CV.csv -o FILE [options]\n"
    "       nwreg plot loss TRAIN.log -o FILE [options]\n"
    "\n"
    "Draw a figure from files into FILE (PNG, SVG or PDF by its extension).\n"
    "\n"
    "  fit      one input: the model's prediction over a fine grid (dashed),\n"
    "           the points (the model's training data, or --data) and the\n"
    "           truth (--truth); two inputs: the fitted surface as a heatmap\n"
    "           with the points drawn in the colour of their values\n"
    "  weights  the attention matrix: each query's normalised kernel weights\n"
    "           over the training points (one input: both sorted by x)\n"
    "  cv       a bandwidth criterion over a log-spaced grid with its optimum:\n"
    "           computed for MODEL's kernel and estimator on its training data\n"
    "           (or on DATA.csv), or read from the CSV `nwreg cv` prints\n"
    "           (h,criterion or h1,h2,criterion and '# optimum' line); one\n"
    "           input: a curve, two: contours\n"
    "  loss     the loss per epoch from what `nwreg train` prints (lines\n"
    "           'epoch E loss L ...'), or from a CSV with a column named loss\n"
    "\n"
    "Files may be - for stdin (one of them).\n"
    "\n"
    "options:\n"
    "  -o FILE            the figure (required); .png, .svg or .pdf\n"
    "  --format F         png, svg or pdf, whatever FILE's extension\n"
    "  --width N          page width: pixels for PNG, points for SVG and PDF\n"
    "                     (200 to 10000, default 800)\n"
    "  --height N         page height (200 to 10000, default 600)\n"
    "  --title TEXT       title (default: what is drawn; '' for none)\n"
    "  --xlabel TEXT      label of the horizontal axis\n"
    "  --ylabel TEXT      label of the vertical axis\n"
    "fit:\n"
    "  --data CSV         points to draw instead of the training data, read by\n"
    "                     the model's column names\n"
    "  --truth CSV        the truth as a line (one input): the model's input\n"
    "                     column and y_truth (else truth, else the output's\n"
    "                     name, else the last column); `nwreg gen --grid` writes one\n"
    "  --y COL            the output to draw when the model has several: a name\n"
    "                     or a 1-based index (default the first)\n"
    "  --grid N           grid points (default 400 for one input, 150 x 150\n"
    "                     for two)\n"
    "cv (from a model):\n"
    "  --criterion C      loo (leave-one-out CV) or aicc (default loo)\n"
    "  --grid N           grid points per input (default 60 for one input,\n"
    "                     30 for two)\n"
    "  --hmin H[,H]       smallest bandwidth (default 0.05 x Scott's rule)\n"
    "  --hmax H[,H]       largest bandwidth (default 20 x Scott's rule)\n"
    "  -h, --help         show this help\n";

static void print_help(void)
{
    fputs(usage, stdout);
    fputs(io_opts_help, stdout);
    fputs(engine_opts_help, stdout);
}

/* Long-option ids of this file (common.h's end well below). */
enum {
    P_WIDTH = 1000, P_HEIGHT, P_TITLE, P_XLABEL, P_YLABEL, P_DATA, P_TRUTH, P_Y,
    P_GRID, P_CRITERION, P_HMIN, P_HMAX, P_FORMAT
};

/* Upper bounds that keep a figure's arrays in reason. */
enum { MAX_GRID_1D = 100000, MAX_GRID_2D = 2000 };
#define MAX_CELLS 50000000.0  /* attention entries (400 MB of doubles) */

typedef enum figure { FIG_FIT, FIG_WEIGHTS, FIG_CV, FIG_LOSS, FIG_COUNT } figure;
static const char *const figure_name[FIG_COUNT] = { "fit", "weights", "cv", "loss" };

/* Everything the options say. */
typedef struct plot_args {
    figure fig;
    const char *cmd;            /* "plot fit", ... for messages */
    const char *out, *format;
    plot_format fmt;
    plot_style style;
    const char *data, *truth, *ycol;
    size_t grid;                /* 0: the figure's default */
    nw_criterion crit;
    double *hmin, *hmax;
    size_t n_hmin, n_hmax;
    const char *operand[2];
    int n_operands;
} plot_args;

/* ------------------------------------------------------------- reading */

/* The whole of `path` ("-": stdin) as a NUL-terminated string in *text. */
static int slurp(const char *path, char **text, size_t *len)
{
    int is_stdin = strcmp(path, "-") == 0;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    size_t cap = 1 << 16, n = 0;
    char *buf = NULL;
    if (!fp) return cli_bad_input("%s: cannot open: %s", path, strerror(errno));
    if (!(buf = malloc(cap))) goto nomem;
    for (;;) {
        if (n + 1 == cap) {
            char *bigger = cap > ((size_t) -1) / 2 ? NULL : realloc(buf, cap * 2);
            if (!bigger) goto nomem;
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, fp);
        n += got;
        if (got == 0) break;
    }
    if (ferror(fp)) {
        int e = errno;
        if (!is_stdin) fclose(fp);
        free(buf);
        return cli_bad_input("%s: cannot read: %s", path, strerror(e));
    }
    if (!is_stdin) fclose(fp);
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
nomem:
    if (!is_stdin) fclose(fp);
    free(buf);
    return cli_error("%s: out of memory", path);
}

/* A CSV table read with the --delim/--comment settings; "-" is stdin. */
static int table_read(const char *path, nw_table **table)
{
    return cli_table_read(path, table);
}

/* A CSV table from text already read from `path` (slurp), with the
 * --delim setting and lines starting with --comment's character (default
 * '#': `nwreg cv` ends with a '# optimum' line) skipped.  A file is read
 * again by name; stdin's bytes are spooled to a temporary file, and
 * messages name "-" rather than it. */
static int table_from(const char *path, const char *text, size_t len, nw_table **table)
{
    nw_table_read_opts opts = cli.csv;
    nw_diag diag = { { 0 }, 0, 0 };
    nw_status st;
    if (!opts.comment && opts.delimiter != '#') opts.comment = '#';
    if (strcmp(path, "-") != 0) {
        st = nw_table_read_with(path, &opts, table, &diag);
        return st ? cli_input_error(st, &diag, path) : 0;
    }
    const char *dir = getenv("TMPDIR");
    char name[4096];
    snprintf(name, sizeof name, "%s/nwreg-plot.XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(name);
    FILE *fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!fp) {
        if (fd >= 0) { close(fd); unlink(name); }
        return cli_error("cannot spool stdin to %s: %s", name, strerror(errno));
    }
    int bad = fwrite(text, 1, len, fp) != len;
    bad |= fclose(fp) != 0;
    if (bad) {
        unlink(name);
        return cli_error("cannot spool stdin to %s", name);
    }
    st = nw_table_read_with(name, &opts, table, &diag);
    unlink(name);
    if (st) {
        size_t nl = strlen(name);
        if (strncmp(diag.message, name, nl) == 0) {   /* "TMP:3: ..." -> "-:3: ..." */
            char msg[sizeof diag.message];
            snprintf(msg, sizeof msg, "-%s", diag.message + nl);
            memcpy(diag.message, msg, sizeof msg);
        }
        return cli_input_error(st, &diag, "-");
    }
    return 0;
}

/* A model file. */
static int load_model(const char *path, nw_model **model)
{
    nw_diag diag = { { 0 }, 0, 0 };
    nw_status st = nw_model_load(model, path, &diag);
    if (st) return cli_input_error(st, &diag, path);
    return cli_apply_engine(*model, path);
}

/* The model's name for input k / output c, or x, x1.. / y, y1.. if unnamed. */
static const char *x_name(const nw_model *model, size_t k, char buf[32])
{
    const char *s = nw_model_x_name(model, k);
    if (s) return s;
    if (nw_model_d(model) == 1) return "x";
    snprintf(buf, 32, "x%zu", k + 1);
    return buf;
}

static const char *y_name(const nw_model *model, size_t c, char buf[32])
{
    const char *s = nw_model_y_name(model, c);
    if (s) return s;
    if (nw_model_p(model) == 1) return "y";
    snprintf(buf, 32, "y%zu", c + 1);
    return buf;
}

/* The column of `table` named `name`, by name only; (size_t)-1 if none. */
static size_t column_named(const nw_table *table, const char *name)
{
    for (size_t c = 0; c < nw_table_cols(table); c++)
        if (strcmp(nw_table_name(table, c), name) == 0) return c;
    return (size_t) -1;
}

/* Columns `cols` of a table (rows x count, malloc'd). */
static int take_columns(const nw_table *table, const char *path, const size_t *cols,
                        size_t count, double **out)
{
    size_t rows = nw_table_rows(table);
    double *v = malloc(rows * count * sizeof *v);
    if (!v) return cli_error("%s: out of memory", path);
    nw_status st = nw_table_columns(table, cols, count, v);
    if (st) {
        free(v);
        return cli_input_error(st, NULL, path);
    }
    *out = v;
    return 0;
}

/* A short description of the model's bandwidths: "h = 0.25" or
 * "h = (0.25, 1.3)". */
static void describe_h(const nw_model *model, char *buf, size_t len)
{
    double h[8];
    size_t d = nw_model_d(model);
    if (d > 8 || nw_model_bandwidth(model, h) != NW_OK) {
        snprintf(buf, len, "%zu bandwidths", d);
        return;
    }
    int k = snprintf(buf, len, d == 1 ? "h = " : "h = (");
    for (size_t j = 0; j < d && k > 0 && (size_t) k < len; j++)
        k += snprintf(buf + k, len - (size_t) k, "%s%.3g", j ? ", " : "", h[j]);
    if (d > 1 && k > 0 && (size_t) k < len) snprintf(buf + k, len - (size_t) k, ")");
}

/* Reports a failed drawing (the output could not be made): EXIT_FAIL. */
static int drawn(int bad, const char *err)
{
    return bad ? cli_error("%s", err) : 0;
}

/* ------------------------------------------------------------------ fit */

typedef struct xy { double x, y; } xy;

static int cmp_xy(const void *a, const void *b)
{
    double u = ((const xy *) a)->x, v = ((const xy *) b)->x;
    return (u > v) - (u < v);
}

/* Minimum and maximum over finite values, folded into *lo, *hi. */
static void fold(const double *v, size_t n, size_t stride, double *lo, double *hi)
{
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i * stride])) *lo = fmin(*lo, v[i * stride]), *hi = fmax(*hi, v[i * stride]);
}

/* The output column to draw: --y (a name, else a 1-based index). */
static int pick_output(const plot_args *a, const nw_model *model, size_t *c)
{
    size_t p = nw_model_p(model);
    *c = 0;
    if (!a->ycol) return 0;
    for (size_t j = 0; j < p; j++) {
        const char *s = nw_model_y_name(model, j);
        if (s && strcmp(s, a->ycol) == 0) { *c = j; return 0; }
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(a->ycol, &end, 10);
    if (*a->ycol >= '0' && *a->ycol <= '9' && !*end && !errno && v >= 1 && v <= p) {
        *c = (size_t) v - 1;
        return 0;
    }
    return cli_usage_error(a->cmd, "--y '%s': the model has no such output (%zu output%s)", a->ycol,
                           p, p == 1 ? "" : "s");
}

/* The points to draw: the model's training data, or --data read by the
 * model's names.  *px is n x d, *pv n values (output c). */
static int fit_points(const plot_args *a, const nw_model *model, size_t c,
                      double **px, double **pv, size_t *n)
{
    size_t d = nw_model_d(model), p = nw_model_p(model);
    char buf[32];
    if (!a->data) {
        size_t m = nw_model_n(model);
        const double *x = nw_model_x(model), *y = nw_model_y(model);
        *px = malloc(m * d * sizeof **px);
        *pv = malloc(m * sizeof **pv);
        if (!*px || !*pv) return cli_error("out of memory");
        memcpy(*px, x, m * d * sizeof **px);
        for (size_t i = 0; i < m; i++) (*pv)[i] = y[i * p + c];
        *n = m;
        return 0;
    }
    nw_table *t = NULL;
    size_t *cols = NULL;
    int rc;
    if ((rc = table_read(a->data, &t))) goto done;
    if (!(cols = malloc((d + 1) * sizeof *cols))) { rc = cli_error("out of memory"); goto done; }
    for (size_t k = 0; k <= d; k++) {
        const char *name = k < d ? x_name(model, k, buf) : y_name(model, c, buf);
        if ((cols[k] = column_named(t, name)) == (size_t) -1) {
            rc = cli_bad_input("%s: no column '%s' (%s of the model)", a->data, name,
                             k < d ? "an input" : "the output");
            goto done;
        }
    }
    double *both = NULL;
    if ((rc = take_columns(t, a->data, cols, d + 1, &both))) goto done;
    *n = nw_table_rows(t);
    *px = malloc(*n * d * sizeof **px);
    *pv = malloc(*n * sizeof **pv);
    if (!*px || !*pv) { free(both); rc = cli_error("out of memory"); goto done; }
    for (size_t i = 0; i < *n; i++) {
        memcpy(*px + i * d, both + i * (d + 1), d * sizeof **px);
        (*pv)[i] = both[i * (d + 1) + d];
    }
    free(both);
done:
    free(cols);
    nw_table_free(t);
    return rc;
}

/* --truth: (x, truth) pairs sorted by x, as two malloc'd arrays. */
static int fit_truth(const plot_args *a, const nw_model *model, size_t c,
                     double **tx, double **ty, size_t *n)
{
    nw_table *t = NULL;
    char buf[32];
    size_t cols[2];
    double *v = NULL;
    xy *pairs = NULL;
    int rc;
    if ((rc = table_read(a->truth, &t))) goto done;
    const char *xn = x_name(model, 0, buf);
    if ((cols[0] = column_named(t, xn)) == (size_t) -1) {
        rc = cli_bad_input("%s: no column '%s' (the model's input)", a->truth, xn);
        goto done;
    }
    const char *cands[3] = { "y_truth", "truth", y_name(model, c, buf) };
    cols[1] = (size_t) -1;
    for (int i = 0; i < 3 && cols[1] == (size_t) -1; i++) {
        cols[1] = column_named(t, cands[i]);
        if (cols[1] == cols[0]) cols[1] = (size_t) -1;
    }
    if (cols[1] == (size_t) -1) {
        if (nw_table_cols(t) < 2 || nw_table_cols(t) - 1 == cols[0]) {
            rc = cli_bad_input("%s: no truth column (y_truth, truth, or a last column besides '%s')",
                             a->truth, xn);
            goto done;
        }
        cols[1] = nw_table_cols(t) - 1;
    }
    if ((rc = take_columns(t, a->truth, cols, 2, &v))) goto done;
    *n = nw_table_rows(t);
    pairs = malloc(*n * sizeof *pairs);
    *tx = malloc(*n * sizeof **tx);
    *ty = malloc(*n * sizeof **ty);
    if (!pairs || !*tx || !*ty) { rc = cli_error("out of memory"); goto done; }
    for (size_t i = 0; i < *n; i++) pairs[i] = (xy) { v[2 * i], v[2 * i + 1] };
    qsort(pairs, *n, sizeof *pairs, cmp_xy);
    for (size_t i = 0; i < *n; i++) (*tx)[i] = pairs[i].x, (*ty)[i] = pairs[i].y;
done:
    free(pairs);
    free(v);
    nw_table_free(t);
    return rc;
}

/* Predictions of output c at m queries q (m x d) into out (m values), with
 * a progress bar (unless --quiet) and, with --verbose, the engine's report. */
static int predict_output(const plot_args *a, nw_model *model, const double *q, size_t m,
                          size_t c, double *out)
{
    size_t p = nw_model_p(model);
    double *yhat = p == 1 ? out : malloc(m * p * sizeof *yhat);
    if (!yhat) return cli_error("out of memory");
    progress bar;
    nw_run_info run;
    progress_start(&bar, "predict", cli.quiet);
    nw_model_set_progress(model, progress_cb, &bar);
    nw_status st = nw_predict_info(model, q, m, yhat, NULL, &run);
    progress_end(&bar);
    nw_model_set_progress(model, NULL, NULL);
    if (st == NW_OK && p > 1)
        for (size_t j = 0; j < m; j++) out[j] = yhat[j * p + c];
    if (p > 1) free(yhat);
    if (st) return cli_lib_error(st, NULL, "prediction failed");
    cli_report_run(a->cmd, &run);
    return 0;
}

static int run_fit(const plot_args *a)
{
    nw_model *model = NULL;
    double *px = NULL, *pv = NULL, *tx = NULL, *ty = NULL, *grid = NULL, *q = NULL, *pred = NULL;
    size_t n = 0, nt = 0, c;
    char err[512], title[512], hdesc[128], buf[32], buf2[32];
    int rc;
    if ((rc = load_model(a->operand[0], &model)) || (rc = pick_output(a, model, &c))) goto done;
    const size_t d = nw_model_d(model);
    if (d > 2) {
        rc = cli_bad_input("%s: %zu inputs: plot fit draws models with one or two inputs",
                         a->operand[0], d);
        goto done;
    }
    if (a->truth && d != 1) {
        rc = cli_usage_error(a->cmd, "--truth is drawn for models with one input only");
        goto done;
    }
    if ((rc = fit_points(a, model, c, &px, &pv, &n))) goto done;
    if (a->truth && (rc = fit_truth(a, model, c, &tx, &ty, &nt))) goto done;
    describe_h(model, hdesc, sizeof hdesc);
    snprintf(title, sizeof title, "%s kernel, %s, %s", nw_kernel_name(nw_model_kernel(model)),
             nw_estimator_name(nw_model_estimator(model)), hdesc);
    title[0] = (char) toupper((unsigned char) title[0]);   /* "Gaussian kernel, ..." */
    plot_style style = a->style;
    if (!style.title) style.title = title;

    /* the inputs' extent: training data, drawn points and truth */
    const double *xt = nw_model_x(model);
    double lo[2] = { INFINITY, INFINITY }, hi[2] = { -INFINITY, -INFINITY };
    for (size_t k = 0; k < d; k++) {
        fold(xt + k, nw_model_n(model), d, &lo[k], &hi[k]);
        fold(px + k, n, d, &lo[k], &hi[k]);
    }
    if (tx) fold(tx, nt, 1, &lo[0], &hi[0]);
    for (size_t k = 0; k < d; k++)
        if (!(lo[k] < hi[k])) {   /* one distinct value: a unit around it */
            lo[k] -= 0.5;
            hi[k] += 0.5;
        }

    if (d == 1) {
        size_t m = a->grid ? a->grid : 400;
        if (!(grid = malloc(m * sizeof *grid)) || !(pred = malloc(m * sizeof *pred))) {
            rc = cli_error("out of memory");
            goto done;
        }
        double pad = 0.02 * (hi[0] - lo[0]);   /* so that end points show whole */
        lo[0] -= pad, hi[0] += pad;
        for (size_t j = 0; j < m; j++) grid[j] = lo[0] + (hi[0] - lo[0]) * (double) j / (double) (m - 1);
        if ((rc = predict_output(a, model, grid, m, c, pred))) goto done;
        double ylo = INFINITY, yhi = -INFINITY;
        fold(pred, m, 1, &ylo, &yhi);
        fold(pv, n, 1, &ylo, &yhi);
        if (ty) fold(ty, nt, 1, &ylo, &yhi);
        if (!(ylo <= yhi)) ylo = 0, yhi = 1;
        if (!(ylo < yhi)) ylo -= 0.5, yhi += 0.5;
        double margin = 0.05 * (yhi - ylo);
        if (!style.xlabel) style.xlabel = x_name(model, 0, buf);
        if (!style.ylabel) style.ylabel = y_name(model, c, buf2);
        rc = drawn(plot_fit_styled(a->out, a->fmt, &style, grid, pred, m, tx, ty, nt, px, pv, n,
                                   lo[0], hi[0], ylo - margin, yhi + margin, err, sizeof err), err);
        goto done;
    }

    /* two inputs: a k x k grid, x1 slowest, over the extent plus 2% */
    size_t k = a->grid ? a->grid : 150;
    if (k > MAX_GRID_2D) {
        rc = cli_usage_error(a->cmd, "--grid %zu: at most %d per input for two inputs", k, MAX_GRID_2D);
        goto done;
    }
    if (!(grid = malloc(2 * k * sizeof *grid)) || !(q = malloc(k * k * 2 * sizeof *q)) ||
        !(pred = malloc(k * k * sizeof *pred))) {
        rc = cli_error("out of memory");
        goto done;
    }
    for (size_t j = 0; j < 2; j++) {
        double pad = 0.02 * (hi[j] - lo[j]);
        for (size_t i = 0; i < k; i++)
            grid[j * k + i] = lo[j] - pad + (hi[j] - lo[j] + 2 * pad) * (double) i / (double) (k - 1);
    }
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++)
            q[2 * (i * k + j)] = grid[i], q[2 * (i * k + j) + 1] = grid[k + j];
    if ((rc = predict_output(a, model, q, k * k, c, pred))) goto done;
    double *p1 = q, *p2 = q + n;          /* reuse q for the points' columns */
    if (n > k * k) {
        free(q);
        if (!(q = malloc(2 * n * sizeof *q))) { rc = cli_error("out of memory"); goto done; }
        p1 = q, p2 = q + n;
    }
    for (size_t i = 0; i < n; i++) p1[i] = px[2 * i], p2[i] = px[2 * i + 1];
    char zlabel[128];
    snprintf(zlabel, sizeof zlabel, "%s", y_name(model, c, buf));
    if (!style.xlabel) style.xlabel = x_name(model, 0, buf);
    if (!style.ylabel) style.ylabel = x_name(model, 1, buf2);
    rc = drawn(plot_surface(a->out, a->fmt, &style, grid, k, grid + k, k, pred, zlabel,
                            p1, p2, pv, n, err, sizeof err), err);
done:
    free(px);
    free(pv);
    free(tx);
    free(ty);
    free(grid);
    free(q);
    free(pred);
    nw_model_free(model);
    return rc;
}

/* -------------------------------------------------------------- weights */

/* More cells than this per axis would be smaller than a pixel of the
 * default page: the matrix is then binned. */
enum { MAX_HEAT = 500 };

/* Bin an m x n attention matrix w to at most MAX_HEAT x MAX_HEAT cells:
 * keys (columns) in runs of kb, summed (a row still sums to 1: the weight
 * of those training points together), queries (rows) in runs of qb,
 * averaged over the queries whose row is not NaN (NaN if none is).
 * *out is malloc'd, *rows x *cols. */
static int bin_weights(const double *w, size_t m, size_t n, size_t qb, size_t kb,
                       double **out, size_t *rows, size_t *cols)
{
    const size_t nr = (m + qb - 1) / qb, nc = (n + kb - 1) / kb;
    double *b = calloc(nr * nc, sizeof *b);
    size_t *count = calloc(nr, sizeof *count);
    if (!b || !count) {
        free(b);
        free(count);
        return cli_error("out of memory");
    }
    for (size_t j = 0; j < m; j++) {
        const double *row = w + j * n;
        if (isnan(row[0])) continue;          /* an empty neighbourhood: all NaN */
        count[j / qb]++;
        for (size_t i = 0; i < n; i++) b[(j / qb) * nc + i / kb] += row[i];
    }
    for (size_t r = 0; r < nr; r++)
        for (size_t c = 0; c < nc; c++)
            b[r * nc + c] = count[r] ? b[r * nc + c] / (double) count[r] : NAN;
    free(count);
    *out = b;
    *rows = nr;
    *cols = nc;
    return 0;
}

typedef struct keyed { double key; size_t index; } keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *u = a, *v = b;
    if (u->key != v->key) return (u->key > v->key) - (u->key < v->key);
    return (u->index > v->index) - (u->index < v->index);   /* stable */
}

/* order[i]: the index of the i-th smallest of v[0], v[stride], ... (n). */
static int sort_order(const double *v, size_t n, size_t stride, size_t *order)
{
    keyed *k = malloc(n * sizeof *k);
    if (!k) return cli_error("out of memory");
    for (size_t i = 0; i < n; i++) k[i] = (keyed) { v[i * stride], i };
    qsort(k, n, sizeof *k, cmp_keyed);
    for (size_t i = 0; i < n; i++) order[i] = k[i].index;
    free(k);
    return 0;
}

static int run_weights(const plot_args *a)
{
    nw_model *model = NULL;
    nw_table *t = NULL;
    char err[512], title[512], hdesc[128], buf[32];
    double *q = NULL, *w = NULL, *sorted = NULL, *binned = NULL;
    size_t *cols = NULL, *qo = NULL, *ko = NULL;
    const char *qpath = a->operand[1];
    int rc;
    if ((rc = load_model(a->operand[0], &model))) goto done;
    const size_t n = nw_model_n(model), d = nw_model_d(model);
    if ((rc = table_read(qpath, &t))) goto done;
    const size_t m = nw_table_rows(t);
    if (!(cols = malloc(d * sizeof *cols))) { rc = cli_error("out of memory"); goto done; }
    for (size_t k = 0; k < d; k++)
        if ((cols[k] = column_named(t, x_name(model, k, buf))) == (size_t) -1) {
            rc = cli_bad_input("%s: no column '%s' (an input of the model)", qpath, x_name(model, k, buf));
            goto done;
        }
    if ((rc = take_columns(t, qpath, cols, d, &q))) goto done;
    if ((double) m * (double) n > MAX_CELLS) {
        rc = cli_bad_input("%s: %zu queries x %zu training points is too many weights to draw "
                         "(at most %.0f)", qpath, m, n, MAX_CELLS);
        goto done;
    }
    if (!(w = malloc(m * n * sizeof *w))) { rc = cli_error("out of memory"); goto done; }
    progress bar;
    progress_start(&bar, "attention", cli.quiet);
    nw_model_set_progress(model, progress_cb, &bar);
    double t0 = cli_now();
    nw_status st = nw_attention(model, q, m, w);
    progress_end(&bar);
    nw_model_set_progress(model, NULL, NULL);
    if (st) { rc = cli_lib_error(st, NULL, "attention failed"); goto done; }
    cli_verbose("%s: attention matrix %zu x %zu in %.3g s", a->cmd, m, n, cli_now() - t0);

    plot_style style = a->style;
    describe_h(model, hdesc, sizeof hdesc);
    snprintf(title, sizeof title, "Attention weights, %s kernel, %s",
             nw_kernel_name(nw_model_kernel(model)), hdesc);
    if (!style.title) style.title = title;
    const double *draw = w;
    const char *xdefault = "Sorted training inputs", *ydefault = "Sorted testing inputs";
    if (d == 1) {   /* both sorted by x, so that the weights make a band */
        qo = malloc(m * sizeof *qo);
        ko = malloc(n * sizeof *ko);
        sorted = malloc(m * n * sizeof *sorted);
        if (!qo || !ko || !sorted) { rc = cli_error("out of memory"); goto done; }
        if ((rc = sort_order(q, m, 1, qo)) || (rc = sort_order(nw_model_x(model), n, 1, ko))) goto done;
        for (size_t j = 0; j < m; j++)
            for (size_t i = 0; i < n; i++) sorted[j * n + i] = w[qo[j] * n + ko[i]];
        draw = sorted;
    } else {
        xdefault = "training point (model order)";
        ydefault = "query (file order)";
    }
    /* too many cells to see: bins of kb keys (summed) by qb queries (averaged) */
    size_t kb = (n + MAX_HEAT - 1) / MAX_HEAT, qb = (m + MAX_HEAT - 1) / MAX_HEAT, nrow = m, ncol = n;
    char xl[160], yl[160];
    if (kb > 1 || qb > 1) {
        if ((rc = bin_weights(draw, m, n, qb, kb, &binned, &nrow, &ncol))) goto done;
        draw = binned;
        snprintf(xl, sizeof xl, kb > 1 ? "%s, summed in bins of %zu" : "%s", xdefault, kb);
        snprintf(yl, sizeof yl, qb > 1 ? "%s, averaged in bins of %zu" : "%s", ydefault, qb);
        xdefault = xl, ydefault = yl;
    }
    if (!style.xlabel) style.xlabel = xdefault;
    if (!style.ylabel) style.ylabel = ydefault;
    rc = drawn(plot_heatmap_styled(a->out, a->fmt, &style, draw, nrow, ncol, m, n, err, sizeof err), err);
done:
    free(cols);
    free(q);
    free(w);
    free(sorted);
    free(binned);
    free(qo);
    free(ko);
    nw_table_free(t);
    nw_model_free(model);
    return rc;
}

/* ------------------------------------------------------------------- cv */

/* The criterion of `model` over a log grid and its optimum (as `nwreg cv`
 * computes them), drawn. */
static int cv_from_model(const plot_args *a, nw_model *model, const char *source)
{
    const size_t d = nw_model_d(model);
    char err[512], title[512], xl[256], yl[256], buf[32];
    int rc = 0;
    if (d > 2) return cli_bad_input("%s: %zu inputs: plot cv draws one or two (use nwreg fit --select)",
                                  source, d);
    size_t k = a->grid ? a->grid : d == 1 ? 60 : 30;
    if (d == 2 && k > MAX_GRID_2D)
        return cli_usage_error(a->cmd, "--grid %zu: at most %d per input for two inputs", k, MAX_GRID_2D);
    cv_grid cv;
    if ((rc = cv_grid_compute(model, a->crit, k, a->cmd, source, a->hmin, a->n_hmin, a->hmax,
                               a->n_hmax, &cv)))
        return rc;
    const double *grid = cv.grid, *value = cv.value, *hopt = cv.hopt;
    plot_style style = a->style;
    snprintf(title, sizeof title, "%s, %s kernel, %s", a->crit == NW_CRITERION_LOO ? "LOO CV" : "AICc",
             nw_kernel_name(nw_model_kernel(model)), nw_estimator_name(nw_model_estimator(model)));
    if (!style.title) style.title = title;
    if (d == 1) {
        if (!style.ylabel)
            style.ylabel = a->crit == NW_CRITERION_LOO ? "LOO cross-validation (mean squared error)" : "AICc";
        rc = drawn(plot_curve_styled(a->out, a->fmt, &style, grid, value, k, hopt[0], cv.best.value,
                                     err, sizeof err), err);
    } else {
        snprintf(xl, sizeof xl, "bandwidth h1 of %s (log scale)", x_name(model, 0, buf));
        snprintf(yl, sizeof yl, "bandwidth h2 of %s (log scale)", x_name(model, 1, buf));
        if (!style.xlabel) style.xlabel = xl;
        if (!style.ylabel) style.ylabel = yl;
        rc = drawn(plot_contour_styled(a->out, a->fmt, &style, grid, k, grid + k, k, value,
                                       hopt[0], hopt[1], err, sizeof err), err);
    }
    cv_grid_free(&cv);
    return rc;
}

/* The optimum from `nwreg cv`'s last line "# optimum h=H[,H2] criterion=V";
 * 0 if there is none. */
static int cv_optimum(const char *text, double h[2], size_t d, double *v)
{
    const char *line = text;
    while (line && *line) {
        if (strncmp(line, "# optimum h=", 12) == 0) {
            char *end;
            h[0] = strtod(line + 12, &end);
            if (d == 2) {
                if (*end != ',') return 0;
                h[1] = strtod(end + 1, &end);
            }
            if (strncmp(end, " criterion=", 11) != 0) return 0;
            *v = strtod(end + 11, &end);
            return h[0] > 0 && (d == 1 || h[1] > 0);
        }
        line = strchr(line, '\n');
        if (line) line++;
    }
    return 0;
}

/* What `nwreg cv` printed: h,criterion (a curve) or h1,h2,criterion (a
 * k1 x k2 grid, h1 slowest), drawn with the '# optimum' line's point, or
 * the grid's smallest value if that line is missing. */
static int cv_from_table(const plot_args *a, const char *path, const char *text, size_t len)
{
    nw_table *t = NULL;
    double *v = NULL, *h1 = NULL, *h2 = NULL, *z = NULL, hopt[2] = { NAN, NAN }, vopt = NAN;
    char err[512];
    int rc;
    if ((rc = table_from(path, text, len, &t))) return rc;
    const size_t rows = nw_table_rows(t), ncols = nw_table_cols(t);
    size_t cols[3];
    const size_t d = ncols == 2 ? 1 : 2;
    if (ncols == 2 && (cols[0] = column_named(t, "h")) != (size_t) -1 &&
        (cols[1] = column_named(t, "criterion")) != (size_t) -1) {
        /* one input */
    } else if (ncols == 3 && (cols[0] = column_named(t, "h1")) != (size_t) -1 &&
               (cols[1] = column_named(t, "h2")) != (size_t) -1 &&
               (cols[2] = column_named(t, "criterion")) != (size_t) -1) {
        /* two inputs */
    } else {
        rc = cli_bad_input("%s: not a model (.json) or the output of nwreg cv "
                         "(columns h,criterion or h1,h2,criterion)", path);
        goto done;
    }
    if ((rc = take_columns(t, path, cols, d + 1, &v))) goto done;
    plot_style style = a->style;
    if (!style.title) style.title = "Bandwidth criterion";
    int have_opt = cv_optimum(text, hopt, d, &vopt);
    if (d == 1) {
        if (!(h1 = malloc(rows * sizeof *h1)) || !(z = malloc(rows * sizeof *z))) {
            rc = cli_error("out of memory");
            goto done;
        }
        for (size_t i = 0; i < rows; i++) {
            h1[i] = v[2 * i], z[i] = v[2 * i + 1];
            if (!(h1[i] > 0) || (i && !(h1[i] > h1[i - 1]))) {
                rc = cli_bad_input("%s:%zu: bandwidths must be positive and ascending", path, i + 2);
                goto done;
            }
            if (!have_opt && isfinite(z[i]) && !(z[i] >= vopt)) vopt = z[i], hopt[0] = h1[i];
        }
        rc = drawn(plot_curve_styled(a->out, a->fmt, &style, h1, z, rows, hopt[0], vopt,
                                     err, sizeof err), err);
        goto done;
    }
    /* two inputs: h1 constant over runs of k2 rows, h2 repeating */
    size_t k2 = 1;
    while (k2 < rows && v[3 * k2] == v[0]) k2++;
    const size_t k1 = rows / k2;
    if (k1 < 2 || k2 < 2 || k1 * k2 != rows) {
        rc = cli_bad_input("%s: %zu rows do not make a grid of h1 x h2 (at least 2 x 2, h1 slowest)",
                         path, rows);
        goto done;
    }
    h1 = malloc(k1 * sizeof *h1);
    h2 = malloc(k2 * sizeof *h2);
    z = malloc(rows * sizeof *z);
    if (!h1 || !h2 || !z) { rc = cli_error("out of memory"); goto done; }
    for (size_t i = 0; i < k1; i++) h1[i] = v[3 * i * k2];
    for (size_t j = 0; j < k2; j++) h2[j] = v[3 * j + 1];
    for (size_t r = 0; r < rows; r++) {
        if (v[3 * r] != h1[r / k2] || v[3 * r + 1] != h2[r % k2]) {
            rc = cli_bad_input("%s:%zu: not on the grid (h1 slowest, the same h2 for every h1)", path, r + 2);
            goto done;
        }
        z[r] = v[3 * r + 2];
        if (!have_opt && isfinite(z[r]) && !(z[r] >= vopt))
            vopt = z[r], hopt[0] = h1[r / k2], hopt[1] = h2[r % k2];
    }
    if (!style.xlabel) style.xlabel = "bandwidth h1 (log scale)";
    if (!style.ylabel) style.ylabel = "bandwidth h2 (log scale)";
    rc = drawn(plot_contour_styled(a->out, a->fmt, &style, h1, k1, h2, k2, z, hopt[0], hopt[1],
                                   err, sizeof err), err);
done:
    free(v);
    free(h1);
    free(h2);
    free(z);
    nw_table_free(t);
    return rc;
}

static int run_cv(const plot_args *a)
{
    const char *src = a->operand[0];
    nw_model *model = NULL, *refit = NULL;
    nw_table *t = NULL;
    char *text = NULL;
    size_t len;
    int rc;
    if (!is_model_path(src)) {
        if (a->n_operands != 1)
            return cli_usage_error(a->cmd, "DATA.csv goes with a model: plot cv MODEL.json [DATA.csv]");
        if ((rc = slurp(src, &text, &len)) == 0) rc = cv_from_table(a, src, text, len);
        free(text);
        return rc;
    }
    if ((rc = load_model(src, &model))) goto done;
    nw_model *use = model;
    if (a->n_operands == 2) {   /* the model's kernel and estimator on DATA */
        const char *dpath = a->operand[1];
        const size_t d = nw_model_d(model), p = nw_model_p(model);
        size_t *cols = malloc((d + p) * sizeof *cols);
        double *v = NULL, *x = NULL, *y = NULL;
        char buf[32];
        if (!cols) { rc = cli_error("out of memory"); goto done; }
        if ((rc = table_read(dpath, &t))) { free(cols); goto done; }
        for (size_t k = 0; k < d + p && rc == 0; k++) {
            const char *name = k < d ? x_name(model, k, buf) : y_name(model, k - d, buf);
            if ((cols[k] = column_named(t, name)) == (size_t) -1)
                rc = cli_bad_input("%s: no column '%s' (%s of the model)", dpath, name,
                                 k < d ? "an input" : "an output");
        }
        const size_t n = nw_table_rows(t);
        if (rc == 0) rc = take_columns(t, dpath, cols, d + p, &v);
        if (rc == 0 && (!(x = malloc(n * d * sizeof *x)) || !(y = malloc(n * p * sizeof *y))))
            rc = cli_error("out of memory");
        if (rc == 0) {
            for (size_t i = 0; i < n; i++) {
                memcpy(x + i * d, v + i * (d + p), d * sizeof *x);
                memcpy(y + i * p, v + i * (d + p) + d, p * sizeof *y);
            }
            nw_status st;
            if ((st = nw_model_new(&refit, x, y, n, d, p)) ||
                (st = nw_model_set_kernel(refit, nw_model_kernel(model))) ||
                (st = nw_model_set_estimator(refit, nw_model_estimator(model))) ||
                (st = nw_model_set_empty_policy(refit, nw_model_empty_policy(model))))
                rc = cli_input_error(st, NULL, dpath);
            else
                rc = cli_apply_engine(refit, dpath);
        }
        free(cols);
        free(v);
        free(x);
        free(y);
        if (rc) goto done;
        use = refit;
        /* names for the axis labels */
        const char **xn = calloc(d, sizeof *xn), **yn = calloc(p, sizeof *yn);
        if (xn && yn) {
            for (size_t k = 0; k < d; k++) xn[k] = nw_model_x_name(model, k);
            for (size_t c = 0; c < p; c++) yn[c] = nw_model_y_name(model, c);
            int named = 1;
            for (size_t k = 0; k < d; k++) named &= xn[k] != NULL;
            for (size_t c = 0; c < p; c++) named &= yn[c] != NULL;
            if (named) (void) nw_model_set_names(refit, xn, yn);
        }
        free(xn);
        free(yn);
    }
    rc = cv_from_model(a, use, src);
done:
    free(text);
    nw_table_free(t);
    nw_model_free(refit);
    nw_model_free(model);
    return rc;
}

/* ----------------------------------------------------------------- loss */

/* `nwreg train`'s lines "epoch E loss L w W grad G" (and the final "w W"),
 * or 0 if text does not start with one. */
static int loss_from_log(const char *path, const char *text, double **loss, size_t *epochs)
{
    size_t cap = 64, n = 0, line_no = 0;
    double *v = NULL;
    const char *line = text;
    while (*line == '\n' || *line == '\r') line++, line_no++;
    if (strncmp(line, "epoch ", 6) != 0) return -1;
    if (!(v = malloc(cap * sizeof *v))) return cli_error("out of memory");
    for (line = text; *line; ) {
        const char *eol = strchr(line, '\n');
        line_no++;
        size_t llen = eol ? (size_t) (eol - line) : strlen(line);
        if (llen && line[llen - 1] == '\r') llen--;
        if (llen > 0 && line[0] != '#' && strncmp(line, "w ", 2) != 0) {
            char *end;
            long e = strncmp(line, "epoch ", 6) == 0 ? strtol(line + 6, &end, 10) : -1;
            double l = NAN;
            if (e >= 1 && strncmp(end, " loss ", 6) == 0) l = strtod(end + 6, &end);
            if (e != (long) n + 1 || end > line + llen || (end < line + llen && *end != ' ')) {
                free(v);
                return cli_bad_input("%s:%zu: expected 'epoch %zu loss L ...' (what nwreg train prints)",
                                   path, line_no, n + 1);
            }
            if (n == cap) {
                double *bigger = realloc(v, 2 * cap * sizeof *v);
                if (!bigger) { free(v); return cli_error("out of memory"); }
                v = bigger, cap *= 2;
            }
            v[n++] = l;
        }
        if (!eol) break;
        line = eol + 1;
    }
    *loss = v;
    *epochs = n;
    return 0;
}

static int run_loss(const plot_args *a)
{
    const char *path = a->operand[0];
    char *text = NULL, err[512];
    double *loss = NULL;
    nw_table *t = NULL;
    size_t len, epochs = 0;
    int rc = slurp(path, &text, &len);
    if (rc) return rc;
    rc = loss_from_log(path, text, &loss, &epochs);
    if (rc < 0) {   /* not a training log: a CSV with a loss column */
        size_t col;
        if ((rc = table_from(path, text, len, &t))) goto done;
        if ((col = column_named(t, "loss")) == (size_t) -1) {
            rc = cli_bad_input("%s: neither nwreg train's output ('epoch E loss L ...' lines) "
                             "nor a CSV with a column named loss", path);
            goto done;
        }
        if ((rc = take_columns(t, path, &col, 1, &loss))) goto done;
        epochs = nw_table_rows(t);
    }
    if (rc) goto done;
    if (epochs == 0) {
        rc = cli_bad_input("%s: no epochs", path);
        goto done;
    }
    plot_style style = a->style;
    if (!style.title) style.title = "Leave-one-out loss per epoch";
    rc = drawn(plot_loss_styled(a->out, a->fmt, &style, loss, epochs, err, sizeof err), err);
done:
    free(loss);
    free(text);
    nw_table_free(t);
    return rc;
}

/* ----------------------------------------------------------------- main */

/* Which options each figure takes (bits of figure). */
#define ALL ((1 << FIG_FIT) | (1 << FIG_WEIGHTS) | (1 << FIG_CV) | (1 << FIG_LOSS))

int cmd_plot(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "format", required_argument, NULL, P_FORMAT },
        { "width", required_argument, NULL, P_WIDTH },
        { "height", required_argument, NULL, P_HEIGHT },
        { "title", required_argument, NULL, P_TITLE },
        { "xlabel", required_argument, NULL, P_XLABEL },
        { "ylabel", required_argument, NULL, P_YLABEL },
        { "data", required_argument, NULL, P_DATA },
        { "truth", required_argument, NULL, P_TRUTH },
        { "y", required_argument, NULL, P_Y },
        { "grid", required_argument, NULL, P_GRID },
        { "criterion", required_argument, NULL, P_CRITERION },
        { "hmin", required_argument, NULL, P_HMIN },
        { "hmax", required_argument, NULL, P_HMAX },
        { "help", no_argument, NULL, 'h' },
        IO_LONGOPTS,
        ENGINE_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    /* the figures each option is for */
    static const struct { int id; const char *name; int figs; } scope[] = {
        { P_DATA, "--data", 1 << FIG_FIT },
        { P_TRUTH, "--truth", 1 << FIG_FIT },
        { P_Y, "--y", 1 << FIG_FIT },
        { P_GRID, "--grid", (1 << FIG_FIT) | (1 << FIG_CV) },
        { P_CRITERION, "--criterion", 1 << FIG_CV },
        { P_HMIN, "--hmin", 1 << FIG_CV },
        { P_HMAX, "--hmax", 1 << FIG_CV },
    };
    if (argc < 2)
        return cli_usage_error("plot", "missing the figure: fit, weights, cv or loss");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        print_help();
        return EXIT_OK;
    }
    plot_args a;
    memset(&a, 0, sizeof a);
    a.fig = FIG_COUNT;
    for (int f = 0; f < FIG_COUNT; f++)
        if (strcmp(argv[1], figure_name[f]) == 0) a.fig = (figure) f;
    if (a.fig == FIG_COUNT) {
        const char *best = cli_closest(argv[1], figure_name, FIG_COUNT);
        if (best)
            return cli_usage_error("plot", "'%s' is not a figure; did you mean '%s'?", argv[1], best);
        return cli_usage_error("plot", "'%s' is not a figure: fit, weights, cv or loss", argv[1]);
    }
    char cmd[32];
    snprintf(cmd, sizeof cmd, "plot %s", figure_name[a.fig]);
    a.cmd = cmd;
    a.crit = NW_CRITERION_LOO;

    /* getopt over "plot FIG" ARGS... (argv[1] stands for both words) */
    char **args = argv + 1;
    int nargs = argc - 1, c, rc = 0, given = 0;
    char *saved = args[0];
    args[0] = cmd;
    int iv;
    while (rc == 0 && (c = cli_getopt(nargs, args, ":ho:q", longopts)) != -1) {
        for (size_t i = 0; i < sizeof scope / sizeof scope[0]; i++)
            if (c == scope[i].id && !(scope[i].figs & (1 << a.fig))) {
                rc = cli_usage_error(cmd, "option %s is not for plot %s", scope[i].name,
                                     figure_name[a.fig]);
                break;
            }
        if (rc) break;
        switch (c) {
        case 'h': print_help(); given = -1; break;
        case 'o': a.out = optarg; break;
        case P_FORMAT: a.format = optarg; rc = opt_format(cmd, optarg, &a.fmt); break;
        case P_WIDTH:
            rc = opt_int(cmd, "--width", optarg, PLOT_SIZE_MIN, PLOT_SIZE_MAX, &iv);
            a.style.width = iv;
            break;
        case P_HEIGHT:
            rc = opt_int(cmd, "--height", optarg, PLOT_SIZE_MIN, PLOT_SIZE_MAX, &iv);
            a.style.height = iv;
            break;
        case P_TITLE: a.style.title = optarg; break;
        case P_XLABEL: a.style.xlabel = optarg; break;
        case P_YLABEL: a.style.ylabel = optarg; break;
        case P_DATA: a.data = optarg; break;
        case P_TRUTH: a.truth = optarg; break;
        case P_Y: a.ycol = optarg; break;
        case P_GRID:
            rc = opt_int(cmd, "--grid", optarg, 2, MAX_GRID_1D, &iv);
            a.grid = (size_t) iv;
            break;
        case P_CRITERION: rc = opt_criterion(cmd, optarg, &a.crit); break;
        case P_HMIN: rc = opt_list(cmd, "--hmin", optarg, LIST_POSITIVE, &a.hmin, &a.n_hmin); break;
        case P_HMAX: rc = opt_list(cmd, "--hmax", optarg, LIST_POSITIVE, &a.hmax, &a.n_hmax); break;
        case '?': rc = EXIT_USAGE; break;
        default:
            if (cli_settings_parse(cmd, c, optarg, 1) != 0) rc = EXIT_USAGE;
            break;
        }
        if (given < 0) break;
    }
    if (given < 0) goto done;             /* --help */
    int want_lo = a.fig == FIG_WEIGHTS ? 2 : 1, want_hi = a.fig == FIG_FIT || a.fig == FIG_LOSS ? 1 : 2;
    static const char *const operands[FIG_COUNT] = {
        "MODEL.json", "MODEL.json and QUERIES.csv", "MODEL.json [DATA.csv] or CV.csv", "TRAIN.log",
    };
    int nop = nargs - optind;
    if (rc == 0 && (nop < want_lo || nop > want_hi))
        rc = cli_usage_error(cmd, nop < want_lo ? "needs %s" : "too many arguments (it takes %s)",
                             operands[a.fig]);
    if (rc == 0 && !a.out) rc = cli_usage_error(cmd, "missing -o FILE (the figure: .png, .svg or .pdf)");
    if (rc == 0) rc = plot_format_for(cmd, a.out, a.format, &a.fmt);
    if (rc) goto done;
    a.n_operands = nop;
    for (int i = 0; i < nop; i++) a.operand[i] = args[optind + i];
    /* stdin can feed one file only */
    int stdins = 0;
    for (int i = 0; i < nop; i++) stdins += strcmp(a.operand[i], "-") == 0;
    stdins += a.data && strcmp(a.data, "-") == 0;
    stdins += a.truth && strcmp(a.truth, "-") == 0;
    if (stdins > 1) {
        rc = cli_usage_error(cmd, "only one input can be - (stdin)");
        goto done;
    }
    if (strcmp(a.out, "-") == 0) {
        rc = cli_usage_error(cmd, "-o -: figures are written to files, not stdout");
        goto done;
    }
    if ((rc = cli_load_plplot())) goto done;
    double t0 = cli_now();
    switch (a.fig) {
    case FIG_FIT: rc = run_fit(&a); break;
    case FIG_WEIGHTS: rc = run_weights(&a); break;
    case FIG_CV: rc = run_cv(&a); break;
    default: rc = run_loss(&a); break;
    }
    if (rc == 0) cli_verbose("%s: wrote %s in %.3g s", cmd, a.out, cli_now() - t0);
done:
    args[0] = saved;
    free(a.hmin);
    free(a.hmax);
    return rc;
}
