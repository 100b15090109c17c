"""Simulated nested data for the benchmark: rows in groups, with a known truth.

Model (random slope):  y = b0 + b1 x1 + b2 x2 + b3 x3 + b4 w + u0_g + u1_g x1 + e,
with (u0, u1) ~ N(0, T), T from the SDs ``TAU`` and correlation ``RHO``, e ~ N(0, SIGMA^2), and w
a group-level predictor (constant within a group). The random-intercept variant sets u1 = 0.
Group sizes are unbalanced (each row's group drawn uniformly, every group present). Values are
rounded to 6 decimals so that the CSV read by R and the Parquet read by Python hold the same
numbers (to the last bit, up to the parsers' correct rounding).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SIZES = {"S": (100_000, 1_000), "M": (1_000_000, 10_000), "L": (10_000_000, 100_000)}
BETA = np.array([1.0, 0.5, -0.3, 0.2, 0.4])  # (Intercept), x1, x2, x3, w
TAU = np.array([1.0, 0.5])  # SDs of the random intercept and the random slope of x1
RHO = 0.3  # their correlation
SIGMA = 2.0  # residual SD
FIXED = "y ~ x1 + x2 + x3 + w"
FORMULAS = {
    "slope": FIXED + " + (1 + x1 | g)",
    "intercept": FIXED + " + (1 | g)",
}
OUT = Path(__file__).resolve().parent / "out"
DECIMALS = 6


def tau_matrix(model: str) -> np.ndarray:
    """The true covariance of the random effects, 2 x 2 (slope) or 1 x 1 (intercept)."""
    if model == "intercept":
        return np.array([[TAU[0] ** 2]])
    if model != "slope":
        raise ValueError(f"unknown model {model!r}; use 'slope' or 'intercept'")
    c = RHO * TAU[0] * TAU[1]
    return np.array([[TAU[0] ** 2, c], [c, TAU[1] ** 2]])


def simulate(n_obs: int, n_groups: int, model: str = "slope", seed: int = 1) -> pd.DataFrame:
    """A DataFrame with columns g (int group id), x1, x2, x3, w, y drawn from the true model."""
    if n_groups < 1 or n_obs < n_groups:
        raise ValueError(f"need n_obs >= n_groups >= 1, got {n_obs}, {n_groups}")
    T = tau_matrix(model)
    rng = np.random.default_rng(seed)
    g = rng.integers(0, n_groups, size=n_obs)
    g[:n_groups] = np.arange(n_groups)  # every group present
    x = np.round(rng.standard_normal((n_obs, 3)), DECIMALS)
    w_g = np.round(rng.standard_normal(n_groups), DECIMALS)
    u = rng.standard_normal((n_groups, T.shape[0])) @ np.linalg.cholesky(T).T
    w = w_g[g]
    eta = BETA[0] + x @ BETA[1:4] + BETA[4] * w + u[g, 0]
    if T.shape[0] == 2:
        eta += u[g, 1] * x[:, 0]
    y = np.round(eta + SIGMA * rng.standard_normal(n_obs), DECIMALS)
    return pd.DataFrame(
        {"g": g.astype(np.int64), "x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2], "w": w, "y": y}
    )


def data_path(size: str, model: str, ext: str, seed: int = 1) -> Path:
    return OUT / f"{size}_{model}_seed{seed}.{ext}"


def write(size: str, model: str, seed: int = 1, csv: bool = True) -> dict[str, Path]:
    """Write (if missing) the Parquet file, and the CSV for R when ``csv``; return their paths."""
    OUT.mkdir(parents=True, exist_ok=True)
    paths = {"parquet": data_path(size, model, "parquet", seed)}
    if csv:
        paths["csv"] = data_path(size, model, "csv", seed)
    if all(p.exists() for p in paths.values()):
        return paths
    n_obs, n_groups = SIZES[size]
    df = simulate(n_obs, n_groups, model, seed)
    if not paths["parquet"].exists():
        df.to_parquet(paths["parquet"], index=False)
    if csv and not paths["csv"].exists():
        tmp = paths["csv"].with_suffix(".csv.tmp")
        df.to_csv(tmp, index=False, float_format=f"%.{DECIMALS}f")
        tmp.rename(paths["csv"])
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="S,M")
    ap.add_argument("--models", default="slope,intercept")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-csv", action="store_true", help="Parquet only (R needs the CSV)")
    args = ap.parse_args(argv)
    for size in args.sizes.split(","):
        for model in args.models.split(","):
            for kind, p in write(size, model, args.seed, csv=not args.no_csv).items():
                print(f"{size} {model} {kind}: {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
