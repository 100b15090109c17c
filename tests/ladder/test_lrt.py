"""Likelihood-ratio tests: lme4's anova() on every reference ladder test, nesting checks, REML
refits, and the chi-bar-square boundary p-value (closed form and a simulation under the null)."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import multilevel
from multilevel.design.model import build_design
from multilevel.errors import ModelComparisonError
from multilevel.ladder.lrt import ML_USED, REML_USED, chibar_p, lrt, lrt_sequence
from multilevel.objective import ProfiledDeviance, cross_products
from multilevel.optimize import optimize_theta
from refdata import close, fitted, reference

LADDER_TESTS = [
    (case, t) for case in ("hsb", "sleepstudy", "exam") for t in reference(case)["ladder_tests"]
]
IDS = [f"{t['model_reduced']}-vs-{t['model_full']}" for _, t in LADDER_TESTS]


def _formula(case: str, model_id: str) -> str:
    return next(m["formula"] for m in reference(case)["models"] if m["model_id"] == model_id)


@pytest.mark.parametrize("reml", [True, False], ids=["from-reml", "from-ml"])
@pytest.mark.parametrize(("case", "ref"), LADDER_TESTS, ids=IDS)
def test_reference_ladder_tests(case, ref, reml):
    m0 = fitted(case, _formula(case, ref["model_reduced"]), reml)
    m1 = fitted(case, _formula(case, ref["model_full"]), reml)
    got = lrt(m0, m1, names=(ref["model_reduced"], ref["model_full"]))
    assert got.df == ref["df"]
    assert (got.npar_reduced, got.npar_full) == (ref["npar_reduced"], ref["npar_full"])
    assert close(got.chisq, ref["chisq"], atol=1e-4)
    assert close(got.p_value, ref["p_value"], rtol=1e-3, atol=1e-300)
    for k in ("loglik_reduced", "loglik_full", "deviance_reduced", "deviance_full"):
        assert close(getattr(got, k), ref[k], atol=1e-5), k
    assert got.fits_used == ref["fits_used"] == ML_USED
    assert got.refitted is reml
    d = got.to_dict()
    assert set(ref) <= set(d) and d["model_full"] == ref["model_full"]


def test_order_of_arguments_does_not_matter():
    a = fitted("sleepstudy", "Reaction ~ Days + (1 | Subject)", True)
    b = fitted("sleepstudy", "Reaction ~ Days + (Days | Subject)", True)
    assert lrt(b, a).chisq == pytest.approx(lrt(a, b).chisq, abs=1e-9)
    assert lrt(b, a).model_reduced == a.formula


def test_mixture_p_on_reference_boundary_tests():
    """Closed forms: one variance alone -> 0.5 chi2_0 + 0.5 chi2_1 (hsb b vs e); a random slope
    with its covariance (q = 1 -> 2) -> 0.5 chi2_1 + 0.5 chi2_2 (sleepstudy, exam)."""
    b = fitted("hsb", _formula("hsb", "hsb_b_random_intercept"), False)
    e = fitted("hsb", _formula("hsb", "hsb_e_uncorrelated_slopes"), False)
    t = lrt(b, e)
    assert t.mixture_df == (0, 1)
    assert t.p_value_mixture == pytest.approx(0.5 * stats.chi2.sf(9.41963759001374, 1), rel=1e-6)
    assert t.p_value_mixture == pytest.approx(t.p_value / 2, rel=1e-12)
    for case, ref in LADDER_TESTS[-2:]:
        m0 = fitted(case, _formula(case, ref["model_reduced"]), False)
        m1 = fitted(case, _formula(case, ref["model_full"]), False)
        t = lrt(m0, m1)
        x = ref["chisq"]
        assert t.mixture_df == (1, 2)
        want = 0.5 * stats.chi2.sf(x, 1) + 0.5 * stats.chi2.sf(x, 2)
        assert t.p_value_mixture == pytest.approx(want, rel=1e-3)
        assert t.p_value_mixture < t.p_value


def test_no_mixture_when_no_variance_is_added():
    """a -> b adds a fixed effect; e -> d adds fixed effects and a covariance (interior)."""
    for red, full in [
        ("hsb_a_null", "hsb_b_random_intercept"),
        ("hsb_e_uncorrelated_slopes", "hsb_d_slopes_as_outcomes"),
    ]:
        t = lrt(
            fitted("hsb", _formula("hsb", red), False), fitted("hsb", _formula("hsb", full), False)
        )
        assert t.p_value_mixture is None and t.mixture_df is None


def test_chibar_p_closed_form():
    assert chibar_p(0.0, 1) == 1.0
    assert chibar_p(-1e-9, 1) == 1.0
    assert chibar_p(2.705543454095404, 1) == pytest.approx(0.05, rel=1e-9)  # chi2_1 0.90 quantile
    assert chibar_p(3.0, 2) == pytest.approx(0.5 * (stats.chi2.sf(3, 1) + stats.chi2.sf(3, 2)))


def test_reml_comparison_when_only_random_part_differs():
    a = fitted("sleepstudy", "Reaction ~ Days + (1 | Subject)", True)
    b = fitted("sleepstudy", "Reaction ~ Days + (Days | Subject)", True)
    t = lrt(a, b, refit=False)
    assert t.fits_used == REML_USED and not t.refitted
    assert t.chisq == pytest.approx(2 * (b.loglik - a.loglik), abs=1e-9)
    # lme4: anova(refit = FALSE) on the REML fits gives REMLcrit difference
    ref = {m["model_id"]: m for m in reference("sleepstudy")["models"]}
    want = (
        ref["sleepstudy_random_intercept"]["fits"]["reml"]["reml_criterion"]
        - ref["sleepstudy_random_slope"]["fits"]["reml"]["reml_criterion"]
    )
    assert t.chisq == pytest.approx(want, abs=1e-4)


def test_reml_refitted_when_fixed_effects_differ_even_without_refit():
    a = fitted("hsb", "mathach ~ 1 + (1 | school)", True)
    b = fitted("hsb", "mathach ~ cses + (1 | school)", True)
    t = lrt(a, b, refit=False)
    assert t.fits_used == ML_USED and t.refitted and "fixed effects differ" in t.note
    assert t.chisq == pytest.approx(395.398362842338, abs=1e-4)


def test_sequence_orders_by_parameters():
    fits = [
        fitted("hsb", f, False)
        for f in (
            "mathach ~ cses + meanses + catholic + (1 | school)",
            "mathach ~ 1 + (1 | school)",
            "mathach ~ cses + (1 | school)",
        )
    ]
    tests = lrt_sequence(*fits, names=["c", "a", "b"])
    assert [(t.model_reduced, t.model_full) for t in tests] == [("a", "b"), ("b", "c")]
    assert tests[1].chisq == pytest.approx(172.092465095266, abs=1e-4)


# ---------------------------------------------------------------- errors
def test_not_nested_fixed():
    h = multilevel.datasets.hsb()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = multilevel.fit("mathach ~ meanses + (1 | school)", h, reml=False)
        b = multilevel.fit("mathach ~ cses + catholic + (1 | school)", h, reml=False)
    with pytest.raises(ModelComparisonError, match="meanses"):
        lrt(a, b)


def test_not_nested_random():
    """(1 + cses | school) has a covariance the uncorrelated model cannot reproduce."""
    h = multilevel.datasets.hsb()
    a = multilevel.fit("mathach ~ cses + meanses + (1 + cses | school)", h, reml=False)
    b = multilevel.fit(
        "mathach ~ cses * meanses + catholic + (1 | school) + (0 + cses | school)", h, reml=False
    )
    with pytest.raises(ModelComparisonError, match="not nested.*random block"):
        lrt(a, b)


def test_different_rows_response_and_same_npar():
    h = multilevel.datasets.hsb()
    a = fitted("hsb", "mathach ~ 1 + (1 | school)", False)
    b = multilevel.fit("mathach ~ cses + (1 | school)", h.iloc[:-10], reml=False)
    with pytest.raises(ModelComparisonError, match="different rows"):
        lrt(a, b)
    c = multilevel.fit("ses ~ 1 + (1 | school)", h, reml=False)
    with pytest.raises(ModelComparisonError, match="different outcomes"):
        lrt(a, c)
    d = multilevel.fit("mathach ~ meanses + (1 | school)", h, reml=False)
    with pytest.raises(ModelComparisonError, match="same number of parameters"):
        lrt(fitted("hsb", "mathach ~ cses + (1 | school)", False), d)
    h2 = h.assign(mathach=h.mathach + 1.0)
    e = multilevel.fit("mathach ~ cses + (1 | school)", h2, reml=False)
    with pytest.raises(ModelComparisonError, match="different outcome values"):
        lrt(a, e)


# ---------------------------------------------------------------- simulation
def _ml_deviance(design) -> float:
    dev = ProfiledDeviance(cross_products(design), reml=False)
    return optimize_theta(dev, design.theta_start(), design.theta_lower()).fmin


def test_boundary_mixture_by_simulation():
    """Under a random-intercept null, the LRT for an added (uncorrelated) slope variance: about
    half the statistics are exactly 0, the naive chi2_1 test rejects well below 5 %, and the
    50:50 mixture rejects at 5 % within Monte Carlo error (finite samples put slightly more than
    half the mass at 0, so the mixture is at most mildly conservative)."""
    rng = np.random.default_rng(20261125)
    J, m, reps = 60, 8, 200
    g = np.repeat(np.arange(J), m)
    x = rng.normal(size=J * m)
    df = pd.DataFrame({"g": g, "x": x, "y": rng.normal(size=J * m)})
    d0 = build_design("y ~ x + (1 | g)", df)
    d1 = build_design("y ~ x + (1 | g) + (0 + x | g)", df)
    stat = np.empty(reps)
    for r in range(reps):
        y = 1.0 + 0.5 * x + rng.normal(0.0, np.sqrt(0.5), J)[g] + rng.normal(size=J * m)
        stat[r] = max(0.0, _ml_deviance(replace(d0, y=y)) - _ml_deviance(replace(d1, y=y)))
    naive = np.mean([stats.chi2.sf(s, 1) < 0.05 for s in stat])
    mixture = np.mean([chibar_p(s, 1) < 0.05 for s in stat])
    se = np.sqrt(0.05 * 0.95 / reps)
    at_zero = np.mean(stat < 1e-6)
    assert at_zero >= 0.5 - 3 * np.sqrt(0.25 / reps)
    assert naive < 0.05
    assert abs(mixture - 0.05) < 3 * se
    assert mixture >= naive


def test_str():
    a = fitted("sleepstudy", "Reaction ~ Days + (1 | Subject)", False)
    b = fitted("sleepstudy", "Reaction ~ Days + (Days | Subject)", False)
    text = str(lrt(a, b, names=("ri", "rs")))
    assert text.startswith("LRT ri vs rs (ML (REML=FALSE)): chisq = 42.1393, df = 2")
    assert "boundary mixture p" in text
