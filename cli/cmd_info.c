/*
 * cmd_info.c: `nwreg info`: what is inside a model file.
 *
 * The model is loaded by nw_model_load (so info accepts exactly the files
 * predict accepts, and rejects the others with the same message, e.g. one
 * naming an unsupported version); the file is also parsed with cJSON for
 * what the model object does not keep: the format version, the encoding
 * of versions 2 and 3, and any members this version of nwreg does not know
 * (printed as they are); of a version-3 file, its header line, the first
 * JSON value of the text (cJSON_Parse stops there, before the data).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common.h"

static const char usage[] =
    "usage: nwreg info MODEL.json [--json]\n"
    "\n"
    "Print what a model file (made by fit -o or train -o) holds: format\n"
    "version, kernel, estimator, empty-neighbourhood policy, n, d, p, the\n"
    "input and output names, the bandwidths h and scales w = 1/h, the\n"
    "engine settings, and any other member of the file.  MODEL.json may be\n"
    "'-' (stdin).  A file of another version fails with a message naming it.\n"
    "\n"
    "options:\n"
    "  --json             machine-readable output: one JSON object with the\n"
    "                     members file, format, version, kernel, estimator,\n"
    "                     empty, n, d, p, inputs, outputs, bandwidth, scale,\n"
    "                     engine, tolerance, precision (numbers in the\n"
    "                     shortest form that reads back exactly), and\n"
    "                     encoding for a file of version 2 or 3\n"
    "  -h, --help         show this help\n"
    "\n"
    "example:\n"
    "  nwreg fit data.csv -o m.json && nwreg info m.json\n"
    "\n";

/* Members every model has; others are printed as extras (but the
 * "encoding" of versions 2 and 3: is_known).  "x" and "y", the data
 * (base64 strings in version 2), are never printed. */
static const char *const known[] = {
    "format", "version", "kernel", "estimator", "empty", "n", "d", "p",
    "inputs", "outputs", "bandwidth", "x", "y", "engine", "tolerance", "precision",
};

/* name is a known member of a file of this version ("encoding" is an
 * extra in version 1) */
static int is_known(const char *name, const cJSON *version)
{
    if (strcmp(name, "encoding") == 0) return version && version->valueint >= 2;
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (strcmp(known[i], name) == 0) return 1;
    return 0;
}

