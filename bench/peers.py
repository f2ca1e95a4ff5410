#!/usr/bin/python3
"""nwreg predict against its peers, side by side on the same data in one run.

Cases (--sizes picks them; each token is one case):
  N        1-d, n = m = N: keys x ~ U(0, 5), y = 2 sin x + x^0.8 + N(0, 0.5^2)
           (the notebook's data), queries on the grid linspace(0, 5, m);
           Gaussian kernel, h = 0.3 (the dense regime)
  gridN    1-d, N keys onto the m = 10^4 grid on [0, 5], h = 0.3 (`gridN:M`
           for another grid size): locpoly's home turf
  2dN      d = 2, n = m = N: x ~ U(0, 5)^2, y = 2 sin x1 + x1^0.8 + x2^0.8
           + N(0, 0.5^2), queries ~ U(0, 5)^2, isotropic Gaussian, h = 0.3
Default: 1e4 1e5 grid1e7 2d1e4 2d1e5.  --quick: 1000 3000 grid2e4:1000 2d1000.

Peers (each one a separate process, so that its peak RSS is its own: VmHWM,
the RSS high-water that ru_maxrss also reports, read from /proc/self/status):
  nwreg       the whole `nwreg predict TRAIN.csv QUERIES.csv` process, CSV
              reading and writing included (the output a new file each
              run, removed before it; timed alone; one more run
              under /usr/bin/time gives its peak RSS), and the computation's
              own time where `--verbose` reports it; f64, f32 where
              `--precision f32` exists; lc and (1-d) ll
  numpy       chunked dense NW: tiles of about --tile (query, key) pairs,
              w = exp(-d^2 / 2h^2) in place, yhat = (w @ y) / w.sum(1); f64, f32
  torch       the same in PyTorch on the CPU, torch.set_num_threads(2); f64, f32
  statsmodels KernelReg(y, x, 'c'*d, reg_type='lc', bw=[h]*d).fit(q); f64
  locpoly     R KernSmooth::locpoly, degree 0 (vs nwreg lc) and 1 (vs nwreg ll),
              gridsize = m on the same grid (1-d only)
  ksmooth     R stats::ksmooth(kernel = "normal", bandwidth = h / 0.3706506)
              (its quartiles sit at +-0.25 bandwidth; 1-d only)
The peers' time is the computation's wall clock inside the process (imports,
reading the data and converting it to the peer's dtype are not timed); the
median of --repeat runs, fewer where the runs pass --budget seconds in total
(nwreg runs under 0.1 s: 21 of them).
A peer whose run is estimated (from its rate on the previous case, or a prior)
to take more than --cap seconds is skipped and the table says so.

Exact: `nwreg predict --engine dense` in f64 (where --engine exists; before
that nwreg has only the dense engine and its own f64 run is the reference),
cross-checked once per case against numpy on a subset of queries (float64
weights with max-shifted exponents, long-double sums).  Error = max over queries of
|yhat - exact| / |exact|.  Evaluations/s = n m / time.

Writes OUT/peers.md (the table), OUT/peers.csv and OUT/peers.png (time
against n, log-log; matplotlib, else R's png()).
Run:  /usr/bin/python3 bench/peers.py [--nwreg build/nwreg] [--quick] [--sizes ...]
Needs Debian's python3-numpy python3-torch python3-statsmodels r-base-core
r-cran-kernsmooth time (make bench-peers installs them).
"""
import argparse
import csv
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
LO, HI = 0.0, 5.0
H = 0.3
# nwreg runs shorter than SHORT_RUN_S (median so far) are repeated SHORT_RUNS times
SHORT_RUN_S, SHORT_RUNS = 0.1, 21
QUICK = ["1000", "3000", "grid2e4:1000", "2d1000"]
FULL = ["1e4", "1e5", "grid1e7", "2d1e4", "2d1e5"]

# Prior rates, (query, key) pairs per second on 2 cores, used to decide
# whether a peer's first run would pass --cap before any rate is measured
# (issue 4's figures, rounded down).  A measured rate replaces them.
PRIOR_RATE = {"numpy": 2e8, "torch": 2e8, "statsmodels": 5e7,
              "ksmooth": 1e8, "locpoly": 3e8}


# ------------------------------------------------------------------ cases

