"""Shrinkage plot: BLUPs are the OLS estimates pulled toward the population value."""

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.plots import shrinkage_estimates, shrinkage_plot


def _gid(ax, gid):
    found = [c for c in ax.collections + ax.lines if c.get_gid() == gid]
    assert len(found) == 1, gid
    return found[0]


def test_random_intercept_blup_is_lambda_times_ols_deviation():
    """b_j = lambda_j (mean_j(y - X beta)), lambda_j = tau00 / (tau00 + sigma^2 / n_j)."""
    hsb = multilevel.datasets.hsb()
    fit = multilevel.fit("mathach ~ cses + (1 | school)", hsb, warn=False)
    table, pop = shrinkage_estimates(fit)
    beta0 = fit.beta[0]
    assert pop[0] == beta0
    resid = pd.Series(fit.y - fit.design.X @ fit.beta).groupby(fit.design.terms[0].codes)
    n = resid.size().to_numpy()
    d = resid.mean().to_numpy()
    tau00, sigma2 = fit.random_effects[0].covariance[0, 0], fit.sigma**2
    lam = tau00 / (tau00 + sigma2 / n)
    np.testing.assert_allclose(table["ols:(Intercept)"], beta0 + d, rtol=1e-12)
    np.testing.assert_allclose(table["blup:(Intercept)"] - beta0, lam * d, rtol=1e-6, atol=1e-9)
    assert np.all(np.abs(table["blup:(Intercept)"] - beta0) < np.abs(d))

    ax = shrinkage_plot(fit).axes[0]
    segs = _gid(ax, "shrinkage").get_segments()
    assert len(segs) == 160
    np.testing.assert_allclose([s[0, 1] for s in segs], table["ols:(Intercept)"])
    np.testing.assert_allclose([s[1, 1] for s in segs], table["blup:(Intercept)"])
    assert _gid(ax, "population").get_ydata()[0] == pytest.approx(beta0)


def test_random_slopes_ols_is_per_subject_regression_and_blups_are_closer():
    sleep = multilevel.datasets.sleepstudy()
    fit = multilevel.fit("Reaction ~ Days + (Days | Subject)", sleep, warn=False)
    table, pop = shrinkage_estimates(fit)
    for _, row in table.iterrows():  # no pooling = lm(Reaction ~ Days) within each subject
        part = sleep[sleep["Subject"].astype(str) == row["level"]]
        slope, icpt = np.polyfit(part["Days"], part["Reaction"], 1)
        assert row["ols:(Intercept)"] == pytest.approx(icpt, rel=1e-9)
        assert row["ols:Days"] == pytest.approx(slope, rel=1e-9)
    np.testing.assert_allclose(pop, fit.beta)
    Tinv = np.linalg.inv(fit.random_effects[0].covariance)
    ols = table[["ols:(Intercept)", "ols:Days"]].to_numpy() - pop
    blup = table[["blup:(Intercept)", "blup:Days"]].to_numpy() - pop
    dist_ols = np.einsum("ij,jk,ik->i", ols, Tinv, ols)
    dist_blup = np.einsum("ij,jk,ik->i", blup, Tinv, blup)
    assert dist_blup.sum() < dist_ols.sum()
    assert np.mean(dist_blup < dist_ols) > 0.8

    ax = shrinkage_plot(fit).axes[0]
    np.testing.assert_allclose(_gid(ax, "ols").get_offsets(), ols + pop)
    np.testing.assert_allclose(_gid(ax, "blup").get_offsets(), blup + pop)
    np.testing.assert_allclose(_gid(ax, "population").get_offsets()[0], pop)


def test_groups_too_small_for_ols_are_left_out():
    sleep = multilevel.datasets.sleepstudy()
    one = sleep[(sleep["Subject"] != 308) | (sleep["Days"] == 0)]  # subject 308: one day
    fit = multilevel.fit("Reaction ~ Days + (Days | Subject)", one, warn=False)
    table, _ = shrinkage_estimates(fit)
    assert table.set_index("level").loc["308", ["ols:(Intercept)", "ols:Days"]].isna().all()
    ax = shrinkage_plot(fit).axes[0]
    assert len(_gid(ax, "ols").get_offsets()) == 17
    assert "1 groups too small" in ax.get_title().replace("\n", " ")


def test_many_groups_are_sampled_and_the_title_says_so():
    from plothelpers import inside_figure, many_groups

    fit = multilevel.fit("y ~ x + (1 | g)", many_groups(), warn=False)
    fig = shrinkage_plot(fit)
    ax = fig.axes[0]
    segs = [a for a in ax.get_children() if a.get_gid() == "shrinkage"][0].get_segments()
    assert len(segs) == 200
    table, _ = shrinkage_estimates(fit)
    ols = set(np.round(table["ols:(Intercept)"], 10))
    assert all(round(s[0][1], 10) in ols for s in segs)  # real groups, not new points
    assert "200 of 1000 g estimates (random sample)" in ax.get_title().replace("\n", " ")
    assert ax.get_ylabel() == "intercept"
    assert inside_figure(fig)
    everything = shrinkage_plot(fit, max_groups=None)
    segs = [a for a in everything.axes[0].get_children() if a.get_gid() == "shrinkage"]
    assert len(segs[0].get_segments()) == 1000
