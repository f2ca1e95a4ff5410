/*
 * cmd_demo.c: `nwreg demo`: the whole notebook (probml's
 * kernel_regression_attention.ipynb) in one run:
 *
 *   1. data: 50 noisy points of f(x) = 2 sin x + x^0.8 and a test grid;
 *   2. the constant-mean baseline;
 *   3. Gaussian kernel regression with w = 1, and its attention matrix;
 *   4. w trained by SGD on the leave-one-out loss, the loss per epoch, the
 *      learned fit and its attention matrix;
 *   5. (beyond the notebook) the w that minimises the LOO loss, found by
 *      the library's search, with the LOO CV curve it minimises.
 *
 * Figures go to DIR; a table of the four models goes to stdout.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"

static const char usage[] =
    "usage: nwreg demo [options]\n"
    "\n"
    "Run the notebook: baseline, fixed kernel (w = 1), w learned by SGD on the\n"
    "leave-one-out loss, and the LOO optimum; print a table (LOO loss =\n"
    "1/2 sum of squared leave-one-out errors, test MSE against the truth) and\n"
    "draw the figures baseline, fixed, fixed_attention, loss, learned,\n"
    "learned_attention, loo_optimum and cv_curve into DIR.\n"
    "\n"
    "options:\n"
    "  --out DIR          directory for the figures, created if missing\n"
    "                     (default demo-out)\n"
    "  --format F         png, svg, pdf, or all (the three) (default png)\n"
    "  --seed N           seed of the generated data and of w0 (default 0)\n"
    "  --train CSV        training data instead of generated data (columns x, y;\n"
    "                     see `nwreg help train`); needs --test\n"
    "  --test CSV         test points: column x (else the first) and the truth\n"
    "                     y_truth (else y, else the last column)\n"
    "  --w0 W             starting w of the training (default: a uniform(0,1)\n"
    "                     draw from the seed, like the notebook's torch.rand:\n"
    "                     ((splitmix64(seed) >> 11) + 0.5) / 2^53)\n"
    "  --lr R             learning rate (default 0.5)\n"
    "  --epochs N         epochs of SGD (default 5)\n"
    "  -q, --quiet        do not print the training epochs\n"
    "  -h, --help         show this help\n"
    "\n";

enum { N_DATA = 50, N_GRID = 50, N_CURVE = 80 };

static const char *const figure_names[] = {
    "baseline", "fixed", "fixed_attention", "loss", "learned", "learned_attention",
    "loo_optimum", "cv_curve",
};
enum { N_FIGURES = sizeof figure_names / sizeof figure_names[0] };

/* Everything the figures and the table need. */
typedef struct demo {
    size_t n, m;
    double *x, *y;          /* training points, sorted by x */
    double *xq, *truth;     /* test grid, sorted */
    double *pred[4];        /* baseline, fixed, learned, LOO optimum (m each) */
    double *att_fixed, *att_learned; /* m x n */
    double *loss;           /* per epoch */
    int epochs;
    double w[4], loo[4], mse[4];
    double curve_h[N_CURVE], curve_v[N_CURVE], hopt, vopt;
    double xlo, xhi, ylo, yhi;
    int quiet;
    const char *source;     /* the training file, for messages */
} demo;

/* ---------------------------------------------------------------- data */

typedef struct pair { double x, y; } pair;

static int cmp_pair(const void *a, const void *b)
{
    double u = ((const pair *) a)->x, v = ((const pair *) b)->x;
    return (u > v) - (u < v);
}

/* Sort (x, y) pairs by x: the heatmaps' axes are sorted inputs. */
static int sort_by_x(double *x, double *y, size_t n)
{
    pair *p = malloc(n * sizeof *p);
    if (!p) return cli_error("out of memory");
    for (size_t i = 0; i < n; i++) p[i] = (pair) { x[i], y[i] };
    qsort(p, n, sizeof *p, cmp_pair);
    for (size_t i = 0; i < n; i++) x[i] = p[i].x, y[i] = p[i].y;
    free(p);
    return 0;
}

