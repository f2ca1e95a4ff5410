/*
 * fuzz_csv.c: the CSV reader, nw_table_read, on arbitrary bytes.
 *
 * Invariants checked on every input besides "no crash, no leak, no UB":
 *  - failure: no table, a status among IO/PARSE/EMPTY/NOMEM and a diag
 *    message of one line that starts with the file name;
 *  - success: at least one row and column, every cell finite, every name
 *    found again by nw_table_find;
 *  - a table written back by nw_csv_write reads back identical: the same
 *    names and the very same doubles, bit for bit.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzzutil.h"
#include "nwreg.h"

static void check_diag(const nw_diag *diag, const char *path)
{
    FUZZ_CHECK(diag->message[0] != '\0');
    FUZZ_CHECK(strchr(diag->message, '\n') == NULL);
    FUZZ_CHECK(strncmp(diag->message, path, strlen(path)) == 0);
}

static void check_same(const nw_table *a, const nw_table *b)
{
    size_t rows = nw_table_rows(a), cols = nw_table_cols(a);
    FUZZ_CHECK(nw_table_rows(b) == rows && nw_table_cols(b) == cols);
    for (size_t k = 0; k < cols; k++) FUZZ_CHECK(strcmp(nw_table_name(a, k), nw_table_name(b, k)) == 0);
    FUZZ_CHECK(memcmp(nw_table_data(a), nw_table_data(b), rows * cols * sizeof(double)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    nw_diag diag = { { 0 }, 0, 0 };
    nw_table *t = (nw_table *) &diag; /* must be reset to NULL on failure */
    nw_status st = nw_table_read(path, &t, &diag);
    if (st != NW_OK) {
        FUZZ_CHECK(t == NULL);
        FUZZ_CHECK(st == NW_ERR_PARSE || st == NW_ERR_EMPTY || st == NW_ERR_IO || st == NW_ERR_NOMEM);
        if (st != NW_ERR_NOMEM) check_diag(&diag, path);
        return 0;
    }
    size_t rows = nw_table_rows(t), cols = nw_table_cols(t);
    const double *v = nw_table_data(t);
    FUZZ_CHECK(rows >= 1 && cols >= 1 && v != NULL);
    for (size_t i = 0; i < rows * cols; i++) FUZZ_CHECK(v[i] - v[i] == 0); /* finite */
    for (size_t k = 0; k < cols; k++) {
        size_t found = cols;
        FUZZ_CHECK(nw_table_name(t, k) != NULL);
        FUZZ_CHECK(nw_table_find(t, nw_table_name(t, k), &found) == NW_OK);
        FUZZ_CHECK(found <= k && strcmp(nw_table_name(t, found), nw_table_name(t, k)) == 0);
    }

    /* write it back and read it again */
    const char **names = malloc(cols * sizeof *names);
    FUZZ_CHECK(names != NULL);
    for (size_t k = 0; k < cols; k++) names[k] = nw_table_name(t, k);
    char out[512];
    snprintf(out, sizeof out, "%s/table.csv", fuzz_dir());
    FUZZ_CHECK(nw_csv_write(out, names, v, rows, cols, NULL) == NW_OK);
    nw_table *back = NULL;
    nw_diag diag2 = { { 0 }, 0, 0 };
    st = nw_table_read(out, &back, &diag2);
    if (st != NW_OK) fprintf(stderr, "re-read: %s\n", diag2.message);
    FUZZ_CHECK(st == NW_OK);
    check_same(t, back);
    unlink(out);
    nw_table_free(back);
    free(names);
    nw_table_free(t);
    return 0;
}
