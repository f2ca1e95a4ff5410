/*
 * fuzz_cli.c: the CLI's option parsing (cli/common.c) on arbitrary argument
 * vectors.  The input is split at NUL bytes into at most MAX_WORDS words,
 * which follow argv[0] = "fit".  They go through cli_getopt with the union
 * of every subcommand's options, each value through the parser the
 * subcommands use for it (model_opts_parse, opt_size, opt_list, opt_seed,
 * opt_format, plot_format_for, ...); when everything parsed, the --x/--y
 * column lists are resolved by data_read against a fixed 12-row CSV in a
 * private directory and model_fit makes the model (training capped at 3
 * epochs), then predicts at the data.  Nothing is written but that CSV:
 * output paths (-o, --plot, --out) are only parsed.
 *
 * Invariants besides "no crash, no leak, no UB": every parser returns 0 or
 * a usage status (2), or 1 for an error that is not the caller's; no model
 * option id is left unhandled.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "fuzzutil.h"

enum { MAX_WORDS = 48 };

static const struct option longopts[] = {
    MODEL_LONGOPTS,
    { "criterion", required_argument, NULL, OPT_CRITERION },
    { "optimizer", required_argument, NULL, OPT_OPTIMIZER },
    { "grid", required_argument, NULL, OPT_GRID },
    { "hmin", required_argument, NULL, OPT_HMIN },
    { "hmax", required_argument, NULL, OPT_HMAX },
    { "plot", required_argument, NULL, OPT_PLOT },
    { "format", required_argument, NULL, OPT_FORMAT },
    { "out", required_argument, NULL, OPT_OUT },
    { "seed", required_argument, NULL, OPT_SEED },
    { "n", required_argument, NULL, OPT_N },
    { "m", required_argument, NULL, OPT_M },
    { "train", required_argument, NULL, OPT_TRAIN },
    { "test", required_argument, NULL, OPT_TEST },
    { "weights", required_argument, NULL, OPT_WEIGHTS },
    { "quiet", no_argument, NULL, OPT_QUIET },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static char csv_path[512];

static const char *data_csv(void)
{
    if (csv_path[0]) return csv_path;
    snprintf(csv_path, sizeof csv_path, "%s/data.csv", fuzz_dir());
    FILE *fp = fopen(csv_path, "w");
    FUZZ_CHECK(fp != NULL);
    fputs("x,y,z,2,\"a,b\"\n", fp);
    for (int i = 0; i < 12; i++)
        fprintf(fp, "%g,%g,%g,%g,%g\n", 0.4 * i, (i * 7 % 5) * 0.3, (i * i % 11) * 0.1,
                1.0 + i % 3, (double) (i % 2));
    FUZZ_CHECK(fclose(fp) == 0);
    return csv_path;
}

static void remove_csv(void)
{
    if (csv_path[0]) unlink(csv_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc, (void) argv;
    data_csv();
    atexit(remove_csv);
    return 0;
}

/* A parser's status: 0 or a usage error (out of memory is EXIT_FAIL). */
static int checked(int rc)
{
    FUZZ_CHECK(rc == 0 || rc == EXIT_USAGE || rc == EXIT_FAIL);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* argv: "fit", then the NUL-separated words of the input */
    char *text = malloc(size + 1), *argv[MAX_WORDS + 2];
    int argc = 0;
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    argv[argc++] = (char *) "fit";
    for (size_t i = 0; i < size && argc <= MAX_WORDS; i += strlen(text + i) + 1)
        argv[argc++] = text + i;
    argv[argc] = NULL;

    model_opts o;
    model_opts_init(&o, "fit");
    double *list = NULL;
    size_t count = 0, k;
    uint64_t seed;
    int rc = 0, c;
    plot_format fmt;
    nw_optimizer optimizer;
    nw_criterion criterion;
    optind = 0; /* glibc: start afresh */
    while (rc == 0 && (c = cli_getopt(argc, argv, ":ho:", longopts)) != -1) {
        switch (c) {
        case '?': rc = EXIT_USAGE; break;
        case 'h': case OPT_QUIET: case OPT_OUT: case OPT_TRAIN: case OPT_TEST: case OPT_WEIGHTS:
            break;
        case 'o': (void) is_model_path(optarg); break;
        case OPT_PLOT: rc = checked(plot_format_for("cv", optarg, NULL, &fmt)); break;
        case OPT_FORMAT: rc = checked(opt_format("cv", optarg, &fmt)); break;
        case OPT_CRITERION: rc = checked(opt_criterion("cv", optarg, &criterion)); break;
        case OPT_OPTIMIZER: rc = checked(opt_optimizer("train", optarg, &optimizer)); break;
        case OPT_GRID: rc = checked(opt_size("cv", "--grid", optarg, 2, &k)); break;
        case OPT_HMIN:
        case OPT_HMAX:
            rc = checked(opt_list("cv", "--hmin", optarg, LIST_POSITIVE, &list, &count));
            FUZZ_CHECK(rc != 0 || (list && count >= 1));
            break;
        case OPT_N: case OPT_M: rc = checked(opt_size("gen", "--n", optarg, 1, &k)); break;
        case OPT_SEED: rc = checked(opt_seed("gen", "--seed", optarg, &seed)); break;
        default:
            rc = model_opts_parse(&o, c, optarg);
            FUZZ_CHECK(rc != -1); /* every id of the table is some parser's */
            checked(rc);
            break;
        }
    }
    if (rc == 0) {
        cli_data d;
        nw_model *model = NULL;
        if (o.train.epochs > 3) o.train.epochs = 3;
        if (checked(data_read_fit(&d, data_csv(), &o, &model, NULL)) == 0) {
            FUZZ_CHECK(d.n == 12 && d.d >= 1 && d.p >= 1 && d.d + d.p <= 5);
            double *yhat = malloc(d.n * d.p * sizeof(double));
            FUZZ_CHECK(yhat != NULL);
            FUZZ_CHECK(nw_predict(model, nw_model_x(model), d.n, yhat, NULL) == NW_OK);
            free(yhat);
            nw_model_free(model);
        }
        data_free(&d);
    }
    free(list);
    model_opts_free(&o);
    free(text);
    return 0;
}
