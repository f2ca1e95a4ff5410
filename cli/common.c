/*
 * common.c: the helpers every nwreg subcommand shares (see common.h).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common.h"

/* ------------------------------------------------------------- messages */

/* "nwreg: " PREFIX MESSAGE SUFFIX on stderr, the progress bar cleared first. */
static void message(const char *prefix, const char *suffix, const char *fmt, va_list ap)
{
    progress_clear();
    fputs("nwreg: ", stderr);
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputs(suffix, stderr);
}

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    message("", "\n", fmt, ap);
    va_end(ap);
    return EXIT_FAIL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    message("", "", fmt, ap);
    if (cmd) fprintf(stderr, " (see 'nwreg %s --help')\n", cmd);
    else fputs(" (see 'nwreg --help')\n", stderr);
    va_end(ap);
    return EXIT_USAGE;
}

cli_settings cli = { .digits = 0 };

int cli_interrupted(void)
{
    progress_clear();
    fputs("nwreg: interrupted\n", stderr);
    return EXIT_INTERRUPTED;
}

int cli_lib_error(nw_status status, const nw_diag *diag, const char *what)
{
    if (status == NW_ERR_STOPPED || interrupted()) return cli_interrupted();
    if (diag && diag->message[0]) return cli_error("%s", diag->message);
    return cli_error("%s: %s", what, nw_strerror(status));
}

int cli_input_error(nw_status status, const nw_diag *diag, const char *what)
{
    int rc = cli_lib_error(status, diag, what);
    return rc == EXIT_FAIL && status != NW_ERR_NOMEM ? EXIT_USAGE : rc;
}

int cli_bad_input(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    message("", "\n", fmt, ap);
    va_end(ap);
    return EXIT_USAGE;
}

int cli_data_error(nw_status status, const char *path, const char *what)
{
    if (status == NW_ERR_STOPPED || interrupted()) return cli_interrupted();
    cli_error("%s: %s: %s", path, what, nw_strerror(status));
    switch (status) {
    case NW_ERR_EMPTY: case NW_ERR_BANDWIDTH: case NW_ERR_SHAPE: case NW_ERR_NONFINITE:
    case NW_ERR_PARSE: case NW_ERR_FORMAT:
        return EXIT_USAGE;
    default:
        return EXIT_FAIL;
    }
}

int cli_need_two_rows(const char *path, size_t n)
{
    if (n >= 2) return 0;
    return cli_bad_input("%s: %zu row: leave-one-out needs at least 2", path, n);
}

int cli_check_output(const char *cmd, const char *opt, const char *out,
                     const char *const *inputs, size_t n)
{
    struct stat so, si;
    if (!out || strcmp(out, "-") == 0 || stat(out, &so) != 0 || !S_ISREG(so.st_mode)) return 0;
    for (size_t i = 0; i < n; i++)
        if (inputs[i] && strcmp(inputs[i], "-") != 0 && stat(inputs[i], &si) == 0 &&
            si.st_dev == so.st_dev && si.st_ino == so.st_ino)
            return cli_usage_error(cmd, "%s %s: is the input file %s; write elsewhere", opt, out,
                                   inputs[i]);
    return 0;
}

void cli_verbose(const char *fmt, ...)
{
    if (!cli.verbose) return;
    va_list ap;
    va_start(ap, fmt);
    message("", "\n", fmt, ap);
    va_end(ap);
}

