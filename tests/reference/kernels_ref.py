#!/usr/bin/python3
"""Reference vectors for nwreg's kernel family.

What it computes
    For each kernel of nwreg (u = (q - x) / h, normalising constants omitted,
    K(0) = 1):
        gaussian      exp(-u^2/2)
        epanechnikov  (1 - u^2)_+
        uniform       1{|u| <= 1}
        triangular    (1 - |u|)_+
        tricube       (1 - |u|^3)^3_+
        biweight      (1 - u^2)^2_+
        cosine        cos(pi u / 2) 1{|u| <= 1}
        laplace       exp(-|u|)
    on dataset d1 (tests/reference/data/d1.csv, written by statsmodels_ref.py;
    n = 120) with bandwidth h = 0.8:
      * k_<kernel>_lc: Nadaraya-Watson predictions sum_j K_j y_j / sum_j K_j
        straight from the formula;
      * k_<kernel>_ll: local-linear predictions, the intercept of the weighted
        least-squares fit of y on [1, x - q] with weights K_j;
      * k_<kernel>_loo_lc: the 120 leave-one-out lc predictions at the data
        points (only index i removed), and the LOO least-squares criteria
        k_<kernel>_cv_lc / k_<kernel>_cv_ll = mean_i (y_i - yhat_{-i})^2;
      * k_<kernel>_K: K(u) at the points k_u (including u = +-1 exactly, where
        uniform and cosine's indicator is 1 and the polynomial kernels are 0).
    at the queries k_queries: 23 points from -0.5 to 10.5, three data points,
    and x = 1000, far outside the data (d1's x lies in (0, 10)):
      - compact kernels have no neighbour there: the value written is nan
        (nwreg's default empty policy);
      - gaussian: computed stably (weights exp(log K - max log K), i.e.
        log-sum-exp), lc gives the nearest point's y (the runner-up's
        relative weight is ~e^-124); ll gives the line through the two
        nearest points extrapolated to 1000 (every farther point's weight is
        negligible but the slope does not depend on how small they are);
      - laplace: NOT the nearest point's y: for every q beyond the data the
        weights exp(-(q - x_j)/h) are all proportional to exp(x_j / h), so the
        prediction at 1000 equals the prediction at any q >= max x.
    Every value is computed twice: vectorised numpy (scaled weights, centred
    local-linear solve) and mpmath at 100 digits; they must agree to 1e-12
    relative, and the mpmath value (rounded to double) is written.

How to run (from the repository root; deterministic; a few seconds):
    /usr/bin/python3 tests/reference/kernels_ref.py
reads tests/reference/data/d1.csv, writes tests/reference/kernels_ref.txt.
"""
import os
import sys
import time

import mpmath as mp
import numpy as np

sys.dont_write_bytecode = True   # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _refio import VectorFile  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "kernels_ref.txt")
H = 0.8
KERNELS = ["gaussian", "epanechnikov", "uniform", "triangular", "tricube",
           "biweight", "cosine", "laplace"]
COMPACT = {"epanechnikov", "uniform", "triangular", "tricube", "biweight", "cosine"}


# ------------------------------------------------------------------ numpy
def logk_np(name, u):
    """log K(u) for the kernels with unbounded support."""
    if name == "gaussian":
        return -0.5 * u * u
    if name == "laplace":
        return -np.abs(u)
    raise ValueError(name)


def k_np(name, u):
    a = np.abs(u)
    inside = a <= 1.0
    if name == "gaussian":
        return np.exp(-0.5 * u * u)
    if name == "laplace":
        return np.exp(-a)
    if name == "epanechnikov":
        return np.where(inside, 1.0 - u * u, 0.0)
    if name == "uniform":
        return np.where(inside, 1.0, 0.0)
    if name == "triangular":
        return np.where(inside, 1.0 - a, 0.0)
    if name == "tricube":
        return np.where(inside, (1.0 - a ** 3) ** 3, 0.0)
    if name == "biweight":
        return np.where(inside, (1.0 - u * u) ** 2, 0.0)
    if name == "cosine":
        return np.where(inside, np.cos(np.pi * u / 2), 0.0)
    raise ValueError(name)


def weights_np(name, U):
    """Scaled weights per row (a row of zeros = empty neighbourhood)."""
    if name in COMPACT:
        return k_np(name, U)
    L = logk_np(name, U)
    return np.exp(L - np.max(L, axis=1, keepdims=True))


