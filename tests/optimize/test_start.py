"""The moment start: near the optimum on data with known truth, lme4's start when unusable."""

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel.design import build_design
from multilevel.objective import cross_products
from multilevel.optimize.start import moment_start


def simulated(G=400, m=30, seed=5):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(G), m)
    x = rng.standard_normal(G * m)
    u0, u1 = rng.multivariate_normal([0, 0], [[1.0, 0.3], [0.3, 0.5]], G).T
    y = 2 + 0.5 * x + u0[g] + u1[g] * x + rng.standard_normal(G * m)
    return pd.DataFrame({"y": y, "x": x, "g": g})


@pytest.mark.parametrize("formula", ["y ~ x + (1 + x | g)", "y ~ x + (x || g)", "y ~ x + (1 | g)"])
def test_start_is_close_to_the_optimum(formula):
    data = simulated()
    design = build_design(formula, data)
    start = moment_start(cross_products(design), design.theta_start())
    fit = multilevel.fit(formula, data, reml=False)
    np.testing.assert_allclose(start, fit.theta, atol=0.05)
    assert fit.optimization.theta_initial == pytest.approx(list(start))


def test_uncorrelated_terms_start_uncorrelated():
    design = build_design("y ~ x + (x || g)", simulated())
    xp = cross_products(design)
    start = moment_start(xp, design.theta_start())
    assert start.shape == (2,) and np.all(start > 0)


def test_no_group_with_its_own_slope_falls_back_to_lme4s_start():
    """x constant within every group: no Z_j'Z_j is invertible, so no per-group estimates."""
    rng = np.random.default_rng(2)
    G, m = 40, 4
    g = np.repeat(np.arange(G), m)
    x = rng.standard_normal(G)[g]
    data = pd.DataFrame({"y": x + rng.standard_normal(G * m), "x": x, "g": g})
    design = build_design("y ~ x + (1 + x | g)", data)
    xp = cross_products(design)
    np.testing.assert_array_equal(moment_start(xp, design.theta_start()), [1.0, 0.0, 1.0])


def test_crossed_designs_keep_lme4s_start():
    design = build_design(
        "diameter ~ 1 + (1 | plate) + (1 | sample)", multilevel.datasets.penicillin()
    )
    xp = cross_products(design)
    np.testing.assert_array_equal(moment_start(xp, design.theta_start()), [1.0, 1.0])