/* The test file: x (else the first column), truth y_truth (else y, else the last). */
static int read_test(demo *dm, const char *path)
{
    nw_table *t = NULL;
    nw_status st;
    int rc = cli_table_read(path, &t);
    if (rc) return rc;
    size_t cols[2] = { 0, nw_table_cols(t) - 1 };
    size_t col;
    if (nw_table_find(t, "x", &col) == NW_OK) cols[0] = col;
    if (nw_table_find(t, "y_truth", &col) == NW_OK || nw_table_find(t, "y", &col) == NW_OK)
        cols[1] = col;
    if (cols[0] == cols[1]) {
        rc = cli_bad_input("%s: needs a column x and a truth column (y_truth, y or the last)", path);
        goto done;
    }
    dm->m = nw_table_rows(t);
    double *xy = malloc(2 * dm->m * sizeof *xy);
    dm->xq = malloc(dm->m * sizeof *dm->xq);
    dm->truth = malloc(dm->m * sizeof *dm->truth);
    if (!xy || !dm->xq || !dm->truth) rc = cli_error("out of memory");
    else if ((st = nw_table_columns(t, cols, 2, xy))) rc = cli_lib_error(st, NULL, path);
    for (size_t j = 0; rc == 0 && j < dm->m; j++) dm->xq[j] = xy[2 * j], dm->truth[j] = xy[2 * j + 1];
    free(xy);
    if (rc == 0) rc = sort_by_x(dm->xq, dm->truth, dm->m);
done:
    nw_table_free(t);
    return rc;
}

/* Training and test data: generated from the seed, or read from files. */
static int load_data(demo *dm, uint64_t seed, const char *train, const char *test)
{
    nw_status st;
    if (!train) {
        dm->n = N_DATA, dm->m = N_GRID;
        dm->x = malloc(dm->n * sizeof(double));
        dm->y = malloc(dm->n * sizeof(double));
        dm->xq = malloc(dm->m * sizeof(double));
        dm->truth = malloc(dm->m * sizeof(double));
        if (!dm->x || !dm->y || !dm->xq || !dm->truth) return cli_error("out of memory");
        if ((st = nw_generate(seed, dm->n, dm->x, dm->y)) ||
            (st = nw_generate_grid(dm->m, dm->xq, dm->truth)))
            return cli_lib_error(st, NULL, "cannot generate the data");
        return 0;
    }
    cli_data data;
    int rc = data_read(&data, train, NULL, NULL);
    if (rc) return rc;
    if (data.d != 1 || data.p != 1) {
        rc = cli_bad_input("%s: the demo needs one input and one output (columns x and y), not %zu and %zu",
                       train, data.d, data.p);
    } else {
        dm->n = data.n;
        dm->x = data.x, dm->y = data.y; /* take them over */
        data.x = data.y = NULL;
        rc = sort_by_x(dm->x, dm->y, dm->n);
    }
    data_free(&data);
    return rc ? rc : read_test(dm, test);
}

/* The notebook's axes [0,5] x [-1,5], widened to hold the data if need be. */
static void plot_ranges(demo *dm)
{
    dm->xlo = 0, dm->xhi = 5, dm->ylo = -1, dm->yhi = 5;
    for (size_t i = 0; i < dm->n; i++) {
        dm->xlo = fmin(dm->xlo, dm->x[i]), dm->xhi = fmax(dm->xhi, dm->x[i]);
        dm->ylo = fmin(dm->ylo, dm->y[i]), dm->yhi = fmax(dm->yhi, dm->y[i]);
    }
    for (size_t j = 0; j < dm->m; j++) {
        dm->xlo = fmin(dm->xlo, dm->xq[j]), dm->xhi = fmax(dm->xhi, dm->xq[j]);
        dm->ylo = fmin(dm->ylo, dm->truth[j]), dm->yhi = fmax(dm->yhi, dm->truth[j]);
    }
}

/* ------------------------------------------------------------- models */

/* The default w0: a uniform(0,1) draw from the seed (splitmix64's first
 * output, top 53 bits, plus half a unit so it is never 0). */
static double draw_w0(uint64_t seed)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return ((double) (z >> 11) + 0.5) * 0x1.0p-53;
}

static int record_epoch(const nw_epoch *e, void *ctx)
{
    demo *dm = ctx;
    dm->loss[e->epoch - 1] = e->loss;
    if (!dm->quiet) print_epoch(e);
    return 0;
}

static double test_mse(const demo *dm, const double *pred)
{
    double s = 0;
    for (size_t j = 0; j < dm->m; j++) s += (pred[j] - dm->truth[j]) * (pred[j] - dm->truth[j]);
    return s / (double) dm->m;
}

/* Row `row` of the table: predictions (and attention, if att) of the model
 * at its current bandwidth, its LOO loss and test MSE. */
