"""Contrast codings against lme4 (cake: treatment, sum, helmert, poly) and R's names."""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.design.contrasts import CONTRAST_CONTEXT, coding_kind
from multilevel.errors import DataError, FormulaError, MultilevelError

sys.path.insert(0, str(Path(__file__).parents[1] / "inference"))
from refcases import close, data, fitted, model  # noqa: E402

CODINGS = [c["coding"] for c in model("cake")["contrasts"]]


@pytest.mark.parametrize("coding", CODINGS)
def test_codings_give_lme4_coefficients_and_names(coding):
    ref = next(c for c in model("cake")["contrasts"] if c["coding"] == coding)
    fe = pd.DataFrame(ref["fixed_effects"])
    fit = fitted("cake", coding=coding)
    assert list(fit.fixed_names) == list(fe.name)
    se = np.sqrt(np.diag(fit.vcov_beta))
    assert close(fit.beta, fe.estimate, rtol=1e-4, atol=1e-3 * float(fe.std_error.min()))
    assert close(se, fe.std_error, rtol=1e-4)
    assert close(-2 * fit.loglik, ref["reml_criterion"], atol=1e-6)
    assert close(fit.sigma, ref["sigma"], rtol=1e-6)


@pytest.mark.parametrize("coding", CODINGS)
def test_coding_matrices_are_rs(coding):
    ref = next(c for c in model("cake")["contrasts"] if c["coding"] == coding)
    for cm in ref["contrast_matrices"]:
        kind = coding_kind(cm["contrast_function"])
        got = CONTRAST_CONTEXT[f"contr_{kind}"].get_coding_matrix(cm["levels"])
        assert np.allclose(np.asarray(got, float), np.asarray(cm["matrix"], float), atol=1e-12)


@pytest.mark.parametrize("written", ["C(recipe, sum)", "C(recipe, contr.sum)", "C(recipe, 'sum')"])
def test_coding_written_in_the_formula(written):
    """C(x, sum) in the formula codes as contrasts= does; the column stem is the formula's text,
    as in R (``C(recipe, sum)1``)."""
    f = f"angle ~ {written} * temperature + (1 | recipe:replicate)"
    fit = multilevel.fit(f, data("cake"))
    ref = fitted("cake", coding="sum")  # sum for both factors there: compare recipe's effects
    mixed = multilevel.fit(
        "angle ~ recipe * temperature + (1 | recipe:replicate)",
        data("cake"),
        contrasts={"recipe": "sum"},
    )
    stem = fit.fixed_names[1][:-1]
    assert fit.fixed_names[1:3] == (stem + "1", stem + "2")
    assert stem.startswith("C(recipe, ")
    assert np.allclose(fit.beta, mixed.beta, rtol=1e-8, atol=1e-8)
    assert np.allclose(fit.anova().f_value, ref.anova().f_value, rtol=1e-6)


def test_poly_names_and_prediction_on_new_data():
    fit = fitted("cake", coding="poly")
    assert "temperature.L" in fit.fixed_names and "temperature^5" in fit.fixed_names
    new = data("cake").head(6)
    assert np.allclose(fit.predict(new, random=False), fitted("cake").predict(new, random=False))


def test_bad_codings_are_refused():
    d = data("cake")
    f = "angle ~ recipe + temp + (1 | recipe:replicate)"
    with pytest.raises(FormulaError, match="unknown contrast coding"):
        multilevel.fit(f, d, contrasts={"recipe": "deviation"})
    with pytest.raises(FormulaError, match="not a term"):
        multilevel.fit(f, d, contrasts={"temperature": "sum"})
    with pytest.raises(DataError, match="numeric"):
        multilevel.fit(f, d, contrasts={"temp": "sum"})


ORDERED = Path(__file__).parent / "ordered_reference"
ORDERED_REF = json.loads((ORDERED / "ordered_reference.json").read_text())["fits"]
DOSES = ["none", "low", "mid", "high", "max"]


def _ordered_data() -> pd.DataFrame:
    d = pd.read_csv(ORDERED / "ordered.csv")
    return d.assign(dose=pd.Categorical(d["dose"], categories=DOSES, ordered=True))


@pytest.mark.parametrize("case", ["main", "interaction"])
def test_ordered_factors_get_polynomial_contrasts(case):
    """An ordered pandas categorical is coded as R codes an ordered factor (contr.poly: .L, .Q,
    .C, ^4), lme4 1.1-31 (ordered_reference/make_ordered_reference.R); unordered, treatment."""
    ref = ORDERED_REF[case]
    d = _ordered_data()
    fit = multilevel.fit(ref["formula"], d)
    assert list(fit.fixed_names) == ref["fixed_names"]
    np.testing.assert_allclose(fit.beta, ref["beta"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fit.std_errors, ref["std_errors"], rtol=1e-5)
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-6)
    unordered = multilevel.fit(ref["formula"], d.assign(dose=d["dose"].cat.as_unordered()))
    assert unordered.fixed_names[1:5] == ("doselow", "dosemid", "dosehigh", "dosemax")
    # the same model: the REML criterion moves by a constant (log det of the coding), the
    # estimates of sigma and theta do not
    assert unordered.sigma == pytest.approx(fit.sigma, rel=1e-6)
    np.testing.assert_allclose(unordered.theta, fit.theta, rtol=1e-5)


def test_an_explicit_coding_wins_over_the_ordered_default():
    d = _ordered_data()
    treat = multilevel.fit("y ~ dose + (1 | g)", d, contrasts={"dose": "treatment"})
    assert treat.fixed_names[1] == "doselow"
    summed = multilevel.fit("y ~ C(dose, sum) + (1 | g)", d)
    assert summed.fixed_names[1] == "C(dose, sum)1"
    poly = multilevel.fit("y ~ dose + (1 | g)", d)
    new = pd.DataFrame({"dose": pd.Categorical(["max", "none"], categories=DOSES, ordered=True)})
    np.testing.assert_allclose(
        poly.predict(new, random=False), treat.predict(new, random=False), rtol=1e-6
    )


def test_ordered_factors_in_chunks_are_refused_with_the_way_out():
    with pytest.raises(MultilevelError, match=r"ordered factor.*'dose'.*as_unordered"):
        multilevel.fit("y ~ dose + (1 | g)", _ordered_data(), chunk_rows=50)
