"""Cross-products about a shift (issue 11 item 2): estimates do not depend on where y or a
predictor sits, in memory and in chunks; predictors far from zero agree with lme4."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.design.columns import ModelColumns
from multilevel.design.shift import Shift, shifted_columns, shifts_from_gram
from multilevel.errors import FitWarning

HERE = Path(__file__).parent / "shift_reference"


def _data(seed: int = 1, G: int = 60, m: int = 8) -> pd.DataFrame:
    """Values on a 2^-16 grid, so that y + 1e9 and x + 1e9 are exact in double precision and
    any difference between the fits comes from the arithmetic of the fit."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(G), m)
    x = rng.normal(size=G * m)
    y = 1 + 0.5 * x + rng.normal(scale=0.6, size=G)[g] + rng.normal(size=G * m)
    grid = 2.0**16
    return pd.DataFrame({"y": np.round(y * grid) / grid, "x": np.round(x * grid) / grid, "g": g})


def _fit(formula, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        return multilevel.fit(formula, data, **kw)


def _unchanged(got, ref, rtol=1e-8):
    """Every estimate but the intercept, and the log-likelihood, to ``rtol`` relative."""
    assert got.loglik == pytest.approx(ref.loglik, rel=rtol)
    np.testing.assert_allclose(got.beta[1:], ref.beta[1:], rtol=rtol)
    np.testing.assert_allclose(got.std_errors[1:], ref.std_errors[1:], rtol=rtol)
    np.testing.assert_allclose(got.df_satterthwaite[1:], ref.df_satterthwaite[1:], rtol=1e-6)
    np.testing.assert_allclose(got.sigma, ref.sigma, rtol=rtol)
    np.testing.assert_allclose(got.theta, ref.theta, rtol=rtol)
    np.testing.assert_allclose(got.ranef()["g"].to_numpy(), ref.ranef()["g"].to_numpy(), atol=1e-7)


@pytest.mark.parametrize("chunk_rows", [None, 100])
@pytest.mark.parametrize("column", ["y", "x"])
@pytest.mark.parametrize("offset", [1e4, 1e7, 1e9])
@pytest.mark.parametrize("reml", [True, False])
def test_shifting_a_column_changes_only_the_intercept(chunk_rows, column, offset, reml):
    """Before: y + 1e4 moved the log-likelihood by 2.4e-5; y + 1e7 was refused as an 'exact
    linear function'; y + 1e9 with --chunk-rows 100 gave sigma^2 = 228 (true 1.02)."""
    df = _data()
    ref = _fit("y ~ x + (1 | g)", df, reml=reml)
    got = _fit(
        "y ~ x + (1 | g)",
        df.assign(**{column: df[column] + offset}),
        reml=reml,
        chunk_rows=chunk_rows,
    )
    _unchanged(got, ref)
    expect = ref.beta[0] + (offset if column == "y" else -offset * ref.beta[1])
    assert got.beta[0] == pytest.approx(expect, rel=1e-12)
    assert got.converged and not any("linear function" in w for w in got.warnings)


@pytest.mark.parametrize("chunk_rows", [None, 100])
def test_a_random_slope_model_with_a_far_outcome(chunk_rows):
    df = _data(seed=3)
    ref = _fit("y ~ x + (1 + x | g)", df)
    got = _fit("y ~ x + (1 + x | g)", df.assign(y=df["y"] + 1e9), chunk_rows=chunk_rows)
    _unchanged(got, ref, rtol=1e-7)


@pytest.mark.parametrize("chunk_rows", [None, 100])
def test_fitted_values_use_the_unshifted_estimates(chunk_rows):
    df = _data().assign(x=lambda d: d["x"] + 1e9)
    fit = _fit("y ~ x + (1 | g)", df, chunk_rows=chunk_rows)
    ref = _fit("y ~ x + (1 | g)", _data())
    if chunk_rows is None:
        np.testing.assert_allclose(fit.fitted, ref.fitted, atol=1e-6)
    else:
        pred = pd.concat(list(fit.predict_chunks(df, chunk_rows=100)))["fitted"].to_numpy()
        np.testing.assert_allclose(pred, ref.fitted, atol=1e-6)


REFERENCE = json.loads((HERE / "shift_reference.json").read_text())["fits"]


@pytest.mark.parametrize(
    "case", REFERENCE, ids=lambda c: f"{c['id']}-{'reml' if c['reml'] else 'ml'}"
)
@pytest.mark.parametrize("chunk_rows", [None, 100])
def test_epoch_seconds_dates_and_far_outcomes_agree_with_lme4(case, chunk_rows):
    """Epoch seconds and yyyymmdd dates as predictors, an outcome 1e7 from zero (lme4 1.1-31,
    make_shift_reference.R); the far outcome was refused before."""
    data = pd.read_csv(HERE / "shift.csv")
    fit = _fit(case["formula"], data, reml=case["reml"], chunk_rows=chunk_rows)
    assert fit.fixed_names == tuple(case["fixed_names"])
    assert fit.loglik == pytest.approx(case["loglik"], abs=1e-6)
    assert fit.loglik >= case["loglik"] - 1e-7  # never below lme4's optimum
    np.testing.assert_allclose(fit.beta, case["beta"], rtol=1e-4)
    np.testing.assert_allclose(fit.std_errors, case["std_errors"], rtol=1e-4)
    assert fit.sigma == pytest.approx(case["sigma"], rel=1e-4)


def test_shift_map_is_exact_for_the_intercept_row():
    s = Shift(intercept=0, x=np.array([0.0, 5.0, -2.0]), y=7.0)
    T = s.T
    np.testing.assert_array_equal(T, [[1.0, -5.0, 2.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert np.linalg.det(T) == 1.0
    assert s.select([0, 2]).x.tolist() == [0.0, -2.0]


def test_only_columns_far_from_zero_are_shifted():
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(500), rng.normal(size=500), 1e6 + rng.normal(size=500)])
    shift = shifts_from_gram(X.T @ X, 500, intercept=0)
    assert shift is not None and shift[0] == 0 and shift[1] == 0
    assert shift[2] == pytest.approx(X[:, 2].mean(), rel=1e-12)
    assert shifts_from_gram(X[:, :2].T @ X[:, :2], 500, intercept=0) is None
    assert shifts_from_gram(X.T @ X, 500, intercept=None) is None  # no intercept: no shift
    cols = ModelColumns.of(X)
    moved = shifted_columns(cols, shift, "t")
    np.testing.assert_array_equal(moved.array[:, 2], X[:, 2] - shift[2])
    np.testing.assert_array_equal(moved.array[:, :2], X[:, :2])


def _weights(n: int) -> np.ndarray:
    """The weights of make_weighted_reference.R: 0.5, 1, 1.5, 2, 0.5, ..."""
    return 0.5 + (np.arange(n) % 4) / 2


@pytest.mark.parametrize("column", ["y", "x"])
@pytest.mark.parametrize("offset", [1e6, 1e9])
def test_weighted_rows_are_shifted_as_unweighted_ones(column, offset):
    """With precision weights the rows are scaled by sqrt(w) and the intercept column is sqrt(w):
    column j is shifted as sqrt(w) (x_j - c_j) (exact), y as sqrt(w) y - c_y sqrt(w). Before,
    the scaling lost the shift: x + 1e9 was refused ('exact linear function') and x + 1e6 was
    0.017 loglik units off. y + 1e9 keeps y sqrt(w) only to ~1e-16 relative (the scaling rounds
    before the shift): its estimates agree to 1e-7."""
    data = _data().assign(w=_weights(480))
    ref = _fit("y ~ x + (1 | g)", data, weights="w")
    got = _fit("y ~ x + (1 | g)", data.assign(**{column: data[column] + offset}), weights="w")
    _unchanged(got, ref, rtol=1e-8 if column == "x" or offset < 1e7 else 1e-7)
    moved = ref.beta[0] + offset if column == "y" else ref.beta[0] - offset * ref.beta[1]
    assert got.beta[0] == pytest.approx(moved, rel=1e-8)


WEIGHTED = json.loads((HERE / "weighted_reference.json").read_text())["fits"]


@pytest.mark.parametrize(
    "case", WEIGHTED, ids=lambda c: f"{c['id']}-{'reml' if c['reml'] else 'ml'}"
)
def test_weighted_fits_far_from_zero_agree_with_lme4(case):
    """yyyymmdd dates and an outcome 1e7 from zero with precision weights (lme4 1.1-31,
    make_weighted_reference.R)."""
    data = pd.read_csv(HERE / "shift.csv")
    data["w"] = _weights(len(data))
    fit = _fit(case["formula"], data, reml=case["reml"], weights="w")
    assert fit.fixed_names == tuple(case["fixed_names"])
    assert fit.loglik == pytest.approx(case["loglik"], abs=1e-6)
    np.testing.assert_allclose(fit.beta, case["beta"], rtol=1e-5)
    np.testing.assert_allclose(fit.std_errors, case["std_errors"], rtol=1e-4)
    assert fit.sigma == pytest.approx(case["sigma"], rel=1e-5)
    np.testing.assert_allclose(fit.theta, case["theta"], rtol=1e-4)


def test_shifted_weighted_columns_are_sqrt_w_times_the_shifted_ones():
    """shifted_columns on sqrt(w)-scaled columns: column j becomes sqrt(w) (x_j - c_j), and the
    weighted means decide the shift (the intercept column is sqrt(w))."""
    from multilevel.design.weights import scaled

    rng = np.random.default_rng(4)
    X = np.column_stack([np.ones(50), rng.normal(size=50) + 1e9, rng.normal(size=50)])
    w = rng.uniform(0.5, 2.0, 50)
    cols = scaled(ModelColumns.of(X), np.sqrt(w))
    gram = cols.gram()
    shift = shifts_from_gram(gram, 50, 0)
    assert shift is not None and shift[2] == 0.0
    assert shift[1] == pytest.approx(np.sum(w * X[:, 1]) / np.sum(w), rel=1e-15)
    out = shifted_columns(cols, shift, "t").array
    np.testing.assert_array_equal(out[:, 1], np.sqrt(w) * (X[:, 1] - shift[1]))
    np.testing.assert_array_equal(out[:, [0, 2]], cols.array[:, [0, 2]])
