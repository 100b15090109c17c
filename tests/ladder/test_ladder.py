"""The ladder on hsb reproduces lme4's reference models (a)-(d) and ladder tests; level checks,
skipped steps, centering, JSON shape and rendering."""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pytest

import multilevel
from multilevel.errors import DataError
from multilevel.ladder import Ladder, LadderWarning, ladder
from multilevel.ladder.ladder import STEPS, ladder_formulas
from refdata import close, reference

REF_IDS = {
    "null": "hsb_a_null",
    "random_intercept": "hsb_b_random_intercept",
    "intercepts_as_outcomes": "hsb_c_intercepts_as_outcomes",
    "slopes_as_outcomes": "hsb_d_slopes_as_outcomes",
}
R_REF = json.loads((Path(__file__).parent / "r_reference.json").read_text())


@cache
def hsb_ladder(reml: bool = True) -> Ladder:
    return ladder(
        multilevel.datasets.hsb(), "mathach", "school", ["cses"], ["meanses", "catholic"], reml=reml
    )


@pytest.mark.parametrize("reml", [True, False], ids=["reml", "ml"])
def test_models_equal_reference_fits(reml):
    models = {m["model_id"]: m for m in reference("hsb")["models"]}
    lad = hsb_ladder(reml)
    assert [s.step for s in lad.steps] == list(STEPS)
    for name, mid in REF_IDS.items():
        step = lad[name]
        ref = models[mid]["fits"]["reml" if reml else "ml"]
        f = step.fit
        assert list(f.fixed_names) == [x["name"] for x in ref["fixed_effects"]], mid
        np.testing.assert_allclose(f.beta, ref["beta"], rtol=1e-4, atol=1e-4)
        assert close(f.loglik, ref["loglik"], atol=1e-5), mid
        assert close(f.aic, ref["aic"], atol=1e-5) and close(f.bic, ref["bic"], atol=1e-5)
        assert f.n_params == ref["n_params"]
        for vc, rvc in zip(f.random_effects, ref["random_effects"], strict=True):
            np.testing.assert_allclose(vc.variances, rvc["variances"], rtol=2e-3)
        assert close(f.sigma, ref["sigma"], rtol=1e-4)
    assert close(
        lad["null"].icc,
        models["hsb_a_null"]["fits"]["reml" if reml else "ml"]["icc"]["school"],
        rtol=1e-4,
    )


@pytest.mark.parametrize("reml", [True, False], ids=["reml", "ml"])
def test_tests_equal_reference(reml):
    refs = reference("hsb")["ladder_tests"][:2]
    lad = hsb_ladder(reml)
    assert len(lad.tests) == 4
    for got, ref in zip(lad.tests[:2], refs, strict=True):
        assert got.model_reduced == ref["model_reduced"].split("_", 2)[2]
        assert got.model_full == ref["model_full"].split("_", 2)[2]
        assert got.df == ref["df"]
        assert close(got.chisq, ref["chisq"], atol=1e-4)
        assert close(got.p_value, ref["p_value"], rtol=1e-3)
        assert got.fits_used == ref["fits_used"]
        assert got.refitted is reml
    # the random slope alone, then the cross-level interactions (lme4's anova, ML fits)
    for got, ref in zip(lad.tests[2:], R_REF["ladder_two_level2"], strict=True):
        assert (got.npar_reduced, got.npar_full) == tuple(ref["npar"])
        assert got.df == ref["df"] == 2
        assert close(got.chisq, ref["chisq"], atol=1e-4)
        assert close(got.p_value, ref["p_value"], rtol=1e-3)
        assert close(got.loglik_full, ref["loglik"][1], atol=1e-5)
    assert lad.tests[2].mixture_df == (1, 2) and lad.tests[3].p_value_mixture is None
    assert lad.tests[0].p_value_mixture is None


