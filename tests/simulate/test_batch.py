"""Batched refits against full fits of the same simulated data (lme4's optimum, via multilevel.fit),
including refits on the boundary, for REML and ML; batched Satterthwaite df against the fit's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.simulate.draw import draw_responses, seeds_for
from multilevel.simulate.engine import refit_batch
from multilevel.simulate.problem import refit_problem


@pytest.mark.parametrize("reml", [True, False])
def test_batch_refits_equal_full_fits(sleep_fit: multilevel.LmmFit, reml: bool) -> None:
    problem = refit_problem(sleep_fit.design)
    # a small slope variance makes some refits singular (the boundary is part of the test)
    theta = sleep_fit.theta * np.array([1.0, 0.3, 0.05])
    Y = draw_responses(problem, sleep_fit.beta, theta, sleep_fit.sigma, seeds_for(5, 40))
    fits = refit_batch(problem, Y, reml, sleep_fit.theta)
    assert not fits.failed.any()
    assert 0 < fits.singular.sum() < 40
    data = multilevel.datasets.sleepstudy()
    for s in range(0, 40, 3):
        full = multilevel.fit(
            sleep_fit.formula, data.assign(Reaction=Y[:, s]), reml=reml, warn=False
        )
        assert fits.loglik[s] == pytest.approx(full.loglik, abs=1e-7)
        np.testing.assert_allclose(fits.theta[s], full.theta, atol=2e-5)
        np.testing.assert_allclose(fits.beta[s], full.beta, rtol=1e-6)
        assert fits.sigma[s] == pytest.approx(full.sigma, rel=1e-6)
        np.testing.assert_allclose(fits.vcov_beta[s], full.vcov_beta, rtol=1e-5)
        assert fits.singular[s] == full.is_singular
        df = fits.satterthwaite_df(np.eye(2))[s]
        np.testing.assert_allclose(df, full.df_satterthwaite, rtol=1e-3)


def test_crossed_design_refits_one_by_one() -> None:
    data = multilevel.datasets.penicillin()
    fit = multilevel.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", data)
    problem = refit_problem(fit.design)
    Y = draw_responses(problem, fit.beta, fit.theta, fit.sigma, seeds_for(2, 4))
    fits = refit_batch(problem, Y, True, fit.theta)
    for s in range(4):
        full = multilevel.fit(fit.formula, data.assign(diameter=Y[:, s]), warn=False)
        assert fits.loglik[s] == pytest.approx(full.loglik, abs=1e-6)
        np.testing.assert_allclose(fits.theta[s], full.theta, atol=1e-4)
        assert fits.satterthwaite_df(np.eye(1))[s, 0] == pytest.approx(
            full.df_satterthwaite[0], rel=1e-3
        )


def test_random_intercept_refits(cluster_data: pd.DataFrame) -> None:
    fit = multilevel.fit("y ~ treat + x + (1 | g)", cluster_data)
    problem = refit_problem(fit.design)
    Y = draw_responses(problem, fit.beta, fit.theta, fit.sigma, seeds_for(9, 30))
    fits = refit_batch(problem, Y, True, fit.theta)
    for s in (0, 11, 29):
        full = multilevel.fit(fit.formula, cluster_data.assign(y=Y[:, s]), warn=False)
        np.testing.assert_allclose(fits.beta[s], full.beta, rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(
            fits.satterthwaite_df(np.eye(3))[s], full.df_satterthwaite, rtol=1e-4
        )
