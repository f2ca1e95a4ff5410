/*
 * cmd_fit.c: `nwreg fit`: choose the bandwidths (or take them), save the
 * model, and summarise the fit.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char usage_head[] =
    "usage: nwreg fit DATA.csv [options] [-o MODEL.json]\n"
    "\n"
    "Fit a kernel regression model, save it (with -o) for `nwreg predict`, and\n"
    "print a summary: sizes, kernel, bandwidths, the criterion, in-sample R^2\n"
    "(statsmodels' squared-correlation form) and residual standard deviation.\n"
    "Without -o only the summary is printed; with -o - the model goes to stdout\n"
    "and the summary to stderr; --quiet prints no summary.  DATA.csv may be\n"
    "'-' (stdin).  Default: --select loo.\n"
    "\n"
    "example:\n"
    "  nwreg gen --n 200 | nwreg fit - --select aicc --kernel epanechnikov -o m.json\n"
    "\n";
static const char usage_tail[] =
    "\n"
    "output:\n"
    "  -o MODEL.json         save the model (JSON, atomically)\n"
    "  -h, --help            show this help\n"
    "\n";

/* statsmodels KernelReg.r_squared for output column c of y/yhat (n x p):
 * (sum (y - ybar)(yhat - ybar))^2 / (sum (y - ybar)^2 sum (yhat - ybar)^2). */
static double r_squared(const double *y, const double *yhat, size_t n, size_t p, size_t c)
{
    double ybar = 0, num = 0, syy = 0, shh = 0;
    for (size_t i = 0; i < n; i++) ybar += y[i * p + c];
    ybar /= (double) n;
    for (size_t i = 0; i < n; i++) {
        double a = y[i * p + c] - ybar, b = yhat[i * p + c] - ybar;
        num += a * b;
        syy += a * a;
        shh += b * b;
    }
    return num * num / (syy * shh);
}

static double residual_sd(const double *y, const double *yhat, size_t n, size_t p, size_t c)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = y[i * p + c] - yhat[i * p + c];
        s += e * e;
    }
    return sqrt(s / (double) n);
}

/* A summary number as %.6g; "undefined" for NaN (R-squared of constant
 * predictions, sums that overflow), "inf" for overflow. */
static const char *summary_value(char *buf, double v)
{
    if (v != v) return "undefined";
    snprintf(buf, 64, "%.6g", v);
    return buf;
}

static void print_names(FILE *fp, const char *label, const char *const *names, size_t k)
{
    fprintf(fp, "%-14s%zu:", label, k);
    for (size_t i = 0; i < k; i++) fprintf(fp, " %s", names[i]);
    putc('\n', fp);
}

