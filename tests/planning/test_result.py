"""Wilson intervals against statsmodels' (an independent implementation), and the result table."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from multilevel.errors import MultilevelError
from multilevel.planning.result import PowerResult, wilson_interval


@pytest.mark.parametrize(("k", "n"), [(0, 20), (3, 20), (50, 100), (812, 1000), (100, 100)])
@pytest.mark.parametrize("level", [0.95, 0.9])
def test_wilson_matches_statsmodels(k: int, n: int, level: float) -> None:
    ref = proportion_confint(k, n, alpha=1 - level, method="wilson")
    np.testing.assert_allclose(wilson_interval(k, n, level), ref, atol=1e-12)


def test_wilson_without_trials_is_nan() -> None:
    assert np.isnan(wilson_interval(0, 0)).all()


def _result() -> PowerResult:
    p = (np.array([0.01, 0.2, np.nan, 0.04]), np.array([0.001, 0.002, 0.5, 0.03]))
    return PowerResult(
        test="treat",
        method="satterthwaite",
        alpha=0.05,
        nsim=4,
        along=("n_groups",),
        points=({"n_groups": 10}, {"n_groups": 20}),
        n_obs=(100, 200),
        p_values=p,
        failed=(np.isnan(p[0]), np.isnan(p[1])),
        singular=(np.array([True, False, False, False]), np.zeros(4, bool)),
        seed=1,
        seconds=0.1,
    )


def test_table_counts_failed_and_singular() -> None:
    t = _result().table()
    assert list(t.columns) == [
        "n_groups",
        "n_obs",
        "power",
        "ci_lower",
        "ci_upper",
        "n_sim",
        "n_failed",
        "n_singular",
    ]
    # 2 of the 3 refits that did not fail reject; failed refits are left out of the power
    assert t.loc[0, "power"] == pytest.approx(2 / 3)
    assert (t.loc[0, "n_failed"], t.loc[0, "n_singular"], t.loc[0, "n_sim"]) == (1, 1, 4)
    assert (t.loc[0, "ci_lower"], t.loc[0, "ci_upper"]) == pytest.approx(wilson_interval(2, 3))
    assert t.loc[1, "power"] == pytest.approx(0.75)


def test_smallest_design_reaching_the_target() -> None:
    r = _result()
    assert r.smallest(0.7)["n_groups"] == 20
    assert r.smallest(0.6)["n_groups"] == 10
    assert r.smallest(0.9) is None
    with pytest.raises(MultilevelError, match="target"):
        r.smallest(80)


def test_plot_draws_one_curve() -> None:
    fig = _result().plot()
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [2 / 3, 0.75])
    assert ax.get_xlabel() == "n_groups"
