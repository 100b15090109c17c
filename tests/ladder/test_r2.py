"""R^2 and variance explained. R's performance / MuMIn are not installed on the machine that made
the references, so the R^2 references are computed by hand in R from lme4 fits
(tests/ladder/make_r_reference.R: var(X beta), Johnson's mean diag(Z Sigma Z')); closed forms
and the lme4 reference variance components check the rest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from multilevel.errors import ModelComparisonError
from multilevel.ladder.r2 import intercept_variance, r2, random_variance, variance_explained
from refdata import fitted, reference

R_REF = json.loads((Path(__file__).parent / "r_reference.json").read_text())
CASE = {"mathach": "hsb", "Reaction": "sleepstudy"}


@pytest.mark.parametrize("ref", R_REF["r2"], ids=lambda r: r["formula"])
def test_r2_matches_hand_computation_in_r(ref):
    got = r2(fitted(CASE[ref["formula"].split()[0]], ref["formula"], True))
    for k in ("marginal", "conditional", "var_fixed", "var_random", "var_residual"):
        assert getattr(got, k) == pytest.approx(ref[k], rel=2e-4, abs=1e-12), k


def test_null_model_closed_form():
    """Intercept-only fixed part: R2_marginal = 0 and R2_conditional = ICC."""
    fit = fitted("hsb", "mathach ~ 1 + (1 | school)", True)
    got = r2(fit)
    assert got.marginal == 0.0
    assert got.conditional == pytest.approx(fit.icc["school"], rel=1e-12)
    assert got.icc_adjusted == pytest.approx(fit.icc["school"], rel=1e-12)


def test_random_slope_variance_closed_form():
    """mean_i (tau00 + 2 x_i tau01 + x_i^2 tau11) for (1 + Days | Subject)."""
    fit = fitted("sleepstudy", "Reaction ~ Days + (Days | Subject)", True)
    S = fit.random_effects[0].covariance
    x = fit.design.X[:, 1]
    want = np.mean(S[0, 0] + 2 * x * S[0, 1] + x**2 * S[1, 1])
    assert random_variance(fit) == pytest.approx(want, rel=1e-12)
    eta = fit.design.X @ fit.beta
    assert r2(fit).var_fixed == pytest.approx(np.var(eta, ddof=1), rel=1e-12)
    assert set(r2(fit).to_dict()) >= {"marginal", "conditional", "icc_adjusted"}


def test_variance_explained_against_reference_components():
    """Raudenbush & Bryk's proportions from the lme4 reference variance components."""
    models = {m["model_id"]: m["fits"]["reml"] for m in reference("hsb")["models"]}
    null = models["hsb_a_null"]
    fit0 = fitted("hsb", "mathach ~ 1 + (1 | school)", True)
    for mid, formula in [
        ("hsb_b_random_intercept", "mathach ~ cses + (1 | school)"),
        ("hsb_c_intercepts_as_outcomes", "mathach ~ cses + meanses + catholic + (1 | school)"),
        (
            "hsb_d_slopes_as_outcomes",
            "mathach ~ cses * meanses + cses * catholic + (1 + cses | school)",
        ),
    ]:
        ref = models[mid]
        got = variance_explained(fitted("hsb", formula, True), fit0)
        s0, s1 = null["residual_variance"], ref["residual_variance"]
        t0, t1 = null["random_effects"][0]["variances"][0], ref["random_effects"][0]["variances"][0]
        assert got["level1"] == pytest.approx((s0 - s1) / s0, rel=1e-3, abs=1e-5)
        assert got["level2"] == pytest.approx((t0 - t1) / t0, rel=1e-3, abs=1e-5)
    # textbook pattern: group-mean-centred cses explains level-1 variance only
    b = variance_explained(fitted("hsb", "mathach ~ cses + (1 | school)", True), fit0)
    assert b["level1"] > 0.05 and b["level2"] < 0


def test_intercept_variance_errors():
    fit = fitted("pastes", "strength ~ 1 + (1 | batch/cask)", True)
    with pytest.raises(ModelComparisonError, match="several grouping factors"):
        intercept_variance(fit)
    assert intercept_variance(fit, "batch") == pytest.approx(
        reference("pastes")["models"][0]["fits"]["reml"]["random_effects"][1]["variances"][0],
        rel=1e-4,
    )
    with pytest.raises(ModelComparisonError, match="no random intercept"):
        intercept_variance(fitted("hsb", "mathach ~ cses + (0 + cses | school)", True))