static nw_status evaluate(demo *dm, nw_model *model, int row, double *att)
{
    double h;
    nw_status st;
    if ((st = nw_model_bandwidth(model, &h)) ||
        (st = nw_predict(model, dm->xq, dm->m, dm->pred[row], NULL)) ||
        (st = nw_loo_loss(model, NULL, &dm->loo[row], NULL, NULL)) ||
        (att && (st = nw_attention(model, dm->xq, dm->m, att))))
        return st;
    dm->w[row] = 1 / h;
    dm->mse[row] = test_mse(dm, dm->pred[row]);
    return NW_OK;
}

/* The baseline row: the mean; its LOO loss uses the leave-one-out mean
 * (sum y - y_i) / (n - 1). */
static nw_status baseline(demo *dm, nw_model *model)
{
    double mean, sum = 0, loss = 0;
    nw_status st = nw_baseline(model, &mean);
    if (st) return st;
    for (size_t i = 0; i < dm->n; i++) sum += dm->y[i];
    for (size_t i = 0; i < dm->n; i++) {
        double e = dm->y[i] - (sum - dm->y[i]) / (double) (dm->n - 1);
        loss += 0.5 * e * e;
    }
    for (size_t j = 0; j < dm->m; j++) dm->pred[0][j] = mean;
    dm->w[0] = NAN;
    dm->loo[0] = loss;
    dm->mse[0] = test_mse(dm, dm->pred[0]);
    return NW_OK;
}

/* The LOO CV curve (mean squared LOO error) over N_CURVE log-spaced h from
 * 0.05 to 20 x Scott's rule. */
static nw_status cv_curve(demo *dm, const nw_model *model)
{
    double scott;
    nw_status st = nw_rule_of_thumb(model, NW_RULE_SCOTT, &scott);
    for (int i = 0; st == NW_OK && i < N_CURVE; i++) {
        dm->curve_h[i] = 0.05 * scott * pow(400.0, (double) i / (N_CURVE - 1));
        st = nw_criterion_eval(model, NW_CRITERION_LOO, &dm->curve_h[i], &dm->curve_v[i], NULL);
    }
    return st;
}

static int run_models(demo *dm, double w0, const nw_train_options *topt_in)
{
    nw_model *model = NULL;
    nw_train_options topt = *topt_in;
    nw_select_result best;
    const double one = 1;
    double w;
    int rc = 0;
    nw_status st;

    if ((st = nw_model_new(&model, dm->x, dm->y, dm->n, 1, 1)) || (st = baseline(dm, model)) ||
        (st = nw_model_set_scale(model, &one)) || (st = evaluate(dm, model, 1, dm->att_fixed))) {
        rc = cli_data_error(st, dm->source, "demo");
        goto done;
    }
    topt.on_epoch = record_epoch;
    topt.ctx = dm;
    if ((st = nw_train(model, &topt, &w0, &w)) || (st = evaluate(dm, model, 2, dm->att_learned))) {
        rc = cli_data_error(st, dm->source, "training failed");
        goto done;
    }
    dm->w[2] = w; /* signed, as trained */
    if ((st = nw_select_bandwidth(model, NW_CRITERION_LOO, NULL, &best)) ||
        (st = evaluate(dm, model, 3, NULL)) || (st = cv_curve(dm, model))) {
        rc = cli_data_error(st, dm->source, "LOO optimum");
        goto done;
    }
    dm->hopt = 1 / dm->w[3];
    dm->vopt = best.value;
done:
    nw_model_free(model);
    return rc;
}

/* ------------------------------------------------------------- figures */

/* mkdir -p */
static int make_dir(const char *dir)
{
    char *path = strdup(dir);
    int rc = 0;
    if (!path) return cli_error("out of memory");
    for (char *s = path + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char saved = *s;
        *s = '\0';
        struct stat sb;
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            rc = cli_error("%s: cannot create directory: %s", path, strerror(errno));
            break;
        }
        if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            rc = cli_error("%s: not a directory", path);
            break;
        }
        *s = saved;
        if (saved == '\0') break;
    }
    free(path);
    return rc;
}