void cli_warning(const char *fmt, ...)
{
    if (cli.quiet) return;
    va_list ap;
    va_start(ap, fmt);
    message("warning: ", "\n", fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------ option parsing */

int cli_getopt(int argc, char **argv, const char *shortopts,
               const struct option *longopts)
{
    opterr = 0;
    int c = getopt_long(argc, argv, shortopts, longopts, NULL);
    if (c != '?' && c != ':') return c;
    /* the offending word is argv[optind - 1] ("--name[=value]" or "-c") */
    const char *word = optind > 1 && optind <= argc ? argv[optind - 1] : "";
    if (strncmp(word, "--", 2) == 0) {
        size_t len = strcspn(word, "=");
        if (c == ':') {
            cli_usage_error(argv[0], "option '%.*s' needs a value", (int) len, word);
        } else if (optopt == 0) {
            /* a suggestion among this subcommand's long options */
            const char *names[128];
            char name[64];
            size_t n = 0;
            for (const struct option *o = longopts; o && o->name && n < 128; o++) names[n++] = o->name;
            snprintf(name, sizeof name, "%.*s", (int) (len - 2 < sizeof name - 1 ? len - 2 : sizeof name - 1),
                     word + 2);
            const char *best = cli_closest(name, names, n);
            if (best)
                cli_usage_error(argv[0], "unknown option '%.*s'; did you mean '--%s'?", (int) len,
                                word, best);
            else
                cli_usage_error(argv[0], "unknown option '%.*s'", (int) len, word);
        } else {
            cli_usage_error(argv[0], "option '%.*s' takes no value", (int) len, word);
        }
    } else if (c == ':') {
        cli_usage_error(argv[0], "option '-%c' needs a value", optopt);
    } else {
        cli_usage_error(argv[0], "unknown option '-%c'", optopt);
    }
    return '?';
}

/* A whole string as a finite double. */
static int parse_double(const char *s, double *v)
{
    char *end;
    if (!s || !*s) return -1;
    double x = strtod(s, &end);
    if (*end != '\0' || !isfinite(x)) return -1;
    *v = x;
    return 0;
}

int opt_double(const char *cmd, const char *opt, const char *arg, double *v)
{
    if (parse_double(arg, v) != 0)
        return cli_usage_error(cmd, "%s '%s': not a finite number", opt, arg);
    return 0;
}

int opt_positive(const char *cmd, const char *opt, const char *arg, double *v)
{
    if (opt_double(cmd, opt, arg, v) != 0) return EXIT_USAGE;
    if (!(*v > 0)) return cli_usage_error(cmd, "%s %s: must be positive", opt, arg);
    return 0;
}

int opt_int(const char *cmd, const char *opt, const char *arg, long lo, long hi, int *v)
{
    char *end;
    errno = 0;
    long x = strtol(arg, &end, 10);
    if (!*arg || *end != '\0' || errno == ERANGE)
        return cli_usage_error(cmd, "%s '%s': not an integer", opt, arg);
    if (x < lo || x > hi)
        return cli_usage_error(cmd, "%s %s: must be between %ld and %ld", opt, arg, lo, hi);
    *v = (int) x;
    return 0;
}

int opt_size(const char *cmd, const char *opt, const char *arg, size_t lo, size_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(arg, &end, 10);
    if (!*arg || *end != '\0' || errno == ERANGE || arg[0] == '-' || x > SIZE_MAX)
        return cli_usage_error(cmd, "%s '%s': not a count", opt, arg);
    if (x < lo) return cli_usage_error(cmd, "%s %s: must be at least %zu", opt, arg, lo);
    *v = (size_t) x;
    return 0;
}

int opt_seed(const char *cmd, const char *opt, const char *arg, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(arg, &end, 10);
    if (!*arg || *end != '\0' || errno == ERANGE || arg[0] == '-' || arg[0] == '+')
        return cli_usage_error(cmd, "%s '%s': not a seed (0 to 2^64-1)", opt, arg);
    *v = (uint64_t) x;
    return 0;
}

int opt_list(const char *cmd, const char *opt, const char *arg, int check,
             double **values, size_t *count)
{
    size_t k = 1;
    for (const char *s = arg; *s; s++) k += *s == ',';
    double *v = malloc(k * sizeof *v);
    char *copy = strdup(arg);
    if (!v || !copy) {
        free(v);
        free(copy);
        return cli_error("out of memory");
    }
    char *item = copy;
    for (size_t i = 0; i < k; i++) {
        char *comma = strchr(item, ',');
        if (comma) *comma = '\0';
        const char *why = NULL;
        if (parse_double(item, &v[i]) != 0) why = "not a finite number";
        else if (check == LIST_NONZERO && v[i] == 0) why = "a scale w must be nonzero (w = 1/h)";
        else if (check == LIST_POSITIVE && !(v[i] > 0)) why = "a bandwidth must be positive";
        if (why) {
            int rc = cli_usage_error(cmd, "%s '%s': %s", opt, item, why);
            free(v);
            free(copy);
            return rc;
        }
        item = comma ? comma + 1 : item;
    }
    free(copy);
    free(*values);
    *values = v;
    *count = k;
    return 0;
}

int opt_kernel(const char *cmd, const char *arg, nw_kernel *kernel)
{
    if (nw_kernel_from_name(arg, kernel) == NW_OK) return 0;
    return cli_usage_error(cmd, "--kernel '%s': unknown kernel", arg);
}

int opt_estimator(const char *cmd, const char *arg, nw_estimator *estimator)
{
    if (nw_estimator_from_name(arg, estimator) == NW_OK) return 0;
    return cli_usage_error(cmd, "--estimator '%s': use lc or ll", arg);
}

int opt_empty(const char *cmd, const char *arg, nw_empty_policy *policy)
{
    if (strcmp(arg, "nan") == 0) *policy = NW_EMPTY_NAN;
    else if (strcmp(arg, "nearest") == 0) *policy = NW_EMPTY_NEAREST;
    else return cli_usage_error(cmd, "--empty '%s': use nan or nearest", arg);
    return 0;
}

int opt_optimizer(const char *cmd, const char *arg, nw_optimizer *optimizer)
{
    if (strcmp(arg, "sgd") == 0) *optimizer = NW_OPTIMIZER_SGD;
    else if (strcmp(arg, "adam") == 0) *optimizer = NW_OPTIMIZER_ADAM;
    else return cli_usage_error(cmd, "--optimizer '%s': use sgd or adam", arg);
    return 0;
}

int opt_criterion(const char *cmd, const char *arg, nw_criterion *criterion)
{
    if (strcmp(arg, "loo") == 0) *criterion = NW_CRITERION_LOO;
    else if (strcmp(arg, "aicc") == 0) *criterion = NW_CRITERION_AICC;
    else return cli_usage_error(cmd, "--criterion '%s': use loo or aicc", arg);
    return 0;
}

int opt_format(const char *cmd, const char *arg, plot_format *fmt)
{
    if (plot_format_from_name(arg, fmt) == 0) return 0;
    return cli_usage_error(cmd, "--format '%s': use png, svg or pdf", arg);
}

int spread_values(const char *cmd, const char *opt, const double *values,
                  size_t count, size_t d, double *out)
{
    if (count != 1 && count != d)
        return cli_usage_error(cmd, "%s: give 1 or %zu values (one per input), not %zu",
                               opt, d, count);
    for (size_t k = 0; k < d; k++) out[k] = values[count == 1 ? 0 : k];
    return 0;
}

int plot_format_for(const char *cmd, const char *path, const char *fmt_name,
                    plot_format *fmt)
{
    if (fmt_name) return opt_format(cmd, fmt_name, fmt);
    const char *dot = strrchr(path, '.');
    if (dot && !strchr(dot, '/') && plot_format_from_name(dot + 1, fmt) == 0) return 0;
    return cli_usage_error(cmd, "%s: cannot tell the format (name it .png, .svg or .pdf, or give --format)",
                           path);
}

int cli_load_plplot(void)
{
    char err[512];
    return plot_load(err, sizeof err) ? cli_error("%s", err) : 0;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

/* ------------------------------------------------------- shared options */

const char io_opts_help[] =
    "input and output:\n"
    "  --delim D             field delimiter of input CSV: ',', ';', tab (or\n"
    "                        '\\t'), '|' (default: detected from the header line)\n"
    "  --comment C           skip input lines starting with the character C\n"
    "                        (e.g. '#'; default: no comment lines)\n"
    "  --precision N         significant digits of output numbers, 1 to 17\n"
    "                        (default: the shortest form that reads back exactly)\n"
    "  -q, --quiet           no progress bar, warnings or summaries\n"
    "  --verbose             timings, the engine that ran and its error bound\n"
    "                        on stderr\n"
    "Any input or output file may be '-': stdin or stdout.  A progress bar is\n"
    "drawn on stderr when it is a terminal; Ctrl-C stops cleanly (exit 130).\n";

const char engine_opts_help[] =
    "\n"
    "arithmetic:\n"
    "  --engine E            auto, dense, sorted, tree or fgt (default auto)\n"
    "  --tolerance T         relative error the fast engines certify per\n"
    "                        prediction, 1e-15 to 1e-2 (default 1e-12)\n"
    "  --precision f32|f64   arithmetic of the sums (default f64; f32 is faster,\n"
    "                        its error is measured, not certified)\n"
    "  --memory SIZE         most memory the engines' tables may take: bytes, or\n"
    "                        with K, M, G (powers of 1024), e.g. 256M (default:\n"
    "                        half the data and predictions, at least 16M); more\n"
    "                        can be faster where the data is small\n";

/* --memory: a count of bytes with an optional K, M, G or T (binary). */
static int opt_memory(const char *cmd, const char *arg, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    int shift = 0;
    if (*end && !end[1]) {
        const char *units = "KMGT", *u = strchr(units, *end == 'k' ? 'K' : *end);
        if (u) { shift = 10 * (int) (u - units + 1); end++; }
    }
    if (end == arg || *end || errno == ERANGE || !(v >= 0) || !((arg[0] >= '0' && arg[0] <= '9') || arg[0] == '.'))
        return cli_usage_error(cmd, "--memory '%s': give bytes, or a size such as 512K, 256M, 2G", arg);
    v = ldexp(v, shift);
    if (!(v <= 0x1p62)) return cli_usage_error(cmd, "--memory %s: too large", arg);
    *out = floor(v);
    return 0;
}

/* --delim: one character; "\t", "tab" and a real tab mean tab. */
static int opt_delim(const char *cmd, const char *arg, char *out)
{
    if (strcmp(arg, "\\t") == 0 || strcmp(arg, "tab") == 0) { *out = '\t'; return 0; }
    if (strlen(arg) != 1 || arg[0] == '"' || arg[0] == '\n' || arg[0] == '\r')
        return cli_usage_error(cmd, "--delim '%s': give one character such as ',', ';', tab", arg);
    *out = arg[0];
    return 0;
}

int cli_settings_parse(const char *cmd, int id, const char *arg, int computes)
{
    switch (id) {
    case 'q': cli.quiet = 1; cli.verbose = 0; return 0;
    case OPT_VERBOSE: cli.verbose = 1; cli.quiet = 0; return 0;
    case OPT_DELIM: return opt_delim(cmd, arg, &cli.csv.delimiter);
    case OPT_COMMENT:
        if (strlen(arg) != 1 || arg[0] == '"' || arg[0] == '\n' || arg[0] == '\r')
            return cli_usage_error(cmd, "--comment '%s': give one character such as '#'", arg);
        cli.csv.comment = arg[0];
        if (cli.csv.comment == cli.csv.delimiter)
            return cli_usage_error(cmd, "--comment '%s' is the delimiter", arg);
        return 0;
    case OPT_PRECISION:
        if (strcmp(arg, "f32") == 0 || strcmp(arg, "f64") == 0) {
            if (!computes)
                return cli_usage_error(cmd, "--precision %s sets the arithmetic of predict, fit, cv "
                                            "and train; here give digits (1 to 17)", arg);
            cli.arith_set = 1;
            cli.arith = arg[1] == '3' ? NW_PRECISION_F32 : NW_PRECISION_F64;
            return 0;
        }
        {
            int digits;
            char *end;
            long v = strtol(arg, &end, 10);
            if (!*arg || *end || v < 1 || v > 17)
                return cli_usage_error(cmd, "--precision '%s': give digits 1 to 17%s", arg,
                                       computes ? ", or f32 or f64" : "");
            digits = (int) v;
            cli.digits = digits;
        }
        return 0;
    case OPT_ENGINE:
    case OPT_TOLERANCE:
    case OPT_MEMORY:
        if (!computes) return -1;
        if (id == OPT_MEMORY) {
            if (opt_memory(cmd, arg, &cli.memory)) return EXIT_USAGE;
            cli.memory_set = 1;
            return 0;
        }
        if (id == OPT_ENGINE) {
            if (nw_engine_from_name(arg, &cli.engine) != NW_OK)
                return cli_usage_error(cmd, "--engine '%s': use auto, dense, sorted, tree or fgt", arg);
            cli.engine_set = 1;
            return 0;
        }
        if (opt_double(cmd, "--tolerance", arg, &cli.tolerance)) return EXIT_USAGE;
        if (!(cli.tolerance >= 1e-15 && cli.tolerance <= 1e-2))
            return cli_usage_error(cmd, "--tolerance %s: must be between 1e-15 and 1e-2", arg);
        cli.tolerance_set = 1;
        return 0;
    default:
        return -1;
    }
}

int cli_apply_engine(nw_model *model, const char *what)
{
    nw_status st = NW_OK;
    if ((cli.engine_set && (st = nw_model_set_engine(model, cli.engine))) ||
        (cli.tolerance_set && (st = nw_model_set_tolerance(model, cli.tolerance))) ||
        (cli.memory_set && (st = nw_model_set_memory(model, cli.memory))) ||
        (cli.arith_set && (st = nw_model_set_precision(model, cli.arith))))
        return cli_input_error(st, NULL, what);
    if (nw_model_engine_applies(model) != NW_OK)
        return cli_bad_input("--engine %s does not apply to this model (sorted needs one "
                             "input column, fgt one or two and the gaussian kernel)",
                             nw_engine_name(nw_model_engine(model)));
    return 0;
}

void cli_report_run(const char *what, const nw_run_info *info)
{
    cli_verbose("%s: engine %s, %s relative error %.3g, %zu exact fallbacks, %.3g s", what,
                nw_engine_name(info->engine), info->certified ? "certified" : "uncertified",
                info->error_bound, info->exact_fallbacks, info->seconds);
}

/* Optimal string alignment distance (insertions, deletions, substitutions
 * and swaps of neighbours), for words of at most 63 characters. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return SIZE_MAX;
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

const char *cli_closest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t best_d = 3, len = strlen(word);
    for (size_t i = 0; i < n; i++) {
        size_t dist = edit_distance(word, candidates[i]);
        if (dist < best_d && dist < len) best = candidates[i], best_d = dist;
    }
    return best;
}

int cli_table_read(const char *path, nw_table **table)
{
    nw_diag diag = { { 0 }, 0, 0 };
    nw_status st = nw_table_read_with(path, &cli.csv, table, &diag);
    return st ? cli_input_error(st, &diag, path) : 0;
}

/* ----------------------------------------------------------------- data */

static int contains(const size_t *cols, size_t count, size_t c)
{
    for (size_t i = 0; i < count; i++)
        if (cols[i] == c) return 1;
    return 0;
}

/* Resolve a --x/--y list ("x1,x2", "3") to column indices (malloc'd). */
static int resolve_columns(const nw_table *table, const char *path, const char *opt,
                           const char *spec, size_t **cols_out, size_t *count_out)
{
    size_t k = 1;
    for (const char *s = spec; *s; s++) k += *s == ',';
    size_t *cols = malloc(k * sizeof *cols);
    char *copy = strdup(spec);
    int rc = 0;
    if (!cols || !copy) { rc = cli_error("out of memory"); goto done; }
    char *item = copy;
    for (size_t i = 0; i < k; i++) {
        char *comma = strchr(item, ',');
        if (comma) *comma = '\0';
        if (!*item) { rc = cli_bad_input("%s '%s': empty column name", opt, spec); goto done; }
        if (nw_table_find(table, item, &cols[i]) != NW_OK) {
            rc = cli_bad_input("%s: no column '%s' (%s)", path, item, opt);
            goto done;
        }
        if (contains(cols, i, cols[i])) {
            rc = cli_bad_input("%s: column '%s' chosen twice (%s)", path, item, opt);
            goto done;
        }
        item = comma ? comma + 1 : item;
    }
done:
    free(copy);
    if (rc) { free(cols); return rc; }
    *cols_out = cols;
    *count_out = k;
    return 0;
}

/* The column named `name` if it exists and is not in `taken`. */
static int free_named(const nw_table *table, const char *name, const size_t *taken,
                      size_t ntaken, size_t *col)
{
    size_t cols = nw_table_cols(table);
    for (size_t c = 0; c < cols; c++)
        if (strcmp(nw_table_name(table, c), name) == 0 && !contains(taken, ntaken, c)) {
            *col = c;
            return 1;
        }
    return 0;
}

/* The default columns (see common.h), given those chosen explicitly. */
static int default_columns(const nw_table *table, const char *path,
                           size_t **xc, size_t *d, size_t **yc, size_t *p)
{
    size_t cols = nw_table_cols(table), cx, cy;
    if (!*xc && !*yc) {
        if (cols < 2)
            return cli_bad_input("%s: needs at least two columns (inputs, then the output)", path);
        if (free_named(table, "x", NULL, 0, &cx) && free_named(table, "y", NULL, 0, &cy)) {
            if (!(*xc = malloc(sizeof **xc)) || !(*yc = malloc(sizeof **yc)))
                return cli_error("out of memory");
            (*xc)[0] = cx, *d = 1;
            (*yc)[0] = cy, *p = 1;
            return 0;
        }
        if (!(*xc = malloc((cols - 1) * sizeof **xc)) || !(*yc = malloc(sizeof **yc)))
            return cli_error("out of memory");
        for (size_t c = 0; c + 1 < cols; c++) (*xc)[c] = c;
        *d = cols - 1;
        (*yc)[0] = cols - 1, *p = 1;
        return 0;
    }
    if (!*yc) { /* --x only: y, else the last column not among the inputs */
        if (!free_named(table, "y", *xc, *d, &cy)) {
            size_t c = cols;
            while (c > 0 && contains(*xc, *d, c - 1)) c--;
            if (c == 0) return cli_bad_input("%s: no column left for the output (--x takes them all)", path);
            cy = c - 1;
        }
        if (!(*yc = malloc(sizeof **yc))) return cli_error("out of memory");
        (*yc)[0] = cy, *p = 1;
        return 0;
    }
    if (!*xc) { /* --y only: x, else every column not among the outputs */
        if (!(*xc = malloc(cols * sizeof **xc))) return cli_error("out of memory");
        *d = 0;
        if (free_named(table, "x", *yc, *p, &cx)) (*xc)[(*d)++] = cx;
        else
            for (size_t c = 0; c < cols; c++)
                if (!contains(*yc, *p, c)) (*xc)[(*d)++] = c;
        if (*d == 0) return cli_bad_input("%s: no column left for the inputs (--y takes them all)", path);
    }
    return 0;
}

/* The first steps of data_read: the table, the columns chosen from it
 * (*xc: d indices, *yc: p), and data's path, sizes and names; x and y are
 * left NULL.  On failure everything is freed. */
static int data_select(cli_data *data, const char *path, const char *x_spec, const char *y_spec,
                       nw_table **table, size_t **xc_out, size_t **yc_out)
{
    size_t *xc = NULL, *yc = NULL, d = 0, p = 0;
    int rc;
    memset(data, 0, sizeof *data);
    data->path = path;
    nw_table *t = NULL;
    if ((rc = cli_table_read(path, &t))) return rc;

    if (x_spec && (rc = resolve_columns(t, path, "--x", x_spec, &xc, &d))) goto fail;
    if (y_spec && (rc = resolve_columns(t, path, "--y", y_spec, &yc, &p))) goto fail;
    if ((rc = default_columns(t, path, &xc, &d, &yc, &p))) goto fail;
    for (size_t c = 0; c < p; c++)
        if (contains(xc, d, yc[c])) {
            rc = cli_bad_input("%s: column '%s' is chosen as both input and output", path,
                           nw_table_name(t, yc[c]));
            goto fail;
        }

    data->n = nw_table_rows(t);
    data->d = d;
    data->p = p;
    data->x_names = malloc(d * sizeof(char *));
    data->y_names = malloc(p * sizeof(char *));
    /* the names, copied: the table (as large as x and y) goes soon */
    size_t len = 0;
    for (size_t k = 0; k < d; k++) len += strlen(nw_table_name(t, xc[k])) + 1;
    for (size_t c = 0; c < p; c++) len += strlen(nw_table_name(t, yc[c])) + 1;
    if (!data->x_names || !data->y_names || !(data->names_buf = malloc(len))) {
        rc = cli_error("out of memory");
        goto fail;
    }
    char *at = data->names_buf;
    for (size_t i = 0; i < d + p; i++) {
        const char *name = nw_table_name(t, i < d ? xc[i] : yc[i - d]);
        size_t l = strlen(name) + 1;
        memcpy(at, name, l);
        if (i < d) data->x_names[i] = at;
        else data->y_names[i - d] = at;
        at += l;
    }
    *table = t;
    *xc_out = xc;
    *yc_out = yc;
    return 0;
fail:
    nw_table_free(t);
    free(xc);
    free(yc);
    data_free(data);
    return rc;
}

int data_read(cli_data *data, const char *path, const char *x_spec, const char *y_spec)
{
    size_t *xc, *yc;
    nw_table *t;
    nw_status st;
    int rc = data_select(data, path, x_spec, y_spec, &t, &xc, &yc);
    if (rc) return rc;
    const size_t n = data->n, d = data->d, p = data->p;
    data->x = malloc(n * d * sizeof(double));
    data->y = malloc(n * p * sizeof(double));
    if (!data->x || !data->y) rc = cli_error("out of memory");
    else if ((st = nw_table_columns(t, xc, d, data->x)) || (st = nw_table_columns(t, yc, p, data->y)))
        rc = cli_lib_error(st, NULL, path);
    nw_table_free(t);
    free(xc);
    free(yc);
    if (rc) data_free(data);
    return rc;
}

void data_free(cli_data *data)
{
    free(data->names_buf);
    free(data->x);
    free(data->y);
    free(data->x_names);
    free(data->y_names);
    memset(data, 0, sizeof *data);
}

int data_find_columns(const nw_table *table, const char *path, const char *const *names,
                      size_t count, size_t *cols)
{
    for (size_t k = 0; k < count; k++) {
        /* by name only: "2" must not silently pick the second column */
        size_t c, ncols = nw_table_cols(table);
        for (c = 0; c < ncols; c++)
            if (strcmp(nw_table_name(table, c), names[k]) == 0) break;
        if (c == ncols) return cli_bad_input("%s: no column '%s' (an input of the model)", path, names[k]);
        cols[k] = c;
    }
    return 0;
}

/* ---------------------------------------------------------------- models */

const char model_opts_help[] =
    "model:\n"
    "  --w W[,W...]          the notebook's scale w = 1/h, one or one per input\n"
    "  --bandwidth H[,H...]  bandwidths h > 0, one or one per input\n"
    "  --select METHOD       choose h: loo (leave-one-out CV), aicc, scott,\n"
    "                        silverman, sgd or adam (train w on the LOO loss)\n"
    "  --kernel K            gaussian, epanechnikov, uniform, triangular, tricube,\n"
    "                        biweight, cosine, laplace (default gaussian)\n"
    "  --estimator E         lc (Nadaraya-Watson, local constant) or ll (local\n"
    "                        linear) (default lc)\n"
    "  --empty P             a query with no training point in a compact kernel's\n"
    "                        support gets: nan or nearest (default nan)\n"
    "  --lr R                learning rate for sgd/adam (default 0.5)\n"
    "  --epochs N            epochs for sgd/adam (default 5)\n"
    "  --w0 W[,W...]         starting scale for sgd/adam (default 1)\n"
    "  --x COLS              input columns, names or 1-based indices, comma-separated\n"
    "                        (default: x if columns x and y exist, else all but the last)\n"
    "  --y COLS              output columns (default: y, else the last)\n"
    "  --threads N           threads for the sums (default 0: OpenMP's choice)\n";

void model_opts_init(model_opts *o, const char *cmd)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->method = BW_NONE;
    o->kernel = NW_KERNEL_GAUSSIAN;
    o->estimator = NW_ESTIMATOR_CONSTANT;
    o->empty = NW_EMPTY_NAN;
    nw_train_options_init(&o->train);
    o->threads = -1;
}

void model_opts_free(model_opts *o)
{
    free(o->values);
    free(o->w0);
    o->values = o->w0 = NULL;
}

static int set_method(model_opts *o, const char *cmd, bw_method m, const char *opt)
{
    if (o->method != BW_NONE)
        return cli_usage_error(cmd, "give only one of --w, --bandwidth and --select (%s)", opt);
    o->method = m;
    return 0;
}

int model_opts_parse(model_opts *o, int id, const char *arg)
{
    const char *cmd = o->cmd;
    static const struct { const char *name; bw_method method; } select_names[] = {
        { "loo", BW_LOO }, { "aicc", BW_AICC }, { "scott", BW_SCOTT },
        { "silverman", BW_SILVERMAN }, { "sgd", BW_SGD }, { "adam", BW_ADAM },
    };
    int rc = 0;
    const char *flag = NULL; /* set for options a saved model fixes */
    switch (id) {
    case OPT_W:
        flag = "--w";
        if (!(rc = set_method(o, cmd, BW_SCALE, flag)))
            rc = opt_list(cmd, flag, arg, LIST_NONZERO, &o->values, &o->nvalues);
        break;
    case OPT_BANDWIDTH:
        flag = "--bandwidth";
        if (!(rc = set_method(o, cmd, BW_FIXED, flag)))
            rc = opt_list(cmd, flag, arg, LIST_POSITIVE, &o->values, &o->nvalues);
        break;
    case OPT_SELECT: {
        flag = "--select";
        size_t i, count = sizeof select_names / sizeof select_names[0];
        for (i = 0; i < count; i++)
            if (strcmp(arg, select_names[i].name) == 0) break;
        if (i == count)
            return cli_usage_error(cmd, "--select '%s': use loo, aicc, scott, silverman, sgd or adam", arg);
        rc = set_method(o, cmd, select_names[i].method, flag);
        break;
    }
    case OPT_KERNEL: flag = "--kernel"; rc = opt_kernel(cmd, arg, &o->kernel); break;
    case OPT_ESTIMATOR: flag = "--estimator"; rc = opt_estimator(cmd, arg, &o->estimator); break;
    case OPT_EMPTY: rc = opt_empty(cmd, arg, &o->empty); o->empty_set = 1; break;
    case OPT_LR: flag = "--lr"; rc = opt_positive(cmd, flag, arg, &o->train.lr); break;
    case OPT_EPOCHS: flag = "--epochs"; rc = opt_int(cmd, flag, arg, 0, 1000000000, &o->train.epochs); break;
    case OPT_W0: flag = "--w0"; rc = opt_list(cmd, flag, arg, LIST_NONZERO, &o->w0, &o->nw0); break;
    case OPT_X: flag = "--x"; o->x_spec = arg; break;
    case OPT_Y: flag = "--y"; o->y_spec = arg; break;
    case OPT_THREADS: rc = opt_int(cmd, "--threads", arg, 0, 4096, &o->threads); break;
    default: return -1;
    }
    if (!rc && flag && !o->model_flag) o->model_flag = flag;
    return rc;
}

/* The options o applied to a model made from data, then its bandwidths
 * (fixed, or chosen); the model is freed on failure. */
static int model_fit_made(const cli_data *data, const model_opts *o, nw_model *model,
                          nw_model **model_out, fit_info *info)
{
    const size_t d = data->d;
    fit_info fi = { "fixed bandwidth", 0, 0 };
    double *h = malloc(d * sizeof *h);
    int rc = 0;
    nw_status st;
    if (!h) {
        nw_model_free(model);
        return cli_error("out of memory");
    }

    if ((st = nw_model_set_kernel(model, o->kernel)) ||
        (st = nw_model_set_estimator(model, o->estimator)) ||
        (st = nw_model_set_empty_policy(model, o->empty)) ||
        (st = nw_model_set_names(model, data->x_names, data->y_names)) ||
        (o->threads >= 0 && (st = nw_model_set_threads(model, o->threads)))) {
        rc = cli_input_error(st, NULL, "cannot make the model");
        goto done;
    }
    if ((rc = cli_apply_engine(model, o->cmd))) goto done;
    if (o->method >= BW_LOO && o->method != BW_SCOTT && o->method != BW_SILVERMAN &&
        (rc = cli_need_two_rows(data->path, data->n)))
        goto done;

    /* a bar for the selection and the training; Ctrl-C stops them */
    progress bar;
    progress_start(&bar, o->method == BW_SGD || o->method == BW_ADAM ? "training" : "selecting h",
                   cli.quiet);
    nw_model_set_progress(model, progress_cb, &bar);
    double t0 = cli_now();
    switch (o->method) {
    case BW_NONE:
        rc = cli_usage_error(o->cmd, "give --w, --bandwidth or --select");
        break;
    case BW_SCALE:
    case BW_FIXED:
        if ((rc = spread_values(o->cmd, o->method == BW_SCALE ? "--w" : "--bandwidth",
                                o->values, o->nvalues, d, h)))
            break;
        fi.method = o->method == BW_SCALE ? "fixed scale w" : "fixed bandwidth";
        st = o->method == BW_SCALE ? nw_model_set_scale(model, h) : nw_model_set_bandwidth(model, h);
        if (st) rc = cli_input_error(st, NULL, "cannot set the bandwidth");
        break;
    case BW_SCOTT:
    case BW_SILVERMAN:
        fi.method = o->method == BW_SCOTT ? "Scott's rule" : "Silverman's rule";
        if ((st = nw_rule_of_thumb(model, o->method == BW_SCOTT ? NW_RULE_SCOTT : NW_RULE_SILVERMAN, h)) ||
            (st = nw_model_set_bandwidth(model, h)))
            rc = cli_data_error(st, data->path, fi.method);
        break;
    case BW_LOO:
    case BW_AICC: {
        nw_select_result res = { 0, 0 };
        fi.method = o->method == BW_LOO ? "minimum LOO CV" : "minimum AICc";
        st = nw_select_bandwidth(model, o->method == BW_LOO ? NW_CRITERION_LOO : NW_CRITERION_AICC,
                                 NULL, &res);
        if (st) rc = cli_data_error(st, data->path, "bandwidth selection failed");
        fi.evaluations = res.evaluations;
        break;
    }
    case BW_SGD:
    case BW_ADAM: {
        nw_train_options topt = o->train;
        topt.optimizer = o->method == BW_SGD ? NW_OPTIMIZER_SGD : NW_OPTIMIZER_ADAM;
        fi.method = o->method == BW_SGD ? "SGD on the LOO loss" : "Adam on the LOO loss";
        for (size_t k = 0; k < d; k++) h[k] = 1; /* w0 */
        if (o->w0 && (rc = spread_values(o->cmd, "--w0", o->w0, o->nw0, d, h))) break;
        st = nw_train(model, &topt, h, NULL);
        if (st) rc = cli_data_error(st, data->path, "training failed");
        fi.evaluations = topt.epochs;
        break;
    }
    }
    fi.seconds = cli_now() - t0;
    progress_end(&bar);
    nw_model_set_progress(model, NULL, NULL);
    if (!rc && interrupted()) rc = cli_interrupted();
    if (!rc) cli_verbose("bandwidths by %s: %d evaluations, %.3g s", fi.method, fi.evaluations,
                         fi.seconds);
done:
    free(h);
    if (rc) {
        nw_model_free(model);
        return rc;
    }
    if (info) *info = fi;
    *model_out = model;
    return 0;
}

/* The table's numbers taken over by the model (nw_model_new_from_table),
 * so that the file's numbers are never held twice (memory: the peaks of
 * predict, fit, cv and train). */
int data_read_model(cli_data *data, const char *path, const char *x_spec, const char *y_spec,
                    nw_model **model)
{
    size_t *xc, *yc;
    nw_table *t;
    *model = NULL;
    int rc = data_select(data, path, x_spec, y_spec, &t, &xc, &yc);
    if (rc) return rc;
    nw_status st = nw_model_new_from_table(model, t, xc, data->d, yc, data->p);
    nw_table_free(t);
    free(xc);
    free(yc);
    if (st) {
        data_free(data);
        return cli_input_error(st, NULL, path);
    }
    return 0;
}

int data_read_fit(cli_data *data, const char *path, const model_opts *o, nw_model **model,
                  fit_info *info)
{
    nw_model *made;
    int rc = data_read_model(data, path, o->x_spec, o->y_spec, &made);
    if (rc) return rc;
    return model_fit_made(data, o, made, model, info);
}

int is_model_path(const char *path)
{
    size_t n = strlen(path);
    return n >= 5 && strcmp(path + n - 5, ".json") == 0;
}

int model_load_or_fit(const char *source, const model_opts *o, cli_data *data,
                      nw_model **model)
{
    const char *cmd = o->cmd;
    if (!is_model_path(source)) return data_read_fit(data, source, o, model, NULL);
    if (o->model_flag)
        return cli_usage_error(cmd, "option %s cannot change a saved model (%s)", o->model_flag, source);
    nw_diag diag = { { 0 }, 0, 0 };
    nw_status st = nw_model_load(model, source, &diag);
    if (st) return cli_input_error(st, &diag, source);
    int rc = 0;
    if ((o->empty_set && (st = nw_model_set_empty_policy(*model, o->empty))) ||
        (o->threads >= 0 && (st = nw_model_set_threads(*model, o->threads))))
        rc = cli_input_error(st, NULL, source);
    if (!rc) rc = cli_apply_engine(*model, source);
    if (rc) {
        nw_model_free(*model);
        *model = NULL;
    }
    return rc;
}

/* ------------------------------------------------------------- printing */

void print_list(FILE *fp, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) fprintf(fp, "%s%.17g", i ? "," : "", v[i]);
}

void fprint_epoch(FILE *fp, const nw_epoch *e)
{
    fprintf(fp, "epoch %d loss %.17g w ", e->epoch, e->loss);
    print_list(fp, e->w, e->d);
    fputs(" grad ", fp);
    print_list(fp, e->grad, e->d);
    putc('\n', fp);
}

void print_epoch(const nw_epoch *e) { fprint_epoch(stdout, e); }

int print_epoch_cb(const nw_epoch *e, void *ctx)
{
    (void) ctx;
    print_epoch(e);
    return 0;
}

/* ------------------------------------------------------- criterion grid */

int cv_grid_compute(nw_model *model, nw_criterion crit, size_t k, const char *cmd,
                     const char *source, const double *hmin, size_t n_hmin,
                     const double *hmax, size_t n_hmax, cv_grid *out)
{
    const size_t d = nw_model_d(model);
    double scott[2], lo[2], hi[2];
    nw_status st;
    int rc;
    memset(out, 0, sizeof *out);
    if ((st = nw_rule_of_thumb(model, NW_RULE_SCOTT, scott))) return cli_input_error(st, NULL, source);
    for (size_t j = 0; j < d; j++) lo[j] = 0.05 * scott[j], hi[j] = 20 * scott[j];
    if ((hmin && (rc = spread_values(cmd, "--hmin", hmin, n_hmin, d, lo))) ||
        (hmax && (rc = spread_values(cmd, "--hmax", hmax, n_hmax, d, hi))))
        return rc;
    for (size_t j = 0; j < d; j++)
        if (!(lo[j] < hi[j]))
            return cli_usage_error(cmd, "--hmin %g must be below --hmax %g", lo[j], hi[j]);
    out->k = k;
    out->cells = d == 1 ? k : k * k;
    out->grid = malloc(d * k * sizeof *out->grid);
    out->value = malloc(out->cells * sizeof *out->value);
    if (!out->grid || !out->value) {
        cv_grid_free(out);
        return cli_error("out of memory");
    }
    for (size_t j = 0; j < d; j++)
        for (size_t i = 0; i < k; i++)
            out->grid[j * k + i] = lo[j] * exp(log(hi[j] / lo[j]) * (double) i / (double) (k - 1));

    /* the criterion on the grid, a bar over the cells; then the optimum, a
     * bar over the search */
    progress bar;
    double t0 = cli_now();
    progress_start(&bar, "cv grid", cli.quiet);
    nw_model_set_progress(model, progress_stop_only, NULL);
    for (size_t cell = 0; cell < out->cells; cell++) {
        double h[2] = { out->grid[d == 1 ? cell : cell / k], d == 2 ? out->grid[k + cell % k] : 0 };
        st = interrupted() ? NW_ERR_STOPPED : nw_criterion_eval(model, crit, h, &out->value[cell], NULL);
        if (!st && progress_update(&bar, (double) (cell + 1), (double) out->cells)) st = NW_ERR_STOPPED;
        if (st) {
            progress_end(&bar);
            nw_model_set_progress(model, NULL, NULL);
            cv_grid_free(out);
            return cli_data_error(st, source, "criterion evaluation failed");
        }
    }
    progress_end(&bar);
    cli_verbose("%s: %zu criterion evaluations on the grid in %.3g s", cmd, out->cells, cli_now() - t0);
    progress_start(&bar, "optimum", cli.quiet);
    nw_model_set_progress(model, progress_cb, &bar);
    st = nw_select_bandwidth(model, crit, NULL, &out->best);
    progress_end(&bar);
    nw_model_set_progress(model, NULL, NULL);
    if (st || (st = nw_model_bandwidth(model, out->hopt))) {
        cv_grid_free(out);
        return cli_data_error(st, source, "bandwidth selection failed");
    }
    cli_verbose("%s: optimum after %d criterion evaluations", cmd, out->best.evaluations);
    return 0;
}

void cv_grid_free(cv_grid *c)
{
    free(c->grid);
    free(c->value);
    c->grid = c->value = NULL;
}
