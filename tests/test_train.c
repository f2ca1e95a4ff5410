/* test_train.c: SGD and Adam on the LOO loss, the callback, failures. */
#include <math.h>
#include <string.h>

#include "testutil.h"

typedef struct trace { int epochs; double loss[64], w[64], grad[64]; int stop_at; } trace;

static int record(const nw_epoch *e, void *ctx)
{
    trace *t = ctx;
    t->loss[t->epochs] = e->loss;
    t->w[t->epochs] = e->w[0];
    t->grad[t->epochs] = e->grad[0];
    t->epochs++;
    return t->stop_at && e->epoch >= t->stop_at;
}

static nw_model *data_model(void)
{
    double x[40], y[40];
    nw_generate(5, 40, x, y);
    nw_model *m;
    assert_int_equal(nw_model_new(&m, x, y, 40, 1, 1), NW_OK);
    return m;
}

static void test_sgd_is_the_notebook_loop(void **state)
{
    (void) state;
    nw_model *m = data_model();
    trace t = { 0 };
    nw_train_options o;
    nw_train_options_init(&o);
    assert_int_equal(o.epochs, 5);
    assert_close(o.lr, 0.5, 0, 0);
    o.on_epoch = record;
    o.ctx = &t;
    double w0 = 0.7, w = w0, wout;
    assert_int_equal(nw_train(m, &o, &w0, &wout), NW_OK);
    assert_int_equal(t.epochs, 5);
    for (int e = 0; e < 5; e++) { /* replay by hand */
        double loss, g;
        nw_loo_loss(m, &w, &loss, &g, NULL);
        assert_close(t.loss[e], loss, 0, 0);
        assert_close(t.grad[e], g, 0, 0);
        w -= 0.5 * g;
        assert_close(t.w[e], w, 0, 0);
    }
    assert_close(wout, w, 0, 0);
    double h;
    nw_model_bandwidth(m, &h);
    assert_close(h, 1 / fabs(w), 1e-15, 0);
    nw_model_free(m);
}

static void test_adam_follows_pytorch_formula(void **state)
{
    (void) state;
    nw_model *m = data_model();
    trace t = { 0 };
    nw_train_options o;
    nw_train_options_init(&o);
    o.optimizer = NW_OPTIMIZER_ADAM;
    o.lr = 0.1;
    o.epochs = 10;
    o.on_epoch = record;
    o.ctx = &t;
    double w0 = 1, w = 1, m1 = 0, m2 = 0;
    assert_int_equal(nw_train(m, &o, &w0, NULL), NW_OK);
    for (int e = 1; e <= 10; e++) {
        double loss, g;
        nw_loo_loss(m, &w, &loss, &g, NULL);
        m1 = 0.9 * m1 + 0.1 * g;
        m2 = 0.999 * m2 + 0.001 * g * g;
        double mhat = m1 / (1 - pow(0.9, e)), vhat = m2 / (1 - pow(0.999, e));
        w -= 0.1 * mhat / (sqrt(vhat) + 1e-8);
        assert_close(t.w[e - 1], w, 1e-12, 0);
    }
    /* Adam's first step moves w by lr (sign of -grad) */
    assert_close(fabs(t.w[0] - 1), 0.1, 1e-6, 0);
    nw_model_free(m);
}

static void test_callback_stops_and_model_unchanged_on_failure(void **state)
{
    (void) state;
    nw_model *m = data_model();
    trace t = { .stop_at = 2 };
    nw_train_options o;
    nw_train_options_init(&o);
    o.on_epoch = record;
    o.ctx = &t;
    double w0 = 1, h0, h1;
    assert_int_equal(nw_train(m, &o, &w0, NULL), NW_ERR_STOPPED);
    assert_int_equal(t.epochs, 2);
    nw_model_bandwidth(m, &h0);
    /* a learning rate so large that w jumps through to a non-finite value */
    o.on_epoch = NULL;
    o.lr = 1e308;
    w0 = 0.5;
    nw_status st = nw_train(m, &o, &w0, NULL);
    assert_true(st == NW_ERR_BANDWIDTH || st == NW_ERR_NUMERIC);
    nw_model_bandwidth(m, &h1);
    assert_true(h0 == h1);
    o.lr = -1;
    assert_int_equal(nw_train(m, &o, &w0, NULL), NW_ERR_ARG);
    w0 = 0;
    nw_train_options_init(&o);
    assert_int_equal(nw_train(m, &o, &w0, NULL), NW_ERR_BANDWIDTH);
    nw_model_free(m);
}

static void test_many_epochs_reach_the_loo_optimum(void **state)
{
    (void) state;
    /* gradient descent on L(w) and the library's minimiser agree */
    nw_model *m = data_model();
    nw_train_options o;
    nw_train_options_init(&o);
    o.epochs = 3000;
    o.lr = 0.05;
    double w0 = 3, w;
    assert_int_equal(nw_train(m, &o, &w0, &w), NW_OK);
    nw_model *m2 = data_model();
    assert_int_equal(nw_select_bandwidth(m2, NW_CRITERION_LOO, NULL, NULL), NW_OK);
    double h;
    nw_model_bandwidth(m2, &h);
    assert_close(fabs(w), 1 / h, 1e-6, 0);
    nw_model_free(m);
    nw_model_free(m2);
}

/* One point leaves nothing to leave one out from: NW_ERR_EMPTY, as the
 * header promises, and the model is unchanged. */
static void test_one_point_is_empty(void **state)
{
    (void) state;
    double x = 1, y = 2, h = 0.5, w0 = 3, back;
    nw_model *m = NULL;
    assert_int_equal(nw_model_new(&m, &x, &y, 1, 1, 1), NW_OK);
    assert_int_equal(nw_model_set_bandwidth(m, &h), NW_OK);
    assert_int_equal(nw_train(m, NULL, &w0, NULL), NW_ERR_EMPTY);
    assert_int_equal(nw_model_bandwidth(m, &back), NW_OK);
    assert_true(back == h);
    nw_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_is_the_notebook_loop),
        cmocka_unit_test(test_adam_follows_pytorch_formula),
        cmocka_unit_test(test_callback_stops_and_model_unchanged_on_failure),
        cmocka_unit_test(test_many_epochs_reach_the_loo_optimum),
        cmocka_unit_test(test_one_point_is_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
