"""Precision weights and offsets against lme4 (sleepstudy variants: weights 1/(1 + Days),
offset 2 * Days), in every form the arguments take."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.design.weights import strip_offsets
from multilevel.errors import DataError
from multilevel.formula.parse import parse_formula

sys.path.insert(0, str(Path(__file__).parents[1] / "inference"))
from refcases import close, data, model  # noqa: E402

VARIANTS = [(v["variant_id"], reml) for v in model("sleepstudy")["variants"] for reml in (1, 0)]


@pytest.mark.parametrize("variant, reml", VARIANTS)
def test_weighted_and_offset_fits_as_lme4(variant, reml):
    v = next(x for x in model("sleepstudy")["variants"] if x["variant_id"] == variant)
    ref = v["fits"]["reml" if reml else "ml"]
    fit = multilevel.fit(
        v["formula"], data("sleepstudy"), reml=bool(reml), weights=v["weights"], offset=v["offset"]
    )
    fe = pd.DataFrame(ref["fixed_effects"])
    assert close(fit.beta, fe.estimate, rtol=1e-6)
    assert close(np.sqrt(np.diag(fit.vcov_beta)), fe.std_error, rtol=1e-4)
    assert close(fit.df_satterthwaite, fe.df_satterthwaite, rtol=1e-3)
    assert close(fit.sigma, ref["sigma"], rtol=1e-4)
    assert close(fit.loglik, ref["loglik"], atol=1e-6)  # includes 1/2 sum log w, as lme4
    vc = pd.DataFrame(ref["varcorr_table"])
    assert close(np.sort(fit.varcorr().vcov), np.sort(vc.vcov), rtol=1e-4)  # order differs


def test_weights_as_column_array_or_expression_agree():
    d = data("sleepstudy")
    w = 1 / (1 + d.Days.to_numpy())
    f = "Reaction ~ Days + (Days | Subject)"
    fits = [
        multilevel.fit(f, d, weights=w),
        multilevel.fit(f, d.assign(w=w), weights="w"),
        multilevel.fit(f, d, weights="1/(1 + Days)"),
        # a non-default index: array values go by position, as in R
        multilevel.fit(f, d.set_index(d.index + 1000), weights=w),
    ]
    for other in fits[1:]:
        assert np.allclose(other.beta, fits[0].beta, rtol=1e-10)
        assert np.isclose(other.loglik, fits[0].loglik, rtol=1e-12)


def test_equal_weights_rescale_only_sigma():
    """w = c everywhere: beta and the random-effect variances unchanged, sigma^2 scaled by c,
    and the log-likelihood shifted by n/2 log c - n/2 log c = 0 (it is the same model)."""
    d = data("sleepstudy")
    f = "Reaction ~ Days + (Days | Subject)"
    a = multilevel.fit(f, d)
    b = multilevel.fit(f, d, weights=np.full(len(d), 4.0))
    assert np.allclose(a.beta, b.beta, rtol=1e-7)
    assert np.isclose(b.sigma, 2 * a.sigma, rtol=1e-6)
    assert np.allclose(a.varcorr().vcov[:-1], b.varcorr().vcov[:-1], rtol=1e-5)
    assert np.isclose(a.loglik, b.loglik, atol=1e-6)


def test_offset_in_the_formula_and_the_fitted_values():
    d = data("sleepstudy")
    a = multilevel.fit("Reaction ~ Days + offset(2 * Days) + (Days | Subject)", d)
    b = multilevel.fit("Reaction ~ Days + (Days | Subject)", d, offset="2 * Days")
    plain = multilevel.fit("Reaction ~ Days + (Days | Subject)", d)
    assert a.fixed_names == ("(Intercept)", "Days")
    assert np.allclose(a.beta, b.beta) and np.isclose(a.beta[1], plain.beta[1] - 2, rtol=1e-6)
    assert np.allclose(a.fitted, plain.fitted, rtol=1e-6)  # offset included in fitted


def test_strip_offsets():
    spec, found = strip_offsets(parse_formula("y ~ offset(log(n)) + x + offset(z) + (1 | g)"))
    assert spec.fixed == "x" and found == ["log(n)", "z"]


def test_bad_weights_are_refused():
    d = data("sleepstudy")
    f = "Reaction ~ Days + (Days | Subject)"
    with pytest.raises(DataError, match="positive"):
        multilevel.fit(f, d, weights=np.r_[-1.0, np.ones(len(d) - 1)])
    with pytest.raises(DataError, match="179 values for 180 rows"):
        multilevel.fit(f, d, weights=np.ones(len(d) - 1))
    with pytest.raises(DataError, match="missing"):
        multilevel.fit(f, d, offset=np.r_[np.nan, np.zeros(len(d) - 1)])
