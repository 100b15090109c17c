"""Residual ACF by lag: the estimator by hand on a tiny case, and the plot's bars."""

from __future__ import annotations

import numpy as np
import pytest

import multilevel
from multilevel.plots import acf_plot, residual_acf
from residual_cases import data


def test_acf_by_hand():
    r = np.array([1.0, -1.0, 2.0, 0.5, 0.5, -2.0])
    g = np.array([0, 0, 0, 1, 1, 1])
    acf, pairs = residual_acf(r, g, max_lag=2)
    denom = (r @ r) / 6
    lag1 = (1 * -1 + -1 * 2 + 0.5 * 0.5 + 0.5 * -2) / 4
    lag2 = (1 * 2 + 0.5 * -2) / 2
    np.testing.assert_allclose(acf, [1.0, lag1 / denom, lag2 / denom])
    assert pairs.tolist() == [6, 4, 2]
    # rows given in another order within groups: ``order`` puts them back by time
    perm = np.array([2, 0, 1, 5, 3, 4])
    acf2, _ = residual_acf(r[perm], g[perm], order=np.argsort(perm), max_lag=2)
    np.testing.assert_allclose(acf2, acf)


@pytest.fixture(scope="module")
def fit():
    return multilevel.fit(
        "Reaction ~ Days + (1 | Subject)",
        data("sleepstudy"),
        correlation=multilevel.AR1(time="Days"),
        warn=False,
    )


def _bars(fig, gid):
    return np.array([p.get_height() for ax in fig.axes for p in ax.patches if p.get_gid() == gid])


def test_plot_before_and_after(fit):
    fig = acf_plot(fit, max_lag=4)
    c = fit.residual_structure.model.correlation
    after, _ = residual_acf(fit.normalized_residuals(), c.group_codes, c.order, 4)
    before, _ = residual_acf(fit.scaled_residuals(), c.group_codes, c.order, 4)
    np.testing.assert_allclose(_bars(fig, "acf:after"), after[1:])
    np.testing.assert_allclose(_bars(fig, "acf:before"), before[1:])
    # AR(1) was needed (lag-1 autocorrelation ~0.5) and whitening removes most of it
    assert before[1] > 0.4 and abs(after[1]) < 0.2


def test_plot_of_a_fit_without_structure():
    d = data("sleepstudy")
    plain = multilevel.fit("Reaction ~ Days + (1 | Subject)", d, warn=False)
    fig = acf_plot(plain, max_lag=3, time="Days")
    assert _bars(fig, "acf:after").size == 0
    codes = plain.design.terms[0].codes
    order = np.lexsort((d["Days"].to_numpy(), codes))
    expected, _ = residual_acf(plain.scaled_residuals(), codes, order, 3)
    np.testing.assert_allclose(_bars(fig, "acf:before"), expected[1:])
