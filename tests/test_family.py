"""Families: the row terms (a, b, e, c) are the derivatives they claim to be, the deviance is
-2 x the log-likelihood of scipy's distributions, and links invert."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from multilevel.errors import DataError
from multilevel.family import Binomial, Poisson, get_family

FAMILIES = [Binomial("logit"), Binomial("probit"), Binomial("cloglog"), Poisson()]


def _data(fam):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    eta = np.clip(rng.normal(-0.3, 1.2, 40), -3.0, 2.0)  # inside the links' clipping
    if fam.name == "binomial":
        w = rng.integers(1, 6, 40).astype(float)
        y = rng.binomial(w.astype(int), 0.4) / w
    else:
        w = np.ones(40)
        y = rng.poisson(2.0, 40).astype(float)
    return eta, y, w


@pytest.mark.parametrize("fam", FAMILIES, ids=str)
def test_row_terms_are_derivatives(fam) -> None:  # type: ignore[no-untyped-def]
    eta, y, w = _data(fam)
    h = 1e-6
    r = fam.rows(eta, y, w, c=True)
    up, dn = fam.rows(eta + h, y, w, c=True), fam.rows(eta - h, y, w, c=True)
    np.testing.assert_allclose(r.a, (up.dev - dn.dev) / (4 * h), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(r.e, (up.a - dn.a) / (2 * h), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(r.c, (up.b - dn.b) / (2 * h), rtol=1e-5, atol=1e-8)
    if fam.canonical:
        np.testing.assert_allclose(r.b, r.e)


@pytest.mark.parametrize("fam", FAMILIES, ids=str)
def test_deviance_is_minus_twice_the_loglik(fam) -> None:  # type: ignore[no-untyped-def]
    eta, y, w = _data(fam)
    mu = fam.linkinv(eta)
    if fam.name == "binomial":
        ll = stats.binom.logpmf(np.round(w * y), w, mu).sum()
    else:
        ll = stats.poisson.logpmf(y, mu).sum()
    assert fam.rows(eta, y, w).dev.sum() + fam.constant(y, w) == pytest.approx(-2 * ll, rel=1e-10)
    np.testing.assert_allclose(fam.linkfun(mu), eta, rtol=1e-8)


def test_saturated_loglik() -> None:
    y, w = np.array([0.0, 0.5, 1.0]), np.array([1.0, 4.0, 3.0])
    sat = Binomial().saturated_loglik(y, w)
    assert sat == pytest.approx(stats.binom.logpmf([0, 2, 3], [1, 4, 3], [0.0, 0.5, 1.0]).sum())
    counts = np.array([0.0, 3.0, 7.0])
    assert Poisson().saturated_loglik(counts, np.ones(3)) == pytest.approx(
        stats.poisson.logpmf(counts, np.maximum(counts, 1e-300)).sum()
    )


def test_family_names() -> None:
    assert get_family("binomial") == Binomial("logit")
    assert get_family("binomial(link='probit')") == Binomial("probit")
    assert get_family("Poisson") == Poisson()
    with pytest.raises(DataError, match="unknown family"):
        get_family("gamma")
    with pytest.raises(DataError, match="link"):
        get_family("binomial(link=log)")
