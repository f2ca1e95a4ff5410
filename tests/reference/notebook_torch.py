#!/usr/bin/python3
"""Reference vectors for nwreg's notebook reproduction (PyTorch).

What it computes
    The probml notebook "kernel_regression_attention" (shared/seed/
    kernel_regression_attention_notebook.txt) line for line -- the
    NWKernelRegression module with softmax(-(((queries - keys) * w)**2) / 2),
    the leave-one-out keys/values cut out of X_tile/Y_tile with the eye mask,
    nn.MSELoss(reduction='none') / 2 summed, torch.optim.SGD(lr=0.5), 5 epochs,
    loss computed before each step -- but on the committed data
    shared/data/notebook_train.csv (x, y; 50 rows) and notebook_test.csv
    (x, y_truth) and with w initialised to 0.3755578398704529 (the notebook's
    torch.rand draw) instead of torch.rand.  Run once in float32 (the
    notebook's dtype) and once in float64 (same code, torch.float64
    everywhere).  Also: Adam (PyTorch defaults, lr=0.1, 20 epochs) in float64,
    the LOO loss and its autograd gradient at a few w, the LOO predictions at
    w = 1, and predictions/attention on the test grid at the trained w.

Vectors written (SUF is f32 or f64)
    sgd_loss_SUF, sgd_grad_SUF, sgd_w_SUF  per epoch 1..5: loss L(w) before the
                                           step, dL/dw used by the step, w after
    fixed_pred_SUF        the "Kernel regression" cell (w = 1): 50 test preds
    fixed_attention_SUF   its 50x50 attention matrix (+ _shape)
    baseline_SUF          mean of y_train (1 value)
    trained_pred_SUF      test-grid predictions at w after the 5 SGD epochs
    trained_attention_f64 that attention matrix (+ _shape)
    adam_loss_f64, adam_grad_f64, adam_w_f64   as sgd_*, Adam lr=0.1, 20 epochs
    loo_w_f64, loo_loss_f64, loo_grad_f64      L(w) and dL/dw at
                                               w = 0.3755578398704529, 1, 3, 10, 30
    loo_pred_w1_f64       the 50 leave-one-out predictions at w = 1
    x_train, y_train, x_test, y_truth  the data as read (for checking)
    float32 values are written as the doubles they exactly are.

How to run (from the repository root; deterministic, single-threaded, CPU):
    /usr/bin/python3 tests/reference/notebook_torch.py
writes tests/reference/notebook_torch.txt and a summary on stderr.
"""
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.dont_write_bytecode = True   # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _refio import VectorFile  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
OUT = os.path.join(HERE, "notebook_torch.txt")
W0 = 0.3755578398704529

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


def find_data(name):
    for d in (SHARED, os.path.join(ROOT, "shared", "data"), os.path.join(ROOT, "data")):
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(name)


def read_csv(name):
    path = find_data(name)
    with open(path) as f:
        header = f.readline().strip().split(",")
    a = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    return header, a


# ---------------------------------------------------------------- the notebook
class NWKernelRegression(nn.Module):
    """The notebook's module, with w initialised to W0 instead of torch.rand."""

    def __init__(self, w0, dtype, **kwargs):
        super().__init__(**kwargs)
        self.w = nn.Parameter(torch.tensor([w0], dtype=dtype), requires_grad=True)

    def forward(self, queries, keys, values):
        # Shape of the output `queries` and `attention_weights`:
        # (no. of queries, no. of key-value pairs)
        queries = queries.repeat_interleave(keys.shape[1]).reshape((-1, keys.shape[1]))
        self.attention_weights = nn.functional.softmax(-(((queries - keys) * self.w) ** 2) / 2, dim=1)
        # Shape of `values`: (no. of queries, no. of key-value pairs)
        return torch.bmm(self.attention_weights.unsqueeze(1), values.unsqueeze(-1)).reshape(-1)


