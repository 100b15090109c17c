"""The Laplace deviance engines: the exact gradient equals differences of the deviance, the
per-group engine and the general sparse engine give the same function, and AGQ with one node
is the Laplace approximation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from multilevel.family import Binomial, Poisson
from multilevel.glmm.design import build_glmm_design
from multilevel.glmm.engine import make_engine
from multilevel.glmm.general import GeneralLaplace
from multilevel.glmm.grouped import GroupedLaplace


def _data(seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    G, n = 30, 600
    g = rng.integers(0, G, n)
    x = rng.standard_normal(n)
    u = rng.standard_normal((G, 2)) * [0.8, 0.4]
    eta = -0.3 + 0.6 * x + u[g, 0] + u[g, 1] * x
    return pd.DataFrame(
        {
            "g": g.astype(str),
            "h": rng.integers(0, 8, n).astype(str),
            "x": x,
            "y": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float),
            "k": rng.poisson(np.exp(0.3 + 0.5 * x + u[g, 0])),
        }
    )


CASES = [
    ("y ~ x + (1 + x | g)", Binomial("logit")),
    ("y ~ x + (1 | g) + (0 + x | g)", Binomial("probit")),
    ("y ~ x + (1 + x | g)", Binomial("cloglog")),
    ("k ~ x + (1 | g)", Poisson()),
    ("y ~ x + (1 | g) + (1 | h)", Binomial("logit")),
    ("k ~ x + (1 + x | g) + (1 | h)", Poisson()),
]


@pytest.mark.parametrize(("formula", "fam"), CASES, ids=[f"{f} {m}" for f, m in CASES])
def test_gradient_matches_differences(formula: str, fam) -> None:  # type: ignore[no-untyped-def]
    gd = build_glmm_design(formula, _data(), fam)
    eng = make_engine(gd)
    nth = gd.base.n_theta
    phi = np.concatenate(
        [
            np.linspace(0.7, 0.4, nth) * (gd.base.theta_lower() == 0)
            + 0.15 * (gd.base.theta_lower() != 0),
            [-0.2, 0.5],
        ]
    )
    _, g = eng.deviance_and_gradient(phi, nth)
    h = 1e-5
    fd = np.array(
        [
            (eng.deviance(phi + h * e, nth) - eng.deviance(phi - h * e, nth)) / (2 * h)
            for e in np.eye(len(phi))
        ]
    )
    np.testing.assert_allclose(g, fd, rtol=2e-5, atol=2e-5)


def test_grouped_and_general_engines_agree() -> None:
    gd = build_glmm_design("y ~ x + (1 + x | g)", _data(), Binomial())
    grouped = make_engine(gd)
    assert isinstance(grouped, GroupedLaplace)
    # the same design through the general path: a second factor with one term makes it general
    gd2 = build_glmm_design("y ~ x + (1 + x | g) + (1 | h)", _data(), Binomial())
    general = make_engine(gd2)
    assert isinstance(general, GeneralLaplace)
    phi = np.array([0.8, 0.1, 0.4, -0.2, 0.5])
    phi2 = np.array([0.8, 0.1, 0.4, 0.0, -0.2, 0.5])  # theta of (1 | h) at 0: same model
    f1, g1 = grouped.deviance_and_gradient(phi, 3)
    f2, g2 = general.deviance_and_gradient(phi2, 4)
    assert f1 == pytest.approx(f2, rel=1e-11)
    np.testing.assert_allclose(g1, np.delete(g2, 3), rtol=1e-8, atol=1e-9)


def test_agq_with_one_node_is_laplace() -> None:
    gd = build_glmm_design("k ~ x + (1 | g)", _data(), Poisson())
    eng = make_engine(gd)
    phi = np.array([0.7, 0.2, 0.4])
    assert eng.agq_deviance(phi, 1, 1) == pytest.approx(eng.deviance(phi, 1), rel=1e-12)
    # more nodes converge: 15 and 25 agree closely
    assert eng.agq_deviance(phi, 1, 15) == pytest.approx(eng.agq_deviance(phi, 1, 25), abs=1e-6)
