"""Pilot data extended or subsampled as simr's extend/powerCurve: balance kept, copies
relabelled."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.design.model import build_design
from multilevel.errors import MultilevelError
from multilevel.planning.extend import grouping_factor, resize_groups, resize_within


@pytest.fixture(scope="module")
def sorted_pilot() -> multilevel.LmmFit:
    """Treatment sorted by group: the first 10 groups are controls."""
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(20), 6)
    treat = (g >= 10).astype(float)
    y = treat + rng.standard_normal(20)[g] + rng.standard_normal(120)
    data = pd.DataFrame({"y": y, "g": g, "treat": treat, "x": np.tile(np.arange(6.0), 20)})
    return multilevel.fit("y ~ treat + x + (1 | g)", data)


def test_subsample_keeps_the_treatment_balanced(sorted_pilot) -> None:
    data = sorted_pilot.design.frame.data
    small = resize_groups(data, sorted_pilot.design, "g", 6)
    per_group = small.groupby("g", sort=False)["treat"].first()
    assert len(per_group) == 6 and per_group.sum() == 3
    assert len(small) == 36


def test_extension_copies_groups_with_new_labels(sorted_pilot) -> None:
    data = sorted_pilot.design.frame.data
    big = resize_groups(data, sorted_pilot.design, "g", 50)
    assert big["g"].nunique() == 50 and len(big) == 300
    assert big.groupby("g")["treat"].first().sum() == 25
    # each copy repeats its source group's rows (covariates), under a new label
    copy = big[big["g"] == "0~1"]
    np.testing.assert_array_equal(copy["x"], data.loc[data["g"] == 0, "x"])


def test_nested_factor_relabelled_crossed_kept() -> None:
    rng = np.random.default_rng(2)
    school = np.repeat(np.arange(4), 6)
    klass = np.repeat(np.arange(8), 3)  # 2 classes per school, globally numbered
    item = np.tile(np.arange(3), 8)  # crossed with everything
    data = pd.DataFrame(
        {"y": rng.standard_normal(24), "school": school, "klass": klass, "item": item}
    )
    design = build_design("y ~ 1 + (1 | school) + (1 | klass) + (1 | item)", data)
    big = resize_groups(design.frame.data, design, "school", 8)
    assert big["school"].nunique() == 8
    assert big["klass"].nunique() == 16  # copied classes are new classes
    assert big["item"].nunique() == 3  # items are the same items
    with pytest.raises(MultilevelError, match="several grouping factors"):
        grouping_factor(design, "n_groups")
    assert grouping_factor(design, "school") == "school"


def test_group_size_first_rows_or_cycled(sorted_pilot) -> None:
    data = sorted_pilot.design.frame.data
    short = resize_within(data, "g", 4)
    assert (short.groupby("g").size() == 4).all()
    np.testing.assert_array_equal(short.loc[short["g"] == 3, "x"], [0, 1, 2, 3])
    long = resize_within(data, "g", 9)
    np.testing.assert_array_equal(long.loc[long["g"] == 3, "x"], [0, 1, 2, 3, 4, 5, 0, 1, 2])


def test_power_along_the_pilot(sorted_pilot) -> None:
    res = multilevel.power(
        sorted_pilot,
        "treat",
        nsim=20,
        seed=1,
        workers=1,
        along=["n_groups", "group_size"],
        values=[[10, 30], [3, 12]],
    )
    t = res.table()
    assert list(zip(t["n_groups"], t["group_size"], t["n_obs"], strict=True)) == [
        (10, 3, 30),
        (10, 12, 120),
        (30, 3, 90),
        (30, 12, 360),
    ]