def est_np(W, x, y, q, rt):
    S0 = W.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ybar = W @ y / S0
        if rt == "lc":
            return ybar
        xbar = W @ x / S0
        Z = x[None, :] - xbar[:, None]
        C = np.sum(W * Z * Z, axis=1) / S0
        c = np.sum(W * Z * (y[None, :] - ybar[:, None]), axis=1) / S0
        return ybar + (q - xbar) * c / C


def predict_np(name, x, y, q, rt):
    return est_np(weights_np(name, (q[:, None] - x[None, :]) / H), x, y, q, rt)


def loo_np(name, x, y, rt):
    U = (x[:, None] - x[None, :]) / H
    if name in COMPACT:
        W = k_np(name, U)
    else:
        L = logk_np(name, U)
        np.fill_diagonal(L, -np.inf)
        W = np.exp(L - np.max(L, axis=1, keepdims=True))
    np.fill_diagonal(W, 0.0)
    return est_np(W, x, y, x, rt)


# ----------------------------------------------------------------- mpmath
def k_mp(name, u):
    a = abs(u)
    if name == "gaussian":
        return mp.exp(-u * u / 2)
    if name == "laplace":
        return mp.exp(-a)
    if a > 1:
        return mp.mpf(0)
    return {
        "epanechnikov": lambda: 1 - u * u,
        "uniform": lambda: mp.mpf(1),
        "triangular": lambda: 1 - a,
        "tricube": lambda: (1 - a ** 3) ** 3,
        "biweight": lambda: (1 - u * u) ** 2,
        "cosine": lambda: mp.cos(mp.pi * u / 2),
    }[name]()


def est_mp(name, xs, ys, q, rt):
    """lc / ll at q from the points (xs, ys), all mpf; nan if no weight."""
    h = mp.mpf(H)
    w = [k_mp(name, (q - xj) / h) for xj in xs]
    S0 = mp.fsum(w)
    if S0 == 0:
        return float("nan")
    ybar = mp.fsum(wj * yj for wj, yj in zip(w, ys)) / S0
    if rt == "lc":
        return float(ybar)
    xbar = mp.fsum(wj * xj for wj, xj in zip(w, xs)) / S0
    C = mp.fsum(wj * (xj - xbar) ** 2 for wj, xj in zip(w, xs))
    c = mp.fsum(wj * (xj - xbar) * (yj - ybar) for wj, xj, yj in zip(w, xs, ys))
    if C == 0:
        return float("nan")
    return float(ybar + (q - xbar) * c / C)


def check(what, a, b, tol=1e-12):
    a, b = np.asarray(a, float), np.asarray(b, float)
    same_nan = np.isnan(a) == np.isnan(b)
    assert np.all(same_nan), (what, a, b)
    ok = np.isnan(b) | (np.abs(a - b) <= tol * np.maximum(np.abs(b), 1.0))
    if not np.all(ok):
        i = np.argmax(~ok)
        raise AssertionError("%s: numpy %r vs mpmath %r (index %d)" % (what, a[i], b[i], i))


