"""EstimatorResult: Wald intervals and p-values against closed forms, JSON output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from multilevel.compare.protocol import EstimatorResult


def result(df: float) -> EstimatorResult:
    return EstimatorResult(
        name="x",
        label="x",
        coef_names=("a", "b"),
        estimates=np.array([1.0, np.nan]),
        std_errors=np.array([0.5, np.nan]),
        vcov=np.diag([0.25, np.nan]),
        df=np.array([df, df]),
        n_obs=10,
        n_clusters=3,
    )


def test_normal_reference_interval_and_p():
    r = result(np.inf)
    lo, hi = r.conf_int(0.95)[0]
    assert lo == pytest.approx(1.0 - 1.959963984540054 * 0.5, rel=1e-12)
    assert hi == pytest.approx(1.0 + 1.959963984540054 * 0.5, rel=1e-12)
    assert r.p_values()[0] == pytest.approx(2 * stats.norm.sf(2.0), rel=1e-12)


def test_t_reference_interval_and_p():
    r = result(7.0)
    q = 1.89457860509001  # R: qt(0.95, 7)
    assert r.conf_int(0.9)[0, 1] == pytest.approx(1.0 + q * 0.5, rel=1e-12)
    assert r.p_values()[0] == pytest.approx(0.085619328562976, rel=1e-10)  # R: 2 * pt(-2, 7)


def test_not_estimable_is_nan_and_null_in_json():
    r = result(7.0)
    assert r.estimable.tolist() == [True, False]
    assert np.isnan(r.p_values()[1])
    d = json.loads(json.dumps(r.to_dict()))
    assert d["coefficients"][1] == {"name": "b", "estimate": None, "std_error": None, "df": 7.0}
    assert r.estimate("a") == 1.0 and r.std_error("a") == 0.5
    with pytest.raises(KeyError, match="no coefficient"):
        r.index("c")
