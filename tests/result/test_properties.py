"""Invariances a correct fit must have, whatever the data."""

from __future__ import annotations

import numpy as np
import pytest

import multilevel

FORMULA = "mathach ~ cses * meanses + (1 + cses | school)"


@pytest.fixture(scope="module")
def hsb():
    return multilevel.datasets.hsb()


@pytest.fixture(scope="module")
def base(hsb):
    return multilevel.fit(FORMULA, hsb)


def test_row_order_does_not_matter(hsb, base):
    shuffled = hsb.sample(frac=1.0, random_state=3).reset_index(drop=True)
    fit = multilevel.fit(FORMULA, shuffled)
    assert fit.loglik == pytest.approx(base.loglik, abs=1e-8)
    np.testing.assert_allclose(fit.beta, base.beta, rtol=1e-7)
    np.testing.assert_allclose(fit.theta, base.theta, rtol=1e-5, atol=1e-7)


def test_group_labels_do_not_matter(hsb, base):
    relabelled = hsb.assign(school=hsb["school"].map(lambda s: f"S{(s * 7919) % 100003}"))
    fit = multilevel.fit(FORMULA, relabelled)
    assert fit.loglik == pytest.approx(base.loglik, abs=1e-8)
    np.testing.assert_allclose(fit.std_errors, base.std_errors, rtol=1e-6)


@pytest.mark.parametrize("c", [1e-3, 7.5, 1e4])
def test_scaling_the_outcome(hsb, base, c):
    """y -> c y: beta -> c beta, variances -> c^2 variances; correlations and theta unchanged."""
    fit = multilevel.fit(FORMULA, hsb.assign(mathach=c * hsb["mathach"]))
    np.testing.assert_allclose(fit.beta, c * base.beta, rtol=1e-6)
    np.testing.assert_allclose(fit.std_errors, c * base.std_errors, rtol=1e-5)
    assert fit.sigma == pytest.approx(c * base.sigma, rel=1e-6)
    for a, b in zip(fit.random_effects, base.random_effects, strict=True):
        np.testing.assert_allclose(a.covariance, c**2 * b.covariance, rtol=1e-5)
    np.testing.assert_allclose(fit.theta, base.theta, rtol=1e-5, atol=1e-7)
    # the REML log-likelihood (of n - p error contrasts) shifts by -(n - p) log c exactly
    dim = fit.n_obs - len(fit.beta)
    assert fit.loglik == pytest.approx(base.loglik - dim * np.log(c), abs=1e-6)


def test_fitted_plus_residuals_is_y(base):
    np.testing.assert_allclose(base.fitted + base.residuals, base.y)