/* The whole of a stream, NUL-terminated (malloc'd), or NULL with errno. */
static char *slurp(FILE *fp, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    for (;;) {
        n += fread(buf + n, 1, cap - n - 1, fp);
        if (ferror(fp)) { free(buf); return NULL; }
        if (feof(fp)) break;
        char *bigger = cap < SIZE_MAX / 2 ? realloc(buf, 2 * cap) : NULL;
        if (!bigger) { free(buf); errno = ENOMEM; return NULL; }
        buf = bigger;
        cap *= 2;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* stdin copied to a temporary file (its name in tmp, which the caller
 * unlinks) so that nw_model_load can read it; the text is kept in *text. */
static int stdin_to_file(char *tmp, size_t size, char **text)
{
    const char *dir = getenv("TMPDIR");
    size_t len = 0;
    snprintf(tmp, size, "%s/nwreg-info.XXXXXX", dir && *dir ? dir : "/tmp");
    if (!(*text = slurp(stdin, &len)))
        return interrupted() ? cli_interrupted() : cli_bad_input("<stdin>: cannot read: %s", strerror(errno));
    int fd = mkstemp(tmp);
    if (fd < 0) return cli_error("%s: cannot create a temporary file: %s", tmp, strerror(errno));
    FILE *fp = fdopen(fd, "wb");
    int bad = !fp || fwrite(*text, 1, len, fp) != len;
    if (fp) bad |= fclose(fp) != 0;
    else close(fd);
    if (bad) {
        unlink(tmp);
        return cli_error("%s: cannot write: %s", tmp, strerror(errno));
    }
    return 0;
}

/* v in the shortest of %.15g, %.16g and %.17g that reads back exactly. */
static void format_exact(char *buf, size_t size, double v)
{
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, size, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* v as a raw JSON number, exact (NaN and infinities cannot occur in a
 * loaded model; null just in case). */
static cJSON *exact_number(double v)
{
    char buf[40];
    if (v != v || v - v != 0) return cJSON_CreateNull();
    format_exact(buf, sizeof buf, v);
    return cJSON_CreateRaw(buf);
}

static void print_names_line(const char *label, const nw_model *m, size_t k, int inputs)
{
    printf("%-14s%zu:", label, k);
    for (size_t i = 0; i < k; i++) {
        const char *name = inputs ? nw_model_x_name(m, i) : nw_model_y_name(m, i);
        printf(" %s", name ? name : "?");
    }
    putchar('\n');
}

static void print_text(const char *file, const cJSON *root, const nw_model *m, const double *h)
{
    const size_t d = nw_model_d(m), p = nw_model_p(m);
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    const char *encoding = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "encoding"));
    printf("%-14s%s\n", "model", file);
    printf("%-14snwreg-model, version %d", "format", version ? version->valueint : 0);
    /* version 2 holds the data as binary64 in base64, version 3 as binary64
     * after the header line (nw_model_load checked the encoding's name);
     * version 1 as decimal numbers */
    if (version && version->valueint >= 2 && encoding) printf(" (data: %s)", encoding);
    putchar('\n');
    printf("%-14s%zu\n", "points (n)", nw_model_n(m));
    print_names_line("inputs (d)", m, d, 1);
    print_names_line("outputs (p)", m, p, 0);
    printf("%-14s%s\n", "kernel", nw_kernel_name(nw_model_kernel(m)));
    printf("%-14s%s (%s)\n", "estimator", nw_estimator_name(nw_model_estimator(m)),
           nw_model_estimator(m) == NW_ESTIMATOR_LINEAR ? "local linear" : "local constant, Nadaraya-Watson");
    printf("%-14s%s\n", "empty", nw_model_empty_policy(m) == NW_EMPTY_NEAREST ? "nearest" : "nan");
    for (size_t k = 0; k < d; k++) {
        const char *name = nw_model_x_name(m, k);
        char hb[40], wb[40];
        format_exact(hb, sizeof hb, h[k]);
        format_exact(wb, sizeof wb, 1 / h[k]);
        printf("%-14s%s: h = %s (w = 1/h = %s)\n", k == 0 ? "bandwidth" : "", name ? name : "?", hb, wb);
    }
    printf("%-14s%s, tolerance %g, %s\n", "engine", nw_engine_name(nw_model_engine(m)),
           nw_model_tolerance(m), nw_model_precision(m) == NW_PRECISION_F32 ? "f32" : "f64");
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        if (!item->string || is_known(item->string, version)) continue;
        char *text = cJSON_PrintUnformatted(item);
        printf("%-14s%s\n", item->string, text ? text : "?");
        cJSON_free(text);
    }
}

/* The JSON form; returns 0 or EXIT_FAIL (out of memory). */
static int print_json(const char *file, const cJSON *root, const nw_model *m, const double *h)
{
    const size_t d = nw_model_d(m), p = nw_model_p(m);
    cJSON *o = cJSON_CreateObject(), *in = cJSON_CreateArray(), *outn = cJSON_CreateArray();
    cJSON *bw = cJSON_CreateArray(), *sc = cJSON_CreateArray();
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    const char *encoding = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "encoding"));
    int ok = o && in && outn && bw && sc;
    if (!ok) {
        cJSON_Delete(o), cJSON_Delete(in), cJSON_Delete(outn), cJSON_Delete(bw), cJSON_Delete(sc);
        return cli_error("out of memory");
    }
    for (size_t k = 0; k < d; k++) {
        const char *name = nw_model_x_name(m, k);
        cJSON_AddItemToArray(in, name ? cJSON_CreateString(name) : cJSON_CreateNull());
        cJSON_AddItemToArray(bw, exact_number(h[k]));
        cJSON_AddItemToArray(sc, exact_number(1 / h[k]));
    }
    for (size_t c = 0; c < p; c++) {
        const char *name = nw_model_y_name(m, c);
        cJSON_AddItemToArray(outn, name ? cJSON_CreateString(name) : cJSON_CreateNull());
    }
    cJSON_AddStringToObject(o, "file", file);
    cJSON_AddStringToObject(o, "format", "nwreg-model");
    cJSON_AddNumberToObject(o, "version", version ? version->valueint : 0);
    if (version && version->valueint >= 2 && encoding) cJSON_AddStringToObject(o, "encoding", encoding);
    cJSON_AddStringToObject(o, "kernel", nw_kernel_name(nw_model_kernel(m)));
    cJSON_AddStringToObject(o, "estimator", nw_estimator_name(nw_model_estimator(m)));
    cJSON_AddStringToObject(o, "empty", nw_model_empty_policy(m) == NW_EMPTY_NEAREST ? "nearest" : "nan");
    cJSON_AddItemToObject(o, "n", exact_number((double) nw_model_n(m)));
    cJSON_AddNumberToObject(o, "d", (double) d);
    cJSON_AddNumberToObject(o, "p", (double) p);
    cJSON_AddItemToObject(o, "inputs", in);
    cJSON_AddItemToObject(o, "outputs", outn);
    cJSON_AddItemToObject(o, "bandwidth", bw);
    cJSON_AddItemToObject(o, "scale", sc);
    cJSON_AddStringToObject(o, "engine", nw_engine_name(nw_model_engine(m)));
    cJSON_AddItemToObject(o, "tolerance", exact_number(nw_model_tolerance(m)));
    cJSON_AddStringToObject(o, "precision", nw_model_precision(m) == NW_PRECISION_F32 ? "f32" : "f64");
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        if (!item->string || is_known(item->string, version) || cJSON_GetObjectItemCaseSensitive(o, item->string))
            continue;
        cJSON *copy = cJSON_Duplicate(item, 1);
        if (copy) cJSON_AddItemToObject(o, item->string, copy);
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return cli_error("out of memory");
    puts(text);
    cJSON_free(text);
    return 0;
}

