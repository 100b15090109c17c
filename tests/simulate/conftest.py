"""Shared fits for the simulation tests (built once per session)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel


@pytest.fixture(scope="session")
def sleep_fit() -> multilevel.LmmFit:
    return multilevel.fit("Reaction ~ Days + (Days | Subject)", multilevel.datasets.sleepstudy())


@pytest.fixture(scope="session")
def cluster_data() -> pd.DataFrame:
    """40 clusters of 20, a level-2 treatment in alternate clusters and a level-1 covariate."""
    rng = np.random.default_rng(20261202)
    G, m = 40, 20
    g = np.repeat(np.arange(G), m)
    treat = (g % 2).astype(float)
    x = rng.standard_normal(G * m)
    y = 0.3 * treat + 0.2 * x + 0.5 * rng.standard_normal(G)[g] + rng.standard_normal(G * m)
    return pd.DataFrame({"y": y, "g": g, "treat": treat, "x": x})
