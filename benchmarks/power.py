"""Power by simulation: ours beside mixedlm's powerSim on the same 40 x 20 pilot, a 3 x 3
power curve (groups x group size) with 1,000 simulations per design, and 1,000 bootstrap refits
of sleepstudy.

    python benchmarks/power.py [--nsim 1000] [--mixedlm-python /work/mixedlm-venv/bin/python]

Both tools simulate from the pilot's estimates, refit, and test ``treat`` (a level-2
treatment). mixedlm's default test is a Wald z test, so ours is timed with ``method="z"`` (the
same test) and with Satterthwaite df (our default). mixedlm runs in its own virtual environment
(a subprocess). The machine's load average is printed before and after: on a shared machine
the figures are upper bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import multilevel


def pilot(seed: int = 20261202) -> pd.DataFrame:
    """40 groups of 20: treatment in alternate groups, a level-1 covariate, ICC about 0.2."""
    rng = np.random.default_rng(seed)
    G, m = 40, 20
    g = np.repeat(np.arange(G), m)
    treat = (g % 2).astype(float)
    x = rng.standard_normal(G * m)
    y = 0.3 * treat + 0.2 * x + 0.5 * rng.standard_normal(G)[g] + rng.standard_normal(G * m)
    return pd.DataFrame({"y": y, "g": g, "treat": treat, "x": x})


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nsim", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mixedlm-python", default="/work/mixedlm-venv/bin/python")
    ap.add_argument("--skip-mixedlm", action="store_true")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args()
    report: dict = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cores": len(os.sched_getaffinity(0)),
        "load_before": os.getloadavg(),
        "nsim": args.nsim,
    }
    data = pilot()
    fit = multilevel.fit("y ~ treat + x + (1 | g)", data)
    multilevel.power(fit, "treat", nsim=20, seed=0)  # warm up (imports, worker start)
    for method in ("z", "satterthwaite"):
        for workers in (None, 1):
            res, sec = timed(
                lambda m=method, w=workers: multilevel.power(
                    fit, "treat", nsim=args.nsim, seed=args.seed, method=m, workers=w
                )
            )
            key = f"ours_{method}_{'all_cores' if workers is None else 'one_core'}"
            report[key] = {"seconds": sec, "power": float(res.table()["power"].iloc[0])}
            print(key, report[key], flush=True)
    curve, sec = timed(
        lambda: multilevel.power(
            fit,
            "treat",
            nsim=1000,
            seed=args.seed,
            along=["n_groups", "group_size"],
            values=[[20, 40, 60], [10, 20, 30]],
        )
    )
    report["curve_3x3_1000_each"] = {
        "seconds": sec,
        "table": curve.table()[["n_groups", "group_size", "power"]].to_dict(orient="records"),
    }
    print("3 x 3 power curve, 1000 simulations each:", f"{sec:.2f} s", flush=True)
    print(curve.table().to_string(index=False), flush=True)
    sleep = multilevel.fit("Reaction ~ Days + (Days | Subject)", multilevel.datasets.sleepstudy())
    boot, sec = timed(lambda: multilevel.simulate.bootstrap(sleep, 1000, seed=args.seed))
    report["bootstrap_sleepstudy_1000"] = {
        "seconds": sec,
        "n_failed": boot.n_failed,
        "n_singular": boot.n_singular,
    }
    print("bootstrap of sleepstudy (Days | Subject), 1000 refits:", f"{sec:.2f} s", flush=True)
    if not args.skip_mixedlm:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "pilot.csv"
            data.to_csv(path, index=False)
            script = Path(__file__).with_name("power_mixedlm.py")
            out = subprocess.run(
                [args.mixedlm_python, str(script), str(path), str(args.nsim), str(args.seed)],
                capture_output=True,
                text=True,
                check=True,
            )
        report["mixedlm_powerSim"] = json.loads(out.stdout.strip().splitlines()[-1])
        print("mixedlm", report["mixedlm_powerSim"], flush=True)
        theirs = report["mixedlm_powerSim"]["seconds"]
        for key in ("ours_z_all_cores", "ours_z_one_core", "ours_satterthwaite_all_cores"):
            report[f"speedup_{key}"] = theirs / report[key]["seconds"]
            print(f"mixedlm / {key}: {report[f'speedup_{key}']:.1f}x", flush=True)
    report["load_after"] = os.getloadavg()
    print("load average before", report["load_before"], "after", report["load_after"])
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
