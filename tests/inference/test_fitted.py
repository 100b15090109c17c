"""The fit in its fitted coordinates (multilevel.inference.fitted): the map back is exact, the
view equals the fit where nothing is shifted, and inference on x + 1e9 equals that on x."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.design.shift import Shift
from multilevel.inference.fitted import FittedView, fitted_view, outcome_shift
from multilevel.inference.robust import robust_table

HERE = Path(__file__).parent / "shift_reference"


def _fit(formula, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return multilevel.fit(formula, data, warn=False, **kw)


def _data(seed=1, G=30, m=8):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(G), m)
    x, w, z = rng.normal(size=(3, G * m))
    u0, u1 = rng.normal(size=(2, G)) * [[0.7], [0.4]]
    y = 1 + 0.5 * x - 0.3 * w + u0[g] + u1[g] * z + rng.normal(size=G * m)
    h = rng.choice(list("abc"), G * m)
    return pd.DataFrame({"y": y, "x": x, "w": w, "z": z, "h": h, "g": [f"g{k}" for k in g]})


def _exact(data):
    """x as x + 1e9 holds it (to 1.2e-7), so that x + 1e9 is exact: the reference fit then
    differs from the far one by the fit's own rounding only (Sterbenz: (x + 1e9) - 1e9 exact)."""
    return data.assign(x=(data.x + 1e9) - 1e9)


