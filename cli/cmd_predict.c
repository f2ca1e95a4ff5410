/*
 * cmd_predict.c: `nwreg predict`: predictions at query points, from a model
 * fitted on the spot (TRAIN.csv and model options) or a saved model file;
 * optionally the attention matrix behind them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "prefetch.h"

static const char usage_head[] =
    "usage: nwreg predict TRAIN.csv QUERIES.csv (--w W | --bandwidth H | --select M) [options]\n"
    "       nwreg predict MODEL.json QUERIES.csv [--empty P] [--threads N] [--weights FILE] [-o FILE]\n"
    "\n"
    "Predict at the queries: a model is fitted on TRAIN.csv with the options\n"
    "below, or loaded from MODEL.json (a name ending in .json; made by fit or\n"
    "train -o), whose options then cannot change (but --empty, --threads,\n"
    "--engine, --tolerance and --precision can).  The query inputs are read\n"
    "from QUERIES.csv by the inputs' names.  Output: CSV with every column of\n"
    "QUERIES.csv, then yhat (one output) or yhat_NAME per output.  Either\n"
    "file may be '-' (stdin), not both.\n"
    "\n"
    "example:\n"
    "  nwreg gen | nwreg fit - -o m.json && nwreg gen --grid | nwreg predict m.json -\n"
    "\n";
static const char usage_tail[] =
    "\n"
    "output:\n"
    "  -o FILE               write the predictions to FILE (default stdout)\n"
    "  --weights FILE        write the attention matrix (the Nadaraya-Watson\n"
    "                        weights): one row per query, one column per training\n"
    "                        point, rows summing to 1, no header\n"
    "  -h, --help            show this help\n"
    "\n";

int cmd_predict(int argc, char **argv)
{
    static const struct option longopts[] = {
        MODEL_LONGOPTS,
        IO_LONGOPTS,
        ENGINE_LONGOPTS,
        { "weights", required_argument, NULL, OPT_WEIGHTS },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *cmd = argv[0], *out = "-", *weights_path = NULL;
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
        case OPT_WEIGHTS: weights_path = optarg; break;
        case '?': rc = EXIT_USAGE; break;
        default:
            if ((rc = model_opts_parse(&o, c, optarg)) == -1) rc = cli_settings_parse(cmd, c, optarg, 1);
            break;
        }
    }
    if (rc == 0 && argc - optind != 2)
        rc = cli_usage_error(cmd, argc - optind < 2 ? "needs TRAIN.csv (or MODEL.json) and QUERIES.csv"
                                                    : "too many arguments");
    if (rc == 0 && o.method == BW_NONE && !is_model_path(argv[optind]))
        rc = cli_usage_error(cmd, "give --w, --bandwidth or --select");
    if (rc == 0 && strcmp(argv[optind], "-") == 0 && strcmp(argv[optind + 1], "-") == 0)
        rc = cli_usage_error(cmd, "only one of TRAIN.csv and QUERIES.csv can be '-' (stdin)");
    if (rc) {
        model_opts_free(&o);
        return rc;
    }
    const char *source = argv[optind], *queries_path = argv[optind + 1];
    const char *inputs[2] = { source, queries_path };
    if ((rc = cli_check_output(cmd, "-o", out, inputs, 2)) ||
        (rc = cli_check_output(cmd, "--weights", weights_path, inputs, 2))) {
        model_opts_free(&o);
        return rc;
    }

    cli_data data = { 0 };
    nw_model *model = NULL;
    nw_table *queries = NULL;
    const char **x_names = NULL, **names = NULL;
    char *default_names = NULL;
    const double *q = NULL;
    const double **col = NULL;
    double *q_copy = NULL, *yhat = NULL, *weights = NULL;
    size_t *q_cols = NULL, *stride = NULL;
    char **yhat_names = NULL, *qnames_buf = NULL;
    nw_diag diag = { { 0 }, 0, 0 };
    nw_status st;
    progress bar = { 0 };
    prefetch *query_read = NULL;

    /* Memory (the peak is about x, y, q, yhat and the query file's other
     * columns, each once): the model takes the training file's numbers
     * over; q is the query table itself when it has only the inputs, else
     * copied out of it, and the table then drops those columns; the output
     * is written from q, the table's rest and yhat side by side, never
     * joined into one m x (columns) array. */
    /* QUERIES.csv is read on a second thread while TRAIN.csv is read and
     * the model fitted (prefetch.h; at n = m = 1e4 the reading is a fifth
     * of the run); its errors are reported after the training file's, as
     * if the two were read in turn. */
    query_read = prefetch_start(queries_path, &cli.csv);
    if ((rc = model_load_or_fit(source, &o, &data, &model))) goto done;
    data_free(&data);
    const size_t n = nw_model_n(model), d = nw_model_d(model), p = nw_model_p(model);

    /* the queries, by the model's input names */
    if (query_read) {
        nw_diag qdiag = { { 0 }, 0, 0 };
        st = prefetch_finish(query_read, &queries, &qdiag);
        query_read = NULL;
        if (st) {
            rc = cli_input_error(st, &qdiag, queries_path);
            goto done;
        }
    } else if ((rc = cli_table_read(queries_path, &queries))) {
        goto done;
    }
    const size_t m = nw_table_rows(queries), qcols = nw_table_cols(queries);
    x_names = malloc(d * sizeof *x_names);
    q_cols = malloc(d * sizeof *q_cols);
    default_names = malloc(d * 24);
    if (!x_names || !q_cols || !default_names) { rc = cli_error("out of memory"); goto done; }
    /* a model file may leave its inputs unnamed ("inputs" is optional):
     * then the names a saved model gets, x or x1 .. xd */
    for (size_t k = 0; k < d; k++) {
        x_names[k] = nw_model_x_name(model, k);
        if (x_names[k]) continue;
        if (d == 1) snprintf(default_names + 24 * k, 24, "x");
        else snprintf(default_names + 24 * k, 24, "x%zu", k + 1);
        x_names[k] = default_names + 24 * k;
    }
    if ((rc = data_find_columns(queries, queries_path, x_names, d, q_cols))) goto done;
    /* the output's names: the query file's (copied: dropped columns lose
     * theirs), then yhat or yhat_NAME per output */
    const size_t cols = qcols + p;
    size_t len = 0;
    for (size_t k = 0; k < qcols; k++) len += strlen(nw_table_name(queries, k)) + 1;
    names = calloc(cols, sizeof *names);
    yhat_names = calloc(p, sizeof *yhat_names);
    qnames_buf = malloc(len);
    col = malloc(cols * sizeof *col);
    stride = malloc(cols * sizeof *stride);
    if (!names || !yhat_names || !qnames_buf || !col || !stride) { rc = cli_error("out of memory"); goto done; }
    char *at = qnames_buf;
    for (size_t k = 0; k < qcols; k++) {
        size_t l = strlen(nw_table_name(queries, k)) + 1;
        memcpy(at, nw_table_name(queries, k), l);
        names[k] = at;
        at += l;
    }
    int whole = qcols == d;   /* the table is q, column for column */
    for (size_t k = 0; k < d; k++) whole = whole && q_cols[k] == k;
    if (whole) {
        q = nw_table_data(queries);
    } else {
        if (!(q_copy = malloc(m * d * sizeof *q_copy))) { rc = cli_error("out of memory"); goto done; }
        if ((st = nw_table_columns(queries, q_cols, d, q_copy)) ||
            (st = nw_table_drop_columns(queries, q_cols, d))) {
            rc = cli_lib_error(st, NULL, queries_path);
            goto done;
        }
        q = q_copy;
    }
    /* where each output column is: an input in q, else the table's next
     * remaining column; then yhat */
    const double *rest = nw_table_data(queries);
    const size_t rest_cols = nw_table_cols(queries);
    for (size_t k = 0, r = 0; k < qcols; k++) {
        size_t j = 0;
        while (j < d && q_cols[j] != k) j++;
        if (whole || j < d) col[k] = q + (whole ? k : j), stride[k] = d;
        else col[k] = rest + r++, stride[k] = rest_cols;
    }

    /* predictions (and weights) first; the files only once all is computed */
    size_t n_empty = 0;
    nw_run_info run;
    if (!(yhat = malloc(m * p * sizeof *yhat))) { rc = cli_error("out of memory"); goto done; }
    /* the model is this command's alone: its points may move into the
     * engine's order, which then reads them in place instead of copying
     * them (nw_model_arrange; at n = 1e6, d = 2 onto 1e4 queries 24 of
     * ~67 MB), unless the attention matrix, whose columns are the training
     * rows, is asked for; where the copy is at most 8 MiB (half the
     * engines' own floor, engine.h's nw_memory_budget), it is left to the
     * engine: arranging costs a sort and a pass over the points (2-d: n =
     * 1e4, 0.5 ms of a 19 ms run; n = 1e5, 3 ms of 82 ms) */
    if (!weights_path && 8.0 * (double) n * (double) (d + p) > 0x1p23 &&
        (st = nw_model_arrange(model, m, NULL))) {
        rc = cli_lib_error(st, NULL, "prediction failed");
        goto done;
    }
    progress_start(&bar, "predict", cli.quiet);
    nw_model_set_progress(model, progress_cb, &bar);
    st = nw_predict_info(model, q, m, yhat, &n_empty, &run);
    progress_end(&bar);
    if (st) {
        rc = cli_lib_error(st, NULL, "prediction failed");
        goto done;
    }
    cli_report_run("predict", &run);
    if (weights_path) {
        if (!(weights = malloc(m * n * sizeof *weights))) {
            rc = cli_error("out of memory: the attention matrix has %zu x %zu entries", m, n);
            goto done;
        }
        progress_start(&bar, "attention", cli.quiet);
        st = nw_attention(model, q, m, weights);
        progress_end(&bar);
        if (st) {
            rc = cli_lib_error(st, NULL, "attention failed");
            goto done;
        }
    }
    if (interrupted()) { rc = cli_interrupted(); goto done; }

    for (size_t c2 = 0; c2 < p; c2++) {
        const char *yname = nw_model_y_name(model, c2);
        size_t ylen = strlen("yhat_") + (yname ? strlen(yname) : 24) + 1;
        if (!(yhat_names[c2] = malloc(ylen))) { rc = cli_error("out of memory"); goto done; }
        if (p == 1) snprintf(yhat_names[c2], ylen, "yhat");
        else if (yname) snprintf(yhat_names[c2], ylen, "yhat_%s", yname);
        else snprintf(yhat_names[c2], ylen, "yhat_%zu", c2 + 1);
        names[qcols + c2] = yhat_names[c2];
        col[qcols + c2] = yhat + c2;
        stride[qcols + c2] = p;
    }

    if (weights_path && (st = nw_csv_write_digits(weights_path, NULL, weights, m, n, cli.digits, &diag))) {
        rc = cli_lib_error(st, &diag, weights_path);
        goto done;
    }
    if ((st = nw_csv_write_columns(out, names, col, stride, m, cols, cli.digits, &diag))) {
        rc = cli_lib_error(st, &diag, out);
        goto done;
    }
    /* with the policy nearest (set here or saved in the model) no row is NaN */
    if (n_empty > 0 && nw_model_empty_policy(model) == NW_EMPTY_NAN)
        cli_warning("%zu of %zu queries had no training point within the kernel's support (use --empty nearest)",
                    n_empty, m);
done:
    prefetch_cancel(query_read);
    for (size_t c2 = 0; yhat_names && c2 < nw_model_p(model); c2++) free(yhat_names[c2]);
    free(yhat_names);
    free(names);
    free(qnames_buf);
    free(col);
    free(stride);
    free(weights);
    free(yhat);
    free(q_copy);
    free(q_cols);
    free(x_names);
    free(default_names);
    nw_table_free(queries);
    nw_model_free(model);
    data_free(&data);
    model_opts_free(&o);
    return rc;
}
