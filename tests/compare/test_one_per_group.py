"""One row per cluster: the draw, reproducibility, and agreement with OLS on the drawn rows."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

import multilevel
from multilevel.compare.data import clustered_data
from multilevel.compare.one_per_group import draw_one_per_cluster, one_per_group
from multilevel.errors import DataError


@pytest.fixture(scope="module")
def hsb():
    return clustered_data(multilevel.datasets.hsb(), "mathach ~ cses + meanses + (1 | school)")


def test_draw_takes_exactly_one_row_of_each_cluster(hsb):
    rows = draw_one_per_cluster(hsb.cluster, hsb.n_clusters, np.random.default_rng(1))
    assert sorted(hsb.cluster[rows].tolist()) == list(range(hsb.n_clusters))


def test_draw_is_uniform_within_a_cluster():
    cluster = np.array([0, 0, 0, 0, 1])
    rng = np.random.default_rng(2)
    counts = np.bincount(
        [draw_one_per_cluster(cluster, 2, rng)[0] for _ in range(4000)], minlength=4
    )
    # each of 4 rows: 1000 expected, binomial SD ~27; 5 SD bound
    assert np.all(np.abs(counts - 1000) < 5 * np.sqrt(4000 * 0.25 * 0.75))


def test_single_draw_is_ols_on_the_drawn_rows(hsb):
    res = one_per_group(hsb, draws=1, seed=7)
    rows = draw_one_per_cluster(hsb.cluster, hsb.n_clusters, np.random.default_rng(7))
    ref = sm.OLS(hsb.y[rows], hsb.X[rows]).fit()
    np.testing.assert_allclose(res.estimates, ref.params, rtol=1e-10)
    np.testing.assert_allclose(res.std_errors, ref.bse, rtol=1e-10)
    assert res.n_obs == 160 and res.df.tolist() == [157.0] * 3


def test_mean_and_spread_are_reproducible(hsb):
    a = one_per_group(hsb, draws=30, seed=11)
    b = one_per_group(hsb, draws=30, seed=11)
    np.testing.assert_array_equal(a.estimates, b.estimates)
    assert np.all(a.extras["draw_sd"] > 0)
    assert np.all(a.extras["draw_q025"] < a.estimates) and np.all(
        a.estimates < a.extras["draw_q975"]
    )
    # the spread across draws is about the per-draw SE (both measure one draw's sampling error)
    ratio = a.extras["draw_sd"] / a.std_errors
    assert np.all((ratio > 0.5) & (ratio < 1.5))


def test_too_few_clusters():
    import pandas as pd

    df = pd.DataFrame(
        {"y": [1.0, 2, 3, 4], "x": [1.0, 2, 3, 5], "z": [0.0, 1, 1, 0], "g": [0, 0, 1, 1]}
    )
    with pytest.raises(DataError, match="one row per cluster"):
        one_per_group(clustered_data(df, "y ~ x + z + (1 | g)"))
