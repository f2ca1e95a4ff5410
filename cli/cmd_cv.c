/*
 * cmd_cv.c: `nwreg cv`: a bandwidth criterion (leave-one-out CV or AICc)
 * tabulated over a log-spaced grid of bandwidths, 1-d (a curve) or 2-d (a
 * k x k grid), with the optimum found by nw_select_bandwidth.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

static const char usage[] =
    "usage: nwreg cv DATA.csv [options]\n"
    "\n"
    "Evaluate a bandwidth criterion over a log-spaced grid and print CSV,\n"
    "  h,criterion          (one input)\n"
    "  h1,h2,criterion      (two inputs: a k x k grid, h1 slowest)\n"
    "then the optimum found by the library's search (a global scan over\n"
    "0.01 to 100 x Scott's rule, then a gradient refinement) as a last line\n"
    "  # optimum h=H criterion=V\n"
    "More than two inputs: use `nwreg fit --select loo|aicc`.\n"
    "\n"
    "options:\n"
    "  --criterion C      loo (leave-one-out CV: mean squared LOO error) or aicc\n"
    "                     (Hurvich, Simonoff & Tsai) (default loo)\n"
    "  --kernel K         gaussian, epanechnikov, uniform, triangular, tricube,\n"
    "                     biweight, cosine, laplace (default gaussian)\n"
    "  --estimator E      lc or ll (default lc)\n"
    "  --grid N           grid points per input (default 60 for one input, 30 for two)\n"
    "  --hmin H[,H]       smallest bandwidth, one or one per input\n"
    "                     (default 0.05 x Scott's rule of thumb)\n"
    "  --hmax H[,H]       largest bandwidth (default 20 x Scott's rule of thumb)\n"
    "  --plot FILE        draw the curve (one input) or contours (two) with the\n"
    "                     optimum marked; format from the extension .png/.svg/.pdf\n"
    "  --format F         png, svg or pdf, whatever FILE's extension\n"
    "  --x COLS           input columns, names or 1-based indices, comma-separated\n"
    "                     (default: x if columns x and y exist, else all but the last)\n"
    "  --y COLS           output columns (default: y, else the last)\n"
    "  --threads N        threads for the sums (default 0: OpenMP's choice)\n"
    "  -h, --help         show this help\n"
    "\n";

/* A data value as %.17g (or --precision's digits), non-finite ones as nan / inf / -inf. */
static void print_value(double v)
{
    if (isfinite(v)) printf("%.*g", cli.digits ? cli.digits : 17, v);
    else fputs(isnan(v) ? "nan" : v > 0 ? "inf" : "-inf", stdout);
}

