"""The moment start: near the optimum on data with known truth, lme4's start when unusable."""

import numpy as np
import pandas as pd
import pytest

import multilevel
from multilevel import fitting
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
def test_start_is_close_to_the_optimum(formula, monkeypatch):
    """The fit's optimizer starts from the moments (where lme4's start is also run, the two
    reach the same optimum; which of them recorded it is a matter of rounding)."""
    data = simulated()
    design = build_design(formula, data)
    start, informed = moment_start(cross_products(design), design.theta_start())
    assert informed
    starts = []
    original = fitting.optimize_theta

    def spy(dev, first, *args, **kwargs):
        starts.append(np.array(first))
        return original(dev, first, *args, **kwargs)

    monkeypatch.setattr(fitting, "optimize_theta", spy)
    fit = multilevel.fit(formula, data, reml=False)
    np.testing.assert_allclose(start, fit.theta, atol=0.05)
    np.testing.assert_allclose(starts[0], start, rtol=1e-6)
    initial = fit.optimization.theta_initial
    assert initial == pytest.approx(list(start)) or initial == list(design.theta_start())


def test_uncorrelated_terms_start_uncorrelated():
    design = build_design("y ~ x + (x || g)", simulated())
    xp = cross_products(design)
    start, _ = moment_start(xp, design.theta_start())
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
    start, informed = moment_start(xp, design.theta_start())
    np.testing.assert_array_equal(start, [1.0, 0.0, 1.0])
    assert not informed


def crossed(seed=3, A=60, B=40, m=4):
    rng = np.random.default_rng(seed)
    a = np.repeat(np.arange(A), B * m)
    b = np.tile(np.repeat(np.arange(B), m), A)
    x = rng.standard_normal(a.size)
    y = (
        1
        + 0.3 * x
        + rng.normal(0, 1.0, A)[a]
        + rng.normal(0, 0.5, B)[b]
        + rng.standard_normal(a.size)
    )
    return pd.DataFrame({"y": y, "x": x, "a": a, "b": b})


def test_crossed_terms_start_in_the_right_region():
    """Each crossed term is estimated as if it were alone: rough, but within a factor of two of
    the optimum, and the fit from there reaches the optimum found from lme4's start."""
    from multilevel.objective import ProfiledDeviance
    from multilevel.optimize import optimize_theta

    design = build_design("y ~ x + (1 | a) + (1 | b)", crossed())
    xp = cross_products(design)
    start, informed = moment_start(xp, design.theta_start())
    assert informed
    fit = multilevel.fit("y ~ x + (1 | a) + (1 | b)", crossed(), reml=False)
    assert np.all(start > fit.theta / 2) and np.all(start < fit.theta * 2)
    plain = optimize_theta(
        ProfiledDeviance(xp, reml=False), design.theta_start(), design.theta_lower()
    )
    assert -0.5 * plain.fmin == pytest.approx(fit.loglik, abs=1e-7)
    np.testing.assert_allclose(fit.theta, plain.theta_final, atol=1e-5)


def test_terms_with_slopes_outside_the_first_block_keep_lme4s_start():
    data = crossed()
    design = build_design("y ~ x + (1 | a) + (1 + x | b)", data)
    xp = cross_products(design)
    start, informed = moment_start(xp, design.theta_start())
    assert not informed
    assert design.terms[0].grouping_factor == "a"
    np.testing.assert_array_equal(start[1:], [1.0, 0.0, 1.0])


def test_wild_moments_from_tiny_groups_do_not_lead_the_fit_astray():
    """About 2.7 rows per group for a random slope: the per-group estimates are wild (the raw
    moments gave theta ~ (11.9, -28.3, 8.4) here, and the fit ended in a singular corner 11.4
    worse). The start is capped and kept only if its deviance beats lme4's start; the fit then
    equals the one that also runs from lme4's start (found in review, seed 2 of 24)."""
    import multilevel.fitting as api

    rng = np.random.default_rng(2)
    G = 6000
    n = int(G * rng.uniform(2.2, 4))
    g, h, x = rng.integers(0, G, n), rng.integers(0, 6, n), rng.normal(size=n)
    sd = rng.uniform(0, 0.6, 3)
    y = (
        x
        + sd[0] * rng.normal(size=G)[g]
        + sd[1] * rng.normal(size=G)[g] * x
        + sd[2] * rng.normal(size=6)[h]
        + rng.normal(size=n)
    )
    data = pd.DataFrame({"y": y, "x": x, "g": g, "h": h})
    formula = "y ~ x + (x | g) + (1 | h)"
    design = build_design(formula, data)
    xp = cross_products(design)
    raw, _ = moment_start(xp, design.theta_start())
    assert np.all(np.abs(raw[:3]) < 10)  # capped by the variance of y
    fit = multilevel.fit(formula, data, warn=False)
    old = api.CHEAP_FIRST_BLOCK
    api.CHEAP_FIRST_BLOCK = 10**9  # also run from lme4's start
    try:
        both = multilevel.fit(formula, data, warn=False)
    finally:
        api.CHEAP_FIRST_BLOCK = old
    assert fit.loglik == pytest.approx(both.loglik, abs=1e-6)
    assert not fit.is_singular and fit.converged
    assert fit.random_effects[0].correlation[0, 1] > -0.5
