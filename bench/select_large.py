#!/usr/bin/python3
"""Bandwidth selection at scale: `nwreg fit --select loo` at n = 10^6 (1-d)
for every kernel and both estimators, the whole command timed.

The issue's target: n = 10^6 within 15 s, whatever the kernel.  No peer
takes part (statsmodels' cv_ls needs O(n^2) per evaluation: hours here);
the table is nwreg's own, from one command:

  - data: `nwreg gen --n N --seed S` (the notebook's f(x) = 2 sin x + x^0.8
    + N(0, 0.5^2), x ~ U(0, 5)), written once to a temporary file; gen
    writes the rows sorted by x, which the sorted passes use in place, so
    by default (--order shuffled) the rows are put in a random order
    (Python's random.Random(S)), as a user's file would have them;
  - for each kernel and estimator, `nwreg fit DATA --select loo --kernel K
    --estimator E --verbose` under /usr/bin/time: the median wall time of
    --repeat runs, the peak RSS, the evaluations and the selection's own
    time (from --verbose), the chosen h and its LOO CV, and the peak less
    that of the same command on 50 rows, over the arrays x, y and the
    in-sample fit (3n doubles): the memory target is 2x;
  - with --out FILE the table as Markdown (the date, the load average before
    each row, the command), as committed in bench/results/select_large.md.

Run:  /usr/bin/python3 bench/select_large.py [--nwreg build/nwreg] [--n 1000000]
                                             [--repeat 3] [--out FILE]
"""
import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time

KERNELS = ["gaussian", "epanechnikov", "biweight", "triangular", "tricube", "cosine",
           "uniform"]


def run_fit(binary, data, kernel, est, model):
    """One timed `nwreg fit`: (wall s, peak KiB, evaluations, selection s)."""
    cmd = ["/usr/bin/time", "-f", "TIME %e %M", binary, "fit", data, "--select", "loo",
           "--kernel", kernel, "--estimator", est, "--verbose", "-o", model]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"select_large: {' '.join(cmd[3:])} failed:\n{r.stderr}")
    peak = int(re.search(r"TIME \S+ (\d+)", r.stderr).group(1))
    m = re.search(r"by minimum LOO CV: (\d+) evaluations, ([0-9.e+-]+) s", r.stderr)
    cv = re.search(r"LOO CV\s+(\S+)", r.stdout + r.stderr)
    return wall, peak, int(m.group(1)), float(m.group(2)), float(cv.group(1)) if cv else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nwreg", default="build/nwreg")
    ap.add_argument("--n", type=int, default=1000000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kernels", nargs="+", default=KERNELS)
    ap.add_argument("--reg", nargs="+", default=["lc", "ll"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--order", choices=["shuffled", "sorted"], default="shuffled")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    rows = []
    print(f"{'kernel':>13} {'est':>3} {'h':>12} {'LOO CV':>12} {'evals':>5} {'select s':>9}"
          f" {'wall s':>8} {'peak MiB':>8} {'x arr':>5}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data.csv")
        subprocess.run([a.nwreg, "gen", "--n", str(a.n), "--seed", str(a.seed), "-o", data],
                       check=True)
        with open(data) as f:
            lines = f.readlines()
        if a.order == "shuffled":
            body = lines[1:]
            random.Random(a.seed).shuffle(body)
            with open(data, "w") as f:
                f.writelines(lines[:1] + body)
        small = os.path.join(tmp, "small.csv")
        with open(small, "w") as f:
            f.writelines(lines[:51])
        arrays_kib = 3 * a.n * 8 / 1024
        model = os.path.join(tmp, "m.json")
        for kernel in a.kernels:
            for est in a.reg:
                load = os.getloadavg()[0]
                base = run_fit(a.nwreg, small, kernel, est, model)[1]
                runs = [run_fit(a.nwreg, data, kernel, est, model) for _ in range(a.repeat)]
                with open(model) as f:
                    h = json.load(f)["bandwidth"][0]
                wall = statistics.median(r[0] for r in runs)
                sel = statistics.median(r[3] for r in runs)
                peak = max(r[1] for r in runs) / 1024
                ratio = (max(r[1] for r in runs) - base) / arrays_kib
                ev, cv = runs[0][2], runs[0][4]
                print(f"{kernel:>13} {est:>3} {h:>12.6g} {cv:>12.6g} {ev:>5} {sel:>9.2f}"
                      f" {wall:>8.2f} {peak:>8.0f} {ratio:>5.2f}", flush=True)
                rows.append((kernel, est, load, h, cv, ev, sel, wall, peak, ratio))
    if a.out:
        ver = subprocess.run([a.nwreg, "--version"], capture_output=True, text=True).stdout.strip()
        lines = [
            f"# nwreg fit --select loo at n = {a.n} (1-d), every kernel",
            "",
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores "
            "(shared machine: absolute times drift).  ",
            f"Command: `/usr/bin/python3 bench/select_large.py {' '.join(sys.argv[1:])}`  ",
            f"{ver}.  Data: `nwreg gen --n {a.n} --seed {a.seed}`"
            + (f", the rows shuffled (Python's random.Random({a.seed})).  " if a.order == "shuffled"
               else " (rows sorted by x, as gen writes them).  "),
            "",
            f"wall: the whole `nwreg fit --select loo` process (CSV reading, the search, the "
            f"in-sample summary, the model file), median of {a.repeat}; select: the search's own "
            "time as `--verbose` reports it; peak: the process's peak RSS (the input's x and y "
            f"are {a.n * 16 / 2**20:.1f} MiB as doubles); x arrays: the peak less that of the same "
            "command on the first 50 rows, over x, y and the in-sample fit (3n doubles, "
            f"{arrays_kib / 1024:.1f} MiB).  Targets: wall <= 15 s, x arrays <= 2.",
            "",
            "| kernel | est | load | h | LOO CV | evaluations | select s | wall s | peak MiB | x arrays |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            lines.append(f"| {r[0]} | {r[1]} | {r[2]:.2f} | {r[3]:.6g} | {r[4]:.6g} | {r[5]} | "
                         f"{r[6]:.2f} | {r[7]:.2f} | {r[8]:.0f} | {r[9]:.2f} |")
        with open(a.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
