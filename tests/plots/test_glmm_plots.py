"""Plots of GLMMs: the caterpillar shows lme4's conditional modes and SDs (cbpp), spaghetti
lines are probabilities, the variance plot's level-1 part is pi^2/3, and plots without GLMM
meaning are refused in one line that says why."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from glmmref import fitted, ranef_reference, reference
from multilevel.errors import DataError
from multilevel.plots import KINDS, caterpillar_plot, spaghetti_plot, variance_partition_plot


@pytest.fixture(scope="module")
def cbpp():
    return fitted("cbpp", reference("cbpp")["models"][0]["formula"], 1)


def test_caterpillar_shows_lme4s_modes_and_conditional_sds(cbpp):
    fig = caterpillar_plot(cbpp)
    ax = fig.axes[0]
    pts = next(a for a in ax.get_children() if a.get_gid() == "modes")
    bars = next(a for a in ax.get_children() if a.get_gid() == "intervals")
    ref = ranef_reference("cbpp_period").sort_values("mode")
    np.testing.assert_allclose(pts.get_offsets()[:, 1], ref["mode"], rtol=2e-3, atol=2e-4)
    half = np.array([abs(s[1, 1] - s[0, 1]) / 2 for s in bars.get_segments()])
    np.testing.assert_allclose(half, 1.96 * ref["cond_sd"], rtol=3e-3)


@pytest.mark.parametrize("kind", ["residuals", "shrinkage", "acf"])
def test_plots_without_glmm_meaning_are_refused(cbpp, kind):
    with pytest.raises(
        DataError,
        match=f"no {kind if kind != 'residuals' else 'residual'} plot for a binomial GLMM: ",
    ):
        KINDS[kind](cbpp)


def test_spaghetti_lines_are_probabilities():
    import multilevel

    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(30), 20)
    x = rng.normal(size=g.size)
    eta = -0.3 + 0.8 * x + rng.normal(0, 0.8, 30)[g]
    df = pd.DataFrame(
        {"y": (rng.random(g.size) < 1 / (1 + np.exp(-eta))).astype(int), "x": x, "g": g.astype(str)}
    )
    fit = multilevel.fit("y ~ x + (1 | g)", df, family="binomial", warn=False)
    ax = spaghetti_plot(fit).axes[0]
    pop = next(line for line in ax.get_lines() if line.get_gid() == "population")
    gx, gy = pop.get_data()
    b = fit.beta
    np.testing.assert_allclose(gy, 1 / (1 + np.exp(-(b[0] + b[1] * np.asarray(gx)))))
    assert ax.get_ylabel() == "P(y = 1)"


def test_variance_plot_level1_part_is_pi2_over_3():
    import multilevel

    cb = fitted("cbpp", reference("cbpp")["models"][1]["formula"], 1)  # the null model
    ax = variance_partition_plot(cb).axes[0]
    within = [p for p in ax.patches if p.get_gid() == "within"]
    between = [p for p in ax.patches if p.get_gid() == "between"]
    assert within[0].get_height() == pytest.approx(np.pi**2 / 3)
    assert between[0].get_height() == pytest.approx(cb.random_effects[0].variances[0])
    assert multilevel  # the module under test is imported by the fixtures
