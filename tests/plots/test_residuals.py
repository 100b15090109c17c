"""Residual diagnostics: the points are the residuals, fitted values and modes, as QQ pairs."""

import numpy as np
import pytest
from scipy import stats

import multilevel
from multilevel.plots import residual_plot


def _coll(fig, gid):
    found = [c for ax in fig.axes for c in ax.collections if c.get_gid() == gid]
    assert len(found) == 1, gid
    return found[0].get_offsets()


@pytest.fixture(scope="module")
def fit():
    return multilevel.fit(
        "Reaction ~ Days + (Days | Subject)", multilevel.datasets.sleepstudy(), warn=False
    )


def test_level1_panels(fit):
    fig = residual_plot(fit)
    r = fit.residuals / fit.sigma
    xy = _coll(fig, "resid_fitted")
    np.testing.assert_allclose(xy[:, 0], fit.fitted)
    np.testing.assert_allclose(xy[:, 1], r)
    qq = _coll(fig, "qq:residuals")
    n = fit.n_obs
    np.testing.assert_allclose(qq[:, 1], np.sort(r))
    np.testing.assert_allclose(qq[:, 0], stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n))


def test_level2_qq_per_random_effect(fit):
    fig = residual_plot(fit)
    assert sum(ax.get_visible() for ax in fig.axes) == 4  # 2 level-1 + 2 random effects
    for k, term in enumerate(["(Intercept)", "Days"]):
        qq = _coll(fig, f"qq:Subject:{term}")
        b = fit.modes["Subject"].b[:, k]
        assert len(qq) == 18
        np.testing.assert_allclose(qq[:, 1], np.sort(b / np.std(b, ddof=1)))


def test_normal_data_lie_near_the_line():
    fit = multilevel.fit("mathach ~ cses + (1 | school)", multilevel.datasets.hsb(), warn=False)
    qq = _coll(residual_plot(fit), "qq:school:(Intercept)")
    assert np.corrcoef(qq[:, 0], qq[:, 1])[0, 1] > 0.98
