/* api.c: the notebook in 20 lines of the C API (see README.md). */
#include <stdio.h>
#include "nwreg.h"

/* Mean squared error of the model's predictions at q against the truth. */
static double test_mse(const nw_model *model, const double *q, const double *truth, int m)
{
    double yhat[64], mse = 0;
    nw_predict(model, q, (size_t) m, yhat, NULL);
    for (int j = 0; j < m; j++) mse += (yhat[j] - truth[j]) * (yhat[j] - truth[j]) / m;
    return mse;
}

int main(void)
{
    double x[50], y[50], q[50], truth[50], h;
    nw_generate(0, 50, x, y);                /* f(x) = 2 sin x + x^0.8 + noise */
    nw_generate_grid(50, q, truth);          /* 0, 0.1, ..., 4.9 */
    nw_model *model;
    nw_status st = nw_model_new(&model, x, y, 50, 1, 1);   /* n = 50, d = 1, p = 1 */
    if (st != NW_OK) { fprintf(stderr, "nwreg: %s\n", nw_strerror(st)); return 1; }
    double w0 = 1;
    nw_train(model, NULL, &w0, NULL);        /* the notebook: SGD, lr 0.5, 5 epochs */
    nw_model_bandwidth(model, &h);
    printf("trained:     w = %.4f, test MSE = %.4f\n", 1 / h, test_mse(model, q, truth, 50));
    nw_select_bandwidth(model, NW_CRITERION_LOO, NULL, NULL);   /* the LOO optimum */
    nw_model_bandwidth(model, &h);
    printf("LOO optimum: w = %.4f, test MSE = %.4f\n", 1 / h, test_mse(model, q, truth, 50));
    nw_model_free(model);
    return 0;
}
