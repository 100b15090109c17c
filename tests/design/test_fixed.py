"""X with lme4's column names, treatment contrasts, and aliased columns dropped as lme4 does."""

from __future__ import annotations

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