int cmd_cv(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "criterion", required_argument, NULL, OPT_CRITERION },
        { "kernel", required_argument, NULL, OPT_KERNEL },
        { "estimator", required_argument, NULL, OPT_ESTIMATOR },
        { "grid", required_argument, NULL, OPT_GRID },
        { "hmin", required_argument, NULL, OPT_HMIN },
        { "hmax", required_argument, NULL, OPT_HMAX },
        { "plot", required_argument, NULL, OPT_PLOT },
        { "format", required_argument, NULL, OPT_FORMAT },
        { "x", required_argument, NULL, OPT_X },
        { "y", required_argument, NULL, OPT_Y },
        { "threads", required_argument, NULL, OPT_THREADS },
        IO_LONGOPTS,
        ENGINE_LONGOPTS,
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *cmd = argv[0], *plot_path = NULL, *format = NULL, *x_spec = NULL, *y_spec = NULL;
    nw_criterion crit = NW_CRITERION_LOO;
    nw_kernel kernel = NW_KERNEL_GAUSSIAN;
    nw_estimator estimator = NW_ESTIMATOR_CONSTANT;
    double *hmin_opt = NULL, *hmax_opt = NULL;
    size_t n_hmin = 0, n_hmax = 0, k = 0;
    int threads = -1, c, rc = 0;
    plot_format fmt = PLOT_PNG;

    while (rc == 0 && (c = cli_getopt(argc, argv, ":hq", longopts)) != -1) {
        switch (c) {
        case 'h':
            fputs(usage, stdout);
            fputs(io_opts_help, stdout);
            fputs(engine_opts_help, stdout);
            free(hmin_opt);
            free(hmax_opt);
            return EXIT_OK;
        case OPT_CRITERION: rc = opt_criterion(cmd, optarg, &crit); break;
        case OPT_KERNEL: rc = opt_kernel(cmd, optarg, &kernel); break;
        case OPT_ESTIMATOR: rc = opt_estimator(cmd, optarg, &estimator); break;
        case OPT_GRID: rc = opt_size(cmd, "--grid", optarg, 2, &k); break;
        case OPT_HMIN: rc = opt_list(cmd, "--hmin", optarg, LIST_POSITIVE, &hmin_opt, &n_hmin); break;
        case OPT_HMAX: rc = opt_list(cmd, "--hmax", optarg, LIST_POSITIVE, &hmax_opt, &n_hmax); break;
        case OPT_PLOT: plot_path = optarg; break;
        case OPT_FORMAT: format = optarg; rc = opt_format(cmd, optarg, &fmt); break;
        case OPT_X: x_spec = optarg; break;
        case OPT_Y: y_spec = optarg; break;
        case OPT_THREADS: rc = opt_int(cmd, "--threads", optarg, 0, 4096, &threads); break;
        case '?': rc = EXIT_USAGE; break;
        default: rc = cli_settings_parse(cmd, c, optarg, 1); break;
        }
    }
    if (rc == 0 && optind != argc - 1)
        rc = cli_usage_error(cmd, optind >= argc ? "missing DATA.csv" : "too many arguments");
    if (rc == 0 && plot_path) rc = plot_format_for(cmd, plot_path, format, &fmt);
    if (rc == 0 && plot_path) rc = cli_load_plplot();
    if (rc) {
        free(hmin_opt);
        free(hmax_opt);
        return rc;
    }
    const char *path = argv[optind];

    cli_data data;
    nw_model *model = NULL;
    double *grid = NULL, *value = NULL;
    nw_status st;
    if ((rc = data_read_model(&data, path, x_spec, y_spec, &model))) goto done;
    const size_t d = data.d;
    if (d > 2) {
        rc = cli_bad_input("%s: %zu inputs: cv draws 1-d and 2-d grids only; use fit --select", path, d);
        goto done;
    }
    if ((rc = cli_need_two_rows(path, data.n))) goto done;
    if (k == 0) k = d == 1 ? 60 : 30;
    if ((st = nw_model_set_kernel(model, kernel)) ||
        (st = nw_model_set_estimator(model, estimator)) ||
        (st = nw_model_set_names(model, data.x_names, data.y_names)) ||
        (threads >= 0 && (st = nw_model_set_threads(model, threads)))) {
        rc = cli_input_error(st, NULL, path);
        goto done;
    }
    if ((rc = cli_apply_engine(model, cmd))) goto done;

    /* the criterion on a log grid of k bandwidths per input, and its optimum */
    cv_grid cv;
    if ((rc = cv_grid_compute(model, crit, k, cmd, path, hmin_opt, n_hmin, hmax_opt, n_hmax, &cv)))
        goto done;
    grid = cv.grid;
    value = cv.value;
    const size_t cells = cv.cells;
    double *hopt = cv.hopt;
    nw_select_result best = cv.best;

    if (plot_path) {
        const char *name = crit == NW_CRITERION_LOO ? "LOO cross-validation (mean squared error)" : "AICc";
        char err[512], title[256], xlabel[256], ylabel[256];
        int bad;
        snprintf(title, sizeof title, "%s, %s kernel, %s", crit == NW_CRITERION_LOO ? "LOO CV" : "AICc",
                 nw_kernel_name(kernel), nw_estimator_name(estimator));
        if (d == 1) {
            bad = plot_curve(plot_path, fmt, title, "bandwidth h (log scale)", name, grid, value, k,
                             hopt[0], best.value, err, sizeof err);
        } else {
            snprintf(xlabel, sizeof xlabel, "bandwidth h1 of %s (log scale)", data.x_names[0]);
            snprintf(ylabel, sizeof ylabel, "bandwidth h2 of %s (log scale)", data.x_names[1]);
            bad = plot_contour(plot_path, fmt, title, xlabel, ylabel, grid, k, grid + k, k, value,
                               hopt[0], hopt[1], err, sizeof err);
        }
        if (bad) {
            rc = cli_error("%s", err);
            goto done;
        }
    }

    puts(d == 1 ? "h,criterion" : "h1,h2,criterion");
    for (size_t cell = 0; cell < cells; cell++) {
        print_value(grid[d == 1 ? cell : cell / k]);
        putchar(',');
        if (d == 2) {
            print_value(grid[k + cell % k]);
            putchar(',');
        }
        print_value(value[cell]);
        putchar('\n');
    }
    printf("# optimum h=");
    print_list(stdout, hopt, d);
    printf(" criterion=%.17g\n", best.value);
done:
    free(grid);
    free(value);
    free(hmin_opt);
    free(hmax_opt);
    nw_model_free(model);
    data_free(&data);
    return rc;
}
