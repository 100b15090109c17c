"""compare_estimators: the lecture's point on hsb and on an ECLS-K-like simulated example."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.compare import DEFAULT_ESTIMATORS, compare_estimators
from multilevel.compare.compare import se_ratio
from refdata import close, reference

FORMULA = "mathach ~ cses + meanses + catholic + (1 | school)"
ALT = reference("hsb")["alternative_estimators"]


@pytest.fixture(scope="module")
def hsb_comparison():
    return compare_estimators(multilevel.datasets.hsb(), FORMULA, draws=20, seed=1)


def test_json_shape_and_names(hsb_comparison):
    d = json.loads(json.dumps(hsb_comparison.to_dict()))
    assert [e["name"] for e in d["estimators"]] == list(DEFAULT_ESTIMATORS)
    for e in d["estimators"]:
        assert [c["name"] for c in e["coefficients"]] == [
            "(Intercept)",
            "cses",
            "meanses",
            "catholic",
        ]
        assert set(e["coefficients"][0]) >= {"name", "estimate", "std_error"}
    fe = next(e for e in d["estimators"] if e["name"] == "fixed_effects")
    assert fe["coefficients"][2]["estimate"] is None
    assert d["n_obs"] == 7185 and d["n_clusters"] == 160 and d["cluster"] == "school"


def test_reference_values_flow_into_the_table(hsb_comparison):
    t = hsb_comparison.table.set_index(["estimator", "term"])
    ref = {c["name"]: c for c in ALT["ols_cluster_robust"][2]["coefficients"]}
    assert close(
        t.loc[("ols_cluster_cr1", "meanses"), "std_error"], ref["meanses"]["std_error"], rtol=1e-8
    )
    gee_ref = {c["name"]: c for c in ALT["gee"]["coefficients"]}
    assert close(
        t.loc[("gee_exchangeable", "catholic"), "estimate"],
        gee_ref["catholic"]["estimate"],
        rtol=1e-5,
    )


def test_naive_ols_se_of_level2_predictor_is_too_small(hsb_comparison):
    c = hsb_comparison
    # lme4: meanses SE 0.3689; lm(): 0.1914 -- about half
    assert c["ols"].std_error("meanses") < 0.6 * c["multilevel"].std_error("meanses")
    assert se_ratio(c, "meanses", "ols") < 0.6
    assert se_ratio(c, "catholic", "ols") < 0.6
    # cluster-robust SEs recover most of it
    assert se_ratio(c, "meanses", "ols_cluster_cr1") > 0.85


def test_table_columns_are_consistent(hsb_comparison):
    t = hsb_comparison.table
    ml = t[t.estimator == "multilevel"]
    np.testing.assert_allclose(ml["se_ratio"], 1.0)
    np.testing.assert_allclose(t[t.estimator == "ols"]["design_effect"], 1.0)
    ok = np.isfinite(t["estimate"])
    assert np.all(t.loc[ok, "ci_lower"] < t.loc[ok, "estimate"])
    assert np.all(t.loc[ok, "estimate"] < t.loc[ok, "ci_upper"])
    ols = t[(t.estimator == "ols") & (t.term == "meanses")].iloc[0]
    cr1 = t[(t.estimator == "ols_cluster_cr1") & (t.term == "meanses")].iloc[0]
    assert cr1["design_effect"] == pytest.approx((cr1["std_error"] / ols["std_error"]) ** 2)
    icc = hsb_comparison["multilevel"].extras["icc"]
    assert hsb_comparison.kish_design_effect == pytest.approx(1 + (7185 / 160 - 1) * icc)
    assert "not estimable" in hsb_comparison.to_text()


def ecls_like(seed: int, n_schools: int = 100, n_children: int = 20) -> pd.DataFrame:
    """Children in schools; TV hours have a school part, and schools with more TV do worse
    beyond the child-level effect (a contextual effect the naive regression folds in)."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_schools), n_children)
    tv_school = 2 + 0.8 * rng.standard_normal(n_schools)
    tv = tv_school[g] + rng.standard_normal(g.size)
    u = -3.0 * (tv_school - 2) + 4.0 * rng.standard_normal(n_schools)
    math = 100 - 1.0 * tv + u[g] + 8.0 * rng.standard_normal(g.size)
    return pd.DataFrame({"math": math, "tv": tv, "school": g})


def test_ecls_like_naive_regression_is_steeper_and_overconfident():
    c = compare_estimators(
        ecls_like(356),
        "math ~ tv + (1 | school)",
        estimators=["ols", "ols_cluster_cr1", "fixed_effects", "multilevel"],
    )
    ols, ml = c["ols"], c["multilevel"]
    # expected: OLS about (1 x -1 + 0.64 x -4) / 1.64 = -2.2 per hour, multilevel near -1
    assert ols.estimate("tv") < ml.estimate("tv") - 0.5
    assert ols.std_error("tv") < ml.std_error("tv")
    assert abs(c["fixed_effects"].estimate("tv") + 1.0) < 4 * c["fixed_effects"].std_error("tv")


def test_unknown_estimator():
    with pytest.raises(ValueError, match="unknown estimator"):
        compare_estimators(multilevel.datasets.hsb(), FORMULA, estimators=["ols", "lasso"])


def test_cr2_on_request_and_group_argument():
    c = compare_estimators(
        multilevel.datasets.hsb(), "mathach ~ cses", group="school", estimators=["ols_cluster_cr2"]
    )
    assert c.names == ("ols_cluster_cr2",)
    assert c.kish_design_effect is None
    assert np.isnan(c.table["se_ratio"]).all()


def test_lecture_point_on_the_eclsk_stand_in():
    eclsk = pytest.importorskip("multilevel.datasets.eclsk")
    c = compare_estimators(
        eclsk.eclsk(),
        "math ~ tvhours + (1 + tvhours | schoolid)",
        estimators=["ols", "ols_cluster_cr1", "multilevel"],
    )
    ols, ml = c["ols"], c["multilevel"]
    # lecture: naive regression -2.32 points per hour; the multilevel slope is flatter
    assert -2.6 < ols.estimate("tvhours") < -2.1
    assert ols.estimate("tvhours") < ml.estimate("tvhours") - 2 * ml.std_error("tvhours")
    # and a smaller SE (lme4 on these data: multilevel SE 0.1538, naive OLS 0.1453)
    assert ols.std_error("tvhours") < ml.std_error("tvhours")
    assert ml.std_error("tvhours") == pytest.approx(0.153751, rel=1e-3)
