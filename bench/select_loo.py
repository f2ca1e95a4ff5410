#!/usr/bin/python3
"""Bandwidth selection speed and quality: nwreg `fit --select loo` against
statsmodels KernelReg(bw='cv_ls'), side by side in one run.

For each n (default 300 1000 3000) it draws the notebook's data
(f(x) = 2 sin x + x^0.8 + N(0, 0.5^2), x ~ U(0, 5)) with a fixed numpy seed,
writes it to a temporary CSV, and times
  - statsmodels: KernelReg(y, x, 'c', reg_type=lc|ll, bw='cv_ls') in-process
    (the fit's wall time, Python start-up excluded);
  - nwreg: the whole `nwreg fit DATA.csv --select loo` process (start-up,
    CSV reading and selection included), median of --repeat runs.
It reports each selected bandwidth, the LOO CV (statsmodels' cv_ls value:
mean squared leave-one-out error) at both, and the speed ratio.

With --out FILE it also writes the table as Markdown (the date, the load
average before each row, the machine, the command), as committed in
bench/results/select_loo.md.  --sm-repeat K times statsmodels K times
(median; default 1: it takes seconds per fit at n = 3000).

Run:  /usr/bin/python3 bench/select_loo.py [--nwreg build/nwreg] [--n 300 1000 3000]
                                           [--out bench/results/select_loo.md]
Needs Debian's python3-statsmodels (scripts/deps.sh python3-statsmodels).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from statsmodels.nonparametric.kernel_regression import KernelReg


def data(n, seed):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0, 5, n))
    y = 2 * np.sin(x) + x ** 0.8 + rng.normal(0, 0.5, n)
    return x, y


def nwreg_fit(binary, path, reg, repeat):
    """Median wall time of the whole `nwreg fit` process; the bandwidth from
    the model file it writes."""
    times = []
    model = path + f".{reg}.json"
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([binary, "fit", path, "--select", "loo", "--estimator", reg, "-o", model],
                       check=True, capture_output=True, text=True)
        times.append(time.perf_counter() - t)
    with open(model) as f:
        h = json.load(f)["bandwidth"][0]
    return statistics.median(times), h


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nwreg", default="build/nwreg")
    ap.add_argument("--n", type=int, nargs="+", default=[300, 1000, 3000])
    ap.add_argument("--reg", nargs="+", default=["lc", "ll"])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sm-repeat", type=int, default=1)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    print(f"{'n':>6} {'reg':>3} {'sm h':>10} {'nwreg h':>10} {'sm CV':>12} {'nwreg CV':>12}"
          f" {'sm s':>9} {'nwreg s':>9} {'ratio':>8}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in a.n:
            x, y = data(n, 20261127 + n)
            path = os.path.join(tmp, f"d{n}.csv")
            np.savetxt(path, np.column_stack([x, y]), delimiter=",", header="x,y",
                       comments="", fmt="%.17g")
            for reg in a.reg:
                load = os.getloadavg()[0]
                t_sms = []
                for _ in range(max(1, a.sm_repeat)):
                    t = time.perf_counter()
                    kr = KernelReg(y, x, "c", reg_type=reg, bw="cv_ls")
                    t_sms.append(time.perf_counter() - t)
                t_sm = statistics.median(t_sms)
                h_sm = float(kr.bw[0])
                t_nw, h_nw = nwreg_fit(a.nwreg, path, reg, a.repeat)
                func = kr._est_loc_linear if reg == "ll" else kr._est_loc_constant
                cv_sm = float(np.squeeze(kr.cv_loo(np.array([h_sm]), func))) if h_sm > 0 else float("nan")
                cv_nw = float(np.squeeze(kr.cv_loo(np.array([h_nw]), func)))
                print(f"{n:>6} {reg:>3} {h_sm:>10.6g} {h_nw:>10.6g} {cv_sm:>12.8g} {cv_nw:>12.8g}"
                      f" {t_sm:>9.3f} {t_nw:>9.3f} {t_sm / t_nw:>8.1f}", flush=True)
                rows.append((n, reg, load, h_sm, h_nw, cv_sm, cv_nw, t_sm, len(t_sms), t_nw,
                             t_sm / t_nw))
    if a.out:
        ver = subprocess.run([a.nwreg, "--version"], capture_output=True, text=True).stdout.strip()
        import statsmodels
        lines = [
            "# nwreg fit --select loo against statsmodels KernelReg(bw='cv_ls')",
            "",
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores "
            f"(shared machine: absolute times drift; each ratio is from one run).  ",
            f"Command: `/usr/bin/python3 bench/select_loo.py {' '.join(sys.argv[1:])}`  ",
            f"{ver}; statsmodels {statsmodels.__version__}, numpy {np.__version__}.",
            "",
            "statsmodels: the KernelReg fit's wall time in-process (median of "
            f"{a.sm_repeat}); nwreg: the whole `nwreg fit DATA.csv --select loo` process, "
            f"median of {a.repeat}.  CV: statsmodels' own cv_loo at each bandwidth "
            "(mean squared leave-one-out error), so the two are judged by the same code.",
            "",
            "| n | est | load | statsmodels h | nwreg h | statsmodels CV | nwreg CV | statsmodels s | runs "
            "| nwreg s | ratio |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            lines.append(f"| {r[0]} | {r[1]} | {r[2]:.2f} | {r[3]:.6g} | {r[4]:.6g} | {r[5]:.10g} | "
                         f"{r[6]:.10g} | {r[7]:.3f} | {r[8]} | {r[9]:.4f} | {r[10]:.1f} |")
        with open(a.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
