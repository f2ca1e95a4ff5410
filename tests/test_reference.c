/*
 * test_reference.c: the notebook, reproduced.  Reference vectors come from
 * tests/reference/notebook_torch.py (PyTorch running the notebook's own code
 * on data/notebook_train.csv from w0 = 0.3755578398704529), in float32 (the
 * notebook's dtype) and float64.  Tolerances:
 *   float64 run: trajectory 1e-12 relative, predictions/weights 1e-13 absolute
 *                (two exact computations in the same precision);
 *   float32 run: trajectory 1e-5 relative, predictions/weights 1e-6 absolute
 *                (the bounds; float32 carries ~6e-8 relative error).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static nwt_ref *ref;
static const double *xtr, *ytr, *xte;
static const double W0 = 0.3755578398704529;

static int setup(void **state)
{
    (void) state;
    ref = nwt_ref_load("notebook_torch.txt");
    size_t n;
    xtr = nwt_ref_get(ref, "x_train", &n);
    assert_int_equal(n, 50);
    ytr = nwt_ref_get(ref, "y_train", &n);
    xte = nwt_ref_get(ref, "x_test", &n);
    assert_int_equal(n, 50);
    return 0;
}

static int teardown(void **state)
{
    (void) state;
    nwt_ref_free(ref);
    return 0;
}

static void test_reference_data_is_the_committed_csv(void **state)
{
    (void) state;
    const char *cols[2] = { "x", "y" };
    size_t rows;
    double *xy = nwt_read_columns("data/notebook_train.csv", cols, 2, &rows);
    assert_int_equal(rows, 50);
    for (size_t i = 0; i < 50; i++) {
        assert_true(xy[2 * i] == xtr[i]);
        assert_true(xy[2 * i + 1] == ytr[i]);
    }
    free(xy);
}

typedef struct trajectory { int n; double loss[32], grad[32], w[32]; } trajectory;

static int record(const nw_epoch *e, void *ctx)
{
    trajectory *t = ctx;
    t->loss[t->n] = e->loss;
    t->grad[t->n] = e->grad[0];
    t->w[t->n] = e->w[0];
    t->n++;
    return 0;
}

static void run_training(nw_optimizer opt, double lr, int epochs, trajectory *t)
{
    nw_model *m;
    assert_int_equal(nw_model_new(&m, xtr, ytr, 50, 1, 1), NW_OK);
    nw_train_options o;
    nw_train_options_init(&o);
    o.optimizer = opt;
    o.lr = lr;
    o.epochs = epochs;
    o.on_epoch = record;
    o.ctx = t;
    t->n = 0;
    assert_int_equal(nw_train(m, &o, &W0, NULL), NW_OK);
    assert_int_equal(t->n, epochs);
    nw_model_free(m);
}

static void check_trajectory(const trajectory *t, const char *suffix, double rtol)
{
    char name[64];
    size_t n;
    snprintf(name, sizeof name, "sgd_loss_%s", suffix);
    const double *loss = nwt_ref_get(ref, name, &n);
    assert_int_equal(n, 5);
    snprintf(name, sizeof name, "sgd_grad_%s", suffix);
    const double *grad = nwt_ref_get(ref, name, NULL);
    snprintf(name, sizeof name, "sgd_w_%s", suffix);
    const double *w = nwt_ref_get(ref, name, NULL);
    assert_all_close(t->loss, loss, 5, rtol, 0);
    assert_all_close(t->grad, grad, 5, rtol, 0);
    assert_all_close(t->w, w, 5, rtol, 0);
}

static void test_sgd_trajectory_matches_pytorch(void **state)
{
    (void) state;
    trajectory t;
    run_training(NW_OPTIMIZER_SGD, 0.5, 5, &t);
    check_trajectory(&t, "f64", 1e-12);
    check_trajectory(&t, "f32", 1e-5);
    /* the notebook's own printout: "epoch 4, loss 9.131058" */
    assert_close(t.loss[3], 9.131058, 0, 1.5e-6);
}

