/*
 * common.h: what the nwreg subcommands share: error messages, option values,
 * reading a CSV file into x/y arrays, and making a model (fitted from
 * options, or loaded from a model file).
 *
 * Conventions of every subcommand:
 *  - it is `int cmd_NAME(int argc, char **argv)` with argv[0] = "NAME", and
 *    returns the exit status: 0 success; 2 a usage error or an input error
 *    (a bad or missing input file, a bad CSV cell, a bad model file, a bad
 *    option value); 1 anything else (a write failure, out of memory, a
 *    numeric failure); 130 when Ctrl-C stopped it (message "interrupted");
 *  - it prints at most one error line, through cli_error / cli_usage_error /
 *    cli_input_error / cli_bad_input / cli_lib_error, and frees everything
 *    it allocated before returning;
 *  - it writes every output file atomically (nw_csv_write, nw_model_save and
 *    the plot_* functions all do), and only after all computing is done.
 */
#ifndef NW_CLI_COMMON_H
#define NW_CLI_COMMON_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nwreg.h"
#include "plot.h"
#include "progress.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

/* The subcommands (each in its own cmd_*.c). */
int cmd_demo(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_fit(int argc, char **argv);
int cmd_cv(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_info(int argc, char **argv);

/* ------------------------------------------------------------- messages */

/* "nwreg: MESSAGE" on stderr; returns EXIT_FAIL. */
int cli_error(const char *fmt, ...);
/* "nwreg: MESSAGE (see 'nwreg CMD --help')" on stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...);
/* A library failure: the diag's message when it has one (it already starts
 * with FILE:LINE:), else "WHAT: <nw_strerror(status)>".  Returns EXIT_FAIL;
 * but after Ctrl-C (or for NW_ERR_STOPPED) "nwreg: interrupted" and
 * EXIT_INTERRUPTED. */
int cli_lib_error(nw_status status, const nw_diag *diag, const char *what);
/* The same for a failure caused by the input (reading a data or model file,
 * a value the user gave): EXIT_USAGE, except EXIT_FAIL for NW_ERR_NOMEM. */
int cli_input_error(nw_status status, const nw_diag *diag, const char *what);
/* "nwreg: MESSAGE" about a bad input; returns EXIT_USAGE. */
int cli_bad_input(const char *fmt, ...);
/* A computation on the data of `path` failed: "PATH: WHAT: <why>".  The
 * statuses the data cause (too few rows, no spread for a bandwidth, sizes,
 * non-finite values) exit EXIT_USAGE; a numeric breakdown and the rest
 * EXIT_FAIL; Ctrl-C EXIT_INTERRUPTED. */
int cli_data_error(nw_status status, const char *path, const char *what);
/* EXIT_USAGE naming path when n < 2 rows (leave-one-out needs 2). */
int cli_need_two_rows(const char *path, size_t n);

/* The criterion of `model` over a log grid of k bandwidths per input (0.05
 * to 20 times Scott's rule, unless hmin/hmax give 1 or d values) and its
 * optimum, as `nwreg cv` and `nwreg plot cv` show them, with progress bars
 * and --verbose timings.  grid is d x k (grid[j k + i] for input j), value
 * has k (d = 1) or k^2 cells (h1 slowest); both malloc'd (cv_grid_free).
 * Returns 0, or an exit status after one message naming `source`. */
typedef struct cv_grid {
    size_t k, cells;
    double *grid, *value;
    double hopt[2];
    nw_select_result best;
} cv_grid;
int cv_grid_compute(nw_model *model, nw_criterion crit, size_t k, const char *cmd,
                     const char *source, const double *hmin, size_t n_hmin,
                     const double *hmax, size_t n_hmax, cv_grid *out);
void cv_grid_free(cv_grid *c);
/* Refuse (EXIT_USAGE, naming it) an output file `out` (may be NULL or "-")
 * that is one of the n input files (compared by device and inode). */
int cli_check_output(const char *cmd, const char *opt, const char *out,
                     const char *const *inputs, size_t n);
/* "nwreg: interrupted"; returns EXIT_INTERRUPTED. */
int cli_interrupted(void);
/* "nwreg: warning: MESSAGE" on stderr. */
void cli_warning(const char *fmt, ...);

/* ------------------------------------------------------ option parsing */

/* Long-option ids shared by the subcommands (short options use letters). */
enum {
    OPT_W = 256, OPT_W0, OPT_BANDWIDTH, OPT_SELECT, OPT_KERNEL, OPT_ESTIMATOR,
    OPT_EMPTY, OPT_LR, OPT_EPOCHS, OPT_OPTIMIZER, OPT_X, OPT_Y, OPT_THREADS,
    OPT_WEIGHTS, OPT_CRITERION, OPT_GRID, OPT_HMIN, OPT_HMAX, OPT_PLOT,
    OPT_FORMAT, OPT_OUT, OPT_SEED, OPT_N, OPT_M, OPT_TRAIN, OPT_TEST, OPT_QUIET,
    OPT_HELP, OPT_VERBOSE, OPT_DELIM, OPT_COMMENT, OPT_PRECISION, OPT_ENGINE,
    OPT_TOLERANCE, OPT_MEMORY, OPT_JSON
};

/* The levels of --quiet / --verbose, and the CSV and arithmetic options
 * every subcommand shares (one command runs per process). */
typedef struct cli_settings {
    int quiet;                /* -q, --quiet: no progress, warnings or summaries */
    int verbose;              /* --verbose: timings, engine, bound on stderr */
    nw_table_read_opts csv;   /* --delim, --comment */
    int digits;               /* --precision N: significant digits (0 = exact) */
    int arith_set;            /* --precision f32|f64 given */
    nw_precision arith;
    int engine_set;           /* --engine given */
    nw_engine_kind engine;
    int tolerance_set;        /* --tolerance given */
    double tolerance;
    int memory_set;           /* --memory given */
    double memory;            /* bytes */
} cli_settings;
extern cli_settings cli;

/* Options of every subcommand (short option 'q'). */
#define IO_LONGOPTS                                                 \
    { "quiet", no_argument, NULL, 'q' },                            \
    { "verbose", no_argument, NULL, OPT_VERBOSE },                  \
    { "delim", required_argument, NULL, OPT_DELIM },                \
    { "comment", required_argument, NULL, OPT_COMMENT },            \
    { "precision", required_argument, NULL, OPT_PRECISION }
/* Options of the subcommands that compute sums (predict, fit, cv, train). */
#define ENGINE_LONGOPTS                                             \
    { "engine", required_argument, NULL, OPT_ENGINE },              \
    { "tolerance", required_argument, NULL, OPT_TOLERANCE },        \
    { "memory", required_argument, NULL, OPT_MEMORY }

/* Handle option `id` if it is one of IO_LONGOPTS or ENGINE_LONGOPTS: 0 when
 * it was, EXIT_USAGE after a message for a bad value, -1 when it is not.
 * computes: whether cmd computes sums (else --engine, --tolerance,
 * --memory and --precision f32|f64 are usage errors). */
int cli_settings_parse(const char *cmd, int id, const char *arg, int computes);
/* Usage lines of IO_LONGOPTS and ENGINE_LONGOPTS. */
extern const char io_opts_help[];
extern const char engine_opts_help[];
/* Give the model the --engine, --tolerance, --memory, --precision f32|f64
 * that were set.  Returns 0 or EXIT_USAGE after a message. */
int cli_apply_engine(nw_model *model, const char *what);
/* With --verbose: "nwreg: WHAT: engine E, certified relative error B,
 * F exact fallbacks, S s" on stderr. */
void cli_report_run(const char *what, const nw_run_info *info);
/* "nwreg: MESSAGE" on stderr with --verbose only. */
void cli_verbose(const char *fmt, ...);

/* The closest of n candidates to word by edit distance, or NULL when none
 * is within 2 edits (and fewer edits than word has characters). */
const char *cli_closest(const char *word, const char *const *candidates, size_t n);

/* Read a CSV file with the --delim/--comment settings; prints an input
 * error and returns EXIT_USAGE (EXIT_FAIL if out of memory) on failure. */
int cli_table_read(const char *path, nw_table **table);

/* getopt_long over argv (argv[0] is the subcommand's name), with getopt's
 * own messages turned off.  Returns the option's id, -1 when the options
 * end (the operands are then argv[optind..argc)), or '?' after printing a
 * usage error (unknown option, missing value). */
int cli_getopt(int argc, char **argv, const char *shortopts,
               const struct option *longopts);

/* Values of options.  Each returns 0, or prints a usage error naming the
 * option (opt is its spelling, e.g. "--lr") and returns EXIT_USAGE.
 * Numbers must fill the whole string and be finite. */
int opt_double(const char *cmd, const char *opt, const char *arg, double *v);
int opt_positive(const char *cmd, const char *opt, const char *arg, double *v);
int opt_int(const char *cmd, const char *opt, const char *arg, long lo, long hi, int *v);
int opt_size(const char *cmd, const char *opt, const char *arg, size_t lo, size_t *v);
int opt_seed(const char *cmd, const char *opt, const char *arg, uint64_t *v);
/* A comma-separated list of numbers, each checked (nonzero: w scales;
 * positive: bandwidths).  *values is malloc'd (free it), *count >= 1. */
enum { LIST_ANY, LIST_NONZERO, LIST_POSITIVE };
int opt_list(const char *cmd, const char *opt, const char *arg, int check,
             double **values, size_t *count);
int opt_kernel(const char *cmd, const char *arg, nw_kernel *kernel);
int opt_estimator(const char *cmd, const char *arg, nw_estimator *estimator);
int opt_empty(const char *cmd, const char *arg, nw_empty_policy *policy);
int opt_optimizer(const char *cmd, const char *arg, nw_optimizer *optimizer);
int opt_criterion(const char *cmd, const char *arg, nw_criterion *criterion);
int opt_format(const char *cmd, const char *arg, plot_format *fmt);

/* A list of 1 or d values stretched to d values (out has d entries).
 * Returns 0, or prints an error and returns EXIT_USAGE. */
int spread_values(const char *cmd, const char *opt, const double *values,
                  size_t count, size_t d, double *out);

/* The plot format of path: `fmt_name` (--format) when not NULL, else from
 * the extension .png/.svg/.pdf.  Returns 0 or EXIT_USAGE after a message. */
int plot_format_for(const char *cmd, const char *path, const char *fmt_name,
                    plot_format *fmt);
/* PLplot for a command that will draw (plot_load), called once its command
 * line is checked and before it reads, computes or creates anything.
 * Returns 0, or EXIT_FAIL after the loader's message. */
int cli_load_plplot(void);

/* Seconds on a monotonic clock. */
double cli_now(void);

/* ----------------------------------------------------------------- data */

/* A CSV file read as inputs x (n x d) and outputs y (n x p).
 * Columns: --x/--y COLS (names or 1-based indices, comma-separated); by
 * default the columns named x and y when both exist, else every column but
 * the last as inputs and the last as the output.  With only --x, the output
 * is the column y if there is one outside --x, else the last column outside
 * --x; with only --y, the inputs are the column x if there is one outside
 * --y, else every column outside --y. */
typedef struct cli_data {
    const char *path;         /* the file's name as given */
    size_t n, d, p;
    double *x, *y;            /* n x d, n x p, row-major */
    const char **x_names;     /* d names (pointing into names_buf) */
    const char **y_names;     /* p names */
    char *names_buf;          /* the names' own copies (the table is freed
                                 once x and y are out of it: memory) */
} cli_data;

/* Returns 0, or prints an error and returns EXIT_FAIL.  x_spec, y_spec
 * may be NULL.  On failure *data is
 * left empty (data_free is still safe). */
int data_read(cli_data *data, const char *path, const char *x_spec,
              const char *y_spec);
void data_free(cli_data *data);

/* The indices (cols, count of them) of the columns of `table` named by
 * `names`, by name only (the first of equal names); 0, or EXIT_USAGE after
 * an error naming the first missing column. */
int data_find_columns(const nw_table *table, const char *path, const char *const *names,
                      size_t count, size_t *cols);

/* ---------------------------------------------------------------- models */

/* How predict and fit choose the bandwidths. */
typedef enum bw_method {
    BW_NONE = 0,   /* nothing given */
    BW_SCALE,      /* --w W[,W...]: scales, h = 1/|w| */
    BW_FIXED,      /* --bandwidth H[,H...] */
    BW_LOO, BW_AICC, BW_SCOTT, BW_SILVERMAN, BW_SGD, BW_ADAM /* --select */
} bw_method;

/* The options of predict and fit that make a model. */
typedef struct model_opts {
    const char *cmd;      /* the subcommand, for messages */
    bw_method method;
    double *values;       /* --w or --bandwidth values (malloc'd) */
    size_t nvalues;
    nw_kernel kernel;
    nw_estimator estimator;
    nw_empty_policy empty;
    int empty_set;          /* --empty given */
    nw_train_options train; /* --lr, --epochs (sgd/adam) */
    double *w0;             /* --w0 (sgd/adam; default 1) */
    size_t nw0;
    int threads;            /* --threads; -1 when not given */
    const char *x_spec, *y_spec;
    const char *model_flag; /* the first option given that a saved model fixes */
} model_opts;

void model_opts_init(model_opts *o, const char *cmd);
void model_opts_free(model_opts *o);

/* The long options model_opts_parse understands (for getopt tables). */
#define MODEL_LONGOPTS                                              \
    { "w", required_argument, NULL, OPT_W },                        \
    { "bandwidth", required_argument, NULL, OPT_BANDWIDTH },        \
    { "select", required_argument, NULL, OPT_SELECT },              \
    { "kernel", required_argument, NULL, OPT_KERNEL },              \
    { "estimator", required_argument, NULL, OPT_ESTIMATOR },        \
    { "empty", required_argument, NULL, OPT_EMPTY },                \
    { "lr", required_argument, NULL, OPT_LR },                      \
    { "epochs", required_argument, NULL, OPT_EPOCHS },              \
    { "w0", required_argument, NULL, OPT_W0 },                      \
    { "x", required_argument, NULL, OPT_X },                        \
    { "y", required_argument, NULL, OPT_Y },                        \
    { "threads", required_argument, NULL, OPT_THREADS }

/* Handle option `id` if it is one of MODEL_LONGOPTS: returns 0 when it was
 * (and stored), EXIT_USAGE after a message for a bad value, -1 when `id` is
 * not a model option.  Errors name o->cmd. */
int model_opts_parse(model_opts *o, int id, const char *arg);

/* The usage lines of MODEL_LONGOPTS, for the help of predict and fit. */
extern const char model_opts_help[];

/* What model_fit did, for summaries. */
typedef struct fit_info {
    const char *method;     /* "fixed bandwidth", "scale w", "LOO CV", ... */
    int evaluations;        /* criterion (or loss) evaluations spent */
    double seconds;         /* time spent choosing the bandwidths */
} fit_info;

/* Read DATA.csv's chosen columns (as data_read, but x and y are not kept
 * in data): the model takes the table's numbers (nw_model_x/y give them),
 * so that the file's numbers are never held twice.  Returns 0, or
 * EXIT_FAIL/EXIT_USAGE after a message (data freed, *model NULL). */
int data_read_model(cli_data *data, const char *path, const char *x_spec, const char *y_spec,
                    nw_model **model);
/* data_read_model, then o applied to the model: kernel, estimator, empty
 * policy, threads, names, then the bandwidths (fixed, or chosen).  Returns
 * 0 or EXIT_FAIL/EXIT_USAGE after a message.  info may be NULL. */
int data_read_fit(cli_data *data, const char *path, const model_opts *o, nw_model **model,
                  fit_info *info);

/* Whether predict's first argument names a model file (it ends in .json). */
int is_model_path(const char *path);

/* predict's first argument: a model file (name ending in .json: loaded;
 * then no option may change it but --empty and --threads) or training data
 * (fitted as model_fit does).  *data is filled only in the second case,
 * and without x and y: the model took the file's numbers over without a
 * second copy (nw_model_new_from_table). */
int model_load_or_fit(const char *source, const model_opts *o, cli_data *data,
                      nw_model **model);

/* ------------------------------------------------------------- printing */

/* One training epoch as `epoch E loss L w W grad G` (%.17g; W and G as
 * comma-separated lists when d > 1), on stdout. */
void print_epoch(const nw_epoch *e);
/* The same on fp. */
void fprint_epoch(FILE *fp, const nw_epoch *e);
/* nw_epoch_fn that prints each epoch (ctx unused). */
int print_epoch_cb(const nw_epoch *e, void *ctx);
/* n doubles as %.17g separated by commas. */
void print_list(FILE *fp, const double *v, size_t n);

#endif
