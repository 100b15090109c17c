"""One fit by one tool, timed inside its own process: ``python benchmarks/tools.py TOOL ...``.

Each Python tool runs here in a fresh interpreter (so peak RSS is its own); only the fit call is
timed, not imports or reading the data. The last stdout line is ``RESULT {json}`` with seconds,
loglik, theta (lme4's relative Cholesky factor, lower triangle by columns), beta and sigma.
lme4 runs the same way through ``Rscript benchmarks/lme4_fit.R``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

RANDOM = re.compile(r"\(\s*(?P<lhs>[^|()]+?)\s*\|\s*(?P<g>[\w.:/]+)\s*\)")


def load(path: str, factors: list[str]) -> pd.DataFrame:
    """The data with grouping columns as categoricals (R's factor())."""
    df = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
    for f in factors:
        df[f] = df[f].astype(str).astype("category")
    return df


def theta_from_cov(cov: np.ndarray, sigma: float) -> list[float]:
    """lme4's theta: the lower triangle (column-major) of chol(cov) / sigma."""
    try:
        L = np.linalg.cholesky(np.asarray(cov) / sigma**2)
    except np.linalg.LinAlgError:  # singular fit: report the diagonal only
        L = np.diag(np.sqrt(np.clip(np.diag(cov), 0, None)) / sigma)
    return [float(L[i, j]) for j in range(len(L)) for i in range(j, len(L))]


def fit_multilevel(df: pd.DataFrame, formula: str, reml: bool) -> dict:
    import multilevel

    t0, c0 = time.perf_counter(), time.process_time()
    m = multilevel.fit(formula, df, reml=reml, warn=False)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "version": version("multilevel"),
        "source": str(Path(multilevel.__file__).parent),
        "seconds": seconds,
        "cpu": cpu,
        "loglik": float(m.loglik),
        "theta": [float(t) for t in m.theta],
        "beta": [float(b) for b in m.beta],
        "sigma": float(m.sigma),
        "converged": bool(m.optimization.converged),
        "n_evaluations": int(m.optimization.n_evaluations),
        "optimizer": m.optimization.optimizer,
    }


def fit_mixedlm(df: pd.DataFrame, formula: str, reml: bool) -> dict:
    import mixedlm

    t0, c0 = time.perf_counter(), time.process_time()
    r = mixedlm.lmer(formula, df, REML=reml)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "version": version("mixedlm"),
        "seconds": seconds,
        "cpu": cpu,
        "loglik": float(r.logLik().value),
        "theta": [float(t) for t in np.asarray(r.theta)],
        "beta": [float(b) for b in r.fixef().values()],
        "sigma": float(r.sigma),
        "converged": bool(r.converged),
        "n_evaluations": int(r.function_evals),
        "optimizer": str(r.optimizer),
    }


def fit_statsmodels(df: pd.DataFrame, formula: str, reml: bool) -> dict:
    """statsmodels MixedLM for one grouping factor: ``(lhs | g)`` becomes groups=g, re_formula."""
    import statsmodels.formula.api as smf

    terms = RANDOM.findall(formula)
    if len(terms) != 1:
        raise SystemExit("statsmodels MixedLM: only one random term (one grouping factor)")
    lhs, g = terms[0]
    fixed = RANDOM.sub("", formula).strip().rstrip("+").strip()
    re_formula = "~" + ("1" if lhs.strip() == "1" else lhs.replace("1 +", "").strip())
    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = smf.mixedlm(fixed, df, groups=df[g], re_formula=re_formula)
        res = model.fit(reml=reml)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    sigma = float(np.sqrt(res.scale))
    return {
        "version": version("statsmodels"),
        "seconds": seconds,
        "cpu": cpu,
        "loglik": float(res.llf),
        "theta": theta_from_cov(np.asarray(res.cov_re), sigma),
        "beta": [float(b) for b in res.fe_params],
        "sigma": sigma,
        "converged": bool(res.converged),
        "n_evaluations": None,
        "optimizer": str(getattr(res, "method", "")),
    }


def fit_multilevel_file(path: str, formula: str, reml: bool) -> dict:
    """multilevel.fit straight from the file: reading the Parquet/CSV is inside the timing."""
    return fit_multilevel(path, formula, reml)  # type: ignore[arg-type]


FITTERS = {"multilevel": fit_multilevel, "mixedlm": fit_mixedlm, "statsmodels": fit_statsmodels}
FROM_FILE = {"multilevel-file": fit_multilevel_file}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tool", choices=sorted(FITTERS) + sorted(FROM_FILE))
    ap.add_argument("data")
    ap.add_argument("formula")
    ap.add_argument("method", choices=["ml", "reml"])
    ap.add_argument("--factors", default="g")
    args = ap.parse_args(argv)
    if args.tool in FROM_FILE:
        out = FROM_FILE[args.tool](args.data, args.formula, args.method == "reml")
    else:
        df = load(args.data, [f for f in args.factors.split(",") if f])
        out = FITTERS[args.tool](df, args.formula, args.method == "reml")
    out.update(tool=args.tool, method=args.method)
    print("RESULT " + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