class Case:
    """One data set: n keys in d dimensions, m queries, Gaussian, bandwidth h."""

    def __init__(self, token):
        self.token = token
        t = token.lower()
        self.grid = t.startswith("grid")
        self.d = 2 if t.startswith("2d") else 1
        body = t[4:] if self.grid else t[2:] if self.d == 2 else t
        if self.grid and ":" in body:
            body, mtok = body.split(":", 1)
            self.m = int(float(mtok))
        else:
            self.m = None
        try:
            self.n = int(float(body))
        except ValueError:
            sys.exit(f"peers.py: bad --sizes token '{token}' (N, gridN[:M] or 2dN)")
        if self.m is None:
            self.m = 10000 if self.grid else self.n
        if self.n < 2 or self.m < 2:
            sys.exit(f"peers.py: bad --sizes token '{token}': n and m must be >= 2")
        self.h = H
        self.kernel = "gaussian"

    @property
    def family(self):
        """The plot's panel: cases that differ only in n."""
        if self.grid:
            return f"1-d, m = {self.m:.0e} grid".replace("e+0", "e")
        return f"{self.d}-d, m = n"

    @property
    def label(self):
        return f"d={self.d} n={self.n:.0e} m={self.m:.0e}".replace("e+0", "e")

    def data(self):
        """x (n, d), y (n,), q (m, d), all float64, seeded by the case."""
        rng = np.random.default_rng(20261127 + 7 * self.n + self.m + self.d)
        x = rng.uniform(LO, HI, (self.n, self.d))
        if self.d == 1:
            f = 2 * np.sin(x[:, 0]) + x[:, 0] ** 0.8
            q = np.linspace(LO, HI, self.m)[:, None]
        else:
            f = 2 * np.sin(x[:, 0]) + x[:, 0] ** 0.8 + x[:, 1] ** 0.8
            q = rng.uniform(LO, HI, (self.m, self.d))
        y = f + rng.normal(0, 0.5, self.n)
        return x, y, q


def write_csv(path, cols, names):
    """Shortest round-trip decimal (repr), so that nwreg reads exactly the
    doubles the peers get; written in blocks to bound the memory."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(",".join(names) + "\n")
        n = len(cols[0])
        step = 1 << 18
        for s in range(0, n, step):
            rows = zip(*(c[s:s + step].tolist() for c in cols))
            f.write("".join(",".join(map(repr, r)) + "\n" for r in rows))
    os.replace(tmp, path)


# --------------------------------------------------------- the references

def nw_reference(x, y, q, h, estimator):
    """NW (lc) or local linear (ll, d = 1) at each row of q, one query at a
    time: weights in float64 with the exponents shifted by their maximum (no
    underflow), every sum accumulated in long double (x87 80-bit, pairwise).
    Plain float64 numpy is not accurate enough to judge nwreg: np.dot's sums
    over n = 10^6 keys were off by 4e-13 relative where nwreg's dense engine
    and this reference agreed to 5e-15."""
    ld = np.longdouble
    yl = y.astype(ld)
    out = np.empty(len(q))
    for i, qi in enumerate(q):
        z = x - qi                      # (n, d)
        s = -0.5 * np.sum(z * z, axis=1) / (h * h)
        w = np.exp(s - s.max()).astype(ld)
        if estimator == "lc":
            out[i] = float(np.sum(w * yl) / np.sum(w))
        else:
            u = z[:, 0].astype(ld)
            wu = w * u
            s0, s1, s2 = np.sum(w), np.sum(wu), np.sum(wu * u)
            t0, t1 = np.sum(w * yl), np.sum(wu * yl)
            out[i] = float((s2 * t0 - s1 * t1) / (s0 * s2 - s1 * s1))
    return out


def max_abs_err(yhat, exact):
    yhat = np.asarray(yhat, dtype=np.float64)
    if yhat.shape != exact.shape:
        return float("nan")
    return float(np.max(np.abs(yhat - exact)))


def max_rel_err(yhat, exact):
    yhat = np.asarray(yhat, dtype=np.float64)
    if yhat.shape != exact.shape:
        return float("nan")
    if not np.all(np.isfinite(yhat)):
        return float("inf")
    return float(np.max(np.abs(yhat - exact) / np.abs(exact)))


# ----------------------------------------------------- in-process workers

def vmhwm_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def worker(a):
    """Run one Python peer on DATA.npz: print JSON {times, base_kb, peak_kb},
    save the last run's predictions to --out (.npy)."""
    dat = np.load(a.worker_data)
    x, y, q, h = dat["x"], dat["y"], dat["q"], float(dat["h"])
    dt = np.float32 if a.precision == "f32" else np.float64
    n, d = x.shape
    tile = max(1, a.tile // n)           # queries per tile

    if a.worker == "numpy":
        xs = [np.ascontiguousarray(x[:, k], dtype=dt) for k in range(d)]
        qs = [np.ascontiguousarray(q[:, k], dtype=dt) for k in range(d)]
        ys = y.astype(dt)
        c = dt(-0.5 / (h * h))

        def run():
            out = np.empty(len(qs[0]), dtype=dt)
            for s in range(0, len(out), tile):
                w = np.subtract.outer(qs[0][s:s + tile], xs[0])
                w *= w
                for k in range(1, d):
                    t = np.subtract.outer(qs[k][s:s + tile], xs[k])
                    t *= t
                    w += t
                w *= c
                np.exp(w, out=w)
                out[s:s + tile] = (w @ ys) / w.sum(axis=1)
            return out
    elif a.worker == "torch":
        import torch
        torch.set_num_threads(2)
        tdt = torch.float32 if a.precision == "f32" else torch.float64
        xs = [torch.from_numpy(np.ascontiguousarray(x[:, k])).to(tdt) for k in range(d)]
        qs = [torch.from_numpy(np.ascontiguousarray(q[:, k])).to(tdt)[:, None] for k in range(d)]
        ys = torch.from_numpy(y).to(tdt)
        c = -0.5 / (h * h)

        def run():
            with torch.no_grad():
                out = torch.empty(len(qs[0]), dtype=tdt)
                for s in range(0, len(out), tile):
                    w = (qs[0][s:s + tile] - xs[0]).square_()
                    for k in range(1, d):
                        w += (qs[k][s:s + tile] - xs[k]).square_()
                    w.mul_(c).exp_()
                    out[s:s + tile] = (w @ ys) / w.sum(dim=1)
                return out.numpy()
    elif a.worker == "statsmodels":
        from statsmodels.nonparametric.kernel_regression import KernelReg

        def run():
            kr = KernelReg(y, x, "c" * d, reg_type="lc", bw=[h] * d)
            return kr.fit(q)[0]
    else:
        sys.exit(f"peers.py: unknown worker {a.worker}")

    base = vmhwm_kb()
    times = []
    while True:
        t = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t)
        if len(times) >= a.repeat or sum(times) > a.budget:
            break
    np.save(a.out, np.asarray(out, dtype=np.float64))
    # VmHWM is ru_maxrss without what Linux carries over from the parent
    # through fork + exec (ru_maxrss here showed the driver's 230 MiB).
    peak = max(vmhwm_kb(), 0)
    print(json.dumps({"times": times, "base_kb": base, "peak_kb": peak}))
    return 0


