"""Logistic GLMM benchmark: multilevel beside lme4's glmer (Laplace) and mixedlm.glmer.

    python benchmarks/glmm.py                       # 1M rows, 10k groups, both models, all tools
    python benchmarks/glmm.py --rows 100000 --groups 1000 --tools multilevel

Data (seeded): y ~ Bernoulli(logit^-1(eta)), eta = -0.5 + 0.5 x1 - 0.3 x2 + 0.4 w + u0_g
(+ u1_g x1 for the slope model), u0 ~ N(0, 1), u1 ~ N(0, 0.5^2) independent, w a group-level
predictor, groups unbalanced (each row's group drawn uniformly), group ids text ("g00042").
Models: ``y ~ x1 + x2 + w + (1 | g)`` and ``y ~ x1 + x2 + w + (1 + x1 | g)``.

Each fit runs in its own process (a fresh interpreter or Rscript) on the data already read
(only the fit call is timed; the data files are in benchmarks/out/). multilevel runs in this
interpreter's environment, mixedlm in its own venv (``--mixedlm-python``; create it with
``python3 -m venv /work/mixedlm-venv && /work/mixedlm-venv/bin/pip install mixedlm``), lme4
through ``Rscript benchmarks/glmm_lme4.R`` (R with lme4, data.table, jsonlite). The table
gives seconds, log-likelihood and the ratios to multilevel, with the load average before and
after each fit (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
FORMULAS = {
    "intercept": "y ~ x1 + x2 + w + (1 | g)",
    "slope": "y ~ x1 + x2 + w + (1 + x1 | g)",
}


def simulate(rows: int, groups: int, model: str, seed: int = 1):  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, rows)
    g[:groups] = np.arange(groups)
    x1 = np.round(rng.standard_normal(rows), 6)
    x2 = np.round(rng.standard_normal(rows), 6)
    w = np.round(rng.standard_normal(groups), 6)[g]
    u0 = rng.standard_normal(groups)
    u1 = 0.5 * rng.standard_normal(groups)
    eta = -0.5 + 0.5 * x1 - 0.3 * x2 + 0.4 * w + u0[g]
    if model == "slope":
        eta += u1[g] * x1
    y = (rng.random(rows) < 1 / (1 + np.exp(-eta))).astype(np.int64)
    ids = np.char.add("g", np.char.zfill(np.arange(groups).astype(str), 5))
    return pd.DataFrame({"g": ids[g], "x1": x1, "x2": x2, "w": w, "y": y})


def data_file(rows: int, groups: int, model: str) -> Path:
    path = OUT / f"glmm_{model}_{rows}_{groups}.csv"
    if not path.exists():
        OUT.mkdir(exist_ok=True)
        simulate(rows, groups, model).to_csv(path, index=False)
    return path


# ---------------------------------------------------------------------- workers (own process)
def worker_multilevel(path: str, formula: str) -> dict:
    import numpy as np
    import pandas as pd

    import multilevel

    df = pd.read_csv(path, dtype={"g": "category"})
    t0, c0 = time.perf_counter(), time.process_time()
    m = multilevel.fit(formula, df, family="binomial", warn=False)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "seconds": seconds,
        "cpu": cpu,
        "loglik": float(m.loglik),
        "theta": [float(t) for t in m.theta],
        "beta": [float(b) for b in m.beta],
        "se": [float(s) for s in np.sqrt(np.diag(m.vcov_beta))],
        "converged": bool(m.converged),
        "evaluations": int(m.optimization.n_evaluations),
    }


def worker_mixedlm(path: str, formula: str) -> dict:
    import mixedlm
    import numpy as np
    import pandas as pd

    df = pd.read_csv(path, dtype={"g": "category"})
    t0, c0 = time.perf_counter(), time.process_time()
    r = mixedlm.glmer(formula, df, family=mixedlm.families.Binomial())
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "seconds": seconds,
        "cpu": cpu,
        "loglik": float(r.logLik().value),
        "theta": [float(t) for t in np.asarray(r.theta)],
        "beta": [float(b) for b in r.fixef().values()],
        "converged": bool(getattr(r, "converged", True)),
    }


WORKERS = {"multilevel": worker_multilevel, "mixedlm": worker_mixedlm}


def run_tool(tool: str, path: Path, formula: str, mixedlm_python: str) -> dict:
    if tool == "lme4":
        cmd = ["Rscript", str(HERE / "glmm_lme4.R"), str(path), formula]
    else:
        python = mixedlm_python if tool == "mixedlm" else sys.executable
        cmd = [python, str(Path(__file__).resolve()), "--worker", tool, str(path), formula]
    env = dict(os.environ, OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    load0 = os.getloadavg()[0]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["failed"]}
    out = json.loads(lines[-1][len("RESULT ") :])
    out["load_before"], out["load_after"] = load0, os.getloadavg()[0]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--worker", nargs=3, metavar=("TOOL", "DATA", "FORMULA"), help=argparse.SUPPRESS
    )
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--groups", type=int, default=10_000)
    ap.add_argument("--models", default="intercept,slope")
    ap.add_argument("--tools", default="multilevel,lme4,mixedlm")
    ap.add_argument("--repeat", type=int, default=1, help="fits per tool (median reported)")
    ap.add_argument("--mixedlm-python", default="/work/mixedlm-venv/bin/python")
    ap.add_argument("--json", type=Path, help="also write all results here")
    args = ap.parse_args()
    if args.worker:
        tool, path, formula = args.worker
        print("RESULT " + json.dumps(WORKERS[tool](path, formula)), flush=True)
        return
    results = []
    for model in args.models.split(","):
        path = data_file(args.rows, args.groups, model)
        for tool in args.tools.split(","):
            runs = [
                run_tool(tool, path, FORMULAS[model], args.mixedlm_python)
                for _ in range(args.repeat)
            ]
            ok = sorted((r for r in runs if "error" not in r), key=lambda r: r["seconds"])
            best = ok[len(ok) // 2] if ok else runs[0]
            best.update(tool=tool, model=model, rows=args.rows, groups=args.groups)
            results.append(best)
            print(json.dumps(best), flush=True)
    print(
        f"\n{'model':10} {'tool':11} {'seconds':>9} {'cpu s':>8} {'loglik':>16} "
        f"{'x multilevel':>13} {'x (cpu)':>8}  load before/after"
    )
    for r in results:
        base = next(
            (
                b
                for b in results
                if b["model"] == r["model"] and b["tool"] == "multilevel" and "seconds" in b
            ),
            None,
        )
        if "error" in r:
            print(f"{r['model']:10} {r['tool']:11} error: {r['error']}")
            continue
        ratio = r["seconds"] / base["seconds"] if base else float("nan")
        cpu_ratio = r["cpu"] / base["cpu"] if base else float("nan")
        print(
            f"{r['model']:10} {r['tool']:11} {r['seconds']:9.2f} {r['cpu']:8.2f} "
            f"{r['loglik']:16.4f} {ratio:13.1f} {cpu_ratio:8.1f}  "
            f"{r['load_before']:.1f}/{r['load_after']:.1f}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