int cmd_info(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, OPT_JSON },
        IO_LONGOPTS,
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *cmd = argv[0];
    int json = 0, c, rc = 0;
    while (rc == 0 && (c = cli_getopt(argc, argv, ":hq", longopts)) != -1) {
        switch (c) {
        case 'h': fputs(usage, stdout); fputs(io_opts_help, stdout); return EXIT_OK;
        case OPT_JSON: json = 1; break;
        case '?': rc = EXIT_USAGE; break;
        default: rc = cli_settings_parse(cmd, c, optarg, 0); break;
        }
    }
    if (rc == 0 && optind != argc - 1)
        rc = cli_usage_error(cmd, optind >= argc ? "missing MODEL.json" : "too many arguments");
    if (rc) return rc;

    const char *path = argv[optind], *file = path;
    char tmp[4096] = "", *text = NULL;
    nw_model *model = NULL;
    cJSON *root = NULL;
    double *h = NULL;
    nw_diag diag = { { 0 }, 0, 0 };
    nw_status st;
    if (strcmp(path, "-") == 0) {
        file = "<stdin>";
        if ((rc = stdin_to_file(tmp, sizeof tmp, &text))) goto done;
        path = tmp;
    }
    if ((st = nw_model_load(&model, path, &diag))) {
        size_t len = strlen(tmp);
        if (len && strncmp(diag.message, tmp, len) == 0) { /* name stdin, not the copy */
            char message[sizeof diag.message];
            snprintf(message, sizeof message, "%s%s", file, diag.message + len);
            memcpy(diag.message, message, sizeof message);
        }
        rc = cli_input_error(st, &diag, file);
        goto done;
    }
    if (!text) {
        FILE *fp = fopen(path, "rb");
        size_t len;
        if (!fp) { rc = cli_bad_input("%s: cannot open: %s", file, strerror(errno)); goto done; }
        text = slurp(fp, &len);
        fclose(fp);
        if (!text) { rc = cli_bad_input("%s: cannot read: %s", file, strerror(errno)); goto done; }
    }
    if (!(root = cJSON_Parse(text))) { rc = cli_bad_input("%s: not JSON", file); goto done; }
    if (!(h = malloc(nw_model_d(model) * sizeof *h))) { rc = cli_error("out of memory"); goto done; }
    if ((st = nw_model_bandwidth(model, h))) { rc = cli_lib_error(st, NULL, file); goto done; }
    if (json) rc = print_json(file, root, model, h);
    else print_text(file, root, model, h);
    if (rc == 0 && (fflush(stdout) != 0 || ferror(stdout)))
        rc = cli_error("<stdout>: cannot write: %s", strerror(errno));
done:
    if (tmp[0]) unlink(tmp);
    free(h);
    free(text);
    cJSON_Delete(root);
    nw_model_free(model);
    return rc;
}
