"""Shared data for the chunked-source tests: a simulated two-level data set with missing values and
a categorical predictor whose last level appears only in the last rows (later chunks)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

N, G = 3000, 120


def simulate(seed: int = 7) -> pd.DataFrame:
    """y = 1 + 0.5 x + f effects + u0_g + u1_g x + e, with (u0, u1) SDs (1, 0.5), corr 0.3."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, G, N)
    g[:G] = np.arange(G)
    x = rng.normal(size=N)
    f = rng.choice(["a", "b", "c"], N)
    f[N - 400 :] = rng.choice(["b", "d"], 400)  # level d only in the last rows
    T = np.array([[1.0, 0.15], [0.15, 0.25]])
    u = rng.normal(size=(G, 2)) @ np.linalg.cholesky(T).T
    effect = pd.Series({"a": 0.0, "b": 0.3, "c": -0.2, "d": 0.5})[f].to_numpy()
    y = 1 + 0.5 * x + effect + u[g, 0] + u[g, 1] * x + rng.normal(size=N)
    df = pd.DataFrame({"g": g, "x": x, "f": f, "y": y, "z": rng.normal(size=N)})
    df["g"] = "s" + df["g"].astype(str).str.zfill(3)  # string group labels
    df.loc[[5, 600, 2999], "x"] = np.nan
    df.loc[[10, 1200], "y"] = np.nan
    df.loc[[77, 2950], "f"] = None
    df.loc[[1500], "g"] = None
    df.loc[[5], "y"] = np.nan  # a row missing in two columns is dropped once
    return df


@pytest.fixture(scope="session")
def frame() -> pd.DataFrame:
    return simulate()


@pytest.fixture(scope="session")
def files(tmp_path_factory, frame) -> dict[str, str]:
    """The frame as a Parquet file (row groups of 500), a folder of 3 Parquet files, a CSV."""
    d = tmp_path_factory.mktemp("sources")
    frame.to_parquet(d / "data.parquet", row_group_size=500, index=False)
    (d / "folder").mkdir()
    for i, start in enumerate(range(0, N, 1000)):
        frame.iloc[start : start + 1000].to_parquet(d / "folder" / f"part{i}.parquet", index=False)
    frame.to_csv(d / "data.csv", index=False)
    return {
        "parquet": str(d / "data.parquet"),
        "folder": str(d / "folder"),
        "csv": str(d / "data.csv"),
    }


MULTI_FORMULAS = {
    "crossed": "y ~ x + (1 | a) + (1 | b)",
    "crossed_slope": "y ~ x + (1 + x | a) + (1 | b)",
    "nested": "y ~ x + (1 | a/c)",
    "three_level": "y ~ x + (1 + x | a) + (1 | a:c) + (1 | b)",
}


def simulate_multi(seed: int = 11, n: int = 4000) -> pd.DataFrame:
    """Pupils in classes c within schools a (three levels), crossed with raters b (text ids);
    y = 1 + 0.5 x + u_a + u1_a x + u_ac + u_b + e, with a few missing values."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 45, n)
    c = rng.integers(0, 5, n)
    b = rng.integers(0, 30, n)
    x = rng.normal(size=n)
    y = (
        1
        + 0.5 * x
        + rng.normal(size=45)[a]
        + 0.3 * rng.normal(size=45)[a] * x
        + 0.5 * rng.normal(size=(45, 5))[a, c]
        + 0.7 * rng.normal(size=30)[b]
        + rng.normal(size=n)
    )
    df = pd.DataFrame({"y": y, "x": x, "a": a, "b": [f"r{k}" for k in b], "c": c})
    df.loc[[3, 700], "x"] = np.nan
    df.loc[[1500], "b"] = None
    return df


@pytest.fixture(scope="session")
def multi() -> pd.DataFrame:
    return simulate_multi()


@pytest.fixture(scope="session")
def multi_folder(tmp_path_factory, multi) -> str:
    """The multilevel data as a folder of 4 Parquet files."""
    d = tmp_path_factory.mktemp("multi") / "folder"
    d.mkdir()
    for i, start in enumerate(range(0, len(multi), 1000)):
        multi.iloc[start : start + 1000].to_parquet(d / f"part{i}.parquet", index=False)
    return str(d)


def with_extras(multi: pd.DataFrame, seed: int = 5) -> pd.DataFrame:
    """The multilevel data with precision weights ``w`` (two missing), an offset column ``o``, a
    three-level text predictor ``f`` (level "z" only in the last rows), and missing-value codes:
    "." and -999 in the outcome, -999 in ``x``, "." in the rater ids ``b``."""
    rng = np.random.default_rng(seed)
    n = len(multi)
    df = multi.copy()
    df["w"] = rng.uniform(0.3, 3.0, n)
    df.loc[[20, 2500], "w"] = np.nan
    df["o"] = rng.normal(scale=0.5, size=n)
    f = rng.choice(["p", "q"], n).astype(object)
    f[n - 600 :] = rng.choice(["q", "z"], 600)
    df["f"] = f
    df["y"] = df["y"] + 0.4 * (df["f"] == "q") - 0.3 * (df["f"] == "z") + df["o"]
    df["y"] = df["y"].astype(object)
    df.loc[[11, 1999], "y"] = "."
    df.loc[[12, 3100], "y"] = -999
    df.loc[[40, 3900], "x"] = -999
    df.loc[[41, 2222], "b"] = "."
    return df


@pytest.fixture(scope="session")
def extras(multi) -> pd.DataFrame:
    return with_extras(multi)


#: missing-value codes of the ``extras`` data
NA_CODES = [".", -999]
