"""Reading numeric columns in place (large data) gives the fit that formulaic's full encoding
gives, including with missing values, integer and logical columns, products and factors."""

import numpy as np
import pandas as pd
import pytest

import multilevel
import multilevel.design.fixed as fixed


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(21)
    n, G = 12_500, 150
    g = rng.integers(0, G, n)
    df = pd.DataFrame(
        {
            "x1": rng.standard_normal(n),
            "x2": rng.uniform(-2, 2, n),
            "k": rng.integers(0, 5, n),  # integer column
            "flag": rng.random(n) < 0.3,  # logical: a factor, never read in place
            "school": pd.Categorical([f"s{j:03d}" for j in g]),
            "w": rng.standard_normal(G)[g],
        }
    )
    u = rng.normal(0, 0.8, G)[g] + rng.normal(0, 0.3, G)[g] * df["x1"]
    df["y"] = 1 + 0.5 * df.x1 - 0.2 * df.x2 * df.x1 + 0.1 * df.k + u + rng.standard_normal(n)
    df.loc[rng.choice(n, 40, replace=False), "x2"] = np.nan
    df.loc[rng.choice(n, 25, replace=False), "y"] = np.nan
    return df


FORMULAS = [
    "y ~ x1 + x2 + w + (1 + x1 | school)",
    "y ~ x1 * x2 + k + flag + (1 + x1 | school)",
    "y ~ 0 + x1 + x1:x2:w + (x1 || school)",
    "y ~ x1 + I(x2 ** 2) + (1 | school)",
]


@pytest.mark.parametrize("formula", FORMULAS)
def test_in_place_columns_give_the_encoded_fit(frame, formula, monkeypatch):
    fast = multilevel.fit(formula, frame, warn=False)
    monkeypatch.setattr(fixed, "IN_PLACE_ROWS", 10**9)  # formulaic encodes every row
    slow = multilevel.fit(formula, frame, warn=False)
    assert fast.fixed_names == slow.fixed_names
    assert fast.n_obs == slow.n_obs == len(frame) - frame[["x2", "y"]].isna().any(axis=1).sum()
    assert fast.loglik == pytest.approx(slow.loglik, rel=1e-12)
    np.testing.assert_allclose(fast.beta, slow.beta, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fast.theta, slow.theta, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(fast.fitted, slow.fitted, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fast.design.X, slow.design.X, rtol=1e-15)


def test_in_place_products_are_checked_for_size(frame):
    df = frame.assign(big=np.full(len(frame), 1e60))
    with pytest.raises(multilevel.errors.DataError, match="x2:big|big:x2"):
        multilevel.fit("y ~ x2:big + (1 | school)", df.assign(x2=frame.x2 * 1e50), warn=False)
