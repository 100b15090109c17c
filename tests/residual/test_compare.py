"""Likelihood-ratio tests against the model without the residual structure, as nlme's
``anova(baseline, model)`` (``lrt_vs_baseline`` in the nlme references)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import multilevel
from multilevel.errors import ModelComparisonError
from residual_cases import CASES, HERE, data, fit_case


@pytest.mark.parametrize(("case", "model_id", "method"), CASES)
def test_lrt_against_baseline(case, model_id, method):
    models = {m["model_id"]: m for m in json.loads((HERE / f"{case}.json").read_text())["models"]}
    model = models[model_id]
    ref = model["fits"][method]["lrt_vs_baseline"]
    full = fit_case(case, model, method)
    base = fit_case(case, models[model["baseline_model_id"]], method)
    out = multilevel.lrt(base, full)
    assert out.fits_used.startswith(ref["fits_used"])  # REML fits compared without refitting
    assert out.df == ref["df"]
    assert (out.npar_reduced, out.npar_full) == (ref["npar_reduced"], ref["npar_full"])
    if model["fits"][method]["status"] == "ok":
        np.testing.assert_allclose(out.chisq, ref["chisq"], atol=4e-4)
        np.testing.assert_allclose(out.p_value, ref["p_value"], rtol=1e-3, atol=1e-6)
    else:  # nlme stopped short of the optimum; ours is higher (test_fit)
        assert out.chisq >= ref["chisq"]
    if "CAR1" in (model["correlation"] or ""):
        assert out.p_value_mixture is not None and out.mixture_df == (0, 1)
    else:
        assert out.p_value_mixture is None


def test_ml_refit_keeps_the_structure():
    """With different fixed parts the REML fits are refitted by ML, structure included: the
    refit equals the ML fit made directly."""
    d = data("sleepstudy")
    ar1 = multilevel.AR1(time="Days")
    full = multilevel.fit("Reaction ~ Days + (1 | Subject)", d, correlation=ar1, warn=False)
    reduced = multilevel.fit("Reaction ~ 1 + (1 | Subject)", d, correlation=ar1, warn=False)
    out = multilevel.lrt(reduced, full)
    ml = multilevel.fit(
        "Reaction ~ Days + (1 | Subject)", d, reml=False, correlation=ar1, warn=False
    )
    np.testing.assert_allclose(out.loglik_full, ml.loglik, atol=1e-7)
    assert out.refitted and out.df == 1


def test_structures_not_nested():
    d = data("orthodont")
    f = "distance ~ age * Sex + (1 | Subject)"
    a = multilevel.fit(f, d, correlation=multilevel.AR1(time="occasion"), warn=False)
    b = multilevel.fit(
        f,
        d,
        correlation=multilevel.AR1(time="occasion"),
        variance=multilevel.VarIdent(by="Sex"),
        warn=False,
    )
    assert multilevel.lrt(a, b).df == 1
    with pytest.raises(ModelComparisonError, match="not nested"):
        multilevel.lrt(a, _car1_ident(d, f))


def _car1_ident(d, f):
    """VarIdent + CAR1: has more parameters than AR1 alone, but does not contain it."""
    return multilevel.fit(
        f,
        d,
        correlation=multilevel.CAR1(time="age"),
        variance=multilevel.VarIdent(by="Sex"),
        warn=False,
    )
