"""GEE against geepack::geeglm (hsb model (c) mean model), including geepack's alpha and scale."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import multilevel
from multilevel.compare.data import clustered_data
from multilevel.compare.gee import gee, geepack_moments
from refdata import close, reference

REF = reference("hsb")["alternative_estimators"]["gee"]
EXTRA = json.loads((Path(__file__).parent / "compare_reference.json").read_text())


@pytest.fixture(scope="module")
def hsb():
    return clustered_data(
        multilevel.datasets.hsb(), "mathach ~ cses + meanses + catholic + (1 | school)"
    )


@pytest.fixture(scope="module")
def exchangeable(hsb):
    return gee(hsb, "exchangeable")


def test_exchangeable_coefficients_and_robust_ses(exchangeable):
    res = exchangeable
    assert list(res.coef_names) == [c["name"] for c in REF["coefficients"]]
    for b, se, c in zip(res.estimates, res.std_errors, REF["coefficients"], strict=True):
        assert close(b, c["estimate"], rtol=1e-5)
        assert close(se, c["std_error"], rtol=1e-4)
    for se, ref in zip(res.extras["std_error_naive"], REF["std_error_naive"], strict=True):
        assert close(se, ref, rtol=1e-4)
    assert res.extras["converged"] is True and res.loglik is None


def test_exchangeable_alpha_and_scale_geepack_conventions(exchangeable):
    assert close(exchangeable.extras["alpha"], REF["alpha"], rtol=1e-4)
    assert close(exchangeable.extras["scale"], REF["scale"], rtol=1e-4)


def test_independence_matches_geepack_and_cr0(hsb):
    ref = EXTRA["gee_independence"]
    res = gee(hsb, "independence")
    for b, se, c in zip(res.estimates, res.std_errors, ref["coefficients"], strict=True):
        assert close(b, c["estimate"], rtol=1e-5)
        assert close(se, c["std_error"], rtol=1e-4)
    assert close(res.extras["scale"], ref["scale"], rtol=1e-4)
    assert "alpha" not in res.extras


def test_geepack_moments_by_hand():
    # clusters (1, -1, 2) and (0.5, -0.5): scale = sum r^2 / N, 3 + 1 pairs
    r = np.array([1.0, -1.0, 2.0, 0.5, -0.5])
    g = np.array([0, 0, 0, 1, 1])
    scale, alpha = geepack_moments(r, g, 2)
    assert scale == pytest.approx(6.5 / 5)
    pairs = (1 * -1 + 1 * 2 + -1 * 2) + (0.5 * -0.5)
    assert alpha == pytest.approx(pairs / (scale * 4))


def test_unknown_corstr(hsb):
    with pytest.raises(ValueError, match="corstr"):
        gee(hsb, "ar1")
