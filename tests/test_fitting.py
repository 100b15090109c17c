"""One path from cross-products to the result: checks that once ran only in memory now hold for
fits from chunks too (same messages, same numbers)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.design.model import build_design
from multilevel.errors import DataError, FitWarning
from multilevel.fitting import fit_statistics
from multilevel.objective import cross_products


def _data(seed: int = 4, G: int = 40, m: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(G), m)
    x = rng.normal(size=G * m)
    y = 2 + x + rng.normal(size=G)[g] + rng.normal(size=G * m)
    return pd.DataFrame({"y": y, "x": x, "g": g})


@pytest.mark.parametrize("chunk_rows", [None, 50])
def test_outcome_that_is_a_linear_function_is_refused_on_both_paths(chunk_rows):
    df = _data().assign(w=lambda d: 3 * d["x"] - 1)
    with pytest.raises(DataError, match="exact linear function"):
        multilevel.fit("w ~ x + (1 | g)", df, chunk_rows=chunk_rows)


@pytest.mark.parametrize("chunk_rows", [None, 50])
def test_zero_residual_variance_is_reported_on_both_paths(chunk_rows):
    df = _data()
    df["y"] = df["x"] + df["g"] * 0.37  # exact: group effects plus a slope, no noise
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = multilevel.fit("y ~ x + (1 | g)", df, chunk_rows=chunk_rows)
    assert any("residual variance is (nearly) zero" in w for w in fit.warnings)
    assert any(issubclass(w.category, FitWarning) for w in caught)


@pytest.mark.parametrize("chunk_rows", [None, 7])
def test_reml_needs_more_rows_than_fixed_effects(chunk_rows):
    df = _data(G=3, m=2)
    df["x2"], df["x3"], df["x4"] = df["x"] ** 2, df["x"] ** 3, np.sin(df["x"])
    with pytest.raises(DataError, match="REML needs more observations"):
        multilevel.fit("y ~ x + x2 + x3 + x4 + I(x^5) + (1 | g)", df, chunk_rows=chunk_rows)


def test_the_numbers_depend_on_the_cross_products_alone():
    """fit_statistics on an in-memory design's cross-products equals multilevel.fit."""
    df = _data()
    design = build_design("y ~ x + (1 + x | g)", df)
    got = fit_statistics(cross_products(design), design.layout, reml=False, warn=False)
    ref = multilevel.fit("y ~ x + (1 + x | g)", df, reml=False, warn=False)
    assert got.loglik == ref.loglik
    np.testing.assert_array_equal(got.beta, ref.beta)
    assert not got.has_rows and ref.has_rows
    assert got.to_dict().keys() == ref.to_dict().keys()
