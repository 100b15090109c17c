"""The GLMM ladder (family=) against lme4's glmer, anova() and performance's icc() /
r2_nakagawa() (glmm_reference.json, made by make_glmm_reference.R): hsb with a binary outcome
(Laplace and AGQ), grouseticks counts (Poisson). Steps, LRTs, latent ICC, R^2, the notes that
replace sigma^2 and PVE at level 1, the equations with the link."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.errors import DataError
from multilevel.ladder import Ladder, ladder

HERE = Path(__file__).parent
REF = {r["id"]: r for r in json.loads((HERE / "glmm_reference.json").read_text())["ladders"]}


def _list(x):
    """jsonlite writes length-1 vectors as scalars (auto_unbox)."""
    return x if isinstance(x, list) else [x]


def hsb_binary() -> pd.DataFrame:
    return multilevel.datasets.hsb().assign(high=lambda d: (d.mathach > 15).astype(int))


def grouseticks() -> pd.DataFrame:
    d = pd.read_csv(
        HERE.parent / "glmm" / "reference" / "grouseticks.csv",
        dtype={"BROOD": str, "LOCATION": str, "INDEX": str},
    )
    return d.assign(yr=d.YEAR - 1996)


@cache
def fitted(case: str) -> Ladder:
    if case == "grouseticks_poisson":
        return ladder(grouseticks(), "TICKS", "LOCATION", ["yr"], ["cHEIGHT"], family="poisson")
    if case == "hsb_binary_agq":
        return ladder(
            hsb_binary(),
            "high",
            "school",
            ["cses"],
            ["meanses", "catholic"],
            family="binomial",
            nagq=10,
        )
    return ladder(
        hsb_binary(), "high", "school", ["cses"], ["meanses", "catholic"], family="binomial"
    )


@pytest.mark.parametrize("case", list(REF))
def test_steps_equal_glmer(case):
    lad, ref = fitted(case), REF[case]
    for m in ref["models"]:
        step = lad[m["step"]]
        f = step.fit
        assert f.formula == m["formula"]
        assert f.nagq == m["nagq"]
        assert list(f.fixed_names) == _list(m["names"])
        np.testing.assert_allclose(f.beta, _list(m["beta"]), rtol=1e-3, atol=2e-4)
        np.testing.assert_allclose(np.sqrt(np.diag(f.vcov_beta)), _list(m["std_error"]), rtol=5e-3)
        assert f.loglik_lme4 == pytest.approx(m["loglik"], abs=2e-3)
        assert f.aic == pytest.approx(m["aic"], abs=5e-3)
        assert f.bic == pytest.approx(m["bic"], abs=5e-3)
        assert f.n_params == m["npar"]
        assert step.tau00 == pytest.approx(m["tau00"], rel=5e-3, abs=1e-6)


@pytest.mark.parametrize("case", list(REF))
def test_lrts_equal_anova(case):
    lad, ref = fitted(case), REF[case]
    if case == "hsb_binary_agq":  # only the AGQ part: the steps stop before the slopes
        tests = [
            t for t in lad.tests if t.model_full in {"random_intercept", "intercepts_as_outcomes"}
        ]
    else:
        tests = list(lad.tests)
    assert [(t.model_reduced, t.model_full) for t in tests] == [
        (t["model_reduced"], t["model_full"]) for t in ref["tests"]
    ]
    for t, r in zip(tests, ref["tests"], strict=True):
        assert t.df == r["df"]
        assert t.chisq == pytest.approx(r["chisq"], abs=5e-3)
        assert t.p_value == pytest.approx(r["p_value"], rel=2e-2, abs=1e-6)
        assert t.fits_used.startswith("ML")


@pytest.mark.parametrize("case", list(REF))
def test_latent_icc_and_r2_equal_performance(case):
    lad, ref = fitted(case), REF[case]
    models = {m["step"]: m for m in ref["models"]}
    assert lad["null"].icc == pytest.approx(models["null"]["icc_adjusted"], rel=2e-3)
    # performance drops the random part of singular fits and refits the null model with the
    # slopes for Poisson: compare the steps where its definition is the ladder's
    steps = ["null", "random_intercept", "intercepts_as_outcomes"]
    if case == "hsb_binary":
        steps.append("random_slopes")
    for name in steps:
        s, m = lad[name], models[name]
        assert s.icc_conditional == pytest.approx(m["icc_adjusted"], rel=3e-3), name
        assert s.r2.marginal == pytest.approx(m["r2_marginal"], rel=3e-3, abs=1e-6), name
        assert s.r2.conditional == pytest.approx(m["r2_conditional"], rel=3e-3), name


def test_closed_forms_of_the_level1_variance():
    lad = fitted("hsb_binary")
    tau = lad["null"].tau00
    assert lad["null"].icc == pytest.approx(tau / (tau + np.pi**2 / 3), rel=1e-12)
    pois = fitted("grouseticks_poisson")
    null = pois["null"].fit
    s2 = np.log1p(np.exp(-null.beta[0]))
    t0 = pois["null"].tau00
    assert pois["null"].icc == pytest.approx(t0 / (t0 + s2), rel=1e-12)


def test_no_sigma2_and_no_level1_pve_but_a_note():
    lad = fitted("hsb_binary")
    assert lad.family == "binomial(logit)"
    for s in lad.steps:
        assert np.isnan(s.sigma2)
        assert np.isnan(s.variance_explained["level1"])
        d = s.to_dict()
        assert d["sigma2"] is None and d["variance_explained"]["level1"] is None
        assert d["level1_variance"] == pytest.approx(np.pi**2 / 3)
    t0, t1 = lad["null"].tau00, lad["intercepts_as_outcomes"].tau00
    assert lad["intercepts_as_outcomes"].variance_explained["level2"] == pytest.approx(
        (t0 - t1) / t0
    )
    text = lad.to_text()
    assert "no REML" in text and "no sigma^2" in text
    assert (
        "σ²" not in text.split("Variance components and variance explained")[1].split("Note.")[0]
    )  # no sigma^2 column
    assert "PVE L1" not in text and "Var(Residual)" not in text
    assert "level-1 variance explained is not defined" in text


def test_equations_with_the_link():
    lad = fitted("hsb_binary")
    eq = lad.to_dict()["models"][-1]["equations"]
    assert eq["levels"].startswith("Level 1: logit(P(high = 1)) = beta0j + beta1j*cses\n")
    assert "beta1j = gamma10 + gamma11*meanses + gamma12*catholic + u1j" in eq["levels"]
    assert eq["reduced_form"] == (
        "logit(P(high_ij = 1)) = gamma00 + gamma10*cses_ij + gamma01*meanses_j + "
        "gamma02*catholic_j + gamma11*cses_ij*meanses_j + gamma12*cses_ij*catholic_j + u0j + "
        "u1j*cses_ij"
    )
    assert "r_ij" not in eq["levels"] + eq["reduced_form"]
    pois = fitted("grouseticks_poisson").to_dict()["models"][0]["equations"]
    assert pois["reduced_form"] == "log(E(TICKS_ij)) = gamma00 + u0j"


def test_agq_steps_and_laplace_for_slopes():
    lad = fitted("hsb_binary_agq")
    assert [s.fit.nagq for s in lad.steps] == [10, 10, 10, 1, 1]
    assert any("fitted by Laplace" in n for n in lad.notes)


def test_residual_structures_refused_for_glmms():
    with pytest.raises(DataError, match="linear mixed models"):
        ladder(
            hsb_binary(),
            "high",
            "school",
            ["cses"],
            family="binomial",
            correlation=multilevel.AR1(),
        )