def loo_keys_values(x_train, y_train):
    n_train = len(x_train)
    X_tile = x_train.repeat((n_train, 1))
    Y_tile = y_train.repeat((n_train, 1))
    mask = (1 - torch.eye(n_train)).type(torch.bool)
    keys = X_tile[mask].reshape((n_train, -1))
    values = Y_tile[mask].reshape((n_train, -1))
    return keys, values


def train(x_train, y_train, dtype, make_opt, epochs, w0=W0):
    keys, values = loo_keys_values(x_train, y_train)
    net = NWKernelRegression(w0, dtype)
    loss = nn.MSELoss(reduction="none")
    trainer = make_opt(net.parameters())
    losses, grads, ws = [], [], []
    for epoch in range(epochs):
        trainer.zero_grad()
        l = loss(net(x_train, keys, values), y_train) / 2
        l.sum().backward()
        grads.append(float(net.w.grad[0]))
        trainer.step()
        losses.append(float(l.sum()))
        ws.append(float(net.w.detach()[0]))
    return net, losses, grads, ws


def loo_loss_grad(x_train, y_train, dtype, w):
    keys, values = loo_keys_values(x_train, y_train)
    net = NWKernelRegression(w, dtype)
    pred = net(x_train, keys, values)
    l = (nn.MSELoss(reduction="none")(pred, y_train) / 2).sum()
    l.backward()
    return float(l), float(net.w.grad[0]), pred.detach()


def fixed_kernel(x_train, y_train, x_test):
    n_train = len(x_train)
    X_repeat = x_test.repeat_interleave(n_train).reshape((-1, n_train))
    attention_weights = nn.functional.softmax(-((X_repeat - x_train) ** 2) / 2, dim=1)
    y_hat = torch.matmul(attention_weights, y_train)
    return y_hat, attention_weights


def test_grid(net, x_train, y_train, x_test):
    n_test = len(x_test)
    keys = x_train.repeat((n_test, 1))
    values = y_train.repeat((n_test, 1))
    with torch.no_grad():
        y_hat = net(x_test, keys, values)
    return y_hat, net.attention_weights.detach()


