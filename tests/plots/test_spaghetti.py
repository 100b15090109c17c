"""Spaghetti plot: one line per group equal to (beta + b_j)' (1, x), and the population line."""

import numpy as np
import pytest

import multilevel
from multilevel.errors import DataError
from multilevel.plots import spaghetti_plot


def _lines(ax, prefix):
    return [ln for ln in ax.get_lines() if (ln.get_gid() or "").startswith(prefix)]


@pytest.fixture(scope="module")
def sleep_fit():
    return multilevel.fit(
        "Reaction ~ Days + (Days | Subject)", multilevel.datasets.sleepstudy(), warn=False
    )


def test_one_line_per_group_with_its_own_intercept_and_slope(sleep_fit):
    ax = spaghetti_plot(sleep_fit).axes[0]
    lines = _lines(ax, "group:")
    assert len(lines) == 18
    b = sleep_fit.ranef()["Subject"]
    beta = sleep_fit.beta
    for ln in lines:
        level = ln.get_gid().split(":", 1)[1]
        x, y = ln.get_data()
        assert x.min() == 0 and x.max() == 9
        expected = (beta[0] + b.loc[level, "(Intercept)"]) + (beta[1] + b.loc[level, "Days"]) * x
        np.testing.assert_allclose(y, expected, rtol=1e-10)
    (pop,) = _lines(ax, "population")
    x, y = pop.get_data()
    np.testing.assert_allclose(y, beta[0] + beta[1] * x, rtol=1e-10)
    data = [c for c in ax.collections if c.get_gid() == "data"][0].get_offsets()
    assert len(data) == 180


def test_level2_predictor_held_at_the_group_value_and_groups_sampled():
    hsb = multilevel.datasets.hsb()
    fit = multilevel.fit("mathach ~ cses + meanses + (1 | school)", hsb, warn=False)
    ax = spaghetti_plot(fit, max_groups=12).axes[0]
    lines = _lines(ax, "group:")
    assert len(lines) == 12  # a sample of the 160 schools
    assert ax.get_xlabel() == "cses"  # meanses is constant within schools: not level 1
    meanses = hsb.groupby("school")["meanses"].first()
    u = fit.ranef()["school"]["(Intercept)"]
    b0, b1, b2 = fit.beta
    for ln in lines:
        level = ln.get_gid().split(":", 1)[1]
        x, y = ln.get_data()
        expected = b0 + u.loc[level] + b1 * x + b2 * meanses.loc[int(level)]
        np.testing.assert_allclose(y, expected, rtol=1e-10)
    (pop,) = _lines(ax, "population")
    x, y = pop.get_data()
    np.testing.assert_allclose(y, b0 + b1 * x + b2 * meanses.mean(), rtol=1e-10)


def test_needs_exactly_one_level1_predictor():
    fit = multilevel.fit("mathach ~ 1 + (1 | school)", multilevel.datasets.hsb(), warn=False)
    with pytest.raises(DataError, match="one numeric level-1 predictor"):
        spaghetti_plot(fit)


def test_a_factor_is_not_taken_as_the_x_axis_but_can_be_named():
    sleep = multilevel.datasets.sleepstudy()
    fit = multilevel.fit("Reaction ~ factor(Days) + (1 | Subject)", sleep, warn=False)
    with pytest.raises(DataError, match="found: none"):
        spaghetti_plot(fit)
    ax = spaghetti_plot(fit, x="Days").axes[0]  # lines through the observed days only
    (pop,) = _lines(ax, "population")
    x, y = pop.get_data()
    np.testing.assert_array_equal(x, np.arange(10))
    np.testing.assert_allclose(y, sleep.groupby("Days")["Reaction"].mean(), rtol=1e-8)
