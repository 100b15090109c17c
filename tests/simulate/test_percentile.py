"""Percentile intervals as R's boot.ci(type = "perc") (boot:::norm.inter), from reference.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from multilevel.simulate.percentile import percentile_interval

REFERENCE = json.loads((Path(__file__).parent / "reference.json").read_text())


@pytest.mark.parametrize(
    "case", REFERENCE["norm_inter"], ids=lambda c: f"{len(c['t'])}-{c['level']}"
)
def test_norm_inter(case: dict) -> None:
    lo, hi = percentile_interval(np.array(case["t"]), case["level"])
    np.testing.assert_allclose([lo, hi], case["interval"], rtol=1e-12)


def test_non_finite_values_are_left_out() -> None:
    t = np.array(REFERENCE["norm_inter"][0]["t"])
    with_nan = np.concatenate([t, [np.nan, np.inf]])
    assert percentile_interval(with_nan, 0.95) == percentile_interval(t, 0.95)
