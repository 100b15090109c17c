"""ICC, its interval and the design effect: lme4 (reference ICC and an R profile computed with
lme4's deviance function, tests/ladder/make_r_reference.R), the closed forms of the balanced
one-way layout, and a bootstrap that is seeded and agrees with the profile interval."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import multilevel
from multilevel.errors import FormulaError
from multilevel.ladder.icc import icc
from refdata import close, fitted, reference

R_REF = json.loads((Path(__file__).parent / "r_reference.json").read_text())
CASE = {"mathach": "hsb", "Reaction": "sleepstudy", "normexam": "exam"}


def test_point_value_matches_lme4_reference():
    ref = reference("hsb")["models"][0]["fits"]
    for method in ("reml", "ml"):
        got = icc(fitted("hsb", "mathach ~ 1 + (1 | school)", method == "reml"))
        assert close(got.icc, ref[method]["icc"]["school"], rtol=1e-4)


@pytest.mark.parametrize("ref", R_REF["icc_profile"], ids=lambda r: f"{r['formula']}-{r['reml']}")
def test_profile_interval_matches_r(ref):
    fit = fitted(CASE[ref["formula"].split()[0]], ref["formula"], ref["reml"])
    got = icc(fit, level=ref["level"])
    assert close(got.icc, ref["icc"], rtol=1e-4)
    assert close(got.lower, ref["lower"], rtol=1e-4)
    assert close(got.upper, ref["upper"], rtol=1e-4)
    assert got.lower < got.icc < got.upper


def _balanced(seed: int, J: int = 30, m: int = 20, tau: float = 0.5, sigma2: float = 2.0):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(J), m)
    y = 10 + rng.normal(0, np.sqrt(tau), J)[g] + rng.normal(0, np.sqrt(sigma2), J * m)
    return pd.DataFrame({"g": g, "y": y})


def _anova(df: pd.DataFrame, J: int, m: int) -> tuple[float, float, float]:
    means = df.groupby("g").y.mean().to_numpy()
    msb = m * np.sum((means - df.y.mean()) ** 2) / (J - 1)
    msw = np.sum((df.y - means[df.g]) ** 2) / (J * (m - 1))
    return msb, msw, msb / msw


def test_balanced_closed_forms():
    """Balanced one-way layout: REML's ICC is the ANOVA estimator (F - 1) / (F + m - 1); the
    profile interval is close to the exact F interval (Searle 1971); deff = 1 + (m - 1) ICC."""
    J, m = 30, 20
    df = _balanced(7, J, m)
    fit = multilevel.fit("y ~ 1 + (1 | g)", df)
    got = icc(fit)
    msb, msw, F = _anova(df, J, m)
    assert got.icc == pytest.approx((F - 1) / (F + m - 1), rel=1e-6)
    assert got.tau00 == pytest.approx((msb - msw) / m, rel=1e-5)
    fl = F / stats.f.ppf(0.975, J - 1, J * (m - 1))
    fu = F / stats.f.ppf(0.025, J - 1, J * (m - 1))
    exact = ((fl - 1) / (fl + m - 1), (fu - 1) / (fu + m - 1))
    assert got.lower == pytest.approx(exact[0], abs=0.02)
    assert got.upper == pytest.approx(exact[1], abs=0.03)
    assert got.mean_group_size == m and got.weighted_group_size == m
    assert got.design_effect == pytest.approx(1 + (m - 1) * got.icc)
    assert got.design_effect_unequal == pytest.approx(got.design_effect)
    assert got.effective_n == pytest.approx(J * m / got.design_effect)


def test_design_effect_unequal_sizes_on_hsb():
    fit = fitted("hsb", "mathach ~ 1 + (1 | school)", True)
    got = icc(fit)
    sizes = multilevel.datasets.hsb().groupby("school").size().to_numpy()
    assert got.mean_group_size == pytest.approx(7185 / 160)
    assert got.weighted_group_size == pytest.approx(np.sum(sizes**2) / 7185)
    assert got.design_effect == pytest.approx(1 + (7185 / 160 - 1) * 0.180351773385288, rel=1e-5)
    assert got.effective_n == pytest.approx(7185 / got.design_effect)
    assert got.design_effect_unequal > got.design_effect  # unequal sizes cost more
    assert got.to_dict()["n_groups"] == 160 and "design effect" in str(got)


def test_profile_coverage_by_simulation():
    """Coverage of the 95 % profile interval over 100 seeded data sets with ICC = 0.2, within
    three Monte Carlo SEs of 0.95."""
    reps, hits = 100, 0
    truth = 0.5 / (0.5 + 2.0)
    for s in range(reps):
        r = icc(multilevel.fit("y ~ 1 + (1 | g)", _balanced(1000 + s, J=20, m=8), warn=False))
        hits += r.lower <= truth <= r.upper
    assert abs(hits / reps - 0.95) <= 3 * np.sqrt(0.95 * 0.05 / reps)


def test_bootstrap_is_seeded_and_agrees_with_profile(monkeypatch):
    fit = fitted("sleepstudy", "Reaction ~ Days + (1 | Subject)", True)
    a = icc(fit, method="bootstrap", n_boot=60, seed=3, progress=False)
    b = icc(fit, method="bootstrap", n_boot=60, seed=3, progress=False)
    assert (a.lower, a.upper) == (b.lower, b.upper)
    assert a.n_boot == 60 and a.n_boot_failed == 0 and a.seed == 3
    prof = icc(fit)
    assert a.lower == pytest.approx(prof.lower, abs=0.12)
    assert a.upper == pytest.approx(prof.upper, abs=0.12)
    # progress bar: only on stderr, only when asked (or when stderr is a terminal)
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    icc(fit, method="bootstrap", n_boot=5, seed=1)
    assert err.getvalue() == ""
    icc(fit, method="bootstrap", n_boot=5, seed=1, progress=True)
    assert "5/5" in err.getvalue()


def test_random_slopes_rejected():
    fit = fitted("sleepstudy", "Reaction ~ Days + (Days | Subject)", True)
    with pytest.raises(FormulaError, match="one random intercept"):
        icc(fit)
    with pytest.raises(ValueError, match="method"):
        icc(fitted("hsb", "mathach ~ 1 + (1 | school)", True), method="jackknife")


def test_icc_of_a_glmm_points_to_the_latent_icc():
    """A GLMM has no residual variance to partition: a clear error naming latent_icc, not a
    root search on the linear model's deviance over 0/1 data."""
    from multilevel.errors import FormulaError

    rng = np.random.default_rng(2)
    g = rng.integers(0, 30, 600)
    y = (rng.normal(size=30)[g] + rng.logistic(size=600) > 0).astype(int)
    fit = multilevel.fit("y ~ 1 + (1 | g)", pd.DataFrame({"y": y, "g": g}), family="binomial")
    with pytest.raises(FormulaError, match="latent_icc"):
        multilevel.icc(fit)
    latent = multilevel.latent_icc(fit)
    tau = fit.random_effects[0].variances[0]
    assert latent.icc == pytest.approx(tau / (tau + np.pi**2 / 3))