def test_step_summaries():
    lad = hsb_ladder(True)
    null, ri = lad["null"], lad["random_intercept"]
    assert null.icc == pytest.approx(0.180351773385288, rel=1e-4)
    assert null.icc_conditional == pytest.approx(null.icc, rel=1e-12)
    assert null.variance_explained == {"level1": 0.0, "level2": 0.0}
    assert null.r2.marginal == 0.0
    assert ri.icc is None
    assert ri.icc_conditional == pytest.approx(ri.tau00 / (ri.tau00 + ri.sigma2), rel=1e-12)
    s0 = null.sigma2
    assert ri.variance_explained["level1"] == pytest.approx((s0 - ri.sigma2) / s0, rel=1e-12)
    d = lad["slopes_as_outcomes"]
    assert d.fit.formula == "mathach ~ cses * (meanses + catholic) + (1 + cses | school)"
    with pytest.raises(KeyError, match="no step"):
        lad["bogus"]


def test_to_dict_shape_and_json():
    lad = hsb_ladder(True)
    d = json.loads(json.dumps(lad.to_dict()))
    assert [m["step"] for m in d["models"]] == list(STEPS)
    fit_keys = set(lad["null"].fit.to_dict())
    for m in d["models"]:
        assert fit_keys <= set(m)
        assert {"icc_conditional", "variance_explained", "r2_marginal", "r2_conditional"} <= set(m)
    ref_keys = set(reference("hsb")["ladder_tests"][0])
    assert all(ref_keys <= set(t) for t in d["tests"])
    assert d["models"][0]["icc_null"] == pytest.approx(0.180351773385288, rel=1e-4)


def test_rendering():
    lad = hsb_ladder(True)
    text = str(lad)
    for step in STEPS:
        assert step in text
    # lme4's chi-squares (reference tests a-b, R_REF for the slope steps)
    assert "395.40" in text and "172.09" in text and "10.18" in text and "41.71" in text
    md = lad.to_markdown()
    assert "| random_intercept | 4 |" in md and "| intercepts_as_outcomes | 6 |" in md
    assert lad._repr_markdown_() == md


def test_formulas_skip_steps():
    f = ladder_formulas("y", "g", ["x"], [])
    assert list(f) == ["null", "random_intercept", "random_slopes"]
    assert f["random_slopes"] == "y ~ x + (1 + x | g)"
    f = ladder_formulas("y", "g", [], ["w"])
    assert list(f) == ["null", "intercepts_as_outcomes"]
    f = ladder_formulas("y", "g", ["x1", "x2"], ["w"])
    assert f["random_slopes"] == "y ~ x1 + x2 + w + (1 + x1 + x2 | g)"
    assert f["slopes_as_outcomes"] == "y ~ (x1 + x2) * w + (1 + x1 + x2 | g)"
    f = ladder_formulas("y", "g", ["x1", "x2"], ["w"], slopes=["x1"])
    assert f["slopes_as_outcomes"] == "y ~ x1 + x2 + w + x1:w + (1 + x1 | g)"
    f = ladder_formulas("math score", "school id", ["x 1"], [])
    assert f["random_slopes"] == "`math score` ~ `x 1` + (1 + `x 1` | `school id`)"


def test_only_level2_ladder():
    lad = ladder(multilevel.datasets.hsb(), "mathach", "school", level2=["meanses"], reml=False)
    ref = reference("hsb")["models"][0]["fits"]["ml"]
    assert [s.step for s in lad.steps] == ["null", "intercepts_as_outcomes"]
    assert lad.tests[0].loglik_reduced == pytest.approx(ref["loglik"], abs=1e-5)
    assert not lad.tests[0].refitted


def test_level2_varying_within_group_is_an_error():
    h = multilevel.datasets.hsb()
    with pytest.raises(DataError, match=r"level-2 predictor 'ses' varies within school \d+"):
        ladder(h, "mathach", "school", ["cses"], ["ses"])
    with pytest.raises(DataError, match="'nope'.*is not in the data"):
        ladder(h, "mathach", "school", ["nope"])


