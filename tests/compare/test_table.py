"""The tidy table and its text rendering."""

from __future__ import annotations

import numpy as np
import pytest

from multilevel.compare.protocol import EstimatorResult
from multilevel.compare.table import COLUMNS, comparison_table, format_table


def make(name: str, se: float, estimate: float = 1.0) -> EstimatorResult:
    return EstimatorResult(
        name=name,
        label=name,
        coef_names=("x",),
        estimates=np.array([estimate]),
        std_errors=np.array([se]),
        vcov=np.array([[se**2]]),
        df=np.array([np.inf]),
        n_obs=10,
        n_clusters=2,
    )


def test_ratios_and_design_effect():
    t = comparison_table([make("ols", 0.5), make("ols_cluster_cr1", 1.0), make("multilevel", 2.0)])
    assert list(t.columns) == COLUMNS
    assert t["se_ratio"].tolist() == [0.25, 0.5, 1.0]
    assert t["design_effect"].tolist() == [1.0, 4.0, 16.0]
    assert t["ci_upper"].iloc[2] == pytest.approx(1.0 + 1.959963984540054 * 2.0)


def test_text_marks_not_estimable():
    t = comparison_table([make("fixed_effects", np.nan, np.nan), make("multilevel", 1.0)])
    text = format_table(t)
    assert "not estimable" in text and "multilevel" in text
    assert np.isnan(t["se_ratio"].iloc[0])