static int draw(const demo *dm, int figure, const char *path, plot_format fmt)
{
    char err[512], title[128];
    const double *xd = dm->x, *yd = dm->y;
    size_t n = dm->n, m = dm->m;
    int bad = 0;
    switch (figure) {
    case 0:
        bad = plot_fit(path, fmt, "Constant baseline: the mean of y", dm->xq, dm->truth, dm->pred[0], m,
                       xd, yd, n, dm->xlo, dm->xhi, dm->ylo, dm->yhi, err, sizeof err);
        break;
    case 1:
        bad = plot_fit(path, fmt, "Kernel regression, w = 1", dm->xq, dm->truth, dm->pred[1], m,
                       xd, yd, n, dm->xlo, dm->xhi, dm->ylo, dm->yhi, err, sizeof err);
        break;
    case 2:
        bad = plot_heatmap(path, fmt, "Attention weights, w = 1", dm->att_fixed, m, n, err, sizeof err);
        break;
    case 3:
        bad = plot_loss(path, fmt, "Leave-one-out loss (SGD)", dm->loss, (size_t) dm->epochs, err, sizeof err);
        break;
    case 4:
        snprintf(title, sizeof title, "Learned attention, w = %.4g", dm->w[2]);
        bad = plot_fit(path, fmt, title, dm->xq, dm->truth, dm->pred[2], m,
                       xd, yd, n, dm->xlo, dm->xhi, dm->ylo, dm->yhi, err, sizeof err);
        break;
    case 5:
        snprintf(title, sizeof title, "Attention weights, learned w = %.4g", dm->w[2]);
        bad = plot_heatmap(path, fmt, title, dm->att_learned, m, n, err, sizeof err);
        break;
    case 6:
        snprintf(title, sizeof title, "LOO optimum, w = %.4g (h = %.4g)", dm->w[3], dm->hopt);
        bad = plot_fit(path, fmt, title, dm->xq, dm->truth, dm->pred[3], m,
                       xd, yd, n, dm->xlo, dm->xhi, dm->ylo, dm->yhi, err, sizeof err);
        break;
    case 7:
        bad = plot_curve(path, fmt, "Leave-one-out cross-validation, Gaussian kernel",
                         "bandwidth h (log scale)", "LOO cross-validation (mean squared error)",
                         dm->curve_h, dm->curve_v, N_CURVE, dm->hopt, dm->vopt, err, sizeof err);
        break;
    }
    return bad ? cli_error("%s", err) : 0;
}

/* Draw every figure in every chosen format into dir (which exists);
 * *paths gets the list of files, NULL-terminated. */
static int draw_all(const demo *dm, const char *dir, const plot_format *fmts, int nfmt, char ***paths)
{
    int rc;
    char **list = calloc((size_t) nfmt * N_FIGURES + 1, sizeof *list);
    if (!list) return cli_error("out of memory");
    *paths = list;
    for (int f = 0; f < nfmt; f++)
        for (int i = 0; i < N_FIGURES; i++) {
            size_t len = strlen(dir) + strlen(figure_names[i]) + 6;
            char *path = malloc(len);
            if (!path) return cli_error("out of memory");
            snprintf(path, len, "%s/%s.%s", dir, figure_names[i], plot_format_ext(fmts[f]));
            *list++ = path;
            if ((rc = draw(dm, i, path, fmts[f]))) return rc;
        }
    return 0;
}

/* --------------------------------------------------------------- output */

static void print_row(const char *name, double w, double loo, double mse)
{
    char ws[32] = "-", hs[32] = "-";
    if (!isnan(w)) {
        snprintf(ws, sizeof ws, "%.5g", w);
        snprintf(hs, sizeof hs, "%.5g", 1 / fabs(w));
    }
    printf("%-19s%-12s%-12s%-12.5g%.5g\n", name, ws, hs, loo, mse);
}

static void print_table(const demo *dm, char **paths)
{
    char learned[64];
    snprintf(learned, sizeof learned, "learned (SGD, %d)", dm->epochs);
    printf("%-19s%-12s%-12s%-12s%s\n", "model", "w", "h", "LOO loss", "test MSE");
    print_row("baseline (mean)", dm->w[0], dm->loo[0], dm->mse[0]);
    print_row("fixed kernel", dm->w[1], dm->loo[1], dm->mse[1]);
    print_row(learned, dm->w[2], dm->loo[2], dm->mse[2]);
    print_row("LOO optimum", dm->w[3], dm->loo[3], dm->mse[3]);
    fputs("figures:", stdout);
    for (; *paths; paths++) printf(" %s", *paths);
    putchar('\n');
}

static void demo_free(demo *dm)
{
    free(dm->x);
    free(dm->y);
    free(dm->xq);
    free(dm->truth);
    for (int i = 0; i < 4; i++) free(dm->pred[i]);
    free(dm->att_fixed);
    free(dm->att_learned);
    free(dm->loss);
}