def test_level2_rounding_noise_is_not_variation():
    h = multilevel.datasets.hsb()
    h = h.assign(meanses=h.meanses * (1 + 1e-15 * np.sign(h.cses)))
    lad = ladder(h, "mathach", "school", [], ["meanses"])
    assert len(lad.steps) == 2


def test_level1_constant_within_groups_warns():
    h = multilevel.datasets.hsb()
    with pytest.warns(LadderWarning, match="'catholic' never varies within school"):
        lad = ladder(h, "mathach", "school", ["catholic"], [])
    # the warning is acted on: no random slope is fitted or tested
    assert [s.step for s in lad.steps] == ["null", "random_intercept"]
    assert all(
        "| school)" in s.fit.formula and "1 + catholic" not in s.fit.formula for s in lad.steps
    )
    assert any("random slope cannot be estimated" in n for n in lad.notes)
    assert "random slope cannot be estimated" in lad.to_text()
    with pytest.warns(LadderWarning):
        lad = ladder(h, "mathach", "school", ["cses", "catholic"], ["meanses"])
    assert lad["random_slopes"].fit.formula == (
        "mathach ~ cses + catholic + meanses + (1 + cses | school)"
    )
    assert lad["slopes_as_outcomes"].fit.formula == (
        "mathach ~ cses + catholic + meanses + cses:meanses + (1 + cses | school)"
    )


def test_missing_values_dropped_once_for_all_steps():
    h = multilevel.datasets.hsb().copy()
    h.loc[:9, "cses"] = np.nan
    with pytest.warns(LadderWarning, match=r"10 of 7185 rows dropped .* cses \(10\)"):
        lad = ladder(h, "mathach", "school", ["cses"], [])
    assert {s.fit.n_obs for s in lad.steps} == {7175}
    assert lad.n_dropped == 10 and lad.dropped_by == {"cses": 10}
    assert {m["n_dropped"] for m in lad.to_dict()["models"]} == {10}
    assert "10 dropped for missing values" in lad.to_text()


def test_group_mean_centering_reproduces_reference():
    """hsb: cses = ses - meanses with meanses the school mean of ses, so group-mean centring ses
    gives the reference models (c) and (d) with ses_mean in place of meanses."""
    pytest.importorskip("multilevel.levels.centering")
    h = multilevel.datasets.hsb()
    lad = ladder(h, "mathach", "school", ["ses"], ["ses_mean", "catholic"], center="group")
    assert lad.center == "group" and lad.level2 == ("ses_mean", "catholic")
    assert lad.level1 == ("ses_cwc",)
    assert lad["slopes_as_outcomes"].fit.fixed_names[:4] == (
        "(Intercept)",
        "ses_cwc",
        "ses_mean",
        "catholic",
    )
    refs = reference("hsb")["ladder_tests"][:2] + R_REF["ladder_two_level2"]
    for got, ref in zip(lad.tests, refs, strict=True):
        assert close(got.chisq, ref["chisq"], atol=1e-4)
    assert "group-mean centred" in str(lad) and "ses -> ses_cwc" in str(lad)


def test_grand_mean_centering_changes_only_the_intercept():
    pytest.importorskip("multilevel.levels.centering")
    h = multilevel.datasets.hsb()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = ladder(h, "mathach", "school", ["ses"], [], reml=False)
        cen = ladder(h, "mathach", "school", ["ses"], [], center="grand", reml=False)
    assert cen.level1 == ("ses_cgm",)
    for a, b in zip(raw.steps, cen.steps, strict=True):
        assert a.fit.loglik == pytest.approx(b.fit.loglik, abs=1e-6)
        assert a.fit.beta[1:] == pytest.approx(b.fit.beta[1:], rel=1e-4)
    assert cen["random_intercept"].fit.beta[0] != pytest.approx(raw["random_intercept"].fit.beta[0])
