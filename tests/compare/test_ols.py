"""OLS and cluster-robust SEs against R (lm, sandwich::vcovCL, clubSandwich) for hsb model (c)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import multilevel
from multilevel.compare.data import clustered_data
from multilevel.compare.ols import gaussian_loglik, ols, ols_cluster
from refdata import close, reference

ALT = reference("hsb")["alternative_estimators"]
EXTRA = json.loads((Path(__file__).parent / "compare_reference.json").read_text())
RTOL = 1e-8  # tests/reference/README.md: closed forms


@pytest.fixture(scope="module")
def hsb():
    return clustered_data(
        multilevel.datasets.hsb(), "mathach ~ cses + meanses + catholic + (1 | school)"
    )


def check(res, coefficients):
    assert list(res.coef_names) == [c["name"] for c in coefficients]
    for b, se, c in zip(res.estimates, res.std_errors, coefficients, strict=True):
        assert close(b, c["estimate"], rtol=RTOL), (c["name"], b, c["estimate"])
        assert close(se, c["std_error"], rtol=RTOL), (c["name"], se, c["std_error"])


def test_naive_ols_matches_lm(hsb):
    res = ols(hsb)
    check(res, ALT["ols"]["coefficients"])
    assert close(res.extras["sigma"], ALT["ols"]["sigma"], rtol=RTOL)
    assert res.extras["df_residual"] == ALT["ols"]["df_residual"]
    assert res.n_obs == ALT["n_obs"] and res.n_clusters == ALT["n_clusters"]


@pytest.mark.parametrize(
    ("kind", "variant"), [("CR0", "CR0_unadjusted"), ("HC0", "HC0"), ("CR1", "HC1")]
)
def test_cluster_robust_matches_sandwich(hsb, kind, variant):
    ref = next(v for v in ALT["ols_cluster_robust"] if v["variant"] == variant)
    res = ols_cluster(hsb, kind)
    check(res, ref["coefficients"])
    assert close(res.extras["variance_multiplier"], ref["variance_multiplier"], rtol=1e-12)
    assert res.df.tolist() == [159.0] * 4


def test_cr2_matches_clubsandwich(hsb):
    check(ols_cluster(hsb, "CR2"), EXTRA["ols_cluster_cr2"]["coefficients"])


def test_loglik_is_the_gaussian_maximum(hsb):
    import statsmodels.api as sm

    res = ols(hsb)
    assert res.loglik == pytest.approx(sm.OLS(hsb.y, hsb.X).fit().llf, rel=1e-12)
    assert gaussian_loglik(4.0, 4) == pytest.approx(-2 * (np.log(2 * np.pi) + 1), rel=1e-15)


def test_unknown_kind(hsb):
    with pytest.raises(ValueError, match="kind must be one of"):
        ols_cluster(hsb, "HC3")