# ------------------------------------------------------------- the driver

class Bench:
    def __init__(self, a, tmp):
        self.a = a
        self.tmp = tmp
        self.rates = {}                 # peer key -> measured pairs/s
        self.rows = []
        self.checks = {}                # case label -> note on the exact reference
        help_text = subprocess.run([a.nwreg, "predict", "--help"], capture_output=True,
                                   text=True).stdout
        self.has_engine = "--engine" in help_text
        self.has_f32 = "f32" in help_text
        self.has_verbose = "--verbose" in help_text
        ver = subprocess.run([a.nwreg, "--version"], capture_output=True, text=True)
        self.nwreg_version = (ver.stdout or ver.stderr).strip().splitlines()[0] if ver.returncode == 0 else "?"
        self.versions = versions()
        self.started = datetime.datetime.utcnow()

    # -- nwreg ----------------------------------------------------------

    def nwreg_cmd(self, case, files, estimator, precision, engine, out):
        cmd = [self.a.nwreg, "predict", files["train"], files["query"],
               "--bandwidth", repr(case.h), "--kernel", case.kernel, "--estimator", estimator,
               "--threads", "2", "-o", out]
        if case.d > 1:
            cmd += ["--x", ",".join(f"x{k + 1}" for k in range(case.d)), "--y", "y"]
        if engine:
            cmd += ["--engine", engine]
        if precision == "f32":
            cmd += ["--precision", "f32"]
        if self.has_verbose:
            cmd += ["--verbose"]
        return cmd

    @staticmethod
    def parse_verbose(err):
        """The engine that ran, the computation's seconds and a note (bound,
        fallbacks), from nwreg --verbose.  Its line reads
          nwreg: predict: engine fgt, certified relative error 1.29e-13,
                 0 exact fallbacks, 0.0397 s
        Failing that: the first 'engine NAME' / 'engine: NAME', and the first
        number followed by 's' or 'ms' on a line that names the engine or
        speaks of time."""
        engine, secs, info = None, None, []
        lines = err.splitlines()
        pred = [l for l in lines if l.lower().startswith("nwreg: predict:")]
        if pred:
            low = pred[-1].lower()
            mt = re.search(r"certified relative error ([^,]+)", low)
            if mt:
                info.append(f"bound {mt.group(1).strip()}")
            mt = re.search(r"([0-9]+) exact fallbacks?", low)
            if mt and mt.group(1) != "0":
                info.append(f"{mt.group(1)} dense fallbacks")
            lines = pred
        for line in lines:
            low = line.lower()
            if engine is None:
                mt = re.search(r"engine[\s:=]+([a-z0-9_]+)", low)
                if mt:
                    engine = mt.group(1)
            if secs is None and re.search(r"engine|time|took|elapsed|comput|second|wall", low):
                mt = re.search(r"([0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)\s*(ms|s|seconds?)\b", low)
                if mt:
                    secs = float(mt.group(1)) * (1e-3 if mt.group(2) == "ms" else 1.0)
        return engine, secs, ", ".join(info)

    def read_pred(self, path, case):
        return np.loadtxt(path, delimiter=",", skiprows=1, usecols=(case.d,), ndmin=1)

    @staticmethod
    def run_timed(cmd):
        """Run cmd, its stdout discarded: (seconds, exit status, stderr).
        Started and timed by this script alone: no wrapper such as
        /usr/bin/time is timed with it (~1 ms, a tenth of a short run)."""
        t = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        secs = time.perf_counter() - t
        return secs, r.returncode, r.stderr.decode(errors="replace")

    def peak_kib(self, cmd):
        """The peak RSS of one more run of cmd, by /usr/bin/time (untimed).
        Not this script's own wait4(): a child's ru_maxrss counts the
        memory of the process it was forked from, up to its exec (here the
        interpreter holding the peers' data)."""
        rss_file = os.path.join(self.tmp, "rss.txt")
        r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode != 0:
            return None
        with open(rss_file) as f:
            return int(f.read().split()[-1])

    def run_nwreg(self, case, files, estimator, precision, engine=None, repeat=None):
        out = os.path.join(self.tmp, f"nw-{estimator}-{precision}-{engine}.csv")
        cmd = self.nwreg_cmd(case, files, estimator, precision, engine, out)
        times, computes, eng = [], [], None
        repeat = repeat or self.a.repeat
        while True:
            # every run creates its output, as a first run does: replacing
            # the previous run's file would add the old file's release to
            # the run (~0.7 ms for 0.5 MB on ext4 here, in rename(); the
            # peers write no file at all)
            if os.path.exists(out):
                os.remove(out)
            secs, rc, err = self.run_timed(cmd)
            times.append(secs)
            if rc != 0:
                return {"error": (err.strip().splitlines() or ["?"])[-1]}
            e, s, info = self.parse_verbose(err)
            eng = eng or e
            if s is not None:
                computes.append(s)
            # a run of milliseconds: 21 of them, whose median a stray
            # millisecond of the shared machine does not move
            want = max(repeat, SHORT_RUNS) if statistics.median(times) < SHORT_RUN_S else repeat
            if len(times) >= want or sum(times) > self.a.budget:
                break
        peak = self.peak_kib(cmd)
        return {"times": times, "compute": statistics.median(computes) if computes else None,
                "peak_kb": peak, "base_kb": None, "pred": self.read_pred(out, case),
                "engine": eng or ("dense" if not self.has_engine else None), "info": info}

    # -- the others -----------------------------------------------------

    def run_python(self, peer, precision, files, timeout):
        out = os.path.join(self.tmp, f"{peer}-{precision}.npy")
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", peer,
               "--worker-data", files["npz"], "--precision", precision, "--out", out,
               "--repeat", str(self.a.repeat), "--budget", str(self.a.budget),
               "--tile", str(self.a.tile)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            return {"error": (r.stderr.strip().splitlines() or ["?"])[-1]}
        res = json.loads(r.stdout.strip().splitlines()[-1])
        res["pred"] = np.load(out)
        return res

    def run_r(self, method, case, files, timeout):
        out = os.path.join(self.tmp, f"{method}.bin")
        rss_file = os.path.join(self.tmp, "rss-r.txt")
        cmd = ["/usr/bin/time", "-f", "%M", "-o", rss_file, "Rscript", "--vanilla",
               os.path.join(HERE, "peers.R"), method, files["bin"], str(case.n), str(case.m),
               repr(case.h), repr(LO), repr(HI), str(self.a.repeat), str(self.a.budget), out]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            return {"error": (r.stderr.strip().splitlines() or ["?"])[-1]}
        res = {}
        for line in r.stdout.splitlines():
            parts = line.split()
            if parts and parts[0] == "times":
                res["times"] = [float(v) for v in parts[1:]]
            elif parts and parts[0] == "base_kb":
                res["base_kb"] = int(float(parts[1]))
            elif parts and parts[0] == "grid_diff":
                res["grid_diff"] = float(parts[1])
        with open(rss_file) as f:
            res["peak_kb"] = int(f.read().split()[-1])
        res["pred"] = np.fromfile(out, dtype="<f8")
        return res

    # -- one case -------------------------------------------------------

    @staticmethod
    def cost(kind, case):
        """Work in (query, key) pairs, for the run-time estimates."""
        if kind == "locpoly":
            half = min(case.m, int(4 * case.h / ((HI - LO) / (case.m - 1))))
            return case.n + case.m * (2 * half + 1)
        if kind == "ksmooth":
            return case.n * case.m * min(1.0, 8 * case.h / (HI - LO))
        return case.n * case.m * case.d

    def estimate(self, key, kind, case):
        rate = self.rates.get(key, PRIOR_RATE.get(kind))
        # x1.25: a peer's rate falls as its arrays leave the caches
        return 1.25 * self.cost(kind, case) / rate if rate else 0.0

    def add(self, case, peer, precision, estimator, res, exact, nwref, note=""):
        row = {"case": case.label, "family": case.family, "d": case.d, "n": case.n, "m": case.m, "kernel": case.kernel,
               "bandwidth": case.h, "estimator": estimator, "peer": peer, "precision": precision,
               "runs": "", "time_s": "", "compute_s": "", "evals_per_s": "", "peak_mib": "",
               "base_mib": "", "ratio": "", "ratio_compute": "", "max_rel_err": "", "max_abs_err": "", "note": note}
        if res is not None and "error" not in res:
            t = statistics.median(res["times"])
            row["runs"] = len(res["times"])
            row["time_s"] = t
            comp = res.get("compute")
            row["compute_s"] = comp if comp is not None else ""
            row["evals_per_s"] = case.n * case.m / (comp if comp else t)
            row["peak_mib"] = res["peak_kb"] / 1024 if res.get("peak_kb") else ""
            row["base_mib"] = res["base_kb"] / 1024 if res.get("base_kb") else ""
            if exact is not None:
                row["max_rel_err"] = max_rel_err(res["pred"], exact)
                row["max_abs_err"] = max_abs_err(res["pred"], exact)
            if nwref is not None and peer != "nwreg":
                row["ratio"] = t / nwref["time"]
                if nwref.get("compute"):
                    row["ratio_compute"] = t / nwref["compute"]
            if res.get("engine"):
                eng = f"engine {res['engine']}" + (f" ({res['info']})" if res.get("info") else "")
                row["note"] = (eng + "; " + row["note"]).rstrip("; ")
            if res.get("grid_diff"):
                row["note"] = (row["note"] + f"; grid differs by {res['grid_diff']:.2g}").lstrip("; ")
        elif res is not None:
            row["note"] = "failed: " + res["error"]
        self.rows.append(row)
        self.flush()
        print(f"  {peer:>11} {precision} {estimator}: "
              + (f"{row['time_s']:.4g} s, err {row['max_rel_err']:.2g}" if row["time_s"] != ""
                 else row["note"]), flush=True)

    def run_case(self, case):
        a = self.a
        print(f"case {case.label} (h = {case.h}, {case.kernel})", flush=True)
        arrays = 8 * (case.n * (case.d + 1) + case.m * (case.d + 1)) / 2**20
        self.checks.setdefault(case.label, []).append(
            f"load average (1 min) at the start of the case: {os.getloadavg()[0]:.2f}; "
            f"input + output arrays in f64 (x, y, q, yhat): {arrays:.1f} MiB")
        x, y, q = case.data()
        files = {"train": os.path.join(self.tmp, "train.csv"),
                 "query": os.path.join(self.tmp, "query.csv"),
                 "npz": os.path.join(self.tmp, "data.npz"),
                 "bin": os.path.join(self.tmp, "data.bin")}
        xn = [f"x{k + 1}" for k in range(case.d)] if case.d > 1 else ["x"]
        write_csv(files["train"], [x[:, k] for k in range(case.d)] + [y], xn + ["y"])
        write_csv(files["query"], [q[:, k] for k in range(case.d)], xn)
        np.savez(files["npz"], x=x, y=y, q=q, h=case.h)
        if case.d == 1:
            np.concatenate([x[:, 0], y, q[:, 0]]).astype("<f8").tofile(files["bin"])

        estimators = ["lc", "ll"] if case.d == 1 else ["lc"]
        precisions = ["f64", "f32"] if self.has_f32 else ["f64"]

        # nwreg, timed, then the exact reference per estimator
        nw, exact = {}, {}
        for est in estimators:
            for prec in precisions if est == "lc" else ["f64"]:   # no peer does ll in f32
                nw[est, prec] = self.run_nwreg(case, files, est, prec)
            if "error" in nw[est, "f64"]:
                exact[est] = None
            elif self.has_engine:
                ex = self.run_nwreg(case, files, est, "f64", engine="dense", repeat=1)
                exact[est] = ex.get("pred")
            else:
                exact[est] = nw[est, "f64"]["pred"]
            if exact[est] is not None:
                k = 64 if case.n <= 10**6 else 16
                idx = np.unique(np.linspace(0, case.m - 1, k).astype(int))
                ref = nw_reference(x, y, q[idx], case.h, est)
                chk = float(np.max(np.abs(exact[est][idx] - ref) / np.abs(ref)))
                self.checks.setdefault(case.label, []).append(
                    f"{est}: exact (nwreg{' --engine dense' if self.has_engine else ''} f64) "
                    f"vs numpy (long-double sums) on {len(idx)} queries: max rel diff {chk:.2g}")
                print(f"  exact {est} cross-check: {chk:.2g}", flush=True)
        for est in estimators:
            for prec in precisions if est == "lc" else ["f64"]:
                r = nw[est, prec]
                ref = {"time": statistics.median(r["times"]), "compute": r.get("compute")} \
                    if "error" not in r else None
                self.add(case, "nwreg", prec, est, r, exact[est], None)
                nw[est, prec] = ref
        if not self.has_f32:
            self.add(case, "nwreg", "f32", "lc", None, None, None,
                     "n/a: this nwreg has no --precision f32")

        def nwref(est, prec):
            return nw.get((est, prec)) or nw.get((est, "f64"))

        # the other peers
        timeout = a.budget + 2 * a.cap + 60
        jobs = []
        for prec in ("f64", "f32"):
            jobs += [("numpy", "numpy", prec, "lc"), ("torch", "torch", prec, "lc")]
        jobs.append(("statsmodels", "statsmodels", "f64", "lc"))
        jobs += [("ksmooth", "ksmooth", "f64", "lc"), ("locpoly0", "locpoly", "f64", "lc"),
                 ("locpoly1", "locpoly", "f64", "ll")]
        for name, kind, prec, est in jobs:
            if a.peers and kind not in a.peers:
                continue
            key = f"{name}-{prec}"
            peer = {"locpoly0": "locpoly deg 0", "locpoly1": "locpoly deg 1"}.get(name, name)
            ref = nwref(est, prec)
            if kind in ("ksmooth", "locpoly") and case.d > 1:
                self.add(case, peer, prec, est, None, None, None, "n/a: 1-d only")
                continue
            if not shutil.which("Rscript") and kind in ("ksmooth", "locpoly"):
                self.add(case, peer, prec, est, None, None, None, "n/a: Rscript not found")
                continue
            est_s = self.estimate(key, kind, case)
            if est_s > a.cap:
                self.add(case, peer, prec, est, None, None, None,
                         f"skipped: estimated {est_s:.0f} s per run > {a.cap:.0f} s")
                continue
            t0 = time.perf_counter()
            try:
                if kind in ("ksmooth", "locpoly"):
                    res = self.run_r(name, case, files, timeout)
                else:
                    res = self.run_python(name, prec, files, timeout)
            except subprocess.TimeoutExpired:
                self.add(case, peer, prec, est, None, None, None,
                         f"skipped: killed after {time.perf_counter() - t0:.0f} s")
                self.rates[key] = self.cost(kind, case) / (2 * a.cap)
                continue
            if "error" not in res:
                self.rates[key] = self.cost(kind, case) / statistics.median(res["times"])
            note = "vs nwreg f64 (no nwreg f32)" if prec == "f32" and not self.has_f32 else ""
            self.add(case, peer, prec, est, res, exact[est], ref, note)

    # -- output ---------------------------------------------------------

    FIELDS = ["case", "family", "d", "n", "m", "kernel", "bandwidth", "estimator", "peer", "precision",
              "runs", "time_s", "compute_s", "evals_per_s", "peak_mib", "base_mib", "ratio",
              "ratio_compute", "max_rel_err", "max_abs_err", "note"]

    def flush(self):
        """Rewrite the CSV and the table after every row (atomically), so an
        interrupted run leaves what it measured."""
        os.makedirs(self.a.out_dir, exist_ok=True)
        path = os.path.join(self.a.out_dir, "peers.csv")
        with open(path + ".tmp", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.FIELDS)
            w.writeheader()
            for r in self.rows:
                w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
        os.replace(path + ".tmp", path)
        path = os.path.join(self.a.out_dir, "peers.md")
        with open(path + ".tmp", "w") as f:
            f.write(self.markdown())
        os.replace(path + ".tmp", path)

    def markdown(self):
        def g(v, fmt):
            return "" if v == "" or v is None else format(v, fmt)

        cpu = "?"
        try:
            with open("/proc/cpuinfo") as f:
                cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
        except (OSError, StopIteration):
            pass
        lines = [
            "# nwreg predict against its peers",
            "",
            f"Measured from {self.started:%Y-%m-%d %H:%M} UTC on {cpu}, "
            f"{os.cpu_count()} cores (shared machine: absolute times drift; ratios are from one run).",
            f"Command: `{' '.join(self.a.argv)}`  ",
            f"nwreg: {self.nwreg_version} ({'--engine' if self.has_engine else 'no --engine'}, "
            f"{'--precision f32' if self.has_f32 else 'no f32'}, "
            f"{'--verbose' if self.has_verbose else 'no --verbose'}); {self.versions}.",
            "",
            "Gaussian kernel with standard deviation h (ksmooth: bandwidth = h / 0.3706506). "
            "time: median wall clock of the computation over `runs` runs; for nwreg the whole "
            "`nwreg predict` process (CSV reading and writing included, the output a new file "
            "each run; started by the script itself and timed to its exit), compute: the time nwreg "
            "--verbose reports for the computation alone. evals/s = n m / time (compute for nwreg "
            "where known). peak: RSS high-water of the process (before: at the start of the "
            "computation, i.e. interpreter + data). ratio: the peer's time / nwreg's time for the "
            "same estimator and precision (process; compute in brackets): above 1, nwreg is faster. "
            "err: max over queries of |yhat - exact| / |exact|, exact = nwreg dense f64; abs err: "
            "max |yhat - exact| (y is of order 1; local linear's exact value is near 0 at x = 0, "
            "which inflates the relative error there).",
            "",
        ]
        cases = []
        for r in self.rows:
            if r["case"] not in cases:
                cases.append(r["case"])
        for c in cases:
            rs = [r for r in self.rows if r["case"] == c]
            lines.append(f"## {c}, h = {rs[0]['bandwidth']}, {rs[0]['kernel']}")
            lines.append("")
            for chk in self.checks.get(c, []):
                lines.append(f"- {chk}")
            lines.append("")
            lines.append("| peer | est | prec | time s | runs | compute s | evals/s | peak MiB "
                         "| before MiB | ratio | err | abs err | note |")
            lines.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
            for r in rs:
                ratio = g(r["ratio"], ".3g")
                if ratio and r["ratio_compute"] != "":
                    ratio += f" ({r['ratio_compute']:.3g})"
                lines.append(
                    f"| {r['peer']} | {r['estimator']} | {r['precision']} | {g(r['time_s'], '.4g')} "
                    f"| {r['runs']} | {g(r['compute_s'], '.4g')} | {g(r['evals_per_s'], '.3g')} "
                    f"| {g(r['peak_mib'], '.0f')} | {g(r['base_mib'], '.0f')} | {ratio} "
                    f"| {g(r['max_rel_err'], '.2g')} | {g(r['max_abs_err'], '.2g')} | {r['note']} |")
            lines.append("")
        return "\n".join(lines) + "\n"

    def plot(self):
        path = os.path.join(self.a.out_dir, "peers.png")
        rows = [r for r in self.rows if r["time_s"] != ""]
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            r = subprocess.run(["Rscript", "--vanilla", os.path.join(HERE, "peers.R"), "plot",
                                os.path.join(self.a.out_dir, "peers.csv"), path + ".tmp.png"])
            if r.returncode == 0:
                os.replace(path + ".tmp.png", path)
            return
        families = []
        labels = []
        for r in rows:
            if r["family"] not in families:
                families.append(r["family"])
            lab = f"{r['peer']} {r['estimator']} {r['precision']}"
            if lab not in labels:
                labels.append(lab)
        colour = {lab: plt.get_cmap("tab20")(i % 20) for i, lab in enumerate(labels)}
        fig, axes = plt.subplots(1, max(1, len(families)), figsize=(6.2 * max(1, len(families)), 5.4),
                                 squeeze=False)
        for ax, fam in zip(axes[0], families):
            sub = [r for r in rows if r["family"] == fam]
            for lab in labels:
                pts = sorted((r["n"], r["time_s"]) for r in sub
                             if f"{r['peer']} {r['estimator']} {r['precision']}" == lab)
                if not pts:
                    continue
                nw = lab.startswith("nwreg")
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "-o" if nw else "--o",
                        label=lab, color=colour[lab], linewidth=2.4 if nw else 1.2,
                        markersize=5 if nw else 4)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("n (training points)")
            ax.set_ylabel("time per run, s (median; nwreg: whole process)")
            ax.set_title(f"{fam}, Gaussian, h = {H}", fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
        fig.suptitle("nwreg predict and its peers, 2 threads where the peer has them "
                     "(peers skipped past the cap are absent: see peers.md)", fontsize=10)
        fig.tight_layout()
        fig.savefig(path + ".tmp.png", dpi=100)
        os.replace(path + ".tmp.png", path)


def versions():
    out = [f"numpy {np.__version__}"]
    for mod in ("torch", "statsmodels"):
        try:
            out.append(f"{mod} {__import__(mod).__version__}")
        except ImportError:
            out.append(f"{mod} missing")
    if shutil.which("Rscript"):
        r = subprocess.run(["Rscript", "--vanilla", "-e",
                            "cat(R.version$major, R.version$minor, "
                            "as.character(packageVersion('KernSmooth')))"],
                           capture_output=True, text=True)
        p = r.stdout.split()
        if len(p) == 3:
            out.append(f"R {p[0]}.{p[1]}, KernSmooth {p[2]}")
    out.append(f"Python {platform.python_version()}")
    return ", ".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--nwreg", default="build/nwreg")
    ap.add_argument("--quick", action="store_true",
                    help="small sizes (a smoke test, < 60 s), written to a temporary folder")
    ap.add_argument("--sizes", nargs="+", help="cases: N, gridN[:M], 2dN (see above)")
    ap.add_argument("--peers", nargs="+",
                    help="only these besides nwreg: numpy torch statsmodels ksmooth locpoly")
    ap.add_argument("--repeat", type=int, default=3, help="runs per peer (median), default 3")
    ap.add_argument("--budget", type=float, default=60.0,
                    help="stop repeating once a peer's runs pass this many seconds (default 60)")
    ap.add_argument("--cap", type=float, default=60.0,
                    help="skip a peer whose run is estimated to pass this (default 60 s)")
    ap.add_argument("--tile", type=int, default=1 << 19,
                    help="numpy/torch tile size in (query, key) pairs (default 2^19)")
    ap.add_argument("--out-dir", help="default bench/results (--quick: a temporary folder)")
    # worker mode (internal)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--worker-data", help=argparse.SUPPRESS)
    ap.add_argument("--precision", default="f64", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a)
    a.argv = ["/usr/bin/python3", "bench/peers.py"] + sys.argv[1:]
    if not os.access(a.nwreg, os.X_OK):
        sys.exit(f"peers.py: {a.nwreg}: not an executable (build nwreg first, or pass --nwreg)")
    if not os.access("/usr/bin/time", os.X_OK):
        sys.exit("peers.py: /usr/bin/time missing (Debian package 'time')")
    sizes = a.sizes or (QUICK if a.quick else FULL)
    cases = [Case(s) for s in sizes]
    if a.quick:
        a.repeat = min(a.repeat, 2)
        a.budget = min(a.budget, 5.0)
        a.cap = min(a.cap, 10.0)
    if not a.out_dir:
        a.out_dir = (os.path.join(tempfile.gettempdir(), "nwreg-peers-quick") if a.quick
                     else os.path.join(HERE, "results"))
    with tempfile.TemporaryDirectory(prefix="nwreg-peers-") as tmp:
        b = Bench(a, tmp)
        for c in cases:
            b.run_case(c)
        b.flush()
        b.plot()
    print(f"wrote {os.path.join(a.out_dir, 'peers.md')}, peers.csv, peers.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
