#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

int nwt_close(double a, double b, double rtol, double atol, const char *what,
              const char *file, int line)
{
    if (isnan(a) && isnan(b)) return 1;
    if (a == b) return 1;
    if (fabs(a - b) <= atol + rtol * fabs(b)) return 1;
    fprintf(stderr, "%s:%d: %s = %.17g, expected %.17g (diff %.3g, rel %.3g)\n",
            file, line, what, a, b, fabs(a - b), fabs(a - b) / fabs(b));
    return 0;
}

int nwt_all_close(const double *a, const double *b, size_t n, double rtol,
                  double atol, const char *what, const char *file, int line)
{
    size_t worst = 0, bad = 0;
    double maxdiff = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) && isnan(b[i])) continue;
        double diff = fabs(a[i] - b[i]);
        if (!(diff <= atol + rtol * fabs(b[i]))) bad++;
        if (!(diff <= maxdiff)) { maxdiff = diff; worst = i; }
    }
    if (bad == 0) return 1;
    fprintf(stderr, "%s:%d: %s: %zu of %zu differ; maxdiff %.3g at [%zu]: %.17g vs %.17g\n",
            file, line, what, bad, n, maxdiff, worst, a[worst], b[worst]);
    return 0;
}

struct nwt_ref {
    size_t count;
    char **names;
    double **values;
    size_t *sizes;
};

const char *nwt_source_path(const char *rel)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", NW_SOURCE_DIR, rel);
    return buf;
}

nwt_ref *nwt_ref_load(const char *name)
{
    char rel[512];
    snprintf(rel, sizeof rel, "tests/reference/%s", name);
    FILE *f = fopen(nwt_source_path(rel), "r");
    if (!f) fail_msg("cannot open reference %s", rel);
    nwt_ref *ref = calloc(1, sizeof *ref);
    size_t cap = 0;
    char key[256];
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (c == '#' || c == '\n') {
            while (c != '\n' && c != EOF) c = fgetc(f);
            continue;
        }
        ungetc(c, f);
        size_t count;
        if (fscanf(f, "%255s %zu", key, &count) != 2) fail_msg("bad line in %s", rel);
        if (ref->count == cap) {
            cap = cap ? 2 * cap : 32;
            ref->names = realloc(ref->names, cap * sizeof *ref->names);
            ref->values = realloc(ref->values, cap * sizeof *ref->values);
            ref->sizes = realloc(ref->sizes, cap * sizeof *ref->sizes);
        }
        double *v = malloc((count ? count : 1) * sizeof(double));
        for (size_t i = 0; i < count; i++) {
            char tok[64];
            if (fscanf(f, "%63s", tok) != 1) fail_msg("short vector %s in %s", key, rel);
            v[i] = strtod(tok, NULL); /* accepts nan, inf */
        }
        ref->names[ref->count] = strdup(key);
        ref->values[ref->count] = v;
        ref->sizes[ref->count] = count;
        ref->count++;
    }
    fclose(f);
    return ref;
}

const double *nwt_ref_get(const nwt_ref *ref, const char *name, size_t *count)
{
    for (size_t i = 0; i < ref->count; i++)
        if (strcmp(ref->names[i], name) == 0) {
            if (count) *count = ref->sizes[i];
            return ref->values[i];
        }
    fail_msg("reference vector %s not found", name);
    return NULL;
}

void nwt_ref_free(nwt_ref *ref)
{
    if (!ref) return;
    for (size_t i = 0; i < ref->count; i++) { free(ref->names[i]); free(ref->values[i]); }
    free(ref->names);
    free(ref->values);
    free(ref->sizes);
    free(ref);
}

double *nwt_read_columns(const char *rel, const char *const *cols, size_t ncols,
                         size_t *rows)
{
    nw_table *t = NULL;
    nw_diag diag;
    if (nw_table_read(nwt_source_path(rel), &t, &diag) != NW_OK)
        fail_msg("cannot read %s: %s", rel, diag.message);
    size_t idx[16];
    for (size_t k = 0; k < ncols; k++)
        if (nw_table_find(t, cols[k], &idx[k]) != NW_OK) fail_msg("%s: no column %s", rel, cols[k]);
    *rows = nw_table_rows(t);
    double *out = malloc(*rows * ncols * sizeof(double));
    nw_table_columns(t, idx, ncols, out);
    nw_table_free(t);
    return out;
}

char test_dir[256];

int tmpdir_setup(void **state)
{
    (void) state;
    const char *tmp = getenv("TMPDIR");
    snprintf(test_dir, sizeof test_dir, "%s/nwreg_test_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(test_dir) ? 0 : -1;
}

int tmpdir_teardown(void **state)
{
    (void) state;
    remove_tree(test_dir);
    return 0;
}

const char *in_dir(const char *name)
{
    static char path[2][512];
    static int which;
    which ^= 1;
    snprintf(path[which], sizeof path[which], "%s/%s", test_dir, name);
    return path[which];
}

const char *make_file(const char *name, const char *text)
{
    const char *path = in_dir(name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
    return path;
}

char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 1 << 16, len = 0, got;
    char *buf = malloc(cap);
    while ((got = fread(buf + len, 1, cap - 1 - len, fp)) > 0) {
        len += got;
        if (len == cap - 1) buf = realloc(buf, cap *= 2);
    }
    fclose(fp);
    buf[len] = '\0';
    return buf;
}

int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int count = 0;
    assert_non_null(d);
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) count++;
    closedir(d);
    return count;
}

void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        chmod(path, 0700);
        DIR *d = opendir(path);
        struct dirent *e;
        char child[1024];
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            remove_tree(child);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

double nwt_unif(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (double) (z >> 11) * 0x1p-53;
}
