"""The whitened likelihood equals the dense marginal likelihood of the original model:
-2 log L = log|V| + r'V^-1 r + n log(2 pi) with V = sigma^2 (Z Lambda Lambda' Z' + Sigma),
Sigma_j = diag(g_j) R_j diag(g_j), built as dense matrices from the estimates (unbalanced groups,
gaps in time, shuffled rows, AR1 and VarIdent together)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel
from residual_cases import longitudinal


def _dense_V(fit, d: pd.DataFrame) -> np.ndarray:
    phi = fit.residual_structure.phi
    ratios = fit.residual_structure.sd_ratios
    n = fit.n_obs
    Sigma = np.zeros((n, n))
    g = d["sex"].map(ratios).to_numpy() if ratios else np.ones(n)
    for s in d["person"].unique():
        idx = np.flatnonzero(d["person"].to_numpy() == s)
        t = d["t"].to_numpy()[idx]
        R = phi ** np.abs(t[:, None] - t[None, :]).astype(float)
        Sigma[np.ix_(idx, idx)] = g[idx, None] * R * g[None, idx]
    vc = fit.random_effects[0].covariance
    Z = fit.design.terms[0].Z
    codes = fit.design.terms[0].codes
    same = codes[:, None] == codes[None, :]
    return fit.sigma**2 * Sigma + same * (Z @ vc @ Z.T)


def test_blups_and_fitted_values_equal_dense():
    """b_j = D Z_j' V_j^-1 (y_j - X_j beta): the conditional modes of the whitened model are the
    BLUPs of the original one, and fitted = X beta + Z b on the data's scale."""
    d = longitudinal()
    fit = multilevel.fit(
        "y ~ t + (1 + t | person)",
        d,
        correlation=multilevel.AR1(time="t"),
        variance=multilevel.VarIdent(by="sex"),
        warn=False,
    )
    V = _dense_V(fit, d)
    r = fit.y - fit.design.X @ fit.beta
    Vr = np.linalg.solve(V, r)
    term = fit.design.terms[0]
    D = fit.random_effects[0].covariance
    b = np.stack([D @ term.Z[term.codes == j].T @ Vr[term.codes == j] for j in range(40)])
    np.testing.assert_allclose(fit.modes[term.name].b, b, rtol=1e-6, atol=1e-8)
    fitted = fit.design.X @ fit.beta + np.einsum("ij,ij->i", term.Z, b[term.codes])
    np.testing.assert_allclose(fit.fitted, fitted, rtol=1e-8)


def _dense_minus2ll(fit, d: pd.DataFrame, reml: bool) -> float:
    y, X = fit.y, fit.design.X
    n = y.size
    V = _dense_V(fit, d)
    Vi = np.linalg.inv(V)
    r = y - X @ fit.beta
    out = np.linalg.slogdet(V)[1] + r @ Vi @ r + n * np.log(2 * np.pi)
    if reml:
        p = X.shape[1]
        out += np.linalg.slogdet(X.T @ Vi @ X)[1] - p * np.log(2 * np.pi)
    return float(out)


@pytest.mark.parametrize("reml", [False, True])
def test_whitened_likelihood_equals_dense(reml):
    d = longitudinal()
    fit = multilevel.fit(
        "y ~ t + (1 + t | person)",
        d,
        reml=reml,
        correlation=multilevel.AR1(time="t"),
        variance=multilevel.VarIdent(by="sex"),
        warn=False,
    )
    np.testing.assert_allclose(-2 * fit.loglik, _dense_minus2ll(fit, d, reml), rtol=1e-10)
    # the truth is recovered roughly (phi 0.6, SD ratio 1.8 for boys against girls)
    assert abs(fit.residual_structure.phi - 0.6) < 0.15
    ratios = fit.residual_structure.sd_ratios
    assert list(ratios) == ["boy", "girl"]  # the stratum of the first person is the reference
    assert abs(ratios["girl"] - 1 / 1.8) < 0.15
    assert fit.n_params == 2 + 3 + 1 + 2


def test_optimum_is_a_maximum_of_the_dense_likelihood():
    """Moving phi or the ratio away from the estimates (and refitting the rest) lowers the
    profiled likelihood: the outer optimization found the optimum, not just a stationary
    point of the whitening."""
    from multilevel.residual.fit import _Profile

    d = longitudinal()
    fit = multilevel.fit(
        "y ~ t + (1 | person)", d, reml=False, correlation=multilevel.AR1(time="t"), warn=False
    )
    r = fit.residual_structure
    prof = _Profile(fit.design, r.model, reml=False)
    best = prof(r.z)
    np.testing.assert_allclose(best, -2 * fit.loglik, atol=1e-7)
    for dz in (-0.05, 0.05):
        assert prof(r.z + dz) > best
