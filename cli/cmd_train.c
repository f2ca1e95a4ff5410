/*
 * cmd_train.c: `nwreg train`: the notebook's training loop.  Full-batch
 * gradient descent on the leave-one-out loss L(w) = 1/2 sum_i (y_i - yhat_-i)^2
 * over the Gaussian scale w = 1/h, one line per epoch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char usage[] =
    "usage: nwreg train TRAIN.csv [options]\n"
    "\n"
    "Learn the scale w (= 1/h) of the Gaussian kernel, the notebook's way:\n"
    "each epoch computes the leave-one-out loss L = 1/2 sum_i (y_i - yhat_-i)^2\n"
    "and its gradient at w, then steps.  Prints one line per epoch,\n"
    "  epoch E loss L w W grad G\n"
    "(L and G before the step, W after it; lists for several inputs), then\n"
    "  w W\n"
    "with the final w.\n"
    "\n"
    "options:\n"
    "  --w0 W[,W...]      starting scale, one or one per input (default 1; the\n"
    "                     notebook draws it from torch.rand: e.g. 0.3755578398704529)\n"
    "  --lr R             learning rate (default 0.5)\n"
    "  --epochs N         epochs (default 5)\n"
    "  --optimizer OPT    sgd (w -= lr grad) or adam (PyTorch's Adam) (default sgd)\n"
    "  --x COLS           input columns, names or 1-based indices, comma-separated\n"
    "                     (default: x if columns x and y exist, else all but the last)\n"
    "  --y COLS           output columns (default: y, else the last)\n"
    "  --threads N        threads for the sums (default 0: OpenMP's choice)\n"
    "  -o MODEL.json      save the trained model ('-': to stdout, and the epoch\n"
    "                     lines go to stderr)\n"
    "  -h, --help         show this help\n"
    "\n";

/* Where the epoch lines go: stdout, or stderr when the model goes to stdout. */
typedef struct epoch_out {
    progress *bar;
    FILE *fp;
} epoch_out;

/* Each epoch: erase the bar, print the epoch line; stop after Ctrl-C. */
static int epoch_cb(const nw_epoch *e, void *ctx)
{
    epoch_out *eo = ctx;
    progress_end(eo->bar);
    fprint_epoch(eo->fp, e);
    fflush(eo->fp);
    return interrupted();
}

int cmd_train(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "w0", required_argument, NULL, OPT_W0 },
        { "lr", required_argument, NULL, OPT_LR },
        { "epochs", required_argument, NULL, OPT_EPOCHS },
        { "optimizer", required_argument, NULL, OPT_OPTIMIZER },
        { "x", required_argument, NULL, OPT_X },
        { "y", required_argument, NULL, OPT_Y },
        { "threads", required_argument, NULL, OPT_THREADS },
        IO_LONGOPTS,
        ENGINE_LONGOPTS,
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *cmd = argv[0], *out = NULL, *x_spec = NULL, *y_spec = NULL;
    double *w0 = NULL, *w = NULL;
    size_t nw0 = 0;
    int threads = -1, c, rc = 0;
    nw_train_options topt;
    nw_train_options_init(&topt);

    while (rc == 0 && (c = cli_getopt(argc, argv, ":hqo:", longopts)) != -1) {
        switch (c) {
        case 'h':
            fputs(usage, stdout);
            fputs(io_opts_help, stdout);
            fputs(engine_opts_help, stdout);
            free(w0);
            return EXIT_OK;
        case 'o': out = optarg; break;
        case OPT_W0: rc = opt_list(cmd, "--w0", optarg, LIST_NONZERO, &w0, &nw0); break;
        case OPT_LR: rc = opt_positive(cmd, "--lr", optarg, &topt.lr); break;
        case OPT_EPOCHS: rc = opt_int(cmd, "--epochs", optarg, 0, 1000000000, &topt.epochs); break;
        case OPT_OPTIMIZER: rc = opt_optimizer(cmd, optarg, &topt.optimizer); break;
        case OPT_X: x_spec = optarg; break;
        case OPT_Y: y_spec = optarg; break;
        case OPT_THREADS: rc = opt_int(cmd, "--threads", optarg, 0, 4096, &threads); break;
        case '?': rc = EXIT_USAGE; break;
        default: rc = cli_settings_parse(cmd, c, optarg, 1); break;
        }
    }
    if (rc == 0 && optind != argc - 1)
        rc = cli_usage_error(cmd, optind >= argc ? "missing TRAIN.csv" : "too many arguments");
    if (rc == 0) rc = cli_check_output(cmd, "-o", out, (const char *const *) &argv[optind], 1);
    if (rc) {
        free(w0);
        return rc;
    }

    cli_data data;
    nw_model *model = NULL;
    nw_status st;
    if ((rc = data_read_model(&data, argv[optind], x_spec, y_spec, &model))) goto done;
    if ((rc = cli_need_two_rows(argv[optind], data.n))) goto done;
    const size_t d = data.d;
    if (!(w = malloc(d * sizeof *w))) { rc = cli_error("out of memory"); goto done; }
    for (size_t k = 0; k < d; k++) w[k] = 1;
    if (w0 && (rc = spread_values(cmd, "--w0", w0, nw0, d, w))) goto done;

    if ((st = nw_model_set_names(model, data.x_names, data.y_names)) ||
        (threads >= 0 && (st = nw_model_set_threads(model, threads)))) {
        rc = cli_input_error(st, NULL, argv[optind]);
        goto done;
    }
    if ((rc = cli_apply_engine(model, cmd))) goto done;
    progress bar;
    progress_start(&bar, "training", cli.quiet);
    nw_model_set_progress(model, progress_cb, &bar);
    epoch_out eo = { &bar, out && strcmp(out, "-") == 0 ? stderr : stdout };
    topt.on_epoch = epoch_cb;
    topt.ctx = &eo;
    st = nw_train(model, &topt, w, w);
    progress_end(&bar);
    nw_model_set_progress(model, NULL, NULL);
    if (st) {
        rc = cli_data_error(st, argv[optind], "training failed");
        goto done;
    }
    if (interrupted()) { rc = cli_interrupted(); goto done; }
    fputs("w ", eo.fp);
    print_list(eo.fp, w, d);
    putc('\n', eo.fp);

    if (out) {
        nw_diag diag = { { 0 }, 0, 0 };
        fflush(stdout);
        if ((st = nw_model_save(model, out, &diag))) rc = cli_lib_error(st, &diag, out);
    }
done:
    nw_model_free(model);
    data_free(&data);
    free(w0);
    free(w);
    return rc;
}
