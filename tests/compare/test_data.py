"""ClusteredData: same rows, columns and names as the multilevel design; the within transform."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.compare.data import clustered_data
from multilevel.errors import DataError, FormulaError


def test_hsb_columns_and_clusters():
    d = clustered_data(
        multilevel.datasets.hsb(), "mathach ~ cses + meanses + catholic + (1 | school)"
    )
    assert d.names == ("(Intercept)", "cses", "meanses", "catholic")
    assert (d.n, d.k, d.n_clusters) == (7185, 4, 160)
    assert d.cluster_sizes.sum() == 7185
    assert d.cluster_name == "school"


def test_group_argument_adds_the_random_intercept():
    df = multilevel.datasets.hsb()
    a = clustered_data(df, "mathach ~ cses", group="school")
    b = clustered_data(df, "mathach ~ cses + (1 | school)")
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.cluster, b.cluster)


def test_errors_name_the_problem():
    df = multilevel.datasets.hsb()
    with pytest.raises(FormulaError, match="no random term"):
        clustered_data(df, "mathach ~ cses")
    with pytest.raises(DataError, match="not the grouping factor"):
        clustered_data(df, "mathach ~ cses + (1 | school)", group="sector")
    with pytest.raises(FormulaError, match="one clustering factor"):
        clustered_data(
            multilevel.datasets.penicillin(), "diameter ~ 1 + (1 | plate) + (1 | sample)"
        )


def test_within_removes_cluster_means():
    df = pd.DataFrame(
        {
            "y": [1.0, 2.0, 3.0, 10.0, 14.0, 0.0],
            "g": [0, 0, 0, 1, 1, 2],
            "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    d = clustered_data(df, "y ~ x + (1 | g)")
    np.testing.assert_allclose(d.within(d.y), [-1, 0, 1, -2, 2, 0])
    np.testing.assert_allclose(d.within(d.X)[:, 0], 0)
