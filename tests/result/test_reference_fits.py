"""Every public lme4 reference fit, REML and ML, within tests/reference/README.md's tolerances."""

from __future__ import annotations

import numpy as np
import pytest

from refdata import close, fitted, ranef_reference, reference_models

MODELS = reference_models()
IDS = [m["model_id"] for _, m in MODELS]
METHODS = ["reml", "ml"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("case", "model"), MODELS, ids=IDS)
def test_fixed_effects(case, model, method):
    ref = model["fits"][method]
    fit = fitted(case, model["formula"], method == "reml")
    got = fit.to_dict()
    assert [f["name"] for f in got["fixed_effects"]] == [f["name"] for f in ref["fixed_effects"]]
    for g, r in zip(got["fixed_effects"], ref["fixed_effects"], strict=True):
        assert close(g["estimate"], r["estimate"], 1e-4, 1e-3 * r["std_error"]), g["name"]
        assert close(g["std_error"], r["std_error"], 1e-4), g["name"]
        assert close(g["t_value"], r["t_value"], 1e-4, 1e-3), g["name"]
        assert close(g["df_satterthwaite"], r["df_satterthwaite"], 1e-3), g["name"]
        assert close(g["p_value_satterthwaite"], r["p_value_satterthwaite"], 1e-3, 1e-12), g["name"]
    np.testing.assert_allclose(got["vcov_fixed"], ref["vcov_fixed"], rtol=1e-4, atol=1e-10)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("case", "model"), MODELS, ids=IDS)
def test_variance_components(case, model, method):
    ref = model["fits"][method]
    got = fitted(case, model["formula"], method == "reml").to_dict()
    assert [r["group"] for r in got["random_effects"]] == [
        r["group"] for r in ref["random_effects"]
    ]
    for g, r in zip(got["random_effects"], ref["random_effects"], strict=True):
        assert g["grouping_factor"] == r["grouping_factor"]
        assert g["terms"] == r["terms"]
        np.testing.assert_allclose(g["variances"], r["variances"], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(g["std_devs"], r["std_devs"], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(g["correlation_matrix"], r["correlation_matrix"], atol=1e-3)
    assert close(got["sigma"], ref["sigma"], 1e-4, 1e-6)
    np.testing.assert_allclose(got["theta"], ref["theta"], atol=1e-4)
    assert got["is_singular"] == ref["is_singular"]
    if ref["icc"] is None:
        assert got["icc"] is None
    else:
        for k, v in ref["icc"].items():
            assert close(got["icc"][k], v, 1e-4, 1e-6)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("case", "model"), MODELS, ids=IDS)
def test_likelihood(case, model, method):
    ref = model["fits"][method]
    got = fitted(case, model["formula"], method == "reml").to_dict()
    # at least as good an optimum as lme4's, and the same one to 1e-6
    assert got["loglik"] >= ref["loglik"] - 1e-6
    assert close(got["loglik"], ref["loglik"], atol=1e-6)
    for key in ("aic", "bic"):
        assert close(got[key], ref[key], atol=1e-5)
    assert got["n_params"] == ref["n_params"]
    if method == "ml":
        assert close(got["deviance"], ref["deviance"], atol=1e-5)
        assert got["reml_criterion"] is None
    else:
        assert close(got["reml_criterion"], ref["reml_criterion"], atol=1e-5)
        assert got["deviance"] is None
    assert got["n_obs"] == model["n_obs"]
    assert got["n_groups"] == model["n_groups"]
    assert got["converged"] is True


@pytest.mark.parametrize(("case", "model"), MODELS, ids=IDS)
def test_conditional_modes(case, model):
    ref = ranef_reference(model)
    got = fitted(case, model["formula"], True).ranef_table()
    got = got.rename(columns={"condval": "condval_got", "condsd": "condsd_got"})
    merged = ref.merge(got, on=["group", "term", "level"], how="left")
    assert len(merged) == len(ref) == model["ranef_rows"]
    assert merged["condval_got"].notna().all(), "levels or terms named differently from lme4"
    np.testing.assert_array_less(
        np.abs(merged["condval_got"] - merged["condval"]), 1e-3 * merged["condsd"] + 1e-12
    )
    np.testing.assert_allclose(merged["condsd_got"], merged["condsd"], rtol=1e-3)


@pytest.mark.parametrize(("case", "model"), MODELS, ids=IDS)
def test_equivalent_formulas_give_the_same_fit(case, model):
    base = fitted(case, model["formula"], True)
    for formula in model["equivalent_formulas"]:
        other = fitted(case, formula, True)
        assert close(other.loglik, base.loglik, atol=1e-7)
        np.testing.assert_allclose(other.beta, base.beta, rtol=1e-6)
