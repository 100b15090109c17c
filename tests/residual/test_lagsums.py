"""Cross-products from the lag sums equal those of the whitened rows, for any z; where the sums
do not apply (VarPower, several grouping factors) the fit whitens the rows instead, and nested
random effects with AR(1) in the inner level match the dense likelihood."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.objective import cross_products
from multilevel.residual.lagsums import lag_sums
from multilevel.residual.whiten import whitened_design
from residual_cases import longitudinal


@pytest.mark.parametrize("z", [np.array([0.3, -0.2]), np.array([-1.5, 0.8])])
def test_sums_equal_whitened_cross_products(z):
    d = longitudinal()
    fit = multilevel.fit(
        "y ~ t + (1 + t | person)",
        d,
        correlation=multilevel.AR1(time="t"),
        variance=multilevel.VarIdent(by="sex"),
        warn=False,
    )
    model = fit.residual_structure.model
    sums = lag_sums(fit.design, model)
    assert sums is not None
    xp = sums.cross_products(z)
    w = model.whitener(z)
    ref = cross_products(whitened_design(fit.design, w))
    for a, b in ((xp.A, ref.A), (xp.B, ref.B), (xp.C, ref.C)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(sums.logdet(z), w.logdet, rtol=1e-12)


def test_no_sums_for_varpower():
    d = longitudinal().assign(v=lambda x: 1.0 + x["t"])
    fit = multilevel.fit(
        "y ~ t + (1 | person)", d, variance=multilevel.VarPower(covariate="v"), warn=False
    )
    assert lag_sums(fit.design, fit.residual_structure.model) is None


def _nested(seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(8):
        u = rng.normal(0, 1.0)
        for c in range(rng.integers(3, 6)):
            v = rng.normal(0, 0.7)
            e = 0.0
            for t in range(rng.integers(3, 7)):
                e = 0.5 * e + np.sqrt(0.75) * rng.normal()
                rows.append((f"s{s}", f"c{c}", t, 1 + 0.3 * t + u + v + e))
    return pd.DataFrame(rows, columns=["school", "child", "t", "y"])


def test_nested_factors_with_ar1_match_dense_likelihood():
    d = _nested()
    fit = multilevel.fit(
        "y ~ t + (1 | school/child)",
        d,
        reml=False,
        correlation=multilevel.AR1(time="t"),
        warn=False,
    )
    assert lag_sums(fit.design, fit.residual_structure.model) is None  # two grouping factors
    assert fit.residual_structure.model.correlation.group == "child:school"
    n = fit.n_obs
    phi = fit.residual_structure.phi
    child = (d["school"] + ":" + d["child"]).to_numpy()
    t = d["t"].to_numpy()
    R = np.where(child[:, None] == child[None, :], phi ** np.abs(t[:, None] - t[None, :]), 0.0)
    V = fit.sigma**2 * R
    for vc, term in zip(fit.random_effects, fit.design.terms, strict=True):
        same = term.codes[:, None] == term.codes[None, :]
        V = V + same * float(vc.covariance[0, 0])
    r = fit.y - fit.design.X @ fit.beta
    m2ll = np.linalg.slogdet(V)[1] + r @ np.linalg.solve(V, r) + n * np.log(2 * np.pi)
    np.testing.assert_allclose(-2 * fit.loglik, m2ll, rtol=1e-10)
    assert 0.2 < phi < 0.8