def main():
    t0 = time.time()
    htr, tr = read_csv("notebook_train.csv")
    hte, te = read_csv("notebook_test.csv")
    assert htr == ["x", "y"] and hte == ["x", "y_truth"], (htr, hte)
    assert tr.shape == (50, 2) and te.shape == (50, 2)
    # the CSV holds float32 values written as doubles: float32 loading is exact
    assert np.all(tr.astype(np.float32).astype(np.float64) == tr)
    assert np.all(te.astype(np.float32).astype(np.float64) == te)
    assert np.float64(np.float32(W0)) == W0

    vf = VectorFile(OUT, "tests/reference/notebook_torch.py",
                    "/usr/bin/python3 tests/reference/notebook_torch.py",
                    [("torch", torch.__version__), ("numpy", np.__version__)])
    vf.comment("data: shared/data/notebook_train.csv (x,y; 50 rows), shared/data/notebook_test.csv (x,y_truth; 50 rows)")
    vf.comment("w0 = %r; SGD lr=0.5, 5 epochs; Adam (PyTorch defaults betas=(0.9,0.999), eps=1e-8) lr=0.1, 20 epochs" % W0)
    vf.comment("loss = sum_i (pred_i - y_i)^2 / 2 over the leave-one-out predictions (only index i removed)")
    vf.comment("per epoch: *_loss = L before the step, *_grad = dL/dw used by the step, *_w = w after the step")
    vf.vec("x_train", tr[:, 0])
    vf.vec("y_train", tr[:, 1])
    vf.vec("x_test", te[:, 0])
    vf.vec("y_truth", te[:, 1])

    summary = []
    for dtype, suf in ((torch.float32, "f32"), (torch.float64, "f64")):
        x_train = torch.tensor(tr[:, 0], dtype=dtype)
        y_train = torch.tensor(tr[:, 1], dtype=dtype)
        x_test = torch.tensor(te[:, 0], dtype=dtype)

        baseline = y_train.mean()
        fixed_pred, fixed_att = fixed_kernel(x_train, y_train, x_test)
        net, losses, grads, ws = train(x_train, y_train, dtype,
                                       lambda p: torch.optim.SGD(p, lr=0.5), 5)
        trained_pred, trained_att = test_grid(net, x_train, y_train, x_test)

        vf.vec("sgd_loss_" + suf, losses)
        vf.vec("sgd_grad_" + suf, grads)
        vf.vec("sgd_w_" + suf, ws)
        vf.vec("fixed_pred_" + suf, fixed_pred)
        vf.mat("fixed_attention_" + suf, fixed_att.double().numpy())
        vf.vec("baseline_" + suf, [float(baseline)])
        vf.vec("trained_pred_" + suf, trained_pred)
        if dtype == torch.float64:
            vf.mat("trained_attention_f64", trained_att.numpy())
        summary.append("%s SGD lr=0.5:" % suf)
        for e in range(5):
            summary.append("  epoch %d  loss %.9f  grad %+.9e  w %.12f" % (e + 1, losses[e], grads[e], ws[e]))
        summary.append("  baseline %.9f  fixed_pred[0] %.9f  trained_pred[0] %.9f" %
                       (float(baseline), float(fixed_pred[0]), float(trained_pred[0])))

    # ------------------------------------------------------------- float64 extras
    dtype = torch.float64
    x_train = torch.tensor(tr[:, 0], dtype=dtype)
    y_train = torch.tensor(tr[:, 1], dtype=dtype)
    net, losses, grads, ws = train(x_train, y_train, dtype,
                                   lambda p: torch.optim.Adam(p, lr=0.1), 20)
    vf.vec("adam_loss_f64", losses)
    vf.vec("adam_grad_f64", grads)
    vf.vec("adam_w_f64", ws)
    summary.append("f64 Adam lr=0.1, 20 epochs: final loss-before-step %.9f, w %.12f" % (losses[-1], ws[-1]))

    loo_w = [W0, 1.0, 3.0, 10.0, 30.0]
    loo_l, loo_g = [], []
    for w in loo_w:
        l, g, _ = loo_loss_grad(x_train, y_train, dtype, w)
        loo_l.append(l)
        loo_g.append(g)
        summary.append("f64 LOO  w=%-19r L=%.12f  dL/dw=%+.12e" % (w, l, g))
    _, _, pred_w1 = loo_loss_grad(x_train, y_train, dtype, 1.0)
    vf.vec("loo_w_f64", loo_w)
    vf.vec("loo_loss_f64", loo_l)
    vf.vec("loo_grad_f64", loo_g)
    vf.vec("loo_pred_w1_f64", pred_w1)

    # independent numpy cross-check of the float64 LOO loss/gradient
    x = tr[:, 0]
    y = tr[:, 1]
    for w, l_t, g_t in zip(loo_w, loo_l, loo_g):
        d = x[:, None] - x[None, :]
        s = -(d * w) ** 2 / 2
        np.fill_diagonal(s, -np.inf)
        s -= s.max(axis=1, keepdims=True)
        a = np.exp(s)
        a /= a.sum(axis=1, keepdims=True)
        p = a @ y
        r = p - y
        # d p_i / dw = sum_j a_ij y_j ds_ij/dw - p_i sum_j a_ij ds_ij/dw, ds/dw = -w d^2
        ds = -w * d ** 2
        np.fill_diagonal(ds, 0.0)
        dp = (a * ds) @ y - p * (a * ds).sum(axis=1)
        l_np = 0.5 * np.sum(r ** 2)
        g_np = np.sum(r * dp)
        assert abs(l_np - l_t) <= 1e-12 * max(1.0, abs(l_t)), (w, l_np, l_t)
        assert abs(g_np - g_t) <= 1e-10 * max(1.0, abs(g_t)), (w, g_np, g_t)

    vf.write()
    print("wall time %.2f s" % (time.time() - t0), file=sys.stderr)
    print("\n".join(summary), file=sys.stderr)


if __name__ == "__main__":
    main()
