"""The response's cross-products of a refit equal those of the design built with that response."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import multilevel
from multilevel.objective.crossprod import cross_products
from multilevel.simulate.problem import refit_problem


@pytest.mark.parametrize(
    ("formula", "data"),
    [
        ("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
        ("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", "sleepstudy"),
        ("diameter ~ 1 + (1 | plate) + (1 | sample)", "penicillin"),
        ("strength ~ 1 + (1 | batch/cask)", "pastes"),
    ],
)
def test_response_products_match_a_fresh_design(formula: str, data: str) -> None:
    fit = multilevel.fit(formula, getattr(multilevel.datasets, data)())
    problem = refit_problem(fit.design)
    rng = np.random.default_rng(1)
    Y = fit.fitted[:, None] + rng.standard_normal((fit.n_obs, 3)) * fit.sigma
    rp = problem.response_products(Y)
    for k in range(3):
        mine = problem.cross_products_for(rp, k)
        fresh = cross_products(replace(fit.design, y=Y[:, k]))
        np.testing.assert_allclose(mine.B, fresh.B, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(mine.C, fresh.C, rtol=1e-12)
        assert mine.yy == pytest.approx(fresh.yy, rel=1e-13)
        if fresh.C_rw is not None:
            np.testing.assert_allclose(mine.C_rw, fresh.C_rw, rtol=1e-12, atol=1e-9)


def test_lambda_of_all_terms_gives_the_fitted_covariances(sleep_fit: multilevel.LmmFit) -> None:
    problem = refit_problem(sleep_fit.design)
    Lam = problem.Lambda(sleep_fit.theta).toarray()
    cov = sleep_fit.sigma**2 * Lam[:2, :2] @ Lam[:2, :2].T  # the first subject's block
    np.testing.assert_allclose(cov, sleep_fit.random_effects[0].covariance, rtol=1e-12)
    assert problem.Z.shape == (180, 36)
