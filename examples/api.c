/* api.c: the notebook in 20 lines of the C API (see README.md). */
#include <stdio.h>
#include "nwreg.h"

int main(void)
{
    double x[50], y[50], q[50], truth[50], yhat[50], h;
    nw_generate(0, 50, x, y);                /* f(x) = 2 sin x + x^0.8 + noise */
    nw_generate_grid(50, q, truth);          /* 0, 0.1, ..., 4.9 */
    nw_model *model;
    nw_status st = nw_model_new(&model, x, y, 50, 1, 1);   /* n = 50, d = 1, p = 1 */
    if (st != NW_OK) { fprintf(stderr, "nwreg: %s\n", nw_strerror(st)); return 1; }
    nw_train(model, NULL, NULL, NULL);       /* the notebook: SGD, lr 0.5, 5 epochs */
    nw_select_bandwidth(model, NW_CRITERION_LOO, NULL, NULL); /* or: the LOO optimum */
    nw_model_bandwidth(model, &h);
    nw_predict(model, q, 50, yhat, NULL);
    double mse = 0;
    for (int j = 0; j < 50; j++) mse += (yhat[j] - truth[j]) * (yhat[j] - truth[j]) / 50;
    printf("bandwidth h = %.4f (w = %.4f), test MSE = %.4f\n", h, 1 / h, mse);
    nw_model_free(model);
    return 0;
}
