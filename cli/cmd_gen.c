/*
 * cmd_gen.c: `nwreg gen`: the notebook's synthetic data as CSV.
 *
 *   nwreg gen --n 50 --seed 0   ->  x,y        (x ~ U(0,5) sorted, y = f(x) + N(0, 0.5^2))
 *   nwreg gen --grid --m 50     ->  x,y_truth  (x = 0, 0.1, ..., y_truth = f(x))
 */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

static const char usage[] =
    "usage: nwreg gen [--n N] [--seed S] [-o FILE]\n"
    "       nwreg gen --grid [--m M] [-o FILE]\n"
    "\n"
    "Write the notebook's data, f(x) = 2 sin x + x^0.8, as CSV (numbers in the\n"
    "shortest form that reads back exactly, unless --precision).\n"
    "\n"
    "options:\n"
    "  --n N        training points: x ~ U(0,5) sorted, y = f(x) + N(0, 0.5^2),\n"
    "               columns x,y (default 50)\n"
    "  --seed S     seed of the generator, 0 to 2^64-1; the same seed gives the\n"
    "               same data on every platform (default 0)\n"
    "  --grid       the test grid instead: x = 0, 0.1, ..., columns x,y_truth\n"
    "  --m M        points of the grid (default 50: 0 to 4.9)\n"
    "  -o FILE      write to FILE (atomically) instead of stdout ('-': stdout)\n"
    "  -h, --help   show this help\n"
    "\n";

int cmd_gen(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "n", required_argument, NULL, OPT_N },
        { "seed", required_argument, NULL, OPT_SEED },
        { "grid", no_argument, NULL, OPT_GRID },
        { "m", required_argument, NULL, OPT_M },
        IO_LONGOPTS,
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *cmd = argv[0], *out = "-";
    size_t n = 50, m = 50;
    uint64_t seed = 0;
    int grid = 0, n_set = 0, m_set = 0, seed_set = 0, c, rc;

    while ((c = cli_getopt(argc, argv, ":hqo:", longopts)) != -1) {
        rc = 0;
        switch (c) {
        case 'h': fputs(usage, stdout); fputs(io_opts_help, stdout); return EXIT_OK;
        case 'o': out = optarg; break;
        case OPT_N: rc = opt_size(cmd, "--n", optarg, 1, &n); n_set = 1; break;
        case OPT_SEED: rc = opt_seed(cmd, "--seed", optarg, &seed); seed_set = 1; break;
        case OPT_GRID: grid = 1; break;
        case OPT_M: rc = opt_size(cmd, "--m", optarg, 1, &m); m_set = 1; break;
        case '?': return EXIT_USAGE;
        default: rc = cli_settings_parse(cmd, c, optarg, 0); break;
        }
        if (rc) return rc;
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (grid && n_set) return cli_usage_error(cmd, "--n is for training data; the grid takes --m");
    if (!grid && m_set) return cli_usage_error(cmd, "--m is for the grid (--grid); training data take --n");
    if (grid && seed_set) return cli_usage_error(cmd, "--seed is for training data; the grid is not random");

    size_t rows = grid ? m : n;
    double *x = malloc(rows * sizeof *x), *y = malloc(rows * sizeof *y);
    double *table = malloc(2 * rows * sizeof *table);
    nw_diag diag = { { 0 }, 0, 0 };
    nw_status st = NW_ERR_NOMEM;
    if (x && y && table) {
        st = grid ? nw_generate_grid(m, x, y) : nw_generate(seed, n, x, y);
        for (size_t i = 0; st == NW_OK && i < rows; i++) {
            table[2 * i] = x[i];
            table[2 * i + 1] = y[i];
        }
    }
    if (st == NW_OK) {
        const char *names[2] = { "x", grid ? "y_truth" : "y" };
        st = nw_csv_write_digits(out, names, table, rows, 2, cli.digits, &diag);
    }
    free(x);
    free(y);
    free(table);
    if (st) return cli_lib_error(st, &diag, out);
    return EXIT_OK;
}
