"""AR(1) residuals on long panels: multilevel beside nlme (``lme(..., correlation = corAR1())``).

    .venv/bin/python benchmarks/ar1_nlme.py --persons 50000 --occasions 21          # ours
    .venv/bin/python benchmarks/ar1_nlme.py --persons 50000 --occasions 21 --nlme   # and nlme

Simulates y_ij = 2 + 0.5 t_ij + 0.3 x_ij + b0_i + b1_i t_ij + e_ij with e AR(1) in t (phi 0.5,
sigma 1), b0 ~ N(0, 1), b1 ~ N(0, 0.2^2) (``--model slope``; ``--model intercept``: b1 = 0),
about 5% of the occasions missing (gaps in t), writes the data as CSV (for R, once), fits
``y ~ t + x + (1 + t | id)`` (or ``(1 | id)``) with ``AR1(time="t")`` by REML in this process and,
with ``--nlme``, the same model by nlme in Rscript (benchmarks/ar1_nlme.R), then prints the wall
times, log-likelihoods and estimates of both as JSON. Wall time of the fit only (the data are in
memory for both); CPU time of the process beside it, the fairer figure on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "out"
PHI, SIGMA, SD_B0, SD_B1 = 0.5, 1.0, 1.0, 0.2


def simulate(persons: int, occasions: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.tile(np.arange(occasions), persons)
    ids = np.repeat(np.arange(persons), occasions)
    e = np.empty((persons, occasions))
    e[:, 0] = rng.standard_normal(persons)
    for k in range(1, occasions):
        e[:, k] = PHI * e[:, k - 1] + np.sqrt(1 - PHI**2) * rng.standard_normal(persons)
    b0 = SD_B0 * rng.standard_normal(persons)
    b1 = SD_B1 * rng.standard_normal(persons)
    x = rng.standard_normal(persons * occasions)
    y = 2 + 0.5 * t + 0.3 * x + b0[ids] + b1[ids] * t + SIGMA * e.ravel()
    keep = rng.random(y.size) > 0.05  # gaps: ~5% of occasions missing
    return pd.DataFrame(
        {"id": ids[keep], "t": t[keep], "x": np.round(x[keep], 6), "y": np.round(y[keep], 6)}
    )


def ours(data: pd.DataFrame, model: str) -> dict:
    import multilevel

    random = "(1 + t | id)" if model == "slope" else "(1 | id)"
    data = data.assign(id=data["id"].astype("category"))
    start, cpu = time.perf_counter(), time.process_time()
    fit = multilevel.fit(f"y ~ t + x + {random}", data, correlation=multilevel.AR1(time="t"))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "loglik": fit.loglik,
        "phi": fit.residual_structure.phi,
        "beta": dict(zip(fit.fixed_names, fit.beta.tolist(), strict=True)),
        "sigma": fit.sigma,
        "outer_evaluations": fit.residual_structure.outer_evaluations,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--persons", type=int, default=50_000)
    ap.add_argument("--occasions", type=int, default=21)
    ap.add_argument("--model", choices=["intercept", "slope"], default="slope")
    ap.add_argument("--nlme", action="store_true", help="also fit with nlme (Rscript)")
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    path = OUT / f"ar1_{args.persons}x{args.occasions}.csv"
    data = simulate(args.persons, args.occasions)
    if not path.exists():
        data.to_csv(path, index=False)
    report = {
        "rows": len(data),
        "persons": args.persons,
        "model": args.model,
        "load_average": os.getloadavg(),
        "multilevel": ours(data, args.model),
    }
    if args.nlme:
        script = Path(__file__).resolve().parent / "ar1_nlme.R"
        res = subprocess.run(
            ["Rscript", str(script), str(path), args.model], capture_output=True, text=True
        )
        report["nlme"] = json.loads(res.stdout) if res.returncode == 0 else res.stderr[-2000:]
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
