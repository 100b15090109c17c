"""Fuzzing exactness on real-world data (issue 11): integer columns, large offsets, chunks whose
types change, missing-value codes. Each property compares two fits that must agree, or asks for
one clear error.

Integer columns (item 1), type-changing chunks (item 3) and missing-value codes (item 4) hold.
Large offsets (item 2) hold against the data the shifted columns actually hold, also for a random
slope on the shifted predictor (its intercept-related parameters then move by the exact map
T = [[1, -c], [0, 1]], see multilevel.design.random_shift).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

import multilevel
from fuzz.strategies import (
    GROUPS,
    integer_frames,
    missing_code_frames,
    mixed_type_csv,
    shifted_frames,
)
from multilevel.errors import DataError, MultilevelError
from multilevel.sources.fit_large import fit_large

EXACT = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _fit(formula, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return multilevel.fit(formula, data, warn=False, **kw)


def _large(formula, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_large(formula, data, progress=False, warn=False, **kw)


@EXACT
@given(case=integer_frames())
def test_integer_columns_give_the_float_fit(case):
    """Terms on integer columns of any dtype (I(a^4), a:b, ...) equal those on float64 copies,
    in memory and in 25-row chunks: R computes formula terms in double precision."""
    data, formula = case
    as_float = data.astype({"a": float, "b": float})
    want = _fit(formula, as_float, reml=False)
    got = _fit(formula, data, reml=False)
    assert got.loglik == pytest.approx(want.loglik, rel=1e-10)
    np.testing.assert_allclose(got.beta, want.beta, rtol=1e-8, atol=0)
    if "+ a |" not in formula:  # one grouping factor, random intercept: the chunked path too
        chunked = _large(formula, data, reml=False, chunk_rows=25)
        assert chunked.loglik == pytest.approx(want.loglik, rel=1e-8)


@EXACT
@given(case=shifted_frames())
def test_large_offsets_change_nothing_but_the_intercept(case):
    """Shifting y or a predictor by up to 1.7e9 leaves the loglik and every estimate except the
    intercept unchanged to 1e-8 relative, in memory and chunked; with a random slope on the
    shifted predictor, the random intercept's variance and covariance are T Sigma T'."""
    data, shifted, column, formula = case
    # the reference is the data the shifted file holds: x + 1.7e9 keeps x only to 2.4e-7, and
    # subtracting the shift back is exact (Sterbenz), so any difference is the fit's own
    offset = float(shifted[column].iloc[0] - data[column].iloc[0])
    want = _fit(formula, shifted.assign(**{column: shifted[column] - offset}), reml=False)
    slope = column == "x" and "+ x |" in formula
    for got in (
        _fit(formula, shifted, reml=False),
        _large(formula, shifted, reml=False, chunk_rows=30),
    ):
        assert got.loglik == pytest.approx(want.loglik, rel=1e-8)
        np.testing.assert_allclose(got.beta[1:], want.beta[1:], rtol=1e-8, atol=1e-10)
        assert got.sigma == pytest.approx(want.sigma, rel=1e-7)
        if not slope:
            np.testing.assert_allclose(got.theta, want.theta, rtol=1e-6, atol=1e-8)
            continue
        T = np.array([[1.0, -offset], [0.0, 1.0]])
        S, S0 = got.random_effects[0].covariance, want.random_effects[0].covariance
        assert S[1, 1] == pytest.approx(S0[1, 1], rel=1e-6, abs=1e-10)
        np.testing.assert_allclose(S, T @ S0 @ T.T, rtol=1e-6)


@EXACT
@given(case=mixed_type_csv())
def test_chunks_whose_types_change_give_the_in_memory_fit(case, tmp_path_factory):
    """Group ids numeric-looking in early chunks and textual later ('007' then 'id7'): the
    chunked fit has the in-memory groups and loglik, or stops with one clear error."""
    content, chunk = case
    path = tmp_path_factory.mktemp("mixed") / "data.csv"
    path.write_bytes(content)
    want = _fit("y ~ x + (1 | g)", pd.read_csv(path, dtype={"g": str}))
    try:
        got = _large("y ~ x + (1 | g)", path, chunk_rows=chunk)
    except MultilevelError as exc:
        assert "\n" not in str(exc)
        return
    assert got.loglik == pytest.approx(want.loglik, rel=1e-8)


@EXACT
@given(case=missing_code_frames())
def test_missing_value_codes_named_in_one_clear_error(case):
    """A numeric column with a few text codes ('.', 'n/a', '?') is not turned into a factor:
    the fit stops with a DataError naming the column and the code, and the option to declare it;
    declared, the code is a missing value (the fit equals that on the complete rows)."""
    data, column, code = case
    with pytest.raises(DataError) as err:
        _fit("y ~ x + (1 | g)", data)
    message = str(err.value)
    assert repr(column) in message and repr(code) in message and "na_values" in message
    declared = _fit("y ~ x + (1 | g)", data, na_values=[code])
    complete = data[data[column] != code].astype({column: float})
    assert declared.loglik == pytest.approx(_fit("y ~ x + (1 | g)", complete).loglik, rel=1e-10)


def test_random_slope_on_a_shifted_predictor():
    """Was 'numerically singular' (a strict xfail): x + 1e9 with a random slope on x."""
    rng = np.random.default_rng(3)
    g = rng.integers(0, 8, 120)
    x = rng.normal(size=120)
    y = 0.5 * x + rng.normal(size=8)[g] + 0.3 * rng.normal(size=8)[g] * x + rng.normal(size=120)
    data = pd.DataFrame({"y": y, "x": x, "g": [GROUPS[k] for k in g]})
    shifted = data.assign(x=data["x"] + 1e9)
    want = _fit("y ~ x + (1 + x | g)", shifted.assign(x=shifted["x"] - 1e9), reml=False)
    got = _fit("y ~ x + (1 + x | g)", shifted, reml=False)
    assert got.loglik == pytest.approx(want.loglik, rel=1e-8)
    assert got.beta[1] == pytest.approx(want.beta[1], rel=1e-8)
    chunked = _large("y ~ x + (1 + x | g)", shifted, reml=False, chunk_rows=25)
    assert chunked.loglik == pytest.approx(want.loglik, rel=1e-8)


@settings(EXACT, max_examples=8)
@given(case=shifted_frames())
def test_large_offsets_change_no_inference(case):
    """Shifting y or a predictor by up to 1.7e9 leaves the inference on every coefficient but the
    intercept unchanged to 1e-6 relative: Kenward-Roger and CR2 SE and df, the anova's F and df,
    and the Satterthwaite df in memory and chunked (each computed about the fit's shift,
    multilevel.inference.fitted)."""
    from multilevel.inference.robust import robust_table

    data, shifted, column, formula = case
    offset = float(shifted[column].iloc[0] - data[column].iloc[0])
    want = _fit(formula, shifted.assign(**{column: shifted[column] - offset}))
    got = _fit(formula, shifted)
    kr0, kr1 = want.kenward_roger, got.kenward_roger
    np.testing.assert_allclose(kr1.std_errors[1:], kr0.std_errors[1:], rtol=1e-6)
    np.testing.assert_allclose(kr1.df[1:], kr0.df[1:], rtol=1e-6)
    cr0, cr1 = robust_table(want, "CR2"), robust_table(got, "CR2")
    np.testing.assert_allclose(cr1.std_error[1:], cr0.std_error[1:], rtol=1e-6)
    np.testing.assert_allclose(cr1.df[1:], cr0.df[1:], rtol=1e-6)
    a0, a1 = want.anova(ddf="kenward-roger"), got.anova(ddf="kenward-roger")
    np.testing.assert_allclose(a1[["f_value", "den_df"]], a0[["f_value", "den_df"]], rtol=1e-6)
    for fit in (got, _large(formula, shifted, chunk_rows=30)):
        np.testing.assert_allclose(fit.df_satterthwaite[1:], want.df_satterthwaite[1:], rtol=1e-6)