int cmd_fit(int argc, char **argv)
{
    static const struct option longopts[] = {
        MODEL_LONGOPTS,
        IO_LONGOPTS,
        ENGINE_LONGOPTS,
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *cmd = argv[0], *out = NULL;
    model_opts o;
    int c, rc = 0;
    model_opts_init(&o, cmd);

    while (rc == 0 && (c = cli_getopt(argc, argv, ":hqo:", longopts)) != -1) {
        switch (c) {
        case 'h':
            fputs(usage_head, stdout);
            fputs(model_opts_help, stdout);
            fputs(usage_tail, stdout);
            fputs(io_opts_help, stdout);
            fputs(engine_opts_help, stdout);
            model_opts_free(&o);
            return EXIT_OK;
        case 'o': out = optarg; break;
        case '?': rc = EXIT_USAGE; break;
        default:
            if ((rc = model_opts_parse(&o, c, optarg)) == -1) rc = cli_settings_parse(cmd, c, optarg, 1);
            break;
        }
    }
    if (rc == 0 && optind != argc - 1)
        rc = cli_usage_error(cmd, optind >= argc ? "missing DATA.csv" : "too many arguments");
    if (rc) {
        model_opts_free(&o);
        return rc;
    }
    if (o.method == BW_NONE) o.method = BW_LOO;
    const char *path = argv[optind];
    if ((rc = cli_check_output(cmd, "-o", out, &path, 1))) {
        model_opts_free(&o);
        return rc;
    }

    cli_data data;
    nw_model *model = NULL;
    double *h = NULL, *yhat = NULL;
    fit_info info;
    nw_status st;
    nw_run_info run;
    progress bar = { 0 };
    /* the model holds the file's numbers (not data as well) */
    if ((rc = data_read_fit(&data, path, &o, &model, &info))) goto done;
    const size_t n = data.n, d = data.d, p = data.p;
    const double *y = nw_model_y(model);

    /* the criterion at the chosen bandwidths, and the in-sample fit */
    nw_criterion crit = o.method == BW_AICC ? NW_CRITERION_AICC : NW_CRITERION_LOO;
    double value;
    h = malloc(d * sizeof *h);
    yhat = malloc(n * p * sizeof *yhat);
    if (!h || !yhat) { rc = cli_error("out of memory"); goto done; }
    progress_start(&bar, "summary", cli.quiet);
    nw_model_set_progress(model, progress_cb, &bar);
    if ((st = nw_model_bandwidth(model, h)) ||
        (st = nw_criterion_eval(model, crit, NULL, &value, NULL)) ||
        (st = nw_fitted(model, yhat, NULL, &run))) {
        progress_end(&bar);
        rc = cli_data_error(st, path, "summary");
        goto done;
    }
    progress_end(&bar);
    nw_model_set_progress(model, NULL, NULL);
    cli_report_run("in-sample predict", &run);
    if (interrupted()) { rc = cli_interrupted(); goto done; }
    if (out) {
        nw_diag diag = { { 0 }, 0, 0 };
        if ((st = nw_model_save(model, out, &diag))) {
            rc = cli_lib_error(st, &diag, out);
            goto done;
        }
    }

    FILE *fp = out && strcmp(out, "-") == 0 ? stderr : stdout;
    if (cli.quiet) goto done;
    fprintf(fp, "nwreg fit: %s\n", path);
    fprintf(fp, "%-14s%zu\n", "points (n)", n);
    print_names(fp, "inputs (d)", data.x_names, d);
    print_names(fp, "outputs (p)", data.y_names, p);
    fprintf(fp, "%-14s%s\n", "kernel", nw_kernel_name(nw_model_kernel(model)));
    fprintf(fp, "%-14s%s\n", "estimator", nw_estimator_name(nw_model_estimator(model)));
    for (size_t k = 0; k < d; k++) {
        fprintf(fp, "%-14s%s: h = %.6g", k == 0 ? "bandwidth" : "", data.x_names[k], h[k]);
        if (nw_model_kernel(model) == NW_KERNEL_GAUSSIAN) fprintf(fp, " (w = 1/h = %.6g)", 1 / h[k]);
        putc('\n', fp);
    }
    fprintf(fp, "%-14s%s, %d evaluations, %.3g s\n", "chosen by", info.method, info.evaluations,
           info.seconds);
    char buf[64];
    if (crit == NW_CRITERION_AICC) fprintf(fp, "%-14s%s\n", "AICc", summary_value(buf, value));
    else fprintf(fp, "%-14s%s (mean squared leave-one-out error)\n", "LOO CV", summary_value(buf, value));
    for (size_t c2 = 0; c2 < p; c2++)
        fprintf(fp, "%-14s%s: %s\n", c2 == 0 ? "R-squared" : "", data.y_names[c2],
                summary_value(buf, r_squared(y, yhat, n, p, c2)));
    for (size_t c2 = 0; c2 < p; c2++)
        fprintf(fp, "%-14s%s: %s\n", c2 == 0 ? "residual sd" : "", data.y_names[c2],
                summary_value(buf, residual_sd(y, yhat, n, p, c2)));
    if (out) fprintf(fp, "%-14s%s\n", "saved to", out);
done:
    free(h);
    free(yhat);
    nw_model_free(model);
    data_free(&data);
    model_opts_free(&o);
    return rc;
}
