/*
 * main.c: nwreg, Nadaraya–Watson kernel regression seen as attention.
 * Dispatches `nwreg CMD ...` to the subcommand CMD (one file each).
 */
#include <stdio.h>
#include <string.h>

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
          "CSV files have a header row.  Errors print one line and exit with 1\n"
          "(2 for a usage error).\n", fp);
}

static const struct command *find(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

/* `nwreg help CMD` is `nwreg CMD --help`. */
static int help(const char *name)
{
    const struct command *c = find(name);
    if (!c) return cli_usage_error(NULL, "'%s' is not a command", name);
    char *argv[] = { (char *) c->name, (char *) "--help", NULL };
    return c->run(2, argv);
}

int main(int argc, char **argv)
{
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
        return cli_usage_error(NULL, "'%s' is not a command", name);
    }
    return c->run(argc - 1, argv + 1);
}