int cmd_demo(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "out", required_argument, NULL, OPT_OUT },
        { "format", required_argument, NULL, OPT_FORMAT },
        { "seed", required_argument, NULL, OPT_SEED },
        { "train", required_argument, NULL, OPT_TRAIN },
        { "test", required_argument, NULL, OPT_TEST },
        { "w0", required_argument, NULL, OPT_W0 },
        { "lr", required_argument, NULL, OPT_LR },
        { "epochs", required_argument, NULL, OPT_EPOCHS },
        IO_LONGOPTS,
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *cmd = argv[0], *dir = "demo-out", *train = NULL, *test = NULL;
    plot_format fmts[3] = { PLOT_PNG, PLOT_SVG, PLOT_PDF };
    int nfmt = 1, c, rc = 0, have_w0 = 0;
    uint64_t seed = 0;
    double w0 = 0;
    nw_train_options topt;
    demo dm;
    char **paths = NULL;
    memset(&dm, 0, sizeof dm);
    nw_train_options_init(&topt);

    while (rc == 0 && (c = cli_getopt(argc, argv, ":hq", longopts)) != -1) {
        switch (c) {
        case 'h': fputs(usage, stdout); fputs(io_opts_help, stdout); return EXIT_OK;
        case OPT_OUT: dir = optarg; break;
        case OPT_FORMAT:
            if (strcmp(optarg, "all") == 0) nfmt = 3;
            else nfmt = 1, rc = opt_format(cmd, optarg, &fmts[0]);
            break;
        case OPT_SEED: rc = opt_seed(cmd, "--seed", optarg, &seed); break;
        case OPT_TRAIN: train = optarg; break;
        case OPT_TEST: test = optarg; break;
        case OPT_W0:
            have_w0 = 1;
            if (!(rc = opt_double(cmd, "--w0", optarg, &w0)) && w0 == 0)
                rc = cli_usage_error(cmd, "--w0 0: a scale w must be nonzero (w = 1/h)");
            break;
        case OPT_LR: rc = opt_positive(cmd, "--lr", optarg, &topt.lr); break;
        case OPT_EPOCHS: rc = opt_int(cmd, "--epochs", optarg, 1, 1000000, &topt.epochs); break;
        case '?': rc = EXIT_USAGE; break;
        default: rc = cli_settings_parse(cmd, c, optarg, 0); break;
        }
    }
    if (rc) return rc;
    dm.quiet = cli.quiet;
    dm.source = train ? train : "generated data";
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!train != !test) return cli_usage_error(cmd, "give both --train and --test, or neither");
    if (!have_w0) w0 = draw_w0(seed);
    if ((rc = cli_load_plplot())) return rc;

    /* the data first: bad input leaves no output folder behind */
    if ((rc = load_data(&dm, seed, train, test))) goto done;
    if (dm.n < 2) { rc = cli_bad_input("%s: the demo needs at least two training points", train); goto done; }
    if ((rc = make_dir(dir))) goto done;
    dm.epochs = topt.epochs;
    for (int i = 0; i < 4; i++)
        if (!(dm.pred[i] = malloc(dm.m * sizeof(double)))) { rc = cli_error("out of memory"); goto done; }
    dm.att_fixed = malloc(dm.m * dm.n * sizeof(double));
    dm.att_learned = malloc(dm.m * dm.n * sizeof(double));
    dm.loss = malloc((size_t) dm.epochs * sizeof(double));
    if (!dm.att_fixed || !dm.att_learned || !dm.loss) { rc = cli_error("out of memory"); goto done; }
    plot_ranges(&dm);

    if (train) printf("nwreg demo: n=%zu training points (%s), %zu test points (%s)\n", dm.n, train, dm.m, test);
    else printf("nwreg demo: n=%zu training points, %zu test points (seed %llu)\n", dm.n, dm.m,
                (unsigned long long) seed);
    printf("training: SGD from w0 = %.17g (%s), lr %g, %d epochs\n", w0,
           have_w0 ? "--w0" : "a uniform(0,1) draw from the seed", topt.lr, topt.epochs);
    fflush(stdout);
    if ((rc = run_models(&dm, w0, &topt))) goto done;
    if (interrupted()) { rc = cli_interrupted(); goto done; }
    if ((rc = draw_all(&dm, dir, fmts, nfmt, &paths))) goto done;
    print_table(&dm, paths);
done:
    for (char **p = paths; p && *p; p++) free(*p);
    free(paths);
    demo_free(&dm);
    return rc;
}
