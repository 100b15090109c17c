"""Variance partition: bar heights are tau00 / sigma^2 and the shares are the ICC."""

import numpy as np
import pytest

import multilevel
from multilevel.plots import variance_partition_plot, variance_parts


def _bars(ax, gid):
    return [p for p in ax.patches if p.get_gid() == gid]


def test_null_model_bars_are_tau00_and_sigma2_and_label_the_icc():
    fit = multilevel.fit("mathach ~ 1 + (1 | school)", multilevel.datasets.hsb(), warn=False)
    ax = variance_partition_plot(fit).axes[0]
    (between,) = _bars(ax, "between")
    (within,) = _bars(ax, "within")
    assert _bars(ax, "fixed") == []  # no predictors: nothing explained
    tau00 = fit.random_effects[0].covariance[0, 0]
    assert between.get_height() == pytest.approx(tau00, rel=1e-12)
    assert within.get_height() == pytest.approx(fit.sigma**2, rel=1e-12)
    assert within.get_y() == pytest.approx(tau00, rel=1e-12)  # stacked
    texts = [t.get_text() for t in ax.texts]
    icc = fit.icc["school"]
    assert f"{100 * icc:.1f}%" in texts and f"{100 * (1 - icc):.1f}%" in texts
    ax = variance_partition_plot(fit, proportions=True).axes[0]
    assert _bars(ax, "between")[0].get_height() == pytest.approx(icc, rel=1e-12)


def test_random_slope_between_variance_is_the_average_over_rows():
    fit = multilevel.fit(
        "Reaction ~ Days + (Days | Subject)", multilevel.datasets.sleepstudy(), warn=False
    )
    T = fit.random_effects[0].covariance
    days = np.arange(10.0)  # every subject is seen on days 0..9
    expected = T[0, 0] + 2 * T[0, 1] * days.mean() + T[1, 1] * np.mean(days**2)
    parts = variance_parts(fit)
    assert parts["between"] == pytest.approx(expected, rel=1e-10)
    var_days = np.var(multilevel.datasets.sleepstudy()["Days"], ddof=1)
    assert parts["fixed"] == pytest.approx(fit.beta[1] ** 2 * var_days, rel=1e-10)
    assert parts["within"] == pytest.approx(fit.sigma**2)


def test_ladder_has_one_stacked_bar_per_step():
    ladder_mod = pytest.importorskip("multilevel.ladder")
    ld = ladder_mod.ladder(multilevel.datasets.hsb(), "mathach", "school", ["cses"], ["meanses"])
    ax = variance_partition_plot(ld).axes[0]
    within = _bars(ax, "within")
    assert len(within) == len(ld.steps) == len(_bars(ax, "between"))
    np.testing.assert_allclose(
        [b.get_height() for b in within], [s.fit.sigma**2 for s in ld.steps], rtol=1e-12
    )
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        s.step.replace("_", " ") for s in ld.steps
    ]
