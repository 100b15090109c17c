"""Simulated responses have the fitted model's moments: mean X beta and, within a group,
covariance Z_j Sigma Z_j' + sigma^2 I; groups are independent."""

from __future__ import annotations

import numpy as np
import pytest

import multilevel
from multilevel.errors import MultilevelError


def test_moments_match_the_fitted_model(sleep_fit: multilevel.LmmFit) -> None:
    nsim = 4000
    Y = sleep_fit.simulate(nsim, seed=11).to_numpy()
    X = sleep_fit.design.X
    mu = X @ sleep_fit.beta
    Sigma = sleep_fit.random_effects[0].covariance
    rows = np.flatnonzero(sleep_fit.design.terms[0].codes == 0)  # the first subject
    Z = np.column_stack([np.ones(rows.size), X[rows, 1]])
    V = Z @ Sigma @ Z.T + sleep_fit.sigma**2 * np.eye(rows.size)
    # mean: within 4 Monte Carlo standard errors in every row
    se_mean = np.sqrt(np.diag(V) / nsim)
    assert np.all(np.abs(Y[rows].mean(axis=1) - mu[rows]) < 4 * se_mean)
    # covariance: Var(s_ij) = (V_ij^2 + V_ii V_jj) / nsim for normal data
    C = np.cov(Y[rows])
    se_cov = np.sqrt((V**2 + np.outer(np.diag(V), np.diag(V))) / nsim)
    assert np.max(np.abs(C - V) / se_cov) < 4.5
    # two subjects are independent
    other = np.flatnonzero(sleep_fit.design.terms[0].codes == 1)
    cross = np.cov(Y[rows[0]], Y[other[0]])[0, 1]
    assert abs(cross) < 4 * np.sqrt(V[0, 0] * V[0, 0] / nsim)


def test_seed_reproduces_and_columns_are_named(sleep_fit: multilevel.LmmFit) -> None:
    a = sleep_fit.simulate(3, seed=4)
    b = sleep_fit.simulate(3, seed=4)
    assert list(a.columns) == ["sim_1", "sim_2", "sim_3"]
    assert a.equals(b)
    assert not a.equals(sleep_fit.simulate(3, seed=5))
    # simulation i does not depend on how many are drawn
    np.testing.assert_array_equal(sleep_fit.simulate(1, seed=4)["sim_1"], a["sim_1"])


def test_bad_nsim(sleep_fit: multilevel.LmmFit) -> None:
    with pytest.raises(MultilevelError, match="nsim"):
        sleep_fit.simulate(0)