def main():
    t0 = time.time()
    mp.mp.dps = 100
    path = os.path.join(HERE, "data", "d1.csv")
    with open(path) as f:
        assert f.readline().strip() == "x,y"
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    x, y = data[:, 0], data[:, 1]
    n = len(x)
    xs = [mp.mpf(float(v)) for v in x]
    ys = [mp.mpf(float(v)) for v in y]

    q = np.concatenate([np.linspace(-0.5, 10.5, 23), x[[0, 5, 17]], [1000.0]])
    u = np.array([-5.0, -2.0, -1.0, -0.999, -0.5, -0.25, 0.0, 0.3, 0.7, 0.999999, 1.0,
                  1.0000000000000002, 1.5, 3.0, 30.0])

    vf = VectorFile(OUT, "tests/reference/kernels_ref.py",
                    "/usr/bin/python3 tests/reference/kernels_ref.py",
                    [("numpy", np.__version__), ("mpmath", mp.__version__)])
    vf.comment("data: tests/reference/data/d1.csv (n = %d); bandwidth h = %r" % (n, H))
    vf.comment("K(u): gaussian exp(-u^2/2), epanechnikov (1-u^2)_+, uniform 1{|u|<=1}, triangular (1-|u|)_+,")
    vf.comment("      tricube (1-|u|^3)^3_+, biweight (1-u^2)^2_+, cosine cos(pi u/2) 1{|u|<=1}, laplace exp(-|u|)")
    vf.comment("k_<kernel>_lc / _ll at k_queries (last query x = 1000: nan for compact kernels = no neighbour);")
    vf.comment("k_<kernel>_loo_lc at the data points, k_<kernel>_cv_lc / _cv_ll = mean squared LOO residual;")
    vf.comment("k_<kernel>_K = K(k_u).  Values: 100-digit mpmath rounded to double (numpy agrees to 1e-12).")
    vf.vec("k_h", [H])
    vf.vec("k_queries", q)
    vf.vec("k_u", u)

    summary = []
    for name in KERNELS:
        Kmp = [float(k_mp(name, mp.mpf(float(v)))) for v in u]
        check(name + " K", k_np(name, u), Kmp, 1e-15)
        vf.vec("k_%s_K" % name, Kmp)
        res = {}
        for rt in ("lc", "ll"):
            p_np = predict_np(name, x, y, q, rt)
            p_mp = [est_mp(name, xs, ys, mp.mpf(float(v)), rt) for v in q]
            check("%s %s" % (name, rt), p_np, p_mp)
            vf.vec("k_%s_%s" % (name, rt), p_mp)
            res[rt] = p_mp
            l_np = loo_np(name, x, y, rt)
            l_mp = [est_mp(name, xs[:i] + xs[i + 1:], ys[:i] + ys[i + 1:], xs[i], rt) for i in range(n)]
            check("%s loo %s" % (name, rt), l_np, l_mp)
            assert not np.any(np.isnan(l_mp)), name
            cv = float(mp.fsum((ys[i] - mp.mpf(l_mp[i])) ** 2 for i in range(n)) / n)
            check("%s cv %s" % (name, rt), [np.mean((y - l_np) ** 2)], [cv])
            if rt == "lc":
                vf.vec("k_%s_loo_lc" % name, l_mp)
            vf.vec("k_%s_cv_%s" % (name, rt), [cv])
            res["cv_" + rt] = cv
        summary.append("%-13s lc(q=%.4g)=%.10f ll=%.10f  lc(1000)=%r ll(1000)=%r  cv_lc=%.10f cv_ll=%.10f" % (
            name, q[0], res["lc"][0], res["ll"][0], res["lc"][-1], res["ll"][-1], res["cv_lc"], res["cv_ll"]))

    # the far query, explained
    i1, i2 = np.argsort(np.abs(1000.0 - x))[:2]
    vf.comment("x = 1000: nearest point x=%r y=%r; runner-up x=%r y=%r" % (x[i1], y[i1], x[i2], y[i2]))
    line_2nn = y[i1] + (1000.0 - x[i1]) * (y[i2] - y[i1]) / (x[i2] - x[i1])
    vf.comment("gaussian ll at 1000 = line through those two extrapolated = %r" % line_2nn)
    vf.comment("laplace at 1000 = laplace at any q >= max x = %r (lc)" %
               est_mp("laplace", xs, ys, mp.mpf(float(x.max())), "lc"))
    # statsmodels' tricube (nonparametric/kernels.py) sets u = 0 where |u| > 1,
    # so a point OUTSIDE the support gets the largest weight, 70/81; its own
    # test suite encodes that.  Recorded here so the C tests can show the
    # difference (nwreg: 0 outside the support).
    from statsmodels.nonparametric import kernels as smk
    su = np.array([-3.0, -1.5, -1.0, -0.5, 0.0, 0.5, 0.999, 1.0, 1.0000000000000002, 2.0])
    vf.comment("sm_tricube_K = statsmodels.nonparametric.kernels.tricube(1.0, sm_tricube_u, 0.0): "
               "70/81 (1-|u|^3)^3 inside, and 70/81 (its MAXIMUM) outside |u| <= 1 -- a statsmodels bug")
    vf.vec("sm_tricube_u", su)
    vf.vec("sm_tricube_K", smk.tricube(1.0, su.copy(), 0.0))
    vf.write()
    print("wall time %.1f s" % (time.time() - t0), file=sys.stderr)
    print("\n".join(summary), file=sys.stderr)
    print("x=1000: nearest (x=%r, y=%r); gaussian ll via 2-NN line %r" % (x[i1], y[i1], line_2nn), file=sys.stderr)


if __name__ == "__main__":
    main()
