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