def test_the_map_back_is_the_reparametrization():
    """T = I - e_0 c': contrast(L) = L T, back(M) = T M T', estimate(L) = L T beta~ + c_y L e_0."""
    shift = Shift(0, np.array([0.0, 1e9, 0.0]), 5.0)
    T = np.array([[1.0, -1e9, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    view = FittedView(type("F", (), {"beta": np.array([2.0, 0.5, -1.0])})(), shift)
    L = np.array([[1.0, 1e9 + 0.25, 3.0], [0.0, 1.0, 0.0]])
    np.testing.assert_array_equal(view.contrast(L), [[1.0, 0.25, 3.0], [0.0, 1.0, 0.0]])
    np.testing.assert_allclose(view.contrast(L), L @ T, rtol=0, atol=1e-6)
    M = np.array([[2.0, 0.1, 0.0], [0.1, 1.0, 0.2], [0.0, 0.2, 3.0]])
    np.testing.assert_allclose(view.back(M), T @ M @ T.T)
    np.testing.assert_allclose(view.estimate(L), [2.0 + 0.125 - 3.0 + 5.0, 0.5])


def test_outcome_shift_only_for_a_far_outcome():
    rng = np.random.default_rng(0)
    y = rng.normal(size=50)
    assert outcome_shift(y) == 0.0
    assert outcome_shift(y + 1e9) == pytest.approx(float(np.mean(y + 1e9)), rel=1e-15)


def test_an_unshifted_fit_is_its_own_view():
    fit = _fit("y ~ x + (1 | g)", _data())
    view = fitted_view(fit)
    assert view.shift is None and view.fit is fit


def test_the_view_holds_beta_tilde_and_its_covariance():
    """At x + 1e9 the view's beta~ and Var(beta~) are those of the fit on x, whose intercept is
    the one at the mean of x (c = mean): beta~ = T^-1 beta to the digits beta keeps."""
    data = _exact(_data())
    fit = _fit("y ~ x + w + (1 | g)", data.assign(x=data.x + 1e9))
    view = fitted_view(fit)
    assert view.shift is not None and view.shift.x[1] == pytest.approx(1e9 + data.x.mean())
    np.testing.assert_allclose(view.back(view.fit.vcov_beta), fit.vcov_beta, rtol=1e-9)
    np.testing.assert_allclose(view.estimate(np.eye(3)), fit.beta, rtol=1e-9)
    c = view.shift.x[1] - 1e9  # the mean as the cross-products hold it (exact difference)
    at_mean = _fit("y ~ x + w + (1 | g)", data.assign(x=data.x - c))
    np.testing.assert_allclose(view.fit.beta, at_mean.beta, rtol=1e-7)
    np.testing.assert_allclose(view.fit.vcov_beta, at_mean.vcov_beta, rtol=1e-7)


@pytest.mark.parametrize("formula", ["y ~ x + (1 | g)", "y ~ x + w + h + (1 + z | g)"])
def test_inference_on_a_far_predictor_equals_that_on_x(formula):
    """Kenward-Roger and CR2 SE and df, anova F and df, emmeans, prediction intervals and profile
    intervals at x + 1e9 equal those on x (rows of the intercept excepted): each is computed in
    the coordinates of the fit. Before: KR SE 94% off, CR2 singular, profile failed."""
    data = _exact(_data())
    base = _fit(formula, data)
    far = _fit(formula, data.assign(x=data.x + 1e9))
    kr0, kr1 = base.kenward_roger, far.kenward_roger
    np.testing.assert_allclose(kr1.std_errors[1:], kr0.std_errors[1:], rtol=1e-6)
    np.testing.assert_allclose(kr1.df[1:], kr0.df[1:], rtol=1e-6)
    cr0, cr1 = robust_table(base, "CR2"), robust_table(far, "CR2")
    np.testing.assert_allclose(cr1.std_error[1:], cr0.std_error[1:], rtol=1e-6)
    np.testing.assert_allclose(cr1.df[1:], cr0.df[1:], rtol=1e-6)
    for ddf in ("satterthwaite", "kenward-roger"):
        a0, a1 = base.anova(ddf=ddf), far.anova(ddf=ddf)
        np.testing.assert_allclose(a1.f_value, a0.f_value, rtol=1e-6)
        np.testing.assert_allclose(a1.den_df, a0.den_df, rtol=1e-6)
    rows = data.head(6)
    p0 = base.predict(rows, random=False, interval="confidence")
    p1 = far.predict(rows.assign(x=rows.x + 1e9), random=False, interval="confidence")
    np.testing.assert_allclose(p1.to_numpy(), p0.to_numpy(), rtol=1e-6)
    q0 = base.predict(rows, interval="prediction", ddf="kenward-roger")
    q1 = far.predict(rows.assign(x=rows.x + 1e9), interval="prediction", ddf="kenward-roger")
    np.testing.assert_allclose(q1.to_numpy(), q0.to_numpy(), rtol=1e-6)
    ci0, ci1 = base.confint(method="profile"), far.confint(method="profile")
    keep = ci0.parameter != "(Intercept)"
    np.testing.assert_allclose(
        ci1.loc[keep, ["lower", "upper"]].to_numpy(float),
        ci0.loc[keep, ["lower", "upper"]].to_numpy(float),
        rtol=1e-6,
    )
    # the intercept at x = 0 is the one at x = -1e9 of the fit on x: beta_0 - 1e9 beta_x
    i0 = int(np.flatnonzero(~keep)[0])
    assert ci1.lower[i0] < far.beta[0] < ci1.upper[i0]
    if "h" in formula:
        for ddf in ("satterthwaite", "kenward-roger"):
            e0, e1 = base.emmeans("h", ddf=ddf), far.emmeans("h", ddf=ddf)
            cols = ["emmean", "se", "df"]
            np.testing.assert_allclose(e1.table()[cols], e0.table()[cols], rtol=1e-6)
            np.testing.assert_allclose(
                e1.pairs()[["estimate", "se", "p_value"]],
                e0.pairs()[["estimate", "se", "p_value"]],
                rtol=1e-6,
            )


def test_lme4_at_a_moderate_shift():
    """x near 1e4, where lme4 still works: KR SE/df (pbkrtest via lmerTest), CR2 SE/df
    (clubSandwich) and ML profile intervals agree with R's (make_reference.R). lmerTest's own
    Satterthwaite df and anova are off there (its numerical derivatives: anova F 59.2 against
    t^2 = 53.4), so those are compared with the fit on centred x instead."""
    ref = json.loads((HERE / "reference.json").read_text())
    data = pd.read_csv(HERE / "data.csv")
    fit = _fit("y ~ x + w + (1 | g)", data)
    assert fit.loglik == pytest.approx(ref["loglik_reml"], rel=1e-8)
    np.testing.assert_allclose(fit.kenward_roger.std_errors, ref["kr_se"], rtol=1e-6)
    np.testing.assert_allclose(fit.kenward_roger.df, ref["kr_df"], rtol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov_beta)), ref["sat_se"], rtol=1e-6)
    cr = robust_table(fit, "CR2")
    np.testing.assert_allclose(cr.std_error, ref["cr2_se"], rtol=1e-6)
    np.testing.assert_allclose(cr.df, ref["cr2_df"], rtol=1e-6)
    ci = fit.confint(method="profile")
    assert list(ci.parameter) == ref["profile_names"]
    np.testing.assert_allclose(ci.lower, ref["profile_lower"], rtol=1e-5)
    np.testing.assert_allclose(ci.upper, ref["profile_upper"], rtol=1e-5)
    centred = _fit("y ~ x + w + (1 | g)", data.assign(x=data.x - 1e4))
    np.testing.assert_allclose(fit.df_satterthwaite[1:], centred.df_satterthwaite[1:], rtol=1e-7)
