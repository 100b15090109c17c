"""Confidence intervals against lme4's confint (Wald and profile; REML and ML fits)."""

import numpy as np
import pandas as pd
import pytest
from refcases import fitted, model

import multilevel


def _ref(case, fit, method):
    return pd.DataFrame(
        next(b for b in model(case)["confint"] if b["fit"] == fit and b["method"] == method)["rows"]
    )


@pytest.mark.parametrize("case", ["cake", "sleepstudy"])
@pytest.mark.parametrize("reml", [True, False])
def test_wald_as_lme4(case, reml):
    ref = _ref(case, "REML" if reml else "ML", "Wald")
    got = fitted(case, reml=reml).confint("wald")
    assert list(got.parameter) == list(ref.parameter)
    fixed = ref.lower.notna()
    assert got.lower[~fixed].isna().all() and got.upper[~fixed].isna().all()
    width = (ref.upper - ref.lower)[fixed].astype(float)
    for col in ("lower", "upper"):
        err = np.abs(got[col][fixed] - ref[col][fixed].astype(float))
        assert (err <= 1e-6 * width).all()


def _check_profile(got, ref):
    assert list(got.parameter) == list(ref.parameter)
    width = (ref.upper - ref.lower).to_numpy(float)
    for col in ("lower", "upper"):
        err = np.abs(got[col].to_numpy(float) - ref[col].to_numpy(float))
        assert (err <= 2e-4 * width).all(), (col, err / width)
    assert (got.note == "").all()


def test_profile_as_lme4_for_a_reml_fit():
    """lme4 profiles the ML likelihood even for a REML fit; so do we, and say so."""
    got = fitted("sleepstudy").confint("profile")
    _check_profile(got, _ref("sleepstudy", "REML", "profile"))
    assert "maximum likelihood" in got.attrs["note"]


def test_profile_as_lme4_for_an_ml_fit_some_parameters():
    ref = _ref("cake", "ML", "profile")
    parm = ["sd_(Intercept)|recipe:replicate", "sigma", "(Intercept)", "recipeC:temperature225"]
    got = fitted("cake", reml=False).confint("profile", parm=parm)
    _check_profile(got, ref[ref.parameter.isin(parm)].reset_index(drop=True))


def test_unknown_method_and_parameter():
    fit = fitted("sleepstudy")
    with pytest.raises(multilevel.errors.MultilevelError, match="method"):
        fit.confint("likelihood")
    with pytest.raises(multilevel.errors.MultilevelError, match="no parameter"):
        fit.confint("wald", parm=["sd_Days|subject"])


def test_bootstrap_is_the_parametric_bootstraps_percentile_interval():
    fit = fitted("sleepstudy")
    got = fit.confint("bootstrap", nsim=100, seed=3)
    direct = fit.bootstrap(100, seed=3).confint(0.95)
    assert list(got.parameter) == list(fit.confint("wald").parameter)
    assert np.array_equal(got[["lower", "upper"]].to_numpy(), direct[["lower", "upper"]].to_numpy())
