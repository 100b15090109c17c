"""Outcomes as lme4 takes them give the same fit; offsets from the formula or the argument;
bad outcomes give one clear error naming the column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.errors import DataError, FormulaError
from multilevel.glmm.response import split_glmm_formula


def _binary(seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n, G = 400, 25
    g = rng.integers(0, G, n)
    x = rng.standard_normal(n)
    eta = -0.2 + 0.7 * x + rng.normal(0, 0.8, G)[g]
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    return pd.DataFrame({"g": g.astype(str), "x": x, "y": y})


def _fit(formula: str, df: pd.DataFrame, **kw) -> multilevel.GlmmFit:  # type: ignore[no-untyped-def]
    kw.setdefault("family", "binomial")
    return multilevel.fit(formula, df, warn=False, **kw)


def test_binary_outcome_forms_agree() -> None:
    df = _binary()
    base = _fit("y ~ x + (1 | g)", df)
    forms = {
        "logical": df.y.astype(bool),
        "text": np.where(df.y == 1, "yes", "no"),  # 'yes' sorts second: the success
        "factor": pd.Categorical(np.where(df.y == 1, "pass", "fail")),
    }
    for name, col in forms.items():
        other = _fit("yy ~ x + (1 | g)", df.assign(yy=col))
        np.testing.assert_allclose(other.beta, base.beta, rtol=1e-9, err_msg=name)
        assert other.loglik == pytest.approx(base.loglik, rel=1e-12)


def test_counts_forms_agree_and_equal_expanded_binary() -> None:
    df = _binary()
    df["cell"] = df.g + "_" + (df.x > 0).astype(str)
    agg = (
        df.groupby("cell")
        .agg(
            s=("y", "sum"),
            n=("y", "size"),
            g=("g", "first"),
            pos=("x", lambda v: float(v.iloc[0] > 0)),
        )
        .reset_index()
    )
    a = _fit("cbind(s, n - s) ~ pos + (1 | g)", agg)
    b = _fit("p ~ pos + (1 | g)", agg.assign(p=agg.s / agg.n), weights=agg.n.to_numpy())
    c = _fit("p ~ pos + (1 | g)", agg.assign(p=agg.s / agg.n, trials=agg.n), weights="trials")
    np.testing.assert_allclose(b.beta, a.beta, rtol=1e-9)
    np.testing.assert_allclose(c.beta, a.beta, rtol=1e-9)
    # the same likelihood in 0/1 rows, up to the binomial coefficients (constant in the params)
    rows = _fit("y ~ pos + (1 | g)", df.assign(pos=(df.x > 0).astype(float)))
    np.testing.assert_allclose(rows.beta, a.beta, rtol=1e-7)
    np.testing.assert_allclose(rows.theta, a.theta, rtol=1e-6)


def test_poisson_offset_in_formula_or_argument() -> None:
    rng = np.random.default_rng(4)
    n, G = 300, 20
    g = rng.integers(0, G, n)
    exposure = rng.uniform(0.5, 3.0, n)
    x = rng.standard_normal(n)
    k = rng.poisson(exposure * np.exp(0.2 + 0.3 * x + rng.normal(0, 0.5, G)[g]))
    df = pd.DataFrame({"g": g.astype(str), "x": x, "k": k, "exposure": exposure})
    a = _fit("k ~ x + offset(log(exposure)) + (1 | g)", df, family="poisson")
    b = _fit("k ~ x + (1 | g)", df, family="poisson", offset=np.log(exposure))
    c = _fit("k ~ x + (1 | g)", df, family="poisson")
    np.testing.assert_allclose(a.beta, b.beta, rtol=1e-9)
    assert abs(a.beta[0] - c.beta[0]) > 0.1  # the offset matters
    new = df.head(4)
    mu = a.predict(new, type="response")
    eta = a.predict(new, random=False)
    np.testing.assert_allclose(
        eta, a.beta[0] + a.beta[1] * new.x + np.log(new.exposure), rtol=1e-12
    )
    b_g = a.ranef()["g"].loc[new.g].to_numpy()[:, 0]
    np.testing.assert_allclose(np.log(mu), eta + b_g, rtol=1e-10)
    assert 0.5 < a.dispersion_ratio < 1.5
    # an offset= expression is evaluated on new rows as the formula's is (R's predict.lm);
    # an offset given as an array has no values there: a clear error, not a dropped offset
    d = _fit("k ~ x + (1 | g)", df, family="poisson", offset="log(exposure)")
    np.testing.assert_allclose(d.predict(new, type="response"), mu, rtol=1e-8)
    np.testing.assert_allclose(d.predict(), a.predict(), rtol=1e-8)
    with pytest.raises(DataError, match="offset was given as an array"):
        b.predict(new)


def test_formula_split() -> None:
    f = split_glmm_formula("cbind(s, n - s) ~ x + offset(log(t)) + (1 | g)")
    assert f.cbind == ("s", "n - s") and f.offsets == ("log(t)",) and f.rhs == "x + (1 | g)"


@pytest.mark.parametrize(
    ("formula", "kw", "data_change", "message"),
    [
        ("c ~ x + (1 | g)", {}, {"c": lambda d: d.y * 2}, "must be 0/1"),
        ("c ~ x + (1 | g)", {"family": "poisson"}, {"c": lambda d: d.y - 1}, "negative"),
        ("c ~ x + (1 | g)", {"family": "poisson"}, {"c": lambda d: d.y + 0.5}, "whole numbers"),
        ("cbind(y, f) ~ x + (1 | g)", {}, {"f": lambda d: -d.y}, "negative"),
        ("cbind(y, n - y) ~ x + (1 | g)", {}, {"n": lambda d: d.y * 0}, "more successes"),
        (
            "c ~ x + (1 | g)",
            {},
            {"c": lambda d: np.where(d.y, "a", "b").astype(object) + d.g},
            "two",
        ),
        ("y ~ x + (1 + x | g)", {"nagq": 5}, {}, "single, scalar"),
        ("y ~ x + (1 | g)", {"nagq": 0}, {}, "nagq"),
        ("y ~ x + (1 | g)", {"family": "gamma"}, {}, "unknown family"),
    ],
)
def test_bad_input(formula: str, kw: dict, data_change: dict, message: str) -> None:
    df = _binary()
    for col, f in data_change.items():
        df[col] = f(df)
    with pytest.raises((DataError, FormulaError), match=message):
        _fit(formula, df, **kw)


def test_lmm_refuses_glmm_arguments() -> None:
    with pytest.raises(DataError, match="family"):
        multilevel.fit("y ~ x + (1 | g)", _binary(), nagq=3)


def test_all_zero_groups_and_separation_are_reported() -> None:
    df = _binary()
    df.loc[df.g == "3", "y"] = 0
    df.loc[df.g == "4", "y"] = 1
    fit = _fit("y ~ x + (1 | g)", df)
    assert any("only failures" in w and "kept" in w for w in fit.warnings)
    modes = fit.ranef()["g"]["(Intercept)"]
    assert modes["3"] < 0 < modes["4"] and np.isfinite(modes).all()
    sep = df.assign(z=np.where(df.y == 1, 1.0, -1.0) + 0.01 * df.x)
    with pytest.warns(multilevel.FitWarning, match="separation"):
        multilevel.fit("y ~ z + (1 | g)", sep, family="binomial")
