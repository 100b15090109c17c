"""Planned designs: balanced treatments at either level, variances from an ICC, the truth."""

from __future__ import annotations

import numpy as np
import pytest

from multilevel.errors import MultilevelError
from multilevel.planning import plan


def test_level2_treatment_and_predictors() -> None:
    planned = plan(
        12,
        5,
        fixed={"treat": 0.4, "w": 0.1, "x": -0.2},
        level1=["x"],
        level2=["w"],
        icc=0.25,
        total_variance=2.0,
    )
    data = planned.data()
    assert len(data) == 60 and data["group"].nunique() == 12
    per_group = data.groupby("group")
    assert (per_group["treat"].nunique() == 1).all() and (per_group["w"].nunique() == 1).all()
    assert data.groupby("group")["treat"].first().sum() == 6
    assert per_group["x"].nunique().min() == 5
    assert planned.formula == "y ~ treat + x + w + (1 | group)"
    built = planned.build()
    beta, theta, sigma = planned.truth(built)
    assert dict(zip(built.fixed.names, beta, strict=True)) == {
        "(Intercept)": 0.0,
        "treat": 0.4,
        "x": -0.2,
        "w": 0.1,
    }
    assert sigma**2 == pytest.approx(1.5)
    assert (theta[0] * sigma) ** 2 == pytest.approx(0.5)
    assert planned.icc == pytest.approx(0.25)


def test_level1_treatment_with_random_slope() -> None:
    planned = plan(
        6,
        8,
        fixed={"treat": 0.3},
        treatment="individual",
        tau2=0.2,
        sigma2=0.8,
        slopes={"treat": 0.1},
    )
    data = planned.data()
    assert (data.groupby("group")["treat"].sum() == 4).all()
    np.testing.assert_array_equal(data["treat"].to_numpy()[:4], [0, 1, 0, 1])
    built = planned.build()
    _, theta, sigma = planned.truth(built)
    np.testing.assert_allclose((theta * sigma) ** 2, [0.2, 0.1])
    assert planned.formula == "y ~ treat + (1 + treat || group)"


def test_uneven_share_is_spread() -> None:
    planned = plan(10, 2, treatment_share=0.3, icc=0.1)
    assert planned.data().groupby("group")["treat"].first().sum() == 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"icc": 0.1, "tau2": 1.0}, "either"),
        ({}, "variances"),
        ({"icc": 1.2}, "icc"),
        ({"icc": 0.1, "fixed": {"dose": 1.0}}, "dose"),
        ({"icc": 0.1, "slopes": {"treat": 0.1}}, "level-1"),
        ({"icc": 0.1, "treatment": "cluster"}, "treatment"),
    ],
)
def test_bad_specifications(kwargs: dict, match: str) -> None:
    with pytest.raises(MultilevelError, match=match):
        plan(10, 5, **kwargs)


def test_too_few_groups() -> None:
    with pytest.raises(MultilevelError, match="at least 3 groups"):
        plan(2, 5, icc=0.1)


def test_multilevel_design_is_the_planner():
    """``multilevel.design(...)`` (the issue's name) builds the same planned design as ``plan``,
    and the ``multilevel.design`` package still imports as before."""
    import pandas as pd

    import multilevel
    import multilevel.design.model as model

    a = multilevel.design(12, 5, fixed={"treat": 0.4}, icc=0.2, seed=7)
    b = multilevel.plan(12, 5, fixed={"treat": 0.4}, icc=0.2, seed=7)
    assert a == b and a.formula == "y ~ treat + (1 | group)"
    pd.testing.assert_frame_equal(a.data(), b.data())
    assert model.build_design is multilevel.design.build_design
