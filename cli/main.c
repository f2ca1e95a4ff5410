/*
 * main.c: nwreg, Nadaraya–Watson kernel regression seen as attention.
 * Dispatches `nwreg CMD ...` to the subcommand CMD (one file each).
 */
#include <stdio.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "common.h"

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    { "demo", cmd_demo, "run the whole notebook: fits, attention maps, training, LOO optimum" },
    { "gen", cmd_gen, "write the notebook's synthetic data or test grid as CSV" },
    { "train", cmd_train, "learn the scale w by gradient descent on the leave-one-out loss" },
    { "predict", cmd_predict, "predict at query points (from data and options, or a model file)" },
    { "fit", cmd_fit, "choose the bandwidths, save the model and print a summary" },
    { "cv", cmd_cv, "tabulate (and plot) a bandwidth criterion over a grid" },
    { "info", cmd_info, "show what a model file holds (kernel, bandwidths, names, version)" },
    { "plot", cmd_plot, "draw a figure from files: fit, weights, cv or loss" },
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *fp)
{
    fputs("usage: nwreg COMMAND [OPTIONS] [ARGS]\n"
          "       nwreg help COMMAND | nwreg COMMAND --help | nwreg --version\n"
          "\n"
          "Nadaraya-Watson kernel regression seen as attention.\n"
          "\n"
          "commands:\n", fp);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(fp, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fputs("\n"
          "CSV files have a header row; the delimiter (comma, tab, semicolon) is\n"
          "detected from it.  Any input or output file may be '-' (stdin/stdout):\n"
          "  nwreg gen | nwreg fit - -o m.json && nwreg gen --grid | nwreg predict m.json -\n"
          "\n"
          "Exit status: 0 success; 2 a usage error or a bad input (file, cell, model\n"
          "file, option value); 1 any other failure (writing, memory, numerics);\n"
          "130 stopped by Ctrl-C.  Every error is one line starting 'nwreg:'.\n", fp);
}

static const struct command *find(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

/* "'NAME' is not a command", with the closest command when one is near. */
static int not_a_command(const char *name)
{
    const char *names[N_COMMANDS + 1];
    for (size_t i = 0; i < N_COMMANDS; i++) names[i] = commands[i].name;
    names[N_COMMANDS] = "help";
    const char *best = cli_closest(name, names, N_COMMANDS + 1);
    if (best) return cli_usage_error(NULL, "'%s' is not a command; did you mean '%s'?", name, best);
    return cli_usage_error(NULL, "'%s' is not a command", name);
}

/* `nwreg help CMD` is `nwreg CMD --help`. */
static int help(const char *name)
{
    const struct command *c = find(name);
    if (!c) return not_a_command(name);
    char *argv[] = { (char *) c->name, (char *) "--help", NULL };
    return c->run(2, argv);
}

int main(int argc, char **argv)
{
    interrupt_install();
#ifdef M_MMAP_THRESHOLD
    /* Blocks of 1 MiB and more are mapped on their own and given back when
     * freed.  glibc otherwise raises this threshold to the size of the
     * first large block freed, and the later ones then come from the heap,
     * whose freed pages stay resident: fit --select loo at n = 1e6
     * (unsorted keys) peaked 4 MB higher, 50.5 against 46.4 MB. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) {
        printf("nwreg %s\n", NWREG_VERSION_STRING);
        return EXIT_OK;
    }
    if (strcmp(name, "help") == 0) {
        if (argc == 2) {
            usage(stdout);
            return EXIT_OK;
        }
        if (argc > 3) return cli_usage_error(NULL, "help takes one command name");
        return help(argv[2]);
    }
    const struct command *c = find(name);
    if (!c) {
        if (name[0] == '-') return cli_usage_error(NULL, "unknown option '%s'", name);
        return not_a_command(name);
    }
    return c->run(argc - 1, argv + 1);
}
