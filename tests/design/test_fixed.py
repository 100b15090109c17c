"""X with lme4's column names, treatment contrasts, and aliased columns dropped as lme4 does."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.design.fixed import aliased_columns, fixed_design, lme4_name


@pytest.mark.parametrize(
    ("raw", "lme4"),
    [
        ("Intercept", "(Intercept)"),
        ("cses:meanses", "cses:meanses"),
        ("f[T.b]", "fb"),
        ("x:f[T.b]", "x:fb"),
        ("C(w)[T.2]", "C(w)2"),
        ("I(x ** 2)", "I(x^2)"),
    ],
)
def test_lme4_names(raw, lme4):
    assert lme4_name(raw) == lme4


def test_categorical_and_interactions():
    df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6], "f": list("abcabc")})
    X = fixed_design("x * f", df)
    assert X.names == ("(Intercept)", "x", "fb", "fc", "x:fb", "x:fc")
    np.testing.assert_array_equal(X.X[:, 2], [0, 1, 0, 0, 1, 0])


def test_transforms():
    df = pd.DataFrame({"x": [1.0, 2, 3, 4]})
    X = fixed_design("I(x^2) + log(x)", df)
    assert X.names == ("(Intercept)", "I(x^2)", "log(x)")
    np.testing.assert_allclose(X.X[:, 1], [1, 4, 9, 16])
    np.testing.assert_allclose(X.X[:, 2], np.log([1, 2, 3, 4]))


def test_aliased_column_dropped_keeping_earlier():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    X = np.column_stack([X, X[:, 0] + 2 * X[:, 1]])
    assert aliased_columns(X) == [3]


def test_rank_deficient_fit_warns_and_drops():
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(10), 8)
    df = pd.DataFrame({"x": rng.normal(size=80), "g": g})
    df["x2"] = 2 * df["x"]
    df["y"] = df["x"] + rng.normal(size=10)[g] + rng.normal(size=80)
    with pytest.warns(multilevel.FitWarning, match="dropping 1 column.*x2"):
        fit = multilevel.fit("y ~ x + x2 + (1 | g)", df)
    assert fit.fixed_names == ("(Intercept)", "x")


# ------------------------------------------------ integer columns: terms in double precision
INTEGER_REF = Path(__file__).parent / "integer_reference"
INTEGER_MODELS = json.loads((INTEGER_REF / "integer_terms.json").read_text())["models"]


def _integer_data(dtype: str) -> pd.DataFrame:
    df = pd.read_csv(INTEGER_REF / "integer_terms.csv")
    return df.astype({"income": dtype, "w": dtype})


def _check_against_lme4(fit: Any, ref: dict[str, Any]) -> None:
    assert fit.loglik == pytest.approx(ref["loglik"], rel=1e-9, abs=1e-7)
    est = [fe["estimate"] for fe in ref["fixed_effects"]]
    np.testing.assert_allclose(np.asarray(fit.beta), est, rtol=2e-5)
    assert fit.sigma == pytest.approx(ref["sigma"], rel=1e-5)


@pytest.mark.parametrize("dtype", ["int64", "int32", "Int64"])
@pytest.mark.parametrize("model", INTEGER_MODELS, ids=lambda m: m["formula"])
@pytest.mark.parametrize("method", ["ml", "reml"])
def test_integer_terms_computed_in_double_as_lme4(model, dtype, method):
    """I(income^4), income:w and income*w on integer columns (values up to 2e5, products beyond
    2^63) equal lme4's fit, which computes formula terms in double precision (issue 11 item 1:
    int64 gave loglik -1517.5 against lme4's -1374.9, int32 flipped the sign of I(income^2))."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = multilevel.fit(model["formula"], _integer_data(dtype), reml=method == "reml")
    _check_against_lme4(fit, model["fits"][method])


@pytest.mark.parametrize("model", INTEGER_MODELS[:3], ids=lambda m: m["formula"])
def test_integer_terms_chunked_and_dask_as_lme4(model):
    """The chunked path (100-row chunks) and Dask compute the same terms in double precision."""
    from multilevel.sources.fit_large import fit_large

    dd = pytest.importorskip("dask.dataframe")
    from multilevel.sources.dask import fit_dask

    data = _integer_data("int32")
    ref = model["fits"]["ml"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chunked = fit_large(model["formula"], data, reml=False, chunk_rows=100, progress=False)
        dasked = fit_dask(model["formula"], dd.from_pandas(data, npartitions=3), reml=False)
    assert chunked.loglik == pytest.approx(ref["loglik"], rel=1e-9)
    assert dasked.loglik == pytest.approx(ref["loglik"], rel=1e-9)


def test_integer_column_inside_factor_keeps_its_level_names():
    """Only columns used as numbers become float64: factor(k) on an integer column keeps the
    level names 1, 2, 3 (not 1.0), and I(k^2) beside it is computed in double precision."""
    k = np.array([1, 2, 3] * 4, dtype=np.int64)
    big = np.arange(1, 13, dtype=np.int64) * 3_000_000_000
    X = fixed_design("factor(k) + I(big^3)", pd.DataFrame({"k": k, "big": big}))
    assert X.names == ("(Intercept)", "factor(k)2", "factor(k)3", "I(big^3)")
    np.testing.assert_array_equal(X.X[:, 3], big.astype(float) ** 3)