static void test_adam_trajectory_matches_pytorch(void **state)
{
    (void) state;
    trajectory t;
    size_t n;
    const double *w = nwt_ref_get(ref, "adam_w_f64", &n);
    const double *loss = nwt_ref_get(ref, "adam_loss_f64", NULL);
    const double *grad = nwt_ref_get(ref, "adam_grad_f64", NULL);
    run_training(NW_OPTIMIZER_ADAM, 0.1, (int) n, &t);
    assert_all_close(t.loss, loss, n, 1e-12, 0);
    assert_all_close(t.grad, grad, n, 1e-11, 1e-13);
    assert_all_close(t.w, w, n, 1e-12, 0);
}

static void check_fixed(const char *suffix, double atol)
{
    nw_model *m;
    assert_int_equal(nw_model_new(&m, xtr, ytr, 50, 1, 1), NW_OK);
    double one = 1, pred[50], *att = malloc(2500 * sizeof(double)), mean;
    nw_model_set_scale(m, &one);
    assert_int_equal(nw_predict(m, xte, 50, pred, NULL), NW_OK);
    assert_int_equal(nw_attention(m, xte, 50, att), NW_OK);
    assert_int_equal(nw_baseline(m, &mean), NW_OK);
    char name[64];
    size_t n;
    snprintf(name, sizeof name, "fixed_pred_%s", suffix);
    assert_all_close(pred, nwt_ref_get(ref, name, &n), 50, 0, atol);
    snprintf(name, sizeof name, "fixed_attention_%s", suffix);
    assert_all_close(att, nwt_ref_get(ref, name, &n), 2500, 0, atol);
    assert_int_equal(n, 2500);
    snprintf(name, sizeof name, "baseline_%s", suffix);
    assert_close(mean, nwt_ref_get(ref, name, NULL)[0], 0, atol);
    free(att);
    nw_model_free(m);
}

static void test_fixed_kernel_matches_pytorch(void **state)
{
    (void) state;
    check_fixed("f64", 1e-13);
    check_fixed("f32", 1e-6);
}

static void test_trained_fit_matches_pytorch(void **state)
{
    (void) state;
    nw_model *m;
    assert_int_equal(nw_model_new(&m, xtr, ytr, 50, 1, 1), NW_OK);
    assert_int_equal(nw_train(m, NULL, &W0, NULL), NW_OK);
    double pred[50], *att = malloc(2500 * sizeof(double));
    assert_int_equal(nw_predict(m, xte, 50, pred, NULL), NW_OK);
    assert_int_equal(nw_attention(m, xte, 50, att), NW_OK);
    assert_all_close(pred, nwt_ref_get(ref, "trained_pred_f64", NULL), 50, 0, 1e-12);
    assert_all_close(att, nwt_ref_get(ref, "trained_attention_f64", NULL), 2500, 0, 1e-12);
    assert_all_close(pred, nwt_ref_get(ref, "trained_pred_f32", NULL), 50, 0, 1e-5);
    free(att);
    nw_model_free(m);
}

static void test_loo_loss_and_gradient_match_autograd(void **state)
{
    (void) state;
    nw_model *m;
    assert_int_equal(nw_model_new(&m, xtr, ytr, 50, 1, 1), NW_OK);
    size_t n;
    const double *w = nwt_ref_get(ref, "loo_w_f64", &n);
    const double *loss = nwt_ref_get(ref, "loo_loss_f64", NULL);
    const double *grad = nwt_ref_get(ref, "loo_grad_f64", NULL);
    for (size_t i = 0; i < n; i++) {
        double l, g;
        assert_int_equal(nw_loo_loss(m, &w[i], &l, &g, NULL), NW_OK);
        assert_close(l, loss[i], 1e-12, 0);
        assert_close(g, grad[i], 1e-10, 1e-12);
    }
    double one = 1, loo[50];
    nw_model_set_scale(m, &one);
    assert_int_equal(nw_loo_predict(m, loo, NULL), NW_OK);
    assert_all_close(loo, nwt_ref_get(ref, "loo_pred_w1_f64", NULL), 50, 0, 1e-13);
    nw_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_data_is_the_committed_csv),
        cmocka_unit_test(test_sgd_trajectory_matches_pytorch),
        cmocka_unit_test(test_adam_trajectory_matches_pytorch),
        cmocka_unit_test(test_fixed_kernel_matches_pytorch),
        cmocka_unit_test(test_trained_fit_matches_pytorch),
        cmocka_unit_test(test_loo_loss_and_gradient_match_autograd),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
