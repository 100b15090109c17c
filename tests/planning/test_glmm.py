"""Power for binary and count outcomes: GLMM responses drawn with the right probabilities,
refitted with the GLMM fitter (the same p-values as fitting each simulated data set directly)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.errors import MultilevelError
from multilevel.planning.pvalues import resolve_test
from multilevel.planning.run import _glmm_point


@pytest.fixture(scope="module")
def binary_pilot():
    rng = np.random.default_rng(1)
    G, m = 16, 10
    g = np.repeat(np.arange(G), m)
    treat = (g % 2).astype(float)
    eta = -0.5 + 0.8 * treat + 0.6 * rng.standard_normal(G)[g]
    y = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    data = pd.DataFrame({"y": y, "g": g, "treat": treat})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return multilevel.fit("y ~ treat + (1 | g)", data, family="binomial"), data


def test_draws_have_the_model_probabilities(binary_pilot) -> None:
    fit, _ = binary_pilot
    spec = resolve_test("treat", "z", tuple(fit.fixed_names), None)
    point = _glmm_point(spec, fit, fit.design, fit.beta, np.zeros_like(fit.theta))
    seeds = np.random.SeedSequence(3).spawn(2000)
    Y = point.runner.draw(fit.beta, np.zeros_like(fit.theta), 1.0, seeds)
    p = 1 / (1 + np.exp(-(fit.design.X @ fit.beta)))  # no random effect: exactly these
    assert set(np.unique(Y)) == {0.0, 1.0}
    se = np.sqrt(p * (1 - p) / Y.shape[1])
    assert np.max(np.abs(Y.mean(axis=1) - p) / se) < 4.5


def test_refits_are_the_glmm_fits(binary_pilot) -> None:
    fit, data = binary_pilot
    res = multilevel.power(fit, "treat", nsim=4, seed=5, workers=1)
    assert res.method == "z"
    spec = resolve_test("treat", "z", tuple(fit.fixed_names), None)
    point = _glmm_point(spec, fit, fit.design, fit.beta, fit.theta)
    seeds = np.random.SeedSequence(5).spawn(1)[0].spawn(4)
    Y = point.runner.draw(fit.beta, fit.theta, 1.0, seeds)
    for s in range(4):
        direct = multilevel.fit(fit.formula, data.assign(y=Y[:, s]), family="binomial", warn=False)
        assert res.p_values[0][s] == pytest.approx(
            direct.fixed_effects().loc["treat", "p_value"], rel=1e-9
        )


def test_only_wald_tests_for_glmms(binary_pilot) -> None:
    fit, _ = binary_pilot
    with pytest.raises(MultilevelError, match="Wald z"):
        multilevel.power(fit, "treat", nsim=2, method="kenward-roger")


def test_planned_binary_design() -> None:
    planned = multilevel.plan(
        12, 8, fixed={"(Intercept)": -1.0, "treat": 0.9}, icc=0.2, family="binomial"
    )
    # the ICC is on the latent scale: tau^2 / (tau^2 + pi^2 / 3)
    assert planned.tau2 == pytest.approx(0.25 * np.pi**2 / 3)
    assert planned.icc == pytest.approx(0.2)
    _, theta, sigma = planned.truth(planned.build())
    assert sigma == 1.0 and theta[0] == pytest.approx(np.sqrt(planned.tau2))
    res = multilevel.power(planned, nsim=6, seed=1, workers=1)
    row = res.table().iloc[0]
    assert res.method == "z" and row["n_sim"] == 6 and 0 <= row["power"] <= 1
    with pytest.raises(MultilevelError, match="residual variance"):
        multilevel.plan(12, 8, tau2=0.5, sigma2=1.0, family="binomial")
