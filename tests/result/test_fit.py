"""The fitted result: predictions, ICC, tables and the dict form."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import multilevel
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
