/*
 * testutil.h: what every test program shares: cmocka, a tolerance check on
 * doubles (cmocka's assert_float_equal casts to float), and the reader of the
 * committed reference vectors (the files under tests/reference: `NAME COUNT v1 .. vN`
 * lines, '#' comments).
 */
#ifndef NW_TESTUTIL_H
#define NW_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nwreg.h"

/* |a - b| <= atol + rtol |b|, both NaN counts as equal; prints the
 * difference on failure. */
#define assert_close(a, b, rtol, atol) \
    assert_true(nwt_close((a), (b), (rtol), (atol), #a, __FILE__, __LINE__))
/* splitmix64: a uniform double in [0, 1) from state *s (advanced) */
double nwt_unif(uint64_t *s);

int nwt_close(double a, double b, double rtol, double atol, const char *what,
              const char *file, int line);

/* Element-wise assert_close over n values; prints the largest difference. */
#define assert_all_close(a, b, n, rtol, atol) \
    assert_true(nwt_all_close((a), (b), (n), (rtol), (atol), #a, __FILE__, __LINE__))
int nwt_all_close(const double *a, const double *b, size_t n, double rtol,
                  double atol, const char *what, const char *file, int line);

/* A reference file, read whole. */
typedef struct nwt_ref nwt_ref;
/* path relative to the source tree's tests/reference/ (NW_SOURCE_DIR is
 * defined by CMake).  Fails the test if the file cannot be read. */
nwt_ref *nwt_ref_load(const char *name);
/* The vector NAME: its values and count; fails the test if absent. */
const double *nwt_ref_get(const nwt_ref *ref, const char *name, size_t *count);
void nwt_ref_free(nwt_ref *ref);

/* Path under the source tree (static buffer, valid until the next call). */
const char *nwt_source_path(const char *rel);

/* Read a data CSV from the source tree with nw_table_read and copy columns
 * (by name) into freshly malloc'd arrays. */
double *nwt_read_columns(const char *rel, const char *const *cols, size_t ncols,
                         size_t *rows);

/* ---- files: each test that writes gets a fresh temporary directory ---- */

/* The current test directory (set by tmpdir_setup). */
extern char test_dir[256];
/* cmocka setup/teardown: make test_dir (mkdtemp under $TMPDIR or /tmp) and
 * remove it with everything in it. */
int tmpdir_setup(void **state);
int tmpdir_teardown(void **state);
/* test_dir/name, in one of two static buffers used in turn. */
const char *in_dir(const char *name);
/* Write text to test_dir/name; return the path. */
const char *make_file(const char *name, const char *text);
/* The whole content of a file (malloc'ed), or NULL if it cannot be opened. */
char *slurp(const char *path);
/* Number of entries (other than . and ..) in a directory. */
int count_entries(const char *dir);
/* rm -rf path. */
void remove_tree(const char *path);

#define assert_contains(haystack, needle)                                     \
    do {                                                                      \
        const char *h_ = (haystack), *n_ = (needle);                          \
        if (!strstr(h_, n_)) fail_msg("expected \"%s\" in \"%s\"", n_, h_);  \
    } while (0)

#endif
