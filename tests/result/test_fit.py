"""The fitted result: predictions, ICC, tables and the dict form."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import multilevel
from glmmref import tight
from refdata import fitted, reference


def test_predict_reproduces_fitted_and_population():
    fit = fitted("sleepstudy", "Reaction ~ Days + (Days | Subject)", True)
    data = multilevel.datasets.sleepstudy()
    np.testing.assert_allclose(fit.predict(data), fit.fitted, rtol=1e-12)
    np.testing.assert_allclose(fit.predict(data, random=False), fit.design.X @ fit.beta)


def test_unseen_groups_get_population_prediction():
    fit = fitted("sleepstudy", "Reaction ~ Days + (Days | Subject)", True)
    new = pd.DataFrame({"Days": [0.0, 5.0], "Subject": ["no-such-subject", 308]})
    pred = fit.predict(new)
    b0, b1 = fit.beta
    assert pred[0] == pytest.approx(b0)
    modes = fit.ranef()["Subject"].loc["308"]
    assert pred[1] == pytest.approx(b0 + modes["(Intercept)"] + 5 * (b1 + modes["Days"]))


def test_icc_of_null_model_matches_lme4():
    ref = reference("hsb")["models"][0]["fits"]["reml"]
    fit = fitted("hsb", "mathach ~ 1 + (1 | school)", True)
    assert fit.icc["school"] == pytest.approx(ref["icc"]["school"], rel=1e-5)
    tau00 = fit.random_effects[0].variances[0]
    assert fit.icc["school"] == pytest.approx(tau00 / (tau00 + fit.sigma**2))


def test_to_dict_is_json_and_has_the_reference_names():
    fit = fitted("hsb", "mathach ~ cses + (1 + cses | school)", True)
    d = json.loads(json.dumps(fit.to_dict()))
    ref = reference("hsb")["models"][0]["fits"]["reml"]
    for key in (
        "fixed_effects",
        "random_effects",
        "sigma",
        "loglik",
        "deviance",
        "reml_criterion",
        "aic",
        "bic",
        "n_params",
        "theta",
        "is_singular",
        "icc",
    ):
        assert key in d and key in ref
    for key in ("formula", "n_obs", "n_groups", "n_dropped", "converged"):
        assert key in d
    assert set(ref["fixed_effects"][0]) >= set(d["fixed_effects"][0])
    assert set(d["random_effects"][0]) >= {
        "group",
        "grouping_factor",
        "terms",
        "variances",
        "std_devs",
        "correlation_matrix",
    }
    opt = d["optimizer"]
    assert len(opt["theta_initial"]) == 3 and opt["converged"] is True
    assert opt["n_evaluations"] > 0 and len(opt["theta_final"]) == 3


def test_summary_renders_in_every_format():
    fit = fitted("hsb", "mathach ~ cses + (1 + cses | school)", True)
    s = fit.summary()
    text = s.to_text()
    assert "Random effects:" in text and "Fixed effects:" in text and "cses" in text
    assert f"{fit.beta[1]:.4f}" in text
    assert "<table>" in fit._repr_html_()
    assert "| (Intercept) |" in s.to_markdown()
    assert r"\begin{tabular}" in s.to_latex()


def test_singular_fit_is_flagged_and_explained():
    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(20), 10)
    df = pd.DataFrame({"g": g, "x": rng.normal(size=200)})
    e = rng.normal(size=200)
    e -= pd.Series(e).groupby(g).transform("mean").to_numpy()  # identical group means
    df["y"] = 1 + e  # between-group variance exactly zero
    with pytest.warns(multilevel.FitWarning, match="singular"):
        fit = multilevel.fit("y ~ 1 + (1 | g)", df)
    assert fit.is_singular
    assert fit.random_effects[0].variances[0] < 1e-6
    assert "singular" in fit.summary().to_text()


def test_terminal_rendering_is_the_text_with_emphasis():
    s = fitted("sleepstudy", "Reaction ~ Days + (Days | Subject)", True).summary()
    term = s.to_terminal()
    assert "\033[1m" in term and "\u2500" in term
    plain = term.replace("\033[1m", "").replace("\033[0m", "")
    assert [ln for ln in plain.splitlines() if "\u2500" not in ln] == s.to_text().splitlines()


# ---------------------------------------------------------------------- one class for every fit
def _lmm_and_glmm():
    from glmmref import fitted as glmm_fitted
    from glmmref import reference as glmm_reference

    lmm = fitted("sleepstudy", "Reaction ~ Days + (Days | Subject)", True)
    model = glmm_reference("cbpp")["models"][0]
    return lmm, glmm_fitted("cbpp", model["formula"], 1), model["fits"]["laplace"]


def test_linear_and_generalized_fits_are_one_class():
    lmm, glmm, _ = _lmm_and_glmm()
    assert type(lmm) is type(glmm) is multilevel.MixedFit
    # the old names are the same class: user code and isinstance checks keep working
    assert multilevel.LmmFit is multilevel.GlmmFit is multilevel.LargeFit is multilevel.MixedFit
    assert isinstance(glmm, multilevel.LmmFit) and isinstance(lmm, multilevel.GlmmFit)
    assert not lmm.is_glmm and glmm.is_glmm
    assert (lmm.family.name, lmm.link, lmm.method) == ("gaussian", "identity", "REML")
    assert (glmm.family.name, glmm.link, glmm.method) == ("binomial", "logit", "Laplace")
    # a linear mixed model counts sigma among its parameters, a GLMM has none (lme4's df)
    assert lmm.n_params == 6 and glmm.n_params == 5


def test_to_dict_of_both_kinds_has_the_same_keys_and_lme4s_numbers():
    lmm, glmm, ref = _lmm_and_glmm()
    d_lmm = json.loads(json.dumps(lmm.to_dict()))
    d_glmm = json.loads(json.dumps(glmm.to_dict()))
    assert set(d_glmm) - set(d_lmm) == {
        "nagq",
        "loglik_lme4",
        "saturated_loglik",
        "dispersion_ratio",
    }
    assert set(d_lmm) <= set(d_glmm)
    # fixed effects as lme4 prints them: t with Satterthwaite df (lmerTest), Wald z (glmer)
    ref_lmm = reference("sleepstudy")["models"][0]["fits"]["reml"]["fixed_effects"]
    for got, want in zip(d_lmm["fixed_effects"], ref_lmm, strict=True):
        assert set(got) == {"name", "estimate", "std_error", "t_value"} | {
            "df_satterthwaite",
            "p_value_satterthwaite",
        }
        assert got["name"] == want["name"]
        assert got["t_value"] == pytest.approx(want["t_value"], rel=1e-5)
        assert got["df_satterthwaite"] == pytest.approx(want["df_satterthwaite"], rel=1e-4)
    # lme4 with an exact PIRLS (its default tolerance moves the binomial SEs by up to 2e-2)
    exact = tight()["cbpp_period"]
    z = np.array(exact["beta"]) / np.array(exact["std_error"])
    for got, name, z_ref in zip(d_glmm["fixed_effects"], exact["names"], z, strict=True):
        assert set(got) == {"name", "estimate", "std_error", "z_value", "p_value"}
        assert got["name"] == name
        assert got["z_value"] == pytest.approx(z_ref, rel=3e-3)
        assert got["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z_ref)), rel=0.15)
    assert [r["name"] for r in ref["fixed_effects"]] == list(exact["names"])
    assert d_glmm["loglik"] == pytest.approx(exact["loglik"], abs=1e-5)
    assert d_glmm["n_params"] == ref["n_params"]
    sigma = reference("sleepstudy")["models"][0]["fits"]["reml"]["sigma"]
    assert d_glmm["sigma"] is None and d_lmm["sigma"] == pytest.approx(sigma, rel=1e-6)
    assert d_glmm["reml"] is False and d_glmm["reml_criterion"] is None


def test_glmm_varcorr_and_summary_have_no_residual_row():
    lmm, glmm, ref = _lmm_and_glmm()
    assert list(lmm.varcorr()["group"])[-1] == "Residual"
    vc = glmm.varcorr()
    assert list(vc["group"]) == ["herd"]
    assert vc["vcov"].iloc[0] == pytest.approx(ref["random_effects"][0]["variances"][0], rel=3e-3)
    text = glmm.summary().to_text()
    assert "Residual" not in text.split("Random effects:")[1].split("Fixed effects:")[0]
    assert "Residual" in lmm.summary().to_text()


def test_glmm_predictions_on_both_scales():
    _, glmm, _ = _lmm_and_glmm()
    eta = glmm.predict()
    np.testing.assert_allclose(glmm.predict(type="response"), 1 / (1 + np.exp(-eta)), rtol=1e-12)
    np.testing.assert_allclose(glmm.fitted, 1 / (1 + np.exp(-eta)), rtol=1e-12)
    with pytest.raises(multilevel.MultilevelError, match="linear mixed models"):
        glmm.predict(interval="confidence")
    with pytest.raises(multilevel.MultilevelError, match="linear mixed models"):
        glmm.anova()
