/*
 * fuzz_model.c: the model-file reader, nw_model_load, on arbitrary bytes.
 *
 * Invariants checked on every input besides "no crash, no leak, no UB":
 *  - failure: no model, a status among PARSE/FORMAT/IO/NOMEM and a diag
 *    message of one line that starts with the file name;
 *  - success: a model whose local-constant prediction at (up to 8 of) its
 *    own training points lies between the smallest and the largest y (a
 *    weighted mean; K(0) = 1, so the neighbourhood is never empty) when
 *    the values are small enough that the sums cannot overflow;
 *  - saved and loaded again, the model is the same bit for bit (data,
 *    bandwidths, kernel, estimator, empty policy, names).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzzutil.h"
#include "nwreg.h"

enum { MAX_QUERIES = 8 };

static void check_diag(const nw_diag *diag, const char *path)
{
    FUZZ_CHECK(diag->message[0] != '\0');
    FUZZ_CHECK(strchr(diag->message, '\n') == NULL);
    FUZZ_CHECK(strncmp(diag->message, path, strlen(path)) == 0);
}

static int same_name(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_same(const nw_model *a, const nw_model *b)
{
    size_t n = nw_model_n(a), d = nw_model_d(a), p = nw_model_p(a);
    FUZZ_CHECK(nw_model_n(b) == n && nw_model_d(b) == d && nw_model_p(b) == p);
    FUZZ_CHECK(memcmp(nw_model_x(a), nw_model_x(b), n * d * sizeof(double)) == 0);
    FUZZ_CHECK(memcmp(nw_model_y(a), nw_model_y(b), n * p * sizeof(double)) == 0);
    double *ha = malloc(2 * d * sizeof(double));
    FUZZ_CHECK(ha != NULL);
    FUZZ_CHECK(nw_model_bandwidth(a, ha) == NW_OK && nw_model_bandwidth(b, ha + d) == NW_OK);
    FUZZ_CHECK(memcmp(ha, ha + d, d * sizeof(double)) == 0);
    free(ha);
    FUZZ_CHECK(nw_model_kernel(a) == nw_model_kernel(b));
    FUZZ_CHECK(nw_model_estimator(a) == nw_model_estimator(b));
    FUZZ_CHECK(nw_model_empty_policy(a) == nw_model_empty_policy(b));
    /* a model without names is saved as x / x1.., y / y1.. */
    for (size_t k = 0; k < d; k++)
        FUZZ_CHECK(!nw_model_x_name(a, k) || same_name(nw_model_x_name(a, k), nw_model_x_name(b, k)));
    for (size_t c = 0; c < p; c++)
        FUZZ_CHECK(!nw_model_y_name(a, c) || same_name(nw_model_y_name(a, c), nw_model_y_name(b, c)));
}

/* Local constant at training points: a weighted mean of the y column. */
static void check_predictions(nw_model *m)
{
    size_t n = nw_model_n(m), d = nw_model_d(m), p = nw_model_p(m);
    size_t q = n < MAX_QUERIES ? n : MAX_QUERIES;
    const double *x = nw_model_x(m), *y = nw_model_y(m);
    double big = 0;
    for (size_t i = 0; i < n * p; i++) big = fmax(big, fabs(y[i]));
    if (!(big * (double) n < 1e300)) return; /* the sum of K y may overflow */
    double *yhat = malloc(q * p * sizeof(double));
    FUZZ_CHECK(yhat != NULL);
    FUZZ_CHECK(nw_model_set_estimator(m, NW_ESTIMATOR_CONSTANT) == NW_OK);
    size_t n_empty = 1;
    FUZZ_CHECK(nw_predict(m, x, q, yhat, &n_empty) == NW_OK);
    FUZZ_CHECK(n_empty == 0);
    for (size_t c = 0; c < p; c++) {
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < n; i++) lo = fmin(lo, y[i * p + c]), hi = fmax(hi, y[i * p + c]);
        double slack = 1e-12 * fmax(fabs(lo), fabs(hi));
        for (size_t j = 0; j < q; j++)
            FUZZ_CHECK(yhat[j * p + c] >= lo - slack && yhat[j * p + c] <= hi + slack);
    }
    free(yhat);
    (void) d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    nw_diag diag = { { 0 }, 0, 0 };
    nw_model *m = (nw_model *) &diag; /* must be reset to NULL on failure */
    nw_status st = nw_model_load(&m, path, &diag);
    if (st != NW_OK) {
        FUZZ_CHECK(m == NULL);
        FUZZ_CHECK(st == NW_ERR_PARSE || st == NW_ERR_FORMAT || st == NW_ERR_IO || st == NW_ERR_NOMEM);
        if (st != NW_ERR_NOMEM) check_diag(&diag, path);
        return 0;
    }
    char out[512];
    snprintf(out, sizeof out, "%s/model.json", fuzz_dir());
    FUZZ_CHECK(nw_model_save(m, out, NULL) == NW_OK);
    nw_model *back = NULL;
    nw_diag diag2 = { { 0 }, 0, 0 };
    st = nw_model_load(&back, out, &diag2);
    if (st != NW_OK) fprintf(stderr, "re-load: %s\n", diag2.message);
    FUZZ_CHECK(st == NW_OK);
    check_same(m, back);
    unlink(out);
    nw_model_free(back);
    check_predictions(m);
    nw_model_free(m);
    return 0;
}
