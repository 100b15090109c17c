"""Type I error under a true null: naive OLS rejects far too often for a level-2 predictor.

Bounds come from the Monte Carlo SE: a rate whose true value is alpha has SE
sqrt(alpha (1 - alpha) / reps); we accept alpha +/- 4 such SEs. For naive OLS the true rate is
about 2 Phi(-1.96 / sqrt(deff)) with Kish's deff = 1 + (m - 1) ICC = 6.8, i.e. about 0.45.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from multilevel.compare.simulate import simulate_nested, simulate_type1

REPS = 300
ALPHA = 0.05
MC_SE = np.sqrt(ALPHA * (1 - ALPHA) / REPS)  # 0.0126


@pytest.fixture(scope="module")
def level2():
    return simulate_type1(
        level=2,
        icc=0.2,
        n_groups=50,
        group_size=30,
        reps=REPS,
        seed=356,
        estimators=["ols", "ols_cluster_cr1", "multilevel"],
        n_jobs=2,
        progress=False,
    )


def test_naive_ols_inflates_type1_error_for_level2_predictor(level2):
    deff = 1 + (30 - 1) * 0.2
    expected = 2 * stats.norm.sf(1.96 / np.sqrt(deff))  # ~0.45
    se = np.sqrt(expected * (1 - expected) / REPS)
    assert level2.rate("ols") > expected - 4 * se  # > ~0.34
    assert level2.rate("ols") > ALPHA + 10 * MC_SE


@pytest.mark.parametrize("name", ["multilevel", "ols_cluster_cr1"])
def test_multilevel_and_cr1_hold_alpha(level2, name):
    assert abs(level2.rate(name) - ALPHA) <= 4 * MC_SE


def test_table_and_json(level2):
    t = level2.table.set_index("estimator")
    assert (t["n_valid"] == REPS).all()
    r = t.loc["ols", "rejection_rate"]
    assert t.loc["ols", "mc_se"] == pytest.approx(np.sqrt(r * (1 - r) / REPS))
    d = json.loads(json.dumps(level2.to_dict()))
    assert d["settings"]["seed"] == 356
    assert d["settings"]["kish_design_effect"] == pytest.approx(6.8)
    assert [r["estimator"] for r in d["results"]] == ["ols", "ols_cluster_cr1", "multilevel"]


def test_parallel_and_serial_runs_agree(level2):
    serial = simulate_type1(
        level=2,
        icc=0.2,
        n_groups=50,
        group_size=30,
        reps=12,
        seed=356,
        estimators=["ols", "ols_cluster_cr1", "multilevel"],
        n_jobs=1,
        progress=False,
    )
    np.testing.assert_allclose(serial.p_values, level2.p_values[:12], rtol=1e-12)


def test_fixed_effects_cannot_test_level2_but_can_test_level1():
    kw = dict(
        icc=0.2,
        n_groups=10,
        group_size=5,
        reps=4,
        seed=1,
        progress=False,
        estimators=["fixed_effects", "one_per_group"],
    )
    two = simulate_type1(level=2, **kw)
    assert two.table.set_index("estimator").loc["fixed_effects", "n_valid"] == 0
    assert np.isnan(two.rate("fixed_effects"))
    one = simulate_type1(level=1, **kw)
    assert (one.table["n_valid"] == 4).all()


def test_simulated_data_structure_and_icc():
    rng = np.random.default_rng(5)
    df = simulate_nested(rng, level=2, icc=0.3, n_groups=400, group_size=10)
    assert df.groupby("group")["x"].nunique().max() == 1
    # one-way ANOVA estimate of the ICC; SE at 400 groups of 10 is about 0.025
    groups = df.groupby("group")["y"]
    msb = 10 * groups.mean().var(ddof=1)
    msw = groups.var(ddof=1).mean()
    icc = (msb - msw) / (msb + 9 * msw)
    assert abs(icc - 0.3) < 4 * 0.025
    df1 = simulate_nested(rng, level=1, icc=0.2, n_groups=5, group_size=4)
    assert df1.groupby("group")["x"].nunique().min() == 4


def test_bad_arguments():
    with pytest.raises(ValueError, match="level"):
        simulate_type1(level=3, reps=2)
    with pytest.raises(ValueError, match="icc"):
        simulate_type1(icc=1.5, reps=2)
    with pytest.raises(ValueError, match="unknown estimator"):
        simulate_type1(reps=2, estimators=["bogus"])


def test_reused_design_equals_a_fresh_one():
    from multilevel.compare.simulate import FORMULA, _design
    from multilevel.design import build_design

    rng = np.random.default_rng(9)
    first = simulate_nested(rng, level=1, n_groups=6, group_size=4)
    second = simulate_nested(rng, level=1, n_groups=6, group_size=4)
    reused = _design(second, build_design(FORMULA, first))
    fresh = build_design(FORMULA, second)
    np.testing.assert_array_equal(reused.X, fresh.X)
    np.testing.assert_array_equal(reused.y, fresh.y)
    np.testing.assert_array_equal(reused.terms[0].codes, fresh.terms[0].codes)
    assert reused.fixed.names == fresh.fixed.names
